#!/bin/sh
test_description='cancel, signal, hold and release on a real 4-node cluster: pending and
running jobs, whole process trees, several ids, --user, --signal, permissions between
users, and the errors of each'
. "$(dirname "$0")/lib.sh"

# Each node offers 2 CPUs whatever this machine has: 8 in all, and a job of
# -N 4 -n 8 fills the cluster.
NODE_CPUS=2


# wait_file FILE: until FILE exists (30 s).
wait_file() {
	i=0
	while [ $i -lt 300 ]; do
		[ -e "$1" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "$1 never appeared" >&2
	return 1
}

# submit ARGS...: pacer submit --parsable in the work folder; prints the id.
submit() { (cd "$WORK" && pacer submit --parsable "$@"); }
submit_as_user() { (cd "$WORK" && as_user "$PACER_BIN" submit --parsable "$@"); }

# A job that waits (at most two minutes) until the test creates go-<job id>.
cat >wait-go.sh <<'EOF'
#!/bin/sh
i=0
while [ ! -e "go-$PACER_JOB_ID" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
echo done
EOF

# A job that the scheduler certainly considered: once it has COMPLETED, any
# job that could have started (resources free, not held) has started.
probe() {
	p=$(submit -J probe --wrap true) &&
	test_when_finished "cancel_jobs $p" &&
	wait_job_state $p COMPLETED
}

# fill_cluster: a running job holding all 8 CPUs; its id in $BLOCKER.  The
# test that calls it cancels it when it ends (test_when_finished).
fill_cluster() {
	wait_nodes_idle &&
	BLOCKER=$(submit -J blocker -N 4 -n 8 wait-go.sh) &&
	test_when_finished "cancel_jobs $BLOCKER" &&
	wait_job_state $BLOCKER RUNNING &&
	pacer nodes --json | jq -e "all(.nodes[]; .cpus_alloc == .cpus)" >/dev/null
}

# queue_snapshot FILE: every job with its state and reason (no times).
queue_snapshot() { pacer queue --all --noheader --format "%i %u %T %r" >"$1"; }

test_expect_success 'setup: a 4-node cluster of 2 CPUs a node, and a test user' '
	start_cluster --nodes 4 --cpus $NODE_CPUS &&
	pacer nodes --noheader >nodes.out &&
	test_line_count = 4 nodes.out &&
	ensure_test_user &&
	user_dir work &&
	WORK=$(cd work && pwd -P) &&
	cp wait-go.sh work/ && chmod 0755 work/wait-go.sh &&
	if grep -q "tracked by cgroup" "$CLUSTER"/log/node*.log ||
	   grep -q "job tracking: cgroup" "$CLUSTER"/log/node1.log; then
		test_set_prereq CGROUP
	fi
'

# Pending jobs ---------------------------------------------------------------

test_expect_success 'a held pending job is cancelled and never runs' '
	id=$(submit -J never1 --hold --wrap "touch ran-\$PACER_JOB_ID") &&
	test_when_finished "cancel_jobs $id" &&
	test "$(job_state $id)" = PENDING &&
	pacer cancel $id >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	test "$(job_state $id)" = CANCELLED &&
	probe &&
	test "$(job_state $id)" = CANCELLED &&
	test ! -e "$WORK/ran-$id" &&
	test ! -e "$WORK/pacer-$id.out" &&
	pacer show job $id >show.out &&
	grep -x "   JobState=CANCELLED Reason=cancelled by root" show.out &&
	grep " StartTime=N/A " show.out &&
	grep -x "   Partition=batch NodeList=(null)" show.out
'

test_expect_success 'a job pending for resources on a full cluster is cancelled and never runs' '
	fill_cluster &&
	id=$(submit -J never2 --wrap "touch ran-\$PACER_JOB_ID") &&
	test_when_finished "cancel_jobs $id" &&
	pacer queue --job $id --noheader --format "%T %r" >q.out &&
	echo "PENDING Resources" >q.exp &&
	test_cmp q.exp q.out &&
	pacer cancel $id &&
	test "$(job_state $id)" = CANCELLED &&
	touch "$WORK/go-$BLOCKER" &&
	wait_job_state $BLOCKER COMPLETED &&
	probe &&
	test "$(job_state $id)" = CANCELLED &&
	test ! -e "$WORK/ran-$id" &&
	test ! -e "$WORK/pacer-$id.out"
'

# Running jobs ---------------------------------------------------------------

cat >tree.sh <<EOF
#!/bin/sh
# a child, an orphaned grandchild, and the script waiting in the foreground
sleep 300.${MARK}1 &
( sleep 300.${MARK}1 & )
sleep 300.${MARK}1
EOF

test_expect_success 'a running job is cancelled: CANCELLED, its child and grandchild gone' '
	cp tree.sh "$WORK/" &&
	id=$(submit -J tree tree.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	wait_procs 1 3 &&
	pacer cancel $id >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	wait_job_state $id CANCELLED &&
	test_expect_code 1 marker_procs 1 &&
	pacer show job $id >show.out &&
	grep "^   JobState=CANCELLED Reason=cancelled" show.out
'

cat >escape.sh <<EOF
#!/bin/sh
# a child that leaves the job's session: only a cgroup still finds it
setsid sleep 300.${MARK}2 &
sleep 300.${MARK}2
EOF

test_expect_success CGROUP 'cancel also ends a child that called setsid (cgroup tracking)' '
	cp escape.sh "$WORK/" &&
	id=$(submit -J escape escape.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	wait_procs 2 2 &&
	pacer cancel $id &&
	wait_job_state $id CANCELLED &&
	test_expect_code 1 marker_procs 2
'

test_expect_success 'cancelling a job twice: the second time is an error, nothing changes' '
	id=$(submit -J twice --hold --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	pacer cancel $id &&
	queue_snapshot before.out &&
	test_expect_code 1 pacer cancel $id 2>err &&
	echo "pacer cancel: job $id has already finished (CANCELLED)" >err.exp &&
	test_cmp err.exp err &&
	queue_snapshot after.out &&
	test_cmp before.out after.out
'

test_expect_success 'several ids at once are all cancelled, pending and running alike' '
	a=$(submit -J multi-a --hold --wrap true) &&
	test_when_finished "cancel_jobs $a" &&
	b=$(submit -J multi-b --hold --wrap true) &&
	test_when_finished "cancel_jobs $b" &&
	c=$(submit -J multi-c wait-go.sh) &&
	test_when_finished "cancel_jobs $c" &&
	wait_job_state $c RUNNING &&
	pacer cancel $a $b $c >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	wait_job_state $c CANCELLED &&
	pacer queue --job $a,$b,$c --noheader --format "%i %T" >q.out &&
	printf "%s CANCELLED\n" $a $b $c >q.exp &&
	test_cmp q.exp q.out
'

test_expect_success 'several ids with one unknown: the others are cancelled, exit 1' '
	a=$(submit -J multi-d --hold --wrap true) &&
	test_when_finished "cancel_jobs $a" &&
	b=$(submit -J multi-e --hold --wrap true) &&
	test_when_finished "cancel_jobs $b" &&
	test_expect_code 1 pacer cancel $a 999999 $b >out 2>err &&
	test_must_be_empty out &&
	echo "pacer cancel: job 999999 does not exist" >err.exp &&
	test_cmp err.exp err &&
	test "$(job_state $a)" = CANCELLED &&
	test "$(job_state $b)" = CANCELLED
'

# --user -----------------------------------------------------------------------

test_expect_success 'cancel --user cancels every active job of that user, and no one else'"'"'s' '
	done_u=$(submit_as_user -J u-done --wrap true) &&
	test_when_finished "cancel_jobs $done_u" &&
	wait_job_state $done_u COMPLETED &&
	run_u=$(submit_as_user -J u-run wait-go.sh) &&
	test_when_finished "cancel_jobs $run_u" &&
	held_u=$(submit_as_user -J u-held --hold --wrap true) &&
	test_when_finished "cancel_jobs $held_u" &&
	held_r=$(submit -J r-held --hold --wrap true) &&
	test_when_finished "cancel_jobs $held_r" &&
	run_r=$(submit -J r-run wait-go.sh) &&
	test_when_finished "cancel_jobs $run_r" &&
	wait_job_state $run_u RUNNING &&
	wait_job_state $run_r RUNNING &&
	pacer cancel --user "$TEST_USER" >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	wait_job_state $run_u CANCELLED &&
	pacer queue --job $done_u,$run_u,$held_u,$held_r,$run_r --noheader \
		--format "%i %u %T" >q.out &&
	cat >q.exp <<-EOF &&
	$done_u $TEST_USER COMPLETED
	$run_u $TEST_USER CANCELLED
	$held_u $TEST_USER CANCELLED
	$held_r root PENDING
	$run_r root RUNNING
	EOF
	test_cmp q.exp q.out &&
	touch "$WORK/go-$run_r" &&
	wait_job_state $run_r COMPLETED &&
	pacer cancel $held_r &&
	wait_job_done $held_r
'

test_expect_success 'a user may cancel --user themselves; with nothing active it is no error' '
	a=$(submit_as_user -J u-self --hold --wrap true) &&
	test_when_finished "cancel_jobs $a" &&
	as_user "$PACER_BIN" cancel --user "$TEST_USER" >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	test "$(job_state $a)" = CANCELLED &&
	queue_snapshot before.out &&
	as_user "$PACER_BIN" cancel --user "$TEST_USER" &&
	queue_snapshot after.out &&
	test_cmp before.out after.out
'

# --signal -----------------------------------------------------------------------

cat >usr1.sh <<'EOF'
#!/bin/sh
trap 'echo "got USR1" >>"usr1-$PACER_JOB_ID"' USR1
touch "ready-$PACER_JOB_ID"
i=0
while [ ! -e "go-$PACER_JOB_ID" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
echo "ended normally"
EOF

test_expect_success 'cancel --signal USR1 reaches the running script, which goes on' '
	cp usr1.sh "$WORK/" &&
	id=$(submit -J usr1 usr1.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_file "$WORK/ready-$id" &&
	pacer cancel --signal USR1 $id >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	wait_file "$WORK/usr1-$id" &&
	echo "got USR1" >usr1.exp &&
	test_cmp usr1.exp "$WORK/usr1-$id" &&
	test "$(job_state $id)" = RUNNING &&
	pacer cancel -s SIGUSR1 $id &&
	i=0 && while [ $(wc -l <"$WORK/usr1-$id") -lt 2 ] && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1)); done &&
	printf "got USR1\ngot USR1\n" >usr1.exp &&
	test_cmp usr1.exp "$WORK/usr1-$id" &&
	test "$(job_state $id)" = RUNNING &&
	touch "$WORK/go-$id" &&
	wait_job_state $id COMPLETED &&
	grep -x "ended normally" "$WORK/pacer-$id.out"
'

test_expect_success 'cancel --signal of a pending job is an error and changes nothing' '
	id=$(submit -J sig-pending --hold --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	queue_snapshot before.out &&
	test_expect_code 1 pacer cancel --signal USR1 $id 2>err &&
	echo "pacer cancel: job $id is not running: nothing to signal" >err.exp &&
	test_cmp err.exp err &&
	queue_snapshot after.out &&
	test_cmp before.out after.out &&
	pacer cancel $id &&
	wait_job_done $id
'

test_expect_success 'cancel --signal with an unknown signal name is an error' '
	test_expect_code 1 pacer cancel --signal NOSUCH 1 2>err &&
	grep "^pacer cancel: invalid signal .NOSUCH." err
'

# Permissions ----------------------------------------------------------------------

test_expect_success 'the test user cannot cancel, hold or release a job of root' '
	id=$(submit -J roots --hold --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	queue_snapshot before.out &&
	for cmd in cancel hold release; do
		test_expect_code 1 as_user "$PACER_BIN" $cmd $id >out 2>err &&
		test_must_be_empty out &&
		echo "pacer $cmd: job $id belongs to root, not to you" >err.exp &&
		test_cmp err.exp err || return 1
	done &&
	test_expect_code 1 as_user "$PACER_BIN" cancel --signal USR1 $id 2>err &&
	grep -x "pacer cancel: job $id belongs to root, not to you" err &&
	queue_snapshot after.out &&
	test_cmp before.out after.out &&
	pacer queue --job $id --noheader --format "%T %r" >q.out &&
	echo "PENDING JobHeldUser" >q.exp &&
	test_cmp q.exp q.out &&
	pacer cancel $id &&
	wait_job_done $id
'

test_expect_success 'the test user cannot hold a pending job of root' '
	fill_cluster &&
	id=$(submit -J roots-pending --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	test_expect_code 1 as_user "$PACER_BIN" hold $id 2>err &&
	echo "pacer hold: job $id belongs to root, not to you" >err.exp &&
	test_cmp err.exp err &&
	pacer queue --job $id --noheader --format "%T %r" >q.out &&
	echo "PENDING Resources" >q.exp &&
	test_cmp q.exp q.out &&
	touch "$WORK/go-$BLOCKER" &&
	wait_job_state $BLOCKER COMPLETED &&
	wait_job_state $id COMPLETED
'

test_expect_success 'the test user cannot cancel --user root' '
	id=$(submit -J roots-2 --hold --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	queue_snapshot before.out &&
	test_expect_code 1 as_user "$PACER_BIN" cancel --user root 2>err &&
	grep -x "pacer cancel: only an administrator may cancel another user'"'"'s jobs" err &&
	queue_snapshot after.out &&
	test_cmp before.out after.out &&
	pacer cancel $id &&
	wait_job_done $id
'

test_expect_success 'the test user cannot cancel a running job of root' '
	id=$(submit -J roots-run wait-go.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	test_expect_code 1 as_user "$PACER_BIN" cancel $id 2>err &&
	echo "pacer cancel: job $id belongs to root, not to you" >err.exp &&
	test_cmp err.exp err &&
	test "$(job_state $id)" = RUNNING &&
	touch "$WORK/go-$id" &&
	wait_job_state $id COMPLETED
'

test_expect_success 'root cancels a job of the test user, pending or running' '
	a=$(submit_as_user -J users-held --hold --wrap true) &&
	test_when_finished "cancel_jobs $a" &&
	b=$(submit_as_user -J users-run wait-go.sh) &&
	test_when_finished "cancel_jobs $b" &&
	wait_job_state $b RUNNING &&
	pacer cancel $a $b &&
	wait_job_state $b CANCELLED &&
	test "$(job_state $a)" = CANCELLED &&
	pacer show job $a >show.out &&
	grep -x "   JobState=CANCELLED Reason=cancelled by root" show.out
'

# Errors -------------------------------------------------------------------------

test_expect_success 'cancel of a job that does not exist: error, exit 1, queue unchanged' '
	h=$(submit -J bystander --hold --wrap true) &&
	test_when_finished "cancel_jobs $h" &&
	queue_snapshot before.out &&
	test_expect_code 1 pacer cancel 999999 >out 2>err &&
	test_must_be_empty out &&
	echo "pacer cancel: job 999999 does not exist" >err.exp &&
	test_cmp err.exp err &&
	queue_snapshot after.out &&
	test_cmp before.out after.out &&
	pacer cancel $h &&
	wait_job_done $h
'

test_expect_success 'cancel of a finished job: error naming the job and its state' '
	id=$(submit -J finished --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	test_expect_code 1 pacer cancel $id 2>err &&
	echo "pacer cancel: job $id has already finished (COMPLETED)" >err.exp &&
	test_cmp err.exp err &&
	test "$(job_state $id)" = COMPLETED
'

test_expect_success 'cancel abc: invalid job id, nothing sent' '
	queue_snapshot before.out &&
	test_expect_code 1 pacer cancel abc 2>err &&
	echo "pacer cancel: invalid job id '"'"'abc'"'"' (a job id is a whole number like 42)" >err.exp &&
	test_cmp err.exp err &&
	test_expect_code 1 pacer cancel 0 2>err &&
	grep "^pacer cancel: invalid job id '"'"'0'"'"'" err &&
	test_expect_code 1 pacer hold 12x 2>err &&
	grep "^pacer hold: invalid job id '"'"'12x'"'"'" err &&
	queue_snapshot after.out &&
	test_cmp before.out after.out
'

test_expect_success 'cancel, hold and release without arguments: usage error, exit 2' '
	test_expect_code 2 pacer cancel >out 2>err &&
	test_must_be_empty out &&
	cat >err.exp <<-EOF &&
	pacer cancel: no job to cancel (give job ids, or --user USER)
	Usage: pacer cancel [OPTIONS] ID...
	Try '"'"'pacer cancel --help'"'"' for more information.
	EOF
	test_cmp err.exp err &&
	test_expect_code 2 pacer hold 2>err &&
	grep -x "pacer hold: no job to hold (give job ids)" err &&
	test_expect_code 2 pacer release 2>err &&
	grep -x "pacer release: no job to release (give job ids)" err &&
	test_expect_code 2 pacer cancel --user root 5 2>err &&
	grep -x "pacer cancel: give job ids or --user, not both" err
'

test_expect_success 'release or hold of a job that does not exist: error, exit 1' '
	test_expect_code 1 pacer release 999999 2>err &&
	echo "pacer release: job 999999 does not exist" >err.exp &&
	test_cmp err.exp err &&
	test_expect_code 1 pacer hold 999999 2>err &&
	echo "pacer hold: job 999999 does not exist" >err.exp &&
	test_cmp err.exp err
'

# Hold and release -------------------------------------------------------------------

test_expect_success 'submit --hold: PENDING (JobHeldUser) while the cluster is idle' '
	HELD=$(submit -J held --hold --wrap "echo released \$PACER_JOB_ID") &&
	probe &&
	pacer queue --job $HELD --noheader --format "%T %r" >q.out &&
	echo "PENDING JobHeldUser" >q.exp &&
	test_cmp q.exp q.out &&
	pacer queue --job $HELD --noheader --format "%R" >r.out &&
	echo "(JobHeldUser)" >r.exp &&
	test_cmp r.exp r.out &&
	pacer show job $HELD >show.out &&
	grep -x "   Priority=[0-9]* Held=Yes CancelRequested=No Epoch=[0-9]*" show.out &&
	grep -x "   JobState=PENDING Reason=JobHeldUser" show.out &&
	pacer show job $HELD --json >show.json &&
	grep -x "  \"held\": true," show.json &&
	test ! -e "$WORK/pacer-$HELD.out"
'

test_expect_success 'release lets the held job run to COMPLETED' '
	test_when_finished "cancel_jobs $HELD" &&
	pacer release $HELD >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	wait_job_state $HELD COMPLETED &&
	echo "released $HELD" >out.exp &&
	test_cmp out.exp "$WORK/pacer-$HELD.out" &&
	pacer show job $HELD >show.out &&
	grep -x "   Priority=[0-9]* Held=No CancelRequested=No Epoch=[0-9]*" show.out
'

test_expect_success 'pacer hold keeps a pending job from running once resources are free' '
	fill_cluster &&
	id=$(submit -J hold-later --wrap "echo ran \$PACER_JOB_ID") &&
	test_when_finished "cancel_jobs $id" &&
	pacer queue --job $id --noheader --format "%T %r" >q.out &&
	echo "PENDING Resources" >q.exp &&
	test_cmp q.exp q.out &&
	pacer hold $id >out 2>err &&
	test_must_be_empty out &&
	test_must_be_empty err &&
	touch "$WORK/go-$BLOCKER" &&
	wait_job_state $BLOCKER COMPLETED &&
	probe &&
	pacer nodes --json | jq -e "all(.nodes[]; .cpus_alloc == 0)" >/dev/null &&
	pacer queue --job $id --noheader --format "%T %r" >q.out &&
	echo "PENDING JobHeldUser" >q.exp &&
	test_cmp q.exp q.out &&
	test ! -e "$WORK/pacer-$id.out" &&
	pacer release $id &&
	wait_job_state $id COMPLETED &&
	echo "ran $id" >out.exp &&
	test_cmp out.exp "$WORK/pacer-$id.out"
'

test_expect_success 'hold or release of a running job: error, the job runs on' '
	id=$(submit -J hold-running wait-go.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	test_expect_code 1 pacer hold $id >out 2>err &&
	test_must_be_empty out &&
	echo "pacer hold: job $id is RUNNING: only pending jobs can be held" >err.exp &&
	test_cmp err.exp err &&
	test_expect_code 1 pacer release $id 2>err &&
	echo "pacer release: job $id is RUNNING: only pending jobs can be released" >err.exp &&
	test_cmp err.exp err &&
	test "$(job_state $id)" = RUNNING &&
	touch "$WORK/go-$id" &&
	wait_job_state $id COMPLETED
'

test_expect_success 'hold of a finished job: error' '
	id=$(submit -J hold-done --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	test_expect_code 1 pacer hold $id 2>err &&
	echo "pacer hold: job $id is COMPLETED: only pending jobs can be held" >err.exp &&
	test_cmp err.exp err &&
	test "$(job_state $id)" = COMPLETED
'

test_expect_success 'a user holds and releases their own job' '
	id=$(submit_as_user -J users-own --hold --wrap "echo mine") &&
	test_when_finished "cancel_jobs $id" &&
	as_user "$PACER_BIN" hold $id &&
	test "$(job_state $id)" = PENDING &&
	as_user "$PACER_BIN" release $id &&
	wait_job_state $id COMPLETED &&
	echo mine >out.exp &&
	test_cmp out.exp "$WORK/pacer-$id.out"
'

test_expect_success 'nothing is left running or pending' '
	pacer queue --noheader >queue.out &&
	test_must_be_empty queue.out &&
	test_expect_code 1 pgrep -f "sleep 300\\.$MARK"
'

test_stop_cluster
test_done
