/* store_integrations.c — the calls on integrations' records: builds each command or script
 * call and turns its reply into domain values before the caller sees it. */
#include "store_integrations.h"
#include "store.h"
#include "store_reply.h"
#include <stdlib.h>
#include <string.h>

static void on_found(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_outcome o = store_outcome_of(r, r && r->type == REDIS_REPLY_INTEGER);
    ((store_found_cb)c->cb)(o, o.status == STORE_OK && r->integer != 0, c->ud);
    free(c);
}

int store_integration_put(const char *name, const char *record, bool create, store_found_cb cb,
                          void *ud)
{
    char *key = store_key_integrations(), *prefix = store_key_integration_prefix(name);
    const char *args[] = {
        key, name, record, create ? "create" : "update", store_channel_control(), prefix};
    int rc = store_call_run(SCRIPT_INTEGRATION_PUT, on_found, (void (*)(void))cb, ud, 1, 6, args);
    free(key);
    free(prefix);
    return rc;
}

int store_integration_delete(const char *name, store_found_cb cb, void *ud)
{
    char *key = store_key_integrations(), *users = store_key_users(name),
         *prefix = store_key_integration_prefix(name);
    const char *args[] = {key, users, name, prefix, store_channel_control()};
    int rc =
        store_call_run(SCRIPT_INTEGRATION_DELETE, on_found, (void (*)(void))cb, ud, 2, 5, args);
    free(key);
    free(users);
    free(prefix);
    return rc;
}

static void on_listed(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_outcome o = store_outcome_of(r, r && r->type == REDIS_REPLY_ARRAY);
    size_t n = o.status == STORE_OK ? r->elements / 2 : 0;
    store_integration *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = (store_integration){r->element[2 * i]->str, r->element[2 * i + 1]->str};
    ((store_integrations_cb)c->cb)(o, v, v ? n : 0, c->ud);
    free(v);
    free(c);
}

int store_integrations_list(store_integrations_cb cb, void *ud)
{
    char *key = store_key_integrations();
    const char *argv[] = {"HGETALL", key};
    int rc = store_call_run(-1, on_listed, (void (*)(void))cb, ud, 0, 2, argv);
    free(key);
    return rc;
}

typedef struct got {
    store_integrations_cb cb;
    void *ud;
    char name[];
} got;

static void on_got(redisReply *r, void *ud)
{
    got *g = ud;
    bool ok = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL);
    store_outcome o = store_outcome_of(r, ok);
    store_integration v = {g->name, ok && r->type == REDIS_REPLY_STRING ? r->str : NULL};
    g->cb(o, &v, v.record ? 1 : 0, g->ud);
    free(g);
}

int store_integration_get(const char *name, store_integrations_cb cb, void *ud)
{
    size_t n = strlen(name);
    got *g = malloc(sizeof *g + n + 1);
    char *key = store_key_integrations();
    int rc = -1;
    if (g && key) {
        *g = (got){cb, ud};
        memcpy(g->name, name, n + 1);
        const char *argv[] = {"HGET", key, name};
        size_t lens[] = {4, strlen(key), n};
        rc = store_command(on_got, g, 3, argv, lens);
    }
    if (rc != 0)
        free(g);
    free(key);
    return rc;
}
