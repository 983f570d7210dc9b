/* listener.c — accept loop on a uv_poll, adoption into lws. */
#include "listener.h"
#include "connguard.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 4096

#define PAUSE_MS 100

static struct {
    int fd;
    uv_poll_t poll;
    uv_timer_t pause;
    bool polling;
    struct lws_vhost *vhost;
    bool guard; /* connguard sees the bytes: plain connections only */
} L = {.fd = -1};

static void on_readable(uv_poll_t *h, int status, int events);

static void on_resume(uv_timer_t *t)
{
    (void)t;
    if (L.polling)
        uv_poll_start(&L.poll, UV_READABLE, on_readable);
}

/* Out of descriptors: the pending connection stays in the backlog, and polling it again at
 * once would spin. Pause, and say so once per pause. */
static void pause_accepting(void)
{
    log_warn("accept paused: out of file descriptors", "{s:s,s:i}", "error", strerror(errno),
             "pause_ms", PAUSE_MS);
    uv_poll_stop(&L.poll);
    uv_timer_start(&L.pause, on_resume, PAUSE_MS, 0);
}

/* Once offered to lws the descriptor is lws's even when adoption fails (a TLS handshake that
 * fails at once: plain HTTP, a client already gone): lws closes it, from a uv close callback
 * after this accept loop has run. Closing it here as well would close the connection that the
 * next accept4 gets under the same number, while libuv is about to watch it. */
static void adopt(int fd)
{
    if (L.guard && connguard_watch(fd) != 0) {
        close(fd);
        return;
    }
    if (!lws_adopt_socket_vhost(L.vhost, fd))
        connguard_forget(fd); /* lws logs why */
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)h;
    (void)events;
    if (status < 0)
        return;
    for (;;) {
        int fd = accept4(L.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting();
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_warn("accept failed", "{s:s}", "error", strerror(errno));
            return;
        }
        /* small answers must not wait for the peer's delayed ACK (Nagle) */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        adopt(fd);
    }
}

static int open_one(const struct addrinfo *ai, bool reuseport, bool do_listen)
{
    int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one)) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || (do_listen && listen(fd, BACKLOG))) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A bind without SO_REUSEPORT first: it fails if any socket holds the port, so the group
 * below can never join sockets of another process. */
int listener_open(const char *host, int port, int n, int *fds)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0 || !res) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    int probe = open_one(res, false, false), i = 0;
    if (probe >= 0) {
        close(probe);
        for (; i < n && (fds[i] = open_one(res, true, true)) >= 0; i++)
            ;
    }
    int e = errno;
    freeaddrinfo(res);
    if (probe >= 0 && i == n)
        return 0;
    while (i > 0)
        close(fds[--i]);
    errno = e;
    return -1;
}

int listener_start(uv_loop_t *loop, int fd, struct lws_vhost *vhost, bool guard)
{
    L.vhost = vhost;
    L.guard = guard;
    L.fd = fd;
    if (uv_poll_init(loop, &L.poll, L.fd) != 0) {
        close(L.fd);
        L.fd = -1;
        return -1;
    }
    uv_timer_init(loop, &L.pause);
    L.polling = true;
    uv_poll_start(&L.poll, UV_READABLE, on_readable);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    (void)h;
    close(L.fd);
    L.fd = -1;
}

void listener_stop(void)
{
    if (!L.polling)
        return;
    L.polling = false;
    uv_timer_stop(&L.pause);
    uv_close((uv_handle_t *)&L.pause, NULL);
    uv_poll_stop(&L.poll);
    uv_close((uv_handle_t *)&L.poll, on_closed);
}
