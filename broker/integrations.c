/* integrations.c — the in-memory table of integrations, by name and by token hash. */
#include "integrations.h"
#include "log.h"
#include "store_integrations.h"
#include "strmap.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFRESH_WAITERS 256

typedef struct refresh_waiter {
    void (*cb)(void *ud);
    void *ud;
} refresh_waiter;

/* One reload at a time, and a pause of COOL_MS after each, so that requests with unknown
 * tokens cannot keep Redis busy with reloads. A caller that arrives during a reload or the
 * pause waits for the next reload: the one in flight may have been read before the
 * integration it looks for was created. */
#define COOL_MS 50

static struct {
    strmap by_name, by_token;
    bool loaded;
    bool refreshing, cooling;
    uv_timer_t cool;
    refresh_waiter waiters[REFRESH_WAITERS], next[REFRESH_WAITERS];
    size_t n_waiters, n_next;
} I;

static int start_reload(void);

static void call_waiters(refresh_waiter *list, size_t *n)
{
    refresh_waiter w[REFRESH_WAITERS];
    size_t count = *n;
    memcpy(w, list, count * sizeof *w);
    *n = 0;
    for (size_t i = 0; i < count; i++)
        w[i].cb(w[i].ud);
}

static void on_cooled(uv_timer_t *t)
{
    (void)t;
    I.cooling = false;
    if (!I.n_next)
        return;
    memcpy(I.waiters, I.next, I.n_next * sizeof *I.waiters);
    I.n_waiters = I.n_next;
    I.n_next = 0;
    if (start_reload() != 0)
        call_waiters(I.waiters, &I.n_waiters); /* Redis is gone: they answer with what is known */
}

static void refresh_done(void)
{
    I.refreshing = false;
    if (I.cool.loop) {
        I.cooling = true;
        uv_timer_start(&I.cool, on_cooled, COOL_MS, 0);
    }
    call_waiters(I.waiters, &I.n_waiters);
}

int integrations_init(uv_loop_t *loop)
{
    if (strmap_init(&I.by_name) || strmap_init(&I.by_token))
        return -1;
    return uv_timer_init(loop, &I.cool);
}

void integrations_stop(void)
{
    if (!I.cool.loop)
        return;
    uv_timer_stop(&I.cool);
    uv_close((uv_handle_t *)&I.cool, NULL);
    I.cooling = false;
    call_waiters(I.next, &I.n_next);
}

static void integration_free(integration *in)
{
    if (in->compiled && in->adapter->free_compiled)
        in->adapter->free_compiled(in->compiled);
    notify_rules_free(in->notify);
    json_decref(in->record);
    free(in);
}

static void remove_name(const char *name)
{
    integration *old = strmap_del(&I.by_name, name);
    if (!old)
        return;
    strmap_del(&I.by_token, old->token_hash);
    integration_free(old);
}

static int compile(integration *in)
{
    adapter_error err = {{0}, {0}};
    bool oom = false;
    in->notify = notify_rules_compile(in->settings, &oom);
    if (oom) {
        log_error("out of memory compiling notification rules: integration ignored", "{s:s}",
                  "integration", in->name);
        return -1;
    }
    if (!in->adapter->compile || in->adapter->compile(in->settings, &in->compiled, &err) == 0)
        return 0;
    log_error("integration settings do not compile: ignored", "{s:s,s:s,s:s}", "integration",
              in->name, "field", err.field, "detail", err.message);
    return -1;
}

void integrations_apply(const char *name, const char *record_json)
{
    remove_name(name);
    if (!record_json)
        return;
    json_t *rec = json_loads(record_json, 0, NULL);
    const char *dialect = json_string_value(json_object_get(rec, "adapter"));
    const char *hash = json_string_value(json_object_get(rec, "token_sha256"));
    integration *in = calloc(1, sizeof *in);
    if (!rec || !dialect || !hash || strlen(hash) != TOKEN_HASH_LEN || !in ||
        strlen(name) > NAME_MAX_LEN || !adapter_find(dialect)) {
        log_error("integration record unreadable: ignored", "{s:s}", "integration", name);
        json_decref(rec);
        free(in);
        return;
    }
    strcpy(in->name, name);
    strcpy(in->token_hash, hash);
    in->adapter = adapter_find(dialect);
    in->record = rec;
    in->settings = json_object_get(rec, "settings");
    if (compile(in) != 0) {
        integration_free(in);
        return;
    }
    strmap_put(&I.by_name, in->name, in);
    strmap_put(&I.by_token, in->token_hash, in);
}

static void free_each(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    integration_free(value);
}

static void clear(void)
{
    strmap_each(&I.by_name, free_each, NULL);
    strmap_free(&I.by_name);
    strmap_free(&I.by_token);
    strmap_init(&I.by_name);
    strmap_init(&I.by_token);
}

void integrations_free(void)
{
    strmap_each(&I.by_name, free_each, NULL);
    strmap_free(&I.by_name);
    strmap_free(&I.by_token);
}

static void on_all(store_outcome o, const store_integration *v, size_t n, void *ud)
{
    (void)ud;
    if (o.status != STORE_OK) {
        log_warn("could not load integrations", NULL);
        refresh_done();
        return;
    }
    clear();
    for (size_t i = 0; i < n; i++)
        integrations_apply(v[i].name, v[i].record);
    bool first = !I.loaded;
    I.loaded = true;
    if (first)
        log_info("integrations loaded", "{s:i}", "count", (int)I.by_name.count);
    refresh_done();
}

static int start_reload(void)
{
    int rc = store_integrations_list(on_all, NULL);
    if (rc == 0)
        I.refreshing = true;
    return rc;
}

int integrations_refresh(void (*cb)(void *ud), void *ud)
{
    if (I.refreshing || I.cooling) {
        if (I.n_next == REFRESH_WAITERS)
            return -1;
        I.next[I.n_next++] = (refresh_waiter){cb, ud};
        return 0;
    }
    if (start_reload() != 0)
        return -1;
    I.waiters[I.n_waiters++] = (refresh_waiter){cb, ud};
    return 0;
}

static void nothing(void *ud) { (void)ud; }

void integrations_load_all(void)
{
    if (!I.refreshing && !I.cooling)
        start_reload();
    else
        integrations_refresh(nothing, NULL); /* what changed while Redis was away */
}

static void on_one(store_outcome o, const store_integration *v, size_t n, void *ud)
{
    (void)ud;
    if (o.status == STORE_OK)
        integrations_apply(v->name, n ? v->record : NULL);
}

void integrations_reload(const char *name) { store_integration_get(name, on_one, NULL); }

bool integrations_loaded(void) { return I.loaded; }
const integration *integrations_by_name(const char *name) { return strmap_get(&I.by_name, name); }

const integration *integrations_by_token(const char *token)
{
    char hash[TOKEN_HASH_LEN + 1];
    token_hash(token, hash);
    const integration *in = strmap_get(&I.by_token, hash);
    return in && token_equal(in->token_hash, hash) ? in : NULL;
}

adapter_ctx integrations_adapter_ctx(const integration *in, int64_t now)
{
    return (adapter_ctx){
        .integration = in->name, .settings = in->settings, .compiled = in->compiled, .now = now};
}
