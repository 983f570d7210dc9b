/* api_ops.c — health, readiness, metrics, and the checks every handler shares. */
#include "api.h"
#include "integrations.h"
#include "metrics.h"
#include "result.h"
#include "store.h"
#include <stdio.h>
#include <string.h>

#define MAX_IN_FLIGHT 20000

void api_healthz(http_req *r) { http_reply_ok(r, NULL); }

void api_readyz(http_req *r)
{
    if (http_draining())
        http_reply_error(r, 503, RC_UNAVAILABLE, NULL, "draining");
    else if (!store_connected() || !store_pubsub_connected())
        http_reply_error(r, 503, RC_UNAVAILABLE, NULL, "redis unreachable");
    else if (!integrations_loaded())
        http_reply_error(r, 503, RC_UNAVAILABLE, NULL, "integrations not loaded yet");
    else
        http_reply_ok(r, NULL);
}

void api_metrics(http_req *r)
{
    size_t len = 0;
    char *text = metrics_render(&len);
    if (!text) {
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
        return;
    }
    http_reply_raw(r, 200, "text/plain; version=0.0.4", text, len);
}

bool api_require_store(http_req *r)
{
    if (http_draining() || !store_connected() || store_in_flight() > MAX_IN_FLIGHT) {
        http_reply_error(r, 503, RC_UNAVAILABLE, NULL, "storage unavailable, retry later");
        return false;
    }
    return true;
}

json_t *api_named_body(http_req *r, bool admin, const char *field, bool (*valid)(const char *),
                       const char *rule, char out[NAME_MAX_LEN + 1])
{
    json_t *body = http_body_object(r);
    if (!body)
        return NULL;
    bool authorized = admin ? api_require_admin(r, body) : api_require_integration(r, body);
    if (!authorized || !api_require_store(r)) {
        json_decref(body);
        return NULL;
    }
    const char *v = json_string_value(json_object_get(body, field));
    if (!v || !valid(v)) {
        http_reply_error(r, 400, RC_INVALID_FIELD, field, "%s: required, %s", field, rule);
        json_decref(body);
        return NULL;
    }
    strcpy(out, v);
    return body;
}

void api_store_wait(http_req *r, int rc)
{
    if (rc == 0)
        http_req_hold(r);
    else
        api_reply_store_outcome(r, (store_outcome){STORE_UNAVAILABLE, NULL});
}

void api_reply_store_outcome(http_req *r, store_outcome o)
{
    if (o.status == STORE_UNAVAILABLE)
        http_reply_error(r, 503, RC_UNAVAILABLE, NULL, "storage unavailable, retry later");
    else
        http_reply_error(r, 500, RC_INTERNAL, NULL, "storage error: %s", o.error);
}
