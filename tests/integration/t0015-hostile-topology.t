#!/bin/sh
test_description='hostile topologies: a node whose topology crashes hwloc

pacer-wire plays node2 (its real daemon stopped) and registers with the
topologies fuzzing found (tests/fuzz/reproducers): three that crash hwloc
2.9'"'"'s own XML import, one with a PU without os index, one with a GPU named
shorter than its kind.  The controller survives each: it refuses the bad
ones with an error the node hears, one log line naming the node and the
reason, and shows the node down with that reason; the good one brings the
node up.  A crashing topology left in the state folder is ignored at
startup, with a log line.  A node that goes away while its topology is
checked has the check stopped (it is not remembered as refused).  A node
daemon given a crashing topology file stops with an error instead of dying
of it.'
. "$(dirname "$0")/lib.sh"

# The reproducers crash hwloc's own XML parser; with libhwloc-plugins
# installed (Open MPI pulls it in) hwloc would parse with libxml2 instead,
# which refuses them earlier with other messages.  The daemons inherit this.
export HWLOC_LIBXML_IMPORT=0

WIRE=$PACER_BUILD_DIR/tests/tools/pacer-wire
REPRO=$PACER_SRC_DIR/tests/fuzz/reproducers

# conf_value KEY: the first "KEY = value" of the cluster's pacer.conf.
conf_value() { sed -n "s/^$1 = //p" "$PACER_CONF" | head -n 1; }

# as_node2 FILE [SECONDS]: pacer-wire registers as node2 with FILE (the
# wire form) as its topology, waiting 60 s (or SECONDS) for the verdict;
# what it printed is in wire.out, its exit code returned.
as_node2() {
	"$WIRE" -w "${2:-60}" -n node2 -t "$1" node 127.0.0.1 "$NODE2_PORT" local noded \
		"$MUNGE_SOCK" >wire.out 2>&1
	rc=$?
	cat wire.out
	return $rc
}

# node2_field KEY: that field of node2 in `pacer nodes --json`.
node2_field() {
	pacer nodes --json | jq -r ".nodes[] | select(.name == \"node2\") | .$1"
}

# The controller is the process it was, answers, and has no child left.
ctld_fine() {
	kill -0 "$CTLD_PID" && test "$(ctld_pid)" = "$CTLD_PID" &&
	pacer nodes >/dev/null &&
	test -z "$(pgrep -P "$CTLD_PID")"
}

test_expect_success 'a cluster of two nodes; node2'"'"'s daemon stopped' '
	start_cluster --nodes 2 &&
	CTLD_PID=$(ctld_pid) &&
	MUNGE_SOCK=$(conf_value munge_socket) &&
	NODE2_PORT=$(( $(conf_value controllers | sed "s/.*://") + 2 )) &&
	pid=$(noded_pid 2) && kill -TERM "$pid" && pid_gone "$pid"
'

for f in hwloc-segv-bitmap-compare-first hwloc-segv-bitmap-or hwloc-segv-bitmap-set; do
	test_expect_success "$f crashes hwloc: node2 refused, the controller lives" '
		"$WIRE" deflate "$REPRO/'$f'" >topo.z &&
		{ as_node2 topo.z; test $? = 1; } &&
		grep "^refused: .*node2: topology refused: the hwloc import crashed (signal" \
			wire.out &&
		ctld_fine &&
		node2_field state | grep -ix down &&
		node2_field reason | grep "^topology refused: the hwloc import crashed (signal"
	'
done

test_expect_success 'the controller logged the refusal once, naming the node' '
	grep "node2: topology refused: the hwloc import crashed (signal .*; the node stays down" \
		"$CLUSTER/log/pacerctld.log" >refusals &&
	test_line_count = 1 refusals
'

test_expect_success 'a PU without an os index: refused with what is wrong' '
	"$WIRE" deflate "$REPRO/topo-pu-without-os-index" >topo.z &&
	{ as_node2 topo.z; test $? = 1; } &&
	grep "^refused: .*topology refused: PU L#2 has no os_index" wire.out &&
	grep "node2: topology refused: PU L#2 has no os_index" "$CLUSTER/log/pacerctld.log" &&
	ctld_fine &&
	node2_field reason | grep "^topology refused: PU L#2 has no os_index"
'

test_expect_success 'a GPU named "cu" of subtype CUDA: node2 comes up, without that GPU' '
	tail -c +2 "$REPRO/heap-overflow-gpu_index_of-wire-Z.bin" >gpu.z &&
	as_node2 gpu.z &&
	grep "^registered$" wire.out &&
	ctld_fine &&
	cmp gpu.z "$CLUSTER/state/topology/node2" &&
	pacer show node node2 >show.out &&
	grep opencl0d1 show.out &&
	test_must_fail grep "\"cu\"\| cu " show.out
'

test_expect_success 'a crashing topology in the state folder is ignored at startup' '
	"$WIRE" deflate "$REPRO/hwloc-segv-bitmap-or" >"$CLUSTER/state/topology/node1" &&
	kill -TERM "$CTLD_PID" && pid_gone "$CTLD_PID" &&
	"$LOCAL_CLUSTER" start "$CLUSTER" ctld &&
	wait_nodes_up 1 &&
	CTLD_PID=$(ctld_pid) &&
	grep "node node1: .*/topology/node1: the hwloc import crashed (signal .*: ignored" \
		"$CLUSTER/log/pacerctld.log" &&
	ctld_fine
'

# slow-check: pacer-topocheck, except that slow.topo is checked forever
# (a process the test can find: marker 9).
write_slow_check() {
	printf "a topology whose check never ends\n" >slow.topo
	cat >slow-check <<EOF
#!/bin/sh
in=\$(mktemp) && cat >"\$in" || exit 1
if cmp -s "\$in" "$PWD/slow.topo"; then rm -f "\$in"; exec sleep 300.${MARK}9; fi
"$PACER_BUILD_DIR/ctld/pacer-topocheck" "\$@" <"\$in"
rc=\$?
rm -f "\$in"
exit \$rc
EOF
	chmod +x slow-check
}

test_expect_success 'node2 goes away while its topology is checked: the check is dropped' '
	write_slow_check &&
	kill -TERM "$CTLD_PID" && pid_gone "$CTLD_PID" &&
	PACER_TOPOCHECK=$PWD/slow-check "$LOCAL_CLUSTER" start "$CLUSTER" ctld &&
	wait_nodes_up 1 &&
	CTLD_PID=$(ctld_pid) &&
	{ as_node2 slow.topo 5; test $? = 2; } &&
	grep "no answer to the registration" wire.out &&
	wait_procs 9 0 &&
	ctld_fine &&
	test_must_fail grep "node2: topology refused: .*took longer" "$CLUSTER/log/pacerctld.log"
'

test_expect_success 'that check was dropped, not timed out and remembered: it runs again' '
	"$WIRE" -w 60 -n node2 -t slow.topo node 127.0.0.1 "$NODE2_PORT" local noded \
		"$MUNGE_SOCK" >wire2.out 2>&1 &
	wire_pid=$! &&
	wait_procs 9 1 &&
	kill "$wire_pid" && { wait "$wire_pid"; true; } &&
	wait_procs 9 0 &&
	ctld_fine
'

test_expect_success 'a node daemon given a crashing topology file stops with an error' '
	sed "/^\[nodes:/,\$ s|^names = node\[1-2\]|&\ntopology = $REPRO/hwloc-segv-bitmap-set|" \
		"$PACER_CONF" >crash.conf &&
	grep "^topology = .*hwloc-segv-bitmap-set" crash.conf &&
	{ "$PACERNODED_BIN" --conf crash.conf --name node2 >noded.out 2>&1; rc=$?; } &&
	cat noded.out &&
	test $rc = 1 &&
	grep "node node2: topology = .*hwloc-segv-bitmap-set in crash.conf: the hwloc import crashed (signal" \
		noded.out
'

test_stop_cluster

test_done
