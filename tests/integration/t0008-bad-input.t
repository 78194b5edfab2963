#!/bin/sh
test_description='bad input: misbehaving peers on the controller and node ports, bad CLI input

Garbage, oversized, truncated and malformed frames, a wrong protocol version,
an unknown message type, replayed or misbound credentials, a foreign munge key
and a silent peer, against pacerctld'"'"'s client port and a pacernoded'"'"'s port:
each connection is dropped with a log line naming it, and the daemon carries
on (same pid, still answering, a job started before keeps running and a new
one runs).  Then the CLI: a missing, unreadable or binary script, -t 1:99,
-n 0, an unknown partition, cancelling a job that does not exist or is not
yours: one clear line on stderr, exit 1, and the queue unchanged.'
. "$(dirname "$0")/lib.sh"

WIRE=$PACER_BUILD_DIR/tests/tools/pacer-wire

# conf_value KEY: the first "KEY = value" of the cluster's pacer.conf.
conf_value() { sed -n "s/^$1 = //p" "$PACER_CONF" | head -n 1; }

# wire_dropped LOG REASON CMD PORT [CLUSTER SERVICE SOCKET]: pacer-wire CMD
# against PORT says the daemon dropped it (exit 0), and LOG has the line
# "REASON" about that very connection (its address put where ADDR is).
wire_dropped() {
	log=$1 reason=$2 cmd=$3
	shift 3
	"$WIRE" "$cmd" 127.0.0.1 "$@" >wire.out 2>&1
	rc=$?
	cat wire.out
	test $rc = 0 || { echo "pacer-wire $cmd exited $rc" >&2; return 1; }
	wire_logged "$log" "$reason"
}

# wire_logged LOG REASON: LOG has REASON with ADDR replaced by the address of
# the last connection pacer-wire made (from wire.out).
wire_logged() {
	addr=$(sed -n 's/^local //p' wire.out | tail -n 1)
	test -n "$addr" || { echo "pacer-wire printed no local address" >&2; return 1; }
	line=$(printf '%s\n' "$2" | sed "s/ADDR/$addr/")
	grep -F -- "$line" "$1" || {
		echo "no line '$line' in $1; its end:" >&2
		tail -n 5 "$1" >&2
		return 1
	}
}

# The daemons are the same processes as at the start and still answer.
daemons_alive() {
	kill -0 "$CTLD_PID" && test "$(ctld_pid)" = "$CTLD_PID" &&
	kill -0 "$NODE1_PID" && test "$(noded_pid 1)" = "$NODE1_PID" &&
	pacer queue >/dev/null
}

stop_pidfile() {
	test -f "$1" || return 0
	kill "$(cat "$1")" 2>/dev/null
	i=0
	while kill -0 "$(cat "$1")" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$(cat "$1")" 2>/dev/null
	rm -f "$1"
}

test_expect_success 'pacer-wire is built' '
	test -x "$WIRE"
'

test_expect_success 'start a cluster of 2 nodes' '
	ensure_test_user &&
	start_cluster --nodes 2 --cpus 4 &&
	CTLD_PID=$(ctld_pid) && NODE1_PID=$(noded_pid 1) &&
	CTLD_LOG=$CLUSTER/log/pacerctld.log && NODE1_LOG=$CLUSTER/log/node1.log &&
	CTLD_PORT=$(conf_value controllers | sed "s/.*://") &&
	NODE1_PORT=$(conf_value port | sed "s/-.*//") &&
	MUNGE_SOCK=$(conf_value munge_socket) &&
	NAME=$(conf_value name) &&
	test -n "$CTLD_PORT" && test -n "$NODE1_PORT" && test -n "$MUNGE_SOCK" &&
	test "$NAME" = local &&
	TEST_UID=$(id -u "$TEST_USER")
'

# Peers that connect and then say nothing are cut off by the handshake
# timeout (10 s): start them now, look at them at the end.
test_expect_success 'silent peers connect to both ports' '
	"$WIRE" -w 60 slowloris 127.0.0.1 "$CTLD_PORT" >slow.ctld.out 2>&1 3>&- 4>&- &
	SLOW_CTLD=$! &&
	cleanup "kill $SLOW_CTLD 2>/dev/null; true" &&
	"$WIRE" -w 60 slowloris 127.0.0.1 "$NODE1_PORT" >slow.node.out 2>&1 3>&- 4>&- &
	SLOW_NODE=$! &&
	cleanup "kill $SLOW_NODE 2>/dev/null; true"
'

test_expect_success 'a job of the test user runs on both nodes meanwhile' '
	user_dir work &&
	JOB=$(cd work && as_user "$PACER_BIN" submit --parsable -N 2 -n 2 -J survivor \
		--wrap "while [ ! -e release ]; do sleep 0.1; done; echo survived") &&
	wait_job_state "$JOB" RUNNING &&
	pacer queue --job "$JOB" --format "%N" --noheader >nodes.out &&
	echo "node[1-2]" >expect && test_cmp expect nodes.out
'

test_expect_success 'the handshake of pacer-wire works (as the test user, on ctld)' '
	as_user "$WIRE" hello 127.0.0.1 "$CTLD_PORT" local ctld "$MUNGE_SOCK" >out &&
	grep -x "welcome uid=$TEST_UID" out
'

# ----------------------------------------------------------------------------
# pacerctld's client port

test_expect_success 'ctld: garbage is dropped and logged' '
	wire_dropped "$CTLD_LOG" \
		"dropped connection from ADDR: frame of 1195725856 bytes refused" \
		garbage "$CTLD_PORT"
'

test_expect_success 'ctld: a frame one byte over the limit is dropped and logged' '
	wire_dropped "$CTLD_LOG" \
		"dropped connection from ADDR: frame of 16777217 bytes refused (limit 16777216)" \
		oversize "$CTLD_PORT"
'

test_expect_success 'ctld: an empty frame is dropped and logged' '
	wire_dropped "$CTLD_LOG" "dropped connection from ADDR: frame of 0 bytes refused" \
		zero "$CTLD_PORT"
'

test_expect_success 'ctld: a truncated frame is dropped and logged' '
	wire_dropped "$CTLD_LOG" "dropped connection from ADDR: closed by peer" \
		truncated "$CTLD_PORT"
'

test_expect_success 'ctld: a frame that is not protobuf is dropped and logged' '
	wire_dropped "$CTLD_LOG" "dropped connection from ADDR: malformed message" \
		badproto "$CTLD_PORT"
'

test_expect_success 'ctld: protocol version 99 is dropped and logged' '
	wire_dropped "$CTLD_LOG" \
		"dropped connection from ADDR: unknown message type or version" \
		version "$CTLD_PORT"
'

test_expect_success 'ctld: an unknown message type after the handshake is dropped and logged' '
	as_user "$WIRE" unknown 127.0.0.1 "$CTLD_PORT" local ctld "$MUNGE_SOCK" >wire.out &&
	cat wire.out &&
	grep -x "welcome uid=$TEST_UID" wire.out &&
	wire_logged "$CTLD_LOG" \
		"dropped connection from ADDR (uid $TEST_UID): unknown message type or version"
'

test_expect_success 'ctld: a replayed credential is refused and logged' '
	wire_dropped "$CTLD_LOG" \
		"refused connection from ADDR: munge credential refused: Replayed credential" \
		replay "$CTLD_PORT" local ctld "$MUNGE_SOCK" &&
	grep "^server sent error 13: authentication failed: .*Replayed credential" wire.out
'

test_expect_success 'ctld: a credential made for another connection is refused and logged' '
	wire_dropped "$CTLD_LOG" \
		"refused connection from ADDR: munge credential was made for another cluster, service or connection" \
		wrongnonce "$CTLD_PORT" local ctld "$MUNGE_SOCK"
'

test_expect_success 'ctld: a credential made for another service or cluster is refused' '
	test_expect_code 1 "$WIRE" hello 127.0.0.1 "$CTLD_PORT" local noded "$MUNGE_SOCK" >wire.out &&
	grep "^refused: authentication failed: munge credential was made for another" wire.out &&
	wire_logged "$CTLD_LOG" "refused connection from ADDR: munge credential was made for" &&
	test_expect_code 1 "$WIRE" hello 127.0.0.1 "$CTLD_PORT" other ctld "$MUNGE_SOCK" >wire.out &&
	wire_logged "$CTLD_LOG" "refused connection from ADDR: munge credential was made for"
'

test_expect_success 'ctld: 50 garbage connections leave no descriptor behind' '
	before=$(ls /proc/$CTLD_PID/fd | wc -l) &&
	i=0 &&
	while [ $i -lt 50 ]; do
		"$WIRE" garbage 127.0.0.1 "$CTLD_PORT" >/dev/null || return 1
		i=$((i + 1))
	done &&
	after=$(ls /proc/$CTLD_PID/fd | wc -l) &&
	echo "descriptors: $before before, $after after" &&
	# a snapshot or a node reconnecting may hold one or two for a moment
	test "$after" -le $((before + 2))
'

test_expect_success 'ctld: still the same process, answering, running jobs' '
	daemons_alive &&
	test "$(job_state "$JOB")" = RUNNING &&
	id=$(pacer submit --parsable --wrap true) &&
	wait_job_state "$id" COMPLETED
'

# ----------------------------------------------------------------------------
# pacernoded's port

test_expect_success 'noded: garbage is dropped and logged' '
	wire_dropped "$NODE1_LOG" \
		"dropped connection from ADDR: frame of 1195725856 bytes refused" \
		garbage "$NODE1_PORT"
'

test_expect_success 'noded: a frame one byte over the limit is dropped and logged' '
	wire_dropped "$NODE1_LOG" \
		"dropped connection from ADDR: frame of 16777217 bytes refused (limit 16777216)" \
		oversize "$NODE1_PORT"
'

test_expect_success 'noded: an empty frame is dropped and logged' '
	wire_dropped "$NODE1_LOG" "dropped connection from ADDR: frame of 0 bytes refused" \
		zero "$NODE1_PORT"
'

test_expect_success 'noded: a truncated frame is dropped and logged' '
	wire_dropped "$NODE1_LOG" "dropped connection from ADDR: closed by peer" \
		truncated "$NODE1_PORT"
'

test_expect_success 'noded: a frame that is not protobuf is dropped and logged' '
	wire_dropped "$NODE1_LOG" "dropped connection from ADDR: malformed message" \
		badproto "$NODE1_PORT"
'

test_expect_success 'noded: protocol version 99 is dropped and logged' '
	wire_dropped "$NODE1_LOG" \
		"dropped connection from ADDR: unknown message type or version" \
		version "$NODE1_PORT"
'

test_expect_success 'noded: a user other than root is refused and logged' '
	test_expect_code 1 as_user "$WIRE" hello 127.0.0.1 "$NODE1_PORT" local noded \
		"$MUNGE_SOCK" >wire.out &&
	cat wire.out &&
	grep -x "refused: uid $TEST_UID may not control node node1: only root and daemon_user (root) may" wire.out &&
	wire_logged "$NODE1_LOG" \
		"refused connection from ADDR (uid $TEST_UID): uid $TEST_UID may not control node node1"
'

test_expect_success 'noded: a credential made for another connection is refused and logged' '
	wire_dropped "$NODE1_LOG" \
		"refused connection from ADDR: munge credential was made for another cluster, service or connection" \
		wrongnonce "$NODE1_PORT" local noded "$MUNGE_SOCK"
'

test_expect_success 'noded: a credential made for the controller is refused' '
	test_expect_code 1 "$WIRE" hello 127.0.0.1 "$NODE1_PORT" local ctld "$MUNGE_SOCK" >wire.out &&
	wire_logged "$NODE1_LOG" "refused connection from ADDR: munge credential was made for"
'

# A root peer that finishes the handshake becomes the node's controller link
# (that is how a restarted controller takes over): the real controller loses
# the node for a moment and connects again.
test_expect_success 'noded: a replayed credential is refused and logged' '
	wire_dropped "$NODE1_LOG" \
		"refused connection from ADDR: munge credential refused: Replayed credential" \
		replay "$NODE1_PORT" local noded "$MUNGE_SOCK"
'

test_expect_success 'noded: an unknown message type after the handshake is dropped and logged' '
	"$WIRE" unknown 127.0.0.1 "$NODE1_PORT" local noded "$MUNGE_SOCK" >wire.out &&
	cat wire.out &&
	grep -x "welcome uid=0" wire.out &&
	wire_logged "$NODE1_LOG" \
		"dropped connection from ADDR (uid 0): unknown message type or version"
'

test_expect_success 'noded: still the same process; the node is back and runs jobs' '
	daemons_alive &&
	wait_nodes_up 2 &&
	test "$(job_state "$JOB")" = RUNNING &&
	id=$(pacer submit --parsable -N 2 -n 2 --wrap true) &&
	wait_job_state "$id" COMPLETED
'

# ----------------------------------------------------------------------------
# A munged with another key: its credentials mean nothing to this cluster.

test_expect_success 'start a second munged with its own key' '
	OTHER=$SHARNESS_TRASH_DIRECTORY/othermunge &&
	mkdir -p "$OTHER" && chmod 0755 "$OTHER" &&
	mungekey --create --keyfile="$OTHER/munge.key" &&
	chmod 0600 "$OTHER/munge.key" &&
	cleanup "stop_pidfile \"$OTHER/munged.pid\"" &&
	# (descriptors above 2 closed: sharness keeps its output on 3 and 4, and a
	# daemon holding them would keep ctest waiting)
	munged --socket="$OTHER/munge.sock" --key-file="$OTHER/munge.key" \
		--log-file="$OTHER/munged.log" --pid-file="$OTHER/munged.pid" \
		--seed-file="$OTHER/munged.seed" --force </dev/null >/dev/null 2>&1 \
		3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- &&
	i=0 &&
	while [ ! -S "$OTHER/munge.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done &&
	test -S "$OTHER/munge.sock" &&
	! cmp -s "$OTHER/munge.key" "$(dirname "$MUNGE_SOCK")/munge.key"
'

test_expect_success 'ctld: a credential from a munged with another key is refused and logged' '
	test_expect_code 1 "$WIRE" hello 127.0.0.1 "$CTLD_PORT" local ctld "$OTHER/munge.sock" \
		>wire.out &&
	cat wire.out &&
	grep "^refused: authentication failed: munge credential refused: Invalid credential" wire.out &&
	wire_logged "$CTLD_LOG" \
		"refused connection from ADDR: munge credential refused: Invalid credential"
'

test_expect_success 'noded: a credential from a munged with another key is refused and logged' '
	test_expect_code 1 "$WIRE" hello 127.0.0.1 "$NODE1_PORT" local noded "$OTHER/munge.sock" \
		>wire.out &&
	cat wire.out &&
	grep "^refused: authentication failed: munge credential refused: Invalid credential" wire.out &&
	wire_logged "$NODE1_LOG" \
		"refused connection from ADDR: munge credential refused: Invalid credential"
'

test_expect_success 'silent peers were cut off by the handshake timeout, and logged' '
	wait $SLOW_CTLD && wait $SLOW_NODE &&
	cp slow.ctld.out wire.out &&
	grep -x "server closed the connection" wire.out &&
	wire_logged "$CTLD_LOG" "dropped connection from ADDR: handshake not finished within" &&
	cp slow.node.out wire.out &&
	grep -x "server closed the connection" wire.out &&
	wire_logged "$NODE1_LOG" "dropped connection from ADDR: handshake not finished within"
'

test_expect_success 'the job started before all this finishes normally' '
	test_when_finished "cancel_jobs $JOB" &&
	daemons_alive &&
	test "$(job_state "$JOB")" = RUNNING &&
	touch work/release &&
	wait_job_state "$JOB" COMPLETED &&
	echo survived >expect &&
	test_cmp expect "work/pacer-$JOB.out"
'

# ----------------------------------------------------------------------------
# The CLI.  Every refusal: exit 1, one line on stderr, the queue unchanged.

test_expect_success 'jobs to look at: a held one of root, a held one of the test user' '
	ROOT_JOB=$(pacer submit --parsable --hold -J rootjob --wrap true) &&
	USER_JOB=$(cd work && as_user "$PACER_BIN" submit --parsable --hold -J userjob \
		--wrap true) &&
	pacer queue --all >queue.before &&
	pacer queue --all --noheader --format "%i %j %u %T %r %N" >queue.before.long &&
	cat queue.before queue.before.long &&
	grep -x "$ROOT_JOB rootjob root PENDING JobHeldUser *" queue.before.long &&
	grep -x "$USER_JOB userjob $TEST_USER PENDING JobHeldUser *" queue.before.long
'

# refused PATTERN CMD...: CMD exits 1 with one line on stderr matching
# the extended regex PATTERN, and nothing on stdout.
refused() {
	pattern=$1
	shift
	test_expect_code 1 "$@" >refused.out 2>refused.err &&
	cat refused.err &&
	test_line_count = 1 refused.err &&
	grep -E -- "$pattern" refused.err &&
	test_line_count = 0 refused.out
}

test_expect_success 'submit: a missing script' '
	refused "^pacer submit: cannot open script .no-such-script.sh.: No such file or directory" \
		pacer submit no-such-script.sh
'

test_expect_success 'submit: a script the user cannot read' '
	printf "#!/bin/sh\ntrue\n" >work/secret.sh &&
	chmod 0600 work/secret.sh &&
	(cd work && refused "^pacer submit: cannot open script .secret.sh.: Permission denied" \
		as_user "$PACER_BIN" submit secret.sh)
'

test_expect_success 'submit: a binary file as the script' '
	# the start of an ELF file: small (a sanitizer build of pacer is over
	# the 4 MiB script limit), and binary
	head -c 65536 "$PACER_BIN" >binary &&
	refused "^pacer submit: binary looks like a binary file, not a batch script" \
		pacer submit binary &&
	printf "#!/bin/sh\necho \0\n" >nul.sh &&
	refused "^pacer submit: nul.sh looks like a binary file" pacer submit nul.sh &&
	refused "^pacer submit: stdin looks like a binary file" pacer submit <binary
'

test_expect_success 'submit: a directory as the script' '
	refused "^pacer submit: .work. is a directory, not a batch script" pacer submit work
'

test_expect_success 'submit: an invalid time -t 1:99' '
	refused "^pacer submit: bad value for -t: invalid time \"1:99\"" \
		pacer submit -t 1:99 --wrap true &&
	printf "#!/bin/sh\n#SBATCH -t 1:99\ntrue\n" >badtime.sh &&
	refused "^pacer submit: badtime.sh:2: bad value for -t in #SBATCH line: invalid time" \
		pacer submit badtime.sh
'

test_expect_success 'submit: -n 0' '
	refused "^pacer submit: invalid value .0. for -n" pacer submit -n 0 --wrap true &&
	printf "#!/bin/sh\n#PACER --ntasks=0\ntrue\n" >zerotasks.sh &&
	refused "^pacer submit: zerotasks.sh:2: invalid value .0. for --ntasks in #PACER line" \
		pacer submit zerotasks.sh
'

test_expect_success 'submit: an unknown partition' '
	refused "^pacer submit: unknown partition .nosuch. \(partitions: batch\)" \
		pacer submit -p nosuch --wrap true
'

test_expect_success 'cancel: a job that does not exist' '
	refused "^pacer cancel: job 999999 does not exist" pacer cancel 999999 &&
	refused "^pacer cancel: job 999999 does not exist" \
		as_user "$PACER_BIN" cancel 999999
'

test_expect_success 'cancel: a job of another user' '
	refused "^pacer cancel: job $ROOT_JOB belongs to root, not to you" \
		as_user "$PACER_BIN" cancel "$ROOT_JOB" &&
	refused "^pacer cancel: job $ROOT_JOB belongs to root, not to you" \
		as_user "$PACER_BIN" cancel --signal USR1 "$ROOT_JOB" &&
	refused "^pacer cancel: only an administrator may cancel another user.s jobs" \
		as_user "$PACER_BIN" cancel --user root
'

test_expect_success 'nothing in the queue changed' '
	test_when_finished "cancel_jobs $ROOT_JOB $USER_JOB" &&
	pacer queue --all >queue.after &&
	test_cmp queue.before queue.after &&
	pacer queue --all --noheader --format "%i %j %u %T %r %N" >queue.after.long &&
	test_cmp queue.before.long queue.after.long
'

test_expect_success 'both daemons are still the ones started, and alive' '
	daemons_alive
'

test_stop_cluster
test_done
