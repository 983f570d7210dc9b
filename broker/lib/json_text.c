/* json_text.c — see json_text.h. Reals are left to jansson: how it writes a double is its own
 * rule, and events rarely carry one. */
#include "json_text.h"
#include "utf8.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 2048 /* jansson's parser refuses deeper nesting */

typedef struct text {
    char *s;
    size_t len, cap;
    bool failed;
} text;

static void put(text *t, const char *p, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = true;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
}

/* As jansson escapes: the quote, the backslash and the control characters, nothing else. */
static void escape(text *t, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    char seq[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
    const char *short_form = c == '"'    ? "\\\""
                             : c == '\\' ? "\\\\"
                             : c == '\b' ? "\\b"
                             : c == '\f' ? "\\f"
                             : c == '\n' ? "\\n"
                             : c == '\r' ? "\\r"
                             : c == '\t' ? "\\t"
                                         : NULL;
    if (short_form)
        put(t, short_form, 2);
    else
        put(t, seq, 6);
}

static void string(text *t, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
    put(t, "\"", 1);
    while (p < end && !t->failed) {
        if (*p >= 0x80) {
            int len = utf8_sequence(p);
            if (len == 0 || len > end - p)
                t->failed = true;
            p += len;
        } else if (*p < 0x20 || *p == '"' || *p == '\\') {
            put(t, (const char *)run, (size_t)(p - run));
            escape(t, *p);
            run = ++p;
        } else {
            p++;
        }
    }
    put(t, (const char *)run, (size_t)(p - run));
    put(t, "\"", 1);
}

static void value(text *t, const json_t *v, int depth);

static void object(text *t, const json_t *v, int depth)
{
    const char *sep = "{";
    for (void *it = json_object_iter((json_t *)v); it && !t->failed;
         it = json_object_iter_next((json_t *)v, it)) {
        put(t, sep, 1);
        string(t, json_object_iter_key(it), json_object_iter_key_len(it));
        put(t, ":", 1);
        value(t, json_object_iter_value(it), depth + 1);
        sep = ",";
    }
    put(t, *sep == '{' ? "{}" : "}", *sep == '{' ? 2 : 1);
}

static void array(text *t, const json_t *v, int depth)
{
    size_t n = json_array_size(v);
    put(t, "[", 1);
    for (size_t i = 0; i < n && !t->failed; i++) {
        if (i)
            put(t, ",", 1);
        value(t, json_array_get(v, i), depth + 1);
    }
    put(t, "]", 1);
}

static void value(text *t, const json_t *v, int depth)
{
    char buf[64];
    int n;
    if (!v || depth > DEPTH_MAX) {
        t->failed = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        object(t, v, depth);
        break;
    case JSON_ARRAY:
        array(t, v, depth);
        break;
    case JSON_STRING:
        string(t, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        n = snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(t, buf, (size_t)n);
        break;
    case JSON_REAL:
        n = (int)json_dumpb(v, buf, sizeof buf, JSON_ENCODE_ANY);
        if (n <= 0 || (size_t)n > sizeof buf)
            t->failed = true;
        else
            put(t, buf, (size_t)n);
        break;
    case JSON_TRUE:
        put(t, "true", 4);
        break;
    case JSON_FALSE:
        put(t, "false", 5);
        break;
    case JSON_NULL:
        put(t, "null", 4);
        break;
    }
}

char *json_text(const json_t *v, size_t *len)
{
    text t = {0};
    value(&t, v, 0);
    put(&t, "", 0); /* room for the NUL even when v wrote nothing */
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    t.s[t.len] = '\0';
    *len = t.len;
    return t.s;
}
