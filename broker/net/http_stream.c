/* http_stream.c — a streamed answer: the head, then the body from a bounded queue, one piece
 * per writable callback, so a file passed through never sits whole in memory. The producer is
 * told when its refused write would fit again (more) and when the client went away (gone). */
#include "http.h"
#include "connguard.h"
#include "metrics.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PEEK_TICK_MS 500

struct http_out {
    http_req *req;
    http_out *next, **prev; /* in the list of answers not begun whose client is watched */
    void (*more)(void *);
    void (*gone)(void *);
    void *ud;
    unsigned char *buf;    /* LWS_PRE bytes of headroom, then the queue */
    size_t cap, head, len; /* the queued bytes: buf + LWS_PRE + head, len of them */
    long long length;      /* announced; -1 when unknown */
    unsigned long long sent;
    unsigned long long queued; /* every byte taken for the body so far */
    char type[128];
    bool head_written, ended, complete, refused, final_written, gone_told;
};

/* lws 4.1 does not read a connection whose request waits for its answer, so it does not see
 * the client leave until the answer is written. While a producer waits for what it will
 * stream (a PBX's head), the client's socket is peeked: end of file closes the connection,
 * and the producer hears gone. */
static http_out *waiting;
static uv_timer_t peek_timer;
static bool peek_ready;

static void waiting_remove(http_out *o)
{
    if (!o->prev)
        return;
    *o->prev = o->next;
    if (o->next)
        o->next->prev = o->prev;
    o->next = NULL;
    o->prev = NULL;
}

static bool peer_closed(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void on_peek(uv_timer_t *t)
{
    for (http_out *o = waiting; o; o = o->next) {
        struct lws *wsi = o->req->wsi;
        if (wsi && peer_closed(lws_get_socket_fd(wsi))) {
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            lws_cancel_service(lws_get_context(wsi)); /* lws re-arms its timer when serviced */
        }
    }
    if (!waiting)
        uv_timer_stop(t);
}

static void waiting_add(http_out *o)
{
    if (o->prev || http_draining())
        return;
    if (!peek_ready) {
        uv_timer_init(http_loop(), &peek_timer);
        peek_ready = true;
    }
    o->next = waiting;
    o->prev = &waiting;
    if (waiting)
        waiting->prev = &o->next;
    waiting = o;
    if (!uv_is_active((uv_handle_t *)&peek_timer))
        uv_timer_start(&peek_timer, on_peek, PEEK_TICK_MS, PEEK_TICK_MS);
}

void http_stream_stop(void)
{
    if (!peek_ready)
        return;
    uv_timer_stop(&peek_timer);
    uv_close((uv_handle_t *)&peek_timer, NULL);
    peek_ready = false;
}

static http_out *out_get(http_req *r)
{
    if (!r->out && (r->out = calloc(1, sizeof *r->out)))
        r->out->req = r;
    return r->out;
}

int http_reply_stream_watch(http_req *r, void (*more)(void *), void (*gone)(void *), void *ud)
{
    http_out *o = out_get(r);
    if (!o)
        return -1;
    o->more = more;
    o->gone = gone;
    o->ud = ud;
    if (gone && !r->streaming && r->wsi)
        waiting_add(o);
    else
        waiting_remove(o);
    return 0;
}

int http_reply_stream_begin(http_req *r, int status, const char *content_type,
                            long long content_length)
{
    if (r->magic != HTTP_REQ_MAGIC || r->responded || !r->wsi)
        return -1;
    http_out *o = out_get(r);
    if (!o || !(o->buf = malloc(LWS_PRE + HTTP_STREAM_QUEUE)))
        return -1;
    o->cap = HTTP_STREAM_QUEUE;
    o->length = content_length;
    snprintf(o->type, sizeof o->type, "%s",
             content_type && *content_type ? content_type : "application/octet-stream");
    waiting_remove(o);
    r->responded = true;
    r->streaming = true;
    r->status = status;
    metrics_http_status(status);
    http_log_answer(r);
    lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
    lws_callback_on_writable(r->wsi);
    return 0;
}

/* A write larger than the whole queue is taken when the queue is empty (the queue grows to
 * it): curl's pieces are 16 KiB, so this is the rare large piece, not a way around the bound. */
static bool make_room(http_out *o, size_t len)
{
    if (o->len == 0)
        o->head = 0;
    if (o->len + len > o->cap) {
        if (o->len)
            return false;
        unsigned char *b = realloc(o->buf, LWS_PRE + len);
        if (!b)
            return false;
        o->buf = b;
        o->cap = len;
    }
    if (o->head + o->len + len > o->cap) {
        memmove(o->buf + LWS_PRE, o->buf + LWS_PRE + o->head, o->len);
        o->head = 0;
    }
    return true;
}

bool http_reply_stream_write(http_req *r, const void *data, size_t len)
{
    http_out *o = r->out;
    if (!o || !r->streaming || o->ended || !r->wsi)
        return false;
    if (o->length >= 0 && o->queued + len > (unsigned long long)o->length) {
        /* more than announced: the client would read it as the next answer */
        http_reply_stream_end(r, false);
        return false;
    }
    if (!make_room(o, len)) {
        o->refused = true;
        return false;
    }
    memcpy(o->buf + LWS_PRE + o->head + o->len, data, len);
    o->len += len;
    o->queued += len;
    if (o->head_written)
        lws_callback_on_writable(r->wsi);
    return true;
}

size_t http_reply_stream_queued(const http_req *r) { return r->out ? r->out->len : 0; }

void http_reply_stream_end(http_req *r, bool complete)
{
    http_out *o = r->out;
    if (!o || !r->streaming || o->ended)
        return;
    o->ended = true;
    o->complete = complete;
    if (r->wsi && o->head_written)
        lws_callback_on_writable(r->wsi);
}

/* Without a known length, lws adds "Connection: close" itself. */
static int write_head(struct lws *wsi, http_req *r, http_out *o)
{
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    lws_filepos_t len = o->length >= 0 ? (lws_filepos_t)o->length : LWS_ILLEGAL_HTTP_CONTENT_LEN;
    if (connguard_answered(lws_get_socket_fd(wsi)))
        r->close_after = true;
    if (lws_add_http_common_headers(wsi, (unsigned)r->status, o->type, len, &p, end) ||
        http_add_request_id(wsi, r, &p, end) ||
        (r->close_after && o->length >= 0 &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                      &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    o->head_written = true;
    return 0;
}

/* The last write is final; the answer is over once lws has sent it (the next callback). */
static int write_piece(struct lws *wsi, http_out *o)
{
    size_t n = o->len < HTTP_STREAM_PIECE ? o->len : HTTP_STREAM_PIECE;
    bool last = o->ended && n == o->len;
    if (n && lws_write(wsi, o->buf + LWS_PRE + o->head, n,
                       last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    o->head += n;
    o->len -= n;
    o->sent += n;
    o->final_written = last;
    lws_set_timeout(wsi, o->len ? PENDING_TIMEOUT_HTTP_CONTENT : NO_PENDING_TIMEOUT,
                    o->len ? HTTP_STREAM_STALL_SECS : 0);
    return 0;
}

int http_stream_writeable(struct lws *wsi, http_req *r)
{
    http_out *o = r->out;
    if (!o)
        return -1;
    if (o->final_written) {
        bool whole = o->complete && o->length >= 0 && o->sent == (unsigned long long)o->length;
        return whole && !r->close_after ? 1 : -1;
    }
    if (o->ended && !o->complete)
        return -1;
    if (!o->head_written) {
        if (write_head(wsi, r, o) != 0)
            return -1;
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, HTTP_STREAM_STALL_SECS);
    } else if (write_piece(wsi, o) != 0) {
        return -1;
    }
    if (o->refused && o->cap - o->len >= HTTP_STREAM_PIECE) {
        o->refused = false;
        if (o->more)
            o->more(o->ud);
    }
    if (o->len || o->ended)
        lws_callback_on_writable(wsi);
    return 0;
}

void http_stream_gone(http_req *r)
{
    http_out *o = r->out;
    if (o)
        waiting_remove(o);
    if (!o || !o->gone || o->gone_told)
        return;
    o->gone_told = true;
    o->gone(o->ud);
}

void http_stream_free(http_req *r)
{
    if (!r->out)
        return;
    waiting_remove(r->out);
    free(r->out->buf);
    free(r->out);
    r->out = NULL;
}

void http_req_wait(http_req *r, unsigned secs)
{
    if (!r->wsi)
        return;
    lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, (int)secs);
    lws_cancel_service(lws_get_context(r->wsi)); /* lws re-arms its timer only when serviced */
}
