#!/bin/sh
test_description='binding and confinement on 2 emulated 16-PU nodes (4 packages, 2 cores,
2 threads): the controller'"'"'s cpuset and the real binding agree through the mapping
rule, PACER_* variables, --cpu-bind=verbose, none and map_cpu, and a job over --mem
killed as OUT_OF_MEMORY where the memory cgroup controller is usable'
. "$(dirname "$0")/lib.sh"

TOPO=$PACER_SRC_DIR/tests/topologies/16em64t-4s2c2t.xml

# jq FIELD of job ID's full record.
job_field() { pacer show job "$1" --json | jq -r ".$2"; }

# A CPU list ("0-2,8") as one number a line, sorted, no duplicates.
expand_list() {
	echo "$1" | tr ',' '\n' | awk -F- 'NF == 1 && $1 != "" { print $1 }
		NF == 2 { for (i = $1; i <= $2; i++) print i }' | sort -n -u
}

# This machine's PUs, os indexes in hwloc's logical order, as the daemons
# see them (lstopo, not our code).
lstopo-no-graphics -p --only pu | sed 's/.*P#//' >real-pus
NREAL=$(wc -l <real-pus)

# The mapping rule: emulated PU i runs on real PU (i mod NREAL) by logical
# index.  Prints the real os indexes of the emulated list $1, one a line.
map_cpus() {
	expand_list "$1" | while read -r i; do
		sed -n "$((i % NREAL + 1))p" real-pus
	done | sort -n -u
}

# A set of CPUs (one a line, on stdin) as taskset prints a mask: hex.
to_mask() { awk '{ m += 2 ^ $1 } END { printf "%x\n", m }'; }

# The job's own view of itself.  The verbose line names the batch script's
# pid: --wrap "exec ./report.sh" keeps it.
cat >report.sh <<'EOF'
#!/bin/sh
echo "pid $$"
grep Cpus_allowed_list: /proc/$$/status | cut -f2
taskset -p $$ | sed 's/.*: //'
env | grep -E '^(PACER_|CUDA_VISIBLE_DEVICES=)' | LC_ALL=C sort
EOF

test_expect_success 'setup: 2 nodes emulating a 4-package box with 2 GPUs each' '
	test -r "$TOPO" &&
	test "$NREAL" -ge 1 &&
	start_cluster --nodes 2 --topology "$TOPO" --gpus 2 &&
	ensure_test_user &&
	user_dir work &&
	cp report.sh work/ && chmod 0755 work/report.sh &&
	pacer nodes --json | jq -e "[.nodes[] | select(.cpus == 16)] | length == 2" &&
	grep -F "topology $TOPO: 4 packages" "$CLUSTER/log/node1.log" &&
	grep -F "emulated node: jobs are bound to this machine" "$CLUSTER/log/node1.log"
'

# What the node daemons said at start about confinement.
if grep -q "confining jobs with .*memory" "$CLUSTER/log/node1.log" 2>/dev/null; then
	test_set_prereq MEMCG
fi
if grep -q "confining jobs with .*cpuset" "$CLUSTER/log/node1.log" 2>/dev/null; then
	test_set_prereq CPUSETCG
fi
test_have_prereq MEMCG ||
	echo "# no usable memory cgroup controller here: the OUT_OF_MEMORY tests are skipped"

# Every job is submitted at once, so the test waits for the scheduler once,
# not once per job; each test below then checks one of them.  Ids go to
# FILE.id.
submit() {
	name=$1
	shift
	(cd work && submit_as_user "$@") >$name.id
}

test_expect_success 'submit the jobs' '
	submit plain -n 1 --wrap ./report.sh &&
	submit env -n 2 -c 2 --mem=200M --gpus-per-node=1 --wrap ./report.sh &&
	submit array --array=3-4 -o "arr-%A_%a.out" --wrap "./report.sh; echo end" &&
	submit verbose -n 1 --cpu-bind=verbose -e err-%j.txt --wrap "exec ./report.sh" &&
	submit none -n 1 --cpu-bind=none,verbose -e err-%j.txt --wrap "exec ./report.sh" &&
	submit badmap -n 1 --cpu-bind=map_cpu:99 --wrap ./report.sh &&
	if test_have_prereq MEMCG
	then
		submit oom --mem=100M --wrap "exec dd if=/dev/zero of=/dev/null bs=300M count=1" &&
		submit fits --mem=100M --wrap "dd if=/dev/zero of=/dev/null bs=20M count=2"
	fi &&
	submit map --exclusive --cpu-bind=map_cpu:13,2 --wrap ./report.sh
'

test_expect_success 'a 1-core job: its real binding is the controller cpuset, mapped' '
	id=$(cat plain.id) &&
	wait_job_state $id COMPLETED 120 &&
	cpuset=$(job_field $id "alloc[0].cpuset") &&
	test -n "$cpuset" && test "$cpuset" != null &&
	map_cpus "$cpuset" >expect &&
	expand_list "$(sed -n 2p work/pacer-$id.out)" >got &&
	test_cmp expect got &&
	to_mask <expect >expect.mask &&
	sed -n 3p work/pacer-$id.out >got.mask &&
	test_cmp expect.mask got.mask &&
	grep -x "PACER_JOB_CPUS=$cpuset" work/pacer-$id.out
'

test_expect_success 'the controller gave whole cores of one package' '
	expand_list "$cpuset" >cpus &&
	test_line_count = 2 cpus
'

test_expect_success 'PACER_* variables describe the job and its share of the node' '
	id=$(cat env.id) &&
	wait_job_state $id COMPLETED 120 &&
	out=work/pacer-$id.out &&
	grep -x "PACER_JOB_ID=$id" $out &&
	grep -x "PACER_NTASKS=2" $out &&
	grep -x "PACER_NNODES=1" $out &&
	grep -x "PACER_CPUS_PER_TASK=2" $out &&
	grep -x "PACER_CPUS_ON_NODE=$(job_field $id "alloc[0].cpus")" $out &&
	grep -x "PACER_JOB_CPUS=$(job_field $id "alloc[0].cpuset")" $out &&
	grep -x "PACER_MEM_PER_NODE=200" $out &&
	grep -x "PACER_GPUS=1" $out &&
	grep -x "CUDA_VISIBLE_DEVICES=$(job_field $id "alloc[0].gpus[0]")" $out &&
	grep -x "PACER_NODENAME=$(job_field $id "alloc[0].node")" $out &&
	test_must_fail grep "^PACER_ARRAY_" $out
'

test_expect_success 'array tasks learn their array and task ids' '
	a=$(cat array.id) &&
	for t in 3 4; do
		i=0
		while ! grep -qx end work/arr-${a}_$t.out 2>/dev/null; do
			[ $i -lt 1200 ] || return 1
			sleep 0.1; i=$((i + 1))
		done &&
		grep -x "PACER_ARRAY_JOB_ID=$a" work/arr-${a}_$t.out &&
		grep -x "PACER_ARRAY_TASK_ID=$t" work/arr-${a}_$t.out || return 1
	done &&
	wait_job_done $a
'

test_expect_success '--cpu-bind=verbose prints the binding on the job'"'"'s stderr' '
	id=$(cat verbose.id) &&
	wait_job_state $id COMPLETED 120 &&
	node=$(job_field $id "alloc[0].node") &&
	pid=$(sed -n "s/^pid //p" work/pacer-$id.out) &&
	mask=$(map_cpus "$(job_field $id "alloc[0].cpuset")" | to_mask) &&
	echo "cpu-bind=MASK - $node, task  0  0 [$pid]: mask 0x$mask set" >expect &&
	test_cmp expect work/err-$id.txt
'

test_expect_success '--cpu-bind=none: no affinity, but the cgroup cpuset still holds' '
	id=$(cat none.id) &&
	wait_job_state $id COMPLETED 120 &&
	if test_have_prereq CPUSETCG
	then
		map_cpus "$(job_field $id "alloc[0].cpuset")" >expect
	else
		sort -n -u real-pus >expect
	fi &&
	expand_list "$(sed -n 2p work/pacer-$id.out)" >got &&
	test_cmp expect got &&
	node=$(job_field $id "alloc[0].node") &&
	pid=$(sed -n "s/^pid //p" work/pacer-$id.out) &&
	echo "cpu-bind=NONE - $node, task  0  0 [$pid]: mask 0x$(to_mask <expect)" >expect.err &&
	test_cmp expect.err work/err-$id.txt
'

test_expect_success 'a map_cpu CPU the job does not hold fails the job, saying why' '
	id=$(cat badmap.id) &&
	wait_job_state $id FAILED 120 &&
	node=$(job_field $id "alloc[0].node") &&
	cpuset=$(job_field $id "alloc[0].cpuset") &&
	echo "job $id: --cpu-bind=map_cpu:99 names CPU 99, which the job does not hold on $node (it holds $cpuset): give CPUs of the job'"'"'s allocation" >expect &&
	job_field $id reason >got &&
	test_cmp expect got
'

test_expect_success MEMCG 'a job over its --mem is killed: OUT_OF_MEMORY' '
	id=$(cat oom.id) &&
	wait_job_state $id OUT_OF_MEMORY 120 &&
	echo "used more than its 100 MiB memory limit (the kernel'"'"'s OOM killer stopped it)" >expect &&
	job_field $id reason >got &&
	test_cmp expect got
'

test_expect_success MEMCG 'a job within its --mem completes' '
	wait_job_state $(cat fits.id) COMPLETED 120
'

test_expect_success '--cpu-bind=map_cpu: the script gets that CPU, mapped' '
	id=$(cat map.id) &&
	wait_job_state $id COMPLETED 120 &&
	grep -x "PACER_JOB_CPUS=0-15" work/pacer-$id.out &&
	map_cpus 13 >expect &&
	expand_list "$(sed -n 2p work/pacer-$id.out)" >got &&
	test_cmp expect got
'

# The job cgroup folders a node daemon logged at start: tracking, and
# confinement (memory and cpuset).
cgroup_bases() {
	sed -n -e "s/.*job tracking: cgroup[12] //p" \
		-e "s/.*confining jobs with .*(memory: \(.*\), cpuset: \(.*\))$/\1\n\2/p" \
		"$CLUSTER/log/node$1.log"
}

test_expect_success 'no job cgroup is left once the jobs are over' '
	wait_jobs_done $(cat *.id) &&
	wait_nodes_idle &&
	for n in 1 2; do
		cgroup_bases $n >bases &&
		while read -r base; do
			test -d "$base" &&
			find "$base" -mindepth 1 -maxdepth 1 -type d -name "job_*" >left &&
			test_line_count = 0 left || return 1
		done <bases || return 1
	done
'

test_expect_success CPUSETCG,MEMCG 'and the daemons remove their own folders when they stop' '
	cgroup_bases 1 >bases1 && cgroup_bases 2 >bases2 &&
	test_line_count = 3 bases1 &&
	pids=$(cat "$CLUSTER"/run/node*.pid) &&
	for n in 1 2; do kill -TERM $(noded_pid $n) || return 1; done &&
	for p in $pids; do pid_gone $p || return 1; done &&
	cat bases1 bases2 | while read -r base; do
		test ! -e "$base" || return 1
	done &&
	for n in 1 2; do "$LOCAL_CLUSTER" start "$CLUSTER" node$n || return 1; done &&
	wait_nodes_up 2
'

test_stop_cluster
test_done
