/* frame.h - Pacer's wire framing: a 4-byte big-endian length, then one
 * packed pacer.Msg (proto/pacer.proto).
 *
 * Both blocking code (the CLI) and libevent code (the daemons) use these
 * helpers, so the framing rules live in one place.
 */
#ifndef PACER_FRAME_H
#define PACER_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "pacer.pb-c.h"

/* Bumped when an old peer could not understand a new one at all. */
#define PACER_PROTO_VERSION 1

/* Largest frame a daemon accepts from a peer (a 4 MiB script plus its
 * environment fits with room to spare). */
#define FRAME_MAX_REQUEST (16u << 20)
/* Largest frame a client accepts (a queue listing of many jobs). */
#define FRAME_MAX_REPLY (256u << 20)

#define FRAME_HEADER 4

/* Pack MSG (its version is set here) into a new buffer holding header and
 * body.  0 with *BUF (malloc'd) and *LEN set, or -1 with errno (E2BIG when
 * larger than MAX). */
int frame_pack(Pacer__Msg *msg, size_t max, uint8_t **buf, size_t *len);

/* Read the body length from a 4-byte header.  0, or -1 with EMSGSIZE when
 * it exceeds MAX or is zero. */
int frame_length(const uint8_t hdr[FRAME_HEADER], size_t max, uint32_t *len);

/* Unpack a body.  The Msg (free with pacer__msg__free_unpacked(msg, NULL)),
 * or NULL with errno: EBADMSG when it is not a valid Msg, EPROTO on a
 * version mismatch or an unknown body type.
 *
 * The Msg comes back with no unknown field at any depth (see
 * frame_strip_unknown): what a peer sent beyond the fields this build knows
 * never reaches a daemon's state or its journal. */
Pacer__Msg *frame_unpack(const uint8_t *body, size_t len);

/* Drop the unknown fields of MSG and of every message inside it (message
 * fields, repeated message fields, the member a oneof holds), freed with
 * ALLOCATOR, the one MSG was unpacked with (NULL: protobuf-c's default).
 * Returns how many were dropped.  MSG's free_unpacked frees the rest as
 * before.  protobuf-c keeps an unknown field as it read it and packs it
 * back from its own reading, which may not decode again (a field number 0
 * written in two bytes comes back as one byte, which unpack refuses), so no
 * such field may ever be stored.  Pacer's schema is not recursive: the depth
 * is bounded. */
size_t frame_strip_unknown(ProtobufCMessage *msg, ProtobufCAllocator *allocator);

/* A one-word name for a body type, for logs ("submit", "heartbeat"). */
const char *frame_type_name(Pacer__Msg__BodyCase type);

/* Blocking helpers for clients: write a whole frame / read one frame,
 * waiting at most TIMEOUT_MS in total (monotonic).  0 or -1 with errno
 * (ETIMEDOUT, ECONNRESET, EMSGSIZE...).  *MSGP from frame_read is freed
 * with pacer__msg__free_unpacked. */
int frame_write_fd(int fd, Pacer__Msg *msg, int timeout_ms);
/* Two frames in one write: a client sends its Hello and its request
 * together, saving a round trip (the server reads them in order and drops
 * the request when it refuses the Hello). */
int frame_write2_fd(int fd, Pacer__Msg *first, Pacer__Msg *second, int timeout_ms);
int frame_read_fd(int fd, size_t max, Pacer__Msg **msgp, int timeout_ms);

#endif
