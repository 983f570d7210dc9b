/* connguard.c — lws 4.1 reads plain sockets with recv() (lib/core-net/output.c). This recv
 * takes the place of libc's for the whole process, as an executable's symbols come first
 * in the dynamic linker's lookup; it makes the same system call and shows the bytes of
 * watched descriptors to connscan, so that a head is checked before lws parses it, at no
 * cost in system calls. A refused head is answered on the socket here and lws is told the
 * connection failed; a duplicate of the descriptor reads what the client still sends until
 * it closes, so that the kernel does not reset the connection over the answer. Over TLS
 * terminated by the broker the bytes read are ciphertext: the checks need TLS to end in
 * front of it. */
#include "connguard.h"
#include "connscan.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DRAIN_MS 2000

typedef struct drain {
    uv_poll_t poll;
    uv_timer_t timer;
    int fd, open_handles;
    struct drain *next, **prev;
} drain;

typedef struct watched {
    connscan scan;
    void *owner;
    unsigned answered; /* final answers written */
    bool closing;      /* a refused head waits behind unanswered requests */
} watched;

static struct {
    uv_loop_t *loop;
    bool (*on_unmasked)(void *owner);
    watched **scan; /* indexed by descriptor */
    size_t cap;
    drain *drains;
} G;

int connguard_init(uv_loop_t *loop, bool (*on_unmasked)(void *owner))
{
    G.loop = loop;
    G.on_unmasked = on_unmasked;
    return 0;
}

static void on_drain_closed(uv_handle_t *h)
{
    drain *d = h->data;
    if (--d->open_handles == 0) {
        close(d->fd);
        free(d);
    }
}

static void drain_end(drain *d)
{
    *d->prev = d->next;
    if (d->next)
        d->next->prev = d->prev;
    uv_close((uv_handle_t *)&d->poll, on_drain_closed);
    uv_close((uv_handle_t *)&d->timer, on_drain_closed);
}

static void on_drain_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    drain *d = p->data;
    char sink[4096];
    ssize_t n = status < 0 ? 0 : syscall(SYS_recvfrom, d->fd, sink, sizeof sink, 0, NULL, NULL);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        drain_end(d);
}

static void on_drain_timeout(uv_timer_t *t) { drain_end(t->data); }

static void drain_start(int fd)
{
    drain *d = G.loop ? calloc(1, sizeof *d) : NULL;
    int dup_fd = d ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (dup_fd < 0 || uv_poll_init(G.loop, &d->poll, dup_fd) != 0) {
        if (dup_fd >= 0)
            close(dup_fd);
        free(d);
        return;
    }
    d->fd = dup_fd;
    uv_timer_init(G.loop, &d->timer);
    d->poll.data = d->timer.data = d;
    d->open_handles = 2;
    d->next = G.drains;
    d->prev = &G.drains;
    if (G.drains)
        G.drains->prev = &d->next;
    G.drains = d;
    uv_poll_start(&d->poll, UV_READABLE, on_drain_readable);
    uv_timer_start(&d->timer, on_drain_timeout, DRAIN_MS, 0);
}

static const char *reason(int status)
{
    return status == 414   ? "URI Too Long"
           : status == 431 ? "Request Header Fields Too Large"
           : status == 503 ? "Service Unavailable"
                           : "Bad Request";
}

static void refuse(int fd, const http_head *why)
{
    char body[256], out[512];
    int bl = snprintf(body, sizeof body, "{\"result\":{\"code\":%d,\"message\":\"%s\"}}", why->code,
                      why->message);
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                     "connection: close\r\n\r\n%s",
                     why->status, reason(why->status), bl, body);
    if (send(fd, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_warn("head refusal not sent", "{s:s}", "error", strerror(errno));
    shutdown(fd, SHUT_WR);
    drain_start(fd);
}

/* A head refused behind requests not answered yet: those get their answers with
 * Connection: close, and the refused one none (the client sends it again, as HTTP/1.1
 * expects when a server closes). What the client sends meanwhile is read and dropped. */
static ssize_t refuse_later(watched *w)
{
    w->closing = true;
    if (w->scan.bad_at)
        return (ssize_t)w->scan.bad_at;
    errno = EAGAIN;
    return -1;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    if (n <= 0 || fd < 0 || (size_t)fd >= G.cap || !G.scan[fd] || (flags & MSG_PEEK))
        return n;
    watched *w = G.scan[fd];
    if (w->closing) {
        errno = EAGAIN;
        return -1;
    }
    http_head why;
    bool was_unmasked = w->scan.ws.unmasked;
    if (!connscan_feed(&w->scan, buf, (size_t)n, &why)) {
        if (w->scan.heads > w->answered)
            return refuse_later(w);
        refuse(fd, &why);
    } else if (was_unmasked || !w->scan.ws.unmasked || !w->owner || !G.on_unmasked(w->owner)) {
        return n;
    }
    errno = ECONNRESET; /* lws closes the connection without touching it further */
    return -1;
}

bool connguard_answered(int fd)
{
    if (fd < 0 || (size_t)fd >= G.cap || !G.scan[fd])
        return false;
    G.scan[fd]->answered++;
    return G.scan[fd]->closing;
}

int connguard_watch(int fd)
{
    if (fd < 0)
        return -1;
    if ((size_t)fd >= G.cap) {
        size_t cap = G.cap ? G.cap : 1024;
        while (cap <= (size_t)fd)
            cap *= 2;
        watched **grown = realloc(G.scan, cap * sizeof *grown);
        if (!grown)
            return -1;
        memset(grown + G.cap, 0, (cap - G.cap) * sizeof *grown);
        G.scan = grown;
        G.cap = cap;
    }
    connguard_forget(fd);
    G.scan[fd] = calloc(1, sizeof **G.scan);
    return G.scan[fd] ? 0 : -1;
}

void connguard_set_owner(int fd, void *owner)
{
    if (fd >= 0 && (size_t)fd < G.cap && G.scan[fd])
        G.scan[fd]->owner = owner;
}

void connguard_forget(int fd)
{
    if (fd >= 0 && (size_t)fd < G.cap && G.scan[fd]) {
        connscan_reset(&G.scan[fd]->scan);
        free(G.scan[fd]);
        G.scan[fd] = NULL;
    }
}

bool connguard_unmasked(int fd)
{
    return fd >= 0 && (size_t)fd < G.cap && G.scan[fd] && G.scan[fd]->scan.ws.unmasked;
}

void connguard_stop(void)
{
    while (G.drains)
        drain_end(G.drains);
    for (size_t i = 0; i < G.cap; i++)
        connguard_forget((int)i);
    free(G.scan);
    G.scan = NULL;
    G.cap = 0;
}
