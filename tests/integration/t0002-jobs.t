#!/bin/sh
test_description='batch jobs on a real 4-node cluster: user, groups, folders, output
files, environment, directives, arguments, exit codes, leftover processes, finished
jobs, multi-node allocations and jobs waiting for resources'
. "$(dirname "$0")/lib.sh"

# Each node offers 2 CPUs whatever this machine has: 8 in all.
NODE_CPUS=2
TOTAL_CPUS=8


# The test user in a supplementary group "pacertestg".  Other test scripts
# may edit /etc/group at the same time (its lock then fails): try again.
add_extra_group() {
	i=0
	while [ $i -lt 50 ]; do
		getent group pacertestg >/dev/null || groupadd -f pacertestg
		id -Gn "$TEST_USER" | tr " " "\n" | grep -qx pacertestg && return 0
		usermod -aG pacertestg "$TEST_USER"
		sleep 0.1
		i=$((i + 1))
	done
	echo "cannot add $TEST_USER to group pacertestg" >&2
	return 1
}

# A script that waits (at most a minute) until the test creates go-<job id>.
cat >wait-go.sh <<'EOF'
#!/bin/sh
i=0
while [ ! -e "go-$PACER_JOB_ID" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
EOF

test_expect_success 'setup: a 4-node cluster and a test user with an extra group' '
	start_cluster --nodes 4 --cpus $NODE_CPUS &&
	pacer nodes --noheader >nodes.out &&
	test_line_count = 4 nodes.out &&
	ensure_test_user &&
	add_extra_group &&
	user_dir work &&
	user_dir other &&
	WORK=$(cd work && pwd -P) &&
	OTHER=$(cd other && pwd -P) &&
	cp wait-go.sh work/ && chmod 0755 work/wait-go.sh
'

test_expect_success 'a script file runs as the submitting user, with every group' '
	cat >work/ids.sh <<-\EOF &&
	#!/bin/sh
	id -u
	id -g
	id -G | tr " " "\n" | sort -n | tr "\n" " "; echo
	pwd -P
	EOF
	chmod 0755 work/ids.sh &&
	{
		as_user id -u &&
		as_user id -g &&
		{ as_user id -G | tr " " "\n" | sort -n | tr "\n" " "; echo; } &&
		echo "$WORK"
	} >expect &&
	extra=$(getent group pacertestg | cut -d: -f3) &&
	as_user id -G | tr " " "\n" | grep -x "$extra" &&
	test "$(as_user id -u)" != 0 &&
	id=$(cd work && submit_as_user ids.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	test_cmp expect work/pacer-$id.out
'

test_expect_success 'its output file belongs to the user' '
	test "$(stat -c %U work/pacer-$id.out)" = "$TEST_USER" &&
	test "$(stat -c %G work/pacer-$id.out)" = "$(id -gn "$TEST_USER")"
'

test_expect_success 'pacer show job reports the user, in text and JSON' '
	uid=$(id -u "$TEST_USER") && gid=$(id -g "$TEST_USER") &&
	test "$(show_field $id UserId)" = "$TEST_USER($uid)" &&
	test "$(show_field $id WorkDir)" = "$WORK" &&
	test "$(show_field $id SubmitDir)" = "$WORK" &&
	test "$(show_field $id NumNodes)" = 1 &&
	pacer show job $id --json >job.json &&
	grep -x "  \"user\": \"$TEST_USER\"," job.json &&
	grep -x "  \"uid\": $uid," job.json &&
	grep -x "  \"gid\": $gid," job.json &&
	pacer queue --job $id --format "%u" --noheader >user.out &&
	echo "$TEST_USER" >expect &&
	test_cmp expect user.out
'

test_expect_success '-D runs the job in another folder, output included' '
	id=$(cd work && submit_as_user -D ../other ids.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	test ! -e work/pacer-$id.out &&
	sed -n 4p other/pacer-$id.out >pwd.out &&
	echo "$OTHER" >expect &&
	test_cmp expect pwd.out &&
	test "$(show_field $id WorkDir)" = "$WORK/../other" &&
	test "$(show_field $id SubmitDir)" = "$WORK"
'

cat >outerr.sh <<'EOF'
#!/bin/sh
echo to-out
echo to-err >&2
EOF

test_expect_success '-o with %j %x %u %N names the output file' '
	cp outerr.sh work/ &&
	id=$(cd work && submit_as_user -J pat -o "out-%j-%x-%u-%N.txt" outerr.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	node=$(pacer queue --job $id --format "%N" --noheader | tr -d " ") &&
	expr "$node" : "node[1-4]\$" &&
	file="work/out-$id-pat-$TEST_USER-$node.txt" &&
	printf "to-out\nto-err\n" >expect &&
	test_cmp expect "$file" &&
	test "$(show_field $id StdOut)" = "$WORK/out-$id-pat-$TEST_USER-$node.txt" &&
	test "$(show_field $id StdErr)" = "$WORK/out-$id-pat-$TEST_USER-$node.txt"
'

test_expect_success '-e sends stderr to its own file' '
	id=$(cd work && submit_as_user -o "o-%j.txt" -e "e-%j.txt" outerr.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	echo to-out >expect.out && echo to-err >expect.err &&
	test_cmp expect.out work/o-$id.txt &&
	test_cmp expect.err work/e-$id.txt &&
	test "$(stat -c %U work/e-$id.txt)" = "$TEST_USER" &&
	test "$(show_field $id StdErr)" = "$WORK/e-$id.txt"
'

test_expect_success 'by default stdout and stderr both go to pacer-%j.out' '
	id=$(cd work && submit_as_user outerr.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	printf "to-out\nto-err\n" >expect &&
	test_cmp expect work/pacer-$id.out &&
	test "$(show_field $id StdOut)" = "$WORK/pacer-$id.out" &&
	test "$(show_field $id StdErr)" = "$WORK/pacer-$id.out"
'

cat >env.sh <<'EOF'
#!/bin/sh
for v in PACER_JOB_ID PACER_JOB_NAME PACER_NODELIST PACER_NNODES PACER_NTASKS \
	 PACER_CPUS_ON_NODE PACER_SUBMIT_DIR PACER_NODENAME; do
	eval "echo $v=\${$v-unset}"
done
echo "PACERTEST_VAR=${PACERTEST_VAR-unset}"
echo "FOO=${FOO-unset}"
EOF

# alloc_cpus ID NODE: the CPUs job ID holds on NODE, from pacer show job.
alloc_cpus() {
	show_field "$1" Alloc | tr ',' '\n' | tr -d ')' |
		sed -n "s/^$2(cpus=//p"
}

test_expect_success 'the job environment: -N 2 -n 3 gives 2 nodes, 3 tasks' '
	cp env.sh work/ &&
	id=$(cd work && PACERTEST_VAR=from-submit submit_as_user -J envjob -N 2 -n 3 env.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	nodelist=$(show_field $id NodeList) &&
	expr "$nodelist" : "node\\[[1-4][-,][1-4]\\]\$" &&
	first=$(echo "$nodelist" | sed "s/^node\\[\\([1-4]\\).*/node\\1/") &&
	test "$(show_field $id NumNodes)" = 2 &&
	cpus=$(alloc_cpus $id $first) &&
	test "$cpus" -ge 1 && test "$cpus" -le $NODE_CPUS &&
	cat >expect <<-EOF &&
	PACER_JOB_ID=$id
	PACER_JOB_NAME=envjob
	PACER_NODELIST=$nodelist
	PACER_NNODES=2
	PACER_NTASKS=3
	PACER_CPUS_ON_NODE=$cpus
	PACER_SUBMIT_DIR=$WORK
	PACER_NODENAME=$first
	PACERTEST_VAR=from-submit
	FOO=unset
	EOF
	test_cmp expect work/pacer-$id.out
'

test_expect_success 'on one node, PACER_CPUS_ON_NODE is the CPUs it holds' '
	id=$(cd work && submit_as_user -n $NODE_CPUS env.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	grep -x "PACER_NNODES=1" work/pacer-$id.out &&
	grep -x "PACER_NTASKS=$NODE_CPUS" work/pacer-$id.out &&
	grep -x "PACER_CPUS_ON_NODE=$NODE_CPUS" work/pacer-$id.out &&
	grep -x "PACER_JOB_NAME=env.sh" work/pacer-$id.out
'

test_expect_success '--export=NONE drops the user variables, not PACER_*' '
	id=$(cd work && PACERTEST_VAR=from-submit submit_as_user --export=NONE env.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	grep -x "PACERTEST_VAR=unset" work/pacer-$id.out &&
	grep -x "PACER_JOB_ID=$id" work/pacer-$id.out &&
	grep -x "PACER_SUBMIT_DIR=$WORK" work/pacer-$id.out
'

test_expect_success '--export=ALL,FOO=bar adds FOO and keeps the rest' '
	id=$(cd work && PACERTEST_VAR=from-submit FOO=other submit_as_user --export=ALL,FOO=bar env.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	grep -x "PACERTEST_VAR=from-submit" work/pacer-$id.out &&
	grep -x "FOO=bar" work/pacer-$id.out
'

test_expect_success '#SBATCH and #PACER directives set name, output, limit and nodes' '
	cat >work/directives.sh <<-\EOF &&
	#!/bin/sh

	#SBATCH -J dirjob
	# an ordinary comment
	#PACER -o dir-%j.out
	#SBATCH -t 5:00
	#PACER -N 2
	echo "$PACER_JOB_NAME $PACER_NNODES"
	EOF
	id=$(cd work && submit_as_user directives.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	echo "dirjob 2" >expect &&
	test_cmp expect work/dir-$id.out &&
	test ! -e work/pacer-$id.out &&
	test "$(show_field $id JobName)" = dirjob &&
	test "$(show_field $id TimeLimit)" = 5:00 &&
	test "$(show_field $id NumNodes)" = 2
'

test_expect_success 'the command line wins over a directive' '
	id=$(cd work && submit_as_user -J cmdline -t 7:00 -N 1 directives.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	echo "cmdline 1" >expect &&
	test_cmp expect work/dir-$id.out &&
	test "$(show_field $id TimeLimit)" = 7:00
'

test_expect_success 'directives stop at the first command' '
	cat >work/late.sh <<-\EOF &&
	#!/bin/sh
	#SBATCH -t 3:00
	echo "$PACER_JOB_NAME"
	#SBATCH -J late-name
	#PACER -o late-%j.out
	EOF
	id=$(cd work && submit_as_user late.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	echo late.sh >expect &&
	test_cmp expect work/pacer-$id.out &&
	test ! -e work/late-$id.out &&
	test "$(show_field $id JobName)" = late.sh &&
	test "$(show_field $id TimeLimit)" = 3:00
'

test_expect_success 'a script on standard input, its directives read' '
	printf "#!/bin/sh\n#SBATCH -J fromstdin\necho \"stdin \$PACER_JOB_NAME\"; id -un\n" >stdin.sh &&
	id=$(cd work && submit_as_user <../stdin.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	printf "stdin fromstdin\n%s\n" "$TEST_USER" >expect &&
	test_cmp expect work/pacer-$id.out
'

test_expect_success 'script arguments reach $1 $2 untouched' '
	cat >work/args.sh <<-\EOF &&
	#!/bin/sh
	echo "$#"
	printf "[%s]\n" "$@"
	EOF
	id=$(cd work && submit_as_user args.sh one "two  words" "*") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	printf "3\n[one]\n[two  words]\n[*]\n" >expect &&
	test_cmp expect work/pacer-$id.out
'

# ctld/rpc.c do_queue used to leave the arguments out of show job's reply:
# Args=(null) for every job.
test_expect_success 'pacer show job lists the script arguments' '
	test "$(pacer show job $id | sed -n "s/^ *Args=//p")" = "one two  words *"
'

test_expect_success '--wrap runs a command line as the user' '
	id=$(cd work && submit_as_user --wrap "echo wrapped \"\$PACER_JOB_NAME\"; id -un") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	printf "wrapped wrap\n%s\n" "$TEST_USER" >expect &&
	test_cmp expect work/pacer-$id.out
'

test_expect_success 'exit 0: COMPLETED, exit code 0' '
	id=$(cd work && submit_as_user --wrap "exit 0") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id COMPLETED &&
	test "$(show_field $id ExitCode)" = 0:0 &&
	pacer show job $id --json >job.json &&
	grep -x "  \"state\": \"COMPLETED\"," job.json &&
	grep -x "  \"exit_code\": 0," job.json &&
	grep -x "  \"term_signal\": null," job.json
'

test_expect_success 'exit 3: FAILED, exit code 3 in show job and --json' '
	id=$(cd work && submit_as_user --wrap "exit 3") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id FAILED &&
	test "$(show_field $id ExitCode)" = 3:0 &&
	pacer show job $id --json >job.json &&
	grep -x "  \"state\": \"FAILED\"," job.json &&
	grep -x "  \"exit_code\": 3," job.json &&
	grep -x "  \"term_signal\": null," job.json
'

test_expect_success 'a script killed by SIGUSR1: FAILED, the signal reported' '
	id=$(cd work && submit_as_user --wrap "kill -USR1 \$\$; sleep 5") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id FAILED &&
	test "$(show_field $id ExitCode)" = 0:10 &&
	pacer show job $id >show.out &&
	grep -F "Reason=killed by signal 10" show.out &&
	pacer show job $id --json >job.json &&
	grep -x "  \"exit_code\": null," job.json &&
	grep -x "  \"term_signal\": 10," job.json
'

test_expect_success 'a script killed by SIGKILL: FAILED, signal 9' '
	id=$(cd work && submit_as_user --wrap "kill -9 \$\$; sleep 5") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id FAILED &&
	test "$(show_field $id ExitCode)" = 0:9 &&
	pacer show job $id --json >job.json &&
	grep -x "  \"term_signal\": 9," job.json
'

test_expect_success 'processes a job leaves behind end with it' '
	cat >work/leave.sh <<-EOF &&
	#!/bin/sh
	sleep 300.${MARK}1 &
	(setsid sleep 300.${MARK}2 &) &
	EOF
	cat work/wait-go.sh | sed 1d >>work/leave.sh &&
	id=$(cd work && submit_as_user leave.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	wait_procs 1 1 && wait_procs 2 1 &&
	test "$(ps -o user= -p $(marker_procs 2))" = "$TEST_USER" &&
	test "$(ps -o sid= -p $(marker_procs 2))" -eq "$(marker_procs 2)" &&
	touch work/go-$id &&
	wait_job_state $id COMPLETED &&
	test_must_fail marker_procs 1 &&
	test_must_fail marker_procs 2
'

test_expect_success 'finished jobs: not in pacer queue, in --all and show job' '
	pacer queue --noheader --format "%i" >queue.out &&
	test_must_fail grep -x " *$id" queue.out &&
	pacer queue --all --noheader --format "%i %T" >all.out &&
	grep -x " *$id COMPLETED" all.out &&
	test "$(show_field $id JobState)" = COMPLETED
'

test_expect_success '-N 2 -n 4 allocates 2 whole nodes while it runs' '
	wait_nodes_idle &&
	id=$(cd work && submit_as_user -N 2 -n 4 wait-go.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	pacer show job $id --json >job.json &&
	sed -n "s/^      \"node\": \"\\(.*\\)\",\$/\\1/p" job.json | sort >alloc.nodes &&
	test_line_count = 2 alloc.nodes &&
	grep -c -x "      \"cpus\": $NODE_CPUS," job.json >ncpus &&
	echo 2 >expect && test_cmp expect ncpus &&
	pacer nodes --noheader >nodes.out &&
	awk -v c="$NODE_CPUS/$NODE_CPUS" "\$3 == c { print \$1 }" nodes.out | sort >busy.nodes &&
	test_cmp alloc.nodes busy.nodes &&
	awk -v c="0/$NODE_CPUS" "\$3 == c" nodes.out >idle.nodes &&
	test_line_count = 2 idle.nodes &&
	touch work/go-$id &&
	wait_job_state $id COMPLETED &&
	pacer nodes --noheader >nodes.out &&
	awk -v c="0/$NODE_CPUS" "\$3 == c" nodes.out >idle.nodes &&
	test_line_count = 4 idle.nodes
'

test_expect_success 'jobs beyond the cluster wait PENDING, then start as others end' '
	wait_nodes_idle &&
	runners= p1= p2= &&
	test_when_finished "cancel_jobs \$runners \$p1 \$p2" &&
	for i in $(seq $TOTAL_CPUS); do
		runners="$runners $(cd work && submit_as_user wait-go.sh)" || return 1
	done &&
	for r in $runners; do wait_job_state $r RUNNING || return 1; done &&
	p1=$(cd work && submit_as_user wait-go.sh) &&
	p2=$(cd work && submit_as_user wait-go.sh) &&
	wait_job_state $p1 PENDING && wait_job_state $p2 PENDING &&
	pacer queue --job $p1,$p2 --noheader --format "%i %T %r" >pending.out &&
	cat >expect <<-EOF &&
	$p1 PENDING Resources
	$p2 PENDING Priority
	EOF
	test_cmp expect pending.out &&
	first=$(echo $runners | cut -d" " -f1) &&
	rest=$(echo $runners | cut -d" " -f2-) &&
	touch work/go-$first &&
	wait_job_state $first COMPLETED &&
	wait_job_state $p1 RUNNING &&
	test "$(job_state $p2)" = PENDING &&
	pacer cancel $rest $p1 $p2 &&
	for j in $rest $p1 $p2; do
		wait_job_state $j CANCELLED || return 1
	done &&
	pacer queue --noheader >queue.out &&
	test_line_count = 0 queue.out
'

# This sharness runs the cleanups only when every test passed: stop the
# cluster here too, so that a failing run leaves nothing behind.  Daemons
# built with -DPACER_SANITIZE=ON write their reports to log/*.out.
test_stop_cluster
test_done
