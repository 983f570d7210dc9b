/* api_auth.c — who a request is, in one place: the admin, an integration by its token (in the
 * head: Bearer or HTTP Basic, credentials.h; in the query; in a JSON body), or a PBX by its
 * dialect's signature. Head checks refuse early; the require_* checks answer the rest. */
#include "api.h"
#include "credentials.h"
#include "cidr.h"
#include "bounds.h"
#include "integrations.h"
#include "metrics.h"
#include "result.h"
#include "strmap.h"
#include "token.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- requests per second per integration, in this process ---- */

static strmap buckets; /* integration name -> token_bucket; as many as integrations */
static bool buckets_ready;

/* 0: within CALLRELAY_RATE_LIMIT (or counted already); else the seconds to wait, with the
 * request's Retry-After header set. Counted once per request, against its integration. */
static int64_t rate_take(http_req *r, const char *name)
{
    if (r->rate_counted)
        return 0;
    r->rate_counted = true;
    if (!buckets_ready && strmap_init(&buckets) == 0)
        buckets_ready = true;
    token_bucket *b = buckets_ready ? strmap_get(&buckets, name) : NULL;
    if (!b && buckets_ready && (b = calloc(1, sizeof *b)) && strmap_put(&buckets, name, b)) {
        free(b);
        b = NULL;
    }
    if (!b)
        return 0; /* out of memory: the limit is not worth a refusal */
    const cr_config *c = http_config();
    int64_t wait = bucket_take(b, c->rate_limit, c->rate_burst, (int64_t)uv_now(http_loop()));
    if (!wait)
        return 0;
    METRIC_ADD(limited[LIMIT_RATE], 1);
    snprintf(r->retry_after, sizeof r->retry_after, "%lld", (long long)wait);
    http_reply_header(r, "retry-after:", r->retry_after);
    return wait;
}

#define RATE_MESSAGE                                                                               \
    "too many requests: over %.0f per second for integration %s (CALLRELAY_RATE_LIMIT)"

static bool rate_ok(http_req *r, const char *name)
{
    if (!rate_take(r, name))
        return true;
    http_reply_error(r, 429, RC_TOO_MANY_REQUESTS, NULL, RATE_MESSAGE, http_config()->rate_limit,
                     name);
    return false;
}

/* A refusal at the head: the message must outlive the call. */
static int rate_head(http_req *r, const char *name, head_refusal *why)
{
    static char msg[256];
    if (!rate_take(r, name))
        return 0;
    snprintf(msg, sizeof msg, RATE_MESSAGE, http_config()->rate_limit, name);
    *why = (head_refusal){429, RC_TOO_MANY_REQUESTS, msg};
    return -1;
}

bool api_require_admin(http_req *r, const json_t *body)
{
    const char *admin = http_config()->admin_token;
    char buf[512];
    const char *t = http_token(r, body, buf, sizeof buf);
    if (!admin) {
        http_reply_error(r, 403, RC_FORBIDDEN, NULL,
                         "provisioning is disabled: CALLRELAY_ADMIN_TOKEN is not set");
        return false;
    }
    if (!t || !token_equal(t, admin)) {
        http_reply_error(r, 401, RC_UNAUTHORIZED, NULL, "admin token missing or wrong");
        return false;
    }
    return true;
}

int api_admin_head_check(http_req *r, head_refusal *why)
{
    const char *admin = http_config()->admin_token;
    char buf[512];
    const char *t = credentials_from_header(r->authorization, buf, sizeof buf);
    if (!t)
        return 0; /* the token may be in the body */
    if (!admin)
        *why = (head_refusal){403, RC_FORBIDDEN,
                              "provisioning is disabled: CALLRELAY_ADMIN_TOKEN is not set"};
    else if (!token_equal(t, admin))
        *why = (head_refusal){401, RC_UNAUTHORIZED, "admin token missing or wrong"};
    else
        return 0;
    return -1;
}

int api_integration_head_check(http_req *r, head_refusal *why)
{
    char buf[512];
    const char *t = credentials_from_header(r->authorization, buf, sizeof buf);
    if (!t)
        return 0; /* the token may be in the body */
    const integration *in = integrations_by_token(t);
    if (in) { /* the handler need not hash it again */
        snprintf(r->token_of, sizeof r->token_of, "%s", in->name);
        return rate_head(r, in->name, why);
    }
    if (!r->refreshed)
        return 1; /* created a moment ago on another instance? */
    *why = (head_refusal){401, RC_UNAUTHORIZED, "integration token missing or wrong"};
    return -1;
}

bool api_require_integration(http_req *r, const json_t *body)
{
    char buf[512];
    const char *t = r->token_of[0] ? NULL : http_token(r, body, buf, sizeof buf);
    const integration *in = r->token_of[0] ? integrations_by_name(r->token_of)
                            : t            ? integrations_by_token(t)
                                           : NULL;
    if (!in && t && http_retry_after_refresh(r))
        return false;
    if (!in) {
        http_reply_error(r, 401, RC_UNAUTHORIZED, NULL, "integration token missing or wrong");
        return false;
    }
    strcpy(r->integration, in->name);
    return rate_ok(r, in->name);
}

bool api_authenticate_hook(http_req *r, const integration *in, const adapter_ctx *ctx,
                           const adapter_request *q)
{
    char buf[512];
    if (r->token_of[0] && strcmp(r->token_of, in->name) == 0)
        return rate_ok(r, in->name);
    const char *t = r->token_of[0] ? NULL : http_token(r, NULL, buf, sizeof buf);
    if (t && integrations_by_token(t) == in)
        return rate_ok(r, in->name);
    adapter_error err = {{0}, {0}};
    enum adapter_status s =
        in->adapter->verify ? in->adapter->verify(ctx, q, &err) : ADAPTER_NO_SIGNATURE;
    if (s == ADAPTER_OK)
        return rate_ok(r, in->name);
    if (s == ADAPTER_NO_SIGNATURE)
        http_reply_error(r, 401, RC_UNAUTHORIZED, NULL,
                         "neither the integration token nor a webhook signature was given");
    else
        http_reply_error(r, 401, RC_BAD_SIGNATURE, err.field, "%s",
                         err.message[0] ? err.message : "signature does not match");
    return false;
}

bool api_source_allowed(const integration *in, http_req *r)
{
    const json_t *nets = json_object_get(in->settings, "allowed_networks");
    if (!json_array_size(nets))
        return true;
    const char *peer = http_client_address(r);
    size_t i;
    const json_t *c;
    json_array_foreach(nets, i, c) if (cidr_contains(json_string_value(c), peer)) return true;
    return false;
}

/* The token of the head only: Bearer, or ?token=. */
static const char *head_token(http_req *r, char *buf, size_t size)
{
    return http_token(r, NULL, buf, size);
}

static int hook_head_check(http_req *r, head_refusal *why)
{
    char name[NAME_MAX_LEN + 1], dialect[NAME_MAX_LEN + 1], buf[512];
    const char *subpath;
    if (!http_hook_path(r->path, name, dialect, &subpath))
        return 0; /* the handler answers 404 */
    const integration *in = integrations_by_name(name);
    if (!in && !r->refreshed)
        return 1;
    const char *t = head_token(r, buf, sizeof buf);
    const integration *owner = t ? integrations_by_token(t) : NULL;
    if (owner) /* the handler need not hash the token again */
        snprintf(r->token_of, sizeof r->token_of, "%s", owner->name);
    hook_head h = {
        .integration_known = in != NULL,
        .adapter_matches = in && strcmp(in->adapter->name, dialect) == 0,
        .source_allowed = in && api_source_allowed(in, r),
        .token_given = t != NULL,
        .token_valid = owner && owner == in,
        .signs = in && in->adapter->standard_webhooks,
        .id = r->webhook_id[0] ? r->webhook_id : NULL,
        .timestamp = r->webhook_timestamp[0] ? r->webhook_timestamp : NULL,
        .signature = r->webhook_signature,
        .now = (int64_t)time(NULL),
    };
    if (!http_hook_head_ok(&h, why))
        return -1;
    return h.token_valid ? rate_head(r, in->name, why) : 0;
}

int api_head_check(http_req *r, head_refusal *why)
{
    if (strncmp(r->path, "/v1/hooks/", 10) == 0)
        return hook_head_check(r, why);
    if (strncmp(r->path, "/v1/integration/", 16) == 0)
        return api_admin_head_check(r, why);
    if (strncmp(r->path, "/v1/users", 9) == 0 || strcmp(r->path, "/v1/channel") == 0 ||
        strncmp(r->path, "/v1/calls/", 10) == 0 || strcmp(r->path, "/v1/session/ping") == 0 ||
        strncmp(r->path, "/v1/notifications", 17) == 0 || strcmp(r->path, "/v1/callback") == 0 ||
        strcmp(r->path, "/v1/route/async") == 0 || strcmp(r->path, "/v1/transfer") == 0 ||
        strcmp(r->path, "/v1/hangup") == 0 || strcmp(r->path, "/v1/record") == 0)
        return api_integration_head_check(r, why);
    return 0;
}
