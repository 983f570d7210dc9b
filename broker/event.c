/* event.c — an adapter's event becomes one stored JSON text per user. */
#include "event.h"

#include <openssl/sha.h>
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

static char *sha256_hex(const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    char *key = malloc(2 * SHA256_DIGEST_LENGTH + 1);
    if (!key)
        return NULL;
    SHA256((const unsigned char *)text, len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        key[2 * i] = hex[md[i] >> 4];
        key[2 * i + 1] = hex[md[i] & 15];
    }
    key[2 * SHA256_DIGEST_LENGTH] = '\0';
    return key;
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
    char *object;  /* the object named by kind, JSON; NULL when absent */
    char *raw;     /* JSON; NULL when absent */
} pieces;

static void pieces_free(pieces *p)
{
    free(p->call_id);
    free(p->object);
    free(p->raw);
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
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "%s\n%s\n%s\n", p->kind, p->call_id, p->ts_given ? p->ts : "");
    for (size_t i = 0; i < out->n_users; i++)
        fprintf(f, "%s,", out->users[i]);
    fprintf(f, "\n%s\n%s", p->object ? p->object : "", p->raw ? p->raw : "");
    fclose(f);
    char *key = buf ? sha256_hex(buf, len) : NULL;
    free(buf);
    return key;
}

static char *render(const pieces *p, const char *integration, const char *source,
                    const char *user)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "{\"kind\":\"%s\",\"integration\":\"%s\",\"user\":\"%s\",\"call_id\":%s,"
               "\"ts\":\"%s\",\"source\":\"%s\"",
            p->kind, integration, user, p->call_id, p->ts, source);
    if (p->object)
        fprintf(f, ",\"%s\":%s", p->kind, p->object);
    if (p->raw)
        fprintf(f, ",\"raw\":%s", p->raw);
    fputc('}', f);
    fclose(f);
    return buf;
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
