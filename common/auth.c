/* auth.c - munge credentials bound to one connection (see auth.h). */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <munge.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define AUTH_MAGIC "pacer1"

struct auth {
	munge_ctx_t ctx;
	char *socket;
};

struct auth *auth_create(const char *socket)
{
	struct auth *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->ctx = munge_ctx_create();
	if (!a->ctx)
		goto failed;
	if (socket) {
		a->socket = strdup(socket);
		if (!a->socket || munge_ctx_set(a->ctx, MUNGE_OPT_SOCKET, socket) != EMUNGE_SUCCESS)
			goto failed;
	}
	return a;
failed:
	auth_destroy(a);
	errno = ENOMEM;
	return NULL;
}

void auth_destroy(struct auth *a)
{
	if (!a)
		return;
	if (a->ctx)
		munge_ctx_destroy(a->ctx);
	free(a->socket);
	free(a);
}

int auth_nonce(uint8_t nonce[AUTH_NONCE_LEN])
{
	size_t got = 0;
	while (got < AUTH_NONCE_LEN) {
		ssize_t n = getrandom(nonce + got, AUTH_NONCE_LEN - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The payload a credential must carry; fields are NUL-separated so no field
 * can be forged by embedding a separator in another (names have no NUL). */
static int payload(const char *cluster, const char *service, const uint8_t *snonce,
		   const uint8_t *cnonce, char *buf, size_t size, size_t *len)
{
	char sh[2 * AUTH_NONCE_LEN + 1], ch[2 * AUTH_NONCE_LEN + 1];
	hex(snonce, AUTH_NONCE_LEN, sh);
	hex(cnonce, AUTH_NONCE_LEN, ch);
	int n = snprintf(buf, size, "%s%c%s%c%s%c%s%c%s", AUTH_MAGIC, 0, cluster, 0, service, 0, sh,
			 0, ch);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

static const char *sock_name(const struct auth *a)
{
	return a->socket ? a->socket : "the default munge socket";
}

int auth_encode(struct auth *a, const char *cluster, const char *service,
		const uint8_t server_nonce[AUTH_NONCE_LEN],
		const uint8_t client_nonce[AUTH_NONCE_LEN], char **cred, char *err, size_t errlen)
{
	char buf[512];
	size_t len;
	if (payload(cluster, service, server_nonce, client_nonce, buf, sizeof(buf), &len) < 0) {
		snprintf(err, errlen, "cluster or service name too long");
		return -1;
	}
	char *c = NULL;
	munge_err_t e = munge_encode(&c, a->ctx, buf, (int)len);
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "cannot get a munge credential from munged at %s: %s",
			 sock_name(a), munge_ctx_strerror(a->ctx));
		free(c);
		errno = e == EMUNGE_SOCKET ? ECONNREFUSED : EACCES;
		return -1;
	}
	*cred = c;
	return 0;
}

int auth_decode(struct auth *a, const char *cred, const char *cluster, const char *service,
		const uint8_t server_nonce[AUTH_NONCE_LEN],
		const uint8_t client_nonce[AUTH_NONCE_LEN], uid_t *uid, gid_t *gid, char *err,
		size_t errlen)
{
	char want[512];
	size_t wantlen;
	void *got = NULL;
	int gotlen = 0;
	uid_t u;
	gid_t g;

	if (payload(cluster, service, server_nonce, client_nonce, want, sizeof(want), &wantlen) <
	    0) {
		snprintf(err, errlen, "cluster or service name too long");
		return -1;
	}
	/* On a replayed or expired credential munge still fills in uid, gid and
	 * payload: the return code is the only verdict. */
	munge_err_t e = munge_decode(cred, a->ctx, &got, &gotlen, &u, &g);
	if (e != EMUNGE_SUCCESS) {
		snprintf(err, errlen, "munge credential refused: %s", munge_strerror(e));
		errno = e == EMUNGE_SOCKET ? ECONNREFUSED : EACCES;
		goto failed;
	}
	if (gotlen < 0 || (size_t)gotlen != wantlen || memcmp(got, want, wantlen) != 0) {
		snprintf(err, errlen,
			 "munge credential was made for another cluster, service or "
			 "connection");
		errno = EACCES;
		goto failed;
	}
	free(got);
	*uid = u;
	*gid = g;
	return 0;
failed:
	free(got);
	return -1;
}
