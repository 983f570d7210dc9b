/* zaas.c — the ZaaS / FlexContact Voice API (ADAPTERS.md "zaas"): a provider with no webhooks.
 * The broker places a call with Call/Create and polls Call/Status until it ends; every change
 * becomes an event for the operator who asked. The login token and Call/Server's api_key live
 * in the broker's per-integration session; the request each step sends is decided again from
 * that session when its answer is read, so build and parse always agree. */
#include <ctype.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter.h"
#include "common.h"
#include "event_check.h"
#include "names.h"
#include "result.h"

#define ZAAS_TOKEN_TTL (5 * 3600 + 30 * 60) /* the token lasts at most 6 h: renew before */
#define ZAAS_SETTING_MAX 2048
#define ZAAS_NUMBER_MAX 64 /* a party's number, as the event contract has it */
#define ZAAS_ID_MAX 128    /* a call id: "zaas:ID:disconnected" stays a valid key */
#define ZAAS_TEXT_MAX 200  /* an error or ISDN text passed on */
#define ZAAS_RETRY_MAX 30000

/* ---- settings ---- */

typedef struct zaas_conf {
    const char *base_url, *login, *password, *call_type, *caller_id;
    char campaign[32];
    int recorder;
    long interval_ms;
} zaas_conf;

static const char *const zaas_keys[] = {"base_url",  "login",     "password", "cod_campaign",
                                        "call_type", "caller_id", "recorder", "poll_interval_ms",
                                        NULL};

static bool http_url(const char *s)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) && *host &&
              !strpbrk(s, "?#");
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static int conf_str(const json_t *z, const char *key, bool required, const char **out,
                    adapter_error *e)
{
    const json_t *v = json_object_get(z, key);
    *out = NULL;
    if (!v && !required)
        return 0;
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > ZAAS_SETTING_MAX || strpbrk(s, "\r\n"))
        return adapter_fail_at(e, "zaas", key, "%s a string of 1 to %d characters on one line",
                               v ? "must be" : "is required,", ZAAS_SETTING_MAX);
    *out = s;
    return 0;
}

/* cod_campaign as ZaaS wants it, a string: "0" or 0 in the settings. */
static int conf_campaign(const json_t *z, zaas_conf *c, adapter_error *e)
{
    const json_t *v = json_object_get(z, "cod_campaign");
    const char *s = json_string_value(v);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(c->campaign, sizeof c->campaign, "%lld", (long long)json_integer_value(v));
        return 0;
    }
    if (s && *s && strlen(s) < sizeof c->campaign && !strpbrk(s, "\r\n")) {
        snprintf(c->campaign, sizeof c->campaign, "%s", s);
        return 0;
    }
    return adapter_fail_at(e, "zaas", "cod_campaign",
                           "%s the campaign code ZaaS gave, a string of 1 to %zu characters",
                           v ? "must be" : "is required:", sizeof c->campaign - 1);
}

static int conf_int(const json_t *z, const char *key, long lo, long hi, long dflt, long *out,
                    adapter_error *e)
{
    const json_t *v = json_object_get(z, key);
    *out = dflt;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return adapter_fail_at(e, "zaas", key, "must be an integer from %ld to %ld", lo, hi);
    *out = (long)json_integer_value(v);
    return 0;
}

static int conf_unknown_keys(const json_t *z, adapter_error *e)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)z, k, v)
    {
        size_t i = 0;
        while (zaas_keys[i] && strcmp(zaas_keys[i], k) != 0)
            i++;
        if (!zaas_keys[i])
            return adapter_fail_at(e, "zaas", k,
                                   "unknown setting (known: base_url, login, password, "
                                   "cod_campaign, call_type, caller_id, recorder, "
                                   "poll_interval_ms)");
    }
    return 0;
}

static int read_conf(const json_t *settings, zaas_conf *c, adapter_error *e)
{
    const json_t *z = json_object_get(settings, "zaas");
    long rec;
    memset(c, 0, sizeof *c);
    if (!json_is_object(z))
        return adapter_fail_at(e, "", "zaas",
                               "%s an object {base_url, login, password, cod_campaign}",
                               z ? "must be" : "is required,");
    if (conf_unknown_keys(z, e) < 0 || conf_str(z, "base_url", true, &c->base_url, e) < 0)
        return -1;
    if (!http_url(c->base_url))
        return adapter_fail_at(e, "zaas", "base_url",
                               "must be an http:// or https:// URL without query, such as "
                               "https://api.flexcontact.com.br/Voice");
    if (conf_str(z, "login", true, &c->login, e) < 0 ||
        conf_str(z, "password", true, &c->password, e) < 0 || conf_campaign(z, c, e) < 0 ||
        conf_str(z, "call_type", false, &c->call_type, e) < 0 ||
        conf_str(z, "caller_id", false, &c->caller_id, e) < 0 ||
        conf_int(z, "recorder", 0, 2, 1, &rec, e) < 0 ||
        conf_int(z, "poll_interval_ms", 200, 60000, 1000, &c->interval_ms, e) < 0)
        return -1;
    if (!c->call_type)
        c->call_type = "external";
    if (strcmp(c->call_type, "external") != 0 && strcmp(c->call_type, "internal") != 0)
        return adapter_fail_at(e, "zaas", "call_type", "must be \"external\" or \"internal\"");
    if (c->caller_id && strlen(c->caller_id) > ZAAS_NUMBER_MAX)
        return adapter_fail_at(e, "zaas", "caller_id", "must be at most %d characters",
                               ZAAS_NUMBER_MAX);
    c->recorder = (int)rec;
    return 0;
}

static int zaas_check_settings(const json_t *settings, adapter_error *err)
{
    zaas_conf c;
    memset(err, 0, sizeof *err);
    return read_conf(settings, &c, err);
}

/* ---- which request a command needs next ---- */

enum zaas_stage { ZS_LOGIN, ZS_SERVER, ZS_CREATE, ZS_STATUS };

static const char *session_str(const json_t *command, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(command, "session"), key));
    return s && *s ? s : NULL;
}

static bool token_fresh(const adapter_ctx *ctx, const json_t *command)
{
    const json_t *at = json_object_get(json_object_get(command, "session"), "token_at");
    return session_str(command, "token") && json_is_integer(at) &&
           ctx->now - json_integer_value(at) < ZAAS_TOKEN_TTL &&
           json_integer_value(at) <= ctx->now + 60;
}

static enum zaas_stage stage_of(const adapter_ctx *ctx, const json_t *command, bool status_op)
{
    if (!token_fresh(ctx, command))
        return ZS_LOGIN;
    if (status_op)
        return ZS_STATUS;
    return session_str(command, "api_key") ? ZS_CREATE : ZS_SERVER;
}

static bool relogged(const json_t *command)
{
    return json_is_true(json_object_get(json_object_get(command, "step"), "relogged"));
}

/* ---- building requests ---- */

/* POST base/method with body (stolen): JSON, fields in the order they were set (token first). */
static int post(const zaas_conf *c, const char *method, json_t *body, adapter_http *out,
                adapter_error *e)
{
    size_t n = strlen(c->base_url);
    const char *slash = n && c->base_url[n - 1] == '/' ? "" : "/";
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    memset(out, 0, sizeof *out);
    out->method = "POST";
    out->body = text;
    out->body_len = text ? strlen(text) : 0;
    out->headers = strdup("Content-Type: application/json\r\nAccept: application/json\r\n");
    if (!text || !out->headers || asprintf(&out->url, "%s%s%s", c->base_url, slash, method) < 0) {
        out->url = NULL;
        adapter_http_clear(out);
        return adapter_fail(e, "", "out of memory");
    }
    return 0;
}

/* A phone number or extension: 1..64 printable characters without spaces. */
static bool number_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > ZAAS_NUMBER_MAX)
        return false;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return false;
    return true;
}

static bool call_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > ZAAS_ID_MAX)
        return false;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return false;
    return true;
}

static int build_create(const zaas_conf *c, const json_t *command, adapter_http *out,
                        adapter_error *e)
{
    const char *ext = json_string_value(json_object_get(command, "extension"));
    const char *to = json_string_value(json_object_get(command, "to_number"));
    const json_t *line = json_object_get(command, "line_number");
    const char *cid = json_is_string(line) ? json_string_value(line) : c->caller_id;
    char rec[2] = {(char)('0' + c->recorder), 0};
    if (!ext || !name_extension_valid(ext))
        return adapter_fail(e, "extension", "must be an extension of the integration");
    if (!number_ok(to))
        return adapter_fail(e, "to_number", "must be a number of 1 to %d characters, no spaces",
                            ZAAS_NUMBER_MAX);
    if (line && !json_is_null(line) && !(json_is_string(line) && number_ok(cid)))
        return adapter_fail(e, "line_number",
                            "must be the caller id to show, 1 to %d characters, no spaces",
                            ZAAS_NUMBER_MAX);
    json_t *b = json_pack("{ss ss ss ss ss}", "token", session_str(command, "token"), "codCampaign",
                          c->campaign, "api_key", session_str(command, "api_key"),
                          "call_destination", to, "call_type", c->call_type);
    if (b && cid && json_object_set_new(b, "call_cid", json_string(cid)) < 0) {
        json_decref(b);
        b = NULL;
    }
    if (b && json_object_set_new(b, "call_recorder", json_string(rec)) < 0) {
        json_decref(b);
        b = NULL;
    }
    return post(c, "Call/Create", b, out, e);
}

static int build_status(const zaas_conf *c, const json_t *command, adapter_http *out,
                        adapter_error *e)
{
    const char *id = json_string_value(json_object_get(command, "call_id"));
    const char *user = json_string_value(json_object_get(command, "user"));
    if (!call_id_ok(id))
        return adapter_fail(e, "call_id", "must be a ZaaS call id of 1 to %d characters",
                            ZAAS_ID_MAX);
    if (!user || !name_extension_valid(user))
        return adapter_fail(e, "user", "must be the extension the call was placed for");
    return post(c, "Call/Status",
                json_pack("{ss ss ss}", "token", session_str(command, "token"), "codCampaign",
                          c->campaign, "_id", id),
                out, e);
}

static enum adapter_status zaas_build(const adapter_ctx *ctx, const json_t *command,
                                      adapter_http *out, adapter_error *err)
{
    const char *op = json_string_value(json_object_get(command, "op"));
    zaas_conf c;
    int rc;
    memset(err, 0, sizeof *err);
    memset(out, 0, sizeof *out);
    bool status_op = op && strcmp(op, "status") == 0;
    if (!op || (!status_op && strcmp(op, "callback") != 0)) {
        adapter_fail(err, "op", "ZaaS's Voice API can only place a call (callback)");
        return ADAPTER_UNSUPPORTED;
    }
    if (read_conf(ctx->settings, &c, err) < 0)
        return ADAPTER_INVALID;
    switch (stage_of(ctx, command, status_op)) {
    case ZS_LOGIN:
        rc = post(&c, "Login", json_pack("{ss ss}", "login", c.login, "password", c.password), out,
                  err);
        break;
    case ZS_SERVER:
        rc = post(
            &c, "Call/Server",
            json_pack("{ss ss}", "token", session_str(command, "token"), "codCampaign", c.campaign),
            out, err);
        break;
    case ZS_CREATE:
        rc = build_create(&c, command, out, err);
        break;
    default:
        rc = build_status(&c, command, out, err);
    }
    return rc == 0 ? ADAPTER_OK : ADAPTER_INVALID;
}

/* ---- reading answers ---- */

typedef struct zaas_answer {
    const adapter_ctx *ctx;
    const json_t *command;
    const adapter_reply *reply;
    json_t *body;      /* parsed, or NULL */
    const json_t *obj; /* the object answered: body, or its first element */
    json_t *result;
    adapter_error *e;
} zaas_answer;

static bool ok_status(const zaas_answer *a)
{
    return a->reply->status >= 200 && a->reply->status < 300;
}

static const char *obj_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? s : NULL;
}

/* The first string value anywhere in v for which pred holds (depth-limited). */
static const char *find_string(const json_t *v, bool (*pred)(const char *), int depth)
{
    const char *k, *hit = NULL;
    size_t i;
    json_t *x;
    if (json_is_string(v))
        return pred(json_string_value(v)) ? json_string_value(v) : NULL;
    if (depth > 8)
        return NULL;
    json_array_foreach((json_t *)v, i, x)
    {
        if ((hit = find_string(x, pred, depth + 1)))
            return hit;
    }
    json_object_foreach((json_t *)v, k, x)
    {
        if ((hit = find_string(x, pred, depth + 1)))
            return hit;
    }
    return NULL;
}

static bool any_text(const char *s) { return *s != 0; }

static bool says_no_endpoint(const char *s) { return strstr(s, "NO_ENDPOINT_REGISTERED") != 0; }

/* What an expired or refused token looks like: an error text about the token ("Token invalido
 * ou expirado", "token expired"), or a refusal ("Unauthorized", "não autorizado"). A success
 * that mentions authorisation ("Chamada autorizada") is not one. */
static bool says_bad_token(const char *s)
{
    bool token = strcasestr(s, "token") != NULL;
    return (token && (strcasestr(s, "invalid") || strcasestr(s, "inválid") ||
                      strcasestr(s, "expir") || strcasestr(s, "venc"))) ||
           strcasestr(s, "unauthorized") || strcasestr(s, "não autorizado") ||
           strcasestr(s, "nao autorizado");
}

/* The fields a ZaaS error is said in; other strings (names, passwords of Call/Server) are not
 * read as errors nor echoed. */
static const char *const ERROR_KEYS[] = {"error", "erro",   "message", "mensagem",
                                         "msg",   "detail", "status",  NULL};

static const char *error_text(const json_t *v, bool (*pred)(const char *), int depth)
{
    const char *k, *hit;
    size_t i;
    json_t *x;
    if (depth > 4)
        return NULL;
    json_array_foreach((json_t *)v, i, x) if ((hit = error_text(x, pred, depth + 1))) return hit;
    for (int j = 0; ERROR_KEYS[j]; j++) {
        const char *t = json_string_value(json_object_get(v, ERROR_KEYS[j]));
        if (t && pred(t))
            return t;
    }
    json_object_foreach(
        (json_t *)v, k,
        x) if (json_is_object(x) ||
               json_is_array(x)) if ((hit = error_text(x, pred, depth + 1))) return hit;
    return NULL;
}

/* NO_ENDPOINT_REGISTERED may come in any string field (ADAPTERS.md); other errors are read
 * from the error fields only. */
static bool body_says(const zaas_answer *a, bool (*pred)(const char *))
{
    if (a->body)
        return (pred == says_no_endpoint ? find_string(a->body, pred, 0)
                                         : error_text(a->body, pred, 0)) != NULL;
    return a->reply->body && pred(a->reply->body);
}

static int set(zaas_answer *a, const char *key, json_t *v)
{
    if (json_object_set_new(a->result, key, v) < 0)
        return adapter_fail(a->e, "", "out of memory");
    return 0;
}

static bool status_op(const zaas_answer *a)
{
    const char *op = json_string_value(json_object_get(a->command, "op"));
    return op && strcmp(op, "status") == 0;
}

/* A poll that failed is tried again later: twice the interval, at most 30 s. */
static int suggest_retry(zaas_answer *a)
{
    zaas_conf c;
    adapter_error ignored;
    long ms = read_conf(a->ctx->settings, &c, &ignored) == 0 ? c.interval_ms * 2 : 2000;
    return set(a, "retry_ms", json_integer(ms > ZAAS_RETRY_MAX ? ZAAS_RETRY_MAX : ms));
}

/* 502 RC_PBX_ERROR naming the request and what ZaaS said. */
static int pbx_failed(zaas_answer *a, const char *method, const char *what)
{
    const char *said = a->body ? error_text(a->body, any_text, 0) : NULL;
    char msg[512], text[ZAAS_TEXT_MAX + 1];
    snprintf(text, sizeof text, "%s", said ? said : "");
    if (a->reply->status == 0)
        snprintf(msg, sizeof msg, "ZaaS %s: no answer", method);
    else
        snprintf(msg, sizeof msg, "ZaaS %s: %s (HTTP %d)%s%s", method, what, a->reply->status,
                 *text ? ": " : "", text);
    json_t *answer = *text ? json_pack("{ss}", "pbx_code", text)
                           : json_pack("{si}", "pbx_code", a->reply->status);
    if (set(a, "status", json_integer(502)) < 0 || set(a, "code", json_integer(RC_PBX_ERROR)) < 0 ||
        set(a, "message", json_string(msg)) < 0 || set(a, "answer", answer) < 0)
        return -1;
    return status_op(a) ? suggest_retry(a) : 0;
}

/* The token was refused: forget the session and log in again, once per command. */
static int relogin(zaas_answer *a, const char *method)
{
    if (relogged(a->command))
        return pbx_failed(a, method, "the token was refused again after a new login");
    return set(a, "session", json_object()) < 0 ? -1
                                                : set(a, "next", json_pack("{sb}", "relogged", 1));
}

static bool auth_failed(const zaas_answer *a)
{
    return a->reply->status == 401 || (ok_status(a) && body_says(a, says_bad_token));
}

static json_t *next_step(const zaas_answer *a)
{
    return json_pack("{sb}", "relogged", relogged(a->command));
}

static int on_login(zaas_answer *a)
{
    const char *token = obj_str(a->obj, "token");
    if (!ok_status(a) || !token || strlen(token) > ZAAS_SETTING_MAX)
        return pbx_failed(a, "Login", "refused the login or answered without a token");
    json_t *s = json_pack("{ss sI}", "token", token, "token_at", (json_int_t)a->ctx->now);
    return set(a, "session", s) < 0 ? -1 : set(a, "next", next_step(a));
}

static int on_server(zaas_answer *a)
{
    const char *key = obj_str(a->obj, "api_key");
    if (ok_status(a) && key && strlen(key) <= ZAAS_SETTING_MAX) {
        json_t *s = json_deep_copy(json_object_get(a->command, "session"));
        if (!s || json_object_set_new(s, "api_key", json_string(key)) < 0) {
            json_decref(s);
            return adapter_fail(a->e, "", "out of memory");
        }
        return set(a, "session", s) < 0 ? -1 : set(a, "next", next_step(a));
    }
    if (auth_failed(a))
        return relogin(a, "Call/Server");
    return pbx_failed(a, "Call/Server", "answered without an api_key");
}

/* The call's _id, a string or (numbers may come as either) an integer, into buf. */
static const char *call_id_of(const json_t *obj, char buf[32])
{
    const json_t *v = json_object_get(obj, "_id");
    if (json_is_integer(v)) {
        snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return obj_str(obj, "_id");
}

static int on_create(zaas_answer *a)
{
    char buf[32];
    const char *id = call_id_of(a->obj, buf);
    if (ok_status(a) && call_id_ok(id)) {
        json_t *poll =
            json_pack("{ss ss ss}", "call_id", id, "user",
                      json_string_value(json_object_get(a->command, "extension")), "number",
                      json_string_value(json_object_get(a->command, "to_number")));
        return set(a, "answer", json_pack("{ss}", "call_id", id)) < 0 ? -1 : set(a, "poll", poll);
    }
    if (body_says(a, says_no_endpoint)) {
        return set(a, "status", json_integer(409)) < 0 ||
                       set(a, "code", json_integer(RC_ENDPOINT_OFFLINE)) < 0
                   ? -1
                   : set(a, "message",
                         json_string("the operator's webphone is not registered with ZaaS "
                                     "(NO_ENDPOINT_REGISTERED): no call was placed"));
    }
    if (auth_failed(a))
        return relogin(a, "Call/Create");
    return pbx_failed(a, "Call/Create", "answered without a call _id");
}

/* ---- status polls into events ---- */

static const struct {
    const char *status, *state;
} ranks[] = {{"", ""},
             {"Setup", "appeared"},
             {"Dialing", "appeared"},
             {"Answered", "connected"},
             {"Finished", "disconnected"}};

/* 1..4 for the documented statuses (any case), 0 for anything else. */
static int rank_of(const char *s)
{
    for (int i = 1; s && i < (int)(sizeof ranks / sizeof ranks[0]); i++)
        if (strcasecmp(s, ranks[i].status) == 0)
            return i;
    return 0;
}

/* A number or its text; -1 when absent or not a cause 0..127. */
static int isdn_code(const json_t *v)
{
    const char *s = json_string_value(v);
    char *end;
    long n = -1;
    if (json_is_integer(v))
        n = (long)json_integer_value(v);
    else if (s && *s) {
        n = strtol(s, &end, 10);
        if (*end)
            n = -1;
    }
    return n >= 0 && n <= 127 ? (int)n : -1;
}

/* {code, text} from isdn_code/isdn_reason or voice_code_result/voice_text_result; NULL when
 * ZaaS gave neither a cause nor a text. */
static json_t *disconnect_of(const json_t *o)
{
    const json_t *cv = json_object_get(o, "isdn_code");
    const char *text = obj_str(o, "isdn_reason");
    if (!cv || json_is_null(cv))
        cv = json_object_get(o, "voice_code_result");
    if (!text)
        text = obj_str(o, "voice_text_result");
    int code = isdn_code(cv);
    if (text && strlen(text) > ZAAS_TEXT_MAX)
        text = NULL;
    if (!text && code >= 0)
        text = adapter_q850_name(code);
    if (code < 0 && !text)
        return NULL;
    json_t *d = json_pack("{ss}", "text", text);
    if (d && code >= 0 && json_object_set_new(d, "code", json_integer(code)) < 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* The event for a status of rank r: to the user, keyed by call and state. */
static json_t *status_event(const zaas_answer *a, const char *id, int r)
{
    const char *user = json_string_value(json_object_get(a->command, "user"));
    const char *number = json_string_value(json_object_get(a->command, "number"));
    char key[ZAAS_ID_MAX + 32];
    snprintf(key, sizeof key, "zaas:%s:%s", id, ranks[r].state);
    json_t *call = json_pack("{ss ss s{ss}}", "state", ranks[r].state, "direction", "outbound",
                             "from", "extension", user);
    if (number_ok(number))
        json_object_set_new(call, "to", json_pack("{ss}", "number", number));
    if (!call)
        return NULL;
    if (r == 4) {
        json_t *d = disconnect_of(a->obj);
        if (d)
            json_object_set_new(call, "disconnect", d);
    }
    return json_pack("{ss s[s] ss so ss ss s{ss si}}", "kind", "call", "users", user, "call_id", id,
                     "call", call, "source", "zaas", "key", key, "order", "key", id, "seq", r);
}

/* Setup and Dialing both mean the call appeared: Dialing says so only when Setup was missed. */
static bool emits(int r, int last)
{
    if (r <= last)
        return false;
    return !(r == 2 && last == 1);
}

static int on_status(zaas_answer *a)
{
    const char *st = obj_str(a->obj, "status");
    const char *id = json_string_value(json_object_get(a->command, "call_id"));
    const char *user = json_string_value(json_object_get(a->command, "user"));
    const char *last = json_string_value(json_object_get(a->command, "last"));
    if (!st)
        st = obj_str(a->obj, "voice_status");
    if (!call_id_ok(id) || !user || !name_extension_valid(user))
        return adapter_fail(a->e, "call_id", "a status poll needs the call_id and user it made");
    if (!ok_status(a) || !st || strlen(st) > ZAAS_TEXT_MAX) {
        if (auth_failed(a))
            return relogin(a, "Call/Status");
        return pbx_failed(a, "Call/Status", "answered without a status");
    }
    int r = rank_of(st), lr = rank_of(last);
    json_t *events = json_array();
    if (!events || set(a, "events", events) < 0 ||
        set(a, "answer", json_pack("{ss}", "status", r ? ranks[r].status : st)) < 0)
        return -1;
    if (r && emits(r, lr)) {
        json_t *ev = status_event(a, id, r);
        if (!ev || json_array_append_new(events, ev) < 0)
            return adapter_fail(a->e, "", "out of memory");
    }
    return r == 4 ? set(a, "done", json_true()) : 0;
}

static int zaas_parse_answer(const adapter_ctx *ctx, const json_t *command,
                             const adapter_reply *reply, json_t *result, adapter_error *err)
{
    zaas_answer a = {.ctx = ctx, .command = command, .reply = reply, .result = result, .e = err};
    memset(err, 0, sizeof *err);
    bool polling = status_op(&a);
    if (reply->status == 0)
        return pbx_failed(&a, "request", "no answer");
    a.body = reply->body ? json_loadb(reply->body, reply->body_len, JSON_DECODE_ANY, NULL) : NULL;
    a.obj = json_is_array(a.body) ? json_array_get(a.body, 0) : a.body;
    if (!json_is_object(a.obj))
        a.obj = NULL;
    int rc;
    switch (stage_of(ctx, command, polling)) {
    case ZS_LOGIN:
        rc = on_login(&a);
        break;
    case ZS_SERVER:
        rc = on_server(&a);
        break;
    case ZS_CREATE:
        rc = on_create(&a);
        break;
    default:
        rc = on_status(&a);
    }
    json_decref(a.body);
    return rc;
}

/* ---- no webhooks ---- */

static enum adapter_status zaas_parse(const adapter_ctx *ctx, const adapter_request *req,
                                      json_t *out, adapter_error *err)
{
    (void)ctx;
    (void)req;
    (void)out;
    memset(err, 0, sizeof *err);
    adapter_fail(err, "", "ZaaS posts no webhooks: its calls are polled (POST /v1/callback)");
    return ADAPTER_NOT_FOUND;
}

static int zaas_answer_summary(const adapter_ctx *ctx, const adapter_counts *c, adapter_answer *out)
{
    (void)ctx;
    return adapter_answer_summary(c, out);
}

const adapter adapter_zaas = {
    .name = "zaas",
    .standard_webhooks = false,
    .check_settings = zaas_check_settings,
    .parse = zaas_parse,
    .answer = zaas_answer_summary,
    .build_command = zaas_build,
    .parse_command_answer = zaas_parse_answer,
};
