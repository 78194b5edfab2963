/* fuzz_frame.c - what arrives on a daemon's socket: a stream of frames,
 * each decoded as the daemons do (frame_length, frame_unpack), then what
 * the controller does next with it that needs no live peer:
 *
 *   - every message it accepts must pack again into bytes that decode
 *     again, to the same bytes: the controller journals and forwards what
 *     it received (a submit's JobSpec goes to the journal as it came), and
 *     a journal record that does not decode stops the next restart;
 *   - a submit goes through the controller's checks on a small cluster
 *     (ctld_setup.h), and when accepted is packed as the journal record
 *     do_submit writes, which must decode.
 *
 * Input: bytes as read from the socket, any number of frames; the first
 * that the daemon would refuse ends the connection, and the input.
 *
 * PACER_FUZZ_SKIP_KNOWN=1 in the environment skips messages that reach a
 * known bug (tests/fuzz/known-failing) so that fuzzing can go past it: an
 * unknown field numbered 0, which protobuf-c 1.4 accepts but cannot pack
 * back.  Remove the knob with the fix.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "arrayspec.h"
#include "conf.h"
#include "ctld.h"
#include "depspec.h"
#include "frame.h"
#include "fuzz.h"
#include "ctld_setup.h"
#include "sched.h"

/* Does M, or a message inside it, hold an unknown field numbered 0? */
static bool has_tag0(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	for (unsigned f = 0; f < d->n_fields; f++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[f];
		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)(base + fd->quantifier_offset) != fd->id)
			continue;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(const void *)(base + fd->quantifier_offset);
			ProtobufCMessage *const *v =
			    *(ProtobufCMessage *const *const *)(const void *)(base + fd->offset);
			for (size_t k = 0; k < n; k++)
				if (has_tag0(v[k]))
					return true;
		} else {
			const ProtobufCMessage *sub =
			    *(const ProtobufCMessage *const *)(const void *)(base + fd->offset);
			if (sub && has_tag0(sub))
				return true;
		}
	}
	return false;
}

/* M packs into a frame that decodes, and whose decoding packs the same. */
static void check_repack(Pacer__Msg *m)
{
	uint8_t *buf, *buf2;
	size_t len, len2;
	uint32_t body;

	FUZZ_CHECK(frame_pack(m, FRAME_MAX_REPLY, &buf, &len) == 0, "%s does not pack again: %s",
		   frame_type_name(m->body_case), strerror(errno));
	FUZZ_CHECK(frame_length(buf, FRAME_MAX_REPLY, &body) == 0 && body == len - FRAME_HEADER,
		   "header of a packed %s", frame_type_name(m->body_case));
	Pacer__Msg *again = frame_unpack(buf + FRAME_HEADER, body);
	FUZZ_CHECK(again != NULL,
		   "an accepted %s packs into %zu bytes that do not decode (%s): a daemon would "
		   "journal or forward what it cannot read back%s",
		   frame_type_name(m->body_case), len, strerror(errno),
		   has_tag0(&m->base) ? " (it holds an unknown field numbered 0)" : "");
	FUZZ_CHECK(again->body_case == m->body_case && again->seq == m->seq, "%s changed",
		   frame_type_name(m->body_case));
	FUZZ_CHECK(frame_pack(again, FRAME_MAX_REPLY, &buf2, &len2) == 0 && len2 == len &&
		       memcmp(buf, buf2, len) == 0,
		   "a %s packs differently the second time", frame_type_name(m->body_case));
	pacer__msg__free_unpacked(again, NULL);
	free(buf);
	free(buf2);
}

/* The journal record do_submit (ctld/rpc.c) writes for S: it must decode. */
static void check_submit_record(Pacer__JobSpec *s, const struct conf_partition *part)
{
	char *asked = s->partition;
	s->partition = part->name;
	Pacer__Job j = PACER__JOB__INIT;
	j.id = 1;
	j.uid = 1000;
	j.gid = 1000;
	j.user = "alice";
	j.spec = s;
	j.state = PACER__JOB_STATE__JOB_PENDING;
	j.reason = s->hold ? "JobHeldUser" : "Priority";
	j.submit_time = 1;
	j.held = s->hold;
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_SUBMIT;
	rec.job_submit = &j;
	rec.epoch = 1;
	rec.seq = 2;
	size_t len = pacer__journal_record__get_packed_size(&rec);
	uint8_t *buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf != NULL, "out of memory");
	pacer__journal_record__pack(&rec, buf);
	s->partition = asked;
	Pacer__JournalRecord *back = pacer__journal_record__unpack(NULL, len, buf);
	FUZZ_CHECK(back != NULL,
		   "an accepted submit is journaled as a record that does not decode: the "
		   "controller would not restart");
	FUZZ_CHECK(back->op_case == PACER__JOURNAL_RECORD__OP_JOB_SUBMIT && back->job_submit &&
		       back->job_submit->spec,
		   "the journaled submit lost its job");
	pacer__journal_record__free_unpacked(back, NULL);
	free(buf);
}

/* What the controller checks on a submit, as far as public functions
 * reach: sched_check (partition, sizes, feasibility on the nodes), then
 * the --array and --dependency grammars as check_scheduling runs them. */
static void check_submit(Pacer__SubmitRequest *req)
{
	const struct conf_partition *part = NULL;
	char why[512];
	Pacer__JobSpec *s = req->spec;

	if (!s)
		return;
	/* INTEGRATION: ctld/rpc.c's check_spec() (script, workdir, name) and
	 * check_scheduling() (nice, array, dependency, ids) are static there.
	 * Once rpc.h exposes them, call them here in do_submit's order
	 * (check_spec, sched_check, check_scheduling), and drop the parser
	 * calls below that check_scheduling then makes itself. */
	if (sched_check(s, &part, why, sizeof(why)) < 0) {
		FUZZ_CHECK(why[0] && errno == EINVAL, "submit refused without a reason");
		return;
	}
	FUZZ_CHECK(part != NULL && s->ntasks >= 1 && s->cpus_per_task >= 1,
		   "accepted with %u tasks of %u CPUs", s->ntasks, s->cpus_per_task);
	if (*s->array) {
		uint32_t *idx, max_running;
		size_t n;
		if (arrayspec_parse(s->array, &idx, &n, &max_running, why, sizeof(why)) < 0)
			return;
		free(idx);
		s->array_max_running = max_running;
	}
	if (*s->dependency) {
		struct depspec_term *deps;
		uint16_t n;
		bool any, single;
		if (depspec_parse(s->dependency, &deps, &n, &any, &single, why, sizeof(why)) < 0)
			return;
		free(deps);
	}
	check_submit_record(s, part);
}

static void check_msg(Pacer__Msg *m)
{
	static int skip_known = -1;

	if (skip_known < 0)
		skip_known = getenv("PACER_FUZZ_SKIP_KNOWN") != NULL;
	if (skip_known && has_tag0(&m->base))
		return;
	FUZZ_CHECK(strcmp(frame_type_name(m->body_case), "unknown") != 0,
		   "body type %d accepted but has no name", (int)m->body_case);
	check_repack(m);
	if (m->body_case == PACER__MSG__BODY_SUBMIT)
		check_submit(m->submit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	size_t off = 0;

	if (!ready++) {
		fuzz_ctld_init();
		fuzz_ctld_nodes_up();
	}
	while (size - off >= FRAME_HEADER) {
		uint32_t len;
		if (frame_length(data + off, FRAME_MAX_REQUEST, &len) < 0) {
			FUZZ_CHECK(errno == EMSGSIZE, "bad length refused with errno %d", errno);
			break;
		}
		off += FRAME_HEADER;
		if (len > size - off)
			break; /* the peer has not sent it all */
		Pacer__Msg *m = frame_unpack(data + off, len);
		off += len;
		if (!m) {
			FUZZ_CHECK(errno == EBADMSG || errno == EPROTO,
				   "bad frame refused with errno %d", errno);
			break;
		}
		check_msg(m);
		pacer__msg__free_unpacked(m, NULL);
	}
	return 0;
}
