/* mango.c — Mango Office VPBX API (server-to-server). Mango posts a form (vpbx_api_key, sign,
 * json) to the external system's URL plus a path: events/call, events/summary,
 * events/recording, events/record/added, events/dtmf, events/sms, result/<command...>, ping.
 * sign = sha256(api_key + json + api_salt), lowercase hex. Numbers come as JSON numbers or as
 * strings of digits. The whole call is entry_id (our call_id); the leg is call_id, ordered by
 * seq. See ../shared/ADAPTERS.md and tests/fixtures/README.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "adapter.h"
#include "common.h"
#include "digest.h"
#include "event.h"
#include "event_check.h"
#include "form.h"
#include "names.h"
#include "result.h"

#define MANGO_PARTY_MAX 64          /* event.schema.json: party number/extension, line */
#define MANGO_TS_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
#define MANGO_CODE_MAX 99999

/* ---- settings ---- */

static bool url_ok(const char *s)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0) && *host;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static int secret_ok(const json_t *m, const char *name, adapter_error *err)
{
    const char *s = json_string_value(json_object_get(m, name));
    char field[32];
    snprintf(field, sizeof field, "mango.%s", name);
    if (!s || !*s || strlen(s) > 256)
        return adapter_fail(err, field,
                            "must be a string of 1 to 256 characters (from Mango's "
                            "VPBX settings, \"API connection\")");
    return 0;
}

static int mango_check_settings(const json_t *settings, adapter_error *err)
{
    const json_t *m = json_object_get(settings, "mango");
    memset(err, 0, sizeof *err);
    if (!json_is_object(m))
        return adapter_fail(err, "mango", "must be an object {api_key, api_salt, base_url}");
    if (secret_ok(m, "api_key", err) < 0 || secret_ok(m, "api_salt", err) < 0)
        return -1;
    const json_t *url = json_object_get(m, "base_url");
    if (url && !json_is_null(url) && (!json_is_string(url) || !url_ok(json_string_value(url))))
        return adapter_fail(err, "mango.base_url",
                            "must be an http(s) URL, e.g. https://app.mango-office.ru/vpbx/");
    return 0;
}

/* ---- the form and its sign ---- */

static const char *setting(const adapter_ctx *ctx, const char *name)
{
    return json_string_value(json_object_get(json_object_get(ctx->settings, "mango"), name));
}

static const char *subpath_of(const adapter_request *req, size_t *len)
{
    const char *s = req->subpath ? req->subpath : "";
    while (*s == '/')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    *len = n;
    return s;
}

static bool is_path(const adapter_request *req, const char *path)
{
    size_t n;
    const char *s = subpath_of(req, &n);
    return n == strlen(path) && strncmp(s, path, n) == 0;
}

static bool constant_eq(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

static bool sign_matches(const char *key, const char *js, const char *salt, const char *sign)
{
    size_t nk = strlen(key), nj = strlen(js), ns = strlen(salt);
    char *text = malloc(nk + nj + ns + 1), want[DIGEST_HEX_LEN + 1], got[DIGEST_HEX_LEN + 1];
    if (!text || strlen(sign) != DIGEST_HEX_LEN) {
        free(text);
        return false;
    }
    memcpy(text, key, nk);
    memcpy(text + nk, js, nj);
    memcpy(text + nk + nj, salt, ns);
    digest_sha256_hex(text, nk + nj + ns, want);
    free(text);
    for (size_t i = 0; i <= DIGEST_HEX_LEN; i++)
        got[i] = (char)(sign[i] >= 'A' && sign[i] <= 'F' ? sign[i] - 'A' + 'a' : sign[i]);
    return CRYPTO_memcmp(want, got, DIGEST_HEX_LEN) == 0;
}

static enum adapter_status check_sign(const adapter_ctx *ctx, const json_t *form,
                                      adapter_error *err)
{
    const json_t *k = json_object_get(form, "vpbx_api_key"), *s = json_object_get(form, "sign");
    const json_t *js = json_object_get(form, "json");
    const char *key = setting(ctx, "api_key"), *salt = setting(ctx, "api_salt");
    if (!k && !s)
        return ADAPTER_NO_SIGNATURE;
    if (!json_is_string(k) || !json_is_string(s) || (js && !json_is_string(js))) {
        const json_t *v = !json_is_string(k) ? k : !json_is_string(s) ? s : js;
        adapter_fail(err,
                     v == k   ? "vpbx_api_key"
                     : v == s ? "sign"
                              : "json",
                     "%s", v ? "must be given once" : "is required with vpbx_api_key and sign");
        return ADAPTER_BAD_SIGNATURE;
    }
    if (!key || !salt) {
        adapter_fail(err, "vpbx_api_key", "this integration has no mango.api_key and api_salt");
        return ADAPTER_BAD_SIGNATURE;
    }
    if (!constant_eq(json_string_value(k), key)) {
        adapter_fail(err, "vpbx_api_key", "is not this integration's mango.api_key");
        return ADAPTER_BAD_SIGNATURE;
    }
    if (!sign_matches(key, js ? json_string_value(js) : "", salt, json_string_value(s))) {
        adapter_fail(err, "sign", "does not match sha256(vpbx_api_key + json + api_salt)");
        return ADAPTER_BAD_SIGNATURE;
    }
    return ADAPTER_OK;
}

/* A connection check may come with no field at all: nothing is stored, so nothing to sign. */
static bool bare_ping(const adapter_request *req, const json_t *form)
{
    return is_path(req, "ping") && !json_object_get(form, "sign") && !json_object_get(form, "json");
}

static enum adapter_status mango_verify(const adapter_ctx *ctx, const adapter_request *req,
                                        adapter_error *err)
{
    memset(err, 0, sizeof *err);
    json_t *form = form_parse(req->body ? req->body : "", req->body_len, NULL, 0);
    if (!form)
        return ADAPTER_NO_SIGNATURE;
    enum adapter_status st = bare_ping(req, form) ? ADAPTER_OK : check_sign(ctx, form, err);
    json_decref(form);
    return st;
}

/* ---- typed reading of Mango's JSON ---- */

typedef struct reader {
    const json_t *obj;
    const char *path; /* "json", "json.from" */
    adapter_error *err;
} reader;

static int bad(const reader *r, const char *name, const char *what)
{
    char field[128];
    snprintf(field, sizeof field, "%s.%s", r->path, name);
    return adapter_fail(r->err, field, "%s", what);
}

static bool absent(const json_t *v) { return !v || json_is_null(v); }

/* An integer given as a JSON number or a string of digits: 1 read, 0 absent, -1 bad. */
static int read_int(const reader *r, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const json_t *v = json_object_get(r->obj, name);
    char what[96];
    snprintf(what, sizeof what, "must be an integer from %lld to %lld (a number or a string)",
             (long long)min, (long long)max);
    if (absent(v))
        return 0;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        if (!s || !((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
            return bad(r, name, what);
        long long n = strtoll(s, &end, 10);
        if (errno || *end)
            return bad(r, name, what);
        *out = n;
    }
    return *out < min || *out > max ? bad(r, name, what) : 1;
}

static int need_int(const reader *r, const char *name, int64_t min, int64_t max, int64_t *out)
{
    int rc = read_int(r, name, min, max, out);
    return rc == 0 ? bad(r, name, "is required") : rc;
}

/* An id (call_id, entry_id, recording_id, command_id): a string of 1 to 200 characters. */
static const char *read_id(const reader *r, const char *name, bool required)
{
    const json_t *v = json_object_get(r->obj, name);
    if (absent(v) && !required)
        return "";
    if (absent(v)) {
        bad(r, name, "is required");
        return NULL;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || json_string_length(v) > EVENT_MAX_STR || strlen(s) != json_string_length(v)) {
        bad(r, name, "must be a string of 1 to 200 characters");
        return NULL;
    }
    return s;
}

/* A phone number, extension or line as a string (a JSON number is written out); "" absent. */
static int read_number(const reader *r, const char *name, char out[MANGO_PARTY_MAX + 1])
{
    const json_t *v = json_object_get(r->obj, name);
    out[0] = '\0';
    if (absent(v))
        return 0;
    if (json_is_integer(v)) {
        snprintf(out, MANGO_PARTY_MAX + 1, "%lld", (long long)json_integer_value(v));
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) > MANGO_PARTY_MAX || strlen(s) != json_string_length(v))
        return bad(r, name, "must be a string of up to 64 characters or a number");
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

static int read_object(const reader *r, const char *name, reader *sub, char *path, size_t size)
{
    const json_t *v = json_object_get(r->obj, name);
    snprintf(path, size, "%s.%s", r->path, name);
    *sub = (reader){.obj = absent(v) ? NULL : v, .path = path, .err = r->err};
    return absent(v) || json_is_object(v) ? 0 : bad(r, name, "must be an object");
}

/* The index of s in names (case-insensitive), or -1. */
static int read_enum(const reader *r, const char *name, const char *const *names)
{
    const char *s = json_string_value(json_object_get(r->obj, name));
    for (int i = 0; s && names[i]; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    char what[160] = "must be one of";
    for (int i = 0; names[i]; i++)
        snprintf(what + strlen(what), sizeof what - strlen(what), "%s %s", i ? "," : "", names[i]);
    bad(r, name, what);
    return -1;
}

static int set_str(json_t *obj, const char *name, const char *s)
{
    return *s ? json_object_set_new(obj, name, json_string(s)) : 0;
}

static int set_ts(json_t *ev, int64_t epoch)
{
    char ts[32];
    event_format_ts(epoch * 1000, ts, sizeof ts);
    return json_object_set_new(ev, "ts", json_string(ts));
}

/* A result or completion code read by its class, as Mango asks of unknown codes (1090 means
 * 1000); 1100 and up are call endings, so success is 1000..1099. */
static bool mango_ok(int64_t code) { return code / 100 == 10; }

/* ---- events/call ---- */

typedef struct party {
    char extension[MANGO_PARTY_MAX + 1], number[MANGO_PARTY_MAX + 1], line[MANGO_PARTY_MAX + 1];
} party;

static int read_party(const reader *r, const char *name, party *p)
{
    reader sub;
    char path[64];
    memset(p, 0, sizeof *p);
    if (read_object(r, name, &sub, path, sizeof path) < 0)
        return -1;
    if (!sub.obj)
        return 0;
    if (read_number(&sub, "extension", p->extension) < 0 ||
        read_number(&sub, "number", p->number) < 0 || read_number(&sub, "line_number", p->line) < 0)
        return -1;
    if (*p->extension && !name_extension_valid(p->extension))
        return bad(&sub, "extension", "must be an extension: 1 to 64 of A-Z a-z 0-9 _ . + -");
    return 0;
}

static json_t *party_json(const party *p)
{
    json_t *o = json_object();
    if (o && (set_str(o, "extension", p->extension) < 0 || set_str(o, "number", p->number) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Mango's ending as a Q.850 cause: 11xx normal endings, 2xxx billing, 32xx wrong number,
 * 42xx unreachable, 5xxx server errors. */
static int q850_of(int64_t mango)
{
    switch (mango) {
    case 1111:
        return 19;
    case 1121:
        return 17;
    case 1122:
        return 21;
    }
    if (mango >= 1000 && mango < 2000)
        return 16;
    if (mango >= 2000 && mango < 3000)
        return 21;
    if (mango >= 3200 && mango < 3300)
        return 1;
    if (mango >= 4200 && mango < 4300)
        return 20;
    if (mango >= 5000 && mango < 6000)
        return 41;
    return 31;
}

static json_t *disconnect_json(int64_t mango)
{
    char text[96];
    int code = q850_of(mango);
    snprintf(text, sizeof text, "%s (mango %lld)", adapter_q850_name(code), (long long)mango);
    return json_pack("{s:i,s:s}", "code", code, "text", text);
}

typedef struct call_in {
    const char *entry_id, *call_id;
    int64_t ts, seq, reason;
    int state; /* index in call_states */
    bool has_reason, in_ivr;
    party from, to;
} call_in;

static const char *const call_states[] = {"Appeared", "Connected", "OnHold", "Disconnected", NULL};
static const char *const our_states[] = {"appeared", "connected", "on_hold", "disconnected"};
enum { ST_APPEARED = 0, ST_DISCONNECTED = 3 };

static int read_call(const reader *r, call_in *c)
{
    int rc;
    const char *loc = json_string_value(json_object_get(r->obj, "location"));
    c->in_ivr = loc && strcasecmp(loc, "ivr") == 0;
    if (!(c->entry_id = read_id(r, "entry_id", true)) ||
        !(c->call_id = read_id(r, "call_id", true)))
        return -1;
    if (need_int(r, "timestamp", 0, MANGO_TS_MAX, &c->ts) < 0 ||
        need_int(r, "seq", 0, EVENT_MAX_SEQ, &c->seq) < 0 ||
        (c->state = read_enum(r, "call_state", call_states)) < 0)
        return -1;
    if ((rc = read_int(r, "disconnect_reason", 0, MANGO_CODE_MAX, &c->reason)) < 0)
        return -1;
    c->has_reason = rc == 1;
    return read_party(r, "from", &c->from) < 0 || read_party(r, "to", &c->to) < 0 ? -1 : 0;
}

static const char *direction_of(const call_in *c)
{
    if (*c->from.extension && *c->to.extension)
        return "internal";
    return *c->from.extension ? "outbound" : "inbound";
}

static json_t *users_of(const call_in *c)
{
    json_t *u = json_array();
    if (*c->from.extension)
        json_array_append_new(u, json_string(c->from.extension));
    if (*c->to.extension && strcmp(c->to.extension, c->from.extension) != 0)
        json_array_append_new(u, json_string(c->to.extension));
    return u;
}

/* The body of a call or ivr event: state, parties, line (the to side's, else the from's). */
static json_t *call_body(const call_in *c, bool with_direction)
{
    const char *line = *c->to.line ? c->to.line : c->from.line;
    json_t *b = json_pack("{s:s}", "state", our_states[c->state]);
    if (!b)
        return NULL;
    if (with_direction)
        json_object_set_new(b, "direction", json_string(direction_of(c)));
    if (*c->from.extension || *c->from.number)
        json_object_set_new(b, "from", party_json(&c->from));
    if (*c->to.extension || *c->to.number)
        json_object_set_new(b, "to", party_json(&c->to));
    set_str(b, "line", line);
    if (with_direction && c->state == ST_DISCONNECTED && c->has_reason)
        json_object_set_new(b, "disconnect", disconnect_json(c->reason));
    return b;
}

static json_t *call_event(const call_in *c)
{
    bool ivr = !*c->from.extension && !*c->to.extension;
    json_t *ev = json_pack("{s:s}", "kind", ivr ? "ivr" : "call");
    if (!ev)
        return NULL;
    if (ivr)
        json_object_set_new(ev, "target", json_string("one_online"));
    else
        json_object_set_new(ev, "users", users_of(c));
    json_object_set_new(ev, "call_id", json_string(c->entry_id));
    set_ts(ev, c->ts);
    json_object_set_new(ev, "order",
                        json_pack("{s:s,s:I}", "key", c->call_id, "seq", (json_int_t)c->seq));
    json_object_set_new(ev, ivr ? "ivr" : "call", call_body(c, !ivr));
    json_object_set_new(ev, "source", json_string("mango"));
    return ev;
}

/* A leg with no employee on it reaches nobody, except the caller's arrival in the IVR: the
 * server-client model's /ivr event (APPEARED), for one online user. */
static int parse_call(const reader *r, json_t *events)
{
    call_in c;
    if (read_call(r, &c) < 0)
        return -1;
    bool nobody = !*c.from.extension && !*c.to.extension;
    if (nobody && !(c.in_ivr && c.state == ST_APPEARED))
        return 0;
    return json_array_append_new(events, call_event(&c));
}

/* ---- events/recording, events/record/added ---- */

static const char *const recording_states[] = {"Started", "Continued", "Completed", NULL};
enum { REC_COMPLETED = 2 };

static json_t *record_event(const char *entry_id, const char *extension, int64_t ts, bool has_ts)
{
    json_t *ev = json_pack("{s:s}", "kind", "record");
    if (!ev)
        return NULL;
    if (*extension)
        json_object_set_new(ev, "users", json_pack("[s]", extension));
    else
        json_object_set_new(ev, "target", json_string("call_parties"));
    json_object_set_new(ev, "call_id", json_string(entry_id));
    if (has_ts)
        set_ts(ev, ts);
    return ev;
}

/* Started and Continued say nothing a CRM uses; Completed 1000 is followed by record/added; any
 * other completion code means the file was not saved. */
static int parse_recording(const reader *r, json_t *events)
{
    const char *rec, *entry;
    char extension[MANGO_PARTY_MAX + 1];
    int64_t ts = 0, seq, code = 1000;
    int state, has_ts;
    if (!(rec = read_id(r, "recording_id", true)) || !(entry = read_id(r, "entry_id", false)) ||
        !read_id(r, "call_id", false) ||
        (state = read_enum(r, "recording_state", recording_states)) < 0 ||
        read_int(r, "seq", 0, EVENT_MAX_SEQ, &seq) < 0 ||
        (has_ts = read_int(r, "timestamp", 0, MANGO_TS_MAX, &ts)) < 0 ||
        read_int(r, "completion_code", 0, MANGO_CODE_MAX, &code) < 0 ||
        read_number(r, "extension", extension) < 0)
        return -1;
    if (state != REC_COMPLETED || mango_ok(code))
        return 0;
    if (!*entry)
        return bad(r, "entry_id", "is required when a recording fails");
    if (*extension && !name_extension_valid(extension))
        return bad(r, "extension", "must be an extension: 1 to 64 of A-Z a-z 0-9 _ . + -");
    json_t *ev = record_event(entry, extension, ts, has_ts);
    json_object_set_new(ev, "record",
                        json_pack("{s:s,s:s}", "status", "failed", "recording_id", rec));
    json_object_set_new(ev, "source", json_string("mango"));
    return json_array_append_new(events, ev);
}

/* callrelay's own download URL, relative: the broker knows its public address. */
static json_t *record_url(const char *recording_id)
{
    char *esc = curl_easy_escape(NULL, recording_id, 0);
    if (!esc)
        return NULL;
    size_t n = strlen(esc) + sizeof "/v1/record?recording_id=";
    char *url = malloc(n);
    json_t *s = NULL;
    if (url) {
        snprintf(url, n, "/v1/record?recording_id=%s", esc);
        s = json_string(url);
    }
    free(url);
    curl_free(esc);
    return s;
}

static int parse_record_added(const reader *r, json_t *events)
{
    const char *rec, *entry;
    int64_t ts = 0;
    int has_ts;
    if (!(entry = read_id(r, "entry_id", true)) || !(rec = read_id(r, "recording_id", true)) ||
        (has_ts = read_int(r, "timestamp", 0, MANGO_TS_MAX, &ts)) < 0)
        return -1;
    json_t *ev = record_event(entry, "", ts, has_ts);
    json_object_set_new(ev, "record",
                        json_pack("{s:s,s:s,s:o}", "status", "available", "recording_id", rec,
                                  "url", record_url(rec)));
    json_object_set_new(ev, "source", json_string("mango"));
    return json_array_append_new(events, ev);
}

/* ---- result/<command...> ---- */

static int parse_result(const reader *r, bool route, json_t *events)
{
    const char *command_id;
    int64_t code;
    if (!(command_id = read_id(r, "command_id", true)) ||
        need_int(r, "result", 0, MANGO_CODE_MAX, &code) < 0)
        return -1;
    if (!route)
        return 0;
    json_int_t result = mango_ok(code) ? 0 : (json_int_t)code;
    return json_array_append_new(events,
                                 json_pack("{s:s,s:s,s:{s:s,s:I},s:s}", "kind", "route_result",
                                           "target", "command", "route_result", "command_id",
                                           command_id, "result", result, "source", "mango"));
}

/* ---- parse ---- */

typedef enum {
    P_UNKNOWN,
    P_PING,
    P_CALL,
    P_RECORDING,
    P_RECORD_ADDED,
    P_ROUTE,
    P_RESULT,
    P_IGNORED
} mango_path;

/* result/ followed by one or more non-empty segments */
static bool is_result_path(const char *s, size_t n)
{
    if (n <= 7 || strncmp(s, "result/", 7) != 0)
        return false;
    for (size_t i = 7; i < n; i++)
        if (s[i] == '/' && (i == 7 || s[i - 1] == '/'))
            return false;
    return true;
}

static mango_path path_of(const adapter_request *req)
{
    static const struct {
        const char *path;
        mango_path p;
    } paths[] = {
        {"ping", P_PING},
        {"events/call", P_CALL},
        {"events/recording", P_RECORDING},
        {"events/record/added", P_RECORD_ADDED},
        {"result/route", P_ROUTE},
        {"events/summary", P_IGNORED},
        {"events/record/tagged", P_IGNORED},
        {"events/dtmf", P_IGNORED},
        {"events/sms", P_IGNORED},
    };
    size_t n;
    const char *s = subpath_of(req, &n);
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (is_path(req, paths[i].path))
            return paths[i].p;
    return is_result_path(s, n) ? P_RESULT : P_UNKNOWN;
}

static json_t *load_json(const json_t *js, adapter_error *err)
{
    json_error_t jerr;
    if (!json_is_string(js)) {
        adapter_fail(err, "json", js ? "must be given once" : "is required");
        return NULL;
    }
    json_t *doc =
        json_loadb(json_string_value(js), json_string_length(js), JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        for (char *c = jerr.text; *c; c++) /* jansson quotes the input: keep the answer UTF-8 */
            if (*c < 0x20 || *c >= 0x7f)
                *c = '?';
        adapter_fail(err, "json", "is not JSON: %s (column %d)", jerr.text, jerr.column);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        adapter_fail(err, "json", "must be a JSON object");
        return NULL;
    }
    return doc;
}

/* The form's json field as an object. */
static json_t *decode_json(const adapter_request *req, adapter_error *err)
{
    char why[128] = "";
    json_t *form = form_parse(req->body ? req->body : "", req->body_len, why, sizeof why);
    if (!form) {
        adapter_fail(err, "", "the body is not application/x-www-form-urlencoded: %s", why);
        return NULL;
    }
    json_t *doc = load_json(json_object_get(form, "json"), err);
    json_decref(form);
    return doc;
}

static int parse_doc(mango_path p, const json_t *doc, json_t *events, adapter_error *err)
{
    reader r = {.obj = doc, .path = "json", .err = err};
    switch (p) {
    case P_CALL:
        return parse_call(&r, events);
    case P_RECORDING:
        return parse_recording(&r, events);
    case P_RECORD_ADDED:
        return parse_record_added(&r, events);
    case P_ROUTE:
    case P_RESULT:
        return parse_result(&r, p == P_ROUTE, events);
    default:
        return 0;
    }
}

/* The path is echoed only when it is short printable ASCII: the message becomes JSON text. */
static void not_found(const adapter_request *req, adapter_error *err)
{
    size_t n;
    const char *s = subpath_of(req, &n);
    bool echo = n <= 100;
    for (size_t i = 0; echo && i < n; i++)
        echo = s[i] > 0x20 && s[i] < 0x7f;
    adapter_fail(
        err, "",
        "Mango never posts to /%.*s (it posts to events/call, events/summary, "
        "events/recording, events/record/added, events/dtmf, events/sms, result/..., ping)",
        echo ? (int)n : 3, echo ? s : "...");
}

static enum adapter_status mango_parse(const adapter_ctx *ctx, const adapter_request *req,
                                       json_t *out, adapter_error *err)
{
    (void)ctx;
    memset(err, 0, sizeof *err);
    mango_path p = path_of(req);
    if (p == P_UNKNOWN) {
        not_found(req, err);
        return ADAPTER_NOT_FOUND;
    }
    if (p == P_PING)
        return ADAPTER_OK; /* a connection check: nothing to store */
    json_t *doc = decode_json(req, err), *events = json_array();
    int rc = doc && events ? parse_doc(p, doc, events, err) : -1;
    if (rc == 0 && json_array_extend(out, events) < 0)
        rc = adapter_fail(err, "", "out of memory");
    if (rc < 0 && !err->message[0])
        adapter_fail(err, "", "out of memory");
    json_decref(events);
    json_decref(doc);
    return rc == 0 ? ADAPTER_OK : ADAPTER_INVALID;
}

/* ---- commands ---- */

#define MANGO_BASE_URL "https://app.mango-office.ru/vpbx/"

/* The signed form Mango takes everywhere: vpbx_api_key, sign, json. */
static int mango_form(const adapter_ctx *ctx, const char *path, const json_t *doc,
                      adapter_http *out)
{
    const char *key = setting(ctx, "api_key"), *salt = setting(ctx, "api_salt");
    const char *base = setting(ctx, "base_url");
    char *js = json_dumps(doc, JSON_COMPACT), *text = NULL, sign[DIGEST_HEX_LEN + 1];
    if (!js || !key || !salt || asprintf(&text, "%s%s%s", key, js, salt) < 0) {
        free(js);
        return -1;
    }
    digest_sha256_hex(text, strlen(text), sign);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    char *body = NULL;
    int rc = adapter_form_add(&body, "vpbx_api_key", key) | adapter_form_add(&body, "sign", sign) |
             adapter_form_add(&body, "json", js);
    free(js);
    out->method = "POST";
    out->url = adapter_url_join(base && *base ? base : MANGO_BASE_URL, path);
    out->headers = strdup("Content-Type: application/x-www-form-urlencoded\r\n");
    out->body = body;
    out->body_len = body ? strlen(body) : 0;
    return rc == 0 && out->url && out->headers ? 0 : -1;
}

typedef struct mango_cmd {
    const char *op, *path;
    bool stream;
} mango_cmd;

static const mango_cmd mango_cmds[] = {
    {"callback", "commands/callback", false},   {"route", "commands/route", false},
    {"transfer", "commands/transfer", false},   {"hangup", "commands/call/hangup", false},
    {"record", "queries/recording/post", true},
};

#define CMD_STR(name, required)                                                                    \
    const char *name = adapter_command_str(command, #name, required, err);                         \
    if (!name)                                                                                     \
        return NULL;
#define CMD_EXT(name, required)                                                                    \
    const char *name = adapter_command_ext(command, #name, required, err);                         \
    if (!name)                                                                                     \
        return NULL;

/* Mango's "from" carries number "" as in its own example (the documented sign vector). */
static json_t *callback_json(const json_t *command, const char *id, adapter_error *err)
{
    CMD_STR(extension, true); /* the API checked it; Mango's sign vector uses "<extension>" */
    CMD_STR(to_number, true);
    CMD_STR(line_number, false);
    json_t *doc = json_pack("{s:s,s:{s:s,s:s},s:s}", "command_id", id, "from", "extension",
                            extension, "number", "", "to_number", to_number);
    if (doc && *line_number)
        json_object_set_new(doc, "line_number", json_string(line_number));
    return doc;
}

static json_t *route_json(const json_t *command, const char *id, adapter_error *err)
{
    CMD_STR(call_id, true);
    CMD_EXT(to_extension, true);
    return json_pack("{s:s,s:s,s:s}", "command_id", id, "call_id", call_id, "to_number",
                     to_extension);
}

static json_t *transfer_json(const json_t *command, const char *id, adapter_error *err)
{
    CMD_STR(call_id, true);
    CMD_STR(to_number, true);
    CMD_STR(method, true);
    CMD_EXT(extension, false);
    if (strcmp(method, "blind") != 0 && strcmp(method, "hold") != 0) {
        adapter_fail(err, "method", "must be blind or hold");
        return NULL;
    }
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "command_id", id, "call_id", call_id, "method",
                            method, "to_number", to_number);
    if (doc && *extension)
        json_object_set_new(doc, "initiator", json_string(extension));
    return doc;
}

static json_t *hangup_json(const json_t *command, const char *id, adapter_error *err)
{
    CMD_STR(call_id, true);
    return json_pack("{s:s,s:s}", "command_id", id, "call_id", call_id);
}

static json_t *record_json(const json_t *command, const char *id, adapter_error *err)
{
    (void)id;
    CMD_STR(recording_id, true);
    return json_pack("{s:s,s:s}", "recording_id", recording_id, "action", "download");
}

static json_t *mango_command_json(size_t i, const json_t *command, const char *id,
                                  adapter_error *err)
{
    json_t *(*const build[])(const json_t *, const char *, adapter_error *) = {
        callback_json, route_json, transfer_json, hangup_json, record_json};
    return build[i](command, id, err);
}

static enum adapter_status mango_build_command(const adapter_ctx *ctx, const json_t *command,
                                               adapter_http *out, adapter_error *err)
{
    memset(err, 0, sizeof *err);
    *out = (adapter_http){0};
    const char *op = json_string_value(json_object_get(command, "op"));
    size_t i = 0, n = sizeof mango_cmds / sizeof *mango_cmds;
    while (i < n && !(op && strcmp(op, mango_cmds[i].op) == 0))
        i++;
    if (i == n) {
        adapter_fail(err, "op", "Mango's API has no command %s", op ? op : "(none)");
        return ADAPTER_UNSUPPORTED;
    }
    const char *id = adapter_command_str(command, "command_id", true, err);
    json_t *doc = id ? mango_command_json(i, command, id, err) : NULL;
    if (!doc) {
        if (!err->message[0])
            adapter_fail(err, "", "out of memory");
        return ADAPTER_INVALID;
    }
    int rc = mango_form(ctx, mango_cmds[i].path, doc, out);
    json_decref(doc);
    out->stream = mango_cmds[i].stream;
    if (rc < 0) {
        adapter_http_clear(out);
        adapter_fail(err, "", "out of memory");
        return ADAPTER_INVALID;
    }
    return ADAPTER_OK;
}

/* Mango's code, from {"result": N} (200) or {"code": N} (420), a number or a string. */
static int answer_code(const adapter_reply *reply, int64_t *code, adapter_error *err)
{
    json_t *doc = adapter_reply_json(reply);
    reader r = {.obj = doc, .path = "answer", .err = err};
    int rc = doc ? read_int(&r, "result", 0, MANGO_CODE_MAX, code) : 0;
    if (rc == 0 && doc)
        rc = read_int(&r, "code", 0, MANGO_CODE_MAX, code);
    json_decref(doc);
    return rc;
}

static int mango_error(json_t *result, const char *op, int64_t code)
{
    static const struct {
        int64_t mango;
        int status, code;
        const char *what;
    } map[] = {
        {3310, 404, RC_CALL_NOT_FOUND, "call not found"},
        {3320, 404, RC_RECORDING_NOT_FOUND, "recording not found"},
        {4100, 409, RC_IMPOSSIBLE_NOW, "impossible now"},
        {4101, 409, RC_CALL_GONE, "the call is gone"},
        {3102, 502, RC_PBX_ERROR, "Mango refused the sign (check settings.mango.api_salt)"},
        {3105, 502, RC_PBX_ERROR, "Mango refused the key (check settings.mango.api_key)"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (map[i].mango == code)
            return adapter_command_fail(result, map[i].status, map[i].code, json_integer(code),
                                        "Mango %s: %lld %s", op, (long long)code, map[i].what);
    return adapter_command_fail(result, 502, RC_PBX_ERROR, json_integer(code),
                                "Mango %s: %lld (PBX error)", op, (long long)code);
}

static int mango_parse_command_answer(const adapter_ctx *ctx, const json_t *command,
                                      const adapter_reply *reply, json_t *result,
                                      adapter_error *err)
{
    (void)ctx;
    memset(err, 0, sizeof *err);
    const char *op = json_string_value(json_object_get(command, "op"));
    op = op ? op : "command";
    int64_t code = 0;
    if (reply->status == 0)
        return adapter_command_fail(result, 502, RC_PBX_ERROR, NULL, "Mango did not answer %s", op);
    int rc = answer_code(reply, &code, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && reply->status == 404 && strcmp(op, "record") == 0)
        return adapter_command_fail(result, 404, RC_RECORDING_NOT_FOUND,
                                    json_integer(reply->status), "the recording file is gone");
    if (rc == 0)
        return adapter_fail(err, "", "Mango answered %s with HTTP %d and no result code", op,
                            reply->status);
    if (mango_ok(code) && reply->status / 100 == 2)
        return 0;
    return mango_error(result, op, code);
}

/* Mango reads only the status; the body is the broker's usual summary. */
static int mango_answer(const adapter_ctx *ctx, const adapter_counts *c, adapter_answer *out)
{
    (void)ctx;
    return adapter_answer_summary(c, out);
}

const adapter adapter_mango = {
    .name = "mango",
    .check_settings = mango_check_settings,
    .parse = mango_parse,
    .verify = mango_verify,
    .answer = mango_answer,
    .build_command = mango_build_command,
    .parse_command_answer = mango_parse_command_answer,
};
