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
		cmocka_unit_test(test_fd_io),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
