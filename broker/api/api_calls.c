/* api_calls.c — what the integration reads of calls and presence: GET /v1/calls/CALL_ID and
 * POST /v1/session/ping. */
#include "api.h"
#include "call_state.h"
#include "command_check.h"
#include "presence.h"
#include "result.h"
#include "store_calls.h"
#include "store_presence.h"
#include <string.h>

#define CALLS_PREFIX "/v1/calls/"
#define CALL_ID_MAX 200 /* as event.schema.json's call_id */

static void on_call(store_outcome o, const call_fields *call, void *ud)
{
    http_req *r = ud;
    json_t *j = o.status == STORE_OK ? call_state_json(call->call_id, call->v, call->n) : NULL;
    if (o.status != STORE_OK)
        api_reply_store_outcome(r, o);
    else if (!call->n)
        http_reply_error(r, 404, RC_CALL_NOT_FOUND, "call_id", "call not found: %s", call->call_id);
    else if (!j)
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    else
        http_reply_ok(r, json_pack("{s:o}", "call", j));
    http_req_release(r);
}

void api_call_get(http_req *r)
{
    if (!api_require_integration(r, NULL) || !api_require_store(r))
        return;
    const char *id = r->path + strlen(CALLS_PREFIX);
    if (!command_id_valid(id)) {
        http_reply_error(r, 400, RC_INVALID_FIELD, "call_id",
                         "call_id: 1-%d UTF-8 characters after " CALLS_PREFIX
                         ", no '/' or controls",
                         CALL_ID_MAX);
        return;
    }
    api_store_wait(r, store_call_state(r->integration, id, on_call, r));
}

static void on_online(store_outcome o, const char *const *exts, size_t n, void *ud)
{
    http_req *r = ud;
    if (o.status != STORE_OK) {
        api_reply_store_outcome(r, o);
        http_req_release(r);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_string(exts[i]));
    http_reply_ok(r, json_pack("{s:o}", "online", list));
    http_req_release(r);
}

/* The body is optional: it may carry the token, and nothing else is read from it. */
void api_session_ping(http_req *r)
{
    json_t *body = r->body_len ? http_body_object(r) : NULL;
    if (r->body_len && !body)
        return;
    bool ok = api_require_integration(r, body) && api_require_store(r);
    json_decref(body);
    if (ok)
        api_store_wait(r, store_presence_online(r->integration, presence_now_ms(), on_online, r));
}
