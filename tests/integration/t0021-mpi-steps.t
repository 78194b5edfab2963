#!/bin/sh
test_description='MPI direct launch and steps on 4 emulated nodes: real Open MPI
programs (hello, allreduce, ring, MPI_Abort, mpi4py) by pacer run; a cancelled
or timed-out job takes every rank on every node with it; steps side by side on
disjoint cores, a step waiting for cores, a step cancelled alone, steps across
a controller restart; a node daemon killed under a batch job and an MPI step'
. "$(dirname "$0")/lib.sh"

M=$PACER_BUILD_DIR/tests/mpi
test -x "$M/hello" && test_set_prereq MPI
test -x /usr/bin/python3 && /usr/bin/python3 -c "import mpi4py" 2>/dev/null &&
	test_set_prereq MPI4PY

# ranks_of FILE WORD: the rank= values of FILE's lines starting with WORD.
ranks_of() { sed -n "s/^$2 rank=\([0-9]*\) .*/\1/p" "$1" | sort -n | tr '\n' ' '; }

# gone PATTERN: no process whose command line matches PATTERN (10 s).
gone() {
	_i=0
	while pgrep -f "$1" >/dev/null; do
		[ $_i -lt 100 ] || { pgrep -a -f "$1" >&2; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

# step_state JOB.STEP: its state in pacer queue --steps --all.
step_state() {
	pacer queue --steps --all --json | jq -r ".steps[] | select(.step_id == \"$1\") | .state"
}

# wait_step JOB.STEP STATE (30 s).
wait_step() {
	_i=0
	while [ "$(step_state "$1")" != "$2" ]; do
		[ $_i -lt 300 ] || { pacer queue --steps --all >&2; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

test_expect_success 'setup: 4 nodes of 2 cores' '
	start_cluster --nodes 4 --topology "pack:1 core:2 pu:1" &&
	wait_nodes_up 4 &&
	mkdir work
'

test_expect_success MPI 'hello: 8 ranks on 4 nodes, each told its rank and size, each on a CPU of its own' '
	pacer run -N 4 -n 8 "$M/hello" >hello.out &&
	test_line_count = 8 hello.out &&
	test "$(ranks_of hello.out hello)" = "0 1 2 3 4 5 6 7 " &&
	test "$(grep -c " size=8 " hello.out)" = 8 &&
	# block distribution: ranks 2k and 2k+1 share a node, on its two CPUs
	for k in 0 1 2 3; do
		a=$(sed -n "s/^hello rank=$((2 * k)) .*cpus=//p" hello.out) &&
		b=$(sed -n "s/^hello rank=$((2 * k + 1)) .*cpus=//p" hello.out) &&
		test -n "$a" && test -n "$b" && test "$a" != "$b" || return 1
	done &&
	wait_nodes_idle
'

test_expect_success MPI 'allreduce: every rank gets the sum of every rank'"'"'s rank + 1' '
	pacer run -N 4 -n 8 "$M/allreduce" >sum.out &&
	test "$(grep -c "^allreduce rank=[0-7] size=8 sum=36$" sum.out)" = 8
'

test_expect_success MPI 'ring: a token passes through every rank and comes back' '
	pacer run -N 4 -n 8 "$M/ring" >ring.out &&
	grep "^ring rank=0 size=8 back=28$" ring.out &&
	test "$(grep -c "^ring rank=[1-7] size=8 got=" ring.out)" = 7
'

test_expect_success MPI 'MPI_Abort(3) in rank 1 ends the step on every node, reported with its code' '
	test_expect_code 3 pacer run -N 4 -n 8 "$M/abort" >abort.out 2>abort.err &&
	grep "task 1 aborted with code 3" abort.err &&
	gone "$M/abort" &&
	JOB=$(pacer queue --all --json | jq "[.jobs[].id] | max") &&
	wait_job_state $JOB FAILED &&
	wait_step $JOB.0 FAILED &&
	wait_nodes_idle
'

test_expect_success MPI4PY 'mpi4py helloworld on 8 ranks' '
	pacer run -N 4 -n 8 /usr/bin/python3 -m mpi4py.bench helloworld >py.out &&
	for i in 0 1 2 3 4 5 6 7; do
		grep "^Hello, World! I am process $i of 8 on " py.out || return 1
	done
'

test_expect_success 'cancelling a job ends its 8-rank step on every node' '
	JOB=$(pacer submit --parsable -N 4 -n 8 -D work \
		--wrap "pacer run -n 8 sleep 300.${MARK}1") &&
	test_when_finished "cancel_jobs $JOB" &&
	wait_job_state $JOB RUNNING &&
	wait_procs 1 8 &&
	pacer cancel $JOB &&
	wait_job_state $JOB CANCELLED &&
	wait_procs 1 0 &&
	wait_step $JOB.0 CANCELLED &&
	wait_nodes_idle
'

test_expect_success 'a job that reaches its time limit takes its step with it' '
	JOB=$(pacer submit --parsable -N 4 -n 8 -t 0:03 -D work \
		--wrap "pacer run -n 8 sleep 300.${MARK}2") &&
	test_when_finished "cancel_jobs $JOB" &&
	wait_job_state $JOB RUNNING &&
	wait_procs 2 8 &&
	wait_job_state $JOB TIMEOUT &&
	wait_procs 2 0 &&
	wait_nodes_idle
'

# In an allocation of 2 CPUs on each of 2 nodes, steps share the cores.
test_expect_success 'two steps side by side get disjoint cores' '
	# used by the next tests too: the last one cancels it
	JOB=$(pacer submit --parsable -N 2 -n 4 -D work --wrap "sleep 300") &&
	wait_job_state $JOB RUNNING &&
	cat >both.sh <<-EOF &&
	echo "\$PACER_STEP_ID \$PACER_NODENAME \$PACER_JOB_CPUS"
	sleep 2
	EOF
	{ PACER_JOB_ID=$JOB pacer run -N 2 -n 2 sh "$PWD/both.sh" >a.out & } &&
	PA=$! &&
	{ PACER_JOB_ID=$JOB pacer run -N 2 -n 2 sh "$PWD/both.sh" >b.out & } &&
	PB=$! &&
	wait $PA && wait $PB &&
	cat a.out b.out | sort >both.out &&
	test_line_count = 4 both.out &&
	# on each node, the two steps hold different CPUs
	for n in $(cut -d" " -f2 both.out | sort -u); do
		test "$(grep " $n " both.out | cut -d" " -f3 | sort -u | wc -l)" = 2 || return 1
	done &&
	test "$(cut -d" " -f1 both.out | sort -u | wc -l)" = 2
'

test_expect_success 'a step waits for cores another step holds, then runs' '
	{ PACER_JOB_ID=$JOB pacer run -N 2 -n 4 sleep 300.${MARK}3 >/dev/null 2>&1 & } &&
	PW=$! &&
	wait_procs 3 4 &&
	{ PACER_JOB_ID=$JOB pacer run -N 1 -n 1 echo ran >late.out 2>late.err & } &&
	PL=$! &&
	_i=0 &&
	while ! grep -q "waiting for free cores" late.err; do
		test $_i -lt 100 || return 1
		sleep 0.1 && _i=$((_i + 1))
	done &&
	! test -s late.out &&
	pkill -TERM -f "sleep 300.${MARK}3" &&
	wait $PL &&
	test "$(cat late.out)" = ran &&
	{ wait $PW; true; }
'

test_expect_success 'a step cancelled alone: the other step and the job go on' '
	{ PACER_JOB_ID=$JOB pacer run -N 2 -n 2 sleep 300.${MARK}4 >/dev/null 2>&1 & } &&
	PX=$! &&
	wait_procs 4 2 &&
	{ PACER_JOB_ID=$JOB pacer run -N 2 -n 2 sleep 300.${MARK}5 >/dev/null 2>&1 & } &&
	PY=$! &&
	wait_procs 5 2 &&
	# the x step started first: it has the lower id
	SX=$(pacer queue --steps --json | jq -r "[.steps[] | select(.job_id == $JOB and \
		.state == \"RUNNING\" and .step_id != \"$JOB.batch\") | .step_id] | .[0]") &&
	pacer cancel $SX &&
	wait_step $SX CANCELLED &&
	wait_procs 4 0 &&
	test "$(marker_procs 5 | wc -l)" = 2 &&
	test "$(job_state $JOB)" = RUNNING &&
	{ wait $PX; true; }
'

test_expect_success 'steps are listed across a controller restart, and end after it' '
	pkill -TERM -f "sleep 300.${MARK}5"; wait_procs 5 0 && { wait $PY; true; } &&
	{ PACER_JOB_ID=$JOB pacer run -N 2 -n 2 sleep 300.${MARK}6 >/dev/null 2>&1 & } &&
	PR=$! &&
	wait_procs 6 2 &&
	SR=$(pacer queue --steps --json | jq -r ".steps[] | select(.job_id == $JOB and .state == \"RUNNING\" and .step_id != \"$JOB.batch\") | .step_id") &&
	test -n "$SR" &&
	kill_ctld &&
	restart_ctld &&
	test "$(step_state $SR)" = RUNNING &&
	pacer cancel $SR &&
	wait_step $SR CANCELLED &&
	wait_procs 6 0 &&
	{ wait $PR; true; }
'

test_expect_success 'a step supervisor killed with SIGKILL: its tasks are killed, the step ends NODE_FAIL' '
	{ PACER_JOB_ID=$JOB pacer run -N 2 -n 2 sleep 300.${MARK}7 >/dev/null 2>&1 & } &&
	PK=$! &&
	wait_procs 7 2 &&
	SK=$(pacer queue --steps --json | jq -r "[.steps[] | select(.job_id == $JOB and \
		.state == \"RUNNING\" and .step_id != \"$JOB.batch\") | .step_id] | .[0]") &&
	sup=$(cat "$CLUSTER/spool/node1/supervisors/job-$SK.pid") &&
	kill -KILL $sup &&
	wait_procs 7 0 &&
	wait_step $SK NODE_FAIL &&
	{ wait $PK; true; } &&
	grep "job-$SK: killing what is left of it" "$CLUSTER/log/node1.log"
'

test_expect_success 'the job of the step tests ends' '
	pacer cancel $JOB &&
	wait_job_done $JOB &&
	wait_nodes_idle
'

test_expect_success MPI 'a node daemon killed under a batch job and an MPI step: both go on and end with their codes' '
	cat >gate.sh <<-EOF &&
	while [ ! -e "$PWD/gate.$MARK" ]; do sleep 0.1; done
	EOF
	cat >mpi-job.sh <<-EOF &&
	#!/bin/sh
	pacer run -n 2 sh -c "sh \"$PWD/gate.sh\" && exec \"$M/allreduce\"" >"$PWD/mpi.out"
	echo step \$?
	exit 4
	EOF
	JOB=$(pacer submit --parsable -N 2 -n 2 -D work mpi-job.sh) &&
	test_when_finished "cancel_jobs $JOB" &&
	wait_job_state $JOB RUNNING &&
	wait_step $JOB.0 RUNNING &&
	npid=$(noded_pid 1) &&
	kill -KILL $npid &&
	pid_gone $npid &&
	: >gate.$MARK &&
	"$LOCAL_CLUSTER" start "$CLUSTER" node1 &&
	wait_nodes_up 4 &&
	wait_job_state $JOB FAILED &&
	pacer show job $JOB >show.out &&
	grep "ExitCode=4:0" show.out &&
	test "$(grep -c "^allreduce rank=[01] size=2 sum=3$" mpi.out)" = 2 &&
	test "$(step_state $JOB.0)" = COMPLETED &&
	grep "step 0" work/pacer-$JOB.out &&
	wait_nodes_idle
'

test_stop_cluster
test_done
