# lib.sh - what the bench/ scripts share.  Source it; do not run it.
#
# bench_init "$@"          find the build (first argument, else $PACER_BUILD_DIR,
#                          else this checkout's build/) and the tools
# bench_cluster_up [OPTS]  a fresh cluster (contrib/local-cluster up OPTS) in a
#                          mktemp folder, stopped and removed when the script exits
# bench_submit_loop N [ARGS]    N sequential `pacer submit --wrap true ARGS`
# bench_submit_par S N [ARGS]   S such loops side by side, N jobs in all
# bench_now / bench_rate / bench_ms / bench_median    timing and arithmetic
#
# Every figure is printed as one line: `name value`.

set -euo pipefail

# Run with the same small, fixed environment every time, so that figures do
# not depend on the caller's shell (a job's environment is part of the job):
# the script starts again under env -i, keeping only the knobs it reads.
if [ -z "${BENCH_ENV_FIXED:-}" ]; then
	keep=()
	for v in PACER_BUILD_DIR N_JOBS N_PENDING N_NODES BENCH_KEEP BENCH_QUIET TMPDIR; do
		[ -z "${!v+x}" ] || keep+=("$v=${!v}")
	done
	exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root USER=root LOGNAME=root SHELL=/bin/sh LANG=C.UTF-8 \
		BENCH_ENV_FIXED=1 "${keep[@]}" bash "$0" "$@"
fi

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_PROG=$(basename "$0")

bench_die() { echo "$BENCH_PROG: $*" >&2; exit 1; }
bench_log() { [ -n "${BENCH_QUIET:-}" ] || echo "$BENCH_PROG: $*" >&2; }

bench_usage() {
	cat <<EOT
Usage: $BENCH_PROG [BUILD_DIR]

Runs on a fresh local cluster (contrib/local-cluster) and prints one figure a
line.  BUILD_DIR holds ctld/pacerctld, noded/pacernoded and cli/pacer (default:
\$PACER_BUILD_DIR, else this checkout's build/).  Measure with a plain
RelWithDebInfo build, not a sanitizer one.  Must run as root (a private munged).
EOT
}

bench_init() {
	case ${1:-} in
	-h|--help) bench_usage; exit 0 ;;
	-*) bench_usage >&2; exit 2 ;;
	esac
	local build=${1:-${PACER_BUILD_DIR:-$BENCH_SRC/build}}
	[ -d "$build" ] || bench_die "$build: no such build folder (build first, or pass one)"
	BENCH_BUILD=$(cd "$build" && pwd)
	PACER=$BENCH_BUILD/cli/pacer
	for b in "$PACER" "$BENCH_BUILD/ctld/pacerctld" "$BENCH_BUILD/noded/pacernoded"; do
		[ -x "$b" ] || bench_die "$b missing (build first: cmake --build $BENCH_BUILD)"
	done
	if grep -qs 'PACER_SANITIZE:BOOL=ON' "$BENCH_BUILD/CMakeCache.txt"; then
		echo "$BENCH_PROG: warning: $BENCH_BUILD is a sanitizer build; figures will be slow" >&2
	fi
	[ "$(id -u)" = 0 ] || bench_die "run as root (local-cluster starts munged and daemons)"
	command -v munge >/dev/null || bench_die "munge not installed (contrib/install-deps)"
	[ -n "${EPOCHREALTIME:-}" ] || bench_die "needs bash 5 (EPOCHREALTIME)"
}

BENCH_DIR=
bench_cleanup() {
	local rc=$?
	if [ -n "$BENCH_DIR" ] && [ -d "$BENCH_DIR" ]; then
		"$BENCH_SRC/contrib/local-cluster" down "$BENCH_DIR/cluster" >/dev/null 2>&1 || true
		if [ -n "${BENCH_KEEP:-}" ] || [ $rc != 0 ]; then
			echo "$BENCH_PROG: kept $BENCH_DIR (logs in cluster/log/)" >&2
		else
			rm -rf "$BENCH_DIR"
		fi
	fi
	exit $rc
}

# A controller port BASE with BASE..BASE+N free of every socket (ss), below
# the kernel's ephemeral range.  local-cluster's own choice falls inside that
# range, where the TIME_WAIT client sockets thousands of CLI calls leave
# behind make a daemon's bind() fail now and then (EADDRINUSE).
bench_pick_ports() {
	local n=$1 lo hi base p tries used
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	[ "$lo" -gt 12000 ] || bench_die "the ephemeral port range starts at $lo: pass --port"
	used=$(ss -Htan | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u)
	for ((tries = 0; tries < 100; tries++)); do
		base=$(( 10000 + RANDOM % (lo - 10000 - n - 1) ))
		for ((p = base; p <= base + n; p++)); do
			grep -qx "$p" <<<"$used" && continue 2
		done
		echo "$base"
		return
	done
	bench_die "no free port range below $lo"
}

# bench_cluster_up [local-cluster up options]: sets BENCH_DIR, PACER_CONF,
# BENCH_CTLD_PID and BENCH_MUNGE_SOCKET; jobs run in $BENCH_DIR/work.
bench_cluster_up() {
	BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pacer-bench.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	chmod 0755 "$BENCH_DIR"
	mkdir -p "$BENCH_DIR/work"
	local out nodes=4
	[[ " $* " =~ " --nodes "([0-9]+) ]] && nodes=${BASH_REMATCH[1]}
	out=$("$BENCH_SRC/contrib/local-cluster" up "$BENCH_DIR/cluster" --bin "$BENCH_BUILD" \
		--port "$(bench_pick_ports "$nodes")" "$@") ||
		bench_die "local-cluster up failed"
	eval "$out"
	export PACER_CONF
	BENCH_CTLD_PID=$(cat "$BENCH_DIR/cluster/run/ctld.pid")
	BENCH_MUNGE_SOCKET=$(awk -F' *= *' '$1 == "munge_socket" { print $2 }' "$PACER_CONF")
	cd "$BENCH_DIR/work"
}

# bench_submit_loop N [ARGS...]: N submits one after another; a failed one
# is an error.
bench_submit_loop() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$PACER" submit --parsable --wrap true "$@" >/dev/null ||
			bench_die "pacer submit failed (after $i submits)"
	done
}

# bench_submit_par S N [ARGS...]: S submit loops side by side, N jobs in all.
bench_submit_par() {
	local s=$1 n=$2 k pids=() rc=0
	shift 2
	for ((k = 0; k < s; k++)); do
		bench_submit_loop $(( n / s + (k < n % s ? 1 : 0) )) "$@" &
		pids+=($!)
	done
	for k in "${pids[@]}"; do
		wait "$k" || rc=1
	done
	[ $rc = 0 ] || bench_die "a submitter failed"
}

# Time in seconds with microseconds (no fork).
bench_now() { echo "${EPOCHREALTIME/,/.}"; }

# bench_rate COUNT T0 T1: COUNT per second, no decimals.
bench_rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f\n", n / (b - a) }'; }

# bench_ms T0 T1: milliseconds between, one decimal.
bench_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'; }

# bench_median V...: the median.
bench_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_div A B [DECIMALS]
bench_div() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { printf "%.*f\n", d, a / b }'; }

# The controller's resident memory in KiB.
bench_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$BENCH_CTLD_PID/status"; }

# bench_count_jobs [queue options]: how many jobs `pacer queue` lists.
bench_count_jobs() { "$PACER" queue --noheader --format '%i' "$@" | wc -l; }

# bench_wait_pending N [SECONDS]: wait until N jobs are pending (they are on
# disk and in the queue before their submit returns, so this is immediate).
bench_wait_pending() {
	local want=$1 limit=$(( ${2:-30} * 10 )) i got=0
	for ((i = 0; i < limit; i++)); do
		got=$(bench_count_jobs --state PENDING)
		[ "$got" -ge "$want" ] && return 0
		sleep 0.1
	done
	bench_die "only $got of $want jobs pending"
}
