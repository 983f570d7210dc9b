/* api_finaz.c — the endpoints the Finaz CRM calls (API.md "Finaz-compatible endpoints"):
 * POST /finaz/INTEGRATION/click2call places a call through the integration's adapter, as
 * /v1/callback does, and answers {"callid": ...}; GET /finaz/INTEGRATION/gravacao streams a
 * call's recording as WAV (api_record.c). Finaz authenticates with the integration's `chave`
 * (settings.finaz.chave) and calls from its own addresses (settings.finaz.allowed_networks). */
#include "api.h"
#include "api_commands.h"
#include "api_record.h"
#include "cidr.h"
#include "form.h"
#include "result.h"
#include "token.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FINAZ_PREFIX "/finaz/"

/* Splits /finaz/INTEGRATION/ACTION; answers 404 and returns NULL on no match. */
static const integration *route(http_req *r, const char *want)
{
    const char *p = r->path + strlen(FINAZ_PREFIX), *slash = strchr(p, '/');
    char name[NAME_MAX_LEN + 1];
    if (!slash || slash == p || slash - p > NAME_MAX_LEN || strcmp(slash + 1, want) != 0) {
        http_reply_error(r, 404, RC_NOT_FOUND, NULL, "expected " FINAZ_PREFIX "INTEGRATION/%s",
                         want);
        return NULL;
    }
    snprintf(name, sizeof name, "%.*s", (int)(slash - p), p);
    const integration *in = integrations_by_name(name);
    if (!in && http_retry_after_refresh(r))
        return NULL;
    if (!in)
        http_reply_error(r, 404, RC_NOT_FOUND, NULL, "no integration %s", name);
    return in;
}

static bool network_allowed(const json_t *nets, const char *addr)
{
    size_t i;
    const json_t *c;
    json_array_foreach(nets, i, c) if (cidr_contains(json_string_value(c), addr)) return true;
    return false;
}

/* The integration's token, or else its chave and its networks, each when configured; with
 * neither configured the endpoint is closed: it would place calls for anyone. */
static bool finaz_allowed(http_req *r, const integration *in, const char *chave)
{
    const json_t *f = json_object_get(in->settings, "finaz");
    const char *want = json_string_value(json_object_get(f, "chave"));
    const json_t *nets = json_object_get(f, "allowed_networks");
    char buf[512];
    const char *t = http_token(r, NULL, buf, sizeof buf);
    snprintf(r->integration, sizeof r->integration, "%s", in->name);
    if (t && integrations_by_token(t) == in)
        return true;
    if (!want && !json_array_size(nets)) {
        http_reply_error(r, 403, RC_FORBIDDEN, "settings.finaz",
                         "the Finaz endpoints of %s are closed: set settings.finaz.chave or "
                         "settings.finaz.allowed_networks",
                         in->name);
        return false;
    }
    if (json_array_size(nets) && !network_allowed(nets, http_client_address(r))) {
        http_reply_error(r, 403, RC_FORBIDDEN, NULL, "source address %s is not allowed",
                         http_client_address(r));
        return false;
    }
    if (want && (!chave || !token_equal(chave, want))) {
        http_reply_error(r, 401, RC_UNAUTHORIZED, "chave", "chave %s", chave ? "wrong" : "missing");
        return false;
    }
    return true;
}

/* Finaz expects the call's identifier alone; without one from the PBX, the command's id. */
static void click2call_done(void *ud, http_req *r, int status, const char *text)
{
    (void)ud;
    json_t *a = json_loads(text, 0, NULL);
    const char *id = json_string_value(json_object_get(a, "call_id"));
    if (!id)
        id = json_string_value(json_object_get(a, "command_id"));
    if (status == 200 && id)
        http_reply_json(r, 200, json_pack("{s:s}", "callid", id));
    else
        http_reply_raw(r, status, "application/json", strdup(text), strlen(text));
    json_decref(a);
}

/* Finaz's names for the command's fields, in errors. */
static const char *finaz_field(const char *field)
{
    if (strcmp(field, "extension") == 0)
        return "ramal";
    if (strcmp(field, "to_number") == 0)
        return "telefone";
    return field;
}

/* "field: rule" → "rule" */
static const char *rule_of(const char *message)
{
    const char *c = strstr(message, ": ");
    return c ? c + 2 : message;
}

static void click2call(http_req *r, const integration *in)
{
    json_t *body = http_body_object(r);
    if (!body)
        return;
    char fresh[COMMAND_ID_MAX + 1];
    field_error err;
    json_t *call = json_pack("{s:O?,s:O?}", "extension", json_object_get(body, "ramal"),
                             "to_number", json_object_get(body, "telefone"));
    json_t *cmd = NULL;
    if (!finaz_allowed(r, in, json_string_value(json_object_get(body, "chave"))) ||
        !api_require_store(r))
        ;
    else if (!call || !api_command_fresh_id(fresh))
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    else if (!(cmd = command_from_body("callback", call, fresh, &err)))
        http_reply_error(r, 400, RC_INVALID_FIELD, finaz_field(err.field), "%s: %s",
                         finaz_field(err.field), rule_of(err.message));
    json_decref(call);
    json_decref(body);
    if (cmd)
        api_command_start(r, cmd, click2call_done, NULL);
}

void api_finaz_post(http_req *r)
{
    const integration *in = route(r, "click2call");
    if (in)
        click2call(r, in);
}

void api_finaz_get(http_req *r)
{
    const integration *in = route(r, "gravacao");
    if (!in)
        return;
    char err[200];
    json_t *q = form_parse(r->query, strlen(r->query), err, sizeof err);
    if (!q) {
        http_reply_error(r, 400, RC_BAD_REQUEST, NULL, "query: %s", err);
        return;
    }
    const char *call_id = json_string_value(json_object_get(q, "callid"));
    if (finaz_allowed(r, in, json_string_value(json_object_get(q, "chave"))) &&
        api_require_store(r)) {
        if (!call_id)
            http_reply_error(r, 400, RC_INVALID_FIELD, "callid", "callid: required");
        else
            api_record_of_call(r, call_id, true);
    }
    json_decref(q);
}
