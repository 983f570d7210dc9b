/* http.c — libwebsockets on the broker's libuv loop (foreign loop), one protocol serving
 * both HTTP and websockets on one port; the API's routes are handed in by main. */
#include "http.h"
#include "credentials.h"
#include "forwarded.h"
#include "utf8.h"
#include "redact.h"
#include "connguard.h"
#include "http_head.h"
#include "hub.h"
#include "integrations.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "result.h"
#include <ctype.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HTTP_WAIT_SECS 15
/* lws's header table: any head that passed http_head.c fits (custom headers cost 8 bytes
 * more there than on the wire) */
#define LWS_HEADER_DATA (HTTP_HEAD_MAX + 8 * HTTP_HEADERS_MAX + 1024)
#define DEADLINE_TICK_MS 250

typedef struct pss {
    http_req *req;
    void *session;
} pss;

static struct {
    const cr_config *cfg;
    const http_api *api;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    void *loops[1];
    bool draining;
    uv_loop_t *loop;
    uv_timer_t deadlines; /* ticks while a body is being read */
    http_req *reading;    /* requests whose body is being read */
    size_t buffered;      /* bytes reserved for bodies, across every connection */
    size_t live;          /* requests from their head to their release: what a drain waits for */
} H;

const cr_config *http_config(void) { return H.cfg; }
bool http_draining(void) { return H.draining; }
size_t http_in_flight(void) { return H.live; }
uv_loop_t *http_loop(void) { return H.loop; }

/* ---- request objects ---- */

static void reading_remove(http_req *r)
{
    if (!r->prev_reading)
        return;
    *r->prev_reading = r->next_reading;
    if (r->next_reading)
        r->next_reading->prev_reading = r->prev_reading;
    r->prev_reading = NULL;
    r->next_reading = NULL;
}

void http_req_hold(http_req *r) { r->refs++; }

struct http_hdr {
    http_hdr *next;
    char *name, *value;
};

static void headers_free(http_req *r)
{
    for (http_hdr *h = r->looked_up, *next; h; h = next) {
        next = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
    r->looked_up = NULL;
}

/* Requests are large (copied headers) and made per webhook: a few are kept for reuse, so
 * that malloc does not consolidate its free lists on every request. */
#define SPARE_MAX 64
static http_req *spare[SPARE_MAX];
static int n_spare;

void http_req_release(http_req *r)
{
    if (r->magic != HTTP_REQ_MAGIC) { /* released once too often: it may be a spare already */
        log_error("request released after its end", NULL);
        return;
    }
    if (--r->refs > 0)
        return;
    if (r->free_state)
        r->free_state(r->state);
    http_stream_free(r);
    r->magic = 0;
    H.live--;
    reading_remove(r);
    H.buffered -= r->reserved;
    free(r->webhook_signature);
    headers_free(r);
    free(r->body);
    free(r->resp);
    if (n_spare < SPARE_MAX)
        spare[n_spare++] = r;
    else
        free(r);
}

static void spares_free(void)
{
    while (n_spare)
        free(spare[--n_spare]);
}

static void copy_hdr(http_req *r, char *dst, size_t size, enum lws_token_indexes t,
                     const char *name)
{
    if (lws_hdr_total_length(r->wsi, t) >= (int)size)
        r->too_long = name;
    if (lws_hdr_copy(r->wsi, dst, (int)size, t) < 0)
        dst[0] = 0;
}

static void copy_custom(http_req *r, char *dst, size_t size, const char *name)
{
    int n = (int)strlen(name);
    if (lws_hdr_custom_length(r->wsi, name, n) >= (int)size)
        r->too_long = name;
    if (lws_hdr_custom_copy(r->wsi, dst, (int)size, name, n) < 0)
        dst[0] = 0;
}

static void copy_signature(http_req *r)
{
    static const char name[] = "webhook-signature:";
    int n = lws_hdr_custom_length(r->wsi, name, (int)sizeof name - 1);
    if (n <= 0)
        return;
    if (n > HTTP_SIGNATURE_MAX) { /* connguard refuses these first; a guard */
        r->too_long = name;
        return;
    }
    r->webhook_signature = malloc((size_t)n + 1);
    if (r->webhook_signature &&
        lws_hdr_custom_copy(r->wsi, r->webhook_signature, n + 1, name, (int)sizeof name - 1) < 0)
        r->webhook_signature[0] = 0;
}

static void copy_query(struct lws *wsi, http_req *r)
{
    size_t used = 0;
    char frag[512];
    for (int n = 0; lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, n) > 0;
         n++) {
        size_t fl = strlen(frag);
        if (used + fl + 2 > sizeof r->query)
            break;
        if (used)
            r->query[used++] = '&';
        memcpy(r->query + used, frag, fl + 1);
        used += fl;
    }
}

/* A sane X-Request-Id is kept; anything else (absent, too long, odd characters) is replaced,
 * never refused: the id is for the logs, and a bad one is no reason to fail a request. */
/* A generated id's random bytes. RAND_bytes costs far more per call than per byte, so they
 * come from a pool filled for many ids at once; a forked child drops what it inherited, or
 * two workers would hand out the same ids. */
static struct {
    unsigned char bytes[REQUEST_ID_RANDOM * 128];
    size_t left;
    bool fork_hooked;
} id_pool;

static void id_pool_forget(void) { id_pool.left = 0; }

static const unsigned char *id_random(void)
{
    if (!id_pool.fork_hooked)
        id_pool.fork_hooked = pthread_atfork(NULL, NULL, id_pool_forget) == 0;
    if (id_pool.left == 0) {
        if (RAND_bytes(id_pool.bytes, sizeof id_pool.bytes) != 1)
            memset(id_pool.bytes, 0, sizeof id_pool.bytes);
        id_pool.left = sizeof id_pool.bytes;
    }
    id_pool.left -= REQUEST_ID_RANDOM;
    return id_pool.bytes + id_pool.left;
}

static void request_id_of(struct lws *wsi, char out[REQUEST_ID_MAX + 1])
{
    static const char name[] = "x-request-id:";
    int n = lws_hdr_custom_length(wsi, name, (int)sizeof name - 1);
    if (n > 0 && n <= REQUEST_ID_MAX &&
        lws_hdr_custom_copy(wsi, out, REQUEST_ID_MAX + 1, name, (int)sizeof name - 1) == n &&
        request_id_valid(out, (size_t)n))
        return;
    request_id_format(id_random(), out);
}

static http_req *req_new(struct lws *wsi, const char *path)
{
    http_req *r = n_spare ? spare[--n_spare] : malloc(sizeof *r);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->magic = HTTP_REQ_MAGIC;
    r->refs = 1;
    H.live++;
    r->wsi = wsi;
    r->started_ms = uv_now(H.loop);
    request_id_of(wsi, r->request_id);
    snprintf(r->path, sizeof r->path, "%s", path);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI))
        r->method = HTTP_POST;
    else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        r->method = HTTP_GET;
    else
        r->method = HTTP_OTHER;
    copy_query(wsi, r);
    copy_hdr(r, r->host, sizeof r->host, WSI_TOKEN_HOST, "host");
    copy_hdr(r, r->authorization, sizeof r->authorization, WSI_TOKEN_HTTP_AUTHORIZATION,
             "authorization");
    copy_hdr(r, r->content_type, sizeof r->content_type, WSI_TOKEN_HTTP_CONTENT_TYPE,
             "content-type");
    copy_custom(r, r->webhook_id, sizeof r->webhook_id, "webhook-id:");
    copy_custom(r, r->webhook_timestamp, sizeof r->webhook_timestamp, "webhook-timestamp:");
    copy_signature(r);
    return r;
}

/* ---- answers ---- */

static int write_response(struct lws *wsi, http_req *r);

/* An answer that waited for Redis is written at once rather than from a writable callback:
 * the callback costs four epoll_ctl calls on libuv per request. The request is complete (its
 * body was read), so lws is idle on this connection until the next request. */
static bool answer_now(http_req *r)
{
    struct lws *wsi = r->wsi;
    pss *s = lws_wsi_user(wsi);
    if (!s || s->req != r || lws_partial_buffered(wsi))
        return false;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    bool failed = write_response(wsi, r) != 0, close = r->close_after;
    s->req = NULL;
    r->wsi = NULL;
    http_req_release(r);
    if (failed || close || lws_http_transaction_completed(wsi)) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        lws_cancel_service(lws_get_context(wsi)); /* lws re-arms its timer only when serviced */
    }
    return true;
}

static const char *const method_names[] = {"GET", "POST", "OTHER"};

/* One line per answer: refusals at info, faults at error, the rest at debug (a busy broker
 * answers thousands of webhooks a second). */
void http_log_answer(http_req *r)
{
    int level = r->status >= 500 ? CR_LOG_ERROR : r->status >= 400 ? CR_LOG_INFO : CR_LOG_DEBUG;
    if (!log_enabled(level))
        return;
    log_write(log_level_name(level), "http", "{s:s,s:s,s:s,s:i,s:I,s:s,s:s*}", "request_id",
              r->request_id, "method", method_names[r->method], "path", r->path, "status",
              r->status, "ms", (json_int_t)(uv_now(H.loop) - r->started_ms), "client",
              http_client_address(r), "error", r->message[0] ? r->message : NULL);
}

void http_reply_raw(http_req *r, int status, const char *content_type, char *body, size_t len)
{
    if (r->magic != HTTP_REQ_MAGIC || r->responded) {
        free(body);
        return;
    }
    r->responded = true;
    r->status = status;
    r->resp = body;
    r->resp_len = len;
    r->resp_type = content_type;
    metrics_http_status(status);
    http_log_answer(r);
    if (r->wsi && !(r->waited && answer_now(r))) {
        lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
        lws_callback_on_writable(r->wsi);
    }
}

bool http_reply_header(http_req *r, const char *name, const char *value)
{
    if (r->n_resp_headers == HTTP_EXTRA_HEADERS)
        return false;
    r->resp_headers[r->n_resp_headers++] = (http_extra_header){name, value};
    return true;
}

void http_reply_json(http_req *r, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        static const char fallback[] = "{\"result\":{\"code\":5000,\"message\":\"out of memory\"}}";
        text = strdup(fallback);
        status = 500;
    }
    http_reply_raw(r, status, "application/json", text, text ? strlen(text) : 0);
}

void http_reply_error(http_req *r, int status, int code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!r->responded) { /* for the log line: cut where it may split a character, repaired */
        snprintf(r->message, sizeof r->message, "%.*s", (int)sizeof r->message - 1, msg);
        utf8_repair(r->message);
        redact_secrets(r->message);
    }
    json_t *body = json_pack("{s:{s:i,s:s}}", "result", "code", code, "message", utf8_repair(msg));
    if (field && *field) {
        char f[256];
        snprintf(f, sizeof f, "%s", field);
        json_object_set_new(body, "field", json_string(utf8_repair(f)));
    }
    http_reply_json(r, status, body);
}

void http_reply_ok(http_req *r, json_t *extra)
{
    json_t *body = json_pack("{s:{s:i,s:s}}", "result", "code", 0, "message", "ok");
    if (extra) {
        json_object_update(body, extra);
        json_decref(extra);
    }
    http_reply_json(r, 200, body);
}

/* Headers and body leave in one write (one send() on HTTP/1). The Content-Length header is
 * added by name so that lws does not count the body against it: the body shares the write. */
/* RFC 9110: a 401 names how to authenticate; HTTP clients such as FreeSWITCH's (curl with
 * "any" authentication) send the token as a Basic password only after this challenge. */
static int add_challenge(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    static const char v[] = "Bearer realm=\"callrelay\", Basic realm=\"callrelay\"";
    return lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                       (const unsigned char *)v, (int)sizeof v - 1, p, end);
}

static int add_extra_headers(struct lws *wsi, const http_req *r, unsigned char **p,
                             unsigned char *end)
{
    for (int i = 0; i < r->n_resp_headers; i++) {
        const http_extra_header *h = &r->resp_headers[i];
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)h->name,
                                        (const unsigned char *)h->value, (int)strlen(h->value), p,
                                        end))
            return -1;
    }
    return 0;
}

/* Content-Type and Content-Length, except on a 304, which describes what the client holds. */
static int add_content_headers(struct lws *wsi, const http_req *r, unsigned char **p,
                               unsigned char *end)
{
    if (r->status == 304)
        return 0;
    char len[24];
    int n = snprintf(len, sizeof len, "%zu", r->resp_len);
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                        (const unsigned char *)r->resp_type,
                                        (int)strlen(r->resp_type), p, end) ||
           lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                        (const unsigned char *)len, n, p, end);
}

int http_add_request_id(struct lws *wsi, const http_req *r, unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(
        wsi, (const unsigned char *)"x-request-id:", (const unsigned char *)r->request_id,
        (int)strlen(r->request_id), p, end);
}

static int write_response(struct lws *wsi, http_req *r)
{
    size_t cap = LWS_PRE + 1024 + r->resp_len;
    if (H.draining || connguard_answered(lws_get_socket_fd(wsi)))
        r->close_after = true; /* draining: a kept-alive client goes to another instance */
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -1;
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + cap;
    int bad =
        lws_add_http_header_status(wsi, (unsigned int)r->status, &p, end) ||
        add_content_headers(wsi, r, &p, end) || add_extra_headers(wsi, r, &p, end) ||
        http_add_request_id(wsi, r, &p, end) ||
        (r->status == 503 && lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                                         (const unsigned char *)"1", 1, &p, end)) ||
        (r->status == 401 && add_challenge(wsi, &p, end)) ||
        (r->close_after &&
         lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                      &p, end)) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < r->resp_len;
    if (!bad) {
        if (r->resp_len) /* a 304 has no body at all */
            memcpy(p, r->resp, r->resp_len);
        p += r->resp_len;
        bad = lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) < (int)(p - start);
    }
    free(buf);
    return bad ? -1 : 0;
}

static int on_http_writeable(struct lws *wsi, pss *s)
{
    http_req *r = s->req;
    if (!r || !r->responded)
        return 0;
    int streamed = r->streaming ? http_stream_writeable(wsi, r) : 1;
    if (streamed == 0)
        return 0;
    bool failed = streamed < 0 || (!r->streaming && write_response(wsi, r) != 0);
    bool close = r->close_after || failed;
    if (streamed < 0) /* the producer must stop: nothing more can be written */
        http_stream_gone(r);
    s->req = NULL;
    r->wsi = NULL;
    http_req_release(r);
    return close || lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A websocket upgrade never becomes an http_req: its refusal is written here, as lws's own
 * lws_return_http_status writes one (head and body in one write on HTTP/1), with a JSON body,
 * the request id and a log line like every other answer. */
int http_refuse_upgrade(struct lws *wsi, int status, int code, const char *message, json_t *extra)
{
    http_req r = {.wsi = wsi, .method = HTTP_GET, .status = status};
    request_id_of(wsi, r.request_id);
    r.started_ms = uv_now(H.loop);
    if (lws_hdr_copy(wsi, r.path, sizeof r.path, WSI_TOKEN_GET_URI) <= 0)
        snprintf(r.path, sizeof r.path, "?");
    snprintf(r.message, sizeof r.message, "%s", message);
    metrics_http_status(status);
    http_log_answer(&r);
    headers_free(&r); /* X-Forwarded-For, looked up for the client's address */
    json_t *j = json_pack("{s:{s:i,s:s}}", "result", "code", code, "message", message);
    if (j && extra)
        json_object_update_missing(j, extra);
    json_decref(extra);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    r.resp_len = body ? strlen(body) : 0;
    r.resp_type = "application/json";
    unsigned char buf[LWS_PRE + 2048];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
    if (body && !lws_add_http_header_status(wsi, (unsigned)status, &p, end) &&
        !add_content_headers(wsi, &r, &p, end) && !http_add_request_id(wsi, &r, &p, end) &&
        !(status == 503 && lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                                       (const unsigned char *)"1", 1, &p, end)) &&
        !lws_finalize_http_header(wsi, &p, end) && (size_t)(end - p) >= r.resp_len) {
        memcpy(p, body, r.resp_len);
        p += r.resp_len;
        lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP);
    }
    free(body);
    return -1;
}

/* ---- helpers for handlers ---- */

/* lws keeps known headers in its token table and the others as custom headers; both are
 * looked up by the lowercase name with its colon. */
static int header_length(struct lws *wsi, const char *key, int *token)
{
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *s = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        if (s && strcmp(s, key) == 0) {
            *token = t;
            return lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        }
    }
    *token = -1;
    return lws_hdr_custom_length(wsi, key, (int)strlen(key));
}

static char *header_copy(struct lws *wsi, const char *key)
{
    int token, n = header_length(wsi, key, &token);
    char *v = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!v)
        return NULL;
    int got = token >= 0 ? lws_hdr_copy(wsi, v, n + 1, (enum lws_token_indexes)token)
                         : lws_hdr_custom_copy(wsi, v, n + 1, key, (int)strlen(key));
    if (got <= 0) {
        free(v);
        return NULL;
    }
    return v;
}

static const char *header_copied(http_req *r, const char *key)
{
    if (strcmp(key, "webhook-id:") == 0)
        return r->webhook_id;
    if (strcmp(key, "webhook-timestamp:") == 0)
        return r->webhook_timestamp;
    if (strcmp(key, "webhook-signature:") == 0)
        return r->webhook_signature ? r->webhook_signature : "";
    if (strcmp(key, "content-type:") == 0)
        return r->content_type;
    if (strcmp(key, "authorization:") == 0)
        return r->authorization;
    return NULL;
}

const char *http_header(http_req *r, const char *name)
{
    char key[128];
    size_t n = strlen(name);
    if (n == 0 || n + 2 > sizeof key)
        return NULL;
    for (size_t i = 0; i < n; i++)
        key[i] = (char)tolower((unsigned char)name[i]);
    memcpy(key + n, ":", 2);
    const char *v = header_copied(r, key);
    if (v)
        return *v ? v : NULL;
    for (http_hdr *h = r->looked_up; h; h = h->next)
        if (strcmp(h->name, key) == 0)
            return h->value;
    if (!r->wsi)
        return NULL;
    http_hdr *h = calloc(1, sizeof *h);
    if (!h || !(h->name = strdup(key))) {
        free(h);
        return NULL;
    }
    h->value = header_copy(r->wsi, key);
    h->next = r->looked_up;
    r->looked_up = h;
    return h->value;
}

const char *http_peer(http_req *r)
{
    if (!r->peer[0] && r->wsi)
        lws_get_peer_simple(r->wsi, r->peer, sizeof r->peer);
    return r->peer;
}

const char *http_client_address(http_req *r)
{
    const cr_config *c = http_config();
    if (!c->n_trusted_proxies)
        return http_peer(r);
    if (!r->client[0]) {
        const char *peer = http_peer(r);
        const char *got =
            forwarded_client(peer, http_header(r, "x-forwarded-for"), c->trusted_proxies,
                             c->n_trusted_proxies, r->client, sizeof r->client);
        if (got != r->client)
            snprintf(r->client, sizeof r->client, "%s", got);
    }
    return r->client;
}

const char *http_token(http_req *r, const json_t *body, char *buf, size_t size)
{
    const char *t = credentials_from_header(r->authorization, buf, size);
    if (t)
        return t;
    t = body ? json_string_value(json_object_get(body, "token")) : NULL;
    if (t) {
        snprintf(buf, size, "%s", t);
        return buf;
    }
    return credentials_from_query(r->query, buf, size);
}

json_t *http_body_object(http_req *r)
{
    json_error_t e;
    json_t *j = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        http_reply_error(r, 400, 3100, NULL, "malformed JSON at line %d column %d: %s", e.line,
                         e.column, e.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_reply_error(r, 400, 3100, NULL, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

/* ---- dispatch ---- */

static void dispatch(http_req *r)
{
    bool path_known = false;
    for (const http_route *rt = H.api->routes; rt->path; rt++) {
        bool match = rt->prefix ? strncmp(r->path, rt->path, strlen(rt->path)) == 0
                                : strcmp(r->path, rt->path) == 0;
        if (!match)
            continue;
        path_known = true;
        if (rt->method == r->method) {
            if (r->wsi)
                lws_set_timeout(r->wsi, PENDING_TIMEOUT_HTTP_CONTENT, HTTP_WAIT_SECS);
            http_req_hold(r);
            rt->handler(r);
            r->waited = !r->responded;
            http_req_release(r);
            return;
        }
    }
    if (path_known)
        http_reply_error(r, 405, 3100, NULL, "method not allowed on %s", r->path);
    else
        http_reply_error(r, 404, 3104, NULL, "no such path: %s", r->path);
}

static void on_refreshed(void *ud)
{
    http_req *r = ud;
    if (r->wsi && !r->responded)
        dispatch(r);
    http_req_release(r);
}

bool http_retry_after_refresh(http_req *r)
{
    if (r->refreshed)
        return false;
    r->refreshed = true;
    http_req_hold(r);
    if (integrations_refresh(on_refreshed, r) != 0) {
        http_req_release(r);
        return false;
    }
    return true;
}

static int content_length(struct lws *wsi, size_t *out)
{
    char buf[32];
    uint64_t v;
    int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0 || http_content_length_parse(buf, (size_t)n, &v) != 0 || v > SIZE_MAX / 2)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* ---- bodies: a deadline from the end of the head, and a bound on what is buffered ---- */

static void on_deadlines(uv_timer_t *t)
{
    uint64_t now = uv_now(H.loop);
    for (http_req *r = H.reading, *next; r; r = next) {
        next = r->next_reading;
        if (r->deadline_ms > now)
            continue;
        reading_remove(r);
        r->close_after = true;
        http_reply_error(r, 408, RC_BAD_REQUEST, NULL, "the body did not arrive within %u seconds",
                         H.cfg->body_timeout_s);
    }
    if (!H.reading)
        uv_timer_stop(t);
}

static void reading_add(http_req *r)
{
    r->deadline_ms = uv_now(H.loop) + (uint64_t)H.cfg->body_timeout_s * 1000;
    r->next_reading = H.reading;
    r->prev_reading = &H.reading;
    if (H.reading)
        H.reading->prev_reading = &r->next_reading;
    H.reading = r;
    if (!uv_is_active((uv_handle_t *)&H.deadlines) && !uv_is_closing((uv_handle_t *)&H.deadlines))
        uv_timer_start(&H.deadlines, on_deadlines, DEADLINE_TICK_MS, DEADLINE_TICK_MS);
}

static bool reserve(http_req *r)
{
    if (r->content_length > H.cfg->max_buffered - H.buffered || H.buffered > H.cfg->max_buffered) {
        r->close_after = true;
        http_reply_error(r, 503, RC_UNAVAILABLE, NULL,
                         "too many request bodies in flight, retry later");
        return false;
    }
    r->reserved = r->content_length;
    H.buffered += r->reserved;
    return true;
}

/* The interim answer goes out raw: lws 4.1 does not send it itself. */
static int send_continue(struct lws *wsi)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    unsigned char buf[LWS_PRE + sizeof line];
    memcpy(buf + LWS_PRE, line, sizeof line - 1);
    return lws_write(wsi, buf + LWS_PRE, sizeof line - 1, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

static bool expects_continue(struct lws *wsi)
{
    char v[32];
    return lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_EXPECT) > 0 &&
           strcasecmp(v, "100-continue") == 0;
}

static void head_refuse(http_req *r, int status, int code, const char *msg)
{
    r->close_after = true;
    http_reply_error(r, status, code, NULL, "%s", msg);
}

/* What the head alone decides; false when answered (or waiting for a reload). */
static bool head_accepted(http_req *r);

static void on_head_refreshed(void *ud)
{
    http_req *r = ud;
    r->head_waiting = false;
    if (r->wsi && !r->responded && head_accepted(r) && r->body_done && !r->dispatched) {
        r->dispatched = true;
        dispatch(r);
    }
    http_req_release(r);
}

static bool head_accepted(http_req *r)
{
    head_refusal why;
    int rc = H.api->head_check(r, &why);
    if (rc > 0 && !r->refreshed) {
        r->refreshed = true;
        r->head_waiting = true;
        http_req_hold(r);
        if (integrations_refresh(on_head_refreshed, r) == 0)
            return false;
        r->head_waiting = false;
        http_req_release(r);
    }
    if (rc != 0) {
        if (rc > 0)
            why = (head_refusal){404, RC_NOT_FOUND, "no such integration with this adapter"};
        head_refuse(r, why.status, why.code, why.message);
        return false;
    }
    return true;
}

static int start_body(struct lws *wsi, http_req *r)
{
    if (!reserve(r))
        return 0;
    if (r->content_length == 0) {
        r->body = strdup("");
        if (!r->body)
            return -1;
        r->body_done = r->dispatched = true;
        dispatch(r);
        return 0;
    }
    reading_add(r);
    if (expects_continue(wsi) && send_continue(wsi) != 0)
        return -1;
    return 0;
}

/* lws 4.1 takes a POST without Content-Length as a huge body and does not decode chunked
 * bodies: refuse both before reading, and close the connection after the answer. Whatever
 * the head can refuse is refused before the body is read. */
static int on_http(struct lws *wsi, pss *s, const char *uri)
{
    if (s->req)
        return -1; /* pipelined behind an unanswered request: see on_body_done */
    http_req *r = req_new(wsi, uri);
    if (!r)
        return -1;
    s->req = r;
    if (r->too_long) {
        head_refuse(r, 431, RC_TOO_LARGE, "a header is too long");
        return 0;
    }
    if (r->method != HTTP_POST) {
        dispatch(r);
        return 0;
    }
    if (content_length(wsi, &r->content_length) != 0) {
        head_refuse(r, 411, RC_LENGTH_REQUIRED, "Content-Length is required");
        return 0;
    }
    if (r->content_length > H.cfg->max_body) {
        r->close_after = true;
        http_reply_error(r, 413, RC_TOO_LARGE, NULL, "the body is %zu bytes, over the limit of %zu",
                         r->content_length, H.cfg->max_body);
        return 0;
    }
    bool accepted = head_accepted(r);
    if (!accepted && !r->head_waiting)
        return 0;
    return start_body(wsi, r);
}

/* The body grows as it arrives: a client that announces a large body and stalls holds its
 * reservation, not the memory. */
static int body_append(http_req *r, const void *in, size_t len)
{
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        if (cap > r->content_length + 1)
            cap = r->content_length + 1;
        char *b = realloc(r->body, cap);
        if (!b)
            return -1;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, in, len);
    r->body_len += len;
    return 0;
}

static int on_body(pss *s, const void *in, size_t len)
{
    http_req *r = s->req;
    if (!r || r->responded || r->dispatched || !r->reserved)
        return 0;
    if (r->body_len + len > r->content_length)
        return -1;
    return body_append(r, in, len);
}

/* lws 4.1 mishandles a request the client pipelined behind one whose answer waits (it hands
 * it the wrong bytes as body, then reports its body complete again and again, in a loop).
 * A repeated completion closes the connection; the client sends unanswered requests again,
 * as HTTP/1.1 expects when a server closes a pipelined connection. */
static int on_body_done(struct lws *wsi, pss *s)
{
    http_req *r = s->req;
    if (!r)
        return -1; /* the request was answered: only the loop reports it again */
    if (r->dispatched) {
        r->close_after = true;
        if (!r->responded)
            return 0; /* answer_now writes the answer, then closes */
        write_response(wsi, r);
        return -1;
    }
    if (r->body_done && !r->responded)
        r->close_after = true; /* reported again while its head waits: as when dispatched */
    if (r->responded || r->body_done)
        return 0;
    reading_remove(r);
    r->body_done = true;
    if (!r->body && body_append(r, "", 0) != 0)
        return -1;
    r->body[r->body_len] = 0;
    if (r->head_waiting)
        return 0; /* on_head_refreshed dispatches */
    r->dispatched = true;
    dispatch(r);
    return 0;
}

static void on_http_closed(pss *s)
{
    if (!s || !s->req) /* a connection closed before its first request has no pss */
        return;
    reading_remove(s->req);
    s->req->wsi = NULL;
    http_stream_gone(s->req);
    http_req_release(s->req);
    s->req = NULL;
}

/* The guard reports an unmasked frame to the connection's session, once the hub has one. */
static int on_established(struct lws *wsi, pss *s)
{
    int fd = lws_get_socket_fd(wsi);
    int rc = hub_established(wsi, &s->session, connguard_unmasked(fd));
    if (s->session)
        connguard_set_owner(fd, s->session);
    else
        connguard_forget(fd);
    return rc;
}

/* The hub decides about an upgrade; a refusal is answered here, as every HTTP answer is. */
static int on_filter(struct lws *wsi, pss *s)
{
    hub_refusal no = {0};
    if (hub_filter(wsi, &s->session, &no) == 0)
        return 0;
    return http_refuse_upgrade(wsi, no.status, no.code, no.message, no.extra);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    pss *s = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return s ? on_http(wsi, s, in ? (const char *)in : "/") : -1;
    case LWS_CALLBACK_HTTP_BODY:
        return s ? on_body(s, in, len) : -1;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return s ? on_body_done(wsi, s) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return s ? on_http_writeable(wsi, s) : -1;
    case LWS_CALLBACK_CLOSED_HTTP:
        connguard_forget(lws_get_socket_fd(wsi));
        on_http_closed(s);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return s ? on_filter(wsi, s) : -1;
    case LWS_CALLBACK_ESTABLISHED:
        return s ? on_established(wsi, s) : -1;
    case LWS_CALLBACK_RECEIVE:
        return s ? hub_receive(wsi, &s->session, in, len) : -1;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (s)
            hub_pong(wsi, &s->session);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s ? hub_writeable(wsi, &s->session) : -1;
    case LWS_CALLBACK_CLOSED:
        if (s)
            hub_closed(wsi, &s->session);
        connguard_forget(lws_get_socket_fd(wsi));
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* lws gives every websocket a receive buffer of this size for its whole life: client frames
 * are small (register, ack, ping: under 128 bytes), larger ones arrive in pieces (hub.c joins
 * them), and an idle tab costs this much less. */
#define WS_RX_BUFFER 128
/* The most one send() may take: with 0, lws would cut every frame to WS_RX_BUFFER bytes, a
 * send() each (a register page of 100 events is some 40 KB). The kernel takes what fits. */
#define WS_TX_PACKET (256 * 1024)

static const struct lws_protocols protocols[] = {
    {"callrelay.v1", callback, sizeof(pss), WS_RX_BUFFER, 0, NULL, WS_TX_PACKET},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* The hub pings a tab silent for CALLRELAY_WS_PING_INTERVAL and closes one silent for
 * CALLRELAY_WS_IDLE_TIMEOUT with 1008 and a reason (hub.c, ping: lws's own pings are empty,
 * and lws 4.1 does not report empty pongs). lws's validity timer stays only as a backstop. */
static lws_retry_bo_t idle_policy;

static void lws_log(int level, const char *line)
{
    char msg[512];
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    snprintf(msg, sizeof msg, "%.*s", (int)n, line);
    redact_secrets(msg); /* lws may quote a request line, and tickets ride in query strings */
    log_write(level == LLL_ERR ? "error" : "warn", "libwebsockets", "{s:s}", "detail", msg);
}

/* lws turns TLS on for a vhost given a certificate, even without a listening port of its own
 * (NO_LISTEN_SERVER), and lws_adopt_socket_vhost adopts with LWS_ADOPT_ALLOW_SSL, so every
 * accepted connection starts with a handshake. ALPN offers HTTP/1.1 only: the handlers and
 * the websockets are written and tested for it, not for HTTP/2. */
static void tls_setup(struct lws_context_creation_info *info, const cr_config *cfg)
{
    if (!cfg->tls_cert)
        return;
    info->ssl_cert_filepath = cfg->tls_cert;
    info->ssl_private_key_filepath = cfg->tls_key;
    info->alpn = "http/1.1";
}

int http_start(uv_loop_t *loop, const cr_config *cfg, int listen_fd, const http_api *api)
{
    H.api = api;
    struct lws_context_creation_info info;
    H.cfg = cfg;
    H.loops[0] = loop;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (cfg->tls_cert)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = H.loops;
    info.count_threads = 1;
    info.max_http_header_data = LWS_HEADER_DATA;
    info.pcontext = &H.ctx; /* lws clears it when the context is wholly destroyed */
    H.ctx = lws_create_context(&info);
    if (!H.ctx)
        return -1;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* listener.c accepts and hands over */
    info.protocols = protocols;
    info.vhost_name = "callrelay";
    idle_policy.secs_since_valid_ping = 65000;
    idle_policy.secs_since_valid_hangup = 65535;
    info.retry_and_idle_policy = &idle_policy;
    info.timeout_secs = HTTP_WAIT_SECS;
    tls_setup(&info, cfg);
    H.vhost = lws_create_vhost(H.ctx, &info);
    if (!H.vhost)
        return -1;
    H.loop = loop;
    uv_timer_init(loop, &H.deadlines);
    connguard_init(loop, hub_on_unmasked);
    return listener_start(loop, listen_fd, H.vhost, !cfg->tls_cert);
}

void http_drain(void)
{
    H.draining = true;
    uv_timer_stop(&H.deadlines);
    uv_close((uv_handle_t *)&H.deadlines, NULL);
    http_stream_stop();
    listener_stop();
    connguard_stop();
    hub_close_all();
}

/* Called from a plain uv callback, and once more after uv_run returned if lws has not
 * finished (on a foreign loop it closes its handles asynchronously). */
void http_stop(void)
{
    if (H.ctx)
        lws_context_destroy(H.ctx);
    spares_free();
}
