#!/bin/sh
test_description='time limits on a real 4-node cluster: TIMEOUT, SIGTERM then SIGKILL
after kill_wait (5 s in local-cluster), and nothing of the job left behind'
. "$(dirname "$0")/lib.sh"


# FILE without the "Terminated" lines the shell prints when SIGTERM kills
# the script's foreground sleep.
without_shell_notes() { grep -v -x "Terminated" "$1"; }

test_expect_success 'setup: a 4-node cluster and a test user' '
	start_cluster --nodes 4 --cpus 2 &&
	grep -x "kill_wait = 5" "$CLUSTER/pacer.conf" &&
	ensure_test_user &&
	user_dir work
'

test_expect_success 'a job past its time limit (-t 0:02, 2 s) ends TIMEOUT' '
	cat >work/long.sh <<-EOF &&
	#!/bin/sh
	sleep 300.${MARK}1 &
	echo \$! >sleep-\$PACER_JOB_ID.pid
	wait
	EOF
	id=$(cd work && submit_as_user -t 0:02 long.sh) &&
	test_when_finished "cancel_jobs $id" &&
	test "$(show_field $id TimeLimit)" = 0:02 &&
	wait_job_state $id TIMEOUT 60 &&
	test "$(show_field $id JobState)" = TIMEOUT &&
	pacer show job $id >show.out &&
	grep -F "Reason=time limit of 0:02 reached" show.out &&
	pacer show job $id --json >job.json &&
	grep -x "  \"state\": \"TIMEOUT\"," job.json &&
	grep -x "    \"time_limit\": 2," job.json
'

test_expect_success 'its sleep was started and is gone' '
	test -s work/sleep-$id.pid &&
	test_must_fail marker_procs 1
'

test_expect_success 'a job that ignores SIGTERM is killed kill_wait later' '
	cat >work/stubborn.sh <<-EOF &&
	#!/bin/sh
	trap "termed=1; echo got TERM" TERM
	(trap "" TERM; exec sleep 300.${MARK}2) &
	echo \$! >sleep-\$PACER_JOB_ID.pid
	echo started
	while :; do
		sleep 0.2
		if [ "\$termed" = 1 ]; then echo survived; termed=2; fi
	done
	EOF
	id=$(cd work && submit_as_user -t 0:02 stubborn.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id TIMEOUT 60 &&
	printf "started\ngot TERM\nsurvived\n" >expect &&
	without_shell_notes work/pacer-$id.out >out &&
	test_cmp expect out &&
	test -s work/sleep-$id.pid &&
	test_must_fail marker_procs 2
'

test_expect_success 'a job that exits cleanly on SIGTERM is still TIMEOUT' '
	cat >work/polite.sh <<-\EOF &&
	#!/bin/sh
	trap "echo cleaning up; exit 0" TERM
	while :; do sleep 0.2; done
	EOF
	id=$(cd work && submit_as_user -t 0:02 polite.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id TIMEOUT 60 &&
	echo "cleaning up" >expect &&
	without_shell_notes work/pacer-$id.out >out &&
	test_cmp expect out
'

test_expect_success 'a job that ends within its limit is COMPLETED' '
	id=$(cd work && submit_as_user -t 1:00 --wrap "echo quick") &&
	wait_job_state $id COMPLETED &&
	test "$(show_field $id TimeLimit)" = 1:00 &&
	echo quick >expect &&
	test_cmp expect work/pacer-$id.out
'

test_expect_success 'no node holds a CPU any more' '
	pacer nodes --noheader >nodes.out &&
	awk "\$3 == \"0/2\"" nodes.out >idle.out &&
	test_line_count = 4 idle.out
'

# This sharness runs the cleanups only when every test passed: stop the
# cluster here too, so that a failing run leaves nothing behind.  Daemons
# built with -DPACER_SANITIZE=ON write their reports to log/*.out.
test_stop_cluster
test_done
