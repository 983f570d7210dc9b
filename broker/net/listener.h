/* listener.h — the listening sockets are ours, not lws's (lws 4.1 cannot share a port between
 * processes). The parent opens one per worker before forking, bound to the same port with
 * SO_REUSEPORT so that the kernel spreads connections evenly; each worker accepts from its
 * own and hands every connection to lws with lws_adopt_socket_vhost, watched by connguard. */
#ifndef CR_LISTENER_H
#define CR_LISTENER_H
#include <libwebsockets.h>
#include <stdbool.h>
#include <uv.h>

/* Opens n listening sockets on host:port into fds. A port that anything else holds (another
 * broker with workers included) fails with EADDRINUSE. Returns 0, or -1 with errno set. */
int listener_open(const char *host, int port, int n, int *fds);
/* Starts accepting from the socket into vhost; guard: connguard watches each connection (its
 * checks read plaintext, so not over TLS, where OpenSSL reads the socket). Returns 0, or -1. */
int listener_start(uv_loop_t *loop, int fd, struct lws_vhost *vhost, bool guard);
/* Stops accepting; connections already adopted stay. */
void listener_stop(void);

#endif
