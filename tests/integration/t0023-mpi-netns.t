#!/bin/sh
test_description='MPI direct launch across hosts of their own (--netns): every rank
reports its own node as its host, the fences cross the private network between the
supervisors, and an allreduce gives the right sum'
. "$(dirname "$0")/lib.sh"

M=$PACER_BUILD_DIR/tests/mpi
test -x "$M/hello" && test_set_prereq MPI
test "$(id -u)" = 0 && netns_works && test_set_prereq NETNS
if ! test_have_prereq NETNS || ! test_have_prereq MPI; then
	skip_all="needs root, network namespaces and Open MPI (contrib/install-deps)"
	test_done
fi

test_expect_success 'setup: 3 nodes, each a host of its own' '
	start_cluster --nodes 3 --netns --topology "pack:1 core:2 pu:1" &&
	wait_nodes_up 3
'

test_expect_success 'hello: 6 ranks, two on each host, each host its own name' '
	pacer run -N 3 -n 6 "$M/hello" >hello.out &&
	test_line_count = 6 hello.out &&
	for n in 1 2 3; do
		test "$(grep -c " host=node$n " hello.out)" = 2 || return 1
	done &&
	test "$(sed -n "s/^hello rank=\([0-9]\) .*/\1/p" hello.out | sort | tr -d "\n")" = 012345
'

test_expect_success 'allreduce across the three hosts' '
	pacer run -N 3 -n 6 "$M/allreduce" >sum.out &&
	test "$(grep -c "^allreduce rank=[0-5] size=6 sum=21$" sum.out)" = 6
'

test_expect_success 'a rank that aborts ends the step on every host' '
	test_expect_code 3 pacer run -N 3 -n 6 "$M/abort" 2>abort.err &&
	grep "task 1 aborted with code 3" abort.err &&
	for n in 1 2 3; do
		! "$LOCAL_CLUSTER" exec "$CLUSTER" node$n pgrep -f "$M/abort" || return 1
	done &&
	wait_nodes_idle
'

test_stop_cluster
test_done
