# lib.sh - what every Pacer integration test shares.
#
# A test sets test_description, sources this file (which sources sharness),
# starts a real cluster with start_cluster and drives it with `pacer`.
# Everything a test starts is stopped by pid when the test ends.

: "${PACER_BUILD_DIR:?run through ctest, or set PACER_BUILD_DIR to a build folder}"
: "${PACER_SRC_DIR:?run through ctest, or set PACER_SRC_DIR to the checkout}"
PACER_BUILD_DIR=$(cd "$PACER_BUILD_DIR" && pwd)
PACER_SRC_DIR=$(cd "$PACER_SRC_DIR" && pwd)

PACER_BIN=$PACER_BUILD_DIR/cli/pacer
PACERCTLD_BIN=$PACER_BUILD_DIR/ctld/pacerctld
PACERNODED_BIN=$PACER_BUILD_DIR/noded/pacernoded
LOCAL_CLUSTER=$PACER_SRC_DIR/contrib/local-cluster
TEST_USER=pacertest

. /usr/share/sharness/sharness.sh

pacer() { "$PACER_BIN" "$@"; }

# start_cluster [local-cluster up options]: a cluster in ./cluster, with
# PACER_CONF exported; stopped when the test script ends.
start_cluster() {
	CLUSTER=$SHARNESS_TRASH_DIRECTORY/cluster
	cleanup stop_cluster
	_out=$("$LOCAL_CLUSTER" up "$CLUSTER" --bin "$PACER_BUILD_DIR" "$@") || return 1
	eval "$_out"
	export PACER_CONF
}

stop_cluster() {
	test -n "${CLUSTER:-}" && test -d "$CLUSTER" || return 0
	"$LOCAL_CLUSTER" down "$CLUSTER"
}

# sharness runs its cleanups only when every test passed; a cluster must
# be stopped whatever happened, so the exit itself stops it too.
pacer_on_exit() {
	rc=$?
	# The cleanups a failing run would skip (munged of its own, clients...).
	if test "${test_failure:-0}" != 0 && test -n "${final_cleanup:-}"; then
		eval_ret=0
		eval "$final_cleanup" >/dev/null 2>&1 || true
	fi
	stop_cluster >/dev/null 2>&1 || true
	test -n "${EXIT_OK:-}" || die
	exit $rc
}
trap pacer_on_exit EXIT

# test_stop_cluster: the last test of a script: stop the cluster, check that
# every daemon it started is gone and that none logged a sanitizer report.
test_stop_cluster() {
	test_expect_success 'stop the cluster: every daemon gone, no sanitizer report' '
		pids=$(cat "$CLUSTER"/run/*.pid) &&
		stop_cluster &&
		for p in $pids; do pid_gone $p || return 1; done &&
		test_must_fail grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" \
			"$CLUSTER"/log/*.out
	'
}

# The pid of the controller / of node daemon N.
ctld_pid() { cat "$CLUSTER/run/ctld.pid"; }
noded_pid() { cat "$CLUSTER/run/node$1.pid"; }

# Start the controller again (after a test killed it), with pacerctld
# OPTIONS if given, and wait until it answers and every node registered again.
restart_ctld() {
	"$LOCAL_CLUSTER" start "$CLUSTER" ctld "$@" &&
	wait_nodes_up
}

# conf_set KEY VALUE: set KEY in pacer.conf's [cluster] section (the
# controller reads it when it starts: see restart_ctld_with_conf).
conf_set() {
	sed -i "/^$1 *=/d; /^\[cluster\]/a $1 = $2" "$PACER_CONF"
}

# restart_ctld_with_conf: stop the controller cleanly and start it again,
# so it reads pacer.conf anew.
restart_ctld_with_conf() {
	_pid=$(ctld_pid) && kill -TERM "$_pid" && pid_gone "$_pid" && restart_ctld
}

# wait_nodes_up [N]: every node (or N of them) up, within 30 s.
wait_nodes_up() {
	_want=${1:-$(ls "$CLUSTER"/run/node*.pid | wc -l)}
	_i=0
	while [ $_i -lt 300 ]; do
		_up=$(pacer nodes --noheader 2>/dev/null | awk '$2 ~ /^(idle|mixed|allocated|UP)$/' | wc -l)
		[ "$_up" -ge "$_want" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "only $_up of $_want nodes up" >&2
	return 1
}

# job_state ID: the job's state name (PENDING, RUNNING, COMPLETED...).
job_state() { pacer queue --job "$1" --format '%T' --noheader | tr -d ' '; }

# wait_job_state ID STATE [SECONDS]: wait until job ID reaches STATE.
wait_job_state() {
	_limit=$(( ${3:-30} * 10 ))
	_i=0
	while [ $_i -lt $_limit ]; do
		_s=$(job_state "$1")
		[ "$_s" = "$2" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "job $1 is $_s, not $2, after ${3:-30} s" >&2
	return 1
}

# wait_job_reason ID REASON [SECONDS]: wait until pending job ID gives
# REASON (a scheduling pass sets it, a moment after the submit).
wait_job_reason() {
	_limit=$(( ${3:-30} * 10 ))
	_i=0
	while [ $_i -lt $_limit ]; do
		_r=$(pacer show job "$1" --json | jq -r .reason)
		[ "$_r" = "$2" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "job $1 has reason $_r, not $2, after ${3:-30} s" >&2
	return 1
}

# job_done ID: every job (or array task) of ID has finished, whatever way.
job_done() {
	_s=$(job_state "$1") && test -n "$_s" &&
		! echo "$_s" | grep -qvxE 'COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY'
}

# wait_job_done ID [SECONDS]: wait until job ID (every task of an array
# ID) has finished, whatever way.
wait_job_done() {
	_limit=$(( ${2:-30} * 10 ))
	_i=0
	while [ $_i -lt $_limit ]; do
		job_done "$1" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "job $1 still $(job_state "$1" | tr '\n' ' ')after ${2:-30} s" >&2
	return 1
}

# wait_jobs_done ID...: wait until every job named has finished (30 s each).
wait_jobs_done() {
	for _j in "$@"; do wait_job_done "$_j" || return 1; done
}

# cancel_jobs ID...: cancel the jobs and wait until each has finished; the
# cleanup of a test that starts jobs (test_when_finished "cancel_jobs $id"),
# so that a test failing midway leaves no job behind.  Jobs that already
# ended are fine.
cancel_jobs() {
	test $# -gt 0 || return 0
	pacer cancel "$@" >/dev/null 2>&1
	wait_jobs_done "$@"
}

# busy_report: what still holds a node or runs, one line each (nothing when
# every node is idle and no job runs).
busy_report() {
	_nodes=$(pacer nodes --json) && _jobs=$(pacer queue --all --json) ||
		{ echo "the controller does not answer"; return 1; }
	printf '%s\n' "$_nodes" | jq -r --argjson q "$_jobs" '
		($q.jobs | map({key: (.id | tostring), value: .state}) | from_entries) as $st |
		([.nodes[].jobs[]] | map(tostring)) as $held |
		(.nodes[] | select(.cpus_alloc != 0 or (.jobs | length) != 0) |
			if (.jobs | length) == 0 then
				"\(.name) still has \(.cpus_alloc) cpus allocated to no job"
			else
				.name as $n | .cpus_alloc as $c | .jobs[] |
				"\($n) still holds job \(.) (\($st[tostring] // "unknown"); \($c) cpu\(if $c == 1 then "" else "s" end) allocated there)"
			end),
		($q.jobs[] | select(.state == "RUNNING" and ((.id | tostring) as $i | $held | index($i) | not)) |
			"job \(.id) is still RUNNING (on \(.nodelist))")'
}

# wait_nodes_idle [SECONDS]: wait until no node holds a cpu or a job and no
# job runs (30 s); a test that needs free nodes starts with it, so that it
# does not depend on how well the tests before it cleaned up.
wait_nodes_idle() {
	_limit=$(( ${1:-30} * 10 ))
	_i=0
	while [ $_i -lt $_limit ]; do
		_busy=$(busy_report) && test -z "$_busy" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "nodes not idle after ${1:-30} s:" >&2
	busy_report >&2
	return 1
}

# pid_gone PID: wait until PID has exited (reaped, or a zombie), 30 s at most.
pid_gone() {
	wait "$1" 2>/dev/null # our child if restart_ctld started it
	_i=0
	while [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; do
		[ $_i -lt 300 ] || { echo "process $1 did not exit" >&2; return 1; }
		sleep 0.1
		_i=$((_i + 1))
	done
}

# kill_ctld: SIGKILL the controller and make sure it is gone.
kill_ctld() {
	_pid=$(ctld_pid) && kill -KILL "$_pid" && pid_gone "$_pid" &&
		test_must_fail pacer queue >/dev/null 2>&1
}

# Processes a test can find again: `sleep 300.$MARK<suffix>` (sleep takes
# that as a duration, and `pgrep -x -f` matches exactly that process; the
# script's pid keeps it apart from other test runs).
MARK=$$
marker_procs() { pgrep -x -f "sleep 300\\.$MARK$1"; }

# wait_procs SUFFIX COUNT: until COUNT processes with that marker exist (20 s).
wait_procs() {
	_i=0
	while [ $_i -lt 200 ]; do
		[ "$(marker_procs "$1" | wc -l)" -eq "$2" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "marker $1: $(marker_procs "$1" | wc -l) processes, not $2" >&2
	return 1
}

# submit_as_user ARGS...: pacer submit --parsable as the test user; prints the id.
submit_as_user() { as_user "$PACER_BIN" submit --parsable "$@"; }

# show_field ID KEY: the value of KEY=... in `pacer show job ID` (up to the
# next KEY=, so that paths with blanks come out whole).
show_field() {
	pacer show job "$1" >show.tmp &&
	grep -E "(^| )$2=" show.tmp | sed -E "s/^(.* )?$2=//; s/ [A-Za-z\/]+=.*//"
}

# A non-root user for the tests, and a command run as that user.
ensure_test_user() {
	id "$TEST_USER" >/dev/null 2>&1 ||
		useradd -M -N -s /bin/sh "$TEST_USER" >/dev/null 2>&1 ||
		id "$TEST_USER" >/dev/null 2>&1
}
as_user() { runuser -u "$TEST_USER" -- "$@"; }

# A folder the test user can write in.
user_dir() {
	mkdir -p "$1" && chmod 0777 "$1"
	# every folder above must be traversable by the test user
	d=$(cd "$1" && pwd)
	while [ "$d" != / ]; do
		chmod o+x "$d" 2>/dev/null || true
		d=$(dirname "$d")
	done
}

test -n "$(id -u | grep -x 0)" || skip_all="integration tests need root (jobs run as other users)"

# test_line_count OP N FILE: FILE has OP N lines (sharness 1.0 lacks it).
test_line_count() {
	if ! test $(wc -l <"$3") "$1" "$2"; then
		echo "test_line_count: $3 has $(wc -l <"$3") lines, expected $1 $2:" >&2
		cat "$3" >&2
		return 1
	fi
}

# Whether this machine lets us make what --netns makes: a namespace, a
# bridge and a veth in it, and a UTS namespace.  The probe removes itself.
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
