/* rpc.h - requests from `pacer` (submit, queue, cancel, hold, nodes). */
#ifndef PACER_RPC_H
#define PACER_RPC_H

#include <stdint.h>

/* Listen for clients on HOST:PORT.  0 or -1 with errno (logged). */
int rpc_listen(const char *host, uint16_t port);

/* Stop listening and drop every client. */
void rpc_shutdown(void);

#endif
