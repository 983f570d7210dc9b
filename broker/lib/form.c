/* form.c — the form decoder; see form.h. Strict where browsers are lenient: a PBX that sends
 * a bad escape has a bug worth a 400, not a guessed value. */
#include "form.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int form_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long form_unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] != '%') {
            out[o++] = s[i];
        } else {
            int hi = i + 2 < n ? form_hex(s[i + 1]) : -1, lo = hi >= 0 ? form_hex(s[i + 2]) : -1;
            if (lo < 0)
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        }
        if (out[o - 1] == '\0')
            return -1;
    }
    return (long)o;
}

/* name -> value; a repeated name becomes an array of its values. */
static int add(json_t *obj, const char *name, json_t *value)
{
    json_t *old = json_object_get(obj, name);
    if (!old)
        return json_object_set_new(obj, name, value);
    if (json_is_array(old))
        return json_array_append_new(old, value);
    json_t *list = json_pack("[O]", old);
    if (!list || json_array_append_new(list, value) < 0) {
        json_decref(list);
        return -1;
    }
    return json_object_set_new(obj, name, list);
}

static int form_fail(char *err, size_t size, const char *what, size_t at)
{
    if (err && size)
        snprintf(err, size, "%s in the form body at byte %zu", what, at);
    return -1;
}

static bool utf8_ok(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    json_decref(j);
    return j != NULL;
}

/* One "name=value" of n bytes at offset at; buf has room for both decoded. */
static int add_pair(json_t *obj, const char *pair, size_t n, size_t at, char *buf, char *err,
                    size_t err_size)
{
    const char *eq = memchr(pair, '=', n);
    size_t nl = eq ? (size_t)(eq - pair) : n;
    long kn = form_unescape(pair, nl, buf);
    if (kn < 0)
        return form_fail(err, err_size, "a malformed escape or NUL", at);
    buf[kn] = '\0';
    char *val = buf + kn + 1;
    long vn = eq ? form_unescape(eq + 1, n - nl - 1, val) : 0;
    if (vn < 0)
        return form_fail(err, err_size, "a malformed escape or NUL", at + nl + 1);
    if (!utf8_ok(buf, (size_t)kn))
        return form_fail(err, err_size, "a name that is not UTF-8", at);
    json_t *v = json_stringn(val, (size_t)vn);
    if (!v)
        return form_fail(err, err_size, "a value that is not UTF-8", at + nl + 1);
    return add(obj, buf, v) < 0 ? form_fail(err, err_size, "out of memory", at) : 0;
}

json_t *form_parse(const char *body, size_t len, char *err, size_t err_size)
{
    json_t *obj = json_object();
    char *buf = malloc(len + 2);
    int rc = obj && buf ? 0 : form_fail(err, err_size, "out of memory", 0);
    for (size_t at = 0; rc == 0 && at < len;) {
        const char *amp = memchr(body + at, '&', len - at);
        size_t n = amp ? (size_t)(amp - body - at) : len - at;
        if (n)
            rc = add_pair(obj, body + at, n, at, buf, err, err_size);
        at += n + 1;
    }
    free(buf);
    if (rc == 0)
        return obj;
    json_decref(obj);
    return NULL;
}
