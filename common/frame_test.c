/* frame_test.c - framing: pack, length checks, unpack, blocking I/O. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "frame.h"

static void test_roundtrip(void **state)
{
	(void)state;
	Pacer__SubmitReply r = PACER__SUBMIT_REPLY__INIT;
	r.job_id = 4242;
	Pacer__Msg m = PACER__MSG__INIT;
	m.seq = 7;
	m.body_case = PACER__MSG__BODY_SUBMIT_REPLY;
	m.submit_reply = &r;
	uint8_t *buf;
	size_t len;
	assert_int_equal(frame_pack(&m, FRAME_MAX_REQUEST, &buf, &len), 0);
	uint32_t body;
	assert_int_equal(frame_length(buf, FRAME_MAX_REQUEST, &body), 0);
	assert_int_equal(body + FRAME_HEADER, len);
	Pacer__Msg *u = frame_unpack(buf + FRAME_HEADER, body);
	assert_non_null(u);
	assert_int_equal(u->version, PACER_PROTO_VERSION);
	assert_int_equal(u->seq, 7);
	assert_int_equal(u->body_case, PACER__MSG__BODY_SUBMIT_REPLY);
	assert_int_equal(u->submit_reply->job_id, 4242);
	pacer__msg__free_unpacked(u, NULL);
	free(buf);
}

static void test_length_limits(void **state)
{
	(void)state;
	uint32_t len;
	const uint8_t zero[4] = { 0, 0, 0, 0 };
	const uint8_t big[4] = { 0x7f, 0xff, 0xff, 0xff };
	const uint8_t ok[4] = { 0, 0, 1, 0 };
	assert_int_equal(frame_length(zero, 1024, &len), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(frame_length(big, FRAME_MAX_REQUEST, &len), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(frame_length(ok, 256, &len), 0);
	assert_int_equal(len, 256);
	assert_int_equal(frame_length(ok, 255, &len), -1);
}

static void test_pack_too_big(void **state)
{
	(void)state;
	Pacer__Ok ok = PACER__OK__INIT;
	ok.message = "0123456789012345678901234567890123456789";
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_OK;
	m.ok = &ok;
	uint8_t *buf;
	size_t len;
	assert_int_equal(frame_pack(&m, 16, &buf, &len), -1);
	assert_int_equal(errno, E2BIG);
}

static void test_garbage(void **state)
{
	(void)state;
	const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02 };
	assert_null(frame_unpack(junk, sizeof(junk)));
	assert_int_equal(errno, EBADMSG);
}

static void test_version_and_unknown_type(void **state)
{
	(void)state;
	/* version 99 */
	const uint8_t v99[] = { 0x08, 99, 0x72, 0x00 };
	assert_null(frame_unpack(v99, sizeof(v99)));
	assert_int_equal(errno, EPROTO);
	/* version 1 and a field 99 the schema does not know: no body */
	const uint8_t unknown[] = { 0x08, 0x01, 0x9a, 0x06, 0x00 };
	assert_null(frame_unpack(unknown, sizeof(unknown)));
	assert_int_equal(errno, EPROTO);
}

/* The submit of tests/fuzz/reproducers/submit-jobspec-overlong-tag0.frame
 * (without its 4-byte header): a JobSpec {name "x", workdir "/tmp", a
 * script} followed by an unknown field whose number 0 is written in two
 * bytes (80 00), value 1. */
static const uint8_t overlong_tag0[] = {
	0x08, 0x01, 0x10, 0x01, 0xa2, 0x01, 0x1f, 0x0a, 0x1d, 0x0a, 0x01, 0x78, 0x42,
	0x04, 0x2f, 0x74, 0x6d, 0x70, 0x5a, 0x0f, 0x23, 0x21, 0x2f, 0x62, 0x69, 0x6e,
	0x2f, 0x73, 0x68, 0x0a, 0x74, 0x72, 0x75, 0x65, 0x0a, 0x80, 0x00, 0x01,
};

static void test_overlong_tag0(void **state)
{
	(void)state;
	/* protobuf-c 1.4.1 takes it and keeps the field; a fixed protobuf-c
	 * may refuse the frame outright, and frame_unpack must then too. */
	Pacer__Msg *raw = pacer__msg__unpack(NULL, sizeof(overlong_tag0), overlong_tag0);
	Pacer__Msg *u = frame_unpack(overlong_tag0, sizeof(overlong_tag0));
	if (!raw) {
		assert_null(u);
		assert_int_equal(errno, EBADMSG);
		return;
	}
	assert_int_equal(raw->submit->spec->base.n_unknown_fields, 1);
	pacer__msg__free_unpacked(raw, NULL);

	assert_non_null(u);
	assert_int_equal(u->body_case, PACER__MSG__BODY_SUBMIT);
	const Pacer__JobSpec *s = u->submit->spec;
	assert_int_equal(s->base.n_unknown_fields, 0);
	assert_null(s->base.unknown_fields);
	assert_string_equal(s->name, "x");
	assert_string_equal(s->workdir, "/tmp");
	assert_int_equal(s->script.len, 15);
	assert_memory_equal(s->script.data, "#!/bin/sh\ntrue\n", 15);
	/* What a daemon stores or forwards of it decodes again. */
	uint8_t *buf;
	size_t len;
	assert_int_equal(frame_pack(u, FRAME_MAX_REQUEST, &buf, &len), 0);
	Pacer__Msg *again = frame_unpack(buf + FRAME_HEADER, len - FRAME_HEADER);
	assert_non_null(again);
	assert_string_equal(again->submit->spec->name, "x");
	pacer__msg__free_unpacked(again, NULL);
	free(buf);
	size_t sl = pacer__job_spec__get_packed_size(s);
	uint8_t *sb = malloc(sl);
	assert_non_null(sb);
	pacer__job_spec__pack(s, sb);
	Pacer__JobSpec *back = pacer__job_spec__unpack(NULL, sl, sb);
	assert_non_null(back);
	pacer__job_spec__free_unpacked(back, NULL);
	free(sb);
	pacer__msg__free_unpacked(u, NULL);
}

/* A QueueReply of two full jobs, each with its spec and two allocations:
 * messages inside a oneof member, in repeated fields and in fields. */
struct tree {
	Pacer__Msg msg;
	Pacer__QueueReply reply;
	Pacer__Job job[2], *jobp[2];
	Pacer__JobSpec spec[2];
	Pacer__NodeAlloc alloc[2][2], *allocp[2][2];
};

static void tree_init(struct tree *t)
{
	pacer__msg__init(&t->msg);
	pacer__queue_reply__init(&t->reply);
	t->msg.version = PACER_PROTO_VERSION;
	t->msg.seq = 5;
	t->msg.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	t->msg.queue_reply = &t->reply;
	t->reply.now = 1234;
	t->reply.n_full = 2;
	t->reply.full = t->jobp;
	for (int i = 0; i < 2; i++) {
		pacer__job__init(&t->job[i]);
		pacer__job_spec__init(&t->spec[i]);
		t->jobp[i] = &t->job[i];
		t->job[i].id = 10 + (uint32_t)i;
		t->job[i].spec = &t->spec[i];
		t->spec[i].name = i ? "second" : "first";
		t->job[i].n_alloc = 2;
		t->job[i].alloc = t->allocp[i];
		for (int k = 0; k < 2; k++) {
			pacer__node_alloc__init(&t->alloc[i][k]);
			t->allocp[i][k] = &t->alloc[i][k];
			t->alloc[i][k].node = k ? "n2" : "n1";
			t->alloc[i][k].cpus = 4;
		}
	}
}

static uint8_t *pack_msg(const Pacer__Msg *m, size_t *len)
{
	*len = pacer__msg__get_packed_size(m);
	uint8_t *b = malloc(*len);
	assert_non_null(b);
	assert_int_equal(pacer__msg__pack(m, b), *len);
	return b;
}

/* The tree with unknown fields at every depth, packed: 7 of them. */
static uint8_t *pack_with_unknowns(size_t *len)
{
	static uint8_t varint5[] = { 0x05 }, text[] = { 0x03, 'x', 'y', 'z' };
	static ProtobufCMessageUnknownField v99 = { 99, PROTOBUF_C_WIRE_TYPE_VARINT, 1, varint5 };
	static ProtobufCMessageUnknownField two[] = {
		{ 77, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED, 4, text },
		{ 1000, PROTOBUF_C_WIRE_TYPE_VARINT, 1, varint5 },
	};
	struct tree t;
	tree_init(&t);
	ProtobufCMessage *at[] = { &t.msg.base, &t.reply.base, &t.job[1].base, &t.spec[0].base,
				   &t.alloc[1][1].base };
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		at[i]->n_unknown_fields = 1;
		at[i]->unknown_fields = &v99;
	}
	t.alloc[0][0].base.n_unknown_fields = 2;
	t.alloc[0][0].base.unknown_fields = two;
	uint8_t *b = pack_msg(&t.msg, len);
	return b;
}

static void test_strip_every_depth(void **state)
{
	(void)state;
	struct tree t;
	tree_init(&t);
	size_t clean_len, dirty_len;
	uint8_t *clean = pack_msg(&t.msg, &clean_len);
	uint8_t *dirty = pack_with_unknowns(&dirty_len);
	assert_true(dirty_len > clean_len);

	/* protobuf-c keeps them all... */
	Pacer__Msg *raw = pacer__msg__unpack(NULL, dirty_len, dirty);
	assert_non_null(raw);
	assert_int_equal(raw->queue_reply->full[0]->alloc[0]->base.n_unknown_fields, 2);
	assert_int_equal(raw->queue_reply->full[1]->alloc[1]->base.n_unknown_fields, 1);
	assert_int_equal(frame_strip_unknown(&raw->base, NULL), 7);
	assert_int_equal(frame_strip_unknown(&raw->base, NULL), 0);
	pacer__msg__free_unpacked(raw, NULL);

	/* ...frame_unpack keeps none: packed again, it is the tree as it was
	 * before any unknown field was added, byte for byte. */
	Pacer__Msg *u = frame_unpack(dirty, dirty_len);
	assert_non_null(u);
	size_t again_len;
	uint8_t *again = pack_msg(u, &again_len);
	assert_int_equal(again_len, clean_len);
	assert_memory_equal(again, clean, clean_len);
	assert_string_equal(u->queue_reply->full[1]->spec->name, "second");
	assert_string_equal(u->queue_reply->full[1]->alloc[1]->node, "n2");
	pacer__msg__free_unpacked(u, NULL);
	free(again);
	free(clean);
	free(dirty);
}

/* An allocator that counts, to show that stripping frees with the
 * message's allocator and that free_unpacked then frees the rest, once. */
struct counts {
	size_t allocs, frees;
};

static void *count_alloc(void *data, size_t size)
{
	((struct counts *)data)->allocs++;
	return malloc(size);
}

static void count_free(void *data, void *p)
{
	((struct counts *)data)->frees++;
	free(p);
}

static void test_strip_with_allocator(void **state)
{
	(void)state;
	struct counts c = { 0, 0 };
	ProtobufCAllocator a = { count_alloc, count_free, &c };
	size_t len;
	uint8_t *dirty = pack_with_unknowns(&len);
	Pacer__Msg *m = pacer__msg__unpack(&a, len, dirty);
	assert_non_null(m);
	size_t before = c.frees;
	assert_int_equal(frame_strip_unknown(&m->base, &a), 7);
	/* 7 fields' data and 6 arrays of them */
	assert_int_equal(c.frees - before, 13);
	pacer__msg__free_unpacked(m, &a);
	assert_int_equal(c.frees, c.allocs);
	free(dirty);
}

static void test_fd_io(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	Pacer__Ok ok = PACER__OK__INIT;
	ok.message = "hello";
	Pacer__Msg m = PACER__MSG__INIT;
	m.seq = 3;
	m.body_case = PACER__MSG__BODY_OK;
	m.ok = &ok;
	assert_int_equal(frame_write_fd(sv[0], &m, 1000), 0);
	Pacer__Msg *u = NULL;
	assert_int_equal(frame_read_fd(sv[1], FRAME_MAX_REPLY, &u, 1000), 0);
	assert_string_equal(u->ok->message, "hello");
	pacer__msg__free_unpacked(u, NULL);
	/* nothing more arrives: the read times out */
	assert_int_equal(frame_read_fd(sv[1], FRAME_MAX_REPLY, &u, 50), -1);
	assert_int_equal(errno, ETIMEDOUT);
	/* the peer closes: reset */
	close(sv[0]);
	assert_int_equal(frame_read_fd(sv[1], FRAME_MAX_REPLY, &u, 1000), -1);
	assert_int_equal(errno, ECONNRESET);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_pack_too_big),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_version_and_unknown_type),
		cmocka_unit_test(test_overlong_tag0),
		cmocka_unit_test(test_strip_every_depth),
		cmocka_unit_test(test_strip_with_allocator),
		cmocka_unit_test(test_fd_io),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
