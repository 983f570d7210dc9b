/* ingest.c — collects the webhooks of one loop pass and stores them with script calls of
 * bounded size (ingest_plan.h): usually one per pass; a large batch is cut between events.
 * A uv_check handle runs after the pass's I/O callbacks: that is when the last call leaves. */
#include "ingest.h"
#include "event.h"
#include "ingest_plan.h"
#include "metrics.h"
#include "store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HEAD 7 /* the script's arguments before the events' */

/* One webhook. Its events may span several script calls; it is answered when the last of
 * them returned: stored only when every one of them stored. */
typedef struct hook {
    ingest_cb cb;
    void *ud;
    unsigned calls, pending; /* calls holding its events; those not answered yet */
    bool sealed;             /* every event of it is in a call */
    bool unavailable, failed;
    adapter_counts n;
} hook;

typedef struct span {
    hook *h;
    unsigned first, count; /* its events within the call */
} span;

typedef struct strvec {
    char **v;
    size_t *len;
    size_t n, cap;
} strvec;

/* One call of ingest.lua, bounded by ingest_plan_fits. */
typedef struct call {
    strvec keys, args;
    span *s;
    size_t n_spans, cap_spans;
    unsigned n_events, n_appends;
    size_t bytes;
    bool waits;     /* CALLRELAY_DURABILITY=replica: a WAIT follows the script on the connection */
    bool wait_lost; /* the WAIT could not be queued: not confirmed, whatever the script says */
    bool answered;  /* the script's reply came */
} call;

static struct {
    const cr_config *cfg;
    uv_check_t check;
    call *cur;
    char retention_ms[24], window_s[24], wake_max[24], wait_ms[24];
    const char *key_prefix;
    void (*on_queued)(unsigned n);
} G;

static int vec_push(strvec *v, char *owned, size_t len)
{
    if (!owned)
        return -1;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        char **nv = realloc(v->v, cap * sizeof *nv);
        if (nv)
            v->v = nv;
        size_t *nl = nv ? realloc(v->len, cap * sizeof *nl) : NULL;
        if (!nl) {
            free(owned);
            return -1;
        }
        v->len = nl;
        v->cap = cap;
    }
    v->v[v->n] = owned;
    v->len[v->n++] = len;
    return 0;
}

static int vec_str(strvec *v, char *owned) { return vec_push(v, owned, owned ? strlen(owned) : 0); }

static int vec_num(strvec *v, long long n)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", n);
    return vec_str(v, strdup(buf));
}

static void vec_free(strvec *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i]);
    free(v->v);
    free(v->len);
}

static void call_free(call *c)
{
    vec_free(&c->keys);
    vec_free(&c->args);
    free(c->s);
    free(c);
}

static enum ingest_status hook_status(const hook *h)
{
    if (!h->unavailable && !h->failed)
        return INGEST_STORED;
    /* part of it may be stored: a retry is safe (event keys) and needed */
    return h->failed && !h->unavailable && h->calls == 1 ? INGEST_FAILED : INGEST_UNAVAILABLE;
}

static void hook_settle(hook *h)
{
    if (!h->sealed || h->pending)
        return;
    h->cb(h->ud, hook_status(h), &h->n);
    free(h);
}

/* The reply's letters, then "+N" when N notifications were queued. */
static bool reply_ok(const call *c, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING || r->len < c->n_events)
        return false;
    if (r->len == c->n_events)
        return true;
    if (r->str[c->n_events] != '+')
        return false;
    unsigned long n = strtoul(r->str + c->n_events + 1, NULL, 10);
    METRIC_ADD(notify_queued, n);
    if (G.on_queued && n)
        G.on_queued((unsigned)n);
    return true;
}

/* Counts the script's answer into each webhook of the call. */
static void tally(call *c, const redisReply *r)
{
    bool ok = reply_ok(c, r);
    for (size_t i = 0; i < c->n_spans; i++) {
        span *sp = &c->s[i];
        for (unsigned e = 0; ok && e < sp->count; e++) {
            adapter_counts *n = &sp->h->n;
            switch (r->str[sp->first + e]) {
            case 'a':
                n->accepted++;
                break;
            case 'd':
                n->duplicates++;
                break;
            case 's':
                n->stale++;
                break;
            default:
                n->ignored++;
            }
        }
        sp->h->unavailable |= !r;
        sp->h->failed |= r && !ok;
    }
}

/* The call is over: its webhooks may be answered. replicated: false when no replica confirmed
 * the write in time (stored on the master only: a retry is deduplicated, so 503). */
static void release(call *c, bool replicated)
{
    for (size_t i = 0; i < c->n_spans; i++) {
        span *sp = &c->s[i];
        sp->h->unavailable |= !replicated;
        sp->h->pending--;
        hook_settle(sp->h);
    }
    call_free(c);
}

static void finish(call *c, const redisReply *r)
{
    tally(c, r);
    release(c, true);
}

static void on_stored(redisReply *r, void *ud)
{
    call *c = ud;
    tally(c, r);
    c->answered = true;
    if (!c->waits) /* else the WAIT's reply, next on the connection, releases it */
        release(c, !c->wait_lost);
}

static void send_wait(call *c);

static void on_waited(redisReply *r, void *ud)
{
    call *c = ud;
    if (!c->answered) { /* the script was resent after NOSCRIPT, behind this WAIT: wait again */
        send_wait(c);
        return;
    }
    release(c, r && r->type == REDIS_REPLY_INTEGER && r->integer >= 1);
}

/* WAIT 1 right behind the script, in the same pass: it waits for that write. */
static void send_wait(call *c)
{
    const char *argv[3] = {"WAIT", "1", G.wait_ms};
    size_t lens[3] = {4, 1, strlen(G.wait_ms)};
    c->waits = store_command(on_waited, c, 3, argv, lens) == 0;
    c->wait_lost = !c->waits;
}

/* Calls leave in the order they were filled, on one connection: Redis runs them in that order,
 * so each user's stream ids and wake-ups keep the order of the webhooks' events. */
static void send_call(call *c)
{
    char count[16];
    snprintf(count, sizeof count, "%u", c->n_events);
    const char *head[HEAD] = {G.retention_ms,
                              G.window_s,
                              store_channel_feed(),
                              count,
                              G.wake_max,
                              G.key_prefix,
                              G.cfg->feed_both ? store_channel_events() : ""};
    size_t k = c->keys.n, n = k + HEAD + c->args.n;
    const char **argv = malloc(n * sizeof *argv);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; argv && lens && i < n; i++) {
        argv[i] = i < k ? c->keys.v[i] : i < k + HEAD ? head[i - k] : c->args.v[i - k - HEAD];
        lens[i] = i < k          ? c->keys.len[i]
                  : i < k + HEAD ? strlen(head[i - k])
                                 : c->args.len[i - k - HEAD];
    }
    if (!argv || !lens ||
        store_script(SCRIPT_INGEST, on_stored, c, (int)k, (int)n, argv, lens) != 0)
        finish(c, NULL);
    else if (G.cfg->durability_replica)
        send_wait(c);
    free(argv);
    free(lens);
}

static void flush(void)
{
    call *c = G.cur;
    G.cur = NULL;
    uv_check_stop(&G.check);
    if (c)
        send_call(c);
}

static void on_check(uv_check_t *h)
{
    (void)h;
    flush();
}

/* The call that takes an event of this size: the current one, or a new one. */
static call *call_for(unsigned appends, size_t bytes)
{
    call *c = G.cur;
    if (c && !ingest_plan_fits(c->n_events, c->n_appends, c->bytes, appends, bytes))
        flush();
    if (!G.cur && (G.cur = calloc(1, sizeof *G.cur)))
        uv_check_start(&G.check, on_check);
    return G.cur;
}

/* The span of h at the end of c, started if h has none there yet. */
static span *call_span(call *c, hook *h)
{
    if (c->n_spans && c->s[c->n_spans - 1].h == h)
        return &c->s[c->n_spans - 1];
    if (c->n_spans == c->cap_spans) {
        size_t cap = c->cap_spans ? c->cap_spans * 2 : 16;
        span *ns = realloc(c->s, cap * sizeof *ns);
        if (!ns)
            return NULL;
        c->s = ns;
        c->cap_spans = cap;
    }
    h->calls++;
    h->pending++;
    c->s[c->n_spans] = (span){h, c->n_events, 0};
    return &c->s[c->n_spans++];
}

/* Who the script stores the event for: "u" and the users that follow, "o" + the fallback
 * extension, "p", or "c" + the command id. */
static char *target_spec(const integration *in, const event_prepared *p)
{
    const char *fallback = json_string_value(json_object_get(in->settings, "fallback_extension"));
    const char *arg = p->target == EVENT_TO_ONE_ONLINE ? fallback
                      : p->target == EVENT_TO_COMMAND  ? p->command_id
                                                       : NULL;
    static const char letters[] = "uopc";
    size_t n = arg ? strlen(arg) : 0;
    char *s = malloc(n + 2);
    if (s) {
        s[0] = letters[p->target];
        memcpy(s + 1, arg ? arg : "", n + 1);
    }
    return s;
}

/* The rules of in that ev matches, as ingest.lua reads them: per rule, NUL-terminated id,
 * endpoint, rate per second and lease in ms. "" for none. */
static char *notify_spec(const integration *in, const json_t *ev, size_t *len)
{
    char *buf = NULL;
    *len = 0;
    if (!in->notify)
        return calloc(1, 1);
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    for (size_t i = 0; i < in->notify->n; i++) {
        if (!notify_rule_matches(in->notify->v[i], ev))
            continue;
        notify_rule_info r = notify_rule_get_info(in->notify->v[i]);
        fprintf(f, "%s%c%s%c%.17g%c%ld%c", r.id, 0, r.endpoint, 0, r.rate_per_s, 0,
                r.timeout_ms + NOTIFY_LEASE_MARGIN_MS, 0);
    }
    return fclose(f) == 0 ? buf : (free(buf), NULL);
}

/* The state block's NUL-terminated fields, each its own argument after their count: the
 * script passes them to HSET as they come instead of splitting a string (Lua pays for every
 * string it makes). */
static int push_state(call *c, const event_prepared *p)
{
    long long n = 0;
    for (size_t i = 0; i < p->state_len; i++)
        n += p->state[i] == '\0';
    int rc = vec_num(&c->args, n);
    for (const char *f = p->state, *end = p->state + p->state_len; !rc && f < end;) {
        size_t len = strlen(f);
        rc = vec_push(&c->args, strndup(f, len), len);
        f += len + 1;
    }
    return rc;
}

/* The copy of a template for its one user, made here so that the script stores it as it is;
 * NULL when the template has other marks (the call_id of a command, the group flag: the
 * script knows them) or for lack of memory. */
static char *render_one(const char *tpl, size_t len, const char *user, size_t *out_len)
{
    if (memchr(tpl, EVENT_MARK_CALL_ID, len) || memchr(tpl, EVENT_MARK_GROUP, len))
        return NULL;
    size_t ulen = strlen(user), marks = 0;
    for (const char *m = tpl; (m = memchr(m, EVENT_MARK_USER, len - (size_t)(m - tpl))); m++)
        marks++;
    char *out = malloc(len + marks * ulen + 1), *o = out;
    for (const char *t = tpl, *end = tpl + len; out && t < end;) {
        const char *m = memchr(t, EVENT_MARK_USER, (size_t)(end - t));
        size_t n = (size_t)((m ? m : end) - t);
        memcpy(o, t, n);
        o += n;
        t += n;
        if (m) {
            memcpy(o, user, ulen);
            o += ulen;
            t++;
        }
    }
    if (out) {
        *o = '\0';
        *out_len = (size_t)(o - out);
    }
    return out;
}

static int push_event(call *c, const integration *in, const json_t *ev, event_prepared *p)
{
    const char *epoch = json_string_value(json_object_get(in->record, "epoch"));
    int rc = vec_str(&c->keys, store_key_users(in->name)) ||
             vec_str(&c->keys, store_key_dedupe(in->name, epoch ? epoch : "", p->key)) ||
             vec_str(&c->args, strdup(in->name)) || vec_str(&c->args, target_spec(in, p));
    size_t one_len = 0;
    char *one = p->target == EVENT_TO_USERS && p->n_users == 1
                    ? render_one(p->json, p->json_len, p->users[0], &one_len)
                    : NULL;
    if (!rc && one) {
        rc = vec_push(&c->args, one, one_len);
    } else if (!rc) { /* the call owns it now, or freed it */
        rc = vec_push(&c->args, p->json, p->json_len);
        p->json = NULL;
    } else {
        free(one);
    }
    rc = rc || push_state(c, p);
    size_t spec_len = 0;
    if (!rc) {
        char *spec = notify_spec(in, ev, &spec_len);
        rc = vec_push(&c->args, spec, spec_len);
    }
    rc = rc || vec_num(&c->args, (long long)p->n_users);
    for (size_t u = 0; !rc && u < p->n_users; u++) {
        rc = vec_push(&c->args, p->users[u], strlen(p->users[u]));
        p->users[u] = NULL;
    }
    return rc;
}

static void vec_truncate(strvec *v, size_t n)
{
    while (v->n > n)
        free(v->v[--v->n]);
}

static int add_event(hook *h, const integration *in, const json_t *ev, int64_t now_ms)
{
    event_prepared p;
    if (event_prepare(ev, in->name, in->adapter->name, now_ms, &p) != 0)
        return -1;
    unsigned appends = p.target == EVENT_TO_USERS ? (unsigned)p.n_users : 1;
    /* what Redis stores: one copy per user (the template travels once) */
    size_t bytes = p.json_len * appends + p.state_len;
    call *c = call_for(appends, bytes);
    span *sp = c ? call_span(c, h) : NULL;
    int rc = sp ? 0 : -1;
    if (sp) {
        size_t keys0 = c->keys.n, args0 = c->args.n;
        rc = push_event(c, in, ev, &p);
        if (rc) { /* the call stays well-formed without this event */
            vec_truncate(&c->keys, keys0);
            vec_truncate(&c->args, args0);
        } else {
            sp->count++;
            c->n_events++;
            c->n_appends += appends;
            c->bytes += bytes;
        }
    }
    event_prepared_free(&p);
    return rc;
}

int ingest_submit(const integration *in, const json_t *events, ingest_cb cb, void *ud)
{
    hook *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    h->cb = cb;
    h->ud = ud;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int rc = 0;
    for (size_t i = 0; !rc && i < json_array_size(events); i++)
        rc = add_event(h, in, json_array_get(events, i), now_ms);
    if (rc && !h->calls) {
        free(h);
        return -1;
    }
    /* out of memory half-way: what is in calls may be stored, the rest is not: retry (503) */
    h->unavailable |= rc != 0;
    h->sealed = true;
    hook_settle(h);
    return 0;
}

int ingest_init(uv_loop_t *loop, const cr_config *cfg, void (*on_queued)(unsigned n))
{
    G.cfg = cfg;
    G.on_queued = on_queued;
    snprintf(G.retention_ms, sizeof G.retention_ms, "%lld", (long long)cfg->retention_s * 1000);
    snprintf(G.window_s, sizeof G.window_s, "%lld", (long long)cfg->dedupe_window_s);
    snprintf(G.wake_max, sizeof G.wake_max, "%d", INGEST_WAKE_MAX_BYTES);
    snprintf(G.wait_ms, sizeof G.wait_ms, "%d", cfg->replica_timeout_ms);
    G.key_prefix = cfg->key_prefix;
    return uv_check_init(loop, &G.check);
}

/* Webhooks still waiting get their answer (503) before the loop ends. */
void ingest_stop(void)
{
    if (!G.check.loop)
        return;
    call *c = G.cur;
    G.cur = NULL;
    if (c)
        finish(c, NULL);
    uv_check_stop(&G.check);
    uv_close((uv_handle_t *)&G.check, NULL);
}
