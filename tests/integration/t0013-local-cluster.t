#!/bin/sh
test_description='contrib/local-cluster: up prints what a shell needs to use the cluster
(PACER_CONF, and PATH when pacer is elsewhere), status lists the daemons or says none
runs, down stops them all and says which'
. "$(dirname "$0")/lib.sh"

# The cluster of this script; pacer_on_exit stops it whatever happens.
CLUSTER=$SHARNESS_TRASH_DIRECTORY/cluster

# PATH without the folder of the pacer under test.
PLAIN_PATH=$(echo "$PATH" | tr ":" "\n" | grep -v -x -F "$PACER_BUILD_DIR/cli" | paste -s -d:)

# in_shell CMD: CMD in a new shell (none of lib.sh's functions), PATH plain.
in_shell() { env PATH="$PLAIN_PATH" sh -c "$1"; }

# daemon_pids: the pids local-cluster recorded.
daemon_pids() { cat "$CLUSTER"/run/*.pid; }

test_expect_success 'up, pacer not on PATH: the lines it prints make pacer work' '
	env PATH="$PLAIN_PATH" "$LOCAL_CLUSTER" up "$CLUSTER" --nodes 2 \
		--bin "$PACER_BUILD_DIR" >up.out &&
	grep "^export PACER_CONF=" up.out &&
	grep "^export PATH=" up.out &&
	test_line_count = 2 up.out &&
	in_shell ". ./up.out && echo \"\$PACER_CONF\" && command -v pacer" >got &&
	printf "%s\n" "$CLUSTER/pacer.conf" "$PACER_BIN" >expect &&
	test_cmp expect got &&
	in_shell ". ./up.out && pacer nodes --noheader" >nodes.out &&
	test_line_count = 2 nodes.out
'

test_expect_success 'status: every daemon running, with its pid; exit 0' '
	"$LOCAL_CLUSTER" status "$CLUSTER" >status.out &&
	for f in "$CLUSTER"/run/*.pid; do
		echo "$(basename "$f" .pid): running (pid $(cat "$f"))" || return 1
	done | sort >expect &&
	test_line_count -ge 3 expect &&
	sort status.out >got &&
	test_cmp expect got &&
	grep -x "ctld: running (pid [0-9]*)" status.out &&
	grep -x "node2: running (pid [0-9]*)" status.out
'

test_expect_success 'status with a node daemon gone: it shows as stopped; exit 1' '
	n2=$(noded_pid 2) &&
	kill -TERM $n2 && pid_gone $n2 &&
	test_expect_code 1 "$LOCAL_CLUSTER" status "$CLUSTER" >status.out &&
	grep -x -E "node2: stopped( \(was pid $n2\))?" status.out &&
	grep -x "node1: running (pid [0-9]*)" status.out &&
	"$LOCAL_CLUSTER" start "$CLUSTER" node2 &&
	PACER_CONF=$CLUSTER/pacer.conf && export PACER_CONF &&
	wait_nodes_up 2 &&
	"$LOCAL_CLUSTER" status "$CLUSTER" >status.out &&
	grep -x "node2: running (pid [0-9]*)" status.out
'

test_expect_success 'down: one line naming what it stopped, and every daemon gone' '
	pids=$(daemon_pids) &&
	if test -e "$CLUSTER/run/munged.pid"; then munge=", munged"; else munge=; fi &&
	"$LOCAL_CLUSTER" down "$CLUSTER" >down.out 2>down.err &&
	echo "local-cluster: stopped pacerctld, 2 pacernoded$munge in $CLUSTER" >expect &&
	test_cmp expect down.out &&
	test_must_be_empty down.err &&
	for p in $pids; do pid_gone $p || return 1; done
'

test_expect_success 'status after down: no cluster running, exit 1' '
	test_expect_code 1 "$LOCAL_CLUSTER" status "$CLUSTER" >status.out &&
	echo "no cluster running in $CLUSTER" >expect &&
	test_cmp expect status.out
'

test_expect_success 'down again: nothing was running, exit 0' '
	"$LOCAL_CLUSTER" down "$CLUSTER" >down.out &&
	echo "local-cluster: nothing was running in $CLUSTER" >expect &&
	test_cmp expect down.out
'

test_expect_success 'status of a folder that does not exist: named, exit 1' '
	test_expect_code 1 "$LOCAL_CLUSTER" status "$CLUSTER.none" 2>err &&
	echo "local-cluster: $CLUSTER.none: no such folder" >expect &&
	test_cmp expect err
'

test_expect_success 'up, the same pacer first on PATH: no PATH line' '
	env PATH="$PACER_BUILD_DIR/cli:$PLAIN_PATH" "$LOCAL_CLUSTER" up "$CLUSTER" \
		--nodes 1 --bin "$PACER_BUILD_DIR" >up.out &&
	test_line_count = 1 up.out &&
	in_shell ". ./up.out && echo \"\$PACER_CONF\"" >got &&
	echo "$CLUSTER/pacer.conf" >expect &&
	test_cmp expect got &&
	pids=$(daemon_pids) &&
	"$LOCAL_CLUSTER" down "$CLUSTER" >down.out &&
	grep -x "local-cluster: stopped pacerctld, 1 pacernoded.* in $CLUSTER" down.out &&
	for p in $pids; do pid_gone $p || return 1; done
'

test_done
