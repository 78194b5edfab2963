#!/bin/sh
test_description='a damaged journal: a torn tail is dropped with a log line, a corrupt record is kept as .damaged, the controller starts'
. "$(dirname "$0")/lib.sh"

# The journal (see common/journal.h): state/journal.<gen>, an 8-byte magic,
# then records framed as u32 length (little-endian) | u32 CRC-32C | payload.
# A restart writes a new generation (snapshot.<gen+1>, journal.<gen+1>) and
# removes the older ones, so the newest journal.* holds what happened since.

WORK=$SHARNESS_TRASH_DIRECTORY/work
MARK=itj$$

# The newest journal file, as a path.
journal() {
	_j=$(ls "$CLUSTER/state" | grep -E '^journal\.[0-9]+$' | sort | tail -n 1) &&
		test -n "$_j" && echo "$CLUSTER/state/$_j"
}

size() { wc -c <"$1" | tr -d ' '; }

# le32 N: N as 4 little-endian bytes, on stdout.
le32() {
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) \
		$(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}

# u32_at FILE OFFSET: the little-endian u32 at OFFSET.
u32_at() {
	od -An -tu1 -j "$2" -N 4 "$1" |
		awk '{ print $1 + $2 * 256 + $3 * 65536 + $4 * 16777216 }'
}

# records FILE: "OFFSET LENGTH" of each whole record of journal FILE.
records() {
	_size=$(size "$1") && _off=8 &&
	while [ $((_off + 8)) -le $_size ]; do
		_len=$(u32_at "$1" $_off) &&
		[ $((_off + 8 + _len)) -le $_size ] || break
		echo "$_off $_len"
		_off=$((_off + 8 + _len))
	done
}

# record_with FILE TEXT: "OFFSET LENGTH" of the one record whose payload holds TEXT.
record_with() {
	records "$1" | while read _o _l; do
		if tail -c +$((_o + 9)) "$1" | head -c $_l | grep -q -a -F -- "$2"; then
			echo "$_o $_l"
		fi
	done
}

# flip_byte FILE OFFSET: invert the bits of the byte at OFFSET, in place.
flip_byte() {
	_b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ') &&
	printf "$(printf '\\%03o' $((_b ^ 255)))" |
		dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}

# gated_submit: a job that prints "before", waits until work/gate.MARK
# exists (in a process whose command line ends with that path), then
# prints "after".  Prints its id.
gated_submit() {
	pacer submit --parsable -J runs-on -D "$WORK" -o "$WORK/runs-on.out" \
		--wrap "echo before
sh -c 'while [ ! -e \"\$0\" ]; do sleep 0.1; done' '$WORK/gate.$MARK'
echo after"
}

# jobs_table: "id name state" of every job the controller knows.
jobs_table() {
	pacer queue --all --json | jq -r '.jobs[]? | "\(.id) \(.name) \(.state)"' | sort -n
}

max_id() { pacer queue --all --json | jq '[.jobs[]?.id] | max // 0'; }

# ctld_logged TEXT: the controller's log has a line ending with TEXT (fixed string).
ctld_logged() {
	grep -F -- "$1" "$CLUSTER/log/pacerctld.log" >logged &&
	awk -v t="$1" 'substr($0, length($0) - length(t) + 1) == t' logged | grep -q .
}

test_expect_success 'start a cluster of 2 nodes' '
	start_cluster --nodes 2 --cpus 2 &&
	user_dir "$WORK" &&
	pacer nodes --noheader >nodes.out &&
	test_line_count = 2 nodes.out
'

test_expect_success 'jobs in every state: completed, failed, held, running' '
	done1=$(pacer submit --parsable -J done-one -D "$WORK" --wrap true) &&
	failed1=$(pacer submit --parsable -J failed-one -D "$WORK" --wrap "exit 7") &&
	held1=$(pacer submit --parsable --hold -J held-one -D "$WORK" --wrap true) &&
	run1=$(gated_submit) &&
	wait_job_state $done1 COMPLETED &&
	wait_job_state $failed1 FAILED &&
	wait_job_state $run1 RUNNING &&
	runpid=$(pgrep -f "gate[.]$MARK\$") &&
	test $(echo "$runpid" | wc -l) = 1 &&
	cat >expect <<-EOF &&
	$done1 done-one COMPLETED
	$failed1 failed-one FAILED
	$held1 held-one PENDING
	$run1 runs-on RUNNING
	EOF
	jobs_table >table &&
	test_cmp expect table
'

test_expect_success 'torn tail: a length header claiming 1000 bytes, then 10 bytes' '
	kill_ctld &&
	j=$(journal) && s=$(size "$j") &&
	{ le32 1000 && printf "0123456789"; } >>"$j" &&
	test $(size "$j") = $((s + 14)) &&
	restart_ctld &&
	ctld_logged "${j##*/}: record cut short at offset $s: dropping 14 bytes" &&
	! ls "$CLUSTER/state" | grep damaged &&
	jobs_table >table &&
	test_cmp expect table &&
	test "$(pgrep -f "gate[.]$MARK\$")" = "$runpid"
'

test_expect_success 'new submits work after the torn tail, with a higher id' '
	max=$(max_id) &&
	new1=$(pacer submit --parsable --hold -J after-torn -D "$WORK" --wrap true) &&
	test $new1 -gt $max &&
	echo "$new1 after-torn PENDING" >>expect &&
	jobs_table >table &&
	test_cmp expect table
'

test_expect_success 'torn tail: a record header cut short (5 bytes)' '
	kill_ctld &&
	j=$(journal) && s=$(size "$j") &&
	printf "\001\002\003\004\005" >>"$j" &&
	restart_ctld &&
	ctld_logged "${j##*/}: record header cut short at offset $s: dropping 5 bytes" &&
	! ls "$CLUSTER/state" | grep damaged &&
	jobs_table >table &&
	test_cmp expect table
'

test_expect_success 'torn tail: 4096 zero bytes, as a file extended but never written' '
	kill_ctld &&
	j=$(journal) && s=$(size "$j") &&
	head -c 4096 /dev/zero >>"$j" &&
	restart_ctld &&
	ctld_logged "${j##*/}: bad record length at offset $s: dropping 4096 bytes" &&
	! ls "$CLUSTER/state" | grep damaged &&
	jobs_table >table &&
	test_cmp expect table
'

test_expect_success 'torn tail: the last record itself cut short is dropped, the rest kept' '
	torn=$(pacer submit --parsable --hold -J torn-last -D "$WORK" --wrap true) &&
	kill_ctld &&
	j=$(journal) && s=$(size "$j") &&
	records "$j" | tail -n 1 >last &&
	read off len <last &&
	test $((off + 8 + len)) = $s &&
	record_with "$j" torn-last >found &&
	test_cmp last found &&
	truncate -s $((s - 3)) "$j" &&
	restart_ctld &&
	ctld_logged "${j##*/}: record cut short at offset $off: dropping $((len + 5)) bytes" &&
	! ls "$CLUSTER/state" | grep damaged &&
	jobs_table >table &&
	test_cmp expect table
'

test_expect_success 'a corrupt byte in a middle record: the controller starts, keeps the file as .damaged and logs it' '
	for n in a b c d e; do
		pacer submit --parsable --hold -J mid-$n -D "$WORK" --wrap true >id-$n || return 1
	done &&
	kill_ctld &&
	j=$(journal) && s=$(size "$j") &&
	record_with "$j" mid-c >found &&
	test_line_count = 1 found &&
	read off len <found &&
	record_with "$j" mid-e >after-c &&
	read eoff elen <after-c &&
	test $eoff -gt $off &&
	flip_byte "$j" $((off + 8 + len / 2)) &&
	cp "$j" corrupted &&
	! test -e "$CLUSTER/state/${j##*/}.damaged" &&
	restart_ctld &&
	ctld_logged "${j##*/}: CRC mismatch at offset $off: dropping $((s - off)) bytes (file kept as .damaged)" &&
	cmp corrupted "$CLUSTER/state/${j##*/}.damaged" &&
	echo "$(cat id-a) mid-a PENDING" >>expect &&
	echo "$(cat id-b) mid-b PENDING" >>expect &&
	jobs_table >table &&
	grep -v " mid-[de] " table >table.kept &&
	test_cmp expect table.kept &&
	test_must_fail pacer show job $(cat id-c) &&
	test "$(pgrep -f "gate[.]$MARK\$")" = "$runpid"
'

test_expect_success 'after the damage, new submits work and survive the next kill -9' '
	new2=$(pacer submit --parsable --hold -J after-damage -D "$WORK" --wrap true) &&
	test $new2 -gt $(cat id-b) &&
	pacer show job $new2 >show.out &&
	grep "JobName=after-damage" show.out &&
	kill_ctld &&
	restart_ctld &&
	pacer show job $new2 >show.out &&
	grep "JobName=after-damage" show.out &&
	test -e "$CLUSTER/state/${j##*/}.damaged" &&
	! ls "$CLUSTER/state" | grep "^journal.*damaged" | grep -v -x "${j##*/}.damaged"
'

# Replay stops at the first record that fails its CRC, so the acknowledged
# jobs after it are gone; their ids must still never be handed out again
# (the controller skips as many ids as the dropped bytes could have held).
test_expect_success 'the ids of acknowledged jobs lost behind a corrupt record are not given again' '
	test $new2 -gt $(cat id-e) &&
	grep "job ids continue at" "$CLUSTER/log/pacerctld.log"
'

test_expect_success 'garbage that is not a record header at the tail: kept as .damaged, logged, nothing lost' '
	pacer queue --all --json | jq -r ".jobs[]? | \"\\(.id) \\(.name) \\(.state)\"" |
		sort -n >expect &&
	kill_ctld &&
	j=$(journal) && s=$(size "$j") &&
	printf "\377\377\377\377garbage!" >>"$j" &&
	restart_ctld &&
	ctld_logged "${j##*/}: bad record length at offset $s: dropping 12 bytes (file kept as .damaged)" &&
	test -e "$CLUSTER/state/${j##*/}.damaged" &&
	jobs_table >table &&
	test_cmp expect table
'

test_expect_success 'the running job was re-adopted through every restart and completes with its output' '
	test_when_finished "cancel_jobs $run1 $held1" &&
	test "$(job_state $run1)" = RUNNING &&
	test "$(pgrep -f "gate[.]$MARK\$")" = "$runpid" &&
	: >"$WORK/gate.$MARK" &&
	wait_job_state $run1 COMPLETED &&
	printf "before\nafter\n" >expect.out &&
	test_cmp expect.out "$WORK/runs-on.out" &&
	pacer release $held1 &&
	wait_job_state $held1 COMPLETED
'

test_expect_success 'the controller never crashed: one start line per restart, no other exit' '
	grep -c "pacerctld .* started: cluster" "$CLUSTER/log/pacerctld.log" >starts &&
	echo 8 >expect.starts &&
	test_cmp expect.starts starts &&
	! grep -i "cannot recover\|stopping so nothing" "$CLUSTER/log/pacerctld.log"
'

test_stop_cluster

test_expect_success 'no process of any job is left' '
	! pgrep -f "gate[.]$MARK\$"
'

test_done
