/* store_notifications.c — the notifications API's Redis calls, each one script. */
#include "store_notifications.h"
#include "store.h"
#include "store_reply.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pending {
    void (*cb)(void);
    void *ud;
} pending;

static void on_list(redisReply *r, void *ud)
{
    pending *p = ud;
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    store_outcome o = store_outcome_of(r, ok);
    ((store_notify_list_cb)p->cb)(o, ok ? r : NULL, p->ud);
    free(p);
}

static void on_count(redisReply *r, void *ud)
{
    pending *p = ud;
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    ((store_notify_count_cb)p->cb)(store_outcome_of(r, ok), ok ? r->integer : 0, p->ud);
    free(p);
}

static int run(enum store_script s, store_cb done, void (*cb)(void), void *ud, size_t n,
               const char *const *argv)
{
    pending *p = malloc(sizeof *p);
    size_t *lens = malloc(n * sizeof *lens);
    int rc = -1;
    if (p && lens) {
        *p = (pending){cb, ud};
        for (size_t i = 0; i < n; i++)
            lens[i] = strlen(argv[i]);
        rc = store_script(s, done, p, 0, (int)n, (const char **)argv, lens);
    }
    if (rc)
        free(p);
    free(lens);
    return rc;
}

int store_notify_list(const char *integration, const char *status, unsigned limit,
                      store_notify_list_cb cb, void *ud)
{
    char n[16];
    snprintf(n, sizeof n, "%u", limit);
    const char *argv[] = {store_config()->key_prefix, integration, status, n};
    return run(SCRIPT_NOTIFY_LIST, on_list, (void (*)(void))cb, ud, 4, argv);
}

int store_notify_get(const char *integration, const char *id, store_notify_list_cb cb, void *ud)
{
    const char *argv[] = {store_config()->key_prefix, integration, "one", id};
    return run(SCRIPT_NOTIFY_LIST, on_list, (void (*)(void))cb, ud, 4, argv);
}

int store_notify_retry_ids(const char *integration, const char *const *ids, size_t n,
                           store_notify_count_cb cb, void *ud)
{
    const char **argv = malloc((n + 4) * sizeof *argv);
    if (!argv)
        return -1;
    argv[0] = store_config()->key_prefix;
    argv[1] = integration;
    argv[2] = "ids";
    argv[3] = "";
    memcpy(argv + 4, ids, n * sizeof *ids);
    int rc = run(SCRIPT_NOTIFY_RETRY, on_count, (void (*)(void))cb, ud, n + 4, argv);
    free(argv);
    return rc;
}

int store_notify_retry_dead(const char *integration, long long since_ms, store_notify_count_cb cb,
                            void *ud)
{
    char since[24];
    snprintf(since, sizeof since, "%lld", since_ms);
    const char *argv[] = {store_config()->key_prefix, integration, "dead_since", since};
    return run(SCRIPT_NOTIFY_RETRY, on_count, (void (*)(void))cb, ud, 4, argv);
}
