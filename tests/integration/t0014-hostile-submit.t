#!/bin/sh
test_description='a hostile submit cannot keep the controller from starting again

The reproducer of issue 7 (tests/fuzz/reproducers/submit-jobspec-overlong-tag0.frame)
is a submit whose JobSpec carries an unknown field numbered 0, written in two
bytes. Sent by an ordinary user, it is accepted as the fields it holds, the
job runs, and the controller, killed, starts again with it. Then a journal
holding the record an older Pacer wrote for that submit: the controller
refuses to start and says where the record is and what to do; with
--skip-bad-records it starts, keeps the file as .damaged, gives none of the
ids the record may hold, and pacer diag shows the record skipped.'
. "$(dirname "$0")/lib.sh"

WIRE=$PACER_BUILD_DIR/tests/tools/pacer-wire
APPEND=$PACER_BUILD_DIR/tests/tools/pacer-journal-append
FRAME=$PACER_SRC_DIR/tests/fuzz/reproducers/submit-jobspec-overlong-tag0.frame
# conf_value KEY: the first "KEY = value" of the cluster's pacer.conf.
conf_value() { sed -n "s/^$1 = //p" "$PACER_CONF" | head -n 1; }

max_id() { pacer queue --all --json | jq '[.jobs[]?.id] | max // 0'; }

# name_user_state ID: "name user state" of job ID.
name_user_state() { pacer queue --job "$1" --format "%j %u %T" --noheader | tr -s ' '; }

test_expect_success 'start a cluster of 1 node' '
	ensure_test_user &&
	start_cluster --nodes 1 --cpus 2 &&
	CTLD_LOG=$CLUSTER/log/pacerctld.log &&
	CTLD_PORT=$(conf_value controllers | sed "s/.*://") &&
	MUNGE_SOCK=$(conf_value munge_socket) &&
	test -n "$CTLD_PORT" && test -n "$MUNGE_SOCK" &&
	test -r "$FRAME"
'

test_expect_success 'the test user sends the reproducer: it is accepted and runs' '
	as_user "$WIRE" send 127.0.0.1 "$CTLD_PORT" local ctld "$MUNGE_SOCK" "$FRAME" >wire.out &&
	cat wire.out &&
	JOB=$(sed -n "s/^server sent submit-reply job_id=//p" wire.out) &&
	test -n "$JOB" &&
	cleanup "rm -f /tmp/pacer-$JOB.out" &&
	wait_job_state "$JOB" COMPLETED &&
	echo "x $TEST_USER COMPLETED" >expect &&
	name_user_state "$JOB" >actual &&
	test_cmp expect actual
'

test_expect_success 'killed, the controller starts again, and the job is there' '
	kill_ctld &&
	restart_ctld &&
	name_user_state "$JOB" >actual &&
	test_cmp expect actual &&
	! grep -e "cannot be decoded" -e "cannot recover" "$CTLD_LOG"
'

test_expect_success 'a journal holding the record an older Pacer wrote for that submit' '
	MAX=$(max_id) &&
	kill_ctld &&
	"$APPEND" "$CLUSTER/state" "$FRAME" $((MAX + 1)) >append.out &&
	cat append.out &&
	grep -x "decodes: no" append.out &&
	sed -n "s/^appended at offset \([0-9]*\) of \(.*\)$/\1 \2/p" append.out >where &&
	read OFFSET JFILE <where &&
	test -f "$JFILE" && ! test -e "$JFILE.damaged" &&
	cp "$JFILE" appended.journal
'

test_expect_success 'the controller refuses to start, saying where the record is and what to do' '
	test_expect_code 1 timeout 60 "$PACERCTLD_BIN" --conf "$PACER_CONF" >refused.out 2>&1 &&
	cat refused.out &&
	grep -F "in $JFILE (at offset $OFFSET) cannot be decoded" refused.out &&
	grep -F "run pacerctld once with --skip-bad-records" refused.out &&
	cmp appended.journal "$JFILE" &&
	! test -e "$JFILE.damaged" &&
	test_must_fail pacer queue
'

test_expect_success 'with --skip-bad-records it starts, logs the record and keeps its file' '
	restart_ctld --skip-bad-records &&
	grep -F "skipped the journal record after seq" "$CTLD_LOG" >skipped.log &&
	grep -F "in $JFILE (at offset $OFFSET)" skipped.log &&
	cmp appended.journal "$JFILE.damaged" &&
	name_user_state "$JOB" >actual &&
	test_cmp expect actual
'

test_expect_success 'pacer diag shows the record skipped and where its copy is' '
	pacer diag --json >diag.json &&
	cat diag.json &&
	jq -e ".journal.skipped_records == 1" diag.json &&
	jq -e --arg f "$JFILE.damaged" --argjson o "$OFFSET" \
		".journal.skipped[0].file == \$f and .journal.skipped[0].offset == \$o" diag.json &&
	pacer diag >diag.txt &&
	cat diag.txt &&
	grep "^Journal: *1 record skipped at start (pacerctld --skip-bad-records)" diag.txt &&
	grep -F "offset $OFFSET of $JFILE.damaged" diag.txt
'

test_expect_success 'no job id the skipped record may hold is given again' '
	grep "job ids continue at" "$CTLD_LOG" &&
	id=$(pacer submit --parsable -D "$SHARNESS_TRASH_DIRECTORY" --wrap true) &&
	test "$id" -gt $((MAX + 1)) &&
	wait_job_state "$id" COMPLETED
'

test_expect_success 'the next start is a plain one: nothing left to skip, the copy kept' '
	kill_ctld &&
	restart_ctld &&
	pacer diag --json >diag.json &&
	jq -e ".journal.skipped_records == 0 and .journal.skipped == []" diag.json &&
	pacer diag >diag.txt &&
	! grep "^Journal:" diag.txt &&
	test -f "$JFILE.damaged" &&
	name_user_state "$JOB" >actual &&
	test_cmp expect actual
'

# frame_of TEXT: a framed pacer.Msg from its protobuf text form (protoc-c
# encodes it from proto/pacer.proto), as a client would send it.
frame_of() {
	printf "%s\n" "$1" |
		protoc-c --encode=pacer.Msg -I "$PACER_SRC_DIR/proto" \
			"$PACER_SRC_DIR/proto/pacer.proto" >body.bin &&
	len=$(stat -c %s body.bin) &&
	printf "$(printf "\\\\%03o\\\\%03o\\\\%03o\\\\%03o" $((len >> 24 & 255)) \
		$((len >> 16 & 255)) $((len >> 8 & 255)) $((len & 255)))" &&
	cat body.bin
}

test_expect_success 'a journaled job whose dependency cannot be read is held' '
	frame_of "version: 1 seq: 1 submit { spec { name: \"baddep\" ntasks: 1
		cpus_per_task: 1 time_limit: 60 partition: \"batch\"
		workdir: \"$SHARNESS_TRASH_DIRECTORY\" script: \"#!/bin/sh\ntrue\n\"
		dependency: \"aFterany:2\" } }" >baddep.frame &&
	BAD=$(( $(max_id) + 1 )) &&
	kill_ctld &&
	"$APPEND" "$CLUSTER/state" baddep.frame $BAD >append.out &&
	grep -x "decodes: yes" append.out &&
	restart_ctld &&
	test "$(job_state $BAD)" = PENDING &&
	test "$(pacer show job $BAD --json | jq -r .reason)" = BadDependency
'

# (the job of the test above: this one cleans up after both)
test_expect_success 'its release is refused, and it stays held across restarts' '
	test_when_finished "cancel_jobs $BAD" &&
	echo "pacer release: job $BAD cannot be released: its dependency '\''aFterany:2'\'' cannot be read (cancel it and submit it again)" >expect.err &&
	test_expect_code 1 pacer release $BAD 2>release.err &&
	test_cmp expect.err release.err &&
	kill_ctld &&
	restart_ctld &&
	test "$(job_state $BAD)" = PENDING &&
	test "$(pacer show job $BAD --json | jq -r ".held, .reason" | tr "\n" " ")" = "true BadDependency " &&
	pacer cancel $BAD &&
	wait_job_state $BAD CANCELLED
'

test_stop_cluster
test_done
