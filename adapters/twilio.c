/* twilio.c — Twilio Programmable Voice status and recording callbacks (form-encoded, or the
 * same names in a JSON body), posted to /v1/hooks/INTEGRATION/twilio[/MORE]. Authenticated by
 * X-Twilio-Signature as twilio-node 6.x's webhooks.js checks it: base64 HMAC-SHA1 with the auth
 * token (HMAC-SHA256 with the shared key when X-Twilio-Webhooks-Signature-Settings names it)
 * over settings.twilio.public_url + sub-path + ?query + the sorted parameters, the URL taken
 * with and without its port; a JSON body is covered by the query's bodySHA256 instead. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter.h"
#include "common.h"
#include "digest.h"
#include "event.h"
#include "event_check.h"
#include "form.h"
#include "names.h"
#include "result.h"

#define TW_SETTING_MAX 2048
#define TW_PARTY_MAX 64
#define TW_SIG_HDR "X-Twilio-Signature"
#define TW_SETTINGS_HDR "X-Twilio-Webhooks-Signature-Settings"

/* ---- settings ---- */

static const char *const setting_names[] = {"auth_token",   "public_url", "account_sid",
                                            "api_base_url", "caller_id",  "shared_key",
                                            "agent",        NULL};

static bool known_setting(const char *name)
{
    for (size_t i = 0; setting_names[i]; i++)
        if (strcmp(setting_names[i], name) == 0)
            return true;
    return false;
}

/* An absolute http(s) URL with a host, without query, fragment, spaces or controls. */
static bool http_url_ok(const char *s)
{
    size_t skip = strncasecmp(s, "https://", 8) == 0  ? 8
                  : strncasecmp(s, "http://", 7) == 0 ? 7
                                                      : 0;
    if (!skip || strcspn(s + skip, "/?#") == 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
            return false;
    return true;
}

static int check_values(const json_t *tw, adapter_error *err)
{
    const char *k;
    const json_t *v;
    char field[128];
    json_object_foreach((json_t *)tw, k, v)
    {
        snprintf(field, sizeof field, "twilio.%s", k);
        if (!known_setting(k))
            return adapter_fail(
                err, field,
                "unknown setting; twilio takes auth_token, public_url, account_sid, "
                "api_base_url, caller_id, shared_key, agent");
        size_t n = json_string_length(v);
        if (!json_is_string(v) || n == 0 || n > TW_SETTING_MAX)
            return adapter_fail(err, field, "must be a string of 1 to %d characters",
                                TW_SETTING_MAX);
    }
    return 0;
}

static int tw_check_settings(const json_t *settings, adapter_error *err)
{
    memset(err, 0, sizeof *err);
    const json_t *tw = json_object_get(settings, "twilio");
    if (!json_is_object(tw))
        return adapter_fail(err, "twilio", "must be an object with auth_token and public_url");
    if (check_values(tw, err) != 0)
        return -1;
    if (!json_object_get(tw, "auth_token"))
        return adapter_fail(err, "twilio.auth_token",
                            "required: the account's auth token, which signs Twilio's callbacks");
    const char *url = json_string_value(json_object_get(tw, "public_url"));
    if (!url)
        return adapter_fail(
            err, "twilio.public_url",
            "required: the URL Twilio calls, https://HOST/v1/hooks/INTEGRATION/twilio");
    if (!http_url_ok(url))
        return adapter_fail(err, "twilio.public_url",
                            "must be an absolute http(s) URL without query or fragment, e.g. "
                            "https://relay.example.com/v1/hooks/acme/twilio");
    const char *api = json_string_value(json_object_get(tw, "api_base_url"));
    if (api && !http_url_ok(api))
        return adapter_fail(err, "twilio.api_base_url", "must be an absolute http(s) URL");
    const char *agent = json_string_value(json_object_get(tw, "agent"));
    if (agent && !strstr(agent, "{extension}"))
        return adapter_fail(err, "twilio.agent",
                            "must contain {extension}: client:{extension}, "
                            "sip:{extension}@DOMAIN or a number such as +1415555{extension}");
    return 0;
}

/* ---- compiled settings: the keys and the two forms of the signed URL ---- */

typedef struct tw_compiled {
    char *auth_token;
    char *shared_key; /* NULL when unset */
    char *url[2];     /* public_url without its port, and with it (or the scheme's default) */
} tw_compiled;

static void tw_free_compiled(void *p)
{
    tw_compiled *c = p;
    if (!c)
        return;
    free(c->auth_token);
    free(c->shared_key);
    free(c->url[0]);
    free(c->url[1]);
    free(c);
}

/* As twilio-node's removePort/addPort: the authority may hold user info and an IPv6 literal.
 * A trailing '/' is dropped: the sub-path brings its own. */
static int url_forms(const char *url, char *out[2])
{
    int len = (int)strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    const char *auth = strstr(url, "://") + 3, *end = url + len;
    const char *rest = auth + strcspn(auth, "/?#");
    if (rest > end)
        rest = end;
    const char *host = auth, *port = NULL;
    for (const char *p = auth; p < rest; p++)
        if (*p == '@')
            host = p + 1;
    const char *bracket = host;
    for (const char *p = host; p < rest; p++)
        if (*p == ']')
            bracket = p;
    for (const char *p = bracket; p < rest && !port; p++)
        if (*p == ':')
            port = p;
    int host_len = (int)((port ? port : rest) - url), rest_len = (int)(end - rest);
    const char *dflt = strncasecmp(url, "https", 5) == 0 ? ":443" : ":80";
    if (asprintf(&out[0], "%.*s%.*s", host_len, url, rest_len, rest) < 0) {
        out[0] = NULL;
        return -1;
    }
    int rc = port ? asprintf(&out[1], "%.*s", len, url)
                  : asprintf(&out[1], "%.*s%s%.*s", host_len, url, dflt, rest_len, rest);
    if (rc < 0)
        out[1] = NULL;
    return rc < 0 ? -1 : 0;
}

static int tw_compile(const json_t *settings, void **compiled, adapter_error *err)
{
    if (tw_check_settings(settings, err) != 0)
        return -1;
    const json_t *tw = json_object_get(settings, "twilio");
    const char *shared = json_string_value(json_object_get(tw, "shared_key"));
    tw_compiled *c = calloc(1, sizeof *c);
    if (!c || !(c->auth_token = strdup(json_string_value(json_object_get(tw, "auth_token")))) ||
        (shared && !(c->shared_key = strdup(shared))) ||
        url_forms(json_string_value(json_object_get(tw, "public_url")), c->url) != 0) {
        tw_free_compiled(c);
        return adapter_fail(err, "twilio", "out of memory");
    }
    *compiled = c;
    return 0;
}

/* ---- the signature ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* As twilio-node's getSignatureAlgorithm: the first non-empty algorithm=, else HMAC_SHA1. */
static const EVP_MD *settings_algorithm(const char *hdr, adapter_error *err)
{
    char *copy = strdup(hdr), *save = NULL, *alg = NULL;
    for (char *part = copy ? strtok_r(copy, ",", &save) : NULL; part && !alg;
         part = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(part, '=');
        if (!eq)
            continue;
        *eq = '\0';
        if (strcmp(trim(part), "algorithm") == 0 && *trim(eq + 1))
            alg = trim(eq + 1);
    }
    const EVP_MD *md = !copy                                       ? NULL
                       : !alg || strcasecmp(alg, "HMAC_SHA1") == 0 ? EVP_sha1()
                       : strcasecmp(alg, "HMAC_SHA256") == 0       ? EVP_sha256()
                                                                   : NULL;
    if (!md)
        adapter_fail(err, TW_SETTINGS_HDR,
                     "unsupported signature algorithm: HMAC_SHA1 or HMAC_SHA256");
    free(copy);
    return md;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* name+value for each distinct value of one parameter, in sorted order. */
static int append_values(FILE *f, const char *name, const json_t *v)
{
    if (json_is_string(v))
        return fprintf(f, "%s%s", name, json_string_value(v)) < 0 ? -1 : 0;
    size_t n = json_array_size(v);
    const char **vals = calloc(n ? n : 1, sizeof *vals);
    if (!vals)
        return -1;
    for (size_t i = 0; i < n; i++)
        vals[i] = json_string_value(json_array_get(v, i));
    qsort(vals, n, sizeof *vals, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (i == 0 || strcmp(vals[i], vals[i - 1]) != 0)
            rc = fprintf(f, "%s%s", name, vals[i]) < 0 ? -1 : 0;
    free(vals);
    return rc;
}

static int append_params(FILE *f, const json_t *params)
{
    size_t n = json_object_size(params), i = 0;
    const char **names = calloc(n ? n : 1, sizeof *names);
    const char *k;
    const json_t *v;
    if (!names)
        return -1;
    json_object_foreach((json_t *)params, k, v) names[i++] = k;
    qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++)
        rc = append_values(f, names[i], json_object_get(params, names[i]));
    free(names);
    return rc;
}

static bool is_json(const char *content_type)
{
    const char *ct = content_type ? content_type : "";
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return strncasecmp(ct, "application/json", 16) == 0;
}

/* The query's bodySHA256, when it has one: the body must hash to it. 1 present and right,
 * 0 absent, -1 wrong. */
static int body_hash(const adapter_request *req, adapter_error *err)
{
    json_t *q =
        req->query && *req->query ? form_parse(req->query, strlen(req->query), NULL, 0) : NULL;
    const json_t *h = json_object_get(q, "bodySHA256");
    int rc = 0;
    if (h) {
        char hex[DIGEST_HEX_LEN + 1];
        digest_sha256_hex(req->body ? req->body : "", req->body_len, hex);
        const char *want = json_string_value(h);
        rc = want && strlen(want) == DIGEST_HEX_LEN && CRYPTO_memcmp(want, hex, DIGEST_HEX_LEN) == 0
                 ? 1
                 : adapter_fail(err, "bodySHA256", "does not match the SHA-256 of the body");
    }
    json_decref(q);
    return rc;
}

/* What follows public_url in the signed text: sub-path, ?query, then the sorted parameters
 * (none when bodySHA256 covers the body). malloc'd, or NULL with err set. */
static char *signed_tail(const adapter_request *req, adapter_error *err)
{
    int hashed = body_hash(req, err);
    if (hashed < 0)
        return NULL;
    if (!hashed && is_json(req->content_type)) { /* parse would read what nothing signed */
        adapter_fail(err, "bodySHA256", "a JSON body is signed only through bodySHA256 in the URL");
        return NULL;
    }
    json_t *params = hashed ? NULL : form_parse(req->body ? req->body : "", req->body_len, NULL, 0);
    if (!hashed && !params) {
        adapter_fail(err, "", "the body is not a form (nor JSON covered by bodySHA256): unsigned");
        return NULL;
    }
    char *tail = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&tail, &len);
    int rc = f ? 0 : -1;
    if (rc == 0)
        rc = fprintf(f, "%s%s%s", req->subpath ? req->subpath : "",
                     req->query && *req->query ? "?" : "", req->query ? req->query : "") < 0;
    if (rc == 0 && params)
        rc = append_params(f, params);
    if (f && fclose(f) != 0)
        rc = -1;
    json_decref(params);
    if (rc != 0) {
        free(tail);
        adapter_fail(err, "", "out of memory");
        return NULL;
    }
    return tail;
}

static bool signature_matches(const EVP_MD *md, const char *key, const char *url, const char *tail,
                              const char *sig)
{
    size_t ul = strlen(url), tl = strlen(tail);
    char *data = malloc(ul + tl + 1);
    unsigned char mac[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    unsigned int n = 0;
    if (!data)
        return false;
    memcpy(data, url, ul);
    memcpy(data + ul, tail, tl + 1);
    bool ok = HMAC(md, key, (int)strlen(key), (const unsigned char *)data, ul + tl, mac, &n);
    free(data);
    if (!ok)
        return false;
    int bl = EVP_EncodeBlock(b64, mac, (int)n);
    return strlen(sig) == (size_t)bl && CRYPTO_memcmp(sig, b64, (size_t)bl) == 0;
}

static enum adapter_status tw_verify(const adapter_ctx *ctx, const adapter_request *req,
                                     adapter_error *err)
{
    memset(err, 0, sizeof *err);
    const char *sig = adapter_header(req, TW_SIG_HDR);
    if (!sig)
        return ADAPTER_NO_SIGNATURE;
    const tw_compiled *c = ctx->compiled;
    const char *hdr = adapter_header(req, TW_SETTINGS_HDR);
    const EVP_MD *md = hdr ? settings_algorithm(hdr, err) : EVP_sha1();
    const char *key = !c ? NULL : hdr ? c->shared_key : c->auth_token;
    if (!md)
        return ADAPTER_BAD_SIGNATURE;
    if (!key) {
        adapter_fail(err, TW_SETTINGS_HDR,
                     c ? "signed with a shared key, but settings.twilio.shared_key is not set"
                       : "the integration's twilio settings are not loaded");
        return ADAPTER_BAD_SIGNATURE;
    }
    char *tail = signed_tail(req, err);
    if (!tail)
        return ADAPTER_BAD_SIGNATURE;
    bool ok = signature_matches(md, key, c->url[0], tail, sig);
    ok |= signature_matches(md, key, c->url[1], tail, sig);
    free(tail);
    if (ok)
        return ADAPTER_OK;
    adapter_fail(
        err, TW_SIG_HDR,
        "does not match: Twilio signs settings.twilio.public_url + sub-path + query and the "
        "parameters with the auth token (or the shared key)");
    return ADAPTER_BAD_SIGNATURE;
}

/* ---- the parameters ---- */

/* The parameters as an object of strings (arrays when a form repeats a name). */
static json_t *decode_params(const adapter_request *req, adapter_error *err)
{
    const char *body = req->body ? req->body : "";
    if (!is_json(req->content_type)) {
        char why[128] = "";
        json_t *p = form_parse(body, req->body_len, why, sizeof why);
        if (!p)
            adapter_fail(err, "", "the body is not application/x-www-form-urlencoded: %s", why);
        return p;
    }
    json_error_t jerr;
    json_t *p = json_loadb(body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!p)
        adapter_fail(err, "", "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                     jerr.column);
    else if (!json_is_object(p)) {
        adapter_fail(err, "", "a JSON body must be an object of Twilio's parameters");
        json_decref(p);
        p = NULL;
    }
    return p;
}

/* A text parameter: *out NULL when absent; one string when present. */
static int get_text(const json_t *p, const char *name, const char **out, adapter_error *err)
{
    const json_t *v = json_object_get(p, name);
    *out = json_string_value(v);
    if (!v || *out)
        return 0;
    return adapter_fail(err, name, "must be one string%s", json_is_array(v) ? ", sent once" : "");
}

/* A whole number 0..max, as digits or (JSON) an integer. */
static int get_count(const json_t *p, const char *name, long long max, long long *out,
                     bool *present, adapter_error *err)
{
    const json_t *v = json_object_get(p, name);
    const char *s = json_string_value(v);
    *present = v != NULL;
    if (!v)
        return 0;
    if (json_is_integer(v))
        *out = json_integer_value(v);
    else if (s && *s && strlen(s) <= 16 && strspn(s, "0123456789") == strlen(s))
        *out = strtoll(s, NULL, 10);
    else
        *out = -1;
    if (*out < 0 || *out > max)
        return adapter_fail(err, name, "must be a whole number from 0 to %lld", max);
    return 0;
}

/* A Twilio SID: two capital letters and 32 hex digits (CA..., RE...). */
static int get_sid(const json_t *p, const char *name, bool required, const char **out,
                   adapter_error *err)
{
    if (get_text(p, name, out, err) != 0)
        return -1;
    if (!*out)
        return required ? adapter_fail(err, name, "required") : 0;
    const char *s = *out;
    if (strlen(s) == 34 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' &&
        strspn(s + 2, "0123456789abcdefABCDEF") == 32)
        return 0;
    return adapter_fail(err, name, "must be a Twilio SID: two capital letters and 32 hex digits");
}

/* ---- Timestamp: RFC 2822, "Mon, 23 Nov 2026 15:00:00 +0000" ---- */

static int take_num(const char **p, int min_digits, int max_digits, int *out)
{
    int n = 0;
    *out = 0;
    while (n < max_digits && **p >= '0' && **p <= '9') {
        *out = *out * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n >= min_digits ? 0 : -1;
}

static void skip_spaces(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

static int take_month(const char **p, int *month)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i < 12; i++)
        if (strncasecmp(*p, months + 3 * i, 3) == 0) {
            *month = i + 1;
            *p += 3;
            return 0;
        }
    return -1;
}

/* +hhmm / -hhmm, or GMT / UT / UTC / Z: seconds east of UTC. */
static int take_zone(const char **p, int *secs)
{
    static const char *const utc[] = {"GMT", "UTC", "UT", "Z"};
    for (size_t i = 0; i < 4; i++)
        if (strncasecmp(*p, utc[i], strlen(utc[i])) == 0) {
            *p += strlen(utc[i]);
            *secs = 0;
            return 0;
        }
    int sign = **p == '-' ? -1 : 1, hh, mm;
    if ((**p != '+' && **p != '-') || (++*p, take_num(p, 2, 2, &hh)) != 0 ||
        take_num(p, 2, 2, &mm) != 0 || hh > 23 || mm > 59)
        return -1;
    *secs = sign * (hh * 3600 + mm * 60);
    return 0;
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = y / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int parse_rfc2822(const char *s, int64_t *unix_ms)
{
    const char *p = s;
    int d, mon, y, hh, mi, ss = 0, zone;
    skip_spaces(&p);
    if (strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 3 && p[3] == ',')
        p += 4;
    skip_spaces(&p);
    if (take_num(&p, 1, 2, &d) != 0 || (skip_spaces(&p), take_month(&p, &mon)) != 0 ||
        (skip_spaces(&p), take_num(&p, 4, 4, &y)) != 0 ||
        (skip_spaces(&p), take_num(&p, 2, 2, &hh)) != 0 || *p++ != ':' ||
        take_num(&p, 2, 2, &mi) != 0)
        return -1;
    if (*p == ':' && (p++, take_num(&p, 2, 2, &ss)) != 0)
        return -1;
    skip_spaces(&p);
    if (take_zone(&p, &zone) != 0 || (skip_spaces(&p), *p) != '\0')
        return -1;
    if (y < 1970 || d < 1 || d > days_in_month(y, mon) || hh > 23 || mi > 59 || ss > 60)
        return -1;
    int64_t t = days_from_civil(y, mon, d) * 86400 + hh * 3600 + mi * 60 + ss - zone;
    if (t < 0 || t > 253402300799) /* the zone may carry 9999-12-31 into year 10000 */
        return -1;
    *unix_ms = t * 1000;
    return 0;
}

/* ---- call status callbacks ---- */

typedef struct tw_status {
    const char *name;
    const char *state; /* NULL: no event */
    int code;          /* Q.850 for disconnected */
} tw_status;

static const tw_status statuses[] = {
    {"queued", NULL, 0},
    {"initiated", NULL, 0},
    {"ringing", "appeared", 0},
    {"in-progress", "connected", 0},
    {"completed", "disconnected", 16},
    {"busy", "disconnected", 17},
    {"no-answer", "disconnected", 19},
    {"canceled", "disconnected", 16},
    {"failed", "disconnected", 41},
};

/* RFC 3398 §8.2.6.1, the SIP answers a failed call commonly ends with. */
static const struct {
    int sip, q850;
} sip_causes[] = {
    {404, 1},  {403, 21}, {408, 102}, {410, 22},  {480, 18}, {484, 28}, {486, 17},
    {500, 41}, {502, 27}, {503, 34},  {504, 102}, {600, 17}, {603, 21}, {604, 1},
};

static int failed_cause(long long sip)
{
    for (size_t i = 0; i < sizeof sip_causes / sizeof *sip_causes; i++)
        if (sip_causes[i].sip == sip)
            return sip_causes[i].q850;
    return 41;
}

static const tw_status *find_status(const char *s)
{
    for (size_t i = 0; i < sizeof statuses / sizeof *statuses; i++)
        if (strcasecmp(statuses[i].name, s) == 0)
            return &statuses[i];
    return NULL;
}

/* One side of the call: client:NAME and sip:USER@host mark a user's endpoint (a SIP user
 * that starts with '+' is a phone number); any other value is a number. */
typedef struct tw_party {
    char value[TW_PARTY_MAX + 1]; /* "" when absent */
    bool extension;
} tw_party;

static int get_party(const json_t *p, const char *name, const char *alt, tw_party *out,
                     adapter_error *err)
{
    const char *s, *field = name;
    memset(out, 0, sizeof *out);
    if (get_text(p, name, &s, err) != 0)
        return -1;
    if (!s || !*s) {
        field = alt;
        if (get_text(p, alt, &s, err) != 0)
            return -1;
    }
    if (!s)
        return 0;
    size_t len = strlen(s);
    if (strncasecmp(s, "client:", 7) == 0) {
        s += 7, len -= 7;
        out->extension = true;
    } else if (strncasecmp(s, "sip:", 4) == 0) {
        s += 4;
        len = strcspn(s, "@");
        out->extension = *s != '+';
    }
    if (len > TW_PARTY_MAX)
        return adapter_fail(err, field, "too long: a party has at most %d characters",
                            TW_PARTY_MAX);
    memcpy(out->value, s, len);
    out->value[len] = '\0';
    return 0;
}

static json_t *party_json(const tw_party *p)
{
    return json_pack("{ss}", p->extension ? "extension" : "number", p->value);
}

/* The user's side decides: a call to a user's endpoint is inbound, from one outbound. */
static const char *direction(const tw_party *from, const tw_party *to, const char *twilio_dir)
{
    if (from->extension || to->extension)
        return from->extension && to->extension ? "internal"
               : to->extension                  ? "inbound"
                                                : "outbound";
    if (!twilio_dir)
        return NULL;
    if (strcmp(twilio_dir, "inbound") == 0 || strcmp(twilio_dir, "trunking-terminating") == 0)
        return "inbound";
    if (strncmp(twilio_dir, "outbound", 8) == 0 || strcmp(twilio_dir, "trunking-originating") == 0)
        return "outbound";
    return NULL;
}

static json_t *users_of(const tw_party *from, const tw_party *to)
{
    json_t *users = json_array();
    if (users && name_extension_valid(from->value))
        json_array_append_new(users, json_string(from->value));
    if (users && name_extension_valid(to->value) && strcmp(from->value, to->value) != 0)
        json_array_append_new(users, json_string(to->value));
    return users;
}

typedef struct tw_call {
    const char *sid, *parent, *dir;
    const tw_status *status;
    long long seq, sip;
    bool has_seq, has_sip, has_ts;
    int64_t ts_ms;
    tw_party from, to;
} tw_call;

static int read_call(const json_t *p, tw_call *c, adapter_error *err)
{
    const char *status, *ts;
    memset(c, 0, sizeof *c);
    if (get_sid(p, "CallSid", true, &c->sid, err) != 0 ||
        get_sid(p, "ParentCallSid", false, &c->parent, err) != 0 ||
        get_text(p, "CallStatus", &status, err) != 0 ||
        get_text(p, "Direction", &c->dir, err) != 0 || get_text(p, "Timestamp", &ts, err) != 0 ||
        get_count(p, "SequenceNumber", EVENT_MAX_SEQ, &c->seq, &c->has_seq, err) != 0 ||
        get_count(p, "SipResponseCode", 699, &c->sip, &c->has_sip, err) != 0 ||
        get_party(p, "From", "Caller", &c->from, err) != 0 ||
        get_party(p, "To", "Called", &c->to, err) != 0)
        return -1;
    if (!status)
        return adapter_fail(err, "CallStatus", "required");
    if (!(c->status = find_status(status)))
        return adapter_fail(err, "CallStatus",
                            "unknown; expected queued, initiated, ringing, in-progress, completed, "
                            "busy, no-answer, canceled or failed");
    c->has_ts = ts != NULL;
    if (ts && parse_rfc2822(ts, &c->ts_ms) != 0)
        return adapter_fail(err, "Timestamp",
                            "must be an RFC 2822 date such as Mon, 23 Nov 2026 15:00:00 +0000");
    return 0;
}

static json_t *call_object(const tw_call *c)
{
    json_t *call = json_pack("{ss}", "state", c->status->state);
    const char *dir = direction(&c->from, &c->to, c->dir);
    if (call && dir)
        json_object_set_new(call, "direction", json_string(dir));
    if (call && c->from.value[0])
        json_object_set_new(call, "from", party_json(&c->from));
    if (call && c->to.value[0])
        json_object_set_new(call, "to", party_json(&c->to));
    if (call && c->status->code) {
        int code = c->status->code == 41 && c->has_sip ? failed_cause(c->sip) : c->status->code;
        json_object_set_new(call, "disconnect",
                            json_pack("{si,ss}", "code", code, "text", adapter_q850_name(code)));
    }
    return call;
}

static int call_event(const json_t *p, json_t **ev, adapter_error *err)
{
    tw_call c;
    if (read_call(p, &c, err) != 0)
        return -1;
    json_t *users = users_of(&c.from, &c.to);
    if (json_array_size(users) == 0) {
        json_decref(users);
        return adapter_fail(err, "To",
                            "neither From nor To (nor Caller, Called) names a user or a number");
    }
    if (!c.status->state) {
        json_decref(users);
        return 0;
    }
    *ev = json_pack("{ss,so,ss,ss,so}", "kind", "call", "users", users, "call_id",
                    c.parent ? c.parent : c.sid, "source", "twilio", "call", call_object(&c));
    if (*ev && c.has_seq)
        json_object_set_new(*ev, "order", json_pack("{ss,sI}", "key", c.sid, "seq", c.seq));
    if (*ev && c.has_ts) {
        char buf[32];
        event_format_ts(c.ts_ms, buf, sizeof buf);
        json_object_set_new(*ev, "ts", json_string(buf));
    }
    return *ev ? 0 : adapter_fail(err, "", "out of memory");
}

/* ---- recording status callbacks ---- */

static int recording_event(const json_t *p, json_t **ev, adapter_error *err)
{
    const char *rec, *sid, *parent, *status;
    long long duration;
    bool has_duration;
    if (get_sid(p, "RecordingSid", true, &rec, err) != 0 ||
        get_sid(p, "CallSid", true, &sid, err) != 0 ||
        get_sid(p, "ParentCallSid", false, &parent, err) != 0 ||
        get_text(p, "RecordingStatus", &status, err) != 0 ||
        get_count(p, "RecordingDuration", 100000000, &duration, &has_duration, err) != 0)
        return -1;
    if (!status)
        return adapter_fail(err, "RecordingStatus", "required");
    bool done = strcasecmp(status, "completed") == 0, absent = strcasecmp(status, "absent") == 0;
    if (!done && !absent && strcasecmp(status, "in-progress") != 0)
        return adapter_fail(err, "RecordingStatus",
                            "unknown; expected in-progress, completed or absent");
    if (!done && !absent)
        return 0;
    json_t *r = json_pack("{ss,ss}", "status", done ? "available" : "failed", "recording_id", rec);
    if (r && done) {
        char url[128];
        snprintf(url, sizeof url, "/v1/record?recording_id=%s", rec);
        json_object_set_new(r, "url", json_string(url));
        if (has_duration)
            json_object_set_new(r, "duration_s", json_integer(duration));
    }
    *ev = json_pack("{ss,ss,ss,ss,so}", "kind", "record", "target", "call_parties", "call_id",
                    parent ? parent : sid, "source", "twilio", "record", r);
    return *ev ? 0 : adapter_fail(err, "", "out of memory");
}

/* ---- the adapter ---- */

static enum adapter_status tw_parse(const adapter_ctx *ctx, const adapter_request *req, json_t *out,
                                    adapter_error *err)
{
    (void)ctx;
    memset(err, 0, sizeof *err);
    json_t *params = decode_params(req, err), *ev = NULL;
    if (!params)
        return ADAPTER_INVALID;
    int rc = json_object_get(params, "RecordingSid") ? recording_event(params, &ev, err)
                                                     : call_event(params, &ev, err);
    json_decref(params);
    if (rc == 0 && ev && json_array_append_new(out, ev) != 0)
        rc = adapter_fail(err, "", "out of memory");
    else if (rc != 0)
        json_decref(ev);
    return rc == 0 ? ADAPTER_OK : ADAPTER_INVALID;
}

static int tw_answer(const adapter_ctx *ctx, const adapter_counts *c, adapter_answer *out)
{
    static const char body[] = "<Response/>";
    (void)ctx;
    (void)c;
    *out = (adapter_answer){.status = 200, .content_type = "text/xml"};
    out->body = strdup(body);
    out->body_len = sizeof body - 1;
    return out->body ? 0 : -1;
}

/* ---- commands: Twilio's REST API ---- */

#define TW_API_BASE "https://api.twilio.com"
#define TW_FORM "Content-Type: application/x-www-form-urlencoded\r\n"

typedef struct tw_req {
    const adapter_ctx *ctx;
    const json_t *command;
    adapter_http *out;
    adapter_error *err;
} tw_req;

/* s with & < > " ' as XML entities, appended to the open memstream f. */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* How Twilio reaches the agent: <Client>, <Sip> or <Number>, by the form of the address. */
static void dial_noun(FILE *f, const char *address)
{
    const char *noun = "Number", *text = address;
    if (strncasecmp(address, "client:", 7) == 0) {
        noun = "Client";
        text = address + 7;
    } else if (strncasecmp(address, "sip:", 4) == 0) {
        noun = "Sip";
    }
    fprintf(f, "<%s>", noun);
    xml_text(f, text);
    fprintf(f, "</%s>", noun);
}

/* <Response><Dial [callerId="..."]>NOUN</Dial></Response> */
static char *dial_twiml(const char *caller_id, const char *address)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fputs("<Response><Dial", f);
    if (caller_id) {
        fputs(" callerId=\"", f);
        xml_text(f, caller_id);
        fputc('"', f);
    }
    fputc('>', f);
    dial_noun(f, address);
    fputs("</Dial></Response>", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static char *agent_of(const adapter_ctx *ctx, const char *extension)
{
    return adapter_template(
        adapter_command_setting(ctx->settings, "twilio", "agent", "client:{extension}", NULL),
        extension);
}

/* The account's REST URL + tail ("/Calls.json", "/Calls/{sid}.json"): every %s of tail is a
 * path segment, percent-encoded. Sets Basic auth; form is the body (stolen) or NULL (GET). */
static enum adapter_status tw_request(const tw_req *r, const char *tail, const char *id, char *form)
{
    adapter_error *err = r->err;
    const char *sid = adapter_command_setting(r->ctx->settings, "twilio", "account_sid", NULL, err);
    const char *token =
        adapter_command_setting(r->ctx->settings, "twilio", "auth_token", NULL, err);
    const char *api =
        adapter_command_setting(r->ctx->settings, "twilio", "api_base_url", TW_API_BASE, err);
    if (!sid || !token) {
        free(form);
        return ADAPTER_INVALID;
    }
    char *path = adapter_url_fmt(tail, sid, id ? id : "");
    r->out->method = form ? "POST" : "GET";
    r->out->url = path ? adapter_url_join(api, path) : NULL;
    r->out->headers = adapter_basic_auth(sid, token, form ? TW_FORM : NULL);
    r->out->body = form;
    r->out->body_len = form ? strlen(form) : 0;
    free(path);
    if (!r->out->url || !r->out->headers) {
        adapter_http_clear(r->out);
        adapter_fail(err, "", "out of memory");
        return ADAPTER_INVALID;
    }
    return ADAPTER_OK;
}

static const char *tw_str(const tw_req *r, const char *name, bool required)
{
    return adapter_command_str(r->command, name, required, r->err);
}

static enum adapter_status tw_no_memory(adapter_error *err)
{
    adapter_fail(err, "", "out of memory");
    return ADAPTER_INVALID;
}

static enum adapter_status tw_callback(const tw_req *r)
{
    const char *ext = adapter_command_ext(r->command, "extension", true, r->err);
    const char *to = ext ? tw_str(r, "to_number", true) : NULL;
    const char *line = to ? tw_str(r, "line_number", false) : NULL;
    if (!line)
        return ADAPTER_INVALID;
    const char *from =
        *line ? line
              : adapter_command_setting(r->ctx->settings, "twilio", "caller_id", NULL, r->err);
    if (!from) {
        adapter_fail(r->err, "settings.twilio.caller_id",
                     "a callback without line_number needs this setting: the number Twilio "
                     "calls from (one of the account's)");
        return ADAPTER_INVALID;
    }
    char *agent = agent_of(r->ctx, ext), *twiml = dial_twiml(from, to), *form = NULL;
    int rc = agent && twiml ? adapter_form_add(&form, "To", agent) : -1;
    rc = rc ? rc : adapter_form_add(&form, "From", from);
    rc = rc ? rc : adapter_form_add(&form, "Twiml", twiml);
    free(agent);
    free(twiml);
    if (rc < 0) {
        free(form);
        return tw_no_memory(r->err);
    }
    return tw_request(r, "/2010-04-01/Accounts/%s/Calls.json", NULL, form);
}

/* A live call's update: Twiml (a Dial to address) or Status=completed. */
static enum adapter_status tw_update(const tw_req *r, const char *address)
{
    const char *call_id = tw_str(r, "call_id", true);
    if (!call_id)
        return ADAPTER_INVALID;
    char *twiml = address ? dial_twiml(NULL, address) : NULL, *form = NULL;
    int rc = address && !twiml ? -1
             : address         ? adapter_form_add(&form, "Twiml", twiml)
                               : adapter_form_add(&form, "Status", "completed");
    free(twiml);
    if (rc < 0)
        return tw_no_memory(r->err);
    return tw_request(r, "/2010-04-01/Accounts/%s/Calls/%s.json", call_id, form);
}

static enum adapter_status tw_route(const tw_req *r)
{
    const char *to = adapter_command_ext(r->command, "to_extension", true, r->err);
    char *agent = to ? agent_of(r->ctx, to) : NULL;
    if (!to)
        return ADAPTER_INVALID;
    if (!agent)
        return tw_no_memory(r->err);
    enum adapter_status st = tw_update(r, agent);
    free(agent);
    return st;
}

static enum adapter_status tw_transfer(const tw_req *r)
{
    const char *to = tw_str(r, "to_number", true);
    return to ? tw_update(r, to) : ADAPTER_INVALID;
}

static enum adapter_status tw_record(const tw_req *r)
{
    const char *rec = tw_str(r, "recording_id", true);
    if (!rec)
        return ADAPTER_INVALID;
    enum adapter_status st = tw_request(r, "/2010-04-01/Accounts/%s/Recordings/%s.wav", rec, NULL);
    r->out->stream = st == ADAPTER_OK;
    return st;
}

static enum adapter_status tw_build_command(const adapter_ctx *ctx, const json_t *command,
                                            adapter_http *out, adapter_error *err)
{
    memset(err, 0, sizeof *err);
    *out = (adapter_http){0};
    tw_req r = {.ctx = ctx, .command = command, .out = out, .err = err};
    const char *op = json_string_value(json_object_get(command, "op"));
    if (!adapter_command_str(command, "command_id", true, err))
        return ADAPTER_INVALID;
    if (op && strcmp(op, "callback") == 0)
        return tw_callback(&r);
    if (op && strcmp(op, "route") == 0)
        return tw_route(&r);
    if (op && strcmp(op, "transfer") == 0)
        return tw_transfer(&r);
    if (op && strcmp(op, "hangup") == 0)
        return tw_update(&r, NULL);
    if (op && strcmp(op, "record") == 0)
        return tw_record(&r);
    adapter_fail(err, "op", "Twilio's API has no command %s here", op ? op : "(none)");
    return ADAPTER_UNSUPPORTED;
}

static int tw_parse_command_answer(const adapter_ctx *ctx, const json_t *command,
                                   const adapter_reply *reply, json_t *result, adapter_error *err)
{
    (void)ctx;
    memset(err, 0, sizeof *err);
    const char *op = json_string_value(json_object_get(command, "op"));
    if (!op)
        return adapter_fail(err, "op", "is required");
    if (reply->status == 0)
        return adapter_command_fail(result, 502, RC_PBX_ERROR, NULL, "Twilio did not answer");
    if (reply->status / 100 == 2)
        return adapter_call_placed_or_routed(command, reply, "sid", "twilio", result, err);
    json_t *doc = adapter_reply_json(reply);
    const json_t *jc = json_object_get(doc, "code");
    const char *msg = json_string_value(json_object_get(doc, "message"));
    json_int_t code = json_is_integer(jc) ? json_integer_value(jc) : reply->status;
    char what[300];
    snprintf(what, sizeof what, "Twilio %s: %lld %.250s", op, (long long)code,
             msg ? msg : "(no message)");
    int rc;
    if (code == 21220)
        rc = adapter_command_fail(result, 409, RC_CALL_GONE, json_integer(code), "%s", what);
    else if (reply->status == 404)
        rc = adapter_command_fail(
            result, 404, strcmp(op, "record") == 0 ? RC_RECORDING_NOT_FOUND : RC_CALL_NOT_FOUND,
            json_integer(code), "%s", what);
    else if (reply->status == 401 || reply->status == 403)
        rc = adapter_command_fail(result, 502, RC_PBX_ERROR, json_integer(code),
                                  "%s: Twilio refused the credentials (settings.twilio."
                                  "account_sid and auth_token)",
                                  what);
    else
        rc = adapter_command_fail(result, 502, RC_PBX_ERROR, json_integer(code), "%s", what);
    json_decref(doc);
    return rc;
}

const adapter adapter_twilio = {
    .name = "twilio",
    .check_settings = tw_check_settings,
    .compile = tw_compile,
    .free_compiled = tw_free_compiled,
    .parse = tw_parse,
    .verify = tw_verify,
    .answer = tw_answer,
    .build_command = tw_build_command,
    .parse_command_answer = tw_parse_command_answer,
};
