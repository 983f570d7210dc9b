/* relay.c — a PBX's file answer streamed to the client: http_client's stream on one side,
 * http.c's streamed answer on the other. The client's queue refusing a piece pauses the PBX
 * transfer; the queue draining resumes it; the client leaving cancels it. */
#include "relay.h"
#include "log.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RELAY_MAX_BODY 65536
#define RELAY_MAX_HEADERS 32
#define RELAY_MAX_TYPES 8

typedef struct relay {
    http_req *r;
    http_stream *s;
    relay_fail_cb fail;
    void *ud;
    char *types[RELAY_MAX_TYPES + 1]; /* NULL-terminated; types[0] NULL: any */
    bool any_type, streaming;
    char type[256], location[2048];
} relay;

static size_t n_active;

size_t relay_active(void) { return n_active; }

static void relay_free(relay *rl)
{
    for (int i = 0; rl->types[i]; i++)
        free(rl->types[i]);
    free(rl);
    n_active--;
}

/* The end of the relay's part: r goes on writing what is queued without it. */
static void relay_end(relay *rl)
{
    http_reply_stream_watch(rl->r, NULL, NULL, NULL);
    http_req_release(rl->r);
    relay_free(rl);
}

/* "audio/wav; codecs=1" matches "audio/wav"; a type ending in "/" "*" matches its family. */
static bool type_accepted(const relay *rl, const char *type)
{
    if (rl->any_type)
        return true;
    size_t n = strcspn(type, ";");
    while (n && isspace((unsigned char)type[n - 1]))
        n--;
    for (int i = 0; rl->types[i]; i++) {
        size_t k = strlen(rl->types[i]);
        bool family = k > 2 && strcmp(rl->types[i] + k - 2, "/*") == 0;
        if (family ? n > k - 1 && strncasecmp(rl->types[i], type, k - 1) == 0
                   : k == n && strncasecmp(rl->types[i], type, n) == 0)
            return true;
    }
    return false;
}

/* The PBX's Content-Type goes into the client's head: only a plain media type does (a CR in
 * it would start a header of the PBX's choosing). */
static const char *plain_type(const char *type)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                             "!#$&^_.+-/;= \"";
    if (!*type)
        return "application/octet-stream";
    return strspn(type, ok) == strlen(type) ? type : "application/octet-stream";
}

static enum http_stream_mode on_head(void *ud, const http_stream_head *h)
{
    relay *rl = ud;
    snprintf(rl->type, sizeof rl->type, "%s", plain_type(h->content_type));
    snprintf(rl->location, sizeof rl->location, "%s", h->location);
    if (h->status < 200 || h->status > 299 || !type_accepted(rl, rl->type))
        return HTTP_STREAM_COLLECT;
    if (http_reply_stream_begin(rl->r, (int)h->status, rl->type, h->content_length) != 0) {
        http_stream_cancel(rl->s); /* the client is gone: no callback comes after this */
        relay_end(rl);
        return HTTP_STREAM_COLLECT;
    }
    rl->streaming = true;
    return HTTP_STREAM_PASS;
}

static bool on_chunk(void *ud, const char *data, size_t len)
{
    relay *rl = ud;
    return http_reply_stream_write(rl->r, data, len);
}

static void on_done(void *ud, const http_response *res)
{
    relay *rl = ud;
    if (rl->streaming) {
        if (res->error)
            log_warn("recording relay cut short", "{s:s}", "error", res->error);
        http_reply_stream_end(rl->r, res->error == NULL);
        relay_end(rl);
        return;
    }
    adapter_reply reply = {
        .status = res->error ? 0 : (int)res->status,
        .timed_out = res->timed_out,
        .content_type = res->error || !rl->type[0] ? NULL : rl->type,
        .location = res->error || !rl->location[0] ? NULL : rl->location,
        .body = res->body,
        .body_len = res->body_len,
    };
    http_reply_stream_watch(rl->r, NULL, NULL, NULL);
    rl->fail(rl->ud, rl->r, &reply);
    relay_end(rl);
}

static void on_more(void *ud)
{
    relay *rl = ud;
    http_stream_resume(rl->s);
}

static void on_gone(void *ud)
{
    relay *rl = ud;
    http_stream_cancel(rl->s);
    relay_end(rl);
}

/* "Name: value\r\n" lines into an array of "Name: value" strings within buf. */
static size_t split_headers(char *buf, const char *lines[], size_t max)
{
    size_t n = 0;
    for (char *p = buf; p && *p && n < max;) {
        char *eol = strchr(p, '\n');
        if (eol) {
            *eol = '\0';
            if (eol > p && eol[-1] == '\r')
                eol[-1] = '\0';
        }
        if (*p)
            lines[n++] = p;
        p = eol ? eol + 1 : NULL;
    }
    return n;
}

static int copy_types(relay *rl, const char *const *types)
{
    rl->any_type = !types;
    for (int i = 0; types && types[i] && i < RELAY_MAX_TYPES; i++)
        if (!(rl->types[i] = strdup(types[i])))
            return -1;
    return 0;
}

int relay_start(http_req *r, http_client *c, const adapter_http *rq, const relay_opts *o,
                relay_fail_cb fail, void *ud)
{
    if (!r || !c || !rq || !rq->url || !fail || r->responded || !r->wsi)
        return -1;
    relay *rl = calloc(1, sizeof *rl);
    if (!rl)
        return -1;
    n_active++;
    rl->r = r;
    rl->fail = fail;
    rl->ud = ud;
    char *hbuf = rq->headers ? strdup(rq->headers) : NULL;
    const char *lines[RELAY_MAX_HEADERS];
    size_t n = hbuf ? split_headers(hbuf, lines, RELAY_MAX_HEADERS) : 0;
    long connect_ms = o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000;
    long idle_ms = o && o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 30000;
    http_request req = {.method = rq->method,
                        .url = rq->url,
                        .headers = lines,
                        .n_headers = n,
                        .body = rq->body,
                        .body_len = rq->body_len,
                        .connect_timeout_ms = connect_ms,
                        .max_body = RELAY_MAX_BODY};
    static const http_stream_cbs cbs = {on_head, on_chunk, on_done};
    if ((rq->headers && !hbuf) || copy_types(rl, o ? o->accept_types : NULL) != 0 ||
        http_reply_stream_watch(r, on_more, on_gone, rl) != 0 ||
        !(rl->s = http_client_stream(c, &req, &(http_stream_opts){.idle_timeout_ms = idle_ms}, &cbs,
                                     rl))) {
        free(hbuf);
        http_reply_stream_watch(r, NULL, NULL, NULL);
        relay_free(rl);
        return -1;
    }
    free(hbuf);
    http_req_hold(r);
    /* the client waits for the head: connecting, then each redirect's idle time at most */
    http_req_wait(r, (unsigned)((connect_ms + idle_ms) / 1000 + 5));
    return 0;
}
