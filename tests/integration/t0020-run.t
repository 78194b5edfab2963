#!/bin/sh
test_description='pacer run and pacer alloc on a real 2-node cluster: option errors,
an allocation waiting for resources and cancelled by Ctrl-C, and (with the node
side of steps) steps with their output, input, exit codes and aborts, and allocations released with their command'"'"'s exit code or revoked'
. "$(dirname "$0")/lib.sh"


test_expect_success 'setup: 2 nodes of 2 cores, a test user' '
	start_cluster --nodes 2 --topology "pack:1 core:2 pu:1" &&
	wait_nodes_up 2 &&
	ensure_test_user &&
	user_dir ud
'

test_expect_success 'option errors are refused before anything is asked' '
	test_expect_code 2 pacer run 2>nocmd.err &&
	grep "no command to run" nocmd.err &&
	test_must_fail pacer run --mpi=pmi2 true 2>mpi.err &&
	grep -e "--mpi=pmi2 is not supported (use pmix" mpi.err &&
	test_must_fail pacer run --multi-prog true 2>mp.err &&
	grep -e "--multi-prog is not supported yet" mp.err &&
	test_must_fail pacer run -K2 true 2>k.err &&
	grep "give 1 or 0" k.err &&
	test_expect_code 2 pacer alloc --label true 2>label.err &&
	grep "it is a pacer run option" label.err &&
	test_must_fail env PACER_JOB_ID=12x pacer run true 2>env.err &&
	grep "PACER_JOB_ID=.12x. is not a job id" env.err &&
	test_must_fail env PACER_JOB_ID=1 pacer run --mem=1G true 2>mem.err &&
	grep -e "--mem shapes a new allocation and cannot change job 1" mem.err &&
	test "$(pacer queue --all --noheader | wc -l)" = 0
'

test_expect_success 'every option of the help is on the man page too' '
	pacer run --help >run.help &&
	grep -e "--kill-on-bad-exit" run.help &&
	pacer alloc --help >alloc.help &&
	grep -e "--ntasks-per-node" alloc.help &&
	pacer --help | grep -E "^  run +run a parallel step" &&
	pacer --help | grep -E "^  alloc +allocate a job"
'

test_expect_success 'a step in a job that does not exist is refused by the controller' '
	test_must_fail pacer run --jobid 999999 true 2>nojob.err &&
	grep "job 999999 does not exist" nojob.err
'

test_expect_success 'pacer alloc waits for resources and Ctrl-C then cancels its job' '
	BIG=$(pacer submit --parsable -N 2 --exclusive --wrap "sleep 300") &&
	test_when_finished "cancel_jobs $BIG" &&
	wait_job_state $BIG RUNNING &&
	{ "$PACER_BIN" alloc -N 1 true 2>wait.err & } &&
	APID=$! &&
	test_when_finished "kill $APID 2>/dev/null; wait $APID 2>/dev/null; true" &&
	for i in $(seq 100); do
		grep -q "queued and waiting for resources" wait.err && break
		sleep 0.1
	done &&
	grep "pacer alloc: job [0-9]* queued and waiting for resources" wait.err &&
	AJ=$(sed -n "s/.*job \([0-9]*\) queued.*/\1/p" wait.err) &&
	pacer show job $AJ >aj.show &&
	grep "Command=(allocation)" aj.show &&
	pacer show job $AJ --json | jq -e ".spec.alloc_only == true and .state == \"PENDING\"" &&
	kill -INT $APID &&
	wait_job_state $AJ CANCELLED &&
	{ wait $APID; rc=$?; true; } && test $rc = 1 &&
	grep "interrupted: cancelling job $AJ" wait.err
'

test_expect_success 'pacer alloc grants a job and releases it COMPLETED with its command' '
	(cd ud && as_user "$PACER_BIN" alloc -N 2 sh -c "echo \$PACER_JOB_ID \$PACER_NNODES" \
		>"$PWD/../alloc.out" 2>"$PWD/../alloc.err") &&
	read AJ NN <alloc.out && test "$NN" = 2 &&
	grep "pacer alloc: granted job allocation $AJ" alloc.err &&
	wait_job_state $AJ COMPLETED &&
	pacer show job $AJ --json | jq -e ".exit_code == 0"
'

test_expect_success 'a command that fails ends its allocation FAILED with its exit code' '
	test_expect_code 3 pacer alloc -N 1 sh -c "echo \$PACER_JOB_ID; exit 3" >fail.out &&
	AJ=$(cat fail.out) &&
	wait_job_state $AJ FAILED &&
	pacer show job $AJ --json | jq -e ".exit_code == 3"
'

test_expect_success 'a cancelled allocation is revoked: its command gets SIGHUP' '
	pacer alloc -N 1 sh -c "echo \$PACER_JOB_ID >rev.id; exec sleep 300" 2>rev.err &
	APID=$! &&
	test_when_finished "kill $APID 2>/dev/null; wait $APID 2>/dev/null; true" &&
	for i in $(seq 100); do test -s rev.id && break; sleep 0.1; done &&
	AJ=$(cat rev.id) &&
	pacer cancel $AJ &&
	wait_job_state $AJ CANCELLED &&
	{ wait $APID; rc=$?; true; } && test $rc = 129 &&
	grep "job allocation $AJ has been revoked" rev.err
'

test_expect_success 'pacer run outside a job: every node answers, the job ends COMPLETED' '
	pacer run -N 2 -l hostname >host.out 2>host.err &&
	test_line_count = 2 host.out &&
	grep -E "^[01]: " host.out &&
	J=$(pacer queue --all --noheader --format "%i" | tail -1 | tr -d " ") &&
	wait_job_state $J COMPLETED
'

test_expect_success 'pacer run inside pacer alloc starts steps in that job' '
	pacer alloc -N 2 sh -c "pacer run -n 2 -l sh -c \"echo \\\$PACER_JOB_ID\"; \
		echo job \$PACER_JOB_ID" >in.out &&
	AJ=$(sed -n "s/^job //p" in.out) &&
	test "$(grep -c "^[01]: $AJ\$" in.out)" = 2 &&
	pacer queue --steps --all --job $AJ --noheader | grep -E "^ *$AJ\.0 "
'

test_expect_success 'stdin goes to rank 0 only; the exit code is the worst rank'"'"'s' '
	echo hello | pacer run -N 2 -n 2 -l cat >cat.out &&
	test "$(cat cat.out)" = "0: hello" &&
	test_expect_code 7 pacer run -N 2 -n 2 sh -c "exit \$((PACER_PROCID * 7))" \
		2>exit.err &&
	grep "task 1: exited with exit code 7" exit.err
'

test_expect_success '--kill-on-bad-exit and --wait end the other ranks' '
	test_expect_code 2 pacer run -N 2 -n 2 -K \
		sh -c "test \$PACER_PROCID = 0 && exit 2; exec sleep 300" 2>kill.err &&
	grep "ending the step (--kill-on-bad-exit)" kill.err &&
	test_must_fail pacer run -N 2 -n 2 -W 1 \
		sh -c "test \$PACER_PROCID = 0 && exit 0; exec sleep 300" 2>wait.err &&
	grep "ending the remaining tasks (--wait)" wait.err
'

test_expect_success '--output writes one file per rank with %t' '
	pacer run -N 2 -n 2 -o "out-%j.%s-%t" sh -c "echo rank \$PACER_PROCID" &&
	ls out-*.0-0 out-*.0-1 &&
	grep "rank 0" out-*.0-0 && grep "rank 1" out-*.0-1
'

test_expect_success 'MPI_Abort in one rank ends the step on every node with its code' '
	cat >abort.c <<-\EOF &&
	#include <mpi.h>
	#include <unistd.h>
	int main(int argc, char **argv)
	{
		int rank;
		MPI_Init(&argc, &argv);
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
		if (rank == 1)
			MPI_Abort(MPI_COMM_WORLD, 4);
		sleep(300);
		MPI_Finalize();
		return 0;
	}
	EOF
	mpicc -o abort abort.c &&
	test_expect_code 4 pacer run -N 2 -n 2 ./abort 2>abort.err &&
	grep "task 1 aborted with code 4" abort.err
'

test_expect_success 'no job is left running' '
	wait_nodes_idle
'

test_stop_cluster
test_done
