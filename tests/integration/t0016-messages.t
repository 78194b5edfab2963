#!/bin/sh
test_description='the exact words of the common refusals, and jobs that list
several partitions (-p left,right): each runs in whichever can start it first'
. "$(dirname "$0")/lib.sh"

# Partitions on disjoint nodes: left = node1 (2 cores), right = node2
# (2 cores, 1 GPU), tiny = node3 (1 core, 10 minutes at most), closed =
# node1 for root only, hi = node1 at a higher priority; batch (the
# default) has them all.
test_expect_success 'setup: 3 nodes, partitions on disjoint nodes' '
	start_cluster --nodes 3 --topology "pack:1 core:2 pu:1" \
		--topology "node3=pack:1 core:1 pu:1" --gpus node2=1 &&
	ensure_test_user &&
	user_dir work &&
	cat >>"$PACER_CONF" <<-EOF &&

	[partition:left]
	nodes = node1

	[partition:right]
	nodes = node2

	[partition:tiny]
	nodes = node3
	default_time = 5
	max_time = 10

	[partition:closed]
	nodes = node1
	allow_users = root

	[partition:hi]
	nodes = node1
	priority = 100
	EOF
	restart_ctld_with_conf
'

# refused_with TEXT CMD...: CMD exits 1, prints nothing on stdout and
# exactly TEXT (one line) on stderr.
refused_with() {
	printf "%s\n" "$1" >err.exp &&
	shift &&
	test_expect_code 1 "$@" >out 2>err &&
	test_cmp err.exp err &&
	test_line_count = 0 out
}

test_expect_success 'an unknown partition, alone or in a list' '
	refused_with "pacer submit: unknown partition '\''nosuch'\'' (partitions: batch, left, right, tiny, closed, hi)" \
		pacer submit -p nosuch --wrap true &&
	refused_with "pacer submit: unknown partition '\''nosuch'\'' (partitions: batch, left, right, tiny, closed, hi)" \
		pacer submit -p left,nosuch --wrap true &&
	refused_with "pacer submit: the partition list '\''left,,right'\'' has an empty name (separate names with single commas)" \
		pacer submit -p left,,right --wrap true
'

test_expect_success 'a partition not open to the user, alone or in a list' '
	refused_with "pacer submit: partition closed is not open to $TEST_USER (its allow_users and allow_groups in pacer.conf say who may use it)" \
		submit_as_user -p closed --wrap true &&
	(cd work && refused_with "pacer submit: partition closed is not open to $TEST_USER (its allow_users and allow_groups in pacer.conf say who may use it)" \
		submit_as_user -p left,closed --wrap true)
'

test_expect_success 'a job that can never fit: too many cores, GPUs, a --nodelist node too small' '
	refused_with "pacer submit: the job can never run in partition left: each task needs 3 cores (-c) but the largest eligible node has 2 cores" \
		pacer submit -p left -c 3 --wrap true &&
	refused_with "pacer submit: the job can never run in partition left: the job needs 1 GPU per node but the most any eligible node has is 0" \
		pacer submit -p left --gpus-per-node 1 --wrap true &&
	refused_with "pacer submit: the job can never run in partition right: the job needs 2 GPUs but the eligible nodes that can hold its tasks have at most 1" \
		pacer submit -p right --gpus 2 --wrap true &&
	refused_with "pacer submit: the job can never run in partition batch: node node3 of --nodelist can never hold a task of this job" \
		pacer submit -w node3 -c 2 --wrap true &&
	refused_with "pacer submit: the job can never run in partition left: node node2 of --nodelist is not in the partition" \
		pacer submit -p left -w node2 --wrap true &&
	refused_with "pacer submit: the job can never run in partition batch: the job asks for 4 nodes but only 3 nodes are eligible" \
		pacer submit -N 4 --wrap true
'

test_expect_success 'a job no listed partition can run: each one and why' '
	refused_with "pacer submit: the job can never run in any of its partitions: in left, each task needs 3 cores (-c) but the largest eligible node has 2 cores; in tiny, each task needs 3 cores (-c) but the largest eligible node has 1 core" \
		pacer submit -p left,tiny -c 3 --wrap true
'

test_expect_success 'a time limit above the partition maximum, or not a time' '
	refused_with "pacer submit: the job can never run in partition tiny: the time limit 20:00 is above the partition'\''s maximum of 10:00 (lower -t)" \
		pacer submit -p tiny -t 20 --wrap true &&
	refused_with "pacer submit: bad value for -t: invalid time \"1:99\": seconds must be below 60 (formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)" \
		pacer submit -t 1:99 --wrap true
'

test_expect_success 'a bad --array or --dependency' '
	refused_with "pacer submit: bad value for --array: range '\''5-1'\'' ends below its start (write it LOW-HIGH, like 0-99)" \
		pacer submit --array 5-1 --wrap true &&
	refused_with "pacer submit: bad value for --dependency: afterok needs job ids (like afterok:123)" \
		pacer submit --dependency afterok --wrap true &&
	refused_with "pacer submit: --dependency names job 999999, which does not exist (pacer queue --all lists the jobs known)" \
		pacer submit --dependency afterok:999999 --wrap true
'

test_expect_success 'cancel, hold and release of a job that does not exist' '
	refused_with "pacer cancel: job 999999 does not exist" pacer cancel 999999 &&
	refused_with "pacer hold: job 999999 does not exist" pacer hold 999999 &&
	refused_with "pacer release: job 999999 does not exist" pacer release 999999 &&
	refused_with "pacer cancel: job 999999_3 does not exist" pacer cancel 999999_3
'

test_expect_success 'cancel and hold of another user'\''s job' '
	id=$(pacer submit --parsable --hold --wrap true) &&
	refused_with "pacer cancel: job $id belongs to root, not to you" \
		as_user "$PACER_BIN" cancel $id &&
	refused_with "pacer release: job $id belongs to root, not to you" \
		as_user "$PACER_BIN" release $id &&
	refused_with "pacer cancel: only an administrator may cancel another user'\''s jobs" \
		as_user "$PACER_BIN" cancel --user root &&
	pacer cancel $id &&
	wait_job_done $id
'

# The partition a job shows (%P), and PACER_JOB_PARTITION in its output.
part_of() { pacer queue --all --job "$1" --noheader --format "%P" | tr -d " "; }

test_expect_success 'a job listing two free partitions runs in the first' '
	wait_nodes_idle &&
	id=$(cd work && pacer submit --parsable -p left,right -o out.%j \
		--wrap "echo \$PACER_JOB_PARTITION") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id &&
	test "$(part_of $id)" = left &&
	echo left >part.exp &&
	test_cmp part.exp work/out.$id
'

test_expect_success 'a job whose first partition is busy runs in the second' '
	wait_nodes_idle &&
	busy=$(pacer submit --parsable -p left -c 2 --wrap "sleep 300.${MARK}1") &&
	test_when_finished "cancel_jobs $busy" &&
	wait_job_state $busy RUNNING &&
	id=$(cd work && pacer submit --parsable -p left,right -c 2 -o out.%j \
		--wrap "echo \$PACER_JOB_PARTITION; sleep 300.${MARK}1") &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_state $id RUNNING &&
	test "$(part_of $id)" = right &&
	test "$(pacer show job $id --json | jq -r ".alloc[0].node")" = node2 &&
	# show job and queue name the same partition, the one it runs in
	test "$(pacer show job $id --json | jq -r .partition)" = right &&
	test "$(pacer queue --json --job $id | jq -r ".jobs[0].partition")" = right &&
	test "$(pacer show job $id --json | jq -r .spec.partition)" = left,right &&
	pacer cancel $id &&
	wait_job_done $id &&
	echo right >part.exp &&
	test_cmp part.exp work/out.$id
'

test_expect_success '#SBATCH -p takes a list too' '
	wait_nodes_idle &&
	busy=$(pacer submit --parsable -p left -c 2 --wrap "sleep 300.${MARK}1") &&
	test_when_finished "cancel_jobs $busy" &&
	wait_job_state $busy RUNNING &&
	printf "#!/bin/sh\n#SBATCH -p left,right\n#SBATCH -c 2\ntrue\n" >list.sh &&
	id=$(pacer submit --parsable list.sh) &&
	test_when_finished "cancel_jobs $id" &&
	wait_job_done $id &&
	test "$(part_of $id)" = right
'

# These two share their jobs; the second cleans up after both.
test_expect_success 'pending, a job shows its list; a restart keeps it' '
	wait_nodes_idle &&
	busy=$(pacer submit --parsable -p left -c 2 --wrap "sleep 300.${MARK}2") &&
	other=$(pacer submit --parsable -p right -c 2 --wrap "sleep 300.${MARK}2") &&
	wait_job_state $busy RUNNING &&
	wait_job_state $other RUNNING &&
	id=$(pacer submit --parsable -p left,right -c 2 --wrap "sleep 300.${MARK}3") &&
	wait_job_reason $id Resources &&
	test "$(part_of $id)" = left,right &&
	test "$(show_field $id Partition)" = left,right &&
	test "$(pacer show job $id --json | jq -r .partition)" = left,right &&
	kill_ctld &&
	restart_ctld &&
	test "$(job_state $id)" = PENDING &&
	test "$(part_of $id)" = left,right
'

test_expect_success 'it starts in whichever partition frees up, and a restart keeps that' '
	test_when_finished "cancel_jobs $id $busy $other" &&
	pacer cancel $other &&
	wait_job_done $other &&
	wait_job_state $id RUNNING &&
	test "$(part_of $id)" = right &&
	test "$(show_field $id Partition)" = right &&
	kill_ctld &&
	restart_ctld &&
	test "$(job_state $id)" = RUNNING &&
	test "$(part_of $id)" = right &&
	# once more: now from the snapshot the last start wrote, not the journal
	kill_ctld &&
	restart_ctld &&
	test "$(part_of $id)" = right &&
	test "$(show_field $id Partition)" = right
'

test_expect_success 'waiting, a job is expected in whichever partition frees up first' '
	wait_nodes_idle &&
	lj=$(pacer submit --parsable -p left -c 2 -t 10 --wrap "sleep 300.${MARK}4") &&
	rj=$(pacer submit --parsable -p right -c 2 -t 5 --wrap "sleep 300.${MARK}5") &&
	test_when_finished "cancel_jobs $lj $rj" &&
	wait_job_state $lj RUNNING &&
	wait_job_state $rj RUNNING &&
	id=$(pacer submit --parsable -p left,right -c 2 -t 5 --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	want=$(( $(pacer show job $rj --json | jq -r .start_time) + 300 )) &&
	wait_job_reason $id Resources &&
	i=0 &&
	while test "$(pacer show job $id --json | jq -r .expected_start)" != $want &&
		test $i -lt 50
	do sleep 0.2; i=$((i + 1)); done &&
	test "$(pacer show job $id --json | jq -r .expected_start)" = $want &&
	pacer cancel $rj &&
	wait_job_done $rj &&
	wait_job_done $id &&
	test "$(part_of $id)" = right
'

test_expect_success 'a job has the priority of its best partition' '
	wait_nodes_idle &&
	lj=$(pacer submit --parsable -p left -c 2 --wrap "sleep 300.${MARK}6") &&
	test_when_finished "cancel_jobs $lj" &&
	wait_job_state $lj RUNNING &&
	both=$(pacer submit --parsable -p left,hi -d afterok:$lj --wrap true) &&
	hi=$(pacer submit --parsable -p hi -d afterok:$lj --wrap true) &&
	low=$(pacer submit --parsable -p left -d afterok:$lj --wrap true) &&
	test_when_finished "cancel_jobs $both $hi $low" &&
	wait_job_reason $low Dependency &&
	wait_job_reason $both Dependency &&
	wait_job_reason $hi Dependency &&
	p_both=$(pacer show job $both --json | jq -r .priority) &&
	test "$p_both" = "$(pacer show job $hi --json | jq -r .priority)" &&
	test "$p_both" -gt "$(pacer show job $low --json | jq -r .priority)"
'

test_expect_success 'a listed partition that can never run the job is dropped from its list' '
	id=$(pacer submit --parsable --hold -p tiny,right -c 2 --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	test "$(part_of $id)" = right
'

test_expect_success 'with no -t, the smallest default time limit of the list' '
	id=$(pacer submit --parsable --hold -p right,tiny --wrap true) &&
	test_when_finished "cancel_jobs $id" &&
	test "$(part_of $id)" = right,tiny &&
	test "$(show_field $id TimeLimit)" = 5:00
'

test_stop_cluster
test_done
