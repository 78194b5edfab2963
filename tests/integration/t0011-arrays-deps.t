#!/bin/sh
test_description='job arrays (ranges, steps, %N limit, %A/%a, cancel one task or all)
and dependencies (afterok, afternotok, afterany, after, singleton, never satisfied)'
. "$(dirname "$0")/lib.sh"

job_field() { pacer show job "$1" --json | jq -r ".$2"; }

# running_tasks ARRAY: how many tasks of ARRAY run now.
running_tasks() {
	pacer queue -j "$1" --state RUNNING --noheader --format "%i" | wc -l
}

test_expect_success 'setup: 2 nodes of 4 cores' '
	start_cluster --nodes 2 --topology "pack:1 core:4 pu:1" &&
	ensure_test_user &&
	user_dir work
'

test_expect_success 'an array runs one job per index, each told its place' '
	cat >work/task.sh <<-\EOF &&
	#!/bin/sh
	echo "$PACER_ARRAY_JOB_ID $PACER_ARRAY_TASK_ID $PACER_JOB_ID"
	EOF
	a=$(cd work && submit_as_user --array=1-7:3 -o "arr-%A_%a.out" task.sh) &&
	for t in 1 4 7; do
		wait_job_done ${a}_$t || return 1
	done &&
	pacer queue -j $a --all --noheader --format "%i %T" >q &&
	test_line_count = 3 q &&
	grep -x "${a}_1 COMPLETED" q &&
	grep -x "${a}_4 COMPLETED" q &&
	grep -x "${a}_7 COMPLETED" q &&
	for t in 1 4 7; do
		read -r aid tid jid <work/arr-${a}_$t.out &&
		test "$aid" = $a && test "$tid" = $t || return 1
		test "$(job_field ${a}_$t id)" = "$jid" || return 1
	done &&
	test "$(job_field ${a}_1 id)" = $a
'

test_expect_success 'an array with %2 never runs more than 2 tasks at once' '
	wait_nodes_idle &&
	a=$(pacer submit --parsable --array=0-5%2 -n 1 --wrap "sleep 1") &&
	test_when_finished "cancel_jobs $a" &&
	max=0 && i=0 &&
	while test $i -lt 200; do
		n=$(running_tasks $a) &&
		if test $n -gt $max; then max=$n; fi &&
		left=$(pacer queue -j $a --noheader --format "%i" | wc -l) &&
		test $left -eq 0 && break
		sleep 0.1; i=$((i + 1))
	done &&
	wait_job_done $a &&
	test $max -eq 2 &&
	pacer queue -j $a --all --noheader --format "%T" | sort | uniq -c >states &&
	grep -E "^ *6 COMPLETED$" states
'

test_expect_success 'a task held back by the limit says JobArrayTaskLimit' '
	a=$(pacer submit --parsable --array=0-3%1 --wrap "sleep 300.${MARK}1") &&
	wait_job_state ${a}_0 RUNNING &&
	wait_job_reason ${a}_1 JobArrayTaskLimit
'

test_expect_success 'cancel one task, then the whole array' '
	test_when_finished "cancel_jobs $a" &&
	pacer cancel ${a}_2 &&
	wait_job_done ${a}_2 &&
	test "$(job_state ${a}_2)" = CANCELLED &&
	test "$(job_state ${a}_3)" = PENDING &&
	pacer cancel $a &&
	for t in 0 1 3; do wait_job_done ${a}_$t || return 1; done &&
	pacer queue -j $a --all --noheader --format "%T" | sort -u >states &&
	echo CANCELLED >expect &&
	test_cmp expect states &&
	test_must_fail marker_procs 1
'

test_expect_success 'bad arrays are refused with the reason' '
	test_must_fail pacer submit --array=5-1 --wrap true 2>err &&
	grep -i "range" err &&
	test_must_fail pacer submit --array=0-200000 --wrap true 2>err &&
	grep "100000" err
'

test_expect_success 'afterok waits for success, then runs' '
	first=$(pacer submit --parsable --wrap "sleep 2") &&
	test_when_finished "cancel_jobs $first" &&
	second=$(pacer submit --parsable --dependency=afterok:$first --wrap true) &&
	test_when_finished "cancel_jobs $second" &&
	wait_job_reason $second Dependency &&
	wait_jobs_done $first $second &&
	test "$(job_state $second)" = COMPLETED &&
	test "$(job_field $second start_time)" -ge "$(job_field $first end_time)"
'

test_expect_success 'afterok on a failed job: DependencyNeverSatisfied, afternotok runs' '
	bad=$(pacer submit --parsable --wrap "sleep 1; exit 3") &&
	test_when_finished "cancel_jobs $bad" &&
	ok=$(pacer submit --parsable --dependency=afterok:$bad --wrap true) &&
	test_when_finished "cancel_jobs $ok" &&
	notok=$(pacer submit --parsable --dependency=afternotok:$bad --wrap true) &&
	test_when_finished "cancel_jobs $notok" &&
	wait_jobs_done $bad $notok &&
	test "$(job_state $notok)" = COMPLETED &&
	wait_job_reason $ok DependencyNeverSatisfied &&
	test "$(job_state $ok)" = PENDING &&
	pacer cancel $ok &&
	wait_job_done $ok
'

test_expect_success 'afterany on a whole array, ? for any, and after (started)' '
	a=$(pacer submit --parsable --array=0-2 --wrap "sleep 1") &&
	test_when_finished "cancel_jobs $a" &&
	all=$(pacer submit --parsable --dependency=afterany:$a --wrap true) &&
	test_when_finished "cancel_jobs $all" &&
	long=$(pacer submit --parsable --wrap "sleep 300.${MARK}2") &&
	test_when_finished "cancel_jobs $long" &&
	started=$(pacer submit --parsable --dependency=after:$long --wrap true) &&
	test_when_finished "cancel_jobs $started" &&
	either=$(pacer submit --parsable --dependency="afterok:$long?afterok:${a}_1" --wrap true) &&
	test_when_finished "cancel_jobs $either" &&
	wait_jobs_done $a $all &&
	for t in 0 1 2; do
		test "$(job_field $all start_time)" -ge "$(job_field ${a}_$t end_time)" || return 1
	done &&
	wait_job_done $started &&
	wait_job_done $either &&
	test "$(job_state $long)" = RUNNING &&
	pacer cancel $long &&
	wait_job_done $long
'

test_expect_success 'singleton: one job of a name and user at a time' '
	s1=$(pacer submit --parsable -J solo --wrap "sleep 2") &&
	test_when_finished "cancel_jobs $s1" &&
	s2=$(pacer submit --parsable -J solo --dependency=singleton --wrap true) &&
	test_when_finished "cancel_jobs $s2" &&
	wait_job_reason $s2 Dependency &&
	wait_jobs_done $s1 $s2 &&
	test "$(job_field $s2 start_time)" -ge "$(job_field $s1 end_time)"
'

test_expect_success 'bad dependencies are refused with the reason' '
	test_must_fail pacer submit --dependency=afterok:999999 --wrap true 2>err &&
	grep "does not exist" err &&
	test_must_fail pacer submit --dependency=before:1 --wrap true 2>err &&
	grep -i "dependency" err
'

test_expect_success 'arrays and dependencies survive a controller restart' '
	a=$(pacer submit --parsable --array=0-3%1 --wrap "sleep 300.${MARK}3") &&
	test_when_finished "cancel_jobs $a" &&
	d=$(pacer submit --parsable --dependency=afterok:$a --wrap true) &&
	test_when_finished "cancel_jobs $d" &&
	wait_job_state ${a}_0 RUNNING &&
	kill_ctld &&
	restart_ctld &&
	wait_job_reason ${a}_1 JobArrayTaskLimit &&
	wait_job_reason $d Dependency &&
	test "$(job_field ${a}_3 array_task_id)" = 3 &&
	pacer cancel $a $d &&
	wait_jobs_done $a $d
'

test_stop_cluster
test_done
