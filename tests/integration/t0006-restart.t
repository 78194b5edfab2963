#!/bin/sh
test_description='controller SIGKILL and restart: no job lost, no id reused, running jobs re-adopted'
. "$(dirname "$0")/lib.sh"

# Jobs here wait on a gate file instead of sleeping, so the test never
# depends on how long a restart takes.  The waiting process carries a marker
# unique to this run in its command line (other tests may run on this
# machine at the same time), so pgrep finds exactly it.
WORK=$SHARNESS_TRASH_DIRECTORY/work
MARK=itr$$

# gated_submit NAME EXIT [submit options]: a job named NAME that prints
# "before ID", waits until its gate is opened, prints "after" and exits
# with EXIT.  Its output goes to work/NAME.out.  Prints the job id.
gated_submit() {
	name=$1 code=$2
	shift 2
	pacer submit --parsable -J "$name" -D "$WORK" -o "$WORK/$name.out" "$@" \
		--wrap "echo before \$PACER_JOB_ID
sh -c 'while [ ! -e \"\$0\" ]; do sleep 0.1; done' '$WORK/gate.$MARK-$name'
echo after
exit $code"
}

open_gate() { : >"$WORK/gate.$MARK-$1"; }

# waiter_pid NAME: the pid of job NAME's waiting process, once it runs.
waiter_pid() {
	_i=0
	while [ $_i -lt 300 ]; do
		_p=$(pgrep -f "gate[.]$MARK-$1\$") && [ $(echo "$_p" | wc -l) -eq 1 ] &&
			{ echo "$_p"; return 0; }
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "no single waiting process for job $1: '$_p'" >&2
	return 1
}

# waiter_gone NAME: job NAME's waiting process is gone (within 30 s).
waiter_gone() {
	_i=0
	while pgrep -f "gate[.]$MARK-$1\$" >/dev/null; do
		[ $_i -lt 300 ] || { echo "job $1 still has its process" >&2; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

# row ID: "id name state" of job ID.
row() { pacer queue --job "$1" --format '%i %j %T' --noheader | tr -s ' ' | sed 's/^ //; s/ $//'; }

# reason ID: the job's reason text.
reason() { pacer queue --job "$1" --format '%r' --noheader | sed 's/^ *//; s/ *$//'; }

# wait_reason ID REASON: wait until job ID waits for REASON (30 s at most).
wait_reason() {
	_i=0
	while [ "$(reason $1)" != "$2" ]; do
		[ $_i -lt 300 ] || { echo "job $1 waits for '$(reason $1)', not '$2'" >&2; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

# node_log_has PATTERN: wait until a node daemon log has a line matching PATTERN.
node_log_has() {
	_i=0
	while ! grep -q -- "$1" "$CLUSTER"/log/node*.log; do
		[ $_i -lt 300 ] || { echo "no node log line matches '$1'" >&2; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

# cpus_alloc NODE: CPUs the controller has allocated on NODE.
cpus_alloc() { pacer nodes --json | jq -r ".nodes[] | select(.name == \"$1\") | .cpus_alloc"; }

# max_id: the highest job id the controller shows (0 if none).
max_id() { pacer queue --all --json | jq '[.jobs[]?.id] | max // 0'; }

test_expect_success 'start a cluster of 2 nodes with 2 CPUs each' '
	start_cluster --nodes 2 --cpus 2 &&
	user_dir "$WORK" &&
	pacer nodes --noheader >nodes.out &&
	test_line_count = 2 nodes.out
'

# A snapshot (a new journal generation) every 7 records, so the kills below
# also land while a snapshot is being written and old files removed.
test_expect_success 'snapshot every 7 records (controller restarted to read it)' '
	sed -i "s/^kill_wait = .*/&\nsnapshot_interval = 7/" "$PACER_CONF" &&
	grep -x "snapshot_interval = 7" "$PACER_CONF" &&
	kill_ctld &&
	restart_ctld
'

test_expect_success 'pending jobs (held, and beyond capacity) survive kill -9 with ids, names and states' '
	wait_nodes_idle &&
	blocker=$(gated_submit blocker 0 -N 2 -n 4) &&
	test_when_finished "cancel_jobs $blocker" &&
	wait_job_state $blocker RUNNING &&
	bpid=$(waiter_pid blocker) &&
	held=$(pacer submit --parsable --hold -J held-one -D "$WORK" --wrap true) &&
	test_when_finished "cancel_jobs $held" &&
	waits=$(pacer submit --parsable -J waits-for-cpus -D "$WORK" --wrap true) &&
	test_when_finished "cancel_jobs $waits" &&
	wait_reason $waits Resources &&
	cat >expect <<-EOF &&
	$blocker blocker RUNNING
	$held held-one PENDING
	$waits waits-for-cpus PENDING
	EOF
	{ row $blocker && row $held && row $waits; } >before &&
	test_cmp expect before &&
	kill_ctld &&
	restart_ctld &&
	{ row $blocker && row $held && row $waits; } >after &&
	test_cmp expect after &&
	test "$(reason $held)" = JobHeldUser &&
	pacer show job $held >show.out &&
	grep "Held=Yes" show.out &&
	wait_reason $waits Resources &&
	test "$(waiter_pid blocker)" = "$bpid" &&
	open_gate blocker &&
	wait_job_state $blocker COMPLETED &&
	wait_job_state $waits COMPLETED &&
	test "$(job_state $held)" = PENDING &&
	pacer release $held &&
	wait_job_state $held COMPLETED &&
	printf "before %s\nafter\n" $blocker >expect.out &&
	test_cmp expect.out "$WORK/blocker.out"
'

test_expect_success 'a running job is re-adopted: same process, RUNNING, then COMPLETED with its output' '
	wait_nodes_idle &&
	id=$(gated_submit readopt 0) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	pid=$(waiter_pid readopt) &&
	node=$(pacer queue --job $id --format %N --noheader | tr -d " ") &&
	test "$(cpus_alloc $node)" = 1 &&
	kill_ctld &&
	kill -0 $pid &&
	restart_ctld &&
	test "$(row $id)" = "$id readopt RUNNING" &&
	test "$(pacer queue --job $id --format %N --noheader | tr -d " ")" = $node &&
	test "$(cpus_alloc $node)" = 1 &&
	test "$(waiter_pid readopt)" = $pid &&
	open_gate readopt &&
	wait_job_state $id COMPLETED &&
	waiter_gone readopt &&
	test "$(pacer queue --job $id --format %N --noheader | tr -d " ")" = $node &&
	test "$(cpus_alloc $node)" = 0 &&
	printf "before %s\nafter\n" $id >expect.out &&
	test_cmp expect.out "$WORK/readopt.out" &&
	cat "$CLUSTER"/log/node*.log >nodes.log &&
	grep ": job $id launched " nodes.log >launched &&
	test_line_count = 1 launched
'

test_expect_success 'jobs that end while the controller is down are reported after the restart' '
	wait_nodes_idle &&
	ok=$(gated_submit ends-ok 0) &&
	test_when_finished "cancel_jobs $ok" &&
	bad=$(gated_submit ends-bad 3) &&
	test_when_finished "cancel_jobs $bad" &&
	wait_job_state $ok RUNNING &&
	wait_job_state $bad RUNNING &&
	waiter_pid ends-ok >/dev/null &&
	waiter_pid ends-bad >/dev/null &&
	kill_ctld &&
	open_gate ends-ok &&
	open_gate ends-bad &&
	node_log_has ": job $ok ended: COMPLETED" &&
	node_log_has ": job $bad ended: FAILED, exit code 3," &&
	restart_ctld &&
	wait_job_state $ok COMPLETED &&
	wait_job_state $bad FAILED &&
	pacer show job $bad >show.out &&
	grep "ExitCode=3:0" show.out &&
	printf "before %s\nafter\n" $ok >expect.ok &&
	test_cmp expect.ok "$WORK/ends-ok.out" &&
	printf "before %s\nafter\n" $bad >expect.bad &&
	test_cmp expect.bad "$WORK/ends-bad.out" &&
	test "$(cpus_alloc node1)" = 0 &&
	test "$(cpus_alloc node2)" = 0
'

test_expect_success 'the node daemons forget those ends once the controller has them' '
	i=0 &&
	until grep -q -x "pacer-spool 2 remove job=$ok" "$CLUSTER"/spool/*/spool.log &&
	      grep -q -x "pacer-spool 2 remove job=$bad" "$CLUSTER"/spool/*/spool.log; do
		test $i -lt 300 || { cat "$CLUSTER"/spool/*/spool.log; return 1; }
		sleep 0.1 && i=$((i + 1))
	done
'

test_expect_success 'a job id is never reused: after restart the next id is higher than every id given' '
	done_id=$(pacer submit --parsable -J done -D "$WORK" --wrap true) &&
	wait_job_state $done_id COMPLETED &&
	last=$(pacer submit --parsable --hold -J last -D "$WORK" --wrap true) &&
	test $last -gt $done_id &&
	test $last -eq $(max_id) &&
	kill_ctld &&
	restart_ctld &&
	next=$(pacer submit --parsable --hold -J next -D "$WORK" --wrap true) &&
	test $next -gt $last &&
	test "$(row $last)" = "$last last PENDING" &&
	test "$(row $next)" = "$next next PENDING"
'

# The held jobs $last and $next of the test above end here.
test_expect_success 'a job id is never reused when the last job was cancelled' '
	test_when_finished "cancel_jobs $last $next" &&
	cancelled=$(pacer submit --parsable --hold -J cancelled -D "$WORK" --wrap true) &&
	pacer cancel $cancelled &&
	wait_job_state $cancelled CANCELLED &&
	test $cancelled -eq $(max_id) &&
	kill_ctld &&
	restart_ctld &&
	test "$(row $cancelled)" = "$cancelled cancelled CANCELLED" &&
	again=$(pacer submit --parsable --hold -J again -D "$WORK" --wrap true) &&
	test_when_finished "cancel_jobs $again" &&
	test $again -gt $cancelled &&
	pacer cancel $last $next $again &&
	wait_jobs_done $last $next $again
'

test_expect_success 'cancelling a re-adopted running job works after a restart' '
	wait_nodes_idle &&
	id=$(gated_submit cancel-me 0) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	pid=$(waiter_pid cancel-me) &&
	kill_ctld &&
	restart_ctld &&
	test "$(job_state $id)" = RUNNING &&
	test "$(waiter_pid cancel-me)" = $pid &&
	pacer cancel $id &&
	wait_job_state $id CANCELLED &&
	waiter_gone cancel-me &&
	! test -e "$WORK/gate.$MARK-cancel-me" &&
	printf "before %s\n" $id >expect.out &&
	test_cmp expect.out "$WORK/cancel-me.out" &&
	test "$(cpus_alloc node1)" = 0 &&
	test "$(cpus_alloc node2)" = 0
'

# The submitter: one `pacer submit --parsable` after another until load.stop
# exists; each line of load.log is "RC ID-OR-NOTHING".  Each job appends its
# id to load/ran, so a job lost, or run twice, shows there.
load_loop() {
	while [ ! -e load.stop ]; do
		out=$(pacer submit --parsable -D "$WORK/load" \
			--wrap "echo \$PACER_JOB_ID >>'$WORK/load/ran'" 2>>load.err)
		rc=$?
		echo "$rc $out" >>load.log
		[ $rc -eq 0 ] || sleep 0.05
	done
}

acked() { awk '$1 == 0' load.log | wc -l; }
refused() { awk '$1 != 0' load.log | wc -l; }

# wait_count FUNC N: wait until FUNC prints at least N (60 s at most).
wait_count() {
	_i=0
	while [ $($1) -lt $2 ]; do
		[ $_i -lt 600 ] || { echo "$1 stayed at $($1), wanted $2" >&2; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

test_expect_success 'no acknowledged job is lost when the controller is killed mid-stream, three times' '
	mkdir -p "$WORK/load" && : >load.log && : >"$WORK/load/ran" &&
	{ load_loop & } &&
	loop_pid=$! &&
	test_when_finished "touch load.stop; kill $loop_pid 2>/dev/null; true" &&
	for round in 1 2 3; do
		wait_count acked $(($(acked) + 25)) &&
		kill_ctld &&
		wait_count refused $(($(refused) + 1)) &&
		restart_ctld || return 1
	done &&
	wait_count acked $(($(acked) + 25)) &&
	touch load.stop &&
	wait $loop_pid &&
	awk "\$1 == 0 { print \$2 }" load.log >acked.ids &&
	awk "\$1 != 0 && NF > 1" load.log >refused-with-output &&
	test_line_count = 0 refused-with-output &&
	! grep -v "^[0-9][0-9]*$" acked.ids &&
	sort -n acked.ids >sorted.ids &&
	test_cmp acked.ids sorted.ids &&
	sort -n -u acked.ids >unique.ids &&
	test_cmp acked.ids unique.ids &&
	test $(refused) -ge 3 &&
	grep -q "cannot reach controller" load.err &&
	sort acked.ids >acked.lex &&
	pacer queue --all --json | jq -r ".jobs[].id" | sort >known.ids &&
	comm -23 acked.lex known.ids >lost.ids &&
	test_line_count = 0 lost.ids
'

test_expect_success 'every acknowledged job of that stream ran exactly once and COMPLETED' '
	i=0 &&
	while pacer queue --noheader | grep -q .; do
		test $i -lt 600 || { pacer queue; return 1; }
		sleep 0.1 && i=$((i + 1))
	done &&
	sort "$WORK/load/ran" >ran.ids &&
	sort -u "$WORK/load/ran" >ran.unique &&
	test_cmp ran.unique ran.ids &&
	comm -23 acked.lex ran.ids >never-ran.ids &&
	test_line_count = 0 never-ran.ids &&
	for id in $(cat acked.lex); do
		echo "$id COMPLETED"
	done >expect.states &&
	pacer queue --all --json |
		jq -r ".jobs[] | \"\\(.id) \\(.state)\"" | sort >all.states &&
	join expect.states all.states | awk "{ print \$1, \$3 }" >got.states &&
	test_cmp expect.states got.states
'

# sup_pid NODE ID: the pid of job ID's supervisor on NODE.
sup_pid() { cat "$CLUSTER/spool/$1/supervisors/job-$2.pid"; }

test_expect_success 'a node daemon stopped with SIGTERM leaves its job running under its supervisor' '
	id=$(gated_submit node-stop 0) &&
	wait_job_state $id RUNNING &&
	waiter=$(waiter_pid node-stop) &&
	node=$(pacer queue --job $id --format %N --noheader | tr -d " ") &&
	sup=$(sup_pid $node $id) &&
	k=${node#node} &&
	npid=$(noded_pid $k) &&
	kill -TERM $npid &&
	pid_gone $npid &&
	grep "got Terminated: stopping; 1 job keeps running under its supervisor" \
		"$CLUSTER/log/$node.log" &&
	kill -0 $waiter && kill -0 $sup &&
	test "$(job_state $id)" = RUNNING
'

test_expect_success 'restarted, the daemon attaches to it: same processes, and the end is reported' '
	test -n "$node" && ! test -e "$CLUSTER/run/$node.pid" &&
	test_when_finished "cancel_jobs $id" &&
	"$LOCAL_CLUSTER" start "$CLUSTER" $node &&
	wait_nodes_up 2 &&
	node_log_has "job $id: attached to its supervisor (pid $sup)" &&
	test "$(waiter_pid node-stop)" = "$waiter" &&
	test "$(job_state $id)" = RUNNING &&
	open_gate node-stop &&
	wait_job_state $id COMPLETED &&
	printf "before %s\nafter\n" $id >expect.out &&
	test_cmp expect.out "$WORK/node-stop.out" &&
	pid_gone $sup &&
	! test -e "$CLUSTER/spool/$node/supervisors/job-$id.sock" &&
	wait_nodes_idle
'

test_expect_success 'a node daemon killed with SIGKILL while the controller is down: a job that ends meanwhile is reported, one still running goes on' '
	wait_nodes_idle &&
	a=$(gated_submit nk-end 5) &&
	test_when_finished "cancel_jobs $a" &&
	b=$(gated_submit nk-run 7) &&
	test_when_finished "cancel_jobs $b" &&
	wait_job_state $a RUNNING &&
	wait_job_state $b RUNNING &&
	node=$(pacer queue --job $a --format %N --noheader | tr -d " ") &&
	test "$(pacer queue --job $b --format %N --noheader | tr -d " ")" = "$node" &&
	waiter_pid nk-end >/dev/null &&
	running=$(waiter_pid nk-run) &&
	kill_ctld &&
	npid=$(noded_pid ${node#node}) &&
	kill -KILL $npid &&
	pid_gone $npid &&
	open_gate nk-end &&
	node_log_has "pacer-supervisor.*: job $a ended: FAILED, exit code 5," &&
	test -e "$CLUSTER/spool/$node/supervisors/job-$a.sock" &&
	"$LOCAL_CLUSTER" start "$CLUSTER" $node &&
	restart_ctld &&
	wait_job_state $a FAILED &&
	pacer show job $a >show.out &&
	grep "ExitCode=5:0" show.out &&
	test "$(job_state $b)" = RUNNING &&
	test "$(waiter_pid nk-run)" = "$running" &&
	open_gate nk-run &&
	wait_job_state $b FAILED &&
	pacer show job $b >show.out &&
	grep "ExitCode=7:0" show.out &&
	printf "before %s\nafter\n" $b >expect.out &&
	test_cmp expect.out "$WORK/nk-run.out" &&
	wait_nodes_idle
'

test_expect_success 'a supervisor killed with SIGKILL: its job ends NODE_FAIL and nothing of it is left' '
	wait_nodes_idle &&
	id=$(gated_submit sup-kill 0) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	waiter_pid sup-kill >/dev/null &&
	node=$(pacer queue --job $id --format %N --noheader | tr -d " ") &&
	sup=$(sup_pid $node $id) &&
	kill -KILL $sup &&
	wait_job_state $id NODE_FAIL &&
	test "$(reason $id)" = "its supervisor died while the job ran" &&
	waiter_gone sup-kill &&
	wait_nodes_idle
'

test_expect_success 'purged jobs: after a restart that forgets them, ids still go up' '
	sed -i "s/^kill_wait = .*/&\nmin_job_age = 0/" "$PACER_CONF" &&
	grep -x "min_job_age = 0" "$PACER_CONF" &&
	before=$(max_id) &&
	p1=$(pacer submit --parsable -J purge-done -D "$WORK" --wrap true) &&
	wait_job_state $p1 COMPLETED &&
	p2=$(pacer submit --parsable --hold -J purge-cancel -D "$WORK" --wrap true) &&
	pacer cancel $p2 &&
	wait_job_state $p2 CANCELLED &&
	test $p2 -gt $p1 && test $p1 -gt $before &&
	kill_ctld &&
	restart_ctld &&
	test_must_fail pacer show job $p1 &&
	test_must_fail pacer show job $p2 &&
	test "$(max_id)" = 0 &&
	n1=$(pacer submit --parsable --hold -J after-purge -D "$WORK" --wrap true) &&
	test $n1 -gt $p2 &&
	pacer cancel $n1 &&
	wait_job_state $n1 CANCELLED &&
	kill_ctld &&
	restart_ctld &&
	test_must_fail pacer show job $n1 &&
	n2=$(pacer submit --parsable --hold -J after-purge-2 -D "$WORK" --wrap true) &&
	test $n2 -gt $n1 &&
	pacer cancel $n2 &&
	wait_job_done $n2
'

test_stop_cluster

test_expect_success 'no process of any job is left' '
	! pgrep -f "gate[.]$MARK-"
'

test_done
