/* event.c — an adapter's event becomes one stored JSON text per user. */
#include "event.h"

#include "digest.h"
#include <stdbool.h>
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

/* The serialized pieces of one event. Each is dumped once and shared by the key hash and
 * by every user's copy: serialization is most of the cost of an event. */
typedef struct pieces {
    const char *kind;
    char *call_id; /* JSON string */
    char ts[40];
    bool ts_given;
    char *object; /* the object named by kind, JSON; NULL when absent */
    char *raw;    /* JSON; NULL when absent */
} pieces;

static void pieces_free(pieces *p)
{
    free(p->call_id);
    free(p->object);
    free(p->raw);
}

/* A growing string; every append checks room, and a failed allocation poisons it. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_add(sbuf *b, const char *text, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *text) { sb_add(b, text, strlen(text)); }

static char *sb_take(sbuf *b)
{
    if (b->failed) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

static char *dump(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
}

static int pieces_make(const json_t *ev, int64_t now_ms, pieces *p)
{
    memset(p, 0, sizeof *p);
    p->kind = json_string_value(json_object_get(ev, "kind"));
    const json_t *call_id = json_object_get(ev, "call_id");
    const char *ts = json_string_value(json_object_get(ev, "ts"));
    const json_t *object = p->kind ? json_object_get(ev, p->kind) : NULL;
    if (!p->kind || !json_is_string(call_id) || strpbrk(p->kind, "\"\\"))
        return -1;
    p->ts_given = ts && strlen(ts) < sizeof p->ts && !strpbrk(ts, "\"\\");
    if (p->ts_given)
        strcpy(p->ts, ts);
    else
        event_format_ts(now_ms, p->ts, sizeof p->ts);
    p->call_id = dump(call_id);
    if (json_is_object(object))
        p->object = dump(object);
    p->raw = dump(json_object_get(ev, "raw"));
    return p->call_id && (!json_is_object(object) || p->object) ? 0 : -1;
}

/* Without a key the event's content names it: kind, call_id, the ts the PBX gave (not the
 * one stamped here), its users and its objects, as the adapter normalized them (adapters emit
 * fields in a fixed order, so a retry with reordered fields hashes the same). */
static char *content_key(const pieces *p, const event_prepared *out)
{
    sbuf b = {0};
    const char *parts[] = {p->kind, "\n", p->call_id, "\n", p->ts_given ? p->ts : "", "\n"};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        sb_str(&b, parts[i]);
    for (size_t i = 0; i < out->n_users; i++) {
        sb_str(&b, out->users[i]);
        sb_str(&b, ",");
    }
    sb_str(&b, "\n");
    sb_str(&b, p->object ? p->object : "");
    sb_str(&b, "\n");
    sb_str(&b, p->raw ? p->raw : "");
    char *text = sb_take(&b), *key = text ? malloc(DIGEST_HEX_LEN + 1) : NULL;
    if (key)
        digest_sha256_hex(text, b.len, key);
    free(text);
    return key;
}

static char *render(const pieces *p, const char *integration, const char *source, const char *user)
{
    sbuf b = {0};
    const char *parts[] = {"{\"kind\":\"",
                           p->kind,
                           "\",\"integration\":\"",
                           integration,
                           "\",\"user\":\"",
                           user,
                           "\",\"call_id\":",
                           p->call_id,
                           ",\"ts\":\"",
                           p->ts,
                           "\",\"source\":\"",
                           source,
                           "\""};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        sb_str(&b, parts[i]);
    if (p->object) {
        sb_str(&b, ",\"");
        sb_str(&b, p->kind);
        sb_str(&b, "\":");
        sb_str(&b, p->object);
    }
    if (p->raw) {
        sb_str(&b, ",\"raw\":");
        sb_str(&b, p->raw);
    }
    sb_str(&b, "}");
    return sb_take(&b);
}

int event_prepare(const json_t *ev, const char *integration, const char *source, int64_t now_ms,
                  event_prepared *out)
{
    pieces p = {0};
    memset(out, 0, sizeof *out);
    int rc = -1;
    if (!json_is_object(ev) || collect_users(ev, out) < 0 || pieces_make(ev, now_ms, &p) < 0)
        goto out;
    const char *key = json_string_value(json_object_get(ev, "key"));
    out->key = key && *key ? strdup(key) : content_key(&p, out);
    rc = out->key ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < out->n_users; i++)
        if (!(out->json[i] = render(&p, integration, source, out->users[i])))
            rc = -1;
out:
    pieces_free(&p);
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
