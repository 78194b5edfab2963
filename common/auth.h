/* auth.h - munge credentials bound to one connection.
 *
 * The accepting side sends a random nonce (Challenge).  The connecting side
 * encodes a munge credential whose payload is
 *     "pacer1" NUL cluster NUL service NUL hex(server nonce) NUL hex(client nonce)
 * so a credential proves who the user is AND that it was made for this very
 * connection to this service of this cluster: replaying it elsewhere, or on
 * another connection, fails even across munged daemons with separate replay
 * caches.  The server may answer with its own credential bound to the
 * client's nonce (mutual authentication, used between daemons).
 */
#ifndef PACER_AUTH_H
#define PACER_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AUTH_NONCE_LEN 16

struct auth;

/* A context using the munged at SOCKET (NULL = libmunge's default).
 * NULL with errno on failure. */
struct auth *auth_create(const char *socket);
void auth_destroy(struct auth *a);

/* Fill NONCE with AUTH_NONCE_LEN random bytes.  0 or -1. */
int auth_nonce(uint8_t nonce[AUTH_NONCE_LEN]);

/* Encode a credential for SERVICE of CLUSTER, bound to the two nonces.
 * 0 with *CRED (malloc'd string) set, or -1 with errno and ERR filled
 * (e.g. "cannot reach munged at /run/munge/munge.socket.2: ..."). */
int auth_encode(struct auth *a, const char *cluster, const char *service,
		const uint8_t server_nonce[AUTH_NONCE_LEN],
		const uint8_t client_nonce[AUTH_NONCE_LEN], char **cred, char *err, size_t errlen);

/* Decode and check CRED: valid, not replayed, not expired, and bound to
 * exactly these cluster, service and nonces.  0 with *UID and *GID set, or
 * -1 with errno (EACCES for any credential that must be refused) and ERR
 * saying why. */
int auth_decode(struct auth *a, const char *cred, const char *cluster, const char *service,
		const uint8_t server_nonce[AUTH_NONCE_LEN],
		const uint8_t client_nonce[AUTH_NONCE_LEN], uid_t *uid, gid_t *gid, char *err,
		size_t errlen);

#endif
