/* common.c — see common.h. */
#include "common.h"
#include "names.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int vfail(adapter_error *e, const char *fmt, va_list ap)
{
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    return -1;
}

int adapter_fail(adapter_error *e, const char *field, const char *fmt, ...)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vfail(e, fmt, ap);
    va_end(ap);
    return -1;
}

int adapter_fail_at(adapter_error *e, const char *path, const char *name, const char *fmt, ...)
{
    if (*path && *name)
        snprintf(e->field, sizeof e->field, "%s.%s", path, name);
    else
        snprintf(e->field, sizeof e->field, "%s", *path ? path : name);
    va_list ap;
    va_start(ap, fmt);
    vfail(e, fmt, ap);
    va_end(ap);
    return -1;
}

const char *adapter_header(const adapter_request *req, const char *name)
{
    return req->header ? req->header(req, name) : NULL;
}

int adapter_answer_summary(const adapter_counts *c, adapter_answer *out)
{
    char body[192];
    int n = snprintf(body, sizeof body,
                     "{\"result\":{\"code\":0,\"message\":\"ok\"},\"accepted\":%u,"
                     "\"duplicates\":%u,\"ignored\":%u,\"stale\":%u}",
                     c->accepted, c->duplicates, c->ignored, c->stale);
    *out = (adapter_answer){.status = 200, .content_type = "application/json"};
    out->body = strndup(body, (size_t)n);
    out->body_len = (size_t)n;
    return out->body ? 0 : -1;
}

void adapter_http_clear(adapter_http *h)
{
    free(h->url);
    free(h->headers);
    free(h->body);
    *h = (adapter_http){0};
}

/* ---- building commands ---- */

#define CMD_STR_MAX 256

const char *adapter_command_str(const json_t *command, const char *name, bool required,
                                adapter_error *err)
{
    const json_t *v = json_object_get(command, name);
    if (!v || json_is_null(v)) {
        if (!required)
            return "";
        adapter_fail(err, name, "is required for this command");
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    bool ok = s && n > 0 && n <= CMD_STR_MAX && strlen(s) == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
    if (!ok) {
        adapter_fail(err, name, "must be a string of 1 to %d characters, without controls",
                     CMD_STR_MAX);
        return NULL;
    }
    return s;
}

const char *adapter_command_ext(const json_t *command, const char *name, bool required,
                                adapter_error *err)
{
    const char *s = adapter_command_str(command, name, required, err);
    if (s && *s && !name_extension_valid(s)) {
        adapter_fail(err, name, "must be an extension: 1 to 64 of A-Z a-z 0-9 _ . + -");
        return NULL;
    }
    return s;
}

const char *adapter_command_setting(const json_t *settings, const char *dialect, const char *name,
                                    const char *dflt, adapter_error *err)
{
    const char *s = json_string_value(json_object_get(json_object_get(settings, dialect), name));
    if (s && *s)
        return s;
    if (!dflt) {
        char field[128];
        snprintf(field, sizeof field, "settings.%s.%s", dialect, name);
        adapter_fail(err, field,
                     "commands need this setting (webhooks work without it): update the "
                     "integration's settings");
    }
    return dflt;
}

char *adapter_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1), *o = out;
    /* "." and ".." alone would be dot segments that the URL's path loses */
    bool dots = strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || (*p == '.' && !dots) || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

char *adapter_url_join(const char *base, const char *path)
{
    size_t nb = strlen(base);
    while (nb > 0 && base[nb - 1] == '/')
        nb--;
    while (*path == '/')
        path++;
    char *out = NULL;
    return asprintf(&out, "%.*s/%s", (int)nb, base, path) < 0 ? NULL : out;
}

/* Appends n bytes of s to the malloc'd string *buf (its length *len). */
static int append(char **buf, size_t *len, const char *s, size_t n)
{
    char *b = realloc(*buf, *len + n + 1);
    if (!b)
        return -1;
    memcpy(b + *len, s, n);
    *len += n;
    b[*len] = '\0';
    *buf = b;
    return 0;
}

char *adapter_url_fmt(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    size_t len = 0;
    int rc = append(&out, &len, "", 0);
    va_start(ap, fmt);
    for (const char *p = fmt; rc == 0 && *p; p++) {
        if (p[0] == '%' && p[1] == 's') {
            char *esc = adapter_url_escape(va_arg(ap, const char *));
            rc = esc ? append(&out, &len, esc, strlen(esc)) : -1;
            free(esc);
            p++;
        } else {
            rc = append(&out, &len, p, 1);
        }
    }
    va_end(ap);
    if (rc < 0) {
        free(out);
        return NULL;
    }
    return out;
}

int adapter_form_add(char **buf, const char *name, const char *value)
{
    char *n = adapter_url_escape(name), *v = adapter_url_escape(value), *out = NULL;
    int rc =
        n && v ? asprintf(&out, "%s%s%s=%s", *buf ? *buf : "", *buf && **buf ? "&" : "", n, v) : -1;
    free(n);
    free(v);
    free(*buf);
    *buf = rc < 0 ? NULL : out;
    return rc < 0 ? -1 : 0;
}

char *adapter_template(const char *tmpl, const char *extension)
{
    static const char mark[] = "{extension}";
    char *out = NULL;
    size_t len = 0;
    int rc = append(&out, &len, "", 0);
    const char *p = tmpl, *hit;
    while (rc == 0 && (hit = strstr(p, mark))) {
        rc = append(&out, &len, p, (size_t)(hit - p));
        if (rc == 0)
            rc = append(&out, &len, extension, strlen(extension));
        p = hit + sizeof mark - 1;
    }
    if (rc == 0)
        rc = append(&out, &len, p, strlen(p));
    if (rc < 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *adapter_basic_auth(const char *user, const char *password, const char *extra)
{
    char *plain = NULL, *out = NULL;
    int n = asprintf(&plain, "%s:%s", user, password);
    if (n < 0)
        return NULL;
    unsigned char *b64 = malloc(4 * ((size_t)n / 3 + 1) + 1);
    if (b64) {
        EVP_EncodeBlock(b64, (const unsigned char *)plain, n);
        if (asprintf(&out, "Authorization: Basic %s\r\n%s", b64, extra ? extra : "") < 0)
            out = NULL;
    }
    OPENSSL_cleanse(plain, (size_t)n);
    free(plain);
    free(b64);
    return out;
}

int adapter_command_fail(json_t *result, int status, int code, json_t *pbx_code, const char *fmt,
                         ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int rc = json_object_set_new(result, "status", json_integer(status)) |
             json_object_set_new(result, "code", json_integer(code)) |
             json_object_set_new(result, "message", json_string(msg));
    if (pbx_code)
        rc |= json_object_set_new(result, "answer", json_pack("{s:o}", "pbx_code", pbx_code));
    return rc ? -1 : 0;
}

json_t *adapter_route_result(const char *command_id, int result, const char *to_extension,
                             const char *source)
{
    return json_pack("{s:s,s:s,s:{s:s,s:i,s:{s:s}},s:s}", "kind", "route_result", "target",
                     "command", "route_result", "command_id", command_id, "result", result, "to",
                     "extension", to_extension, "source", source);
}

json_t *adapter_reply_json(const adapter_reply *reply)
{
    if (!reply->body || !reply->body_len)
        return NULL;
    json_t *doc = json_loadb(reply->body, reply->body_len, 0, NULL);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* ITU-T Q.850 cause names, for the causes PBXs commonly end calls with. */
static const struct {
    int code;
    const char *name;
} q850[] = {
    {1, "unallocated (unassigned) number"},
    {2, "no route to specified transit network"},
    {3, "no route to destination"},
    {16, "normal call clearing"},
    {17, "user busy"},
    {18, "no user responding"},
    {19, "no answer from user (user alerted)"},
    {20, "subscriber absent"},
    {21, "call rejected"},
    {22, "number changed"},
    {26, "non-selected user clearing"},
    {27, "destination out of order"},
    {28, "invalid number format (address incomplete)"},
    {31, "normal, unspecified"},
    {34, "no circuit/channel available"},
    {38, "network out of order"},
    {41, "temporary failure"},
    {42, "switching equipment congestion"},
    {102, "recovery on timer expiry"},
    {127, "interworking, unspecified"},
};

const char *adapter_q850_name(int code)
{
    for (size_t i = 0; i < sizeof q850 / sizeof q850[0]; i++)
        if (q850[i].code == code)
            return q850[i].name;
    return "unspecified cause";
}

int adapter_call_placed_or_routed(const json_t *command, const adapter_reply *reply,
                                  const char *id_key, const char *source, json_t *result,
                                  adapter_error *err)
{
    const char *op = json_string_value(json_object_get(command, "op"));
    if (op && strcmp(op, "callback") == 0) {
        json_t *doc = adapter_reply_json(reply);
        const char *id = json_string_value(json_object_get(doc, id_key));
        int rc = id && *id
                     ? json_object_set_new(result, "answer", json_pack("{s:s}", "call_id", id))
                     : adapter_fail(err, "", "the answer has no call %s", id_key);
        json_decref(doc);
        return rc;
    }
    if (!op || strcmp(op, "route") != 0)
        return 0;
    const char *id = json_string_value(json_object_get(command, "command_id"));
    const char *to = json_string_value(json_object_get(command, "to_extension"));
    return json_object_set_new(result, "events",
                               json_pack("[o]", adapter_route_result(id, 0, to, source)));
}
