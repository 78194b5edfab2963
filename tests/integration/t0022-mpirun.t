#!/bin/sh
test_description='mpirun inside a batch job (tight integration): a plain mpirun uses the
job'"'"'s hostfile and task count, starts its daemons through pacer-rsh as steps of the
job with the job'"'"'s cores, and cancel, the time limit and MPI_Abort leave no rank and
no orted behind; on a local cluster without --netns, mpirun on one node'
. "$(dirname "$0")/lib.sh"

command -v mpirun >/dev/null && test -x "$PACER_BUILD_DIR/tests/mpi/hello" &&
	test_set_prereq MPI
if ! test_have_prereq MPI; then
	skip_all="needs Open MPI's mpirun and the MPI test programs (build target mpi-hello)"
	test_done
fi

# Whether this machine lets us make what --netns makes (as t0019 checks).
netns_works() {
	command -v ip >/dev/null && command -v unshare >/dev/null &&
		command -v nsenter >/dev/null || return 1
	unshare --uts true 2>/dev/null || return 1
	_ns=pcl-probe-$$
	ip netns add $_ns 2>/dev/null || return 1
	ip -n $_ns link add br0 type bridge 2>/dev/null &&
		ip -n $_ns link add va type veth peer name vb 2>/dev/null &&
		ip -n $_ns link set va master br0 2>/dev/null
	_rc=$?
	ip netns del $_ns
	return $_rc
}
test "$(id -u)" = 0 && netns_works && test_set_prereq NETNS
/usr/bin/python3 -c "import mpi4py" 2>/dev/null && test_set_prereq MPI4PY

# The MPI programs where the test user can run them; ABORT and the marker
# names carry this script's pid, so that pgrep finds ours only.
setup_programs() {
	ensure_test_user &&
	user_dir ud &&
	for p in hello allreduce ring; do
		cp "$PACER_BUILD_DIR/tests/mpi/$p" ud/ || return 1
	done &&
	cp "$PACER_BUILD_DIR/tests/mpi/abort" "ud/abort.$MARK" &&
	chmod 0755 ud/*
}

# job_script NAME COMMAND...: a batch script in ud that execs COMMAND.
job_script() {
	_n=$1
	shift
	printf '#!/bin/sh\nexec %s\n' "$*" >"ud/$_n" && chmod 0755 "ud/$_n"
}

# orteds of job ID (their command line names its hostfile, which is this
# cluster's).
orteds_of() { pgrep -f "^[^ ]*orted .*$CLUSTER/spool/node[0-9]*/job\\.$1\\.d/hostfile"; }
wait_orteds_gone() { wait_gone "orteds of job $1" orteds_of "$1"; }

# wait_gone WHAT COMMAND...: until COMMAND (a pgrep) finds nothing, 20 s.
wait_gone() {
	_what=$1
	shift
	_i=0
	while [ -n "$("$@")" ]; do
		[ $_i -lt 200 ] || {
			echo "$_what still there:" >&2
			ps -o pid,args -p "$("$@" | tr "\n" ,)0" >&2
			return 1
		}
		sleep 0.1
		_i=$((_i + 1))
	done
}
aborts() { pgrep -f "abort\\.$MARK"; }

# --- a local cluster without --netns: its nodes share this host --------------

test_expect_success 'plain cluster: 2 nodes of 2 cores, the MPI programs' '
	start_cluster --nodes 2 --topology "pack:1 core:2 pu:1" &&
	wait_nodes_up 2 &&
	setup_programs
'

test_expect_success 'plain cluster: mpirun with no flags runs the job'"'"'s 2 tasks on its node' '
	job_script hello1.sh mpirun ./hello &&
	id=$(cd ud && submit_as_user -N 1 -n 2 -o "$PWD/hello1.out" hello1.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id 60 &&
	test "$(job_state $id)" = COMPLETED &&
	grep "^hello " ud/hello1.out | sort >hello1.lines &&
	test_line_count = 2 hello1.lines &&
	test "$(sed -n "s/.* rank=\([0-9]*\) .*/\1/p" hello1.lines | sort -n | tr "\n" " ")" = "0 1 " &&
	! grep -v " size=2 " hello1.lines
'

test_expect_success 'plain cluster: across nodes mpirun fails, saying why' '
	id=$(cd ud && submit_as_user -N 2 -n 4 -o "$PWD/hello2.out" hello1.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id 60 &&
	test "$(job_state $id)" = FAILED &&
	grep "pacer-rsh: node node2 has no address here, so it is no host of its own" \
		ud/hello2.out &&
	! grep "^hello " ud/hello2.out &&
	wait_orteds_gone $id
'

test_expect_success 'plain cluster: stop it' '
	wait_nodes_idle &&
	stop_cluster &&
	rm -rf "$CLUSTER"
'

# --- every node a host of its own ---------------------------------------------

if ! test_have_prereq NETNS; then
	skip_all="the rest needs --netns (root, network namespaces with bridges and veths)"
	test_done
fi

test_expect_success NETNS 'netns cluster: 4 nodes of 2 cores' '
	start_cluster --netns --nodes 4 --topology "pack:1 core:2 pu:1" &&
	wait_nodes_up 4
'

test_expect_success NETNS 'the hostfile names every node with its tasks; its folder goes with the job' '
	id=$(cd ud && submit_as_user -N 4 -n 8 -o "$PWD/hf.out" \
		--wrap "cat \"\$PACER_HOSTFILE\"; echo file=\$PACER_HOSTFILE; echo agent=\$OMPI_MCA_plm_rsh_agent; env | grep ^OMPI_ALLOW; true") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id &&
	test "$(job_state $id)" = COMPLETED &&
	printf "node%d slots=2\n" 1 2 3 4 >expect &&
	grep slots= ud/hf.out >got &&
	test_cmp expect got &&
	grep "^agent=.*/pacer-rsh$" ud/hf.out &&
	! grep OMPI_ALLOW ud/hf.out &&
	f=$(sed -n "s/^file=//p" ud/hf.out) &&
	test -n "$f" && ! test -e "$f" && ! test -e "$(dirname "$f")"
'

test_expect_success NETNS 'a plain mpirun: 8 ranks on 4 hosts, remote ones with the job'"'"'s cores there' '
	job_script hello.sh mpirun ./hello &&
	id=$(cd ud && submit_as_user -N 4 -n 8 -o "$PWD/hello.out" hello.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id 60 &&
	test "$(job_state $id)" = COMPLETED &&
	grep "^hello " ud/hello.out >hello.lines &&
	test_line_count = 8 hello.lines &&
	test "$(sed -n "s/.* rank=\([0-9]*\) .*/\1/p" hello.lines | sort -n | tr "\n" " ")" = \
		"0 1 2 3 4 5 6 7 " &&
	! grep -v " size=8 " hello.lines &&
	sed -n "s/.* host=\([^ ]*\) .*/\1/p" hello.lines | sort | uniq -c >hosts &&
	test_line_count = 4 hosts &&
	for i in 1 2 3 4; do grep -x " *2 node$i" hosts || return 1; done &&
	# each node has 2 cores, both the job'"'"'s: a rank started by an orted
	# bound to one task'"'"'s CPU would see one
	! grep -E "host=node[2-4] " hello.lines | grep -v " cpus=0-1$" &&
	# the daemons were steps of the job, one on each other node, each with
	# every CPU the job has there
	pacer queue --steps --all --job $id --json >steps.json &&
	jq -r ".steps[] | select(.name == \"orted\") | \"\(.nodelist) \(.ntasks) \(.alloc[0].cpuset)\"" \
		steps.json | sort >orted.steps &&
	printf "node%d 1 0-1\n" 2 3 4 >expect && test_cmp expect orted.steps &&
	# an orted still exiting when mpirun returned and the script ended
	# ends with the job (CANCELLED, "the job ended"): both are fine
	jq -r ".steps[] | select(.name == \"orted\") | .state" steps.json >orted.states &&
	test_line_count = 3 orted.states &&
	{ grep -v -x -E "COMPLETED|CANCELLED" orted.states >bad.states || true; } &&
	test_line_count = 0 bad.states
'

test_expect_success NETNS 'allreduce and ring across the 4 hosts' '
	job_script allreduce.sh mpirun ./allreduce &&
	job_script ring.sh mpirun ./ring &&
	a=$(cd ud && submit_as_user -N 4 -n 8 -o "$PWD/allreduce.out" allreduce.sh) &&
	r=$(cd ud && submit_as_user -N 4 -n 8 -o "$PWD/ring.out" ring.sh) &&
	test_when_finished "cancel_jobs $a $r" &&
	wait_job_done $a 60 && wait_job_done $r 60 &&
	test "$(job_state $a)" = COMPLETED && test "$(job_state $r)" = COMPLETED &&
	test "$(grep -c "^allreduce rank=[0-7] size=8 sum=36$" ud/allreduce.out)" = 8 &&
	grep -x "ring rank=0 size=8 back=28" ud/ring.out &&
	test "$(grep -c "^ring rank=[1-7] size=8 got=" ud/ring.out)" = 7
'

test_expect_success NETNS 'a job of root'"'"'s runs mpirun too' '
	job_script root.sh mpirun ./allreduce &&
	id=$(cd ud && pacer submit --parsable -N 2 -n 4 -o "$PWD/root.out" root.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id 60 &&
	test "$(job_state $id)" = COMPLETED &&
	test "$(grep -c "^allreduce rank=[0-3] size=4 sum=10$" ud/root.out)" = 4
'

test_expect_success NETNS 'MPI_Abort: the job ends FAILED with its code, no rank or orted left' '
	job_script abort.sh mpirun ./abort.$MARK &&
	id=$(cd ud && submit_as_user -N 4 -n 8 -o "$PWD/abort.out" abort.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id 60 &&
	test "$(job_state $id)" = FAILED &&
	pacer show job $id --json | jq -e ".exit_code == 3" &&
	test "$(grep -c "^abort rank=[0-7] size=8$" ud/abort.out)" = 8 &&
	wait_orteds_gone $id &&
	wait_gone "ranks of job $id" aborts
'

test_expect_success NETNS,MPI4PY 'mpi4py: python ranks on every host' '
	job_script py.sh mpirun /usr/bin/python3 -m mpi4py.bench helloworld &&
	id=$(cd ud && submit_as_user -N 4 -n 8 -o "$PWD/py.out" py.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id 60 &&
	test "$(job_state $id)" = COMPLETED &&
	grep "^Hello, World! I am process" ud/py.out >py.lines &&
	test_line_count = 8 py.lines &&
	sed -n "s/.*process \([0-9]*\) of 8 on \(node[1-4]\)\.$/\1 \2/p" py.lines >py.ranks &&
	test_line_count = 8 py.ranks &&
	test "$(cut -d" " -f1 py.ranks | sort -n | tr "\n" " ")" = "0 1 2 3 4 5 6 7 " &&
	test "$(cut -d" " -f2 py.ranks | sort -u | wc -l)" = 4
'

# start_sleepers N [SUBMIT OPTIONS]: a job of 8 ranks on 4 hosts that sleep
# (marker suffix N, a digit); its id, once every rank and orted runs.
start_sleepers() {
	job_script "sleep$1.sh" mpirun sleep "300.$MARK$1" &&
	_n=$1 && shift &&
	_id=$(cd ud && submit_as_user -N 4 -n 8 -o "$PWD/sleep$_n.out" "$@" "sleep$_n.sh") &&
	wait_procs "$_n" 8 >&2 &&
	_i=0 &&
	while [ "$(orteds_of $_id | wc -l)" != 3 ]; do
		[ $_i -lt 200 ] || { echo "job $_id: not 3 orteds" >&2; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done &&
	echo $_id
}

test_expect_success NETNS 'cancel of a running mpirun job: every rank and orted on every node goes' '
	id=$(start_sleepers 1) &&
	test_when_finished "cancel_jobs $id" &&
	pacer cancel $id &&
	wait_job_state $id CANCELLED &&
	wait_procs 1 0 &&
	wait_orteds_gone $id &&
	pacer queue --steps --all --job $id --json >steps.json &&
	jq -r ".steps[] | select(.name == \"orted\") | .state" steps.json >orted.states &&
	printf "CANCELLED\nCANCELLED\nCANCELLED\n" >expect && test_cmp expect orted.states
'

test_expect_success NETNS 'the time limit ends a running mpirun job the same way' '
	id=$(start_sleepers 2 -t 0:05) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id TIMEOUT 60 &&
	wait_procs 2 0 &&
	wait_orteds_gone $id
'

test_expect_success NETNS 'pacer-rsh refuses a node outside the job, and works only in a job' '
	job_script rsh.sh "$PACER_BUILD_DIR/cli/pacer-rsh" node4 true &&
	id=$(cd ud && submit_as_user -N 1 -w node1 -o "$PWD/rsh.out" rsh.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id &&
	test "$(job_state $id)" = FAILED &&
	grep "node node4 of --nodelist is not one of job $id" ud/rsh.out &&
	test_expect_code 1 env -u PACER_JOB_ID "$PACER_BUILD_DIR/cli/pacer-rsh" node1 true \
		2>nojob.err &&
	grep "not inside a Pacer job" nojob.err &&
	test_expect_code 2 "$PACER_BUILD_DIR/cli/pacer-rsh" "node[1-2]" true 2>bad.err &&
	grep "is not a node name" bad.err
'

test_expect_success NETNS 'no job is left running' '
	wait_nodes_idle
'

test_stop_cluster
test_done
