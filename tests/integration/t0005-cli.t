#!/bin/sh
test_description='the pacer command line on a real 4-node cluster: help and usage errors,
configuration errors, placement and scheduling options, queue filters and formats, job
arrays by task, show job and show node (with its layout) in text and JSON, nodes as jobs
run, and a controller that is down or hung'
. "$(dirname "$0")/lib.sh"

# Each node offers 2 CPUs whatever this machine has: 8 in all.
NODE_CPUS=2
SQ="'"
COMMANDS="submit queue cancel hold release nodes show diag"

# A JSON document is checked by a real parser where python3 is installed
# (contrib/install-deps does not install it; the grep checks run anyway).
if command -v python3 >/dev/null 2>&1 && python3 -c "import json" 2>/dev/null; then
	test_set_prereq PYTHON3
fi

# json_rows FILE EXPR: parse FILE as JSON (into d) and print each row of
# EXPR, a list of tuples, as one line of blank-separated fields.
json_rows() {
	python3 -c "import json,sys
d = json.load(open(sys.argv[1]))
for row in ($2):
    print(' '.join(str(f) for f in row))" "$1"
}

# submit ARGS...: pacer submit --parsable in the work folder; prints the id.
submit() { (cd "$WORK" && pacer submit --parsable "$@"); }
submit_as_user() { (cd "$WORK" && as_user "$PACER_BIN" submit --parsable "$@"); }

# ids ARGS...: the ids pacer queue ARGS lists, one a line, sorted.
ids() { pacer queue --noheader --format "%i" "$@" | sort -n; }

# A job that waits (at most two minutes) until the test creates go-<job id>.
cat >wait-go.sh <<'EOF'
#!/bin/sh
i=0
while [ ! -e "go-$PACER_JOB_ID" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
EOF

# Help and usage (no cluster needed) --------------------------------------------

test_expect_success 'pacer --help and pacer help: usage and every command, exit 0' '
	pacer --help >help.out 2>err &&
	test_must_be_empty err &&
	head -n 1 help.out >first &&
	echo "Usage: pacer [--conf FILE] COMMAND [OPTIONS]" >first.exp &&
	test_cmp first.exp first &&
	for c in $COMMANDS; do
		grep -E "^  $c +[a-z]" help.out || return 1
	done &&
	pacer help >help2.out &&
	test_cmp help.out help2.out &&
	pacer -h >help3.out &&
	test_cmp help.out help3.out
'

test_expect_success 'every subcommand has --help: its usage on stdout, exit 0' '
	for c in $COMMANDS; do
		pacer $c --help >out 2>err &&
		test_must_be_empty err &&
		head -n 1 out | grep "^Usage: pacer $c " &&
		test $(wc -l <out) -ge 3 &&
		pacer help $c >out2 &&
		test_cmp out out2 || return 1
	done
'

test_expect_success 'pacerctld --help and pacernoded --help: usage, exit 0' '
	"$PACERCTLD_BIN" --help >out 2>err &&
	test_must_be_empty err &&
	head -n 1 out | grep -x "Usage: pacerctld \[OPTIONS\]" &&
	grep -E "^ +-c, --conf FILE" out &&
	"$PACERNODED_BIN" --help >out 2>err &&
	test_must_be_empty err &&
	head -n 1 out | grep -x "Usage: pacernoded \[OPTIONS\]" &&
	grep -E "^ +-c, --conf FILE" out &&
	grep -E "^ +-n, --name NODE" out
'

test_expect_success '--version of all three' '
	pacer --version >out && grep -E "^pacer [0-9]+\.[0-9]+\.[0-9]+" out &&
	"$PACERCTLD_BIN" --version >out && grep -E "^pacerctld [0-9]+\.[0-9]+\.[0-9]+" out &&
	"$PACERNODED_BIN" --version >out && grep -E "^pacernoded [0-9]+\.[0-9]+\.[0-9]+" out
'

test_expect_success 'pacer with no command: usage on stderr, exit 2' '
	test_expect_code 2 pacer >out 2>err &&
	test_must_be_empty out &&
	head -n 1 err | grep -x "Usage: pacer \[--conf FILE\] COMMAND \[OPTIONS\]"
'

test_expect_success 'an unknown command: named, with the fix, exit 2' '
	test_expect_code 2 pacer frobnicate >out 2>err &&
	test_must_be_empty out &&
	cat >err.exp <<-\EOF &&
	pacer: unknown command '"'"'frobnicate'"'"'
	Try '"'"'pacer --help'"'"' for the list of commands.
	EOF
	test_cmp err.exp err &&
	test_expect_code 2 pacer help frobnicate 2>err &&
	test_cmp err.exp err
'

test_expect_success 'an unknown global option: named, with the fix, exit 2' '
	test_expect_code 2 pacer --bogus queue >out 2>err &&
	test_must_be_empty out &&
	head -n 1 err >err1 &&
	echo "pacer: unknown option '"'"'--bogus'"'"'" >err.exp &&
	test_cmp err.exp err1 &&
	grep "^Usage: pacer \[--conf FILE\] COMMAND" err
'

test_expect_success 'an unknown option of each subcommand: named, with the fix, exit 2' '
	for c in $COMMANDS; do
		test_expect_code 2 pacer $c --bogus >out 2>err &&
		test_must_be_empty out &&
		printf "%s\n" "pacer $c: unknown option '"'"'--bogus'"'"'" \
			"$(pacer $c --help | head -n 1)" \
			"Try '"'"'pacer $c --help'"'"' for more information." >err.exp &&
		test_cmp err.exp err || return 1
	done
'

test_expect_success 'an unknown option prints the usage of pacer and of the subcommand' '
	test_expect_code 2 pacer --bogus 2>err &&
	grep "^Usage: pacer " err &&
	test_expect_code 2 pacer queue --bogus 2>err &&
	grep "^Usage: pacer queue " err
'

# refused_at_once ERR ARGS...: pacer submit ARGS fails with exit 1 and
# exactly ERR, without a configuration: nothing was sent.
refused_at_once() {
	_want=$1 && shift &&
	test_expect_code 1 env PACER_CONF=/nonexistent/pacer.conf "$PACER_BIN" submit "$@" \
		>out 2>err &&
	test_must_be_empty out &&
	echo "$_want" >err.exp &&
	test_cmp err.exp err
}

test_expect_success 'submit: a bad placement or scheduling value is refused at once: what and how' '
	refused_at_once "pacer submit: invalid value ${SQ}2-4${SQ} for -N (a range of node counts is not supported: give an exact count, like -N 2)" \
		-N 2-4 --wrap true &&
	refused_at_once "pacer submit: --mem-per-cpu cannot be combined with --mem (give memory per node with --mem, or per CPU with --mem-per-cpu, not both)" \
		--mem=1G --mem-per-cpu=1G --wrap true &&
	refused_at_once "pacer submit: bad value for --gpus: ${SQ}v100:2${SQ} names a GPU type, and GPU types are not supported yet (give a count only, like 2)" \
		--gpus=v100:2 --wrap true &&
	refused_at_once "pacer submit: bad value for --gres: ${SQ}mps${SQ} is not a resource Pacer schedules: --gres takes GPUs only (gpu or gpu:N)" \
		--gres=mps:100 --wrap true &&
	refused_at_once "pacer submit: bad value for -m: the plane distribution is not supported (use block or cyclic, and :block or :cyclic for the sockets)" \
		-m plane=2 --wrap true &&
	refused_at_once "pacer submit: bad value for --cpu-bind: mask_cpu binding is not supported (use none, cores, threads, sockets or map_cpu:LIST, with ,verbose if you like)" \
		--cpu-bind=mask_cpu:0x3 --wrap true &&
	refused_at_once "pacer submit: bad value for --array: range ${SQ}9-1${SQ} ends below its start (write it LOW-HIGH, like 0-99)" \
		--array=9-1 --wrap true &&
	refused_at_once "pacer submit: bad value for --dependency: ${SQ}afterok:1?afterok:2,singleton${SQ} mixes ${SQ},${SQ} (all must hold) and ${SQ}?${SQ} (one is enough): use one of them" \
		--dependency="afterok:1?afterok:2,singleton" --wrap true &&
	refused_at_once "pacer submit: bad value for -C: ${SQ}[a|b]${SQ}: brackets, counts and commas are not supported yet (join feature names with & for all, | for any)" \
		-C "[a|b]" --wrap true
'

test_expect_success 'submit: a bad value in a directive names the script line' '
	printf "#!/bin/sh\n#SBATCH -N 1\n#SBATCH --array=0-3%%0\nhostname\n" >arr.sh &&
	refused_at_once "pacer submit: arr.sh:3: bad value for --array in #SBATCH line: after % in ${SQ}0-3%0${SQ} give how many tasks may run at once, a whole number of at least 1 (like 0-99%10)" \
		arr.sh &&
	printf "#!/bin/sh\n#PACER --mem=2G\n\n#SBATCH --mem-per-cpu=1G\n" >mem.sh &&
	refused_at_once "pacer submit: mem.sh:4: --mem-per-cpu in #SBATCH line cannot be combined with --mem (give memory per node with --mem, or per CPU with --mem-per-cpu, not both)" \
		mem.sh &&
	printf "#!/bin/sh\n#SBATCH -w node[1-\n" >w.sh &&
	refused_at_once "pacer submit: w.sh:2: bad value for -w in #SBATCH line: ${SQ}node[1-${SQ} is not a host list (write names like node[1-4,7],login1)" \
		w.sh
'

test_expect_success 'an unknown option of the daemons: named, usage, exit 2' '
	test_expect_code 2 "$PACERCTLD_BIN" --bogus >out 2>err &&
	test_must_be_empty out &&
	grep "unrecognized option .--bogus." err &&
	grep -x "Usage: pacerctld \[OPTIONS\]" err &&
	test_expect_code 2 "$PACERNODED_BIN" --bogus >out 2>err &&
	test_must_be_empty out &&
	grep "unrecognized option .--bogus." err &&
	grep -x "Usage: pacernoded \[OPTIONS\]" err
'

# Configuration errors ------------------------------------------------------------

test_expect_success 'pacer --conf /nonexistent: the file is named, exit 1' '
	test_expect_code 1 pacer --conf /nonexistent/pacer.conf queue >out 2>err &&
	test_must_be_empty out &&
	echo "pacer queue: /nonexistent/pacer.conf: cannot open: No such file or directory" >err.exp &&
	test_cmp err.exp err &&
	test_expect_code 1 env PACER_CONF=/nonexistent/pacer.conf "$PACER_BIN" nodes 2>err &&
	echo "pacer nodes: /nonexistent/pacer.conf: cannot open: No such file or directory" >err.exp &&
	test_cmp err.exp err
'

test_expect_success 'PACER_CONF with a bad line: FILE:LINE: and the reason' '
	printf "[cluster]\nname = x\nthis is not ini\n" >bad.conf &&
	BAD=$(pwd)/bad.conf &&
	test_expect_code 1 env PACER_CONF="$BAD" "$PACER_BIN" queue >out 2>err &&
	test_must_be_empty out &&
	echo "pacer queue: $BAD:3: cannot parse this line (expected [section], key = value or a comment)" >err.exp &&
	test_cmp err.exp err
'

test_expect_success 'pacerctld and pacernoded refuse to start on a bad file: file and line' '
	test_expect_code 1 timeout 10 "$PACERCTLD_BIN" --conf "$BAD" --pidfile "$(pwd)/ctld.pid" >out 2>err &&
	grep -F -x "pacerctld: $BAD:3: cannot parse this line (expected [section], key = value or a comment)" err &&
	test ! -e ctld.pid &&
	test_expect_code 1 timeout 10 "$PACERNODED_BIN" --conf "$BAD" --name node1 \
		--pidfile "$(pwd)/noded.pid" >out 2>err &&
	grep -F -x "pacernoded: $BAD:3: cannot parse this line (expected [section], key = value or a comment)" err &&
	test ! -e noded.pid
'

# Cluster ----------------------------------------------------------------------------

test_expect_success 'setup: a 4-node cluster of 2 CPUs a node, and a test user' '
	start_cluster --nodes 4 --cpus $NODE_CPUS &&
	pacer nodes --noheader >nodes.out &&
	test_line_count = 4 nodes.out &&
	ensure_test_user &&
	user_dir work &&
	WORK=$(cd work && pwd -P) &&
	cp wait-go.sh work/ && chmod 0755 work/wait-go.sh &&
	PORT=$(sed -n "s/^controllers = 127\.0\.0\.1:\([0-9]*\)$/\1/p" "$PACER_CONF") &&
	test -n "$PORT"
'

test_expect_success 'a bad value or an unknown key in a real config: FILE:LINE:, daemons refuse' '
	sed "s/^heartbeat_interval = .*/heartbeat_interval = abc/" "$PACER_CONF" >hb.conf &&
	HB=$(pwd)/hb.conf &&
	n=$(grep -n "^heartbeat_interval" hb.conf | cut -d: -f1) &&
	test_expect_code 1 env PACER_CONF="$HB" "$PACER_BIN" queue 2>err &&
	grep -F -x "pacer queue: $HB:$n: bad heartbeat_interval '"'"'abc'"'"' (write seconds, optionally with s, m or h: 30, 30s, 5m, 1h)" err &&
	test_expect_code 1 timeout 10 "$PACERCTLD_BIN" --conf "$HB" 2>err &&
	grep -F "pacerctld: $HB:$n: bad heartbeat_interval" err &&
	sed "/^\[cluster\]/a bogus_key = 1" "$PACER_CONF" >key.conf &&
	KEY=$(pwd)/key.conf &&
	n=$(grep -n "^bogus_key" key.conf | cut -d: -f1) &&
	test_expect_code 1 env PACER_CONF="$KEY" "$PACER_BIN" nodes 2>err &&
	grep -F "pacer nodes: $KEY:$n: unknown key '"'"'bogus_key'"'"' in [cluster]" err &&
	test_expect_code 1 timeout 10 "$PACERNODED_BIN" --conf "$KEY" --name node1 2>err &&
	grep -F "pacernoded: $KEY:$n: unknown key '"'"'bogus_key'"'"' in [cluster]" err &&
	pacer nodes --noheader >nodes.out &&
	test_line_count = 4 nodes.out
'

test_expect_success '--conf wins over PACER_CONF' '
	env PACER_CONF=/nonexistent/pacer.conf "$PACER_BIN" --conf "$PACER_CONF" nodes --noheader >out &&
	test_line_count = 4 out &&
	test_expect_code 1 "$PACER_BIN" --conf "$BAD" nodes 2>err &&
	grep -F "$BAD:3:" err
'

# Queue ------------------------------------------------------------------------------

test_expect_success 'setup: finished, running and pending jobs of root and the test user' '
	C=$(submit -J cdone -o "$WORK/cdone-%j.out" --wrap "echo c") &&
	F=$(submit -J cfail --wrap "exit 3") &&
	wait_job_state $C COMPLETED &&
	wait_job_state $F FAILED &&
	R=$(submit -J rrun wait-go.sh) &&
	H=$(submit -J rheld --hold --wrap true) &&
	U=$(submit_as_user -J uheld --hold --wrap true) &&
	UR=$(submit_as_user -J urun wait-go.sh) &&
	wait_job_state $R RUNNING &&
	wait_job_state $UR RUNNING &&
	UID_T=$(id -u "$TEST_USER")
'

test_expect_success 'queue shows pending and running jobs only; --all every one' '
	ids >out &&
	printf "%s\n" $R $H $U $UR | sort -n >exp &&
	test_cmp exp out &&
	ids --all >out &&
	printf "%s\n" $C $F $R $H $U $UR | sort -n >exp &&
	test_cmp exp out &&
	ids -a >out &&
	test_cmp exp out
'

test_expect_success 'queue --user' '
	ids --user "$TEST_USER" >out &&
	printf "%s\n" $U $UR | sort -n >exp &&
	test_cmp exp out &&
	ids -u root >out &&
	printf "%s\n" $R $H | sort -n >exp &&
	test_cmp exp out &&
	ids --user "root,$TEST_USER" >out &&
	printf "%s\n" $R $H $U $UR | sort -n >exp &&
	test_cmp exp out &&
	ids --all --user root >out &&
	printf "%s\n" $C $F $R $H | sort -n >exp &&
	test_cmp exp out &&
	test_expect_code 1 pacer queue --user no-such-user-here 2>err &&
	grep -x "pacer queue: unknown user '"'"'no-such-user-here'"'"' (check the name with: id no-such-user-here)" err
'

test_expect_success 'queue --state (codes and names), finished states included' '
	ids --state PD >out &&
	printf "%s\n" $H $U | sort -n >exp &&
	test_cmp exp out &&
	ids --state RUNNING >out &&
	printf "%s\n" $R $UR | sort -n >exp &&
	test_cmp exp out &&
	ids -t R >out &&
	test_cmp exp out &&
	ids --state CD >out &&
	echo $C >exp &&
	test_cmp exp out &&
	ids --state failed,COMPLETED >out &&
	printf "%s\n" $C $F | sort -n >exp &&
	test_cmp exp out &&
	ids --state PD --user "$TEST_USER" >out &&
	echo $U >exp &&
	test_cmp exp out &&
	test_expect_code 1 pacer queue --state BOGUS 2>err &&
	grep "^pacer queue: unknown job state '"'"'BOGUS'"'"'" err
'

test_expect_success 'queue --job, finished jobs included' '
	ids --job $C >out &&
	echo $C >exp &&
	test_cmp exp out &&
	ids --job $R,$H >out &&
	printf "%s\n" $R $H | sort -n >exp &&
	test_cmp exp out &&
	ids -j 999999 >out &&
	test_must_be_empty out &&
	test_expect_code 1 pacer queue --job abc 2>err &&
	grep -x "pacer queue: invalid job id '"'"'abc'"'"' (a job id is a whole number like 42)" err
'

# Jobs come out in the order of their ids.
test_expect_success 'queue --format "%i %j %T %u": exact output, header included' '
	pacer queue --all --format "%i %j %T %u" >out &&
	cat >exp <<-EOF &&
	JOBID NAME STATE USER
	$C cdone COMPLETED root
	$F cfail FAILED root
	$R rrun RUNNING root
	$H rheld PENDING root
	$U uheld PENDING $TEST_USER
	$UR urun RUNNING $TEST_USER
	EOF
	test_cmp exp out &&
	pacer queue --all --noheader --format "%i %j %T %u" >out &&
	sed 1d exp >exp.nh &&
	test_cmp exp.nh out &&
	pacer queue --job $H,$U --noheader --format "%i|%t|%r|%P|%D|%C" >out &&
	printf "%s\n" "$H|PD|JobHeldUser|batch|1|1" "$U|PD|JobHeldUser|batch|1|1" >exp &&
	test_cmp exp out
'

test_expect_success 'queue --format with widths: %.6i right-aligns, %-8j left-aligns' '
	pacer queue --job $H --format "%.6i %-8j|" >out &&
	printf "%6s %-8s|\n" JOBID NAME $H rheld >exp &&
	test_cmp exp out &&
	test_expect_code 1 pacer queue --format "%Z" 2>err &&
	grep "^pacer queue: bad --format: " err
'

test_expect_success 'queue default format: squeue columns, exact for pending jobs' '
	pacer queue --state PD >out &&
	{
		printf "%18s %9s %8s %8s %2s %10s %6s %s\n" JOBID PARTITION NAME USER ST TIME \
			NODES "NODELIST(REASON)" &&
		printf "%18s %9s %8s %8s %2s %10s %6s %s\n" $H batch rheld root PD 0:00 1 \
			"(JobHeldUser)" &&
		printf "%18s %9s %8s %8s %2s %10s %6s %s\n" $U batch uheld pacertes PD 0:00 1 \
			"(JobHeldUser)"
	} >exp &&
	test_cmp exp out &&
	pacer queue --state PD --noheader >out2 &&
	sed 1d exp >exp2 &&
	test_cmp exp2 out2
'

test_expect_success 'queue --json: every listed job with its fields' '
	pacer queue --json >q.json &&
	test $(grep -c -E "^ *\"id\": [0-9]+,$" q.json) -eq 4 &&
	pacer queue --json --job $H >h.json &&
	head -n 1 h.json | grep -x "{" &&
	grep -E "^ *\"jobs\": \[$" h.json &&
	grep -E "^ *\"id\": $H,$" h.json &&
	grep -E "^ *\"name\": \"rheld\",$" h.json &&
	grep -E "^ *\"user\": \"root\",$" h.json &&
	grep -E "^ *\"state\": \"PENDING\",$" h.json &&
	grep -E "^ *\"reason\": \"JobHeldUser\",$" h.json &&
	grep -E "^ *\"held\": true,?$" h.json &&
	pacer queue --json --job 999999 >none.json &&
	test $(grep -c "\"id\"" none.json) -eq 0
'

test_expect_success PYTHON3 'queue --json parses as JSON, values exact' '
	json_rows q.json "sorted((j[\"id\"],) for j in d[\"jobs\"])" >out &&
	printf "%s\n" $R $H $U $UR | sort -n >exp &&
	test_cmp exp out &&
	json_rows h.json "[(j[\"id\"], j[\"name\"], j[\"user\"], j[\"state\"], j[\"held\"]) for j in d[\"jobs\"]]" >out &&
	echo "$H rheld root PENDING True" >exp &&
	test_cmp exp out &&
	json_rows none.json "[(len(d[\"jobs\"]),)]" >out &&
	echo 0 >exp &&
	test_cmp exp out
'

# show job -----------------------------------------------------------------------------

test_expect_success 'show job (text): id, name, user, state, exit code, nodes, times, outputs, requeues' '
	CNODE=$(pacer queue --job $C --noheader --format "%N") &&
	case $CNODE in node[1-4]) ;; *) false ;; esac &&
	pacer show job $C >show.out &&
	T="[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" &&
	grep -x "JobId=$C JobName=cdone" show.out &&
	grep -x "   UserId=root(0) GroupId=root(0)" show.out &&
	grep -x "   JobState=COMPLETED Reason=None" show.out &&
	grep -x "   ExitCode=0:0 RequeueCount=0" show.out &&
	grep -E -x "   SubmitTime=$T StartTime=$T EndTime=$T" show.out &&
	grep -x "   Partition=batch NodeList=$CNODE" show.out &&
	grep -F -x "   StdOut=$WORK/cdone-$C.out" show.out &&
	grep -F -x "   StdErr=$WORK/cdone-$C.out" show.out &&
	echo c >c.exp &&
	test_cmp c.exp "$WORK/cdone-$C.out"
'

test_expect_success 'show job (text): a failed job, a pending job, a job of the test user' '
	pacer show job $F >show.out &&
	grep -x "   JobState=FAILED Reason=.*" show.out &&
	grep -x "   ExitCode=3:0 RequeueCount=0" show.out &&
	grep -F -x "   StdOut=$WORK/pacer-$F.out" show.out &&
	pacer show job $H >show.out &&
	grep -x "   JobState=PENDING Reason=JobHeldUser" show.out &&
	grep -E -x "   SubmitTime=[0-9T:-]+ StartTime=N/A EndTime=N/A" show.out &&
	grep -x "   Partition=batch NodeList=(null)" show.out &&
	grep -F -x "   StdOut=$WORK/pacer-$H.out" show.out &&
	pacer show job $U >show.out &&
	grep -x "   UserId=$TEST_USER($UID_T) GroupId=.*" show.out
'

test_expect_success 'show job --json: the same fields' '
	pacer show job $C --json >c.json &&
	head -n 1 c.json | grep -x "{" &&
	grep -E "^  \"id\": $C,$" c.json &&
	grep -E "^    \"name\": \"cdone\",$" c.json &&
	grep -E "^  \"user\": \"root\",$" c.json &&
	grep -E "^  \"uid\": 0,$" c.json &&
	grep -E "^  \"state\": \"COMPLETED\",$" c.json &&
	grep -E "^  \"exit_code\": 0,$" c.json &&
	grep -E "^  \"term_signal\": null,$" c.json &&
	grep -E "^  \"requeue_count\": 0,$" c.json &&
	grep -E "^  \"submit_time\": [1-9][0-9]*,$" c.json &&
	grep -E "^  \"start_time\": [1-9][0-9]*,$" c.json &&
	grep -E "^  \"end_time\": [1-9][0-9]*,$" c.json &&
	grep -E "^      \"node\": \"$CNODE\",$" c.json &&
	grep -F -x "  \"stdout_path\": \"$WORK/cdone-$C.out\"," c.json &&
	grep -F -x "  \"stderr_path\": \"$WORK/cdone-$C.out\"," c.json &&
	pacer show job $F --json >f.json &&
	grep -E "^  \"exit_code\": 3,$" f.json &&
	grep -E "^  \"state\": \"FAILED\",$" f.json
'

test_expect_success PYTHON3 'show job --json parses, values exact' '
	json_rows c.json "[(d[\"id\"], d[\"spec\"][\"name\"], d[\"user\"], d[\"state\"], d[\"exit_code\"], d[\"requeue_count\"], d[\"submit_time\"] <= d[\"start_time\"] <= d[\"end_time\"])]" >out &&
	echo "$C cdone root COMPLETED 0 0 True" >exp &&
	test_cmp exp out &&
	json_rows c.json "[(a[\"node\"], a[\"cpus\"]) for a in d[\"alloc\"]]" >out &&
	echo "$CNODE 1" >exp &&
	test_cmp exp out &&
	json_rows c.json "[(d[\"stdout_path\"],), (d[\"stderr_path\"],)]" >out &&
	printf "%s\n" "$WORK/cdone-$C.out" "$WORK/cdone-$C.out" >exp &&
	test_cmp exp out &&
	pacer show job --json >all.json &&
	json_rows all.json "sorted((j[\"id\"],) for j in d[\"jobs\"])" >out &&
	printf "%s\n" $C $F $R $H $U $UR | sort -n >exp &&
	test_cmp exp out
'

test_expect_success 'show job without an id shows them all; unknown or bad ids are errors' '
	pacer show job >all.out &&
	test $(grep -c "^JobId=" all.out) -eq 6 &&
	test_expect_code 1 pacer show job 999999 >out 2>err &&
	test_must_be_empty out &&
	grep -x "pacer show job: job 999999 not found (.*)" err &&
	test_expect_code 1 pacer show job abc 2>err &&
	grep -x "pacer show job: invalid job id '"'"'abc'"'"' (a job id is a whole number like 42)" err &&
	test_expect_code 2 pacer show 2>err &&
	grep "^pacer show: what to show?" err &&
	test_expect_code 2 pacer show bogus 2>err &&
	grep "^pacer show: cannot show '"'"'bogus'"'"'" err
'

# Placement and scheduling options ---------------------------------------------------

test_expect_success 'submit with the placement options: the spec comes back in show job' '
	printf "node1\nnode2\n" >"$WORK/hosts" &&
	P=$(submit -J placed --hold -N 2 -n 4 --ntasks-per-node=2 --ntasks-per-socket=2 \
		--exclusive --mem-per-cpu=16 -w ./hosts -x node4 -m Cyclic:block \
		--cpu-bind=verbose,cores --hint=multithread --nice=5 -d singleton --wrap true) &&
	test_when_finished "cancel_jobs $P" &&
	pacer show job $P --json >p.json &&
	jq -r ".spec | [.ntasks_per_node, .ntasks_per_socket, .exclusive, .mem_per_cpu_mb,
		.nodelist, .exclude, .distribution, .cpu_bind, .multithread, .nice, .dependency]
		| map(tostring) | join(\" \")" p.json >out &&
	echo "2 2 true 16 node[1-2] node4 cyclic:block cores,verbose true 5 singleton" >exp &&
	test_cmp exp out &&
	pacer show job $P >show.out &&
	grep -x "   NumNodes=2 NumTasks=4 CPUs/Task=1 Mem=0" show.out &&
	grep -x "   MemPerCPU=16M NtasksPerNode=2 NtasksPerSocket=2 Exclusive=Yes Hint=multithread" show.out &&
	grep -x "   Gpus=0 GpusPerNode=0 Features=(null)" show.out &&
	grep -F -x "   ReqNodeList=node[1-2] ExcNodeList=node4" show.out &&
	grep -x "   Distribution=cyclic:block CpuBind=cores,verbose Nice=5" show.out &&
	grep -x "   Array=(null) ArrayTaskThrottle=0 Dependency=singleton" show.out &&
	pacer cancel $P &&
	wait_job_done $P
'

test_expect_success 'the options Pacer now implements draw no warning' '
	P=$(submit --hold --exclusive --array=0-1 -d singleton --nice --wrap true 2>err) &&
	test_when_finished "cancel_jobs $P" &&
	test_must_be_empty err &&
	pacer cancel $P &&
	wait_job_done $P &&
	P=$(submit --hold --requeue --wrap true 2>err) &&
	test_when_finished "cancel_jobs $P" &&
	echo "pacer submit: warning: --requeue is not supported yet and was ignored" >exp &&
	test_cmp exp err &&
	pacer cancel $P &&
	wait_job_done $P
'

# Arrays -------------------------------------------------------------------------------

test_expect_success 'an array: each task listed as ID_INDEX' '
	A=$(submit --hold --array=0-3%2 -J arr -o "$WORK/a-%A_%a.out" --wrap true) &&
	ids -j $A >out &&
	printf "%s\n" ${A}_0 ${A}_1 ${A}_2 ${A}_3 >exp &&
	test_cmp exp out &&
	pacer queue -j $A --noheader >out &&
	printf "%18s %9s %8s %8s %2s %10s %6s %s\n" ${A}_0 batch arr root PD 0:00 1 \
		"(JobHeldUser)" >exp &&
	head -n 1 out >first &&
	test_cmp exp first
'

test_expect_success 'queue -j, show job, hold and release take ID_INDEX and ID_[LIST]' '
	ids -j "${A}_[1,3]" >out &&
	printf "%s\n" ${A}_1 ${A}_3 >exp &&
	test_cmp exp out &&
	ids -j "${A}_2,${A}_0" >out &&
	printf "%s\n" ${A}_0 ${A}_2 >exp &&
	test_cmp exp out &&
	T2=$(pacer show job ${A}_2 --json | jq .id) &&
	pacer queue -j ${A}_2 --noheader --format "%i %A %F %K %T %r" >out &&
	echo "${A}_2 $T2 $A 2 PENDING JobHeldUser" >exp &&
	test_cmp exp out &&
	pacer show job ${A}_1 >show.out &&
	grep -x "JobId=[0-9]* ArrayJobId=$A ArrayTaskId=1 JobName=arr" show.out &&
	grep -x "   Array=0-3%2 ArrayTaskThrottle=2 Dependency=(null)" show.out &&
	grep -F -x "   StdOut=$WORK/a-${A}_1.out" show.out &&
	pacer show job $A --json | jq -r ".jobs[] | [.array_job_id, .array_task_id] | map(tostring)
		| join(\"_\")" >out &&
	printf "%s\n" ${A}_0 ${A}_1 ${A}_2 ${A}_3 >exp &&
	test_cmp exp out &&
	pacer queue -j $A --json | jq -r ".jobs[] | [.array_job_id, .array_task_id] | map(tostring)
		| join(\"_\")" >out &&
	test_cmp exp out &&
	pacer release "${A}_[0-1]" &&
	wait_job_state ${A}_0 COMPLETED &&
	wait_job_state ${A}_1 COMPLETED &&
	test "$(job_state ${A}_2)" = PENDING
'

# The last test of the array ${A} ends it, whatever happened before.
test_expect_success 'cancel one task, a list of tasks, a whole array; a task that is not there' '
	test_when_finished "cancel_jobs $A" &&
	pacer cancel ${A}_2 &&
	wait_job_state ${A}_2 CANCELLED &&
	test "$(job_state ${A}_3)" = PENDING &&
	pacer cancel "${A}_[3]" &&
	wait_job_state ${A}_3 CANCELLED &&
	B=$(submit --hold --array=1-3 --wrap true) &&
	test_when_finished "cancel_jobs $B" &&
	pacer cancel $B &&
	wait_job_done $B &&
	pacer queue -j $B --noheader --format "%i %T" >out &&
	printf "%s CANCELLED\n" ${B}_1 ${B}_2 ${B}_3 >exp &&
	test_cmp exp out &&
	test_expect_code 1 pacer cancel ${A}_9 2>err &&
	grep "^pacer cancel: .*${A}_9" err &&
	test_line_count = 1 err &&
	test_expect_code 1 pacer cancel "${A}_[2-1]" 2>err &&
	echo "pacer cancel: invalid array task ${SQ}${A}_[2-1]${SQ} (write one task as 42_7, several as 42_[1-3,5])" >exp &&
	test_cmp exp err
'

test_expect_success 'queue --start: pending jobs and their expected start, squeue --start columns' '
	S=$(submit --hold -J later --wrap true) &&
	test_when_finished "cancel_jobs $S" &&
	pacer queue --start >out &&
	head -n 1 out | awk "{print \$1, \$2, \$3, \$4, \$5, \$6, \$7, \$8}" >hdr &&
	echo "JOBID PARTITION NAME USER ST START_TIME NODES NODELIST(REASON)" >hdr.exp &&
	test_cmp hdr.exp hdr &&
	grep -E "^ +$S +batch +later +root +PD +N/A +1 \(JobHeldUser\)$" out &&
	test_must_fail grep -E " R " out &&
	pacer cancel $S &&
	wait_job_done $S
'

# The jobs of the setup above end here, whatever happened in between.
test_expect_success 'finish the running jobs' '
	test_when_finished "cancel_jobs $R $H $U $UR" &&
	touch "$WORK/go-$R" "$WORK/go-$UR" &&
	wait_job_state $R COMPLETED &&
	wait_job_state $UR COMPLETED &&
	pacer cancel $H $U &&
	wait_jobs_done $H $U &&
	pacer queue --noheader >out &&
	test_must_be_empty out
'

# nodes --------------------------------------------------------------------------------

# node_states: "name state alloc/total" of every node.
node_states() { pacer nodes --noheader | awk "{print \$1, \$2, \$3}"; }

test_expect_success 'nodes: 4 lines, all idle, with a header' '
	wait_nodes_idle &&
	node_states >out &&
	printf "node%s idle 0/2\n" 1 2 3 4 >exp &&
	test_cmp exp out &&
	pacer nodes >out &&
	test_line_count = 5 out &&
	head -n 1 out | awk "{print \$1, \$2, \$3, \$4, \$5, \$6, \$7, \$8, \$9}" >hdr &&
	echo "NODELIST STATE CPUS(A/T) S:C:T MEMORY(A/T) GPUS(A/T) FEATURES PARTITIONS REASON" >hdr.exp &&
	test_cmp hdr.exp hdr
'

test_expect_success 'nodes: mixed under a 1-CPU job, allocated when full' '
	wait_nodes_idle &&
	A=$(submit -J one-cpu -n 1 wait-go.sh) &&
	wait_job_state $A RUNNING &&
	ANODE=$(pacer queue --job $A --noheader --format "%N") &&
	node_states >out &&
	for i in 1 2 3 4; do
		if [ node$i = "$ANODE" ]; then echo "node$i mixed 1/2"; else echo "node$i idle 0/2"; fi
	done >exp &&
	test_cmp exp out &&
	B=$(submit -J three-nodes -N 3 -n 6 wait-go.sh) &&
	wait_job_state $B RUNNING &&
	node_states >out &&
	for i in 1 2 3 4; do
		if [ node$i = "$ANODE" ]; then echo "node$i mixed 1/2"; else echo "node$i allocated 2/2"; fi
	done >exp &&
	test_cmp exp out
'

test_expect_success 'show node NAME: state, CPUs, partition and its jobs' '
	pacer show node $ANODE >out &&
	grep -x "NodeName=$ANODE State=MIXED" out &&
	grep -x "   CPUTot=2 CPUAlloc=1 RealMemory=[0-9]* AllocMem=0" out &&
	grep -x "   Partitions=batch" out &&
	grep -x "   Jobs=$A" out &&
	test $(grep -c "^NodeName=" out) -eq 1 &&
	pacer show node >all.out &&
	test $(grep -c "^NodeName=" all.out) -eq 4 &&
	test_expect_code 1 pacer show node nosuchnode 2>err &&
	grep -x "pacer show node: node nosuchnode .* (pacer nodes lists them)" err
'

# layout_cores FILE: how many cores the runs of a show node layout list.
layout_cores() {
	sed -n "s/^        cores* \([0-9-]*\) (PUs .*/\1/p" "$1" |
		awk -F- "{ n += (NF == 2 ? \$2 - \$1 + 1 : 1) } END { print n + 0 }"
}

test_expect_success 'show node NAME: the layout, every core once, the job on its core' '
	pacer show node $ANODE >out &&
	grep -E "^   Layout: " out &&
	grep -E "^    Package [0-9]+:$" out &&
	grep -E "^      NUMA [0-9]+ \(nodeset [0-9,-]+\): memory [0-9]+M, PUs [0-9,-]+" out &&
	pacer show node $ANODE --json >a.json &&
	test "$(layout_cores out)" = "$(jq .cores a.json)" &&
	test "$(jq ".layout.cores | length" a.json)" = "$(jq .cores a.json)" &&
	grep -E "^        cores? [0-9-]+ \(PUs [0-9,-]+\): job $A$" out >held &&
	test_line_count = 1 held &&
	held_pus=$(sed -n "s/.*(PUs \([0-9,-]*\)).*/\1/p" held) &&
	test "$(jq -r .cpuset_alloc a.json)" = "$held_pus" &&
	test "$(jq "[.layout.cores[] | select(.jobs == [$A])] | length" a.json)" = \
		"$(jq .cores_alloc a.json)"
'

test_expect_success 'nodes: S:C:T and GPUs agree with the JSON' '
	pacer nodes --noheader | awk "{print \$1, \$4, \$6}" >out &&
	pacer nodes --json | jq -r ".nodes[] | \"\(.name) \(.sockets):\(.cores / .sockets):\(.threads) \(.gpus_alloc)/\(.gpus)\"" >exp &&
	test_cmp exp out
'

test_expect_success 'nodes --json and show node --json' '
	pacer nodes --json >n.json &&
	test $(grep -c -E "^ *\"name\": \"node[1-4]\",$" n.json) -eq 4 &&
	test $(grep -c -E "^ *\"cpus\": 2,$" n.json) -eq 4 &&
	test $(grep -c -E "^ *\"cpus_alloc\": 2,$" n.json) -eq 3 &&
	test $(grep -c -E "^ *\"cpus_alloc\": 1,$" n.json) -eq 1 &&
	pacer show node $ANODE --json >a.json &&
	grep -E "^  \"name\": \"$ANODE\",$" a.json &&
	grep -E "^  \"cpus_alloc\": 1,$" a.json
'

test_expect_success PYTHON3 'nodes --json parses, values exact' '
	json_rows n.json "[(n[\"name\"], n[\"cpus\"], n[\"cpus_alloc\"], \",\".join(n[\"partitions\"])) for n in d[\"nodes\"]]" >out &&
	for i in 1 2 3 4; do
		if [ node$i = "$ANODE" ]; then echo "node$i 2 1 batch"; else echo "node$i 2 2 batch"; fi
	done >exp &&
	test_cmp exp out &&
	json_rows a.json "[(d[\"name\"], d[\"cpus_alloc\"], d[\"jobs\"])]" >out &&
	echo "$ANODE 1 [$A]" >exp &&
	test_cmp exp out
'

# The jobs $A and $B of the node tests above end here, whatever happened.
test_expect_success 'nodes are idle again once the jobs end' '
	test_when_finished "cancel_jobs $A $B" &&
	touch "$WORK/go-$A" "$WORK/go-$B" &&
	wait_job_state $A COMPLETED &&
	wait_job_state $B COMPLETED &&
	node_states >out &&
	printf "node%s idle 0/2\n" 1 2 3 4 >exp &&
	test_cmp exp out
'

# The controller down or hung ------------------------------------------------------------

test_expect_success 'controller down: pacer fails at once with "cannot reach controller at HOST:PORT"' '
	KEEP=$(submit -J kept --hold --wrap true) &&
	pid=$(ctld_pid) &&
	kill $pid &&
	i=0 && while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done &&
	test_must_fail kill -0 $pid 2>/dev/null &&
	test_expect_code 1 timeout 10 "$PACER_BIN" queue >out 2>err &&
	test_must_be_empty out &&
	grep -F "pacer queue: cannot reach controller at 127.0.0.1:$PORT" err &&
	test_line_count = 1 err &&
	test_expect_code 1 timeout 10 "$PACER_BIN" submit --wrap true >out 2>err &&
	test_must_be_empty out &&
	grep -F "pacer submit: cannot reach controller at 127.0.0.1:$PORT" err &&
	test_expect_code 1 timeout 10 "$PACER_BIN" cancel $KEEP 2>err &&
	grep -F "pacer cancel: cannot reach controller at 127.0.0.1:$PORT" err &&
	test_expect_code 1 timeout 10 "$PACER_BIN" nodes 2>err &&
	grep -F "pacer nodes: cannot reach controller at 127.0.0.1:$PORT" err
'

test_expect_success 'the controller restarted: pacer works again, the held job is still there' '
	restart_ctld &&
	pacer queue --job $KEEP --noheader --format "%i %T %r" >out &&
	echo "$KEEP PENDING JobHeldUser" >exp &&
	test_cmp exp out
'

test_expect_success 'controller hung (SIGSTOP): pacer gives up within seconds, naming it' '
	pid=$(ctld_pid) &&
	kill -STOP $pid &&
	test_when_finished "kill -CONT $pid" &&
	test_expect_code 1 timeout 10 "$PACER_BIN" queue >out 2>err &&
	test_must_be_empty out &&
	grep -F "controller at 127.0.0.1:$PORT" err &&
	test_line_count = 1 err
'

test_expect_success 'the controller continued: pacer works again' '
	test_when_finished "cancel_jobs $KEEP" &&
	pacer queue --job $KEEP --noheader --format "%i %T" >out &&
	echo "$KEEP PENDING" >exp &&
	test_cmp exp out &&
	pacer cancel $KEEP &&
	wait_job_done $KEEP
'

test_stop_cluster
test_done
