#!/bin/sh
test_description='submit, queue and show on a real 4-node cluster'
. "$(dirname "$0")/lib.sh"

test_expect_success 'start a cluster of 4 nodes' '
	start_cluster --nodes 4 &&
	pacer nodes --noheader >nodes.out &&
	test_line_count = 4 nodes.out
'

test_expect_success 'a wrapped command runs and writes pacer-ID.out' '
	user_dir work &&
	(cd work &&
	 id=$(pacer submit --parsable --wrap "echo hello \$PACER_JOB_ID") &&
	 wait_job_state $id COMPLETED &&
	 echo "hello $id" >expect &&
	 test_cmp expect pacer-$id.out)
'

test_expect_success 'submit prints Submitted job N' '
	pacer submit --wrap true >out &&
	grep -E "^Submitted job [0-9]+$" out &&
	wait_job_done "$(sed "s/^Submitted job //" out)"
'

test_stop_cluster
test_done
