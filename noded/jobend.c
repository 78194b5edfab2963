/* jobend.c - a job's end on a node (see jobend.h). */
#include "jobend.h"

#include <string.h>

void jobend_copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void jobend_to_msg(const struct job_end *e, Pacer__JobEnded *msg)
{
	pacer__job_ended__init(msg);
	msg->job_id = e->job_id;
	msg->state = (Pacer__JobState)e->state;
	msg->exit_code = e->exit_code;
	msg->term_signal = e->term_signal;
	msg->end_time = e->end_time;
	msg->reason = (char *)e->reason;
}

void jobend_from_msg(struct job_end *e, const Pacer__JobEnded *msg)
{
	memset(e, 0, sizeof(*e));
	e->job_id = msg->job_id;
	e->state = msg->state;
	e->exit_code = msg->exit_code;
	e->term_signal = msg->term_signal;
	e->end_time = msg->end_time;
	jobend_copy_str(e->reason, sizeof(e->reason), msg->reason);
}

void jobend_to_step_msg(const struct job_end *e, const char *node, Pacer__StepEnded *msg)
{
	pacer__step_ended__init(msg);
	msg->job_id = e->job_id;
	msg->step_id = e->step_id;
	msg->node = (char *)node;
	msg->state = (Pacer__JobState)e->state;
	msg->exit_code = e->exit_code;
	msg->term_signal = e->term_signal;
	msg->end_time = e->end_time;
	msg->reason = (char *)e->reason;
	msg->aborted = e->aborted;
	msg->aborted_rank = e->aborted_rank;
}

void jobend_from_step_msg(struct job_end *e, const Pacer__StepEnded *msg)
{
	memset(e, 0, sizeof(*e));
	e->job_id = msg->job_id;
	e->is_step = true;
	e->step_id = msg->step_id;
	e->state = msg->state;
	e->exit_code = msg->exit_code;
	e->term_signal = msg->term_signal;
	e->end_time = msg->end_time;
	e->aborted = msg->aborted;
	e->aborted_rank = msg->aborted_rank;
	jobend_copy_str(e->reason, sizeof(e->reason), msg->reason);
}

const char *jobend_state_name(int state)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&pacer__job_state__descriptor, state);

	return v && strncmp(v->name, "JOB_", 4) == 0 ? v->name + 4 : "?";
}
