/* api_hooks.c — PBX webhooks: POST /v1/hooks/INTEGRATION/ADAPTER[/MORE]. The adapter
 * translates and verifies; this file authenticates, and stores the events with one call of
 * the ingest script. The PBX gets its 2xx only after Redis answered. */
#include "api.h"
#include "cidr.h"
#include "event.h"
#include "integrations.h"
#include "metrics.h"
#include "result.h"
#include "store.h"
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct argv_list {
    char **v;
    size_t *len;
    int n, cap;
} argv_list;

static int push(argv_list *a, char *owned)
{
    if (!owned)
        return -1;
    if (a->n == a->cap) {
        int cap = a->cap ? a->cap * 2 : 16;
        char **v = realloc(a->v, cap * sizeof *v);
        size_t *l = v ? realloc(a->len, cap * sizeof *l) : NULL;
        if (!v || !l) {
            if (v)
                a->v = v;
            free(owned);
            return -1;
        }
        a->v = v;
        a->len = l;
        a->cap = cap;
    }
    a->len[a->n] = strlen(owned);
    a->v[a->n++] = owned;
    return 0;
}

static int pushf(argv_list *a, long long v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", v);
    return push(a, strdup(buf));
}

static void argv_free(argv_list *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    free(a->len);
}

static const char *header(const adapter_request *q, const char *name)
{
    const http_req *r = q->header_ctx;
    const char *v = NULL;
    if (strcmp(name, "webhook-id") == 0)
        v = r->webhook_id;
    else if (strcmp(name, "webhook-timestamp") == 0)
        v = r->webhook_timestamp;
    else if (strcmp(name, "webhook-signature") == 0)
        v = r->webhook_signature;
    else if (strcmp(name, "content-type") == 0)
        v = r->content_type;
    else if (strcmp(name, "authorization") == 0)
        v = r->authorization;
    return v && *v ? v : NULL;
}

/* Splits /v1/hooks/INTEGRATION/ADAPTER[/MORE]; answers 404 and returns NULL on no match. */
static const integration *route(http_req *r, const char **subpath)
{
    const char *p = r->path + strlen("/v1/hooks/");
    const char *slash = strchr(p, '/');
    char name[NAME_MAX_LEN + 1], dialect[NAME_MAX_LEN + 1];
    if (!slash || slash - p > NAME_MAX_LEN) {
        http_reply_error(r, 404, RC_NOT_FOUND, NULL, "expected /v1/hooks/INTEGRATION/ADAPTER");
        return NULL;
    }
    snprintf(name, sizeof name, "%.*s", (int)(slash - p), p);
    const char *rest = strchr(slash + 1, '/');
    size_t dl = rest ? (size_t)(rest - slash - 1) : strlen(slash + 1);
    snprintf(dialect, sizeof dialect, "%.*s", (int)(dl < NAME_MAX_LEN ? dl : NAME_MAX_LEN),
             slash + 1);
    const integration *in = integrations_by_name(name);
    if (!in || strcmp(in->adapter->name, dialect) != 0) {
        http_reply_error(r, 404, RC_NOT_FOUND, NULL, "no integration %s with adapter %s", name,
                         dialect);
        return NULL;
    }
    *subpath = rest ? rest : "";
    return in;
}

static bool source_allowed(const integration *in, const char *peer)
{
    const json_t *nets = json_object_get(in->settings, "allowed_networks");
    if (!json_array_size(nets))
        return true;
    size_t i;
    const json_t *c;
    json_array_foreach(nets, i, c) if (cidr_contains(json_string_value(c), peer)) return true;
    return false;
}

static bool authenticate(http_req *r, const integration *in, const adapter_request *q)
{
    char buf[512];
    const char *t = http_token(r, NULL, buf, sizeof buf);
    if (t && token_equal(in->token_hash, (token_hash(t, buf + 256), buf + 256)))
        return true;
    adapter_error err = {{0}, {0}};
    enum adapter_status s = in->adapter->verify ? in->adapter->verify(q, in->settings, &err)
                                                : ADAPTER_NO_SIGNATURE;
    if (s == ADAPTER_OK)
        return true;
    if (s == ADAPTER_NO_SIGNATURE)
        http_reply_error(r, 401, RC_UNAUTHORIZED, NULL,
                         "neither the integration token nor a webhook signature was given");
    else
        http_reply_error(r, 401, RC_BAD_SIGNATURE, err.field, "%s",
                         err.message[0] ? err.message : "signature does not match");
    return false;
}

static void on_stored(redisReply *reply, void *ud)
{
    http_req *r = ud;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        api_reply_store_failure(r, reply);
    } else {
        long long acc = reply->element[0]->integer, dup = reply->element[1]->integer,
                  ign = reply->element[2]->integer;
        metrics.events_accepted += (uint64_t)acc;
        metrics.events_duplicate += (uint64_t)dup;
        metrics.events_ignored += (uint64_t)ign;
        http_reply_ok(r, json_pack("{s:I,s:I,s:I}", "accepted", (json_int_t)acc, "duplicates",
                                   (json_int_t)dup, "ignored", (json_int_t)ign));
    }
    http_req_release(r);
}

/* KEYS and ARGV of ingest.lua (see its header). */
static int build_args(const integration *in, json_t *events, argv_list *keys, argv_list *args)
{
    const char *integ = in->name, *source = in->adapter->name;
    const char *epoch = json_string_value(json_object_get(in->record, "epoch"));
    const cr_config *c = http_config();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (push(keys, store_key_users(integ)) || pushf(args, c->retention_s * 1000) ||
        pushf(args, c->dedupe_window_s) || push(args, strdup(store_channel_events())) ||
        push(args, strdup(integ)) || pushf(args, (long long)json_array_size(events)))
        return -1;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        event_prepared p;
        if (event_prepare(ev, integ, source, now_ms, &p) != 0)
            return -1;
        int rc = push(keys, store_key_dedupe(integ, epoch ? epoch : "", p.key)) || pushf(args, (long long)p.n_users);
        for (size_t u = 0; !rc && u < p.n_users; u++)
            rc = push(keys, store_key_stream(integ, p.users[u])) || push(args, strdup(p.users[u])) ||
                 push(args, strdup(p.json[u]));
        event_prepared_free(&p);
        if (rc)
            return -1;
    }
    return 0;
}

static void store_events(http_req *r, const integration *in, json_t *events)
{
    argv_list keys = {0}, args = {0}, all = {0};
    int rc = build_args(in, events, &keys, &args);
    for (int i = 0; !rc && i < keys.n + args.n; i++)
        rc = push(&all, strdup(i < keys.n ? keys.v[i] : args.v[i - keys.n]));
    if (rc) {
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    } else {
        http_req_hold(r);
        if (store_script(SCRIPT_INGEST, on_stored, r, keys.n, all.n, (const char **)all.v,
                         all.len) != 0) {
            http_req_release(r);
            api_reply_store_failure(r, NULL);
        }
    }
    argv_free(&keys);
    argv_free(&args);
    argv_free(&all);
}

void api_hook(http_req *r)
{
    const char *subpath;
    const integration *in = route(r, &subpath);
    if (!in)
        return;
    if (!source_allowed(in, r->peer)) {
        http_reply_error(r, 403, RC_FORBIDDEN, NULL, "source address %s is not allowed", r->peer);
        return;
    }
    adapter_request q = {
        .method = "POST", .subpath = subpath, .query = r->query,
        .content_type = r->content_type, .body = r->body, .body_len = r->body_len,
        .header = header, .header_ctx = r, .now = (int64_t)time(NULL),
    };
    if (!authenticate(r, in, &q) || !api_require_store(r))
        return;
    json_t *events = json_array();
    adapter_error err = {{0}, {0}};
    if (in->adapter->parse(&q, in->settings, events, &err) != ADAPTER_OK)
        http_reply_error(r, 400, err.field[0] ? RC_INVALID_FIELD : RC_BAD_REQUEST, err.field, "%s",
                         err.message[0] ? err.message : "invalid request");
    else if (json_array_size(events) == 0)
        http_reply_ok(r, json_pack("{s:i,s:i,s:i}", "accepted", 0, "duplicates", 0, "ignored", 0));
    else
        store_events(r, in, events);
    json_decref(events);
}
