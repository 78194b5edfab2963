#!/bin/sh
test_description='the --json output of every listing against docs/json.md: the fields
printed are the fields documented, of the documented types; null, never a
sentinel, for what is not there; queue and show job agree'
. "$(dirname "$0")/lib.sh"

DOC=$PACER_SRC_DIR/docs/json.md

# doc_schema NAME: the table after "<!-- schema: NAME -->" in docs/json.md
# as a JSON object, each field to the jq types it may have:
# {"id": ["number"], "name": ["string", "null"], ...}.
doc_schema() {
	awk -v want="$1" '
		/^<!-- schema: / { on = ($3 == want); rows = 0; next }
		on && /^\| `/ { rows++; print; next }
		on && rows > 0 && !/^\|/ { on = 0 }
	' "$DOC" |
	jq -R -s '
		split("\n") | map(select(length > 0) | split("|") |
			{ key: (.[1] | gsub("[ `]"; "")),
			  value: (.[2] | gsub("^ +| +$"; "") | split(" or ") |
				  map(if . == "integer" then "number" else . end)) }) |
		from_entries'
}

# check_schema NAME FILE PATH: every object at jq PATH of FILE has exactly
# the fields of table NAME, each of a documented type.  Prints what does
# not match; fails when anything does not, or when PATH finds nothing.
check_schema() {
	schema=$(doc_schema "$1") &&
	test "$(echo "$schema" | jq length)" -gt 0 &&
	jq -r --argjson s "$schema" --arg name "$1" --arg path "$3" '
		[ '"$3"' ] |
		if length == 0 then "\($name): nothing at \($path)" else
			.[] | . as $o |
			(($s | keys) - ($o | keys) | .[] | "\($name): \(.) documented, not printed"),
			(($o | keys) - ($s | keys) | .[] | "\($name): \(.) printed, not documented"),
			($o | to_entries[] | select($s[.key] != null) |
				(.value | type) as $t | select($s[.key] | index($t) | not) |
				"\($name): \(.key) is \($t), documented as \($s[.key] | join(" or "))")
		end' "$2" >problems &&
	cat problems &&
	test_line_count = 0 problems
}

# No listing speaks of "none" with a sentinel number.
no_sentinels() {
	test_must_fail grep -E "4294967295|: -1,?$" "$@"
}

test_expect_success 'the doc has a table for every listing' '
	for t in queue job job.spec job.alloc node node.layout node.layout.numas \
		node.layout.cores node.layout.gpus diag diag.sched diag.journal \
		diag.journal.skipped; do
		test "$(doc_schema $t | jq length)" -gt 0 || { echo "no table $t"; return 1; }
	done
'

test_expect_success 'setup: 2 nodes, one GPU, and a node that never comes up' '
	start_cluster --nodes 2 --topology "pack:1 core:2 pu:1" --gpus node2=1 &&
	port=$(sed -n "s/^controllers = .*:\([0-9]*\)$/\1/p" "$PACER_CONF") &&
	printf "\n[nodes:ghost]\nnames = node9\naddress = 127.0.0.1\nport = %s\n" \
		$((port + 50)) >>"$PACER_CONF" &&
	restart_ctld_with_conf &&
	pacer nodes --json | jq -e "[.nodes[].name] == [\"node1\", \"node2\", \"node9\"]"
'

test_expect_success 'jobs: pending unlimited, running, completed, an array' '
	U=$(pacer submit --parsable --hold -t UNLIMITED -J unlimited --wrap true) &&
	R=$(pacer submit --parsable -t 10 -n 1 -J running --wrap "sleep 300.${MARK}1") &&
	D=$(pacer submit --parsable -J done --wrap "exit 0") &&
	A=$(pacer submit --parsable --hold --array=0-1 -J arr --wrap true) &&
	wait_job_state $R RUNNING &&
	wait_job_done $D &&
	pacer queue --all --json >queue.json &&
	pacer show job --json >show.json &&
	pacer show job $R --json >one.json &&
	pacer nodes --json >nodes.json &&
	pacer show node node2 --json >node2.json &&
	pacer show node node9 --json >node9.json &&
	pacer show node --json >allnodes.json &&
	pacer diag --json >diag.json
'

test_expect_success 'queue --json: the documented fields, of the documented types' '
	test "$(jq ".jobs | length" queue.json)" = 5 &&
	check_schema queue queue.json ".jobs[]"
'

test_expect_success 'show job --json: job, spec and alloc as documented' '
	check_schema job show.json ".jobs[]" &&
	check_schema job one.json "." &&
	check_schema job.spec show.json ".jobs[].spec" &&
	check_schema job.alloc show.json ".jobs[].alloc[]"
'

test_expect_success 'nodes and show node --json: node and layout as documented' '
	check_schema node nodes.json ".nodes[]" &&
	check_schema node allnodes.json ".nodes[]" &&
	check_schema node node2.json "." &&
	check_schema node node9.json "." &&
	check_schema node.layout node2.json ".layout" &&
	check_schema node.layout.numas node2.json ".layout.numas[]" &&
	check_schema node.layout.cores node2.json ".layout.cores[]" &&
	check_schema node.layout.gpus node2.json ".layout.gpus[]"
'

test_expect_success 'diag --json: as documented' '
	check_schema diag diag.json "." &&
	check_schema diag.sched diag.json ".sched" &&
	check_schema diag.journal diag.json ".journal"
'

test_expect_success 'no sentinel numbers anywhere' '
	no_sentinels queue.json show.json one.json nodes.json node2.json node9.json \
		allnodes.json diag.json
'

test_expect_success 'nothing there is null: no limit, not started, no exit, no array' '
	jq -e --argjson u $U ".jobs[] | select(.id == \$u) |
		.time_limit == null and .start_time == null and .end_time == null and
		.exit_code == null and .term_signal == null and .nodelist == null and
		.array_job_id == null and .array_task_id == null and .reason != null and
		.state == \"PENDING\" and .held" queue.json &&
	jq -e --argjson u $U ".jobs[] | select(.id == \$u) |
		.spec.time_limit == null and .alloc == [] and .stdout_path == null" show.json
'

test_expect_success 'what is there has its value' '
	jq -e --argjson r $R ".jobs[] | select(.id == \$r) |
		.time_limit == 600 and (.start_time | type) == \"number\" and
		.end_time == null and .exit_code == null and
		(.nodelist | test(\"^node[12]$\")) and .name == \"running\"" queue.json &&
	jq -e --argjson d $D ".jobs[] | select(.id == \$d) |
		.state == \"COMPLETED\" and .exit_code == 0 and .term_signal == null and
		.end_time >= .start_time and .start_time >= .submit_time" queue.json &&
	jq -e --argjson a $A "[.jobs[] | select(.array_job_id == \$a) | .array_task_id] ==
		[0, 1]" queue.json
'

test_expect_success 'show job and queue agree on the fields they share' '
	fields="id name user uid partition state submit_time start_time end_time
		time_limit nodelist exit_code term_signal held array_job_id array_task_id" &&
	pick="[.jobs[] | {$(echo $fields | sed "s/ /, /g")}] | sort_by(.id)" &&
	jq -S "$pick" queue.json >from-queue &&
	jq -S "$pick" show.json >from-show &&
	test_cmp from-queue from-show &&
	jq -e --slurpfile one one.json --argjson r $R \
		"[.jobs[] | select(.id == \$r)] == \$one" show.json
'

test_expect_success 'node state: the words of the text listing, the controller state beside' '
	pacer nodes --noheader | awk "{ print \$1, \$2 }" >text.states &&
	jq -r ".nodes[] | \"\(.name) \(.state)\"" nodes.json >json.states &&
	test_cmp text.states json.states &&
	jq -e "all(.nodes[]; .state | IN(\"idle\", \"mixed\", \"allocated\", \"suspect\",
		\"unclean\", \"down\", \"unknown\"))" nodes.json &&
	jq -e "all(.nodes[]; .node_state | IN(\"UNKNOWN\", \"UP\", \"SUSPECT\", \"UNCLEAN\",
		\"DOWN\"))" nodes.json &&
	jq -e ".state == \"unknown\" and .node_state == \"UNKNOWN\" and .last_heard == null and
		.sockets == null and .boot_id == null and .layout == null" node9.json &&
	node=$(jq -r --argjson r $R ".jobs[] | select(.id == \$r) | .nodelist" queue.json) &&
	jq -e --arg n $node ".nodes[] | select(.name == \$n) |
		.node_state == \"UP\" and (.state | IN(\"mixed\", \"allocated\"))" nodes.json
'

test_expect_success 'a GPU counted in pacer.conf: its place not known, null' '
	jq -e ".layout.gpus == [{index: 0, name: \"gpu0\", kind: \"conf\", numa: null,
		package: null, busid: null, job: null}]" node2.json &&
	jq -e "all(.layout.numas[]; .package == 0) and all(.layout.cores[]; .numa == 0)" node2.json
'

test_expect_success 'diag: the counts, and the last pass once there was one' '
	jq -e ".nodes == 3 and .nodes_up == 2 and .sched.passes > 0 and
		(.sched.last_ms | type) == \"number\"" diag.json
'

test_expect_success 'cleanup: end every job' '
	pacer cancel $U $R $A &&
	wait_job_done $R && wait_job_done $U && wait_job_done ${A}_0 && wait_job_done ${A}_1
'

test_stop_cluster
test_done
