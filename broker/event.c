/* event.c — an adapter's event becomes one stored JSON text per user. */
#include "event.h"

#include "digest.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + n;
}

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
    if (tm.tm_year < -1900 || tm.tm_year > 9999 - 1900 || size < 25) {
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
        return;
    }
    /* by hand: every stamped event passes here, and snprintf is most of its cost */
    char *p = digits(buf, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = digits(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = digits(p, tm.tm_sec, 2);
    *p++ = '.';
    p = digits(p, (int)ms, 3);
    memcpy(p, "Z", 2);
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
    if (!out->users)
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

/* Named users, or a target the script resolves. */
static int collect_audience(const json_t *ev, event_prepared *out)
{
    const char *target = json_string_value(json_object_get(ev, "target"));
    if (!target)
        return collect_users(ev, out);
    if (strcmp(target, "one_online") == 0)
        out->target = EVENT_TO_ONE_ONLINE;
    else if (strcmp(target, "call_parties") == 0)
        out->target = EVENT_TO_CALL_PARTIES;
    else if (strcmp(target, "command") == 0)
        out->target = EVENT_TO_COMMAND;
    else
        return -1;
    if (out->target != EVENT_TO_COMMAND)
        return 0;
    const char *id =
        json_string_value(json_object_get(json_object_get(ev, "route_result"), "command_id"));
    return id && (out->command_id = strdup(id)) ? 0 : -1;
}

/* The serialized pieces of one event. Each is dumped once and shared by the key hash and
 * the template: serialization is most of the cost of an event. */
typedef struct pieces {
    const char *kind;
    const char *call_id_raw; /* NULL: a command's result whose call the script finds */
    char *call_id;           /* JSON string, or NULL */
    char ts[40];
    bool ts_given;
    bool group_slot; /* a disconnected call event that does not say is_group_disconnect */
    const json_t *obj;
    char *object; /* the object named by kind, JSON; NULL when absent */
    char *raw;    /* JSON; NULL when absent */
    const json_t *order;
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

/* One allocation for a text whose size is known in advance, instead of doubling up to it. */
static void sb_reserve(sbuf *b, size_t n)
{
    if (b->s || b->failed)
        return;
    if (!(b->s = malloc(n))) {
        b->failed = true;
        return;
    }
    b->cap = n;
    b->s[0] = '\0';
}

static size_t len0(const char *s) { return s ? strlen(s) : 0; }

static char *sb_take(sbuf *b)
{
    if (b->failed) {
        free(b->s);
        return NULL;
    }
    return b->s;
}

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

/* Through the stack when it fits: json_dumps grows its buffer by doubling, a realloc each. */
static char *dump(const json_t *v)
{
    char buf[2048];
    size_t n = v ? json_dumpb(v, buf, sizeof buf, DUMP_FLAGS) : 0;
    if (n == 0 || n > sizeof buf)
        return v ? json_dumps(v, DUMP_FLAGS) : NULL;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, buf, n);
        s[n] = '\0';
    }
    return s;
}

/* Appends v as compact JSON, through the stack for small values. */
static void sb_dump(sbuf *b, const json_t *v)
{
    char buf[512];
    size_t n = json_dumpb(v, buf, sizeof buf, DUMP_FLAGS);
    if (n > 0 && n <= sizeof buf) {
        sb_add(b, buf, n);
        return;
    }
    char *s = n ? dump(v) : NULL;
    if (s)
        sb_str(b, s);
    else
        b->failed = true;
    free(s);
}

static bool group_slot(const char *kind, const json_t *object)
{
    const char *state = json_string_value(json_object_get(object, "state"));
    return strcmp(kind, "call") == 0 && state && strcmp(state, "disconnected") == 0 &&
           !json_object_get(object, "is_group_disconnect");
}

static int pieces_make(const json_t *ev, int64_t now_ms, bool command, pieces *p)
{
    memset(p, 0, sizeof *p);
    p->kind = json_string_value(json_object_get(ev, "kind"));
    const json_t *call_id = json_object_get(ev, "call_id");
    const char *ts = json_string_value(json_object_get(ev, "ts"));
    const json_t *object = p->kind ? json_object_get(ev, p->kind) : NULL;
    if (!p->kind || strpbrk(p->kind, "\"\\") || (!json_is_string(call_id) && !command))
        return -1;
    p->ts_given = ts && strlen(ts) < sizeof p->ts && !strpbrk(ts, "\"\\");
    if (p->ts_given)
        strcpy(p->ts, ts);
    else
        event_format_ts(now_ms, p->ts, sizeof p->ts);
    p->call_id_raw = json_string_value(call_id);
    if (p->call_id_raw && !(p->call_id = dump(call_id)))
        return -1;
    p->order = json_object_get(ev, "order");
    if (json_is_object(object)) {
        p->obj = object;
        p->group_slot = group_slot(p->kind, object);
        if (!(p->object = dump(object)))
            return -1;
    }
    p->raw = dump(json_object_get(ev, "raw"));
    return 0;
}

static const char *target_name(enum event_target t)
{
    static const char *const names[] = {"", "one_online", "call_parties", "command"};
    return names[t];
}

/* Without a key the event's content names it: kind, call_id, the ts the PBX gave (not the
 * one stamped here), its users (or target) and its objects, as the adapter normalized them
 * (adapters emit fields in a fixed order, so a retry with reordered fields hashes the same).
 * Not its order: two legs' reports of one fact (FreeSWITCH's A- and B-leg CDRs) differ only
 * there, and a user must see the fact once. */
static char *content_key(const pieces *p, const event_prepared *out)
{
    size_t n = 0, max = 12 + 2 * out->n_users;
    digest_piece *d = malloc(max * sizeof *d);
    char *key = d ? malloc(DIGEST_HEX_LEN + 1) : NULL;
#define PIECE(s) (d[n++] = (digest_piece){(s), strlen(s)})
    if (key) {
        PIECE(p->kind);
        PIECE("\n");
        PIECE(p->call_id ? p->call_id : "");
        PIECE("\n");
        PIECE(p->ts_given ? p->ts : "");
        PIECE("\n");
        for (size_t i = 0; i < out->n_users; i++) {
            PIECE(out->users[i]);
            PIECE(",");
        }
        PIECE(out->target != EVENT_TO_USERS ? "@" : "");
        PIECE(target_name(out->target));
        PIECE("\n");
        PIECE(p->object ? p->object : "");
        PIECE("\n");
        PIECE(p->raw ? p->raw : "");
        digest_sha256_pieces_hex(d, n, key);
    }
#undef PIECE
    free(d);
    return key;
}

static const char mark_user[] = {EVENT_MARK_USER, '\0'};
static const char mark_call_id[] = {EVENT_MARK_CALL_ID, '\0'};
static const char group_close[] = {EVENT_MARK_GROUP, '}', '\0'};

static char *render(const pieces *p, const char *integration, const char *source, size_t *len)
{
    sbuf b = {0};
    sb_reserve(&b, 160 + strlen(integration) + strlen(source) + len0(p->call_id) + len0(p->object) +
                       len0(p->raw));
    const char *parts[] = {"{\"kind\":\"",
                           p->kind,
                           "\",\"integration\":\"",
                           integration,
                           "\",\"user\":\"",
                           mark_user,
                           "\",\"call_id\":",
                           p->call_id ? p->call_id : mark_call_id,
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
        if (p->group_slot) { /* the object ends with '}' and holds at least its state */
            sb_add(&b, p->object, strlen(p->object) - 1);
            sb_str(&b, group_close);
        } else {
            sb_str(&b, p->object);
        }
    }
    if (p->raw) {
        sb_str(&b, ",\"raw\":");
        sb_str(&b, p->raw);
    }
    sb_str(&b, "}");
    *len = b.len;
    return sb_take(&b);
}

/* ---- what the call's state takes ---- */

static void field0(sbuf *b, const char *s)
{
    sb_str(b, s ? s : "");
    sb_add(b, "", 1);
}

/* A pair of the call hash, when the event has the value: a string as it is, anything else as
 * compact JSON. */
static void pair(sbuf *b, const char *field, const json_t *v)
{
    if (!v || json_is_null(v))
        return;
    field0(b, field);
    if (json_is_string(v))
        sb_str(b, json_string_value(v)); /* up to a NUL, should an adapter make one */
    else
        sb_dump(b, v);
    sb_add(b, "", 1);
}

/* The end of the JSON value at v, in text jansson wrote (well-formed, compact). */
static const char *value_end(const char *v)
{
    int depth = 0;
    for (const char *s = v; *s; s++) {
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++)
                if (*s == '\\' && s[1])
                    s++;
            if (!*s)
                return s;
        } else if (*s == '{' || *s == '[') {
            depth++;
        } else if (*s == '}' || *s == ']') {
            if (--depth < 0)
                return s;
        } else if (*s == ',' && depth == 0) {
            return s;
        }
        if (depth == 0 && (*v == '{' || *v == '[' || *v == '"'))
            return s + 1;
    }
    return v + strlen(v);
}

/* The top-level members "from" and "to" as text, found in the object's dump: dumping the
 * parties again would cost more than the rest of the state. */
static void parties_from_dump(sbuf *b, const char *object)
{
    int depth = 0;
    for (const char *s = object; s && *s; s++) {
        if (*s == '"') {
            const char *name = s + 1;
            for (s++; *s && *s != '"'; s++)
                if (*s == '\\' && s[1])
                    s++;
            if (!*s)
                return;
            size_t n = (size_t)(s - name);
            if (depth == 1 && s[1] == ':' &&
                ((n == 4 && memcmp(name, "from", 4) == 0) ||
                 (n == 2 && memcmp(name, "to", 2) == 0))) {
                sb_add(b, name, n);
                sb_add(b, "", 1);
                const char *end = value_end(s + 2);
                sb_add(b, s + 2, (size_t)(end - (s + 2)));
                sb_add(b, "", 1);
                s = end - 1;
            }
        } else if (*s == '{' || *s == '[') {
            depth++;
        } else if (*s == '}' || *s == ']') {
            depth--;
        }
    }
}

static void party_pairs(sbuf *b, const json_t *obj, const char *object)
{
    pair(b, "line", json_object_get(obj, "line"));
    parties_from_dump(b, object);
}

static char *state_block(const pieces *p, size_t *len)
{
    sbuf b = {0};
    const json_t *o = p->obj;
    sb_reserve(&b, 128 + len0(p->call_id_raw) + len0(p->object));
    bool call = strcmp(p->kind, "call") == 0, ivr = strcmp(p->kind, "ivr") == 0;
    field0(&b, p->call_id_raw);
    field0(&b, p->kind);
    field0(&b, call || ivr ? json_string_value(json_object_get(o, "state")) : NULL);
    if (p->order) {
        char seq[24];
        snprintf(seq, sizeof seq, "%lld",
                 (long long)json_integer_value(json_object_get(p->order, "seq")));
        field0(&b, seq);
        field0(&b, json_string_value(json_object_get(p->order, "key")));
    } else {
        field0(&b, NULL);
        field0(&b, NULL);
    }
    if (call) {
        const json_t *d = json_object_get(o, "disconnect");
        pair(&b, "direction", json_object_get(o, "direction"));
        party_pairs(&b, o, p->object);
        pair(&b, "code", json_object_get(d, "code"));
        pair(&b, "text", json_object_get(d, "text"));
    } else if (ivr) {
        party_pairs(&b, o, p->object);
    } else if (strcmp(p->kind, "record") == 0) {
        pair(&b, "rec_id", json_object_get(o, "recording_id"));
        pair(&b, "rec_url", json_object_get(o, "url"));
        pair(&b, "rec_status", json_object_get(o, "status"));
        pair(&b, "rec_duration", json_object_get(o, "duration_s"));
    }
    if (call || ivr || strcmp(p->kind, "record") == 0) {
        field0(&b, "ts");
        field0(&b, p->ts);
    }
    *len = b.len;
    return sb_take(&b);
}

int event_prepare(const json_t *ev, const char *integration, const char *source, int64_t now_ms,
                  event_prepared *out)
{
    pieces p = {0};
    memset(out, 0, sizeof *out);
    int rc = -1;
    if (!json_is_object(ev) || collect_audience(ev, out) < 0 ||
        pieces_make(ev, now_ms, out->target == EVENT_TO_COMMAND, &p) < 0)
        goto out;
    const char *key = json_string_value(json_object_get(ev, "key"));
    out->key = key && *key ? strdup(key) : content_key(&p, out);
    if (out->key && (out->json = render(&p, integration, source, &out->json_len)) &&
        (out->state = state_block(&p, &out->state_len)))
        rc = 0;
out:
    pieces_free(&p);
    if (rc < 0)
        event_prepared_free(out);
    return rc;
}

void event_prepared_free(event_prepared *p)
{
    for (size_t i = 0; i < p->n_users; i++)
        free(p->users[i]);
    free(p->users);
    free(p->command_id);
    free(p->json);
    free(p->state);
    free(p->key);
    memset(p, 0, sizeof *p);
}

char *event_for_user(const event_prepared *p, const char *user, const char *call_id_json,
                     bool group)
{
    sbuf b = {0};
    for (const char *s = p->json; *s; s++) {
        if (*s == EVENT_MARK_USER)
            sb_str(&b, user);
        else if (*s == EVENT_MARK_CALL_ID)
            sb_str(&b, call_id_json ? call_id_json : "null");
        else if (*s == EVENT_MARK_GROUP)
            sb_str(&b, group ? EVENT_GROUP_FLAG : "");
        else
            sb_add(&b, s, 1);
    }
    return sb_take(&b);
}
