#!/bin/sh
test_description='the controller side of job steps on a real 2-node cluster: a step
request from the job owner takes cores inside the job, one that can never fit or
comes from someone else is refused, steps are listed, survive a controller restart,
and end with their job'
. "$(dirname "$0")/lib.sh"

STEP=$PACER_BUILD_DIR/tests/tools/pacer-step-request

# pacer-step-request asks for steps the way pacer run does, but listens for
# no supervisor (its stdio address is the discard port): each node's step
# supervisor cannot reach it, so the step ends FAILED on every node, saying
# why.  That is the node side's failure path; t0020 runs steps for real.

# wait_step_state JOB.STEP STATE: the step reaches STATE (30 s at most).
wait_step_state() {
	_i=0
	while [ "$(pacer queue --steps --all --json |
		jq -r ".steps[] | select(.step_id == \"$1\") | .state")" != "$2" ]; do
		[ $_i -lt 300 ] || { pacer queue --steps --all; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

test_expect_success 'setup: 2 nodes of 4 cores, a test user, a job of 2 tasks a node' '
	start_cluster --nodes 2 --topology "pack:1 core:4 pu:1" &&
	wait_nodes_up 2 &&
	ensure_test_user &&
	user_dir ud &&
	JOB=$(cd ud && as_user "$PACER_BIN" submit --parsable -N 2 -n 4 \
		--wrap "sleep 300") &&
	wait_job_state $JOB RUNNING
'

test_expect_success 'a step of the job owner starts inside the job' '
	as_user "$STEP" $JOB 2 >step0.out &&
	grep "^step $JOB.0 on " step0.out &&
	pacer show job $JOB --json >job.json &&
	jq -e ".steps | length == 1 and .[0].ntasks == 2" job.json &&
	# every CPU of the step is one of the job
	jq -r ".steps[0].alloc[] | .node + \" \" + .cpuset" job.json >step-cpus &&
	while read node cpus; do
		jq -e --arg n "$node" --arg c "$cpus" \
			"any(.alloc[]; .node == \$n and (.cpuset | split(\",\") | \
			 contains(\$c | split(\",\"))))" job.json >/dev/null ||
		{ echo "step CPUs $cpus on $node are not the job'"'"'s" >&2; return 1; }
	done <step-cpus
'

test_expect_success 'with no pacer run to reach, the step ends FAILED on its nodes, saying why' '
	wait_step_state $JOB.0 FAILED &&
	pacer show job $JOB --json >job.json &&
	jq -e ".steps[0].reason | test(\"cannot reach pacer run at 127.0.0.1:9\")" job.json &&
	test "$(job_state $JOB)" = RUNNING
'

test_expect_success 'refused at once: more CPUs than the job, more nodes than it has, no such job' '
	test_must_fail as_user "$STEP" $JOB 5 >big.out &&
	grep "the step needs 5 tasks of 1 CPU (-n, -c) but job $JOB holds 4 CPUs" big.out &&
	test_must_fail as_user "$STEP" $JOB 3 overlap 3 >nodes.out &&
	grep "the step asks for 3 nodes (-N) but job $JOB has 2" nodes.out &&
	test_must_fail "$STEP" 999999 1 >nojob.out &&
	grep "job 999999 does not exist" nojob.out
'

test_expect_success 'an overlapping step shares cores and does not wait' '
	as_user "$STEP" $JOB 4 overlap >step1.out &&
	grep "^step $JOB.1 on " step1.out &&
	wait_step_state $JOB.1 FAILED
'

test_expect_success 'pacer queue --steps lists the batch step, and both steps with --all' '
	pacer queue --steps --noheader >steps.out &&
	grep -E "^ +$JOB.batch +batch .* RUNNING +- " steps.out &&
	! grep -E "^ +$JOB.0 " steps.out &&
	pacer queue --steps --all --noheader >steps.out &&
	grep -E "^ +$JOB.0 +sleep .* 2 +FAILED +1:0 " steps.out &&
	grep -E "^ +$JOB.1 +sleep .* 4 +FAILED +1:0 " steps.out &&
	pacer queue --steps --all --json >steps.json &&
	jq -e "[.steps[] | select(.job_id == $JOB) | .step_id] == \
		[\"$JOB.batch\", \"$JOB.0\", \"$JOB.1\"]" steps.json &&
	pacer show job $JOB >show.out &&
	grep "StepId=$JOB.1 Name=sleep State=FAILED" show.out
'

test_expect_success 'cancelling a step that does not exist says so' '
	test_must_fail pacer cancel $JOB.7 2>cancel.err &&
	grep "step $JOB.7 does not exist" cancel.err &&
	test_must_fail pacer cancel $JOB.x 2>bad.err &&
	grep "invalid step" bad.err
'

test_expect_success 'steps survive a controller restart' '
	pacer show job $JOB --json >before.json &&
	kill_ctld &&
	restart_ctld &&
	pacer show job $JOB --json >after.json &&
	jq -e ".steps | length == 2" after.json &&
	jq -e -n --slurpfile a before.json --slurpfile b after.json \
		"\$a[0].steps == \$b[0].steps"
'

test_expect_success 'the job ends: its ended steps keep their own end' '
	pacer cancel $JOB &&
	wait_job_state $JOB CANCELLED &&
	pacer show job $JOB --json >end.json &&
	jq -e ".steps | length == 2 and all(.[]; .state == \"FAILED\")" end.json &&
	pacer queue --steps --all --json >ended.json &&
	jq -e "[.steps[] | select(.job_id == $JOB) | .state] == \
		[\"CANCELLED\", \"FAILED\", \"FAILED\"]" ended.json &&
	wait_nodes_idle
'

test_done
