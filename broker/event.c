/* event.c — an adapter's event becomes one stored JSON text per user. */
#include "event.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void event_format_ts(int64_t unix_ms, char *buf, size_t size)
{
    int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
    if (ms < 0) { /* floor division, so times before 1970 still read forwards */
        ms += 1000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, size, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

/* Lowercase hex SHA-256 of the canonical JSON (compact, keys sorted). */
static char *canonical_key(const json_t *ev)
{
    static const char hex[] = "0123456789abcdef";
    char *text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text)
        return NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok = EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
    free(text);
    char *key = ok ? malloc(2 * mdlen + 1) : NULL;
    if (!key)
        return NULL;
    for (unsigned int i = 0; i < mdlen; i++) {
        key[2 * i] = hex[md[i] >> 4];
        key[2 * i + 1] = hex[md[i] & 15];
    }
    key[2 * mdlen] = '\0';
    return key;
}

static char *event_key(const json_t *ev)
{
    const char *key = json_string_value(json_object_get(ev, "key"));
    if (key && *key)
        return strdup(key);
    return canonical_key(ev);
}

static int seen_before(char **users, size_t n, const char *u)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(users[i], u) == 0)
            return 1;
    return 0;
}

/* The distinct string entries of ev.users, in order. */
static int collect_users(const json_t *ev, event_prepared *out)
{
    const json_t *arr = json_object_get(ev, "users");
    size_t n = json_array_size(arr);
    if (n == 0)
        return -1;
    out->users = calloc(n, sizeof *out->users);
    out->json = calloc(n, sizeof *out->json);
    if (!out->users || !out->json)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *u = json_string_value(json_array_get(arr, i));
        if (!u)
            return -1;
        if (seen_before(out->users, out->n_users, u))
            continue;
        if (!(out->users[out->n_users] = strdup(u)))
            return -1;
        out->n_users++;
    }
    return 0;
}

static int set_copy(json_t *dst, const char *key, const json_t *ev)
{
    json_t *v = json_object_get(ev, key);
    return v ? json_object_set(dst, key, v) : 0;
}

/* The object named by kind, e.g. "call"; only an object, so kind can never name (and
 * overwrite) one of the fixed fields. */
static int set_kind_object(json_t *dst, const char *kind, const json_t *ev)
{
    json_t *v = kind ? json_object_get(ev, kind) : NULL;
    if (!json_is_object(v) || json_object_get(dst, kind))
        return 0;
    return json_object_set(dst, kind, v);
}

/* The stored object with the fixed key order; "user" is a placeholder set per copy. */
static json_t *build_template(const json_t *ev, const char *integration, const char *source,
                              int64_t now_ms)
{
    char ts[32];
    const char *given_ts = json_string_value(json_object_get(ev, "ts"));
    if (!given_ts)
        event_format_ts(now_ms, ts, sizeof ts);
    const char *kind = json_string_value(json_object_get(ev, "kind"));
    json_t *o = json_object();
    if (!o || set_copy(o, "kind", ev) ||
        json_object_set_new(o, "integration", json_string(integration)) ||
        json_object_set_new(o, "user", json_string("")) || set_copy(o, "call_id", ev) ||
        json_object_set_new(o, "ts", json_string(given_ts ? given_ts : ts)) ||
        json_object_set_new(o, "source", json_string(source)) || set_kind_object(o, kind, ev) ||
        set_copy(o, "raw", ev)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int render_copies(json_t *tmpl, event_prepared *out)
{
    for (size_t i = 0; i < out->n_users; i++) {
        if (json_object_set_new(tmpl, "user", json_string(out->users[i])) < 0)
            return -1;
        out->json[i] = json_dumps(tmpl, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!out->json[i])
            return -1;
    }
    return 0;
}

int event_prepare(const json_t *ev, const char *integration, const char *source, int64_t now_ms,
                  event_prepared *out)
{
    memset(out, 0, sizeof *out);
    json_t *tmpl = NULL;
    int rc = -1;
    if (!json_is_object(ev) || !(out->key = event_key(ev)) || collect_users(ev, out) < 0)
        goto out;
    tmpl = build_template(ev, integration, source, now_ms);
    if (tmpl && render_copies(tmpl, out) == 0)
        rc = 0;
out:
    json_decref(tmpl);
    if (rc < 0)
        event_prepared_free(out);
    return rc;
}

void event_prepared_free(event_prepared *p)
{
    for (size_t i = 0; i < p->n_users; i++) {
        free(p->users[i]);
        if (p->json)
            free(p->json[i]);
    }
    free(p->users);
    free(p->json);
    free(p->key);
    memset(p, 0, sizeof *p);
}
