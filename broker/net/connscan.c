/* connscan.c — a head that arrives whole in one read is checked where it lies; one that
 * spans reads is copied until it ends, and checked again at each new line (the verdict
 * changes only there, or past a length limit). */
#include "connscan.h"
#include <stdlib.h>
#include <string.h>

void connscan_reset(connscan *c)
{
    free(c->head);
    c->head = NULL;
    c->head_len = 0;
}

static void after_head(connscan *c, const http_head *h)
{
    c->heads++;
    c->body_left = h->has_length ? h->content_length : 0;
    if (h->upgrade)
        c->mode = CONNSCAN_WS;
    else if (h->chunked)
        c->mode = CONNSCAN_OFF; /* refused (411) and closed by http.c */
}

/* A head continued from an earlier read. Returns the bytes of p it took, or -1 (refused). */
static long continue_head(connscan *c, const char *p, size_t len, http_head *why)
{
    size_t before = c->head_len, room = HTTP_HEAD_MAX + 1 - before;
    size_t take = len < room ? len : room;
    bool rescan = memchr(p, '\n', take) || !memchr(c->head, '\n', before) || take == room;
    memcpy(c->head + before, p, take);
    c->head_len += take;
    if (!rescan)
        return (long)take;
    http_head h;
    enum http_head_verdict v = http_head_scan(c->head, c->head_len, &h);
    if (v == HEAD_BAD) {
        *why = h;
        return -1;
    }
    if (v == HEAD_MORE)
        return (long)take;
    connscan_reset(c);
    after_head(c, &h);
    return (long)(h.head_len - before);
}

/* A head that starts in this read. */
static long new_head(connscan *c, const char *p, size_t len, http_head *why)
{
    http_head h;
    enum http_head_verdict v = http_head_scan(p, len, &h);
    if (v == HEAD_BAD) {
        *why = h;
        return -1;
    }
    if (v == HEAD_OK) {
        after_head(c, &h);
        return (long)h.head_len;
    }
    c->head = malloc(HTTP_HEAD_MAX + 1);
    if (!c->head) {
        *why = (http_head){.status = 503, .code = 5003, .message = "out of memory"};
        return -1;
    }
    memcpy(c->head, p, len); /* len <= HTTP_HEAD_MAX, or the scan had refused it */
    c->head_len = len;
    return (long)len;
}

bool connscan_feed(connscan *c, const char *p, size_t len, http_head *why)
{
    const char *start = p;
    while (len) {
        if (c->mode == CONNSCAN_WS) {
            wsscan_feed(&c->ws, (const uint8_t *)p, len);
            return true;
        }
        if (c->mode == CONNSCAN_OFF)
            return true;
        long used;
        if (c->body_left) {
            used = (long)(c->body_left < len ? c->body_left : len);
            c->body_left -= (uint64_t)used;
        } else {
            bool continued = c->head != NULL;
            used = continued ? continue_head(c, p, len, why) : new_head(c, p, len, why);
            if (used < 0) {
                c->bad_at = continued ? 0 : (size_t)(p - start);
                connscan_reset(c);
                c->mode = CONNSCAN_OFF;
                return false;
            }
        }
        p += used;
        len -= (size_t)used;
    }
    return true;
}
