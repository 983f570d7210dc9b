/* ingest.c — collects the webhooks of one loop pass and stores them with one script call.
 * A uv_check handle runs after the pass's I/O callbacks: that is when the batch leaves. */
#include "ingest.h"
#include "event.h"
#include "store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX_EVENTS 2000
#define BATCH_MAX_BYTES (4u << 20)

typedef struct waiter {
    ingest_cb cb;
    void *ud;
    unsigned first, count; /* its events within the batch */
} waiter;

typedef struct strvec {
    char **v;
    size_t *len;
    size_t n, cap;
} strvec;

typedef struct batch {
    strvec keys, args;
    waiter *w;
    size_t n_waiters, cap_waiters;
    unsigned n_events;
    size_t bytes;
} batch;

static struct {
    const cr_config *cfg;
    uv_check_t check;
    batch *cur;
    char retention_ms[24], window_s[24];
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

static void batch_free(batch *b)
{
    vec_free(&b->keys);
    vec_free(&b->args);
    free(b->w);
    free(b);
}

static void finish(batch *b, const redisReply *r)
{
    bool ok = r && r->type == REDIS_REPLY_STRING && r->len == b->n_events;
    for (size_t i = 0; i < b->n_waiters; i++) {
        waiter *w = &b->w[i];
        unsigned n[3] = {0, 0, 0};
        for (unsigned e = 0; ok && e < w->count; e++) {
            char c = r->str[w->first + e];
            n[c == 'a' ? 0 : c == 'd' ? 1 : 2]++;
        }
        w->cb(w->ud, ok ? INGEST_STORED : r ? INGEST_FAILED : INGEST_UNAVAILABLE, n[0], n[1], n[2]);
    }
    batch_free(b);
}

static void on_stored(redisReply *r, void *ud) { finish(ud, r); }

static void flush(void)
{
    batch *b = G.cur;
    G.cur = NULL;
    uv_check_stop(&G.check);
    if (!b)
        return;
    char count[16];
    snprintf(count, sizeof count, "%u", b->n_events);
    const char *head[4] = {G.retention_ms, G.window_s, store_channel_events(), count};
    size_t n = b->keys.n + 4 + b->args.n, k = b->keys.n;
    const char **argv = malloc(n * sizeof *argv);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; argv && lens && i < n; i++) {
        argv[i] = i < k ? b->keys.v[i] : i < k + 4 ? head[i - k] : b->args.v[i - k - 4];
        lens[i] = i < k ? b->keys.len[i] : i < k + 4 ? strlen(head[i - k]) : b->args.len[i - k - 4];
    }
    if (!argv || !lens ||
        store_script(SCRIPT_INGEST, on_stored, b, (int)k, (int)n, argv, lens) != 0)
        finish(b, NULL);
    free(argv);
    free(lens);
}

static void on_check(uv_check_t *h)
{
    (void)h;
    flush();
}

static int add_event(batch *b, const integration *in, const json_t *ev, int64_t now_ms)
{
    event_prepared p;
    const char *epoch = json_string_value(json_object_get(in->record, "epoch"));
    if (event_prepare(ev, in->name, in->adapter->name, now_ms, &p) != 0)
        return -1;
    int rc = vec_str(&b->keys, store_key_users(in->name)) ||
             vec_str(&b->keys, store_key_dedupe(in->name, epoch ? epoch : "", p.key)) ||
             vec_str(&b->args, strdup(in->name)) || vec_num(&b->args, (long long)p.n_users);
    for (size_t u = 0; !rc && u < p.n_users; u++) {
        b->bytes += strlen(p.json[u]);
        rc = vec_str(&b->keys, store_key_stream(in->name, p.users[u])) ||
             vec_str(&b->args, strdup(p.users[u]));
        if (!rc) {
            rc = vec_str(&b->args, p.json[u]); /* the batch owns it now, or freed it */
            p.json[u] = NULL;
        }
    }
    event_prepared_free(&p);
    b->n_events++;
    return rc;
}

static int add_waiter(batch *b, ingest_cb cb, void *ud, unsigned first, unsigned count)
{
    if (b->n_waiters == b->cap_waiters) {
        size_t cap = b->cap_waiters ? b->cap_waiters * 2 : 16;
        waiter *nw = realloc(b->w, cap * sizeof *nw);
        if (!nw)
            return -1;
        b->w = nw;
        b->cap_waiters = cap;
    }
    b->w[b->n_waiters++] = (waiter){cb, ud, first, count};
    return 0;
}

int ingest_submit(const integration *in, const json_t *events, ingest_cb cb, void *ud)
{
    if (!G.cur && !(G.cur = calloc(1, sizeof *G.cur)))
        return -1;
    batch *b = G.cur;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    /* a failure half-way leaves events of this webhook in the batch: the batch must go */
    size_t keys0 = b->keys.n, args0 = b->args.n;
    unsigned first = b->n_events;
    int rc = 0;
    for (size_t i = 0; !rc && i < json_array_size(events); i++)
        rc = add_event(b, in, json_array_get(events, i), now_ms);
    if (rc || add_waiter(b, cb, ud, first, b->n_events - first)) {
        while (b->keys.n > keys0)
            free(b->keys.v[--b->keys.n]);
        while (b->args.n > args0)
            free(b->args.v[--b->args.n]);
        b->n_events = first;
        return -1;
    }
    uv_check_start(&G.check, on_check);
    if (b->n_events >= BATCH_MAX_EVENTS || b->bytes >= BATCH_MAX_BYTES)
        flush();
    return 0;
}

int ingest_init(uv_loop_t *loop, const cr_config *cfg)
{
    G.cfg = cfg;
    snprintf(G.retention_ms, sizeof G.retention_ms, "%lld", (long long)cfg->retention_s * 1000);
    snprintf(G.window_s, sizeof G.window_s, "%lld", (long long)cfg->dedupe_window_s);
    return uv_check_init(loop, &G.check);
}

/* Webhooks still waiting get their answer (503) before the loop ends. */
void ingest_stop(void)
{
    if (!G.check.loop)
        return;
    batch *b = G.cur;
    G.cur = NULL;
    if (b)
        finish(b, NULL);
    uv_check_stop(&G.check);
    uv_close((uv_handle_t *)&G.check, NULL);
}
