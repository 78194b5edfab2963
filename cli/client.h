/* client.h - one request to the cluster's controller.
 *
 * The CLI is blocking and short-lived: it connects to the first controller
 * of pacer.conf that answers (2 s each at most), proves its user with a
 * munge credential bound to the controller's challenge, sends one request
 * and waits for one reply.
 */
#ifndef PACER_CLI_CLIENT_H
#define PACER_CLI_CLIENT_H

#include <stddef.h>

#include "conf.h"
#include "pacer.pb-c.h"

/* How long one controller may take to accept a connection. */
#define CLIENT_CONNECT_MS 2000
/* How long the challenge and the welcome may take once connected. */
#define CLIENT_HANDSHAKE_MS 5000
/* How long a reply may take unless $PACER_TIMEOUT says otherwise. */
#define CLIENT_TIMEOUT_S 60

/* The request timeout in ms from the value of $PACER_TIMEOUT (seconds;
 * NULL or "" = CLIENT_TIMEOUT_S).  0, or -1 with EINVAL and ERR set. */
int client_timeout_ms(const char *env, int *ms, char *err, size_t errlen);

/* Send REQ (its seq is set to 1) to the controller and wait up to
 * TIMEOUT_MS for the reply.  0 with *REPLY set (free it with
 * pacer__msg__free_unpacked), or -1 with errno and ERR holding one line.
 * A reply of type Error is -1 with errno its code (EIO when 0) and ERR its
 * message.  No controller reachable: ERR is "cannot reach controller at
 * HOST:PORT: REASON (is pacerctld running? check controllers in FILE)",
 * naming every address tried. */
int client_call(const struct conf *conf, Pacer__Msg *req, int timeout_ms, Pacer__Msg **reply,
		char *err, size_t errlen);

/* As client_call, but for a request whose reply may take long (a step
 * waiting for cores): once the controller welcomed us and has REQ, *FD is
 * the connection (non-blocking, close-on-exec) and the caller reads the reply
 * with client_read_reply, or closes FD to drop the request.  0, or -1 with
 * errno and ERR as client_call. */
int client_start(const struct conf *conf, Pacer__Msg *req, int *fd, char *err, size_t errlen);

/* Read the reply to client_start's request on FD within TIMEOUT_MS: as
 * client_call (an Error reply is -1 with its code and message).  FD stays
 * open. */
int client_read_reply(int fd, int timeout_ms, Pacer__Msg **reply, char *err, size_t errlen);

#endif
