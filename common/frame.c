/* frame.c - length-prefixed protobuf frames. */
#include "frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timefmt.h"

int frame_pack(Pacer__Msg *msg, size_t max, uint8_t **buf, size_t *len)
{
	msg->version = PACER_PROTO_VERSION;
	size_t body = pacer__msg__get_packed_size(msg);
	if (body == 0 || body > max || body > UINT32_MAX) {
		errno = E2BIG;
		return -1;
	}
	uint8_t *b = malloc(FRAME_HEADER + body);
	if (!b)
		return -1;
	b[0] = (uint8_t)(body >> 24);
	b[1] = (uint8_t)(body >> 16);
	b[2] = (uint8_t)(body >> 8);
	b[3] = (uint8_t)body;
	pacer__msg__pack(msg, b + FRAME_HEADER);
	*buf = b;
	*len = FRAME_HEADER + body;
	return 0;
}

int frame_length(const uint8_t hdr[FRAME_HEADER], size_t max, uint32_t *len)
{
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
		     (uint32_t)hdr[3];
	/* A Msg always holds at least its version, so an empty body is garbage. */
	if (n == 0 || n > max) {
		errno = EMSGSIZE;
		return -1;
	}
	*len = n;
	return 0;
}

static void release(ProtobufCAllocator *allocator, void *p)
{
	if (!p)
		return;
	if (allocator)
		allocator->free(allocator->allocator_data, p);
	else
		free(p); /* protobuf-c's default allocator is malloc's */
}

size_t frame_strip_unknown(ProtobufCMessage *msg, ProtobufCAllocator *allocator)
{
	if (!msg)
		return 0;
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	uint8_t *base = (uint8_t *)msg;
	size_t dropped = msg->n_unknown_fields;
	for (unsigned f = 0; f < d->n_fields; f++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[f];
		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t set; /* the oneof's case: the field number it holds */
			memcpy(&set, base + fd->quantifier_offset, sizeof(set));
			if (set != fd->id)
				continue;
		}
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n;
			ProtobufCMessage **v;
			memcpy(&n, base + fd->quantifier_offset, sizeof(n));
			memcpy(&v, base + fd->offset, sizeof(v));
			for (size_t i = 0; i < n && v; i++)
				dropped += frame_strip_unknown(v[i], allocator);
		} else {
			ProtobufCMessage *sub;
			memcpy(&sub, base + fd->offset, sizeof(sub));
			if (sub != fd->default_value)
				dropped += frame_strip_unknown(sub, allocator);
		}
	}
	for (unsigned i = 0; i < msg->n_unknown_fields; i++)
		release(allocator, msg->unknown_fields[i].data);
	if (msg->unknown_fields)
		release(allocator, msg->unknown_fields);
	msg->unknown_fields = NULL;
	msg->n_unknown_fields = 0;
	return dropped;
}

Pacer__Msg *frame_unpack(const uint8_t *body, size_t len)
{
	Pacer__Msg *msg = pacer__msg__unpack(NULL, len, body);
	if (!msg) {
		errno = EBADMSG;
		return NULL;
	}
	/* An unknown oneof member unpacks as NOT_SET: a peer speaking a body
	 * type we do not know, which we must refuse rather than guess at. */
	if (msg->version != PACER_PROTO_VERSION || msg->body_case == PACER__MSG__BODY__NOT_SET) {
		pacer__msg__free_unpacked(msg, NULL);
		errno = EPROTO;
		return NULL;
	}
	frame_strip_unknown(&msg->base, NULL);
	return msg;
}

const char *frame_type_name(Pacer__Msg__BodyCase type)
{
	switch (type) {
	case PACER__MSG__BODY_CHALLENGE: return "challenge";
	case PACER__MSG__BODY_HELLO: return "hello";
	case PACER__MSG__BODY_WELCOME: return "welcome";
	case PACER__MSG__BODY_ERROR: return "error";
	case PACER__MSG__BODY_OK: return "ok";
	case PACER__MSG__BODY_SUBMIT: return "submit";
	case PACER__MSG__BODY_SUBMIT_REPLY: return "submit-reply";
	case PACER__MSG__BODY_QUEUE: return "queue";
	case PACER__MSG__BODY_QUEUE_REPLY: return "queue-reply";
	case PACER__MSG__BODY_CANCEL: return "cancel";
	case PACER__MSG__BODY_CANCEL_REPLY: return "cancel-reply";
	case PACER__MSG__BODY_HOLD: return "hold";
	case PACER__MSG__BODY_HOLD_REPLY: return "hold-reply";
	case PACER__MSG__BODY_NODES: return "nodes";
	case PACER__MSG__BODY_NODES_REPLY: return "nodes-reply";
	case PACER__MSG__BODY_DIAG: return "diag";
	case PACER__MSG__BODY_DIAG_REPLY: return "diag-reply";
	case PACER__MSG__BODY_NODE_REGISTER: return "node-register";
	case PACER__MSG__BODY_REGISTER_ACK: return "register-ack";
	case PACER__MSG__BODY_HEARTBEAT: return "heartbeat";
	case PACER__MSG__BODY_LAUNCH: return "launch";
	case PACER__MSG__BODY_SIGNAL: return "signal";
	case PACER__MSG__BODY_JOB_ENDED: return "job-ended";
	case PACER__MSG__BODY_JOB_ENDED_ACK: return "job-ended-ack";
	case PACER__MSG__BODY_LAUNCH_STEP: return "launch-step";
	case PACER__MSG__BODY_STEP_ENDED: return "step-ended";
	case PACER__MSG__BODY_SIGNAL_STEP: return "signal-step";
	case PACER__MSG__BODY_STEP_CREATE: return "step-create";
	case PACER__MSG__BODY_STEP_CREATE_REPLY: return "step-create-reply";
	case PACER__MSG__BODY_IO_HELLO: return "io-hello";
	case PACER__MSG__BODY_IO_DATA: return "io-data";
	case PACER__MSG__BODY_IO_SIGNAL: return "io-signal";
	case PACER__MSG__BODY_IO_EXIT: return "io-exit";
	case PACER__MSG__BODY_IO_DONE: return "io-done";
	case PACER__MSG__BODY_IO_WIREUP: return "io-wireup";
	case PACER__MSG__BODY_FENCE_HELLO: return "fence-hello";
	case PACER__MSG__BODY_FENCE: return "fence";
	case PACER__MSG__BODY_SUP_SETUP: return "supervisor-setup";
	case PACER__MSG__BODY_SUP_ATTACH: return "supervisor-attach";
	case PACER__MSG__BODY_SUP_STATE: return "supervisor-state";
	default: return "unknown";
	}
}

/* Wait for FD to become ready for EVENTS before DEADLINE (monotonic ms). */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = timefmt_monotonic_ms();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		uint64_t left = deadline - now;
		struct pollfd p = { .fd = fd, .events = events };
		int rc = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

static int write_all(int fd, const uint8_t *buf, size_t len, uint64_t deadline)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int read_all(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
	while (len > 0) {
		/* Poll first so the deadline holds on a blocking socket too. */
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return -1;
		ssize_t n = read(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == 0) {
			errno = ECONNRESET;
			return -1;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(fd, POLLIN, deadline) < 0)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

int frame_write_fd(int fd, Pacer__Msg *msg, int timeout_ms)
{
	uint8_t *buf;
	size_t len;
	if (frame_pack(msg, FRAME_MAX_REPLY, &buf, &len) < 0)
		return -1;
	int rc = write_all(fd, buf, len, timefmt_monotonic_ms() + (uint64_t)timeout_ms);
	int saved = errno;
	free(buf);
	errno = saved;
	return rc;
}

int frame_write2_fd(int fd, Pacer__Msg *first, Pacer__Msg *second, int timeout_ms)
{
	uint8_t *a, *b, *both;
	size_t alen, blen;
	if (frame_pack(first, FRAME_MAX_REPLY, &a, &alen) < 0)
		return -1;
	if (frame_pack(second, FRAME_MAX_REPLY, &b, &blen) < 0) {
		free(a);
		return -1;
	}
	both = realloc(a, alen + blen);
	if (!both) {
		free(a);
		free(b);
		return -1;
	}
	memcpy(both + alen, b, blen);
	free(b);
	int rc = write_all(fd, both, alen + blen, timefmt_monotonic_ms() + (uint64_t)timeout_ms);
	int saved = errno;
	free(both);
	errno = saved;
	return rc;
}

int frame_read_fd(int fd, size_t max, Pacer__Msg **msgp, int timeout_ms)
{
	uint64_t deadline = timefmt_monotonic_ms() + (uint64_t)timeout_ms;
	uint8_t hdr[FRAME_HEADER];
	uint32_t len;
	if (read_all(fd, hdr, sizeof(hdr), deadline) < 0 || frame_length(hdr, max, &len) < 0)
		return -1;
	uint8_t *body = malloc(len);
	if (!body)
		return -1;
	Pacer__Msg *msg = NULL;
	if (read_all(fd, body, len, deadline) == 0)
		msg = frame_unpack(body, len);
	int saved = errno;
	free(body);
	errno = saved;
	if (!msg)
		return -1;
	*msgp = msg;
	return 0;
}
