/* fuzz_frame.c - what arrives on a daemon's socket: a stream of frames,
 * each decoded as the daemons do (frame_length, frame_unpack), then what
 * the controller does next with it that needs no live peer:
 *
 *   - every message it accepts must pack again into bytes that decode
 *     again, to the same bytes, with no unknown field left (frame_unpack
 *     drops them: protobuf-c 1.4 accepts some it cannot pack back);
 *   - a submit goes through the controller's checks (ctld/submit.c) on a
 *     small cluster (ctld_setup.h), and when accepted is packed as the
 *     journal record do_submit writes, which must decode.
 *
 * Input: bytes as read from the socket, any number of frames; the first
 * that the daemon would refuse ends the connection, and the input.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctld.h"
#include "frame.h"
#include "fuzz.h"
#include "ctld_setup.h"
#include "submit.h"

/* M packs into a frame that decodes, and whose decoding packs the same. */
static void check_repack(Pacer__Msg *m)
{
	uint8_t *buf, *buf2;
	size_t len, len2;
	uint32_t body;

	FUZZ_CHECK(frame_strip_unknown(&m->base, NULL) == 0,
		   "frame_unpack left unknown fields in a %s", frame_type_name(m->body_case));
	FUZZ_CHECK(frame_pack(m, FRAME_MAX_REPLY, &buf, &len) == 0, "%s does not pack again: %s",
		   frame_type_name(m->body_case), strerror(errno));
	FUZZ_CHECK(frame_length(buf, FRAME_MAX_REPLY, &body) == 0 && body == len - FRAME_HEADER,
		   "header of a packed %s", frame_type_name(m->body_case));
	Pacer__Msg *again = frame_unpack(buf + FRAME_HEADER, body);
	FUZZ_CHECK(again != NULL,
		   "an accepted %s packs into %zu bytes that do not decode (%s): a daemon would "
		   "journal or forward what it cannot read back",
		   frame_type_name(m->body_case), len, strerror(errno));
	FUZZ_CHECK(again->body_case == m->body_case && again->seq == m->seq, "%s changed",
		   frame_type_name(m->body_case));
	FUZZ_CHECK(frame_pack(again, FRAME_MAX_REPLY, &buf2, &len2) == 0 && len2 == len &&
		       memcmp(buf, buf2, len) == 0,
		   "a %s packs differently the second time", frame_type_name(m->body_case));
	pacer__msg__free_unpacked(again, NULL);
	free(buf);
	free(buf2);
}

/* What the controller does with a submit (ctld/submit.c, as do_submit
 * calls it): the checks, then the record it would journal, which must
 * decode again or the controller would never restart. */
static void check_submit(Pacer__SubmitRequest *req)
{
	const struct submitter who = { .uid = 1000, .gid = 1000, .user = "alice" };
	struct submit sub;
	char why[1024];

	if (!req->spec)
		return;
	if (submit_check(&who, req->spec, &sub, why, sizeof(why)) < 0) {
		FUZZ_CHECK(why[0] && (errno == EINVAL || errno == EPERM),
			   "submit refused without a reason (errno %d)", errno);
		return;
	}
	FUZZ_CHECK(sub.parts.n >= 1 && sub.ntasks >= 1 && req->spec->ntasks >= 1 &&
		       req->spec->cpus_per_task >= 1,
		   "accepted with %zu partitions, %u jobs, %u tasks of %u CPUs", sub.parts.n,
		   sub.ntasks, req->spec->ntasks, req->spec->cpus_per_task);
	Pacer__Job j;
	submit_job(&who, &sub, 1, 1, 1, &j);
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_SUBMIT;
	rec.job_submit = &j;
	rec.epoch = 1;
	rec.seq = 2;
	size_t len = pacer__journal_record__get_packed_size(&rec);
	uint8_t *buf = malloc(len ? len : 1);
	FUZZ_CHECK(buf != NULL, "out of memory");
	pacer__journal_record__pack(&rec, buf);
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

static void check_msg(Pacer__Msg *m)
{
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
