#!/bin/sh
test_description='contrib/local-cluster --netns: every daemon a host of its own (own
network and UTS namespace, own address on a private bridge, own host name); cut and
heal take a host off the network and back; down removes every namespace and link'
. "$(dirname "$0")/lib.sh"

test "$(id -u)" = 0 && netns_works && test_set_prereq NETNS
if ! test_have_prereq NETNS; then
	skip_all="--netns needs root and network namespaces with bridges and veths"
	test_done
fi

lc() { "$LOCAL_CLUSTER" "$@"; }

# node_json NODE KEY: KEY of NODE in pacer nodes --json.
node_json() {
	pacer nodes --json | jq -r --arg n "$1" ".nodes[] | select(.name == \$n) | .$2"
}

# node_state NODE: its state as pacer nodes shows it (idle, suspect...).
node_state() { node_json "$1" state; }

# wait_node_state NODE STATE [not]: until NODE is (or, with "not", is no
# longer) in STATE, 30 s at most.
wait_node_state() {
	_i=0
	while [ $_i -lt 300 ]; do
		_s=$(node_state "$1")
		if [ "${3:-}" = not ]; then [ "$_s" != "$2" ] && return 0
		else [ "$_s" = "$2" ] && return 0; fi
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "$1 is $_s after 30 s (wanted ${3:+not }$2)" >&2
	return 1
}

# What a cluster of PREFIX (in $CLUSTER) has in the root namespace:
# namespaces, links, /etc/netns entries, mounts (mountinfo writes a blank
# as \040).
ours() {
	_esc=$(printf "%s" "$CLUSTER" | sed "s/ /\\\\040/g")
	{
		ip netns list | awk '{print "netns " $1}'
		ip -o link | awk -F': ' '{print "link " $2}' | sed 's/@.*//'
		ls /etc/netns 2>/dev/null | sed 's/^/etc /'
		grep -F " $_esc/" /proc/self/mountinfo | awk '{print "mount " $5}'
	} | grep -E "^(netns|link|etc) $1(-|\$)|^mount " || true
}

# What exists in the root namespace outside every local-cluster (pcl-*).
foreign() {
	{
		ip netns list | awk '{print "netns " $1}'
		ip -o link | awk -F': ' '{print "link " $2}' | sed 's/@.*//'
		ls /etc/netns 2>/dev/null | sed 's/^/etc /'
	} | grep -v -E "^[a-z]+ pcl-" | sort
}

test_expect_success NETNS 'up --netns: 3 nodes up, each with an address of its own' '
	foreign >foreign.before &&
	start_cluster --netns --nodes 3 &&
	prefix=$(sed -n "s/^prefix=//p" "$CLUSTER/run/netns") &&
	subnet=$(sed -n "s/^subnet=//p" "$CLUSTER/run/netns") &&
	test -n "$prefix" && test -n "$subnet" &&
	ours "$prefix" >made &&
	grep -x "netns $prefix-br" made &&
	grep -x "netns $prefix-ctld" made &&
	grep -x "link $prefix" made &&
	for i in 1 2 3; do
		grep -x "netns $prefix-node$i" made &&
		grep -x "etc $prefix-node$i" made &&
		test "$(node_state node$i)" = idle || return 1
	done &&
	for i in 1 2 3; do node_json node$i address; done >addrs &&
	sort -u addrs >addrs.uniq &&
	test_line_count = 3 addrs.uniq &&
	test_must_fail grep -x -e 127.0.0.1 -e null addrs &&
	grep -x "controllers = $subnet\.[0-9]*:[0-9]*" "$PACER_CONF"
'

test_expect_success NETNS 'each node daemon sees its own host name and address' '
	for i in 1 2 3; do
		pid=$(noded_pid $i) &&
		echo node$i >expect &&
		nsenter -t $pid -u hostname >got && test_cmp expect got &&
		lc exec "$CLUSTER" node$i hostname >got && test_cmp expect got &&
		addr=$(node_json node$i address) &&
		nsenter -t $pid -n ip -o -4 addr show >daemon.addrs &&
		grep -F " inet $addr/" daemon.addrs &&
		lc exec "$CLUSTER" node$i readlink /proc/self/ns/net >got &&
		readlink /proc/$pid/ns/net >expect && test_cmp expect got &&
		test "$(readlink /proc/$pid/ns/net)" != "$(readlink /proc/self/ns/net)" || return 1
	done &&
	pid=$(ctld_pid) &&
	echo ctld >expect &&
	nsenter -t $pid -u hostname >got && test_cmp expect got &&
	ctl=$(sed -n "s/^controllers = \(.*\):.*/\1/p" "$PACER_CONF") &&
	nsenter -t $pid -n ip -o -4 addr show >daemon.addrs &&
	grep -F " inet $ctl/" daemon.addrs
'

test_expect_success NETNS 'node names resolve to their addresses inside every node' '
	for i in 1 2 3; do node_json node$i address; done >expect &&
	for i in 3 1 2; do
		lc exec "$CLUSTER" node$i getent hosts node1 node2 node3 |
			awk "{print \$1}" >got &&
		test_cmp expect got || return 1
	done
'

test_expect_success NETNS 'from inside a node, pacer reaches the controller over the bridge' '
	lc exec "$CLUSTER" node2 "$PACER_BIN" nodes --noheader >nodes.out &&
	test_line_count = 3 nodes.out
'

test_expect_success NETNS 'a 3-node job runs; its script runs on its first node, by that name' '
	id=$(pacer submit --parsable -N 3 -o job.out --wrap hostname) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id &&
	test "$(job_state $id)" = COMPLETED &&
	test "$(pacer show job $id --json | jq -r .nodelist)" = "node[1-3]" &&
	echo node1 >expect &&
	test_cmp expect job.out
'

test_expect_success NETNS 'the controller hears nodes again after it restarts in its namespace' '
	conf_set node_timeout 3 &&
	restart_ctld_with_conf &&
	echo ctld >expect &&
	nsenter -t $(ctld_pid) -u hostname >got && test_cmp expect got
'

test_expect_success NETNS 'cut node2: it cannot reach the controller, which stops hearing it' '
	lc cut "$CLUSTER" node2 &&
	test_must_fail lc exec "$CLUSTER" node2 "$PACER_BIN" nodes >/dev/null 2>&1 &&
	lc exec "$CLUSTER" node1 "$PACER_BIN" nodes >/dev/null &&
	wait_node_state node2 idle not &&
	test "$(node_state node1)" = idle &&
	test "$(node_state node3)" = idle
'

test_expect_success NETNS 'heal node2: it is idle again' '
	lc heal "$CLUSTER" node2 &&
	wait_node_state node2 idle &&
	lc exec "$CLUSTER" node2 "$PACER_BIN" nodes >/dev/null
'

test_expect_success NETNS 'cut ctld: pacer cannot reach it; heal: every node is up again' '
	test_when_finished "lc heal \"\$CLUSTER\" ctld" &&
	lc cut "$CLUSTER" ctld &&
	test_must_fail pacer nodes >/dev/null 2>err &&
	grep "cannot reach controller" err &&
	lc heal "$CLUSTER" ctld &&
	wait_nodes_up 3
'

test_expect_success NETNS 'start node3 again: it comes back in its own namespaces' '
	old=$(noded_pid 3) &&
	kill -TERM $old && pid_gone $old &&
	lc start "$CLUSTER" node3 &&
	wait_nodes_up 3 &&
	pid=$(noded_pid 3) && test "$pid" != "$old" &&
	echo node3 >expect &&
	nsenter -t $pid -u hostname >got && test_cmp expect got &&
	lc exec "$CLUSTER" node3 readlink /proc/self/ns/net >got &&
	readlink /proc/$pid/ns/net >expect && test_cmp expect got
'

test_expect_success NETNS 'cut, heal and exec refuse a cluster without --netns, and a host it lacks' '
	plain=$SHARNESS_TRASH_DIRECTORY/plain &&
	test_when_finished "lc down \"\$plain\" >/dev/null" &&
	lc up "$plain" --nodes 1 --bin "$PACER_BUILD_DIR" >/dev/null &&
	test_must_fail lc cut "$plain" node1 2>err &&
	grep "cut: .* is not a --netns cluster" err &&
	test_must_fail lc heal "$plain" node1 2>err &&
	grep "heal: .* is not a --netns cluster" err &&
	test_must_fail lc exec "$plain" node1 true 2>err &&
	grep "exec: .* is not a --netns cluster" err &&
	test_must_fail lc cut "$CLUSTER" node4 2>err &&
	grep "node4.* is not a host of this cluster" err
'

test_expect_success NETNS 'down: every daemon gone, and every namespace, link and /etc/netns entry' '
	pids=$(cat "$CLUSTER"/run/*.pid) &&
	lc down "$CLUSTER" >down.out &&
	grep -x "local-cluster: stopped pacerctld, 3 pacernoded.* in $CLUSTER" down.out &&
	grep -x "local-cluster: removed 5 network namespaces .* of $CLUSTER" down.out &&
	for p in $pids; do pid_gone $p || return 1; done &&
	ours "$prefix" >left &&
	test_must_be_empty left &&
	ip -o -4 addr show >addrs.after &&
	test_must_fail grep -F "inet $subnet." addrs.after &&
	test ! -e "$CLUSTER/run/netns" &&
	foreign >foreign.after &&
	comm -23 foreign.before foreign.after >gone &&
	test_must_be_empty gone &&
	test_must_fail grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" \
		"$CLUSTER"/log/*.out
'

test_expect_success NETNS 'down again: nothing left to do' '
	lc down "$CLUSTER" >down.out &&
	echo "local-cluster: nothing was running in $CLUSTER" >expect &&
	test_cmp expect down.out
'

test_done
