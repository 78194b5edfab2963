#!/bin/sh
test_description='scheduling policy on 2 emulated 4-core nodes: EASY backfill in the
order worked out below, strict order without backfill, nice, partitions'
. "$(dirname "$0")/lib.sh"

# jq VALUE of FIELD of job ID, from the full record.
job_field() { pacer show job "$1" --json | jq -r ".$2"; }

test_expect_success 'setup: 2 nodes of 4 cores, only submit order and nice count' '
	start_cluster --nodes 2 --topology "pack:1 core:4 pu:1" &&
	ensure_test_user &&
	user_dir work &&
	conf_set priority_weight_age 0 &&
	conf_set priority_weight_size 0 &&
	cat >>"$PACER_CONF" <<-EOF &&

	[partition:private]
	nodes = node1
	allow_users = root

	[partition:urgent]
	nodes = node[1-2]
	priority = 100

	[partition:staff]
	nodes = node2
	allow_groups = $(id -gn $TEST_USER)

	[partition:daemons]
	nodes = node2
	allow_groups = daemon
	EOF
	restart_ctld_with_conf &&
	pacer nodes --json | jq -e "[.nodes[] | select(.cpus == 4)] | length == 2"
'

# The queue, all at the same priority, so in id order:
#   j1  4 cores, limit 10 min: starts at once (T0) on one node.
#   j2  8 cores, limit 5 min: needs both nodes: reserved at T0 + 10 min,
#       when j1's limit runs out.
#   j3  2 cores, limit 20 min: fits now on the free node, but would still
#       run at T0 + 10 min on a node j2 needs whole: it must wait.
#   j4  2 cores, limit 5 min: fits now and ends before T0 + 10 min: it
#       starts at once, ahead of j2 and j3 (backfill).
# Then: j1 cancelled -> j2 still waits for j4's cores (reserved at j4's
# start + 5 min), j3 still may not start; j4 cancelled -> j2 starts;
# j2 cancelled -> j3 starts.  Start order: j1, j4, j2, j3.
test_expect_success 'EASY backfill: a short job starts early, a long one waits' '
	wait_nodes_idle &&
	j1=$(pacer submit --parsable -n 4 -t 10 --wrap "sleep 300.${MARK}1") &&
	wait_job_state $j1 RUNNING &&
	j2=$(pacer submit --parsable -n 8 -t 5 --wrap "sleep 300.${MARK}2") &&
	j3=$(pacer submit --parsable -n 2 -t 20 --wrap "sleep 300.${MARK}3") &&
	j4=$(pacer submit --parsable -n 2 -t 5 --wrap "sleep 300.${MARK}4") &&
	wait_job_state $j4 RUNNING &&
	test "$(job_state $j2)" = PENDING &&
	test "$(job_state $j3)" = PENDING &&
	wait_job_reason $j2 Resources &&
	wait_job_reason $j3 Priority &&
	t1=$(job_field $j1 start_time) &&
	test "$(job_field $j2 expected_start)" = $((t1 + 600)) &&
	test "$(job_field $j1 "alloc[0].node")" != "$(job_field $j4 "alloc[0].node")"
'

test_expect_success 'queue --start shows the reserved start' '
	pacer queue --start >start.out &&
	grep -E "^ *$j2 " start.out >line &&
	test_must_fail grep -E "N/A" line
'

test_expect_success 'j1 ends: j2 now waits for j4, and j3 still may not jump ahead' '
	pacer cancel $j1 &&
	wait_job_done $j1 &&
	t4=$(job_field $j4 start_time) &&
	i=0 &&
	while test "$(job_field $j2 expected_start)" != $((t4 + 300)) && test $i -lt 50
	do sleep 0.2; i=$((i + 1)); done &&
	test "$(job_field $j2 expected_start)" = $((t4 + 300)) &&
	test "$(job_state $j2)" = PENDING &&
	test "$(job_state $j3)" = PENDING &&
	wait_job_reason $j3 Priority
'

# The last test of the sequence ends every job of it, whatever happened to
# the tests before.
test_expect_success 'j4 ends: j2 starts; j2 ends: j3 starts' '
	test_when_finished "cancel_jobs $j1 $j2 $j3 $j4" &&
	pacer cancel $j4 &&
	wait_job_done $j4 &&
	wait_job_state $j2 RUNNING &&
	test "$(job_state $j3)" = PENDING &&
	pacer cancel $j2 &&
	wait_job_done $j2 &&
	wait_job_state $j3 RUNNING &&
	pacer cancel $j3 &&
	wait_job_done $j3 &&
	s1=$(job_field $j1 start_time) && s2=$(job_field $j2 start_time) &&
	s3=$(job_field $j3 start_time) && s4=$(job_field $j4 start_time) &&
	test $s1 -le $s4 && test $s4 -le $s2 && test $s2 -le $s3
'

test_expect_success 'backfill = no: the same short job waits its turn' '
	wait_nodes_idle &&
	test_when_finished "conf_set backfill yes && restart_ctld_with_conf" &&
	conf_set backfill no &&
	restart_ctld_with_conf &&
	j1=$(pacer submit --parsable -n 4 -t 10 --wrap "sleep 300.${MARK}1") &&
	test_when_finished "cancel_jobs $j1" &&
	wait_job_state $j1 RUNNING &&
	j2=$(pacer submit --parsable -n 8 -t 5 --wrap "sleep 300.${MARK}2") &&
	test_when_finished "cancel_jobs $j2" &&
	j4=$(pacer submit --parsable -n 2 -t 5 --wrap "sleep 300.${MARK}4") &&
	test_when_finished "cancel_jobs $j4" &&
	sleep 1 &&
	test "$(job_state $j4)" = PENDING &&
	wait_job_reason $j4 Priority &&
	wait_job_reason $j2 Resources &&
	pacer cancel $j1 $j2 $j4 &&
	wait_jobs_done $j1 $j2 $j4
'

test_expect_success 'a negative nice (root only) goes ahead of an older job' '
	wait_nodes_idle &&
	big=$(pacer submit --parsable -n 8 -t 5 --wrap "sleep 300.${MARK}5") &&
	test_when_finished "cancel_jobs $big" &&
	wait_job_state $big RUNNING &&
	a=$(pacer submit --parsable -n 8 -t 5 --wrap true) &&
	test_when_finished "cancel_jobs $a" &&
	b=$(pacer submit --parsable -n 8 -t 5 --nice=-100 --wrap true) &&
	test_when_finished "cancel_jobs $b" &&
	test "$(job_field $b priority)" -gt "$(job_field $a priority)" &&
	pacer cancel $big &&
	wait_jobs_done $big $b $a &&
	test "$(job_field $b start_time)" -le "$(job_field $a start_time)" &&
	test "$(job_field $b end_time)" -le "$(job_field $a start_time)"
'

test_expect_success 'a job of a higher-priority partition goes ahead on shared nodes' '
	wait_nodes_idle &&
	big=$(pacer submit --parsable -n 8 -t 5 --wrap "sleep 300.${MARK}6") &&
	test_when_finished "cancel_jobs $big" &&
	wait_job_state $big RUNNING &&
	a=$(pacer submit --parsable -n 8 -t 5 --wrap true) &&
	test_when_finished "cancel_jobs $a" &&
	b=$(pacer submit --parsable -p urgent -n 8 -t 5 --wrap true) &&
	test_when_finished "cancel_jobs $b" &&
	test "$(job_field $b priority)" -gt "$(job_field $a priority)" &&
	wait_job_reason $b Resources &&
	wait_job_reason $a Priority &&
	pacer cancel $big &&
	wait_jobs_done $big $b $a &&
	test "$(job_field $b end_time)" -le "$(job_field $a start_time)"
'

test_expect_success 'a user may not raise their own priority with a negative nice' '
	test_must_fail submit_as_user --nice=-5 --wrap true 2>err &&
	grep -i "administrator" err
'

test_expect_success 'a partition closed to a user refuses their jobs, with the keys to look at' '
	test_must_fail submit_as_user -p private --wrap true 2>err &&
	grep "allow_users" err &&
	id=$(pacer submit --parsable -p private --wrap true) &&
	wait_job_done $id &&
	test "$(job_field $id "alloc[0].node")" = node1
'

test_expect_success 'allow_groups: a member of the group may submit, others may not' '
	id=$(cd work && submit_as_user -p staff --wrap true) &&
	wait_job_done $id &&
	test "$(job_state $id)" = COMPLETED &&
	test_must_fail submit_as_user -p daemons --wrap true 2>err &&
	grep "allow_groups" err
'

test_expect_success 'pacer diag: the scheduler has been passing, and says so' '
	pacer diag --json >diag.json &&
	jq -e ".sched.passes > 0 and .sched.started >= 1 and .nodes == 2 and .nodes_up == 2" \
		diag.json &&
	jq -e ".jobs >= .pending + .running and .sched.max_ms >= .sched.last_ms" diag.json &&
	pacer diag >diag.txt &&
	grep "^Scheduler: .* passes" diag.txt &&
	grep "^Nodes: *2 (2 up), 1 distinct topology$" diag.txt
'

test_stop_cluster
test_done
