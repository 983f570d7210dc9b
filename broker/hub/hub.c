/* hub.c — websocket sessions and fan-out.
 *
 * Live events arrive only from the pub/sub feed, on every instance, the ingesting one
 * included: Redis publishes one user's wake-ups in stream-id order, so every tab sees its
 * user's events in id order. An event is serialized once into a reference-counted frame and
 * that frame is queued on every session that sends it. */
#include "hub.h"
#include "bounds.h"
#include "frame.h"
#include "held.h"
#include "http.h"
#include "integrations.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "presence.h"
#include "result.h"
#include "store_users.h"
#include "streamid.h"
#include "strmap.h"
#include "feed_shard.h"
#include "store.h"
#include "ticket.h"
#include "wakeup.h"
#include "call_state.h"
#include "wsproto.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESSION_MAGIC 0x53455353u
#define QUEUE_MAX 1024  /* frames a session may have waiting before it is closed */
#define RX_MAX 65536    /* largest client frame */
#define EARLY_MAX 16    /* client frames kept while the connection is being let in */
#define CLOSE_GRACE_S 5 /* a tab that does not take its close frame is dropped after this */
#define RESYNC_BATCH 1000
#define UNMASKED "client frames must be masked"
#define CLOSE_TRY_AGAIN_LATER 1013 /* RFC 6455 registry; not in lws 4.1's enum */
#define SWEEP_MS 500               /* idle tabs and queues over the soft bound are found by then */

typedef struct hub_user hub_user;

typedef struct early_frames {
    char *f[EARLY_MAX];
    size_t len[EARLY_MAX];
    unsigned n;
} early_frames;

typedef struct session {
    uint32_t magic;
    int refs; /* the connection, plus one per Redis call in flight */
    struct lws *wsi;
    hub_user *user;
    struct session *prev, *next;
    const char *integration, *extension; /* its user's: the session holds the user */
    bool ready;                /* the user exists, the ticket was not used before, the feed is on */
    unsigned shard;            /* its user's, of the feed */
    struct session *wait_next; /* let in, waiting for its shard's feed (hub.waiting) */
    bool registered;           /* live events are for it */
    bool paging;               /* registered, and its paging has not reached code 109 yet */
    bool page_busy;
    bool present;    /* counted in presence: it registered, and has not unregistered since */
    bool calls_sent; /* the first register answer, with the user's open calls, went out */
    int close_code;  /* set: the next writable callback closes with it */
    const char *close_reason;
    streamid page_last;    /* the previous page's last id; zero: after the acked cursor */
    bool page_committable; /* page_last is committed by the next page (it was not empty) */
    streamid last_sent;    /* the last event id this tab was given */
    held_list held;
    frame **q; /* ring of q_cap frames, grown on demand up to QUEUE_MAX: idle tabs stay small */
    unsigned q_head, q_len, q_cap;
    size_t q_bytes;       /* what q holds, for CALLRELAY_WS_QUEUE_*_BYTES */
    int64_t q_over_since; /* when q went over the soft bound (loop ms), 0: it is not over */
    uint64_t last_rx_ms;  /* the last frame or pong from the client (loop ms) */
    uint64_t last_ping_ms;
    char *rx;
    size_t rx_len;
    struct early_frames *early; /* only while it is being let in: idle tabs stay small */
} session;

struct hub_user {
    unsigned shard;
    const char *integration, *extension; /* in names, after the key */
    int refs;                            /* sessions, plus a resync in flight */
    session *sessions;
    int64_t n_sessions; /* for CALLRELAY_MAX_WEBSOCKETS_PER_USER */
    bool resyncing, rerange, resync_inflight;
    held_list held;
    char names[]; /* the key "INTEGRATION/EXTENSION", then each name: sized to fit */
};

static struct {
    const cr_config *cfg;
    strmap users;
    bool draining; /* shutting down: no new tabs, and each tab is closed with 1001 */
    uv_loop_t *loop;
    uv_timer_t sweep; /* idle tabs, queues over the soft bound; started with the first tab */
    bool sweeping;
    session *waiting; /* let in, their shard's feed not subscribed yet: each holds a ref */
} hub;

/* ---- sessions ---- */

static void queue_drop(session *s)
{
    for (unsigned i = 0; i < s->q_len; i++)
        frame_unref(s->q[(s->q_head + i) % s->q_cap]);
    s->q_len = 0;
    s->q_bytes = 0;
    s->q_over_since = 0;
}

static void early_drop(session *s)
{
    if (!s->early)
        return;
    for (unsigned i = 0; i < s->early->n; i++)
        free(s->early->f[i]);
    free(s->early);
    s->early = NULL;
}

static void user_release(hub_user *u);

static void session_release(session *s)
{
    if (--s->refs > 0)
        return;
    hub_user *u = s->user;
    queue_drop(s);
    free(s->q);
    free(s->rx);
    held_free(&s->held);
    early_drop(s);
    s->magic = 0;
    free(s);
    user_release(u);
}

/* The close frame says why, so that a client can tell a cull from a network failure. What
 * is queued goes out first unless drop_queue; a client that does not read it is dropped
 * after CLOSE_GRACE_S. */
static void session_close(session *s, int code, const char *reason, bool drop_queue)
{
    if (!s->wsi || s->close_code)
        return;
    s->close_code = code;
    s->close_reason = reason;
    s->registered = s->paging = false;
    held_drop(&s->held);
    early_drop(s);
    if (drop_queue)
        queue_drop(s);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_GRACE_S);
    lws_callback_on_writable(s->wsi);
    lws_cancel_service(lws_get_context(s->wsi)); /* lws re-arms its timer only when serviced */
}

/* A limit closes the tab with 1008; its events stay in Redis for the next connection. */
static void limit_close(session *s, enum metric_limit why, const char *reason)
{
    if (s->close_code || !s->wsi)
        return;
    METRIC_ADD(limited[why], 1);
    log_warn("websocket closed by a limit", "{s:s,s:s,s:s,s:I}", "integration", s->integration,
             "user", s->extension, "reason", reason, "queued_bytes", (json_int_t)s->q_bytes);
    session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason, true);
}

#define QUEUE_HARD_REASON "outgoing queue over CALLRELAY_WS_QUEUE_HARD_BYTES: reconnect and resume"
#define QUEUE_SOFT_REASON                                                                          \
    "outgoing queue over CALLRELAY_WS_QUEUE_SOFT_BYTES for too long: reconnect and resume"
#define IDLE_REASON "idle: nothing received, not even a pong, within CALLRELAY_WS_IDLE_TIMEOUT"

/* bytes: what the queue would hold. False when the tab was closed for it. */
static bool queue_within(session *s, size_t bytes)
{
    const cr_config *c = hub.cfg;
    queue_verdict v =
        queue_bound(bytes, (int64_t)uv_now(hub.loop), &s->q_over_since, c->ws_queue_hard,
                    c->ws_queue_soft, (int64_t)c->ws_queue_soft_s * 1000);
    if (v == QUEUE_HARD)
        limit_close(s, LIMIT_QUEUE_HARD, QUEUE_HARD_REASON);
    else if (v == QUEUE_SOFT)
        limit_close(s, LIMIT_QUEUE_SOFT, QUEUE_SOFT_REASON);
    return v == QUEUE_OK;
}

static void cull(session *s)
{
    if (s->close_code || !s->wsi)
        return;
    METRIC_ADD(sessions_culled, 1);
    log_warn("websocket closed: reader too slow", "{s:s,s:s}", "integration", s->integration,
             "user", s->extension);
    session_close(s, CLOSE_TRY_AGAIN_LATER, "reader too slow: reconnect and resume", true);
}

/* A frame for an idle session is written at once: waiting for a writable callback costs
 * four epoll_ctl calls on libuv (it removes and re-adds the descriptor on every change of
 * interest), per event and per tab. lws buffers whatever the socket does not take and asks
 * for writability itself; anything later queues behind it. */
static bool write_now(session *s, frame *f)
{
    if (s->q_len || hub.draining || lws_partial_buffered(s->wsi))
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
    if (!s->wsi || s->close_code || write_now(s, f))
        return;
    if (s->q_len == QUEUE_MAX || (s->q_len == s->q_cap && queue_grow(s) != 0)) {
        cull(s);
        return;
    }
    if (!queue_within(s, s->q_bytes + f->len))
        return;
    f->refs++;
    s->q[(s->q_head + s->q_len++) % s->q_cap] = f;
    s->q_bytes += f->len;
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
    __attribute__((format(printf, 3, 4)));
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
    size_t li = strlen(integ), le = strlen(ext);
    u = calloc(1, sizeof *u + 2 * (li + le + 2));
    if (!u)
        return NULL;
    char *in = u->names + li + le + 2, *ex = in + li + 1;
    memcpy(u->names, key, li + le + 2);
    memcpy(in, integ, li + 1);
    memcpy(ex, ext, le + 1);
    u->integration = in;
    u->extension = ex;
    if (strmap_put(&hub.users, key, u) != 0) {
        free(u);
        return NULL;
    }
    u->shard = feed_shard(integ, ext);
    store_feed_join(u->shard);
    return u;
}

static void user_release(hub_user *u)
{
    if (--u->refs > 0)
        return;
    strmap_del(&hub.users, u->names);
    store_feed_leave(u->shard);
    held_free(&u->held);
    free(u);
}

/* ---- delivery: ids only grow on a tab, and a paging tab gets nothing live ---- */

static void send_event(session *s, streamid id, frame *f)
{
    if (streamid_cmp(id, s->last_sent) <= 0)
        return;
    s->last_sent = id;
    enqueue(s, f);
}

static void deliver_now(hub_user *u, streamid id, frame *f)
{
    for (session *s = u->sessions; s; s = s->next) {
        if (!s->registered)
            continue;
        if (s->paging)
            held_add(&s->held, id, f);
        else
            send_event(s, id, f);
    }
}

/* ---- the pub/sub feed ---- */

static void on_wakeup_line(const wakeup_line *w, void *ud)
{
    (void)ud;
    char key[2 * NAME_MAX_LEN + 2];
    user_key(key, w->integration, w->extension);
    hub_user *u = strmap_get(&hub.users, key);
    if (!u)
        return;
    frame *fr = frame_event(w->id_text, w->json, w->json_len);
    if (!fr)
        return;
    if (u->resyncing)
        held_add(&u->held, w->id, fr);
    else
        deliver_now(u, w->id, fr);
    frame_unref(fr);
}

void hub_on_wakeup(const char *payload, size_t len)
{
    wakeup_each(payload, len, on_wakeup_line, NULL);
}

/* ---- resync: read a user's stream from what its live tabs have ----
 * After the feed was lost, when a tab's held events overflowed, or when a tab finished paging
 * while a read was on its way. While a user resyncs, its live events are held (they are in
 * the stream too). A read that fails leaves the user resyncing, and it is read again when
 * Redis is back: delivering what is held would skip the gap for good. */

static void resync_read(hub_user *u);

static void resync_finish(hub_user *u)
{
    u->resyncing = false;
    for (unsigned i = 0; i < u->held.n; i++)
        deliver_now(u, u->held.id[i], u->held.f[i]);
    held_drop(&u->held);
}

static void resync_failed(hub_user *u)
{
    held_drop(&u->held);
    u->held.lost = false;
    u->rerange = false;
}

static void resync_request(hub_user *u)
{
    if (u->resync_inflight)
        u->rerange = true; /* what it reads may start after this tab's position */
    else
        resync_read(u);
}

static void on_resync_read(const store_entries *e, void *ud)
{
    hub_user *u = ud;
    u->resync_inflight = false;
    if (e->outcome.status != STORE_OK) {
        resync_failed(u);
        user_release(u);
        return;
    }
    for (size_t i = 0; i < e->n; i++) {
        frame *f = frame_event(e->v[i].id_text, e->v[i].json, e->v[i].json_len);
        if (f) {
            deliver_now(u, e->v[i].id, f);
            frame_unref(f);
        }
    }
    if (u->sessions && (e->read == RESYNC_BATCH || u->rerange || u->held.lost)) {
        u->rerange = false;
        if (u->held.lost) {
            u->held.lost = false; /* this read covers what was dropped */
            held_drop(&u->held);
        }
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
        if (s->registered && !s->paging && !streamid_is_zero(s->last_sent) &&
            (!any || streamid_cmp(s->last_sent, from) < 0)) {
            from = s->last_sent;
            any = true;
        }
    if (!any) { /* every tab is paging or has had no page yet: paging covers the gap */
        resync_finish(u);
        return;
    }
    u->resyncing = true;
    u->refs++;
    if (store_stream_read_after(u->integration, u->extension, from, RESYNC_BATCH, on_resync_read,
                                u) == 0) {
        u->resync_inflight = true;
    } else {
        u->refs--;
        resync_failed(u);
    }
}

static void resync_feed_lost(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    hub_user *u = value;
    for (session *s = u->sessions; s; s = s->next)
        if (s->paging) { /* what it holds may have a hole: read after its last page */
            held_drop(&s->held);
            s->held.lost = true;
        }
    resync_request(u);
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

/* The user's open calls, as GET /v1/calls/CALL_ID gives each: a JSON array, malloc'd. */
static char *calls_text(const store_page *p)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < p->n_calls; i++) {
        const call_fields *c = &p->calls[i];
        json_t *call = call_state_json(c->call_id, c->v, c->n);
        if (call)
            json_array_append_new(list, call);
    }
    char *text = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    return text;
}

/* calls: the "calls" array's text, or NULL for none (not the first answer). */
static frame *page_frame(const store_page *p, const char *calls)
{
    size_t cap = 160 + (calls ? strlen(calls) : 0);
    for (size_t i = 0; i < p->n; i++)
        cap += strlen(p->v[i].id_text) + p->v[i].json_len + 16;
    frame *f = frame_new(cap);
    if (!f)
        return NULL;
    char *t = frame_text(f);
    int code = p->n ? RC_OK : RC_NO_MORE_EVENTS;
    size_t n = (size_t)sprintf(t,
                               "{\"op\":\"register\",\"result\":{\"code\":%d,\"message\":\"%s\"},"
                               "\"events\":[",
                               code, code ? "no more missed events" : "ok");
    for (size_t i = 0; i < p->n; i++) {
        if (i)
            t[n++] = ',';
        n += event_text(t + n, p->v[i].id_text, p->v[i].json, p->v[i].json_len);
    }
    t[n++] = ']';
    if (p->gap)
        n += (size_t)sprintf(t + n, ",\"gap\":true");
    if (calls)
        n += (size_t)sprintf(t + n, ",\"calls\":%s", calls);
    t[n++] = '}';
    f->len = n;
    f->n_events = (unsigned)p->n;
    return f;
}

/* Paging reached code 109: the live events held meanwhile follow the last page. */
static void page_end(session *s)
{
    s->paging = false;
    if (s->held.lost) {
        s->held.lost = false;
        resync_request(s->user);
        return;
    }
    for (unsigned i = 0; i < s->held.n; i++)
        send_event(s, s->held.id[i], s->held.f[i]);
    held_drop(&s->held);
    if (s->user->resyncing)
        resync_request(s->user);
}

/* A register that was refused leaves the tab as it was before it. */
static void register_undo(session *s, bool was_registered, bool was_paging)
{
    if (was_paging || !s->registered)
        return;
    if (was_registered) {
        page_end(s);
        return;
    }
    s->registered = s->paging = false;
    held_drop(&s->held);
    s->held.lost = false;
}

static void page_apply(session *s, const store_page *p, bool with_calls)
{
    if (p->n) {
        const store_entry *last = &p->v[p->n - 1];
        s->page_last = last->id;
        s->page_committable = true;
        s->last_sent = last->id;
        held_prune(&s->held, p->top);
    } else {
        s->page_committable = false;
        if (streamid_cmp(p->top, s->last_sent) > 0)
            s->last_sent = p->top;
    }
    char *calls = with_calls ? calls_text(p) : NULL;
    frame *f = page_frame(p, calls);
    if (f) {
        enqueue(s, f);
        frame_unref(f);
        s->calls_sent |= calls != NULL;
    }
    free(calls);
    if (!s->present && s->registered) { /* an unregister may have come while the page was read */
        s->present = true;
        presence_join(s->integration, s->extension);
    }
    if (!p->n && s->registered)
        page_end(s);
}

typedef struct page_call {
    session *s;
    bool was_registered, was_paging, with_calls;
} page_call;

static void on_page(const store_page *p, void *ud)
{
    page_call *c = ud;
    session *s = c->s;
    bool failed = p->outcome.status == STORE_FAILED;
    s->page_busy = false;
    if (!s->wsi || s->close_code) {
    } else if (p->outcome.status != STORE_OK) {
        if (failed)
            log_error("page script failed", "{s:s}", "error", p->outcome.error);
        register_undo(s, c->was_registered, c->was_paging);
        send_error(s, failed ? RC_INTERNAL : RC_UNAVAILABLE, "%s",
                   failed ? "storage error" : "storage unavailable, try again");
    } else if (p->beyond) {
        register_undo(s, c->was_registered, c->was_paging);
        send_error(s, RC_INVALID_FIELD, "since: after the last stored event (%s)", p->top_text);
    } else {
        page_apply(s, p, c->with_calls);
    }
    free(c);
    session_release(s);
}

static void page_position(session *s, const ws_frame *f, char *from, char *commit)
{
    from[0] = commit[0] = 0;
    if (f->has_since)
        streamid_format(f->id, from);
    else if (s->paging) {
        if (!streamid_is_zero(s->page_last))
            streamid_format(s->page_last, from);
        if (s->page_committable)
            streamid_format(s->page_last, commit);
    } else if (s->registered)
        streamid_format(s->last_sent, from); /* after 109: continue after what it has */
}

/* Live events for the tab are held from the request on: an event stored after the page was
 * read and published before its answer came must follow the page, not be lost. */
static void op_register(session *s, const ws_frame *f)
{
    if (s->page_busy) {
        send_error(s, RC_BAD_REQUEST, "register: the previous page is still on its way");
        return;
    }
    page_call *c = malloc(sizeof *c);
    char from[STREAMID_MAX_LEN], commit[STREAMID_MAX_LEN];
    page_position(s, f, from, commit);
    if (c) {
        *c = (page_call){s, s->registered, s->paging, !s->calls_sent};
        s->registered = s->paging = true;
        s->refs++;
        s->page_busy = true;
    }
    if (!c || store_page_read(s->integration, s->extension, commit, from, f->limit, c->with_calls,
                              on_page, c)) {
        if (c) {
            s->refs--;
            s->page_busy = false;
            register_undo(s, c->was_registered, c->was_paging);
        }
        free(c);
        send_error(s, RC_UNAVAILABLE, "storage unavailable, try again");
    }
}

static void on_ack(store_outcome o, store_ack_result a, void *ud)
{
    session *s = ud;
    if (!s->wsi || s->close_code) {
    } else if (o.status == STORE_UNAVAILABLE) {
        send_error(s, RC_UNAVAILABLE, "ack: storage unavailable, try again");
    } else if (o.status == STORE_FAILED) {
        log_error("ack script failed", "{s:s}", "error", o.error);
        send_error(s, RC_INTERNAL, "ack: storage error");
    } else if (a == STORE_ACK_BEYOND) {
        send_error(s, RC_INVALID_FIELD, "id: after the last stored event");
    }
    session_release(s);
}

static void op_ack(session *s, const ws_frame *f)
{
    s->refs++;
    if (store_ack(s->integration, s->extension, f->id, on_ack, s) != 0) {
        s->refs--;
        send_error(s, RC_UNAVAILABLE, "ack: storage unavailable, try again");
    }
}

static void presence_end(session *s)
{
    if (s->present) {
        s->present = false;
        presence_leave(s->integration, s->extension);
    }
}

static void op_unregister(session *s)
{
    presence_end(s);
    s->registered = s->paging = false;
    held_drop(&s->held);
    s->held.lost = false;
    send_json(s, json_pack("{s:s,s:o}", "op", "unregister", "result", result(0, "ok")));
}

static void handle_frame(session *s, const char *text, size_t len)
{
    ws_frame f;
    int rc = ws_frame_parse(text, len, &f);
    if (rc) {
        send_error(s, rc, "%s", f.error);
        return;
    }
    if (f.op == WS_OP_REGISTER)
        op_register(s, &f);
    else if (f.op == WS_OP_PING)
        send_json(s, json_pack("{s:s,s:o}", "op", "pong", "result", result(0, "ok")));
    else if (!s->registered)
        send_error(s, RC_NOT_REGISTERED, "%s: register first",
                   f.op == WS_OP_ACK ? "ack" : "unregister");
    else if (f.op == WS_OP_ACK)
        op_ack(s, &f);
    else
        op_unregister(s);
}

/* ---- letting a connection in ---- */

typedef struct ws_auth {
    char integration[NAME_MAX_LEN + 1], extension[NAME_MAX_LEN + 1];
    char ticket_sig[TICKET_SIG_B64_LEN + 1];
    int64_t expires;
} ws_auth;

static int authenticate(struct lws *wsi, ws_auth *a)
{
    char path[64], buf[TICKET_MAX_LEN + 1];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 || strcmp(path, "/v1/ws"))
        return 404;
    if (hub.draining)
        return 503;
    const char *v;
    a->ticket_sig[0] = 0;
    if ((v = lws_get_urlarg_by_name(wsi, "ticket=", buf, sizeof buf))) {
        const cr_config *c = hub.cfg;
        if (ticket_verify(c->ticket_secret, c->ticket_secret_len, v, (int64_t)time(NULL),
                          a->integration, a->extension, &a->expires) != TICKET_OK)
            return 401;
        snprintf(a->ticket_sig, sizeof a->ticket_sig, "%s", strrchr(v, '.') + 1);
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

/* An Origin header is sent by browsers only: without it the client is not a page. */
static bool origin_ok(struct lws *wsi)
{
    char origin[512];
    const cr_config *c = hub.cfg;
    if (!c->n_allowed_origins || lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) <= 0)
        return true;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) >= (int)sizeof origin ||
        lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
        return false;
    return origin_allowed(c->allowed_origins, c->n_allowed_origins, origin);
}

static int64_t user_sessions(const ws_auth *a)
{
    char key[2 * NAME_MAX_LEN + 2];
    user_key(key, a->integration, a->extension);
    hub_user *u = strmap_get(&hub.users, key);
    return u ? u->n_sessions : 0;
}

static int refuse(hub_refusal *no, int status, int code, const char *msg, json_t *extra)
{
    *no = (hub_refusal){status, code, msg, extra};
    return -1;
}

static int limits_refuse(hub_refusal *no, enum metric_limit why, int status, int code,
                         const char *msg, const char *name, int64_t max, int64_t now)
{
    METRIC_ADD(limited[why], 1);
    json_t *limit = max > 0 ? json_pack("{s:s,s:I,s:I}", "name", name, "max", (json_int_t)max,
                                        "requested", (json_int_t)now + 1)
                            : json_pack("{s:s}", "name", name);
    /* {name, max, requested} as the other limits' answers, without numbers for the Origin */
    return refuse(no, status, code, msg, json_pack("{s:o}", "limit", limit));
}

int hub_filter(struct lws *wsi, void **slot, hub_refusal *no)
{
    ws_auth a;
    (void)slot;
    int status = authenticate(wsi, &a);
    if (status == 404)
        return refuse(no, 404, RC_NOT_FOUND, "no websocket here: use /v1/ws", NULL);
    if (status == 503)
        return refuse(no, 503, RC_UNAVAILABLE, "draining: connect again", NULL);
    if (status)
        return refuse(no, status, RC_UNAUTHORIZED,
                      "ticket, or token and extension, missing or wrong", NULL);
    const cr_config *c = hub.cfg;
    int64_t open = __atomic_load_n(&metrics->sessions_open, __ATOMIC_RELAXED),
            mine = user_sessions(&a);
    if (!origin_ok(wsi))
        return limits_refuse(no, LIMIT_ORIGIN, 403, RC_FORBIDDEN,
                             "the page's Origin is not in CALLRELAY_ALLOWED_ORIGINS",
                             "CALLRELAY_ALLOWED_ORIGINS", 0, 0);
    if (open >= c->max_websockets)
        return limits_refuse(no, LIMIT_WS_TOTAL, 503, RC_UNAVAILABLE,
                             "this instance has CALLRELAY_MAX_WEBSOCKETS websockets open: "
                             "try again later or another instance",
                             "CALLRELAY_MAX_WEBSOCKETS", c->max_websockets, open);
    if (mine >= c->max_websockets_per_user)
        return limits_refuse(no, LIMIT_WS_USER, 429, RC_TOO_MANY_REQUESTS,
                             "this user has CALLRELAY_MAX_WEBSOCKETS_PER_USER websockets open "
                             "here: close one first",
                             "CALLRELAY_MAX_WEBSOCKETS_PER_USER", c->max_websockets_per_user, mine);
    return 0;
}

static void early_run(session *s)
{
    for (unsigned i = 0; s->early && i < s->early->n && !s->close_code; i++)
        handle_frame(s, s->early->f[i], s->early->len[i]);
    early_drop(s);
}

static void on_session_open(store_outcome o, store_session_result r, void *ud)
{
    session *s = ud;
    if (!s->wsi || s->close_code) {
    } else if (o.status != STORE_OK) {
        if (o.status == STORE_FAILED)
            log_error("session_open script failed", "{s:s}", "error", o.error);
        session_close(s, CLOSE_TRY_AGAIN_LATER, "storage unavailable, try again", true);
    } else if (r == STORE_SESSION_NO_USER) {
        send_error(s, RC_NOT_FOUND, "no user %s in integration %s", s->extension, s->integration);
        session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "no such user", false);
    } else if (r == STORE_SESSION_TICKET_USED) {
        session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                      "ticket already used: ask /v1/channel for a new one", true);
    } else if (store_feed_active(s->shard)) {
        s->ready = true;
        early_run(s);
    } else { /* a page read now could miss what is published before the feed is on */
        s->refs++;
        s->wait_next = hub.waiting;
        hub.waiting = s;
    }
    session_release(s);
}

void hub_on_feed_ready(unsigned shard)
{
    for (session **p = &hub.waiting, *s; (s = *p);) {
        if (s->shard != shard) {
            p = &s->wait_next;
            continue;
        }
        *p = s->wait_next;
        if (s->wsi && !s->close_code) {
            s->ready = true;
            early_run(s);
        }
        session_release(s);
    }
}

static void waiting_drop(session *gone)
{
    for (session **p = &hub.waiting, *s; (s = *p); p = &s->wait_next)
        if (s == gone) {
            *p = s->wait_next;
            session_release(s);
            return;
        }
}

/* The user may be gone since the ticket was issued, and a ticket opens one connection. */
static void session_open(session *s, const char *ticket_sig, int64_t ticket_expires)
{
    s->refs++;
    if (store_session_open(s->integration, s->extension, ticket_sig, (long long)ticket_expires,
                           on_session_open, s) != 0) {
        s->refs--;
        session_close(s, CLOSE_TRY_AGAIN_LATER, "storage unavailable, try again", true);
    }
}

/* ---- the sweep: tabs silent for CALLRELAY_WS_IDLE_TIMEOUT, queues over the soft bound ---- */

/* lws 4.1 hands the protocol a pong only when it carries a payload, and a client echoes the
 * ping's: lws's own pings are empty, so the hub sends its own. A tab behind on its writes is
 * not pinged: what it owes is in the way, and it is idle or not by what it sends. */
static void ping(session *s, uint64_t now)
{
    static const char payload[] = "callrelay";
    unsigned char buf[LWS_PRE + sizeof payload];
    s->last_ping_ms = now;
    if (s->q_len || lws_partial_buffered(s->wsi))
        return;
    memcpy(buf + LWS_PRE, payload, sizeof payload - 1);
    lws_write(s->wsi, buf + LWS_PRE, sizeof payload - 1, LWS_WRITE_PING);
}

static void sweep_user(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    uint64_t now = uv_now(hub.loop), idle_ms = (uint64_t)hub.cfg->ws_idle_timeout_s * 1000;
    uint64_t ping_ms = (uint64_t)hub.cfg->ws_ping_interval_s * 1000;
    for (session *s = ((hub_user *)value)->sessions, *next; s; s = next) {
        next = s->next; /* closing only marks it: hub_closed unlinks it later */
        if (!s->wsi || s->close_code)
            continue;
        if (now - s->last_rx_ms >= idle_ms)
            limit_close(s, LIMIT_IDLE, IDLE_REASON);
        else if (s->q_over_since)
            queue_within(s, s->q_bytes);
        else if (now - s->last_rx_ms >= ping_ms && now - s->last_ping_ms >= ping_ms)
            ping(s, now);
    }
}

static void on_sweep(uv_timer_t *t)
{
    (void)t;
    strmap_each(&hub.users, sweep_user, NULL);
}

/* The timer does not keep the loop alive; hub_close_all closes it. */
static void sweep_start(void)
{
    if (hub.sweeping || hub.draining)
        return;
    if (!hub.loop || uv_timer_init(hub.loop, &hub.sweep) != 0)
        return;
    hub.sweeping = true;
    uv_timer_start(&hub.sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&hub.sweep);
}

void hub_pong(struct lws *wsi, void **slot)
{
    session *s = *slot;
    (void)wsi;
    if (s && s->magic == SESSION_MAGIC)
        s->last_rx_ms = uv_now(hub.loop);
}

int hub_established(struct lws *wsi, void **slot, bool unmasked)
{
    ws_auth a;
    sweep_start();
    session *s = authenticate(wsi, &a) == 0 ? calloc(1, sizeof *s) : NULL;
    hub_user *u = s ? user_get(a.integration, a.extension) : NULL;
    if (!u) {
        free(s);
        return -1;
    }
    s->magic = SESSION_MAGIC;
    s->refs = 1;
    s->wsi = wsi;
    s->user = u;
    s->shard = u->shard;
    s->integration = u->integration;
    s->extension = u->extension;
    u->refs++;
    u->n_sessions++;
    s->last_rx_ms = uv_now(hub.loop);
    s->next = u->sessions;
    if (u->sessions)
        u->sessions->prev = s;
    u->sessions = s;
    *slot = s;
    METRIC_ADD(sessions_open, 1);
    if (unmasked) { /* sent with the upgrade, before the 101 */
        session_close(s, LWS_CLOSE_STATUS_PROTOCOL_ERR, UNMASKED, true);
        return 0;
    }
    session_open(s, a.ticket_sig, a.expires);
    return 0;
}

/* Frames that arrive before the connection was let in wait for it, in order. */
static void frame_in(session *s, const char *text, size_t len)
{
    if (s->ready) {
        handle_frame(s, text, len);
        return;
    }
    if (!s->early)
        s->early = calloc(1, sizeof *s->early);
    char *copy = s->early && s->early->n < EARLY_MAX ? malloc(len ? len : 1) : NULL;
    if (!copy) {
        session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many frames before the answer",
                      true);
        return;
    }
    memcpy(copy, text, len);
    s->early->f[s->early->n] = copy;
    s->early->len[s->early->n++] = len;
}

int hub_receive(struct lws *wsi, void **slot, const void *in, size_t len)
{
    session *s = *slot;
    if (!s || s->magic != SESSION_MAGIC)
        return -1;
    s->last_rx_ms = uv_now(hub.loop);
    if (s->close_code)
        return 0; /* closing: what the client sends no longer matters */
    if (lws_frame_is_binary(wsi)) {
        session_close(s, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "frames are JSON text, not binary",
                      true);
        return 0;
    }
    bool whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    if (whole && !s->rx_len) {
        frame_in(s, in, len);
        return 0;
    }
    if (s->rx_len + len > RX_MAX) {
        session_close(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame over 64 KiB", true);
        return 0;
    }
    char *grown = realloc(s->rx, s->rx_len + len);
    if (!grown)
        return -1;
    s->rx = grown;
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (whole) {
        frame_in(s, s->rx, s->rx_len);
        s->rx_len = 0;
    }
    return 0;
}

/* lws 4.1 on a foreign loop drops the socket without the close frame when a writable
 * callback sets a close reason and returns -1 (seen with strace), so the frame is written
 * here. 4 is lws's private LWS_WRITE_CLOSE, which lws_write frames as opcode 0x8. */
#define WRITE_CLOSE ((enum lws_write_protocol)4)

static int close_with(struct lws *wsi, int code, const char *why)
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
        s->q_bytes -= f->len;
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
    if (hub.draining)
        return close_with(wsi, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    if (s->close_code)
        return close_with(wsi, s->close_code, s->close_reason);
    return 0;
}

/* From inside the read that brought an unmasked frame (any, pings and closes too, which lws
 * answers itself): the close frame goes out at once unless lws still holds part of an earlier
 * write, and lws then drops the connection without handing the frame on. */
bool hub_on_unmasked(void *owner)
{
    session *s = owner;
    if (!s || s->magic != SESSION_MAGIC || !s->wsi)
        return false;
    if (s->close_code || lws_partial_buffered(s->wsi)) {
        session_close(s, LWS_CLOSE_STATUS_PROTOCOL_ERR, UNMASKED, true);
        return false;
    }
    s->close_code = LWS_CLOSE_STATUS_PROTOCOL_ERR;
    close_with(s->wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, UNMASKED);
    return true;
}

void hub_closed(struct lws *wsi, void **slot)
{
    session *s = *slot;
    (void)wsi;
    if (!s || s->magic != SESSION_MAGIC)
        return;
    *slot = NULL;
    presence_end(s);
    hub_user *u = s->user;
    if (s->prev)
        s->prev->next = s->next;
    else
        u->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    u->n_sessions--;
    s->wsi = NULL;
    METRIC_SUB(sessions_open, 1);
    waiting_drop(s);
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

/* Each session's next writable callback closes it with 1001. */
void hub_close_all(void)
{
    hub.draining = true;
    if (hub.sweeping) {
        hub.sweeping = false;
        uv_timer_stop(&hub.sweep);
        uv_close((uv_handle_t *)&hub.sweep, NULL);
    }
    strmap_each(&hub.users, wake_each, NULL);
}

int hub_init(uv_loop_t *loop, const cr_config *cfg)
{
    hub.loop = loop;
    hub.cfg = cfg;
    return strmap_init(&hub.users);
}

void hub_free(void) { strmap_free(&hub.users); }
