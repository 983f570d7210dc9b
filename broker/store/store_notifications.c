/* store_notifications.c — the notifications API's Redis calls, each one script. */
#include "store_notifications.h"
#include "store.h"
#include "store_reply.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_list(redisReply *r, void *ud)
{
    store_call *c = ud;
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    ((store_notify_list_cb)c->cb)(store_outcome_of(r, ok), ok ? r : NULL, c->ud);
    free(c);
}

static void on_count(redisReply *r, void *ud)
{
    store_call *c = ud;
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    ((store_notify_count_cb)c->cb)(store_outcome_of(r, ok), ok ? r->integer : 0, c->ud);
    free(c);
}

int store_notify_list(const char *integration, const char *status, unsigned limit,
                      store_notify_list_cb cb, void *ud)
{
    char n[16];
    snprintf(n, sizeof n, "%u", limit);
    const char *argv[] = {store_config()->key_prefix, integration, status, n};
    return store_call_run(SCRIPT_NOTIFY_LIST, on_list, (void (*)(void))cb, ud, 0, 4, argv);
}

int store_notify_get(const char *integration, const char *id, store_notify_list_cb cb, void *ud)
{
    const char *argv[] = {store_config()->key_prefix, integration, "one", id};
    return store_call_run(SCRIPT_NOTIFY_LIST, on_list, (void (*)(void))cb, ud, 0, 4, argv);
}

int store_notify_retry_ids(const char *integration, const char *const *ids, size_t n,
                           store_notify_count_cb cb, void *ud)
{
    const char **argv = malloc((n + 5) * sizeof *argv);
    char retention[24];
    if (!argv)
        return -1;
    snprintf(retention, sizeof retention, "%lld", (long long)store_config()->retention_s * 1000);
    argv[0] = store_config()->key_prefix;
    argv[1] = integration;
    argv[2] = retention;
    argv[3] = "ids";
    argv[4] = "";
    memcpy(argv + 5, ids, n * sizeof *ids);
    int rc =
        store_call_run(SCRIPT_NOTIFY_RETRY, on_count, (void (*)(void))cb, ud, 0, (int)n + 5, argv);
    free(argv);
    return rc;
}

int store_notify_retry_dead(const char *integration, long long since_ms, store_notify_count_cb cb,
                            void *ud)
{
    char since[24], retention[24];
    snprintf(since, sizeof since, "%lld", since_ms);
    snprintf(retention, sizeof retention, "%lld", (long long)store_config()->retention_s * 1000);
    const char *argv[] = {store_config()->key_prefix, integration, retention, "dead_since", since};
    return store_call_run(SCRIPT_NOTIFY_RETRY, on_count, (void (*)(void))cb, ud, 0, 5, argv);
}
