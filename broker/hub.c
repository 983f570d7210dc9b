/* hub.c — websocket sessions and fan-out.
 *
 * Live events arrive only from the pub/sub feed, on every instance, the ingesting one
 * included: Redis publishes one user's wake-ups in stream-id order, so every tab sees its
 * user's events in id order. An event is serialized once into a reference-counted frame and
 * that frame is queued on every session that sends it. */
#include "hub.h"
#include "http.h"
#include "integrations.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "result.h"
#include "store.h"
#include "streamid.h"
#include "strmap.h"
#include "ticket.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESSION_MAGIC 0x53455353u
#define QUEUE_MAX 1024 /* frames a session may have waiting before it is closed */
#define RX_MAX 65536   /* largest client frame */
#define HELD_MAX 4096  /* live events held per user while it resyncs */
#define RESYNC_BATCH 1000
#define PAGE_MAX 1000
#define PAGE_DEFAULT 100

typedef struct frame {
    int refs;
    unsigned n_events;
    size_t len;
    unsigned char buf[]; /* LWS_PRE headroom, then the text */
} frame;

typedef struct hub_user hub_user;

typedef struct session {
    uint32_t magic;
    int refs; /* the connection, plus one per Redis call in flight */
    struct lws *wsi;
    hub_user *user;
    struct session *prev, *next;
    char integration[NAME_MAX_LEN + 1], extension[NAME_MAX_LEN + 1];
    bool registered, page_busy, culled, going_away;
    char page_from[STREAMID_MAX_LEN];   /* "" = after the acked cursor */
    char page_commit[STREAMID_MAX_LEN]; /* last id of the previous page, "" = none */
    streamid last_sent;
    frame **q; /* ring of q_cap frames, grown on demand up to QUEUE_MAX: idle tabs stay small */
    unsigned q_head, q_len, q_cap;
    char *rx;
    size_t rx_len;
} session;

struct hub_user {
    char key[2 * NAME_MAX_LEN + 2];
    char integration[NAME_MAX_LEN + 1], extension[NAME_MAX_LEN + 1];
    int refs; /* sessions, plus a resync in flight */
    session *sessions;
    bool resyncing, rerange, resync_inflight;
    unsigned n_held;
    frame **held;
    streamid *held_ids;
};

static struct {
    const cr_config *cfg;
    strmap users;
    char retention_ms[32];
} hub;

/* ---- frames ---- */

static frame *frame_new(size_t len)
{
    frame *f = malloc(sizeof *f + LWS_PRE + len + 1);
    if (!f)
        return NULL;
    f->refs = 1;
    f->n_events = 0;
    f->len = len;
    return f;
}

static void frame_unref(frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

static char *frame_text(frame *f) { return (char *)f->buf + LWS_PRE; }

static frame *frame_from_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    frame *f = frame_new(len);
    if (f)
        memcpy(frame_text(f), text, len);
    free(text);
    return f;
}

/* The stored JSON starts with '{'; the id is spliced in front of its first key. */
static size_t event_text(char *out, const char *id, const char *json, size_t json_len)
{
    size_t n = (size_t)sprintf(out, "{\"id\":\"%s\",", id);
    memcpy(out + n, json + 1, json_len - 1);
    return n + json_len - 1;
}

static frame *frame_event(const char *id, const char *json, size_t json_len)
{
    static const char head[] = "{\"op\":\"event\",\"event\":";
    size_t idl = strlen(id);
    frame *f = frame_new(sizeof head - 1 + 10 + idl + json_len + 1);
    if (!f)
        return NULL;
    char *p = frame_text(f);
    memcpy(p, head, sizeof head - 1);
    size_t n = sizeof head - 1;
    n += event_text(p + n, id, json, json_len);
    p[n++] = '}';
    f->len = n;
    f->n_events = 1;
    return f;
}

/* ---- sessions ---- */

static void session_release(session *s)
{
    if (--s->refs > 0)
        return;
    for (unsigned i = 0; i < s->q_len; i++)
        frame_unref(s->q[(s->q_head + i) % s->q_cap]);
    free(s->q);
    free(s->rx);
    s->magic = 0;
    free(s);
}

static void cull(session *s)
{
    if (s->culled || !s->wsi)
        return;
    s->culled = true;
    METRIC_ADD(sessions_culled, 1);
    log_warn("websocket closed: reader too slow", "{s:s,s:s}", "integration", s->integration,
             "user", s->extension);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_LAGGING, LWS_TO_KILL_ASYNC);
    lws_cancel_service(lws_get_context(s->wsi)); /* lws re-arms its timer only when serviced */
}

/* A frame for an idle session is written at once: waiting for a writable callback costs
 * four epoll_ctl calls on libuv (it removes and re-adds the descriptor on every change of
 * interest), per event and per tab. lws buffers whatever the socket does not take and asks
 * for writability itself; anything later queues behind it. */
static bool write_now(session *s, frame *f)
{
    if (s->q_len || s->going_away || http_draining() || lws_partial_buffered(s->wsi))
        return false;
    int n = lws_write(s->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
    if (n < (int)f->len) {
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_LAGGING, LWS_TO_KILL_ASYNC);
        lws_cancel_service(lws_get_context(s->wsi));
    } else
        METRIC_ADD(events_delivered, f->n_events);
    return true;
}

static int queue_grow(session *s)
{
    unsigned cap = s->q_cap ? s->q_cap * 2 : 8;
    frame **q = malloc(cap * sizeof *q);
    if (!q)
        return -1;
    for (unsigned i = 0; i < s->q_len; i++)
        q[i] = s->q[(s->q_head + i) % s->q_cap];
    free(s->q);
    s->q = q;
    s->q_cap = cap;
    s->q_head = 0;
    return 0;
}

static void enqueue(session *s, frame *f)
{
    if (!s->wsi || s->culled || write_now(s, f))
        return;
    if (s->q_len == QUEUE_MAX) {
        cull(s);
        return;
    }
    if (s->q_len == s->q_cap && queue_grow(s) != 0) {
        cull(s);
        return;
    }
    f->refs++;
    s->q[(s->q_head + s->q_len++) % s->q_cap] = f;
    lws_callback_on_writable(s->wsi);
}

static void send_json(session *s, json_t *j)
{
    frame *f = frame_from_json(j);
    if (!f)
        return;
    enqueue(s, f);
    frame_unref(f);
}

static void send_error(session *s, int code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    send_json(
        s, json_pack("{s:s,s:{s:i,s:s}}", "op", "error", "result", "code", code, "message", msg));
}

/* ---- users ---- */

static void user_key(char *out, const char *integ, const char *ext)
{
    sprintf(out, "%s/%s", integ, ext);
}

static hub_user *user_get(const char *integ, const char *ext)
{
    char key[2 * NAME_MAX_LEN + 2];
    user_key(key, integ, ext);
    hub_user *u = strmap_get(&hub.users, key);
    if (u)
        return u;
    u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    memcpy(u->key, key, sizeof key);
    snprintf(u->integration, sizeof u->integration, "%s", integ);
    snprintf(u->extension, sizeof u->extension, "%s", ext);
    if (strmap_put(&hub.users, key, u) != 0) {
        free(u);
        return NULL;
    }
    return u;
}

static void user_drop_held(hub_user *u)
{
    for (unsigned i = 0; i < u->n_held; i++)
        frame_unref(u->held[i]);
    u->n_held = 0;
}

static void user_release(hub_user *u)
{
    if (--u->refs > 0)
        return;
    strmap_del(&hub.users, u->key);
    user_drop_held(u);
    free(u->held);
    free(u->held_ids);
    free(u);
}

/* Queues f on every registered tab of u that has not yet been sent id. */
static void deliver_now(hub_user *u, streamid id, frame *f)
{
    for (session *s = u->sessions; s; s = s->next) {
        if (!s->registered || streamid_cmp(id, s->last_sent) <= 0)
            continue;
        s->last_sent = id;
        enqueue(s, f);
    }
}

static void hold(hub_user *u, streamid id, frame *f)
{
    if (!u->held) {
        u->held = malloc(HELD_MAX * sizeof *u->held);
        u->held_ids = malloc(HELD_MAX * sizeof *u->held_ids);
    }
    if (!u->held || !u->held_ids || u->n_held == HELD_MAX) {
        /* Every held event is in the stream: read it again rather than hold more. */
        user_drop_held(u);
        u->rerange = true;
        return;
    }
    f->refs++;
    u->held[u->n_held] = f;
    u->held_ids[u->n_held++] = id;
}

/* ---- the pub/sub feed ---- */

static void wakeup_line(const char *line, size_t len)
{
    const char *f[3];
    size_t n = 0;
    const char *p = line, *end = line + len;
    while (n < 3 && p < end) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (!tab)
            return;
        f[n++] = p;
        p = tab + 1;
    }
    if (n < 3 || p >= end || *p != '{')
        return;
    size_t li = (size_t)(f[1] - f[0] - 1), le = (size_t)(f[2] - f[1] - 1),
           ld = (size_t)(p - f[2] - 1);
    if (li > NAME_MAX_LEN || le > NAME_MAX_LEN || ld >= STREAMID_MAX_LEN)
        return;
    /* "integration\textension" is the user's key once the tab becomes the '/' of user_key */
    char key[2 * NAME_MAX_LEN + 2], id[STREAMID_MAX_LEN];
    memcpy(key, f[0], li + 1 + le);
    key[li] = '/';
    key[li + 1 + le] = '\0';
    hub_user *u = strmap_get(&hub.users, key);
    if (!u)
        return;
    memcpy(id, f[2], ld);
    id[ld] = '\0';
    streamid sid;
    if (!streamid_parse(id, &sid))
        return;
    frame *fr = frame_event(id, p, (size_t)(end - p));
    if (!fr)
        return;
    if (u->resyncing)
        hold(u, sid, fr);
    else
        deliver_now(u, sid, fr);
    frame_unref(fr);
}

void hub_on_wakeup(const char *payload, size_t len)
{
    const char *p = payload, *end = payload + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        wakeup_line(p, l);
        p += l + 1;
    }
}

/* ---- resync after the feed was lost: read each user's stream from what its tabs have ----
 * While a user resyncs, its live events are held (they are in the stream too). A read that
 * fails leaves the user resyncing, and it is read again when Redis is back: delivering what
 * is held would skip the gap for good. */

static void resync_read(hub_user *u);

static void resync_finish(hub_user *u)
{
    for (unsigned i = 0; i < u->n_held; i++)
        deliver_now(u, u->held_ids[i], u->held[i]);
    user_drop_held(u);
    u->resyncing = false;
}

static void resync_failed(hub_user *u)
{
    user_drop_held(u);
    u->rerange = false;
}

static bool entry_valid(const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
        e->element[1]->elements != 2)
        return false;
    const redisReply *json = e->element[1]->element[1];
    return json->type == REDIS_REPLY_STRING && json->len >= 2 && json->str[0] == '{';
}

static void on_resync_reply(redisReply *r, void *ud)
{
    hub_user *u = ud;
    u->resync_inflight = false;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        resync_failed(u);
        user_release(u);
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        streamid sid;
        if (!entry_valid(e) || !streamid_parse(e->element[0]->str, &sid))
            continue;
        redisReply *json = e->element[1]->element[1];
        frame *f = frame_event(e->element[0]->str, json->str, json->len);
        if (f) {
            deliver_now(u, sid, f);
            frame_unref(f);
        }
    }
    if (u->sessions && (r->elements == RESYNC_BATCH || u->rerange)) {
        u->rerange = false;
        resync_read(u);
    } else {
        resync_finish(u);
    }
    user_release(u);
}

static void resync_read(hub_user *u)
{
    streamid from = {0, 0};
    bool any = false;
    if (u->resync_inflight)
        return;
    for (session *s = u->sessions; s; s = s->next)
        if (s->registered && !streamid_is_zero(s->last_sent) &&
            (!any || streamid_cmp(s->last_sent, from) < 0)) {
            from = s->last_sent;
            any = true;
        }
    if (!any) { /* no tab has had a page yet: theirs will cover the gap */
        resync_finish(u);
        return;
    }
    char start[STREAMID_MAX_LEN + 2], count[16];
    snprintf(start, sizeof start, "(%llu-%llu", (unsigned long long)from.ms,
             (unsigned long long)from.seq);
    snprintf(count, sizeof count, "%d", RESYNC_BATCH);
    char *key = store_key_stream(u->integration, u->extension);
    const char *argv[] = {"XRANGE", key ? key : "", start, "+", "COUNT", count};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    u->resyncing = true;
    u->refs++;
    if (key && store_command(on_resync_reply, u, 6, argv, lens) == 0) {
        u->resync_inflight = true;
    } else {
        u->refs--;
        resync_failed(u);
    }
    free(key);
}

static void resync_feed_lost(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    hub_user *u = value;
    if (u->resync_inflight) {
        u->rerange = true; /* what it reads may predate the new subscription */
        return;
    }
    resync_read(u);
}

static void resync_pending(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    hub_user *u = value;
    if (u->resyncing && !u->resync_inflight)
        resync_read(u);
}

void hub_on_pubsub_ready(void) { strmap_each(&hub.users, resync_feed_lost, NULL); }
void hub_on_store_connected(void) { strmap_each(&hub.users, resync_pending, NULL); }

/* ---- register: one page of missed events ---- */

static json_t *result(int code, const char *message)
{
    return json_pack("{s:i,s:s}", "code", code, "message", message);
}

static frame *page_frame(redisReply *entries)
{
    size_t cap = 128;
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        cap += e->element[0]->len + e->element[1]->element[1]->len + 16;
    }
    frame *f = frame_new(cap);
    if (!f)
        return NULL;
    char *p = frame_text(f);
    int code = entries->elements ? RC_OK : RC_NO_MORE_EVENTS;
    size_t n = (size_t)sprintf(p,
                               "{\"op\":\"register\",\"result\":{\"code\":%d,\"message\":\"%s\"},"
                               "\"events\":[",
                               code, code ? "no more missed events" : "ok");
    for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i];
        redisReply *json = e->element[1]->element[1];
        if (i)
            p[n++] = ',';
        n += event_text(p + n, e->element[0]->str, json->str, json->len);
    }
    p[n++] = ']';
    p[n++] = '}';
    f->len = n;
    f->n_events = (unsigned)entries->elements;
    return f;
}

static bool page_reply_valid(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[2]->type != REDIS_REPLY_ARRAY)
        return false;
    if (r->element[0]->type != REDIS_REPLY_STRING)
        return false;
    const redisReply *entries = r->element[2];
    for (size_t i = 0; i < entries->elements; i++)
        if (!entry_valid(entries->element[i]))
            return false;
    return true;
}

static void on_page(redisReply *r, void *ud)
{
    session *s = ud;
    s->page_busy = false;
    if (!s->wsi) {
        session_release(s);
        return;
    }
    if (!page_reply_valid(r)) {
        send_error(s, r ? RC_INTERNAL : RC_UNAVAILABLE, "%s",
                   r && r->type == REDIS_REPLY_ERROR ? r->str : "storage unavailable, try again");
        session_release(s);
        return;
    }
    redisReply *entries = r->element[2];
    streamid top;
    if (streamid_parse(r->element[0]->str, &top) && streamid_cmp(top, s->last_sent) > 0)
        s->last_sent = top;
    if (entries->elements) {
        const char *last = entries->element[entries->elements - 1]->element[0]->str;
        snprintf(s->page_from, sizeof s->page_from, "%s", last);
        snprintf(s->page_commit, sizeof s->page_commit, "%s", last);
    } else {
        s->page_commit[0] = 0;
    }
    frame *f = page_frame(entries);
    if (f) {
        enqueue(s, f);
        frame_unref(f);
    }
    session_release(s);
}

static void op_register(session *s, json_t *msg)
{
    json_t *jl = json_object_get(msg, "limit"), *js = json_object_get(msg, "since");
    json_int_t limit = PAGE_DEFAULT;
    streamid since;
    if (jl &&
        (!json_is_integer(jl) || json_integer_value(jl) < 1 || json_integer_value(jl) > PAGE_MAX)) {
        send_error(s, RC_INVALID_FIELD, "limit: must be an integer from 1 to %d", PAGE_MAX);
        return;
    }
    if (jl)
        limit = json_integer_value(jl);
    if (js && !json_is_null(js) && !streamid_parse(json_string_value(js), &since)) {
        send_error(s, RC_INVALID_FIELD, "since: must be an event id such as \"1700000000000-0\"");
        return;
    }
    if (s->page_busy) {
        send_error(s, RC_BAD_REQUEST, "register: the previous page is still on its way");
        return;
    }
    if (!s->registered) {
        s->registered = true;
        s->page_from[0] = s->page_commit[0] = 0;
    }
    if (js && !json_is_null(js)) {
        snprintf(s->page_from, sizeof s->page_from, "%s", json_string_value(js));
        s->page_commit[0] = 0;
    }
    char *stream = store_key_stream(s->integration, s->extension);
    char *cursor = store_key_cursor(s->integration, s->extension);
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)limit);
    const char *args[] = {stream, cursor, s->page_commit, s->page_from, lim, hub.retention_ms};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(args[i]);
    s->refs++;
    s->page_busy = true;
    if (store_script(SCRIPT_PAGE, on_page, s, 2, 6, args, lens) != 0) {
        s->refs--;
        s->page_busy = false;
        send_error(s, RC_UNAVAILABLE, "storage unavailable, try again");
    }
    free(stream);
    free(cursor);
}

static void on_ack(redisReply *r, void *ud)
{
    session *s = ud;
    if (s->wsi && (!r || r->type == REDIS_REPLY_ERROR))
        send_error(s, r ? RC_INTERNAL : RC_UNAVAILABLE, "ack: %s",
                   r ? r->str : "storage unavailable, try again");
    session_release(s);
}

static void op_ack(session *s, json_t *msg)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    streamid sid;
    if (!streamid_parse(id, &sid)) {
        send_error(s, RC_INVALID_FIELD, "id: must be an event id such as \"1700000000000-0\"");
        return;
    }
    char *cursor = store_key_cursor(s->integration, s->extension);
    const char *args[] = {cursor, id, hub.retention_ms};
    size_t lens[3] = {strlen(cursor), strlen(id), strlen(hub.retention_ms)};
    s->refs++;
    if (store_script(SCRIPT_ACK, on_ack, s, 1, 3, args, lens) != 0) {
        s->refs--;
        send_error(s, RC_UNAVAILABLE, "ack: storage unavailable, try again");
    }
    free(cursor);
}

static void handle_frame(session *s, const char *text, size_t len)
{
    json_error_t e;
    json_t *msg = json_loadb(text, len, 0, &e);
    const char *op = msg ? json_string_value(json_object_get(msg, "op")) : NULL;
    if (!msg || !json_is_object(msg))
        send_error(s, RC_BAD_REQUEST, "malformed JSON: %s", msg ? "not an object" : e.text);
    else if (!op)
        send_error(s, RC_INVALID_FIELD, "op: required, one of register, ack, ping, unregister");
    else if (strcmp(op, "register") == 0)
        op_register(s, msg);
    else if (strcmp(op, "ping") == 0)
        send_json(s, json_pack("{s:s,s:o}", "op", "pong", "result", result(0, "ok")));
    else if (strcmp(op, "ack") != 0 && strcmp(op, "unregister") != 0)
        send_error(s, RC_UNKNOWN_OP, "op: unknown op \"%s\"", op);
    else if (!s->registered)
        send_error(s, RC_NOT_REGISTERED, "%s: register first", op);
    else if (strcmp(op, "ack") == 0)
        op_ack(s, msg);
    else {
        s->registered = false;
        send_json(s, json_pack("{s:s,s:o}", "op", "unregister", "result", result(0, "ok")));
    }
    json_decref(msg);
}

/* ---- lws callbacks ---- */

typedef struct ws_auth {
    char integration[NAME_MAX_LEN + 1], extension[NAME_MAX_LEN + 1];
} ws_auth;

static int authenticate(struct lws *wsi, ws_auth *a)
{
    char path[64], buf[TICKET_MAX_LEN + 1];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 || strcmp(path, "/v1/ws"))
        return 404;
    if (http_draining())
        return 503;
    const char *v;
    if ((v = lws_get_urlarg_by_name(wsi, "ticket=", buf, sizeof buf))) {
        const cr_config *c = hub.cfg;
        if (ticket_verify(c->ticket_secret, c->ticket_secret_len, v, (int64_t)time(NULL),
                          a->integration, a->extension) != TICKET_OK)
            return 401;
        return integrations_by_name(a->integration) ? 0 : 401;
    }
    char ebuf[NAME_MAX_LEN + 16];
    const char *ext;
    const integration *in = NULL;
    if ((v = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf)))
        in = integrations_by_token(v);
    if (!in || !(ext = lws_get_urlarg_by_name(wsi, "extension=", ebuf, sizeof ebuf)) ||
        !name_extension_valid(ext))
        return 401;
    snprintf(a->integration, sizeof a->integration, "%s", in->name);
    memcpy(a->extension, ext, strlen(ext) + 1); /* valid: at most NAME_MAX_LEN */
    return 0;
}

int hub_filter(struct lws *wsi, void **slot)
{
    ws_auth a;
    (void)slot;
    int status = authenticate(wsi, &a);
    if (status) {
        metrics_http_status(status);
        lws_return_http_status(wsi, (unsigned)status, NULL);
        return -1;
    }
    return 0;
}

static void on_user_exists(redisReply *r, void *ud)
{
    session *s = ud;
    if (s->wsi && r && r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
        send_error(s, RC_NOT_FOUND, "no user %s in integration %s", s->extension, s->integration);
        s->going_away = true;
        lws_callback_on_writable(s->wsi); /* where the close frame is written */
    }
    session_release(s);
}

static void verify_user(session *s)
{
    char *users = store_key_users(s->integration);
    const char *argv[] = {"HEXISTS", users, s->extension};
    size_t lens[3] = {7, strlen(users), strlen(s->extension)};
    s->refs++;
    if (store_command(on_user_exists, s, 3, argv, lens) != 0)
        s->refs--; /* Redis down: its events cannot flow either; the tab may stay */
    free(users);
}

int hub_established(struct lws *wsi, void **slot)
{
    ws_auth a;
    if (authenticate(wsi, &a) != 0)
        return -1;
    session *s = calloc(1, sizeof *s);
    hub_user *u = s ? user_get(a.integration, a.extension) : NULL;
    if (!u) {
        free(s);
        return -1;
    }
    s->magic = SESSION_MAGIC;
    s->refs = 1;
    s->wsi = wsi;
    s->user = u;
    memcpy(s->integration, a.integration, sizeof s->integration);
    memcpy(s->extension, a.extension, sizeof s->extension);
    u->refs++;
    s->next = u->sessions;
    if (u->sessions)
        u->sessions->prev = s;
    u->sessions = s;
    *slot = s;
    METRIC_ADD(sessions_open, 1);
    verify_user(s); /* the user may be gone since the ticket was issued */
    return 0;
}

int hub_receive(struct lws *wsi, void **slot, const void *in, size_t len)
{
    session *s = *slot;
    if (!s || s->magic != SESSION_MAGIC)
        return -1;
    bool whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    if (whole && !s->rx_len) {
        handle_frame(s, in, len);
        return 0;
    }
    if (s->rx_len + len > RX_MAX) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
        return -1;
    }
    char *grown = realloc(s->rx, s->rx_len + len);
    if (!grown)
        return -1;
    s->rx = grown;
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (whole) {
        handle_frame(s, s->rx, s->rx_len);
        s->rx_len = 0;
    }
    return 0;
}

/* lws 4.1 on a foreign loop drops the socket without the close frame when a writable
 * callback sets a close reason and returns -1 (seen with strace), so the frame is written
 * here. 4 is lws's private LWS_WRITE_CLOSE, which lws_write frames as opcode 0x8. */
#define WRITE_CLOSE ((enum lws_write_protocol)4)

static int close_with(struct lws *wsi, enum lws_close_status code, const char *why)
{
    unsigned char buf[LWS_PRE + 125];
    size_t len = strlen(why) > 120 ? 120 : strlen(why);
    buf[LWS_PRE] = (unsigned char)(code >> 8);
    buf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
    memcpy(buf + LWS_PRE + 2, why, len);
    lws_write(wsi, buf + LWS_PRE, len + 2, WRITE_CLOSE);
    return -1;
}

int hub_writeable(struct lws *wsi, void **slot)
{
    session *s = *slot;
    if (!s || s->magic != SESSION_MAGIC)
        return -1;
    if (s->q_len) {
        frame *f = s->q[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        int n = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
        bool failed = n < (int)f->len;
        METRIC_ADD(events_delivered, f->n_events);
        frame_unref(f);
        if (failed)
            return -1;
        if (s->q_len) {
            lws_callback_on_writable(wsi);
            return 0;
        }
    }
    if (http_draining())
        return close_with(wsi, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    if (s->going_away)
        return close_with(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, "no such user");
    return 0;
}

void hub_closed(struct lws *wsi, void **slot)
{
    session *s = *slot;
    (void)wsi;
    if (!s || s->magic != SESSION_MAGIC)
        return;
    *slot = NULL;
    hub_user *u = s->user;
    if (s->prev)
        s->prev->next = s->next;
    else
        u->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->wsi = NULL;
    METRIC_SUB(sessions_open, 1);
    user_release(u);
    session_release(s);
}

static void wake_each(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    for (session *s = ((hub_user *)value)->sessions; s; s = s->next)
        if (s->wsi)
            lws_callback_on_writable(s->wsi);
}

/* Draining is already set: each session's next writable callback closes it with 1001. */
void hub_close_all(void) { strmap_each(&hub.users, wake_each, NULL); }

int hub_init(const cr_config *cfg)
{
    hub.cfg = cfg;
    snprintf(hub.retention_ms, sizeof hub.retention_ms, "%lld", (long long)cfg->retention_s * 1000);
    return strmap_init(&hub.users);
}

void hub_free(void) { strmap_free(&hub.users); }
