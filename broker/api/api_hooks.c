/* api_hooks.c — PBX webhooks: POST /v1/hooks/INTEGRATION/ADAPTER[/MORE]. The adapter
 * translates and verifies (api_auth.c checks who is posting); this file stores the events with one
 * call of the ingest script. The PBX gets its 2xx only after Redis answered. */
#include "api.h"
#include "event_check.h"
#include "ingest.h"
#include "ingest_plan.h"
#include "integrations.h"
#include "log.h"
#include "metrics.h"
#include "result.h"
#include "store.h"
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *header(const adapter_request *q, const char *name)
{
    return http_header(q->header_ctx, name);
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
    memcpy(name, p, (size_t)(slash - p));
    name[slash - p] = '\0';
    const char *rest = strchr(slash + 1, '/');
    size_t dl = rest ? (size_t)(rest - slash - 1) : strlen(slash + 1);
    dl = dl < NAME_MAX_LEN ? dl : NAME_MAX_LEN;
    memcpy(dialect, slash + 1, dl);
    dialect[dl] = '\0';
    const integration *in = integrations_by_name(name);
    if (!in && http_retry_after_refresh(r))
        return NULL;
    if (!in || strcmp(in->adapter->name, dialect) != 0) {
        http_reply_error(r, 404, RC_NOT_FOUND, NULL, "no integration %s with adapter %s", name,
                         dialect);
        return NULL;
    }
    *subpath = rest ? rest : "";
    return in;
}

/* The answer is the adapter's: it waits for Redis, by when the integration may have been
 * reloaded, so the adapter's table entry and the integration's name are what is kept. */
typedef struct hook_state {
    const adapter *adapter;
    char integration[NAME_MAX_LEN + 1];
} hook_state;

static void answer(http_req *r, const adapter_ctx *ctx, const adapter *a, const adapter_counts *c)
{
    adapter_answer out = {0};
    if (!a->answer) {
        http_reply_ok(r, json_pack("{s:i,s:i,s:i,s:i}", "accepted", c->accepted, "duplicates",
                                   c->duplicates, "ignored", c->ignored, "stale", c->stale));
    } else if (a->answer(ctx, c, &out) != 0) {
        free(out.body);
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    } else {
        http_reply_raw(r, out.status, out.content_type, out.body, out.body_len);
    }
}

static void answer_stored(http_req *r, const adapter_counts *c)
{
    const hook_state *h = r->state;
    const integration *in = integrations_by_name(h->integration);
    adapter_ctx ctx = {.integration = h->integration, .now = (int64_t)time(NULL)};
    if (in && in->adapter == h->adapter)
        ctx = integrations_adapter_ctx(in, ctx.now);
    answer(r, &ctx, h->adapter, c);
}

static void on_stored(void *ud, enum ingest_status st, const adapter_counts *c)
{
    http_req *r = ud;
    if (st == INGEST_UNAVAILABLE) {
        http_reply_error(r, 503, RC_UNAVAILABLE, NULL, "storage unavailable, retry later");
    } else if (st == INGEST_FAILED) {
        http_reply_error(r, 500, RC_INTERNAL, NULL, "storage error");
    } else {
        METRIC_ADD(events_accepted, c->accepted);
        METRIC_ADD(events_duplicate, c->duplicates);
        METRIC_ADD(events_ignored, c->ignored);
        METRIC_ADD(events_stale, c->stale);
        answer_stored(r, c);
    }
    http_req_release(r);
}

static void too_large(http_req *r, const char *limit, size_t max, size_t requested,
                      const char *what)
{
    char msg[200];
    snprintf(msg, sizeof msg, "%s over the limit of %zu (%s); send fewer events per request", what,
             max, limit);
    http_reply_json(r, 413,
                    json_pack("{s:{s:i,s:s},s:s,s:{s:s,s:I,s:I}}", "result", "code", RC_TOO_LARGE,
                              "message", msg, "field", "events", "limit", "name", limit, "max",
                              (json_int_t)max, "requested", (json_int_t)requested));
}

/* One request may not make Redis append more entries than CALLRELAY_MAX_DELIVERIES, nor
 * store much more than INGEST_REQUEST_MAX_BYTES: checked before anything is stored. */
static bool within_bounds(http_req *r, const json_t *events)
{
    size_t max = http_config()->max_deliveries;
    ingest_cost c;
    char what[80];
    switch (ingest_plan_check(events, r->body_len, max, &c)) {
    case INGEST_FITS:
        return true;
    case INGEST_TOO_MANY_DELIVERIES:
        snprintf(what, sizeof what, "%zu deliveries (events x users)", c.deliveries);
        too_large(r, "CALLRELAY_MAX_DELIVERIES", max, c.deliveries, what);
        return false;
    case INGEST_TOO_MANY_BYTES:
        snprintf(what, sizeof what, "about %zu bytes to store (events x users)", c.bytes);
        too_large(r, "INGEST_REQUEST_MAX_BYTES", INGEST_REQUEST_MAX_BYTES, c.bytes, what);
        return false;
    }
    return false;
}

static void submit(http_req *r, const integration *in, const json_t *events)
{
    hook_state *h = malloc(sizeof *h);
    if (!h) {
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
        return;
    }
    h->adapter = in->adapter;
    snprintf(h->integration, sizeof h->integration, "%s", in->name);
    r->state = h;
    r->free_state = free;
    http_req_hold(r);
    if (ingest_submit(in, events, on_stored, r) != 0) {
        http_req_release(r);
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    }
}

/* An adapter's mistake is ours, not the PBX's: 500, and a log line for whoever maintains it. */
static bool contract_kept(http_req *r, const integration *in, const json_t *events)
{
    adapter_error err;
    if (in->adapter->events_checked || event_check_all(events, &err) == 0)
        return true;
    log_error("adapter output breaks the event contract", "{s:s,s:s,s:s,s:s,s:s}", "adapter",
              in->adapter->name, "integration", in->name, "field", err.field, "detail", err.message,
              "request_id", r->request_id);
    http_reply_error(r, 500, RC_INTERNAL, NULL,
                     "adapter %s produced an invalid event (%s: %s); nothing was stored",
                     in->adapter->name, err.field, err.message);
    return false;
}

static void translate(http_req *r, const integration *in, const adapter_ctx *ctx,
                      const adapter_request *q)
{
    json_t *events = json_array();
    adapter_error err = {{0}, {0}};
    enum adapter_status st = events ? in->adapter->parse(ctx, q, events, &err) : ADAPTER_OK;
    if (!events)
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    else if (st == ADAPTER_NOT_FOUND)
        http_reply_error(r, 404, RC_NOT_FOUND, NULL, "%s",
                         err.message[0] ? err.message : "no such path for this adapter");
    else if (st != ADAPTER_OK)
        http_reply_error(r, 400, err.field[0] ? RC_INVALID_FIELD : RC_BAD_REQUEST, err.field, "%s",
                         err.message[0] ? err.message : "invalid request");
    else if (json_array_size(events) == 0)
        answer(r, ctx, in->adapter, &(adapter_counts){0, 0, 0, 0});
    else if (contract_kept(r, in, events) && within_bounds(r, events))
        submit(r, in, events);
    json_decref(events);
}

void api_hook(http_req *r)
{
    const char *subpath;
    const integration *in = route(r, &subpath);
    if (!in)
        return;
    if (!api_source_allowed(in, r)) {
        http_reply_error(r, 403, RC_FORBIDDEN, NULL, "source address %s is not allowed",
                         http_client_address(r));
        return;
    }
    adapter_request q = {
        .method = "POST",
        .subpath = subpath,
        .query = r->query,
        .content_type = r->content_type,
        .body = r->body,
        .body_len = r->body_len,
        .header = header,
        .header_ctx = r,
    };
    adapter_ctx ctx = integrations_adapter_ctx(in, (int64_t)time(NULL));
    if (!api_authenticate_hook(r, in, &ctx, &q) || !api_require_store(r))
        return;
    translate(r, in, &ctx, &q);
}
