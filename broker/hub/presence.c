/* presence.c — counts this instance's registered tabs per user, and keeps the users that
 * have one in the presence set: added on the first tab, removed with the last, refreshed by
 * a timer (a third of the expiry, so that one lost refresh does not make anyone offline). */
#include "presence.h"
#include "log.h"
#include "names.h"
#include "store_presence.h"
#include "strmap.h"
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 256     /* members per ZADD or ZREM */
#define PRUNE_EVERY 6 /* refreshes between two prunes of what dead instances left */

typedef struct here {
    char integration[NAME_MAX_LEN + 1], extension[NAME_MAX_LEN + 1];
    int tabs;
} here;

static struct {
    uv_timer_t timer;
    bool started, draining;
    strmap users; /* "integration/extension" -> here */
    int64_t ttl_ms;
    unsigned ticks;
    char instance[17];
} P;

int64_t presence_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

const char *presence_instance(void) { return P.instance; }

static void on_written(store_outcome o, void *ud)
{
    (void)ud;
    if (o.status == STORE_FAILED)
        log_error("presence write failed", "{s:s}", "error", o.error);
}

typedef void (*batch_fn)(const char *integration, const char *const *exts, size_t n);

static void collect(const char *key, void *value, void *ud)
{
    (void)key;
    here ***out = ud;
    *(*out)++ = value;
}

static int by_integration(const void *a, const void *b)
{
    return strcmp((*(here *const *)a)->integration, (*(here *const *)b)->integration);
}

/* Calls fn with at most BATCH extensions of one integration at a time. */
static void each_batch(batch_fn fn)
{
    size_t n = P.users.count;
    here **all = malloc((n ? n : 1) * sizeof *all), **end = all;
    const char **exts = malloc(BATCH * sizeof *exts);
    if (all && exts) {
        strmap_each(&P.users, collect, &end);
        if (n > 1)
            qsort(all, n, sizeof *all, by_integration);
        for (size_t i = 0; i < n;) {
            size_t k = 0;
            const char *integ = all[i]->integration;
            while (i < n && k < BATCH && strcmp(all[i]->integration, integ) == 0)
                exts[k++] = all[i++]->extension;
            fn(integ, exts, k);
        }
    } else if (n) {
        log_error("presence: out of memory", NULL);
    }
    free(all);
    free(exts);
}

static void put_batch(const char *integration, const char *const *exts, size_t n)
{
    int64_t now = presence_now_ms();
    store_presence_put(integration, P.instance, exts, n, now + P.ttl_ms, on_written, NULL);
    if (P.ticks % PRUNE_EVERY == 0)
        store_presence_prune(integration, now, on_written, NULL);
}

static void remove_batch(const char *integration, const char *const *exts, size_t n)
{
    store_presence_remove(integration, P.instance, exts, n, on_written, NULL);
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    each_batch(put_batch);
    P.ticks++;
}

int presence_start(uv_loop_t *loop, const cr_config *cfg)
{
    unsigned char raw[8];
    if (RAND_bytes(raw, sizeof raw) != 1 || strmap_init(&P.users) != 0)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        sprintf(P.instance + 2 * i, "%02x", raw[i]);
    P.ttl_ms = (int64_t)cfg->presence_ttl_s * 1000;
    uv_timer_init(loop, &P.timer);
    uv_timer_start(&P.timer, on_tick, (uint64_t)P.ttl_ms / 3, (uint64_t)P.ttl_ms / 3);
    P.started = true;
    return 0;
}

static void user_key(char *out, const char *integration, const char *ext)
{
    sprintf(out, "%s/%s", integration, ext);
}

void presence_join(const char *integration, const char *ext)
{
    char key[2 * NAME_MAX_LEN + 2];
    user_key(key, integration, ext);
    here *h = strmap_get(&P.users, key);
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h || strmap_put(&P.users, key, h) != 0) {
            free(h);
            log_error("presence: out of memory", NULL);
            return;
        }
        snprintf(h->integration, sizeof h->integration, "%s", integration);
        snprintf(h->extension, sizeof h->extension, "%s", ext);
    }
    if (h->tabs++ == 0 && !P.draining) {
        const char *exts[] = {ext};
        store_presence_put(integration, P.instance, exts, 1, presence_now_ms() + P.ttl_ms,
                           on_written, NULL);
    }
}

void presence_leave(const char *integration, const char *ext)
{
    char key[2 * NAME_MAX_LEN + 2];
    user_key(key, integration, ext);
    here *h = strmap_get(&P.users, key);
    if (!h || --h->tabs > 0)
        return;
    strmap_del(&P.users, key);
    free(h);
    if (!P.draining) {
        const char *exts[] = {ext};
        store_presence_remove(integration, P.instance, exts, 1, on_written, NULL);
    }
}

void presence_drain(void)
{
    if (!P.started || P.draining)
        return;
    P.draining = true;
    uv_timer_stop(&P.timer);
    each_batch(remove_batch);
}

static void free_here(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    free(value);
}

void presence_stop(void)
{
    if (!P.started)
        return;
    P.started = false;
    P.draining = true;
    uv_timer_stop(&P.timer);
    uv_close((uv_handle_t *)&P.timer, NULL);
}

void presence_free(void)
{
    strmap_each(&P.users, free_here, NULL);
    strmap_free(&P.users);
}
