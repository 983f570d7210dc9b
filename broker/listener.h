/* listener.h — the listening socket is ours, not lws's: it is opened with SO_REUSEPORT so
 * that several workers share one port (lws 4.1 sets only SO_REUSEADDR), and every accepted
 * connection is handed to lws with lws_adopt_socket_vhost. */
#ifndef CR_LISTENER_H
#define CR_LISTENER_H
#include <libwebsockets.h>
#include <uv.h>

/* Binds host:port and starts accepting into vhost. Returns 0, or -1 with errno set. */
int listener_start(uv_loop_t *loop, const char *host, int port, struct lws_vhost *vhost);
/* Stops accepting; connections already adopted stay. */
void listener_stop(void);

#endif
