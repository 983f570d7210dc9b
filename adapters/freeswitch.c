/* freeswitch.c — FreeSWITCH mod_json_cdr: one JSON CDR per leg, posted at hang-up, as raw
 * JSON, as cdr=<URL-encoded JSON>, or as cdr=<base64> that is not URL-encoded. An answered leg
 * becomes connected (at answer_epoch) then disconnected (at end_epoch, hangup_cause_q850); the
 * leg's uuid orders the two, variables.call_uuid names the call. FreeSWITCH cannot sign: the
 * broker checks the integration token (HTTP Basic password, Bearer, or token= in the query,
 * where mod_json_cdr appends "?uuid=..." even after an existing query), so there is no verify. */
#include <ctype.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter.h"
#include "common.h"
#include "event.h"
#include "event_check.h"
#include "form.h"
#include "names.h"

/* 9999-12-31T23:59:59Z: the last second an RFC 3339 ts with a 4-digit year can say. */
#define FS_MAX_EPOCH 253402300799LL
#define FS_NUMBER_MAX 64 /* a party's number in the event contract */
#define FS_TEXT_MAX 200  /* call.disconnect.text */

/* ---- percent-decoding, as switch_url_decode: %XX only, '+' stays '+' ---- */

/* Decodes s[0..n) into out (which may be s); a malformed escape or one that would give a NUL
 * is kept as it is. Returns the decoded length. */
static size_t pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = s[i] == '%' && i + 2 < n ? form_hex(s[i + 1]) : -1;
        int lo = hi >= 0 ? form_hex(s[i + 2]) : -1;
        if (lo < 0 || (hi | lo) == 0) {
            out[o++] = s[i];
            continue;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    return o;
}

/* ---- the body: three encodings of one JSON document ---- */

enum fs_encoding { FS_RAW, FS_FORM, FS_BASE64 };

static bool has_cdr_prefix(const adapter_request *req)
{
    return req->body_len >= 4 && memcmp(req->body, "cdr=", 4) == 0;
}

/* By Content-Type, as mod_json_cdr sets it; without one, by the look of the body. */
static enum fs_encoding fs_encoding_of(const adapter_request *req)
{
    const char *ct = req->content_type ? req->content_type : "";
    if (strcasestr(ct, "base64"))
        return FS_BASE64;
    if (strcasestr(ct, "x-www-form-urlencoded"))
        return FS_FORM;
    if (!has_cdr_prefix(req))
        return FS_RAW;
    char c = req->body_len > 4 ? req->body[4] : '%';
    return c == '%' || c == '{' ? FS_FORM : FS_BASE64;
}

static json_t *fs_load(const char *text, size_t len, adapter_error *e)
{
    json_error_t jerr;
    json_t *cdr = json_loadb(text, len, 0, &jerr);
    if (!cdr)
        adapter_fail(e, "cdr", "the CDR is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                     jerr.column);
    return cdr;
}

/* The bytes after "cdr=" as base64, taken as they are: '+' is a base64 digit here, never a
 * space. Whitespace is skipped; a copy that was URL-encoded after all is decoded first ('%'
 * is no base64 digit); missing padding is tolerated. */
static json_t *fs_from_base64(const adapter_request *req, adapter_error *e)
{
    if (!has_cdr_prefix(req) || req->body_len - 4 > INT_MAX / 2) {
        adapter_fail(e, "cdr", "expected the body cdr=<base64 of the JSON CDR> (encode base64)");
        return NULL;
    }
    size_t n = req->body_len - 4, m = 0;
    char *clean = malloc(n + 4);
    unsigned char *plain = malloc(n / 4 * 3 + 4);
    json_t *cdr = NULL;
    for (size_t i = 0; clean && i < n; i++)
        if (!isspace((unsigned char)req->body[4 + i]))
            clean[m++] = req->body[4 + i];
    if (clean)
        m = pct_decode(clean, m, clean);
    while (clean && m % 4)
        clean[m++] = '=';
    int len = clean && plain && m ? EVP_DecodeBlock(plain, (unsigned char *)clean, (int)m) : -1;
    if (len < 0) {
        adapter_fail(e, "cdr",
                     "cdr is not base64 (encode base64 sends cdr=<base64>, not URL-encoded)");
    } else {
        len -= (clean[m - 1] == '=') + (clean[m - 2] == '=');
        cdr = fs_load((const char *)plain, (size_t)len, e);
    }
    free(clean);
    free(plain);
    return cdr;
}

static json_t *fs_from_form(const adapter_request *req, adapter_error *e)
{
    char why[128] = "";
    json_t *form = form_parse(req->body ? req->body : "", req->body_len, why, sizeof why);
    const json_t *v = json_object_get(form, "cdr");
    json_t *cdr = NULL;
    if (!form)
        adapter_fail(e, "cdr", "the form body does not decode: %s", why);
    else if (!json_is_string(v))
        adapter_fail(e, "cdr",
                     v ? "cdr must be given once"
                       : "the form has no cdr field (encode true sends cdr=<URL-encoded JSON>)");
    else
        cdr = fs_load(json_string_value(v), json_string_length(v), e);
    json_decref(form);
    return cdr;
}

static json_t *fs_decode_body(const adapter_request *req, adapter_error *e)
{
    switch (fs_encoding_of(req)) {
    case FS_BASE64:
        return fs_from_base64(req, e);
    case FS_FORM:
        return fs_from_form(req, e);
    default:
        return fs_load(req->body ? req->body : "", req->body_len, e);
    }
}

/* ---- the fields of one CDR ---- */

typedef struct fs_cdr {
    char uuid[EVENT_MAX_STR + 1];    /* the leg: the order key */
    char call_id[EVENT_MAX_STR + 1]; /* variables.call_uuid, else the leg */
    char cause[FS_TEXT_MAX + 1];     /* hangup_cause, FreeSWITCH's name of the cause */
    char from[FS_NUMBER_MAX + 1], to[FS_NUMBER_MAX + 1];
    int64_t q850, answer, end;
} fs_cdr;

enum { FS_ABSENT = 0, FS_FOUND = 1, FS_TOO_LONG = 2 };

/* A text value (a string, or an integer written out), percent-decoded into buf. Returns
 * FS_FOUND, FS_ABSENT (absent, null or empty), FS_TOO_LONG, or -1 (wrong type, e set). */
static int fs_text(const json_t *v, const char *field, char *buf, size_t size, adapter_error *e)
{
    char num[32];
    const char *s = num;
    size_t n;
    if (!v || json_is_null(v))
        return FS_ABSENT;
    if (json_is_integer(v)) {
        n = (size_t)snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    } else if (json_is_string(v)) {
        s = json_string_value(v);
        n = json_string_length(v);
    } else {
        return adapter_fail(e, field, "must be a string");
    }
    char *plain = malloc(n + 1);
    if (!plain)
        return adapter_fail(e, field, "out of memory");
    size_t m = pct_decode(s, n, plain);
    plain[m] = '\0';
    json_t *check = json_stringn(plain, m); /* still UTF-8 once decoded? */
    int rc = !check      ? adapter_fail(e, field, "is not UTF-8 once URL-decoded")
             : m >= size ? FS_TOO_LONG
             : m == 0    ? FS_ABSENT
                         : FS_FOUND;
    if (rc == FS_FOUND)
        memcpy(buf, plain, m + 1);
    json_decref(check);
    free(plain);
    return rc;
}

static int fs_var(const json_t *vars, const char *name, char *buf, size_t size, bool required,
                  adapter_error *e)
{
    char field[96];
    snprintf(field, sizeof field, "variables.%s", name);
    int rc = fs_text(json_object_get(vars, name), field, buf, size, e);
    if (rc == FS_ABSENT && required)
        return adapter_fail(e, field, "is required");
    if (rc == FS_TOO_LONG)
        return adapter_fail(e, field, "must be at most %zu bytes", size - 1);
    return rc;
}

/* A count of seconds or a code: digits (or a JSON integer) from 0 to max; 0 when absent and
 * not required. */
static int fs_number(const json_t *vars, const char *name, int64_t max, bool required, int64_t *out,
                     adapter_error *e)
{
    char buf[24], field[96];
    snprintf(field, sizeof field, "variables.%s", name);
    int rc = fs_var(vars, name, buf, sizeof buf, required, e);
    *out = 0;
    if (rc < 0 || rc == FS_ABSENT)
        return rc;
    size_t n = strlen(buf);
    if (n > 18 || strspn(buf, "0123456789") != n || (*out = strtoll(buf, NULL, 10)) > max)
        return adapter_fail(e, field, "must be digits from 0 to %lld, not \"%s\"", (long long)max,
                            buf);
    return 0;
}

/* The caller profile of the channel's current call flow: callflow[0] (an array, as
 * mod_json_cdr writes it) or callflow itself (one object). NULL when there is none. */
static int fs_profile(const json_t *cdr, const json_t **profile, adapter_error *e)
{
    const json_t *cf = json_object_get(cdr, "callflow"), *first = cf;
    *profile = NULL;
    if (!cf || json_is_null(cf))
        return 0;
    if (json_is_array(cf))
        first = json_array_get(cf, 0);
    else if (!json_is_object(cf))
        return adapter_fail(e, "callflow", "must be an array of call flows (or one object)");
    if (!first)
        return 0;
    if (!json_is_object(first))
        return adapter_fail(e, "callflow[0]", "must be an object");
    *profile = json_object_get(first, "caller_profile");
    if (*profile && !json_is_object(*profile))
        return adapter_fail(e, "callflow[0].caller_profile", "must be an object");
    return 0;
}

/* A party's number: the caller profile's, else the first variable that has one. A number too
 * long for the event is left out, not refused: it could name no user anyway. */
static int fs_party(const json_t *profile, const char *key, const json_t *vars,
                    const char *const *fallbacks, char *buf, adapter_error *e)
{
    char field[96];
    snprintf(field, sizeof field, "callflow[0].caller_profile.%s", key);
    int rc = fs_text(json_object_get(profile, key), field, buf, FS_NUMBER_MAX + 1, e);
    for (size_t i = 0; rc != FS_FOUND && rc >= 0 && fallbacks[i]; i++) {
        snprintf(field, sizeof field, "variables.%s", fallbacks[i]);
        rc = fs_text(json_object_get(vars, fallbacks[i]), field, buf, FS_NUMBER_MAX + 1, e);
    }
    if (rc != FS_FOUND)
        buf[0] = '\0';
    return rc < 0 ? -1 : 0;
}

static int fs_parties(const json_t *cdr, const json_t *vars, fs_cdr *c, adapter_error *e)
{
    static const char *const from_vars[] = {"sip_from_user", "effective_caller_id_number", NULL};
    static const char *const to_vars[] = {"sip_to_user", NULL};
    const json_t *profile;
    if (fs_profile(cdr, &profile, e) < 0 ||
        fs_party(profile, "caller_id_number", vars, from_vars, c->from, e) < 0 ||
        fs_party(profile, "destination_number", vars, to_vars, c->to, e) < 0)
        return -1;
    return 0;
}

static int fs_read(const json_t *cdr, fs_cdr *c, adapter_error *e)
{
    const json_t *vars = json_object_get(cdr, "variables");
    if (!json_is_object(cdr))
        return adapter_fail(e, "cdr", "must be a JSON object");
    if (!vars)
        return adapter_fail(e, "variables", "is required (the CDR's channel variables)");
    if (!json_is_object(vars))
        return adapter_fail(e, "variables", "must be an object");
    if (fs_var(vars, "uuid", c->uuid, sizeof c->uuid, true, e) < 0 ||
        fs_var(vars, "call_uuid", c->call_id, sizeof c->call_id, false, e) < 0 ||
        fs_var(vars, "hangup_cause", c->cause, sizeof c->cause, false, e) < 0 ||
        fs_number(vars, "hangup_cause_q850", 127, true, &c->q850, e) < 0 ||
        fs_number(vars, "answer_epoch", FS_MAX_EPOCH, false, &c->answer, e) < 0 ||
        fs_number(vars, "end_epoch", FS_MAX_EPOCH, true, &c->end, e) < 0)
        return -1;
    if (!c->call_id[0])
        snprintf(c->call_id, sizeof c->call_id, "%s", c->uuid);
    return fs_parties(cdr, vars, c, e);
}

/* ---- the events ---- */

/* Both parties' numbers that can name a user; FreeSWITCH does not say which is an extension. */
static json_t *fs_users(const fs_cdr *c)
{
    json_t *users = json_array();
    if (users && name_extension_valid(c->from))
        json_array_append_new(users, json_string(c->from));
    if (users && name_extension_valid(c->to) && strcmp(c->from, c->to) != 0)
        json_array_append_new(users, json_string(c->to));
    return users;
}

static json_t *fs_party_json(const char *number)
{
    return number[0] ? json_pack("{ss}", "number", number) : NULL;
}

/* seq 1: connected at answer_epoch; seq 2: disconnected at end_epoch. */
static json_t *fs_event(const fs_cdr *c, json_t *users, int seq)
{
    json_t *call = json_pack("{ss}", "state", seq == 1 ? "connected" : "disconnected");
    json_t *from = fs_party_json(c->from), *to = fs_party_json(c->to);
    if (call && from)
        json_object_set(call, "from", from);
    if (call && to)
        json_object_set(call, "to", to);
    json_decref(from);
    json_decref(to);
    if (call && seq == 2) {
        json_t *d = json_pack("{sI}", "code", (json_int_t)c->q850);
        if (d && c->cause[0])
            json_object_set_new(d, "text", json_string(c->cause));
        json_object_set_new(call, "disconnect", d);
    }
    json_t *ev =
        json_pack("{sssOsss{sssi}soss}", "kind", "call", "users", users, "call_id", c->call_id,
                  "order", "key", c->uuid, "seq", seq, "call", call, "source", "freeswitch");
    int64_t at = seq == 1 ? c->answer : c->end;
    if (ev && at > 0) {
        char ts[32];
        event_format_ts(at * 1000, ts, sizeof ts);
        json_object_set_new(ev, "ts", json_string(ts));
    }
    return ev;
}

static int fs_events(const fs_cdr *c, json_t *events, adapter_error *e)
{
    json_t *users = fs_users(c);
    int rc = users ? 0 : adapter_fail(e, "", "out of memory");
    /* Neither party can be a user (a SIP URI, an anonymous caller): nobody to tell. */
    if (rc == 0 && json_array_size(users) == 0) {
        json_decref(users);
        return 0;
    }
    for (int seq = c->answer > 0 ? 1 : 2; rc == 0 && seq <= 2; seq++)
        if (json_array_append_new(events, fs_event(c, users, seq)) < 0)
            rc = adapter_fail(e, "", "out of memory");
    json_decref(users);
    return rc;
}

/* ---- the adapter ---- */

static enum adapter_status fs_parse(const adapter_ctx *ctx, const adapter_request *req, json_t *out,
                                    adapter_error *err)
{
    (void)ctx;
    memset(err, 0, sizeof *err);
    if (req->subpath && *req->subpath && strcmp(req->subpath, "/") != 0) {
        adapter_fail(err, "",
                     "mod_json_cdr posts to /v1/hooks/INTEGRATION/freeswitch, not below it");
        return ADAPTER_NOT_FOUND;
    }
    json_t *cdr = fs_decode_body(req, err);
    json_t *events = json_array();
    fs_cdr c;
    memset(&c, 0, sizeof c);
    int rc = cdr && events ? fs_read(cdr, &c, err) : -1;
    if (rc == 0)
        rc = fs_events(&c, events, err);
    if (rc == 0 && json_array_extend(out, events) < 0)
        rc = adapter_fail(err, "", "out of memory");
    if (rc != 0 && !err->message[0])
        adapter_fail(err, "", "out of memory");
    json_decref(events);
    json_decref(cdr);
    return rc == 0 ? ADAPTER_OK : ADAPTER_INVALID;
}

/* FreeSWITCH has no settings of its own: what it needs is the integration token. */
static int fs_check_settings(const json_t *settings, adapter_error *err)
{
    const json_t *fs = json_object_get(settings, "freeswitch");
    const char *key;
    const json_t *v;
    memset(err, 0, sizeof *err);
    if (!fs)
        return 0;
    if (!json_is_object(fs))
        return adapter_fail(err, "freeswitch", "must be an object");
    json_object_foreach((json_t *)fs, key, v)
    {
        char field[128];
        snprintf(field, sizeof field, "freeswitch.%.100s", key);
        return adapter_fail(err, field,
                            "is not a setting: FreeSWITCH authenticates with the integration token "
                            "and needs no settings");
    }
    return 0;
}

/* mod_json_cdr only looks at the status: any 2xx ends its retries. */
static int fs_answer(const adapter_ctx *ctx, const adapter_counts *c, adapter_answer *out)
{
    (void)ctx;
    return adapter_answer_summary(c, out);
}

const adapter adapter_freeswitch = {
    .name = "freeswitch",
    .check_settings = fs_check_settings,
    .parse = fs_parse,
    .answer = fs_answer,
};
