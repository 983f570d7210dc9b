/* notify_rule.c — settings.notify: each rule checked and compiled by one function (rule_build),
 * so that what passes the check is exactly what compiles; templates expanded per place (URL,
 * JSON body, form body, plain body, header value). Pure. */
#include "notify_rule.h"
#include "stdwebhooks.h"

#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OOM "out of memory"

enum place { PLACE_URL, PLACE_JSON, PLACE_FORM, PLACE_RAW, PLACE_HEADER };

struct notify_rule {
    size_t index; /* in settings.notify, for error fields */
    char *id, *endpoint, *method, *url, *body;
    size_t n_headers;
    char **hnames, **hvalues;
    enum place body_place;
    bool has_content_type, sign;
    json_t *on_kind, *on_state; /* arrays of strings; NULL: any */
    int on_dialer;              /* -1: any */
    notify_rule_info info;
};

/* ---- errors ---- */

static int refuse(field_error *e, size_t i, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(field_error *e, size_t i, const char *name, const char *fmt, ...)
{
    snprintf(e->field, sizeof e->field, "settings.notify[%zu]%s%s", i, *name ? "." : "", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int refuse_top(field_error *e, const char *field, const char *msg)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->message, sizeof e->message, "%s", msg);
    return -1;
}

/* ---- event values ---- */

static const char *const kinds[] = {"call", "record", "ivr", "route_result", NULL};
static const char *const states[] = {"appeared",  "connected", "on_hold", "disconnected",
                                     "available", "failed",    NULL};
static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (; s && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

static const json_t *kind_obj(const json_t *ev)
{
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    return kind ? json_object_get(ev, kind) : NULL;
}

static const json_t *at(const json_t *o, const char *k1, const char *k2)
{
    const json_t *v = json_object_get(o, k1);
    return k2 ? json_object_get(v, k2) : v;
}

/* call.state, ivr.state or record.status */
static const char *event_state(const json_t *ev)
{
    const json_t *o = kind_obj(ev);
    const json_t *v = json_object_get(o, "state");
    return json_string_value(v ? v : json_object_get(o, "status"));
}

/* The other party's number for the event's user (API.md "number"). */
static const json_t *number_of(const json_t *ev)
{
    const json_t *o = kind_obj(ev);
    const char *user = json_string_value(json_object_get(ev, "user"));
    const char *to_ext = json_string_value(at(o, "to", "extension"));
    const char *from_ext = json_string_value(at(o, "from", "extension"));
    const char *dir = json_string_value(json_object_get(o, "direction"));
    bool other_is_to;
    if (user && to_ext && strcmp(user, to_ext) == 0)
        other_is_to = false;
    else if (user && from_ext && strcmp(user, from_ext) == 0)
        other_is_to = true;
    else
        other_is_to = dir && strcmp(dir, "outbound") == 0;
    return at(json_object_get(o, other_is_to ? "to" : "from"), "number", NULL);
}

enum src { SRC_EVENT, SRC_KIND, SRC_SETTINGS, SRC_STATE, SRC_NUMBER, SRC_WHOLE };

static const struct placeholder {
    const char *name;
    enum src src;
    const char *k1, *k2;
} placeholders[] = {
    {"id", SRC_EVENT, "id", NULL},
    {"call_id", SRC_EVENT, "call_id", NULL},
    {"kind", SRC_EVENT, "kind", NULL},
    {"extension", SRC_EVENT, "user", NULL},
    {"integration", SRC_EVENT, "integration", NULL},
    {"ts", SRC_EVENT, "ts", NULL},
    {"state", SRC_STATE, NULL, NULL},
    {"number", SRC_NUMBER, NULL, NULL},
    {"from_number", SRC_KIND, "from", "number"},
    {"to_number", SRC_KIND, "to", "number"},
    {"direction", SRC_KIND, "direction", NULL},
    {"line", SRC_KIND, "line", NULL},
    {"crm_contact_id", SRC_KIND, "crm_contact_id", NULL},
    {"campaign", SRC_KIND, "campaign", NULL},
    {"recording_id", SRC_KIND, "recording_id", NULL},
    {"recording_url", SRC_KIND, "url", NULL},
    {"disconnect_code", SRC_KIND, "disconnect", "code"},
    {"disconnect_text", SRC_KIND, "disconnect", "text"},
    {"company_id", SRC_SETTINGS, "company_id", NULL},
    {"event", SRC_WHOLE, NULL, NULL},
};

static const struct placeholder *placeholder_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof placeholders / sizeof *placeholders; i++)
        if (strlen(placeholders[i].name) == len && memcmp(placeholders[i].name, name, len) == 0)
            return &placeholders[i];
    return NULL;
}

/* A scalar as text; anything else (absent, object, null) is "". NULL: out of memory. */
static char *scalar_text(const json_t *v)
{
    char buf[64] = "";
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    return strdup(buf);
}

struct render_ctx {
    const json_t *event, *settings;
};

static char *placeholder_value(const struct placeholder *p, const struct render_ctx *c)
{
    switch (p->src) {
    case SRC_EVENT:
        return scalar_text(json_object_get(c->event, p->k1));
    case SRC_KIND:
        return scalar_text(at(kind_obj(c->event), p->k1, p->k2));
    case SRC_SETTINGS:
        return scalar_text(json_object_get(c->settings, p->k1));
    case SRC_STATE: {
        const char *s = event_state(c->event);
        return strdup(s ? s : "");
    }
    case SRC_NUMBER:
        return scalar_text(number_of(c->event));
    case SRC_WHOLE:
        return json_dumps(c->event, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    return NULL;
}

/* ---- templates ---- */

/* The next placeholder "{name}" (name [a-z_]+) at or after p, or NULL; any other '{' is text. */
static const char *tpl_next(const char *p, const char **name, size_t *len)
{
    for (; (p = strchr(p, '{')); p++) {
        size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_");
        if (n > 0 && p[1 + n] == '}') {
            *name = p + 1;
            *len = n;
            return p;
        }
    }
    return NULL;
}

/* NULL when every placeholder is known; else the first unknown one's name (in buf). */
static const char *tpl_unknown(const char *tpl, char *buf, size_t size)
{
    const char *name;
    size_t len;
    for (const char *p = tpl; (p = tpl_next(p, &name, &len)); p += len + 2)
        if (!placeholder_find(name, len)) {
            snprintf(buf, size, "%.*s", (int)(len < 64 ? len : 64), name);
            return buf;
        }
    return NULL;
}

/* JSON string escaping without the quotes, by jansson. */
static char *json_escape(const char *s)
{
    json_t *j = json_string(s);
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    if (!q)
        return j ? NULL : strdup(""); /* not UTF-8: nothing of it */
    size_t n = strlen(q);
    memmove(q, q + 1, n - 2);
    q[n - 2] = '\0';
    return q;
}

static char *percent_encode(const char *s)
{
    char *c = curl_easy_escape(NULL, s, (int)strlen(s));
    char *q = c ? strdup(c) : NULL;
    curl_free(c);
    return q;
}

static char *escape_for(enum place place, const struct placeholder *p, char *v)
{
    char *q;
    if (place == PLACE_URL || place == PLACE_FORM)
        q = percent_encode(v);
    else if (place == PLACE_JSON && p->src != SRC_WHOLE)
        q = json_escape(v);
    else
        return v;
    free(v);
    return q;
}

/* test: the value every placeholder takes in a save-time test substitution, but {event} when
 * there is an event (as it is: the test is about the template's own text). */
static char *placeholder_text(const struct placeholder *ph, enum place place,
                              const struct render_ctx *c, const char *test)
{
    if (!ph)
        return strdup(""); /* refused at save time */
    if (test)
        return ph->src == SRC_WHOLE && c ? placeholder_value(ph, c) : strdup(test);
    char *v = placeholder_value(ph, c);
    return v ? escape_for(place, ph, v) : NULL;
}

/* The template with every placeholder replaced by its value: malloc'd, NULL on OOM. */
static char *tpl_expand(const char *tpl, enum place place, const struct render_ctx *c,
                        const char *test, size_t *out_len)
{
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        return NULL;
    const char *name, *p = tpl, *q;
    size_t len;
    bool ok = true;
    while (ok && (q = tpl_next(p, &name, &len))) {
        fwrite(p, 1, (size_t)(q - p), f);
        char *v = placeholder_text(placeholder_find(name, len), place, c, test);
        ok = v != NULL;
        if (v)
            fputs(v, f);
        free(v);
        p = q + len + 2;
    }
    fputs(p, f);
    if (fclose(f) != 0 || !ok) {
        free(buf);
        return NULL;
    }
    if (out_len)
        *out_len = blen;
    return buf;
}

/* ---- rule parts ---- */

static bool id_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= NOTIFY_RULE_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

/* A string or a non-empty list of strings, each in allowed; out: always an array. */
static int str_or_list(const json_t *v, const char *const *allowed, json_t **out, field_error *e,
                       size_t i, const char *name)
{
    json_t *a = json_is_string(v) ? json_pack("[O]", v) : json_deep_copy(v);
    if (!a)
        return refuse(e, i, name, OOM);
    size_t k;
    const json_t *s;
    bool ok = json_is_array(a) && json_array_size(a) > 0;
    json_array_foreach(a, k, s) { ok = ok && in_list(allowed, json_string_value(s)); }
    if (!ok) {
        json_decref(a);
        char list[160] = "";
        for (const char *const *p = allowed; *p; p++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", *list ? ", " : "",
                     *p);
        return refuse(e, i, name, "must be one of %s, or a non-empty list of them", list);
    }
    *out = a;
    return 0;
}

static int build_on(notify_rule *r, const json_t *on, field_error *e)
{
    size_t i = r->index;
    if (!on)
        return 0;
    if (!json_is_object(on))
        return refuse(e, i, "on", "must be an object with kind, state, dialer");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)on, key, v)
    {
        char name[96];
        snprintf(name, sizeof name, "on.%s", key);
        if (strcmp(key, "kind") == 0) {
            if (str_or_list(v, kinds, &r->on_kind, e, i, name) < 0)
                return -1;
        } else if (strcmp(key, "state") == 0) {
            if (str_or_list(v, states, &r->on_state, e, i, name) < 0)
                return -1;
        } else if (strcmp(key, "dialer") == 0) {
            if (!json_is_boolean(v))
                return refuse(e, i, name, "must be true or false");
            r->on_dialer = json_is_true(v);
        } else
            return refuse(e, i, name, "unknown key (kind, state, dialer)");
    }
    return 0;
}

static int int_in(const json_t *v, json_int_t lo, json_int_t hi, json_int_t *out, field_error *e,
                  size_t i, const char *name)
{
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return refuse(e, i, name,
                      "must be an integer from %" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT,
                      lo, hi);
    *out = json_integer_value(v);
    return 0;
}

static int build_retry(notify_rule *r, const json_t *retry, field_error *e)
{
    size_t i = r->index;
    if (!retry)
        return 0;
    if (!json_is_object(retry))
        return refuse(e, i, "retry", "must be an object");
    static const char *const keys[] = {"max_attempts", "max_age_s", "base_ms", "max_delay_ms",
                                       NULL};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)retry, key, v)
    {
        char name[96];
        snprintf(name, sizeof name, "retry.%s", key);
        if (!in_list(keys, key))
            return refuse(e, i, name,
                          "unknown key (max_attempts, max_age_s, base_ms, max_delay_ms)");
    }
    json_int_t attempts = r->info.max_attempts, age = NOTIFY_DEFAULT_MAX_AGE_S;
    json_int_t base = r->info.base_ms, cap = r->info.max_delay_ms;
    if (int_in(json_object_get(retry, "max_attempts"), 1, 100, &attempts, e, i,
               "retry.max_attempts") < 0 ||
        int_in(json_object_get(retry, "max_age_s"), 1, 604800, &age, e, i, "retry.max_age_s") < 0 ||
        int_in(json_object_get(retry, "base_ms"), 10, 3600000, &base, e, i, "retry.base_ms") < 0 ||
        int_in(json_object_get(retry, "max_delay_ms"), base, 86400000, &cap, e, i,
               "retry.max_delay_ms") < 0)
        return -1;
    if (cap < base)
        return refuse(e, i, "retry.max_delay_ms", "must not be below retry.base_ms");
    r->info.base_ms = base;
    r->info.max_delay_ms = cap;
    r->info.max_attempts = (unsigned)attempts;
    r->info.max_age_ms = age * 1000;
    return 0;
}

static int build_limits(notify_rule *r, const json_t *rule, field_error *e)
{
    json_int_t t = NOTIFY_DEFAULT_TIMEOUT_MS;
    if (int_in(json_object_get(rule, "timeout_ms"), 100, 120000, &t, e, r->index, "timeout_ms") < 0)
        return -1;
    r->info.timeout_ms = (long)t;
    const json_t *rate = json_object_get(rule, "rate_per_s");
    if (rate && (!json_is_number(rate) || !(json_number_value(rate) > 0) ||
                 json_number_value(rate) > 10000))
        return refuse(e, r->index, "rate_per_s", "must be a number above 0 and at most 10000");
    r->info.rate_per_s = rate ? json_number_value(rate) : 0;
    return build_retry(r, json_object_get(rule, "retry"), e);
}

/* The scheme, host and port of u ("scheme://host:port", host lowercased). */
static int endpoint_of(CURLU *u, char *out, size_t size)
{
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        for (char *p = host; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int n = snprintf(out, size, "%s://%s:%s", scheme, host, port);
        rc = n > 0 && (size_t)n < size ? 0 : -1;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    return rc;
}

/* Parses the URL template with every placeholder replaced by test; endpoint into out. */
static CURLUcode url_parse_test(const char *tpl, const char *test, char *out, size_t size)
{
    char *url = tpl_expand(tpl, PLACE_URL, NULL, test, NULL);
    CURLU *u = curl_url();
    CURLUcode rc = url && u ? curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)
                            : CURLUE_OUT_OF_MEMORY;
    if (rc == CURLUE_OK && endpoint_of(u, out, size) < 0)
        rc = CURLUE_MALFORMED_INPUT;
    curl_url_cleanup(u);
    free(url);
    return rc;
}

/* Two test substitutions must give the same endpoint: no placeholder in scheme, host or port. */
static int build_url(notify_rule *r, const json_t *v, field_error *e)
{
    size_t i = r->index;
    char unknown[80], ep1[NOTIFY_ENDPOINT_MAX + 1], ep2[NOTIFY_ENDPOINT_MAX + 1];
    if (!json_is_string(v))
        return refuse(e, i, "url", "required: an absolute http(s) URL template");
    const char *tpl = json_string_value(v);
    if (tpl_unknown(tpl, unknown, sizeof unknown))
        return refuse(e, i, "url", "unknown placeholder {%s}", unknown);
    CURLUcode rc = url_parse_test(tpl, "1", ep1, sizeof ep1);
    if (rc != CURLUE_OK)
        return refuse(e, i, "url", "is not an absolute URL: %s", curl_url_strerror(rc));
    if (url_parse_test(tpl, "2", ep2, sizeof ep2) != CURLUE_OK || strcmp(ep1, ep2) != 0)
        return refuse(e, i, "url", "placeholders are not allowed in the scheme, host or port");
    if (strncmp(ep1, "http://", 7) != 0 && strncmp(ep1, "https://", 8) != 0)
        return refuse(e, i, "url", "the scheme must be http or https");
    r->url = strdup(tpl);
    r->endpoint = strdup(ep1);
    return r->url && r->endpoint ? 0 : refuse(e, i, "url", OOM);
}

static bool token_valid(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    return *s && strspn(s, tchar) == strlen(s);
}

static bool header_forbidden(const char *name)
{
    static const char *const set_here[] = {"Host",       "Content-Length", "Transfer-Encoding",
                                           "Connection", "User-Agent",     NULL};
    for (const char *const *p = set_here; *p; p++)
        if (strcasecmp(name, *p) == 0)
            return true;
    return strncasecmp(name, "webhook-", 8) == 0;
}

static int build_headers(notify_rule *r, const json_t *h, field_error *e)
{
    size_t i = r->index;
    if (!h)
        return 0;
    if (!json_is_object(h))
        return refuse(e, i, "headers", "must be an object of name: value template");
    size_t n = json_object_size(h);
    r->hnames = calloc(n ? n : 1, sizeof *r->hnames);
    r->hvalues = calloc(n ? n : 1, sizeof *r->hvalues);
    if (!r->hnames || !r->hvalues)
        return refuse(e, i, "headers", OOM);
    const char *name;
    const json_t *v;
    char field[96], unknown[80];
    json_object_foreach((json_t *)h, name, v)
    {
        snprintf(field, sizeof field, "headers.%s", name);
        if (!token_valid(name))
            return refuse(e, i, field, "the name is not an HTTP token");
        if (header_forbidden(name))
            return refuse(e, i, field, "is set by callrelay, not by a rule");
        if (!json_is_string(v))
            return refuse(e, i, field, "must be a string template");
        if (tpl_unknown(json_string_value(v), unknown, sizeof unknown))
            return refuse(e, i, field, "unknown placeholder {%s}", unknown);
        bool ct = strcasecmp(name, "Content-Type") == 0;
        const char *ph;
        size_t phlen;
        if (ct && tpl_next(json_string_value(v), &ph, &phlen))
            return refuse(e, i, field, "decides how the body is escaped: no placeholders in it");
        r->has_content_type |= ct;
        r->hnames[r->n_headers] = strdup(name);
        r->hvalues[r->n_headers] = strdup(json_string_value(v));
        r->n_headers++;
        if (!r->hnames[r->n_headers - 1] || !r->hvalues[r->n_headers - 1])
            return refuse(e, i, field, OOM);
    }
    return 0;
}

/* The rule's Content-Type value (its name as written in *name), or NULL. */
static const char *content_type(const notify_rule *r, const char **name)
{
    for (size_t k = 0; k < r->n_headers; k++)
        if (strcasecmp(r->hnames[k], "Content-Type") == 0) {
            if (name)
                *name = r->hnames[k];
            return r->hvalues[k];
        }
    return NULL;
}

static enum place body_place(const notify_rule *r)
{
    const char *ct = content_type(r, NULL);
    if (ct) {
        ct += strspn(ct, " \t");
        if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
            strchr("; \t", ct[33])) /* ct[33] may be the '\0', which strchr finds too */
            return PLACE_FORM;
        return strcasestr(ct, "json") ? PLACE_JSON : PLACE_RAW;
    }
    const char *b = r->body + strspn(r->body, " \t\r\n");
    return *b == '{' || *b == '[' ? PLACE_JSON : PLACE_RAW;
}

/* A JSON body must stay JSON: placeholders become "x" (so that one outside a string fails, as
 * an empty value would at render), {event} an object. */
static bool json_template_valid(const char *tpl, char *why, size_t size)
{
    json_t *ev = json_pack("{ss}", "id", "1-0");
    struct render_ctx c = {ev, NULL};
    char *text = ev ? tpl_expand(tpl, PLACE_JSON, &c, "x", NULL) : NULL;
    json_error_t je;
    json_t *j = text ? json_loads(text, JSON_DECODE_ANY, &je) : NULL;
    if (!j)
        snprintf(why, size, "%s", text ? je.text : OOM);
    bool ok = j != NULL;
    json_decref(j);
    json_decref(ev);
    free(text);
    return ok;
}

static int build_body(notify_rule *r, const json_t *v, field_error *e)
{
    size_t i = r->index;
    char unknown[80], why[160];
    bool bodiless = strcmp(r->method, "GET") == 0 || strcmp(r->method, "DELETE") == 0;
    const char *ct_name = NULL, *ct = content_type(r, &ct_name);
    char field[96];
    snprintf(field, sizeof field, "headers.%s", ct_name ? ct_name : "");
    if (!v && !bodiless && ct && !strcasestr(ct, "json"))
        return refuse(e, i, field,
                      "without body the event is sent as JSON: set a body or drop this header");
    if (!v)
        return 0;
    if (!json_is_string(v))
        return refuse(e, i, "body", "must be a string template");
    if (bodiless)
        return refuse(e, i, "body", "a %s has no body", r->method);
    if (tpl_unknown(json_string_value(v), unknown, sizeof unknown))
        return refuse(e, i, "body", "unknown placeholder {%s}", unknown);
    if (!(r->body = strdup(json_string_value(v))))
        return refuse(e, i, "body", OOM);
    r->body_place = body_place(r);
    if (r->body_place == PLACE_JSON && !json_template_valid(r->body, why, sizeof why))
        return refuse(e, i, "body", "is not valid JSON after a test substitution: %s", why);
    return 0;
}

static int build_sign(notify_rule *r, const json_t *v, const json_t *settings, field_error *e)
{
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return refuse(e, r->index, "sign", "must be true or false");
    r->sign = json_is_true(v);
    if (!r->sign)
        return 0;
    const char *secret = json_string_value(json_object_get(settings, "notify_secret"));
    if (!secret)
        return refuse(e, r->index, "sign", "needs settings.notify_secret");
    char sig[128];
    if (stdwh_sign(secret, "msg", 0, "", 0, sig, sizeof sig) < 0)
        return refuse_top(e, "settings.notify_secret",
                          "must be \"whsec_\" + base64: it signs rules");
    return 0;
}

static int build_id_method(notify_rule *r, const json_t *rule, field_error *e)
{
    const json_t *id = json_object_get(rule, "id");
    if (!json_is_string(id) || !id_valid(json_string_value(id)))
        return refuse(e, r->index, "id", "required: 1 to 64 of A-Z a-z 0-9 _ . -");
    const json_t *m = json_object_get(rule, "method");
    if (m && !in_list(methods, json_string_value(m)))
        return refuse(e, r->index, "method", "must be GET, POST, PUT, PATCH or DELETE");
    r->id = strdup(json_string_value(id));
    r->method = strdup(m ? json_string_value(m) : "POST");
    return r->id && r->method ? 0 : refuse(e, r->index, "", OOM);
}

static int check_keys(const json_t *rule, size_t i, field_error *e)
{
    static const char *const keys[] = {"id",         "on",         "method", "url",
                                       "headers",    "body",       "sign",   "retry",
                                       "timeout_ms", "rate_per_s", NULL};
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)rule, key, v)
    {
        if (!in_list(keys, key))
            return refuse(e, i, key,
                          "unknown key (id, on, method, url, headers, body, sign, retry, "
                          "timeout_ms, rate_per_s)");
    }
    return 0;
}

static void rule_free(notify_rule *r)
{
    if (!r)
        return;
    for (size_t k = 0; k < r->n_headers; k++) {
        free(r->hnames[k]);
        free(r->hvalues[k]);
    }
    free(r->hnames);
    free(r->hvalues);
    free(r->id);
    free(r->endpoint);
    free(r->method);
    free(r->url);
    free(r->body);
    json_decref(r->on_kind);
    json_decref(r->on_state);
    free(r);
}

/* Checks rule i and compiles it: NULL with e filled when it is refused (or memory ran out). */
static notify_rule *rule_build(const json_t *rule, const json_t *settings, size_t i, field_error *e)
{
    if (!json_is_object(rule)) {
        refuse(e, i, "", "must be an object");
        return NULL;
    }
    notify_rule *r = calloc(1, sizeof *r);
    if (!r) {
        refuse(e, i, "", OOM);
        return NULL;
    }
    r->index = i;
    r->on_dialer = -1;
    r->info = (notify_rule_info){.max_attempts = NOTIFY_DEFAULT_MAX_ATTEMPTS,
                                 .max_age_ms = (int64_t)NOTIFY_DEFAULT_MAX_AGE_S * 1000,
                                 .base_ms = NOTIFY_DEFAULT_BASE_MS,
                                 .max_delay_ms = NOTIFY_DEFAULT_MAX_DELAY_MS,
                                 .timeout_ms = NOTIFY_DEFAULT_TIMEOUT_MS};
    if (check_keys(rule, i, e) < 0 || build_id_method(r, rule, e) < 0 ||
        build_on(r, json_object_get(rule, "on"), e) < 0 ||
        build_url(r, json_object_get(rule, "url"), e) < 0 ||
        build_headers(r, json_object_get(rule, "headers"), e) < 0 ||
        build_body(r, json_object_get(rule, "body"), e) < 0 ||
        build_sign(r, json_object_get(rule, "sign"), settings, e) < 0 ||
        build_limits(r, rule, e) < 0) {
        rule_free(r);
        return NULL;
    }
    r->info.id = r->id;
    r->info.endpoint = r->endpoint;
    return r;
}

/* ---- the list ---- */

void notify_rules_free(notify_rules *rs)
{
    if (!rs)
        return;
    for (size_t k = 0; k < rs->n; k++)
        rule_free(rs->v[k]);
    free(rs->v);
    free(rs);
}

static notify_rules *rules_build(const json_t *settings, field_error *e)
{
    const json_t *list = json_object_get(settings, "notify");
    if (!list || json_array_size(list) == 0) {
        if (list && !json_is_array(list))
            refuse_top(e, "settings.notify", "must be a list of rules");
        return NULL;
    }
    if (json_array_size(list) > NOTIFY_RULES_MAX) {
        snprintf(e->field, sizeof e->field, "settings.notify");
        snprintf(e->message, sizeof e->message, "at most %d rules", NOTIFY_RULES_MAX);
        return NULL;
    }
    notify_rules *rs = calloc(1, sizeof *rs);
    if (!rs || !(rs->v = calloc(json_array_size(list), sizeof *rs->v))) {
        free(rs);
        refuse_top(e, "settings.notify", OOM);
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        notify_rule *r = rule_build(json_array_get(list, i), settings, i, e);
        if (!r)
            break;
        rs->v[rs->n++] = r;
        if (rs->n > 1 && notify_rules_find(rs, r->id) != r) {
            refuse(e, i, "id", "\"%s\" is the id of an earlier rule", r->id);
            break;
        }
    }
    if (!e->field[0])
        return rs;
    notify_rules_free(rs);
    return NULL;
}

int notify_rules_check(const json_t *settings, field_error *err)
{
    err->field[0] = err->message[0] = '\0';
    notify_rules *rs = rules_build(settings, err);
    notify_rules_free(rs);
    return err->field[0] ? -1 : 0;
}

notify_rules *notify_rules_compile(const json_t *settings, bool *oom)
{
    field_error e = {{0}, {0}};
    notify_rules *rs = rules_build(settings, &e);
    *oom = e.field[0] != '\0'; /* the check passed before: only memory can fail now */
    return rs;
}

notify_rule_info notify_rule_get_info(const notify_rule *r) { return r->info; }

const notify_rule *notify_rules_find(const notify_rules *rs, const char *id)
{
    for (size_t k = 0; rs && k < rs->n; k++)
        if (strcmp(rs->v[k]->id, id) == 0)
            return rs->v[k];
    return NULL;
}

/* ---- matching ---- */

static bool list_has(const json_t *list, const char *s)
{
    size_t k;
    const json_t *v;
    json_array_foreach(list, k, v)
    {
        if (s && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

bool notify_rule_matches(const notify_rule *r, const json_t *ev)
{
    if (r->on_kind && !list_has(r->on_kind, json_string_value(json_object_get(ev, "kind"))))
        return false;
    if (r->on_state && !list_has(r->on_state, event_state(ev)))
        return false;
    if (r->on_dialer >= 0) {
        const json_t *call = json_object_get(ev, "call");
        bool dialer = json_object_get(call, "campaign") || json_object_get(call, "crm_contact_id");
        return dialer == (r->on_dialer == 1);
    }
    return true;
}

/* ---- rendering ---- */

static void replace_crlf(char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            *s = ' ';
}

static int add_header(notify_request *q, const char *name, const char *value)
{
    char *h;
    if (asprintf(&h, "%s: %s", name, value) < 0)
        return -1;
    replace_crlf(h);
    q->headers[q->n_headers++] = h;
    return 0;
}

static int add_rule_headers(const notify_rule *r, const struct render_ctx *c, notify_request *q)
{
    for (size_t k = 0; k < r->n_headers; k++) {
        char *v = tpl_expand(r->hvalues[k], PLACE_HEADER, c, NULL, NULL);
        int rc = v ? add_header(q, r->hnames[k], v) : -1;
        free(v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int render_body(const notify_rule *r, const struct render_ctx *c, notify_request *q)
{
    if (r->body) {
        q->body = tpl_expand(r->body, r->body_place, c, NULL, &q->body_len);
        return q->body ? 0 : -1;
    }
    if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "DELETE") == 0)
        return 0;
    q->body = json_dumps(c->event, JSON_COMPACT | JSON_ENCODE_ANY);
    q->body_len = q->body ? strlen(q->body) : 0;
    return q->body ? 0 : -1;
}

static const char *default_content_type(const notify_rule *r)
{
    return !r->body || r->body_place == PLACE_JSON ? "application/json"
                                                   : "text/plain; charset=utf-8";
}

static int add_signature(const notify_rule *r, const json_t *settings, const char *msg_id,
                         int64_t now_s, notify_request *q, field_error *err)
{
    char ts[24], sig[128];
    snprintf(ts, sizeof ts, "%" PRId64, now_s);
    const char *secret = json_string_value(json_object_get(settings, "notify_secret"));
    if (!secret || stdwh_sign(secret, msg_id, now_s, q->body ? q->body : "",
                              q->body ? q->body_len : 0, sig, sizeof sig) < 0)
        return refuse(err, r->index, "sign", "settings.notify_secret cannot sign");
    if (add_header(q, "webhook-timestamp", ts) < 0 || add_header(q, "webhook-signature", sig) < 0)
        return refuse(err, r->index, "", OOM);
    return 0;
}

int notify_render(const notify_rule *r, const json_t *event, const json_t *settings,
                  const char *msg_id, int64_t now_s, notify_request *out, field_error *err)
{
    struct render_ctx c = {event, settings};
    memset(out, 0, sizeof *out);
    out->headers = calloc(r->n_headers + 5, sizeof *out->headers);
    out->method = strdup(r->method);
    out->url = tpl_expand(r->url, PLACE_URL, &c, NULL, NULL);
    if (!out->headers || !out->method || !out->url || render_body(r, &c, out) < 0 ||
        add_header(out, "webhook-id", msg_id) < 0 ||
        add_header(out, "User-Agent", "callrelay") < 0 || add_rule_headers(r, &c, out) < 0 ||
        (out->body && !r->has_content_type &&
         add_header(out, "Content-Type", default_content_type(r)) < 0)) {
        notify_request_free(out);
        return refuse(err, r->index, "", OOM);
    }
    if (r->sign && add_signature(r, settings, msg_id, now_s, out, err) < 0) {
        notify_request_free(out);
        return -1;
    }
    return 0;
}

void notify_request_free(notify_request *q)
{
    for (size_t k = 0; q->headers && k < q->n_headers; k++)
        free(q->headers[k]);
    free(q->headers);
    free(q->method);
    free(q->url);
    free(q->body);
    memset(q, 0, sizeof *q);
}

/* ---- retries ---- */

int64_t notify_retry_delay_ms(const notify_rule_info *info, unsigned attempts, uint64_t random)
{
    int64_t cap = info->base_ms > 0 ? info->base_ms : 0;
    for (unsigned k = 1; k < attempts && cap < info->max_delay_ms; k++)
        cap *= 2;
    if (cap > info->max_delay_ms)
        cap = info->max_delay_ms;
    if (cap <= 0)
        return 0;
    return (int64_t)(random % ((uint64_t)cap + 1));
}
