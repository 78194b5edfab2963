#!/bin/sh
test_description='the controller places jobs by topology on emulated nodes: two
4-package boxes (16em64t) and a Sierra node with 4 GPUs; packing, spreading,
threads, exclusive nodes, GPU locality, features, node lists, refusals'
. "$(dirname "$0")/lib.sh"

TOPO=$PACER_SRC_DIR/tests/topologies

job_json() { pacer show job "$1" --json; }
node_json() { pacer show node "$1" --json; }

# packages_of JOB NODE: the packages of NODE whose cores JOB holds, one a line.
packages_of() {
	node_json "$2" |
		jq -r --argjson j "$1" '.layout.cores[] | select(.jobs | index($j)) | .package' |
		sort -u
}

# cores_of JOB NODE: how many cores of NODE JOB holds.
cores_of() {
	node_json "$2" | jq --argjson j "$1" '[.layout.cores[] | select(.jobs | index($j))] | length'
}

# package_of_pus NODE LIST: the packages of NODE with a PU in LIST ("0,4-5").
package_of_pus() {
	node_json "$1" | jq -r --arg l "$2" '
		def pus: split(",") | map(split("-") | map(tonumber) |
			if length == 2 then range(.[0]; .[1] + 1) else .[0] end);
		($l | pus) as $want |
		.layout.cores[] | select(((.pus | pus) - $want) != (.pus | pus)) | .package' |
		sort -u
}

test_expect_success 'setup: node1-2 emulate 16em64t, node3 emulates Sierra' '
	start_cluster --nodes 3 --topology "$TOPO/16em64t-4s2c2t.xml" \
		--topology node3="$TOPO/sierra.xml" \
		--features node1=fast,ib --features node2=slow &&
	pacer nodes --noheader | awk "{ print \$1, \$4 }" >sct &&
	grep -x "node1 4:2:2" sct &&
	grep -x "node3 2:22:4" sct
'

# Every test that starts jobs cancels them and waits for their end when it
# finishes, passed or failed (test_when_finished), and every test that counts
# on free cores starts from idle nodes: one failure stays one failure.

# two_cores: a job of one task of 2 CPUs on node1; prints its id.
two_cores() {
	pacer submit --parsable -w node1 -n 1 -c 2 --wrap "sleep 300.${MARK}1"
}

test_expect_success 'a 2-core task gets 2 whole cores of one package' '
	wait_nodes_idle &&
	id=$(two_cores) && test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	test "$(job_json $id | jq -r ".alloc[0].cpus")" = 4 &&
	test "$(cores_of $id node1)" = 2 &&
	packages_of $id node1 >pk &&
	test_line_count = 1 pk
'

test_expect_success 'single cores fill a package before opening another (best fit)' '
	wait_nodes_idle &&
	id=$(two_cores) && test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	packages_of $id node1 >pk &&
	c1=$(pacer submit --parsable -w node1 -n 1 --wrap "sleep 300.${MARK}1") &&
	test_when_finished "cancel_jobs $c1" &&
	wait_job_state $c1 RUNNING &&
	c2=$(pacer submit --parsable -w node1 -n 1 --wrap "sleep 300.${MARK}1") &&
	test_when_finished "cancel_jobs $c2" &&
	wait_job_state $c2 RUNNING &&
	packages_of $c1 node1 >pk1 &&
	packages_of $c2 node1 >pk2 &&
	test_line_count = 1 pk1 &&
	test_cmp pk1 pk2 &&
	test_must_fail cmp pk pk1
'

test_expect_success '--ntasks-per-socket=1 puts 4 tasks on 4 packages' '
	wait_nodes_idle &&
	id=$(pacer submit --parsable -w node2 -n 4 --ntasks-per-socket=1 --wrap "sleep 300.${MARK}2") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	packages_of $id node2 >pk &&
	test_line_count = 4 pk
'

test_expect_success 'block:cyclic deals 4 tasks over the packages; block packs them' '
	wait_nodes_idle &&
	cyc=$(pacer submit --parsable -w node1 -n 4 -m block:cyclic --wrap "sleep 300.${MARK}3") &&
	test_when_finished "cancel_jobs $cyc" &&
	wait_job_state $cyc RUNNING &&
	packages_of $cyc node1 >pk &&
	test_line_count = 4 pk &&
	blk=$(pacer submit --parsable -w node2 -n 4 -m block:block --wrap "sleep 300.${MARK}3") &&
	test_when_finished "cancel_jobs $blk" &&
	wait_job_state $blk RUNNING &&
	packages_of $blk node2 >pk &&
	test_line_count = 2 pk &&
	job_json $cyc | jq -r ".alloc[0].task_cpus[]" >tasks &&
	test_line_count = 4 tasks &&
	while read -r l; do package_of_pus node1 "$l" || return 1; done <tasks | sort -u >tpk &&
	test_line_count = 4 tpk
'

test_expect_success '--hint=multithread: 2 CPUs are the 2 threads of one core' '
	wait_nodes_idle &&
	id=$(pacer submit --parsable -w node1 -n 1 -c 2 --hint=multithread --wrap "sleep 300.${MARK}4") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	test "$(job_json $id | jq -r ".alloc[0].cpus")" = 2 &&
	test "$(cores_of $id node1)" = 1
'

test_expect_success '--exclusive holds the whole node, and nothing else lands there' '
	wait_nodes_idle &&
	ex=$(pacer submit --parsable -w node1 -n 1 --exclusive --wrap "sleep 300.${MARK}5") &&
	test_when_finished "cancel_jobs $ex" &&
	wait_job_state $ex RUNNING &&
	test "$(job_json $ex | jq -r ".alloc[0].cpus")" = 16 &&
	test "$(job_json $ex | jq -r ".alloc[0].exclusive")" = true &&
	small=$(pacer submit --parsable -C fast -n 1 --wrap "sleep 300.${MARK}5") &&
	test_when_finished "cancel_jobs $small" &&
	sleep 1 &&
	test "$(job_state $small)" = PENDING &&
	pacer cancel $ex && wait_job_done $ex &&
	wait_job_state $small RUNNING
'

# gpu_job CPUS GPUS: a one-task job with that many CPUs and GPUs; prints its id.
gpu_job() {
	pacer submit --parsable -n 1 -c $1 --gpus-per-node=$2 --wrap "sleep 300.${MARK}6"
}

test_expect_success 'a GPU job lands on the GPU node, with a GPU next to its cores' '
	wait_nodes_idle &&
	id=$(gpu_job 4 1) && test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	job_json $id >job.json &&
	test "$(jq -r ".alloc[0].node" job.json)" = node3 &&
	g=$(jq -r ".alloc[0].gpus[0]" job.json) &&
	jq -r ".alloc[0].gpu_env" job.json | grep -E "^CUDA_VISIBLE_DEVICES=[0-3]$" &&
	gnuma=$(node_json node3 | jq --argjson g $g ".layout.gpus[\$g].numa") &&
	node_json node3 | jq -r --argjson j $id \
		"[.layout.cores[] | select(.jobs | index(\$j)) | .numa] | unique[]" >numa &&
	echo $gnuma >expect &&
	test_cmp expect numa &&
	test "$(node_json node3 | jq --argjson g $g ".layout.gpus[\$g].job")" = $id
'

test_expect_success 'two 2-GPU jobs of one package each take the other package and its GPUs' '
	wait_nodes_idle &&
	id=$(gpu_job 4 1) && test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	a=$(gpu_job 22 2) && test_when_finished "cancel_jobs $a" &&
	wait_job_state $a RUNNING &&
	pacer cancel $id && wait_job_done $id &&
	b=$(gpu_job 22 2) && test_when_finished "cancel_jobs $b" &&
	wait_job_state $b RUNNING &&
	for j in $a $b; do
		packages_of $j node3 >pk-$j &&
		test_line_count = 1 pk-$j &&
		node_json node3 | jq -r --argjson j $j \
			"[.layout.gpus[] | select(.job == \$j) | .package] | unique[]" >gpk-$j &&
		test_cmp pk-$j gpk-$j || return 1
	done &&
	test_must_fail cmp pk-$a pk-$b
'

test_expect_success 'features, node lists and exclusions choose the nodes' '
	f= s= o= w= x= &&
	test_when_finished "cancel_jobs \$f \$s \$o \$w \$x" &&
	f=$(pacer submit --parsable -C "fast&ib" --wrap true) &&
	s=$(pacer submit --parsable -C slow --wrap true) &&
	o=$(pacer submit --parsable -C "slow|fast" -x node1,node2 --wrap true 2>err) ;
	test -z "$o" && grep -i "never" err &&
	w=$(pacer submit --parsable -w node2 --wrap true) &&
	x=$(pacer submit --parsable -x node1,node3 --wrap true) &&
	wait_jobs_done $f $s $w $x &&
	test "$(job_json $f | jq -r ".alloc[0].node")" = node1 &&
	test "$(job_json $s | jq -r ".alloc[0].node")" = node2 &&
	test "$(job_json $w | jq -r ".alloc[0].node")" = node2 &&
	test "$(job_json $x | jq -r ".alloc[0].node")" = node2
'

test_expect_success 'jobs that could never fit are refused, saying why' '
	test_must_fail pacer submit -n 1 -c 45 --wrap true 2>err &&
	grep "never run" err && grep "44" err &&
	test_must_fail pacer submit --gpus-per-node=5 --wrap true 2>err &&
	grep "never run" err && grep "GPU" err &&
	test_must_fail pacer submit -C nope --wrap true 2>err &&
	grep "nope" err &&
	test_must_fail pacer submit -w node9 --wrap true 2>err &&
	grep "node9" err &&
	test_must_fail pacer submit -C slow -n 1 -c 9 --wrap true 2>err &&
	grep "never run" err
'

test_expect_success 'the allocation survives a controller restart exactly' '
	wait_nodes_idle &&
	id=$(pacer submit --parsable -w node2 -n 3 -c 1 --wrap "sleep 300.${MARK}8") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	node_json node2 | jq -c ".layout.cores" >before &&
	kill_ctld &&
	restart_ctld &&
	node_json node2 | jq -c ".layout.cores" >after &&
	test_cmp before after
'

test_expect_success 'a restarted controller knows node sizes before the nodes register' '
	n2=$(noded_pid 2) &&
	kill -TERM $n2 && pid_gone $n2 &&
	kill_ctld &&
	"$LOCAL_CLUSTER" start "$CLUSTER" ctld &&
	i=0 && while ! pacer queue >/dev/null 2>&1 && test $i -lt 100
	do sleep 0.1; i=$((i + 1)); done &&
	pacer nodes --noheader | awk "\$1 == \"node2\" { print \$2, \$4 }" >n2 &&
	echo "unknown 4:2:2" >expect &&
	test_cmp expect n2 &&
	test_must_fail pacer submit -w node2 -n 1 -c 9 --wrap true 2>err &&
	grep "never run" err &&
	"$LOCAL_CLUSTER" start "$CLUSTER" node2 &&
	wait_nodes_up
'

test_stop_cluster
test_done
