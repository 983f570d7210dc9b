/* head_gate.c — heads are peeked (MSG_PEEK), never consumed, so lws reads them itself once
 * they passed. SO_RCVLOWAT makes the socket readable again only when more than what was
 * already seen arrived, so an incomplete head does not spin the loop. Requests a client
 * pipelined in one write are checked together; bytes lws read beyond what was checked are
 * found by comparing the socket's received and queued counts (head_gate_unchecked). */
#include "head_gate.h"
#include "http_head.h"
#include "log.h"
#include "result.h"
#include "sockread.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEEK_MAX (4 * HTTP_HEAD_MAX)
#define DRAIN_MS 2000

typedef struct conn {
    uint64_t checked;  /* bytes of the stream checked: heads and the bodies they announce */
    unsigned pending;  /* checked requests not answered yet */
    struct gate *gate; /* while lws's reading is paused */
} conn;

typedef struct gate {
    uv_poll_t poll;
    uv_timer_t timer;
    int fd;          /* polled: the socket before adoption, a dup of it after */
    int sock;        /* the connection's socket */
    struct lws *wsi; /* NULL before adoption */
    conn *c;
    bool draining; /* answered with a refusal: reading until EOF, then closing */
    int open_handles;
    struct gate *next, **prev; /* every open gate, closed when the broker stops */
} gate;

static struct {
    uv_loop_t *loop;
    struct lws_vhost *vhost;
    unsigned timeout_ms;
    gate *open;
    char buf[PEEK_MAX];
} G;

int head_gate_init(uv_loop_t *loop, struct lws_vhost *vhost, unsigned timeout_s)
{
    G.loop = loop;
    G.vhost = vhost;
    G.timeout_ms = timeout_s * 1000;
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    gate *g = h->data;
    if (--g->open_handles == 0) {
        if (g->fd >= 0)
            close(g->fd);
        free(g);
    }
}

/* Closing the poll removes fd from epoll at once, so lws may register the socket next. */
static void gate_end(gate *g, bool close_fd)
{
    if (g->prev) {
        *g->prev = g->next;
        if (g->next)
            g->next->prev = g->prev;
        g->prev = NULL;
    }
    if (g->c && g->c->gate == g)
        g->c->gate = NULL;
    if (!close_fd)
        g->fd = -1;
    uv_poll_stop(&g->poll);
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->poll, on_handle_closed);
    uv_close((uv_handle_t *)&g->timer, on_handle_closed);
}

static void set_lowat(int fd, int n) { setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &n, sizeof n); }

static void on_drain(uv_poll_t *p, int status, int events)
{
    (void)events;
    gate *g = p->data;
    char sink[4096];
    ssize_t n = status < 0 ? 0 : recv(g->fd, sink, sizeof sink, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        gate_end(g, true);
}

static void on_timeout(uv_timer_t *t);

/* The answer leaves before the close; reading what the client still sends until it closes
 * (or DRAIN_MS) keeps the kernel from resetting the connection over unread data. */
static void refuse(gate *g, int status, int code, const char *message)
{
    char out[512];
    const char *reason = status == 408   ? "Request Timeout"
                         : status == 414 ? "URI Too Long"
                         : status == 431 ? "Request Header Fields Too Large"
                                         : "Bad Request";
    char body[256];
    int bl =
        snprintf(body, sizeof body, "{\"result\":{\"code\":%d,\"message\":\"%s\"}}", code, message);
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                     "connection: close\r\n\r\n%s",
                     status, reason, bl, body);
    set_lowat(g->sock, 1);
    if (send(g->sock, out, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_warn("head refusal not sent", "{s:s}", "error", strerror(errno));
    shutdown(g->sock, SHUT_WR);
    if (g->wsi) {
        lws_set_timeout(g->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        lws_cancel_service(lws_get_context(g->wsi));
    }
    if (g->c && g->c->gate == g)
        g->c->gate = NULL;
    if (!g->wsi)
        free(g->c); /* never adopted */
    g->wsi = NULL;  /* from here on the gate owns its fd alone */
    g->c = NULL;
    g->draining = true;
    uv_poll_start(&g->poll, UV_READABLE, on_drain);
    uv_timer_start(&g->timer, on_timeout, DRAIN_MS, 0);
}

static void on_timeout(uv_timer_t *t)
{
    gate *g = t->data;
    if (g->draining)
        gate_end(g, true);
    else
        refuse(g, 408, RC_BAD_REQUEST, "the request head was not received in time");
}

static void pass(gate *g, uint64_t checked, unsigned requests)
{
    conn *c = g->c;
    c->checked += checked;
    c->pending += requests;
    set_lowat(g->sock, 1);
    struct lws *wsi = g->wsi;
    int sock = g->sock;
    gate_end(g, g->fd != sock);
    if (wsi) {
        lws_rx_flow_control(wsi, 1);
        return;
    }
    wsi = lws_adopt_socket_vhost(G.vhost, sock);
    if (!wsi) {
        close(sock);
        free(c);
        return;
    }
    lws_set_opaque_user_data(wsi, c);
}

/* Checks every complete request in the bytes peeked: heads, and the bodies they announce. */
static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)events;
    gate *g = p->data;
    ssize_t n = status < 0 ? -1 : recv(g->fd, G.buf, sizeof G.buf, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) { /* the client left before a request */
        if (g->wsi)
            lws_set_timeout(g->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        else
            free(g->c);
        g->c = g->wsi ? g->c : NULL;
        gate_end(g, true);
        return;
    }
    size_t off = 0;
    unsigned requests = 0;
    http_head h;
    enum http_head_verdict v;
    while (off < (size_t)n && (v = http_head_scan(G.buf + off, (size_t)n - off, &h)) == HEAD_OK) {
        requests++;
        off += h.head_len + (h.has_length ? h.content_length : 0);
    }
    if (requests)
        pass(g, off, requests);
    else if (v == HEAD_BAD)
        refuse(g, h.status, h.code, h.message);
    else if ((size_t)n < sizeof G.buf)
        set_lowat(g->sock, (int)n + 1);
}

static gate *gate_new(int sock, int fd, struct lws *wsi, conn *c)
{
    gate *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->sock = sock;
    g->fd = fd;
    g->wsi = wsi;
    g->c = c;
    if (uv_poll_init(G.loop, &g->poll, fd) != 0) {
        free(g);
        return NULL;
    }
    uv_timer_init(G.loop, &g->timer);
    g->poll.data = g->timer.data = g;
    g->open_handles = 2;
    g->next = G.open;
    g->prev = &G.open;
    if (G.open)
        G.open->prev = &g->next;
    G.open = g;
    uv_poll_start(&g->poll, UV_READABLE, on_readable);
    uv_timer_start(&g->timer, on_timeout, G.timeout_ms, 0);
    return g;
}

void head_gate_accept(int fd)
{
    conn *c = calloc(1, sizeof *c);
    if (!c || !gate_new(fd, fd, NULL, c)) {
        free(c);
        close(fd);
    }
}

void head_gate_answered(struct lws *wsi)
{
    conn *c = lws_get_opaque_user_data(wsi);
    if (!c || (c->pending && --c->pending) || c->gate)
        return;
    int sock = lws_get_socket_fd(wsi), fd = sock < 0 ? -1 : dup(sock);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    c->gate = fd < 0 ? NULL : gate_new(sock, fd, wsi, c);
    if (!c->gate) {
        if (fd >= 0)
            close(fd);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    lws_rx_flow_control(wsi, 0);
}

bool head_gate_unchecked(struct lws *wsi)
{
    conn *c = lws_get_opaque_user_data(wsi);
    uint64_t consumed;
    int fd = lws_get_socket_fd(wsi);
    return c && fd >= 0 && sockread_consumed(fd, &consumed) == 0 && consumed > c->checked;
}

void head_gate_forget(struct lws *wsi)
{
    conn *c = lws_get_opaque_user_data(wsi);
    if (!c)
        return;
    lws_set_opaque_user_data(wsi, NULL);
    if (c->gate) {
        c->gate->wsi = NULL;
        c->gate->c = NULL;
        gate_end(c->gate, true);
    }
    free(c);
}

void head_gate_stop(void)
{
    while (G.open) {
        gate *g = G.open;
        if (g->c && g->c->gate == g)
            g->c->gate = NULL;
        if (!g->wsi)
            free(g->c);
        g->c = NULL;
        gate_end(g, true);
    }
}
