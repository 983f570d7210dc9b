/* api_auth.c — who a request is, in one place: the admin, an integration by its token (in the
 * head: Bearer or HTTP Basic, credentials.h; in the query; in a JSON body), or a PBX by its
 * dialect's signature. Head checks refuse early; the require_* checks answer the rest. */
#include "api.h"
#include "credentials.h"
#include "cidr.h"
#include "integrations.h"
#include "result.h"
#include "token.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

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
        return 0;
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
    return true;
}

bool api_authenticate_hook(http_req *r, const integration *in, const adapter_ctx *ctx,
                           const adapter_request *q)
{
    char buf[512];
    if (r->token_of[0] && strcmp(r->token_of, in->name) == 0)
        return true;
    const char *t = r->token_of[0] ? NULL : http_token(r, NULL, buf, sizeof buf);
    if (t && integrations_by_token(t) == in)
        return true;
    adapter_error err = {{0}, {0}};
    enum adapter_status s =
        in->adapter->verify ? in->adapter->verify(ctx, q, &err) : ADAPTER_NO_SIGNATURE;
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
    return http_hook_head_ok(&h, why) ? 0 : -1;
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
