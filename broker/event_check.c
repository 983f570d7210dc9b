/* event_check.c — the normalized event contract (schemas/event.schema.json) in one place:
 * what native accepts from a PBX and what the broker accepts from any adapter. The tables
 * below are the contract; the functions walk them. Pure. */
#include "event_check.h"
#include "rfc3339.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "names.h"

enum ftype { F_STR, F_ENUM, F_BOOL, F_INT, F_NONNEG, F_OBJ, F_PARTY_OR_STR };

struct field {
    const char *name;
    enum ftype type;
    bool required;
    size_t minlen, maxlen;     /* F_STR, in characters */
    const char *const *values; /* F_ENUM, NULL-terminated */
    int64_t min, max;          /* F_INT */
    const struct field *sub;   /* F_OBJ, terminated by a NULL name */
};

static const char *const kinds[] = {"call", "record", "ivr", "route_result", NULL};
static const char *const states[] = {"appeared", "connected", "on_hold", "disconnected", NULL};
static const char *const directions[] = {"inbound", "outbound", "internal", NULL};
static const char *const rec_statuses[] = {"available", "failed", NULL};
static const char *const targets[] = {"one_online", "call_parties", "command", NULL};

static const struct field party_fields[] = {
    {.name = "number", .type = F_STR, .maxlen = 64},
    {.name = "extension", .type = F_STR, .maxlen = 64},
    {0},
};
static const struct field disconnect_fields[] = {
    {.name = "code", .type = F_INT, .min = 0, .max = 127},
    {.name = "text", .type = F_STR, .maxlen = 200},
    {0},
};
static const struct field call_fields[] = {
    {.name = "state", .type = F_ENUM, .required = true, .values = states},
    {.name = "direction", .type = F_ENUM, .values = directions},
    {.name = "from", .type = F_OBJ, .sub = party_fields},
    {.name = "to", .type = F_OBJ, .sub = party_fields},
    {.name = "line", .type = F_STR, .maxlen = 64},
    {.name = "is_group_disconnect", .type = F_BOOL},
    {.name = "disconnect", .type = F_OBJ, .sub = disconnect_fields},
    {.name = "campaign", .type = F_STR, .maxlen = 200},
    {.name = "crm_contact_id", .type = F_STR, .maxlen = 200},
    {0},
};
static const struct field record_fields[] = {
    {.name = "status", .type = F_ENUM, .required = true, .values = rec_statuses},
    {.name = "recording_id", .type = F_STR, .maxlen = 200},
    {.name = "url", .type = F_STR, .maxlen = 2048},
    {.name = "duration_s", .type = F_NONNEG},
    {0},
};
static const struct field ivr_fields[] = {
    {.name = "state", .type = F_ENUM, .required = true, .values = states},
    {.name = "from", .type = F_OBJ, .sub = party_fields},
    {.name = "to", .type = F_OBJ, .sub = party_fields},
    {.name = "line", .type = F_STR, .maxlen = 64},
    {0},
};
static const struct field order_fields[] = {
    {.name = "key", .type = F_STR, .required = true, .minlen = 1, .maxlen = EVENT_MAX_STR},
    {.name = "seq", .type = F_INT, .required = true, .min = 0, .max = EVENT_MAX_SEQ},
    {0},
};
static const struct field route_result_fields[] = {
    {.name = "command_id", .type = F_STR, .required = true, .minlen = 1, .maxlen = 200},
    {.name = "result", .type = F_INT, .required = true, .min = INT64_MIN, .max = INT64_MAX},
    {.name = "to", .type = F_PARTY_OR_STR},
    {0},
};

static const struct field *kind_fields(const char *kind)
{
    if (strcmp(kind, "call") == 0)
        return call_fields;
    if (strcmp(kind, "record") == 0)
        return record_fields;
    if (strcmp(kind, "ivr") == 0)
        return ivr_fields;
    return route_result_fields;
}

/* ---- errors ---- */

/* Where a field is: the place of the object holding it and its name. Written out as
 * "events[2].call.from" only when an error names it: most events have none. */
typedef struct at {
    const struct at *up;
    const char *name;
} at;

/* Appends the non-empty names from the root down, joined with '.'; returns the length. */
static size_t at_write(const at *a, const char *name, char *out, size_t size)
{
    size_t used = a ? at_write(a->up, a->name, out, size) : 0;
    if (!*name || used + 1 >= size)
        return used;
    int n = snprintf(out + used, size - used, "%s%s", used ? "." : "", name);
    return n < 0 ? used : used + (size_t)n < size ? used + (size_t)n : size - 1;
}

static int check_fail(field_error *e, const at *path, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int check_fail(field_error *e, const at *path, const char *name, const char *fmt, ...)
{
    e->field[0] = '\0';
    at_write(path, name, e->field, sizeof e->field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

static void list_values(const char *const *values, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; values[i] && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", values[i]);
}

/* ---- field checks ---- */

/* Characters, not bytes: jansson guarantees valid UTF-8. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int check_str(const json_t *v, const struct field *f, const at *path, field_error *e)
{
    if (!json_is_string(v))
        return check_fail(e, path, f->name, "must be a string");
    size_t n = utf8_len(json_string_value(v));
    if (n < f->minlen || n > f->maxlen)
        return check_fail(e, path, f->name, "must be %zu to %zu characters long", f->minlen,
                          f->maxlen);
    return 0;
}

static int check_enum(const json_t *v, const struct field *f, const at *path, field_error *e)
{
    const char *s = json_string_value(v);
    for (size_t i = 0; s && f->values[i]; i++)
        if (strcmp(s, f->values[i]) == 0)
            return 0;
    char list[256];
    list_values(f->values, list, sizeof list);
    return check_fail(e, path, f->name, "must be one of %s", list);
}

static int check_int(const json_t *v, const struct field *f, const at *path, field_error *e)
{
    if (json_is_integer(v) && json_integer_value(v) >= f->min && json_integer_value(v) <= f->max)
        return 0;
    if (f->min == INT64_MIN)
        return check_fail(e, path, f->name, "must be an integer");
    return check_fail(e, path, f->name, "must be an integer from %lld to %lld", (long long)f->min,
                      (long long)f->max);
}

/* Every check runs in one of two modes: copying (what native stores of a PBX's input) or
 * checking only (an adapter's output, on every webhook: no allocation). When copying, a
 * checked value is shared with the source, not duplicated: nothing changes a value once it is
 * checked, and the copy's own objects hold only the known fields. When checking only, "the
 * value to store" is v itself, borrowed. */
static json_t *keep(const json_t *v, bool copy)
{
    return copy ? json_incref((json_t *)v) : (json_t *)v;
}

/* Stores value under name in ev; with no ev (checking only) value is borrowed. */
static int put(json_t *ev, const char *name, json_t *value)
{
    if (!ev)
        return value ? 0 : -1;
    return json_object_set_new(ev, name, value);
}

static int copy_object(const json_t *src, const struct field *fields, const at *path, json_t **out,
                       field_error *e);

/* A party object, or a bare string taken as the extension (route/async names one). */
static json_t *party_or_string(const json_t *v, const struct field *f, const at *path, bool copy,
                               field_error *e)
{
    json_t *out = NULL;
    const at sub = {path, f->name};
    if (json_is_string(v)) {
        struct field ext = {.name = "", .type = F_STR, .maxlen = 64};
        if (check_str(v, &ext, &sub, e) < 0)
            return NULL;
        return copy ? json_pack("{sO}", "extension", v) : (json_t *)v;
    }
    if (!json_is_object(v)) {
        check_fail(e, path, f->name, "must be an object {number, extension} or a string");
        return NULL;
    }
    if (copy_object(v, party_fields, &sub, copy ? &out : NULL, e) < 0)
        return NULL;
    return copy ? out : (json_t *)v;
}

/* Checks v against f; returns the value to store (see keep) or NULL. */
static json_t *check_field(const json_t *v, const struct field *f, const at *path, bool copy,
                           field_error *e)
{
    json_t *out = NULL;
    const at sub = {path, f->name};
    switch (f->type) {
    case F_STR:
        return check_str(v, f, path, e) < 0 ? NULL : keep(v, copy);
    case F_ENUM:
        return check_enum(v, f, path, e) < 0 ? NULL : keep(v, copy);
    case F_INT:
        return check_int(v, f, path, e) < 0 ? NULL : keep(v, copy);
    case F_BOOL:
        if (json_is_boolean(v))
            return keep(v, copy);
        check_fail(e, path, f->name, "must be true or false");
        return NULL;
    case F_NONNEG:
        if (json_is_number(v) && json_number_value(v) >= 0)
            return keep(v, copy);
        check_fail(e, path, f->name, "must be a number >= 0");
        return NULL;
    case F_OBJ:
        if (!json_is_object(v)) {
            check_fail(e, path, f->name, "must be an object");
            return NULL;
        }
        if (copy_object(v, f->sub, &sub, copy ? &out : NULL, e) < 0)
            return NULL;
        return copy ? out : (json_t *)v;
    case F_PARTY_OR_STR:
        return party_or_string(v, f, path, copy, e);
    }
    return NULL;
}

/* Copies the known fields of src into a new object *out (or only checks them when out is
 * NULL); absent or null means not given. */
static int copy_object(const json_t *src, const struct field *fields, const at *path, json_t **out,
                       field_error *e)
{
    json_t *obj = out ? json_object() : NULL;
    if (out && !obj)
        return check_fail(e, path, "", "out of memory");
    for (const struct field *f = fields; f->name; f++) {
        const json_t *v = json_object_get(src, f->name);
        if (!v || json_is_null(v)) {
            if (f->required) {
                json_decref(obj);
                return check_fail(e, path, f->name, "is required");
            }
            continue;
        }
        if (put(obj, f->name, check_field(v, f, path, out != NULL, e)) < 0) {
            json_decref(obj);
            return -1;
        }
    }
    if (out)
        *out = obj;
    return 0;
}

/* ---- one event ---- */

static int set_user_list(const json_t *src, const at *path, json_t *ev, field_error *e)
{
    const json_t *user = json_object_get(src, "user");
    const json_t *users = json_object_get(src, "users");
    static const char bad_ext[] = "must be an extension: 1 to 64 of A-Z a-z 0-9 _ . + -";
    if (user) {
        if (!name_extension_valid(json_string_value(user)))
            return check_fail(e, path, "user", "%s", bad_ext);
        return ev ? json_object_set_new(ev, "users", json_pack("[O]", user)) : 0;
    }
    size_t n = json_array_size(users);
    if (!json_is_array(users) || n < 1 || n > EVENT_MAX_USERS)
        return check_fail(e, path, "users", "must be an array of 1 to %d extensions",
                          EVENT_MAX_USERS);
    for (size_t i = 0; i < n; i++) {
        if (!name_extension_valid(json_string_value(json_array_get(users, i)))) {
            char name[32];
            snprintf(name, sizeof name, "users[%zu]", i);
            return check_fail(e, path, name, "%s", bad_ext);
        }
    }
    return ev ? json_object_set(ev, "users", (json_t *)users) : 0;
}

static const struct field target_field = {.name = "target", .type = F_ENUM, .values = targets};

/* Who the event is for: named users (user or users), or a target the broker resolves. */
static int set_audience(const json_t *src, const at *path, json_t *ev, field_error *e)
{
    const json_t *user = json_object_get(src, "user");
    const json_t *users = json_object_get(src, "users");
    const json_t *target = json_object_get(src, "target");
    if (json_is_null(target))
        target = NULL;
    if (!!user + !!users + !!target > 1)
        return check_fail(e, path, target ? "target" : "users",
                          "give one of user, users and target");
    if (!user && !users && !target)
        return check_fail(e, path, "user", "is required (or users, or target)");
    if (!target)
        return set_user_list(src, path, ev, e);
    const char *t = json_string_value(target),
               *kind = json_string_value(json_object_get(src, "kind"));
    if (t && strcmp(t, "command") == 0 && (!kind || strcmp(kind, "route_result") != 0))
        return check_fail(e, path, "target", "command is the target of a route_result only");
    return put(ev, "target", check_field(target, &target_field, path, ev != NULL, e));
}

static int set_ts(const json_t *src, const at *path, json_t *ev, field_error *e)
{
    const json_t *ts = json_object_get(src, "ts");
    int64_t ms;
    if (!ts || json_is_null(ts))
        return 0;
    if (!json_is_string(ts) || rfc3339_parse(json_string_value(ts), &ms) < 0)
        return check_fail(e, path, "ts",
                          "must be an RFC 3339 time such as 2026-11-23T18:00:00.123Z");
    if (!ev)
        return 0;
    char buf[32];
    event_format_ts(ms, buf, sizeof buf);
    return json_object_set_new(ev, "ts", json_string(buf));
}

static int set_scalar(const json_t *src, const struct field *f, const at *path, json_t *ev,
                      field_error *e)
{
    const json_t *v = json_object_get(src, f->name);
    if (!v || json_is_null(v))
        return f->required ? check_fail(e, path, f->name, "is required") : 0;
    return put(ev, f->name, check_field(v, f, path, ev != NULL, e));
}

static int set_kind_object(const json_t *src, const char *kind, const at *path, json_t *ev,
                           field_error *e)
{
    const json_t *v = json_object_get(src, kind);
    json_t *obj = NULL;
    const at sub = {path, kind};
    if (!v || json_is_null(v))
        return check_fail(e, path, kind, "is required for kind %s", kind);
    if (!json_is_object(v))
        return check_fail(e, path, kind, "must be an object");
    if (copy_object(v, kind_fields(kind), &sub, ev ? &obj : NULL, e) < 0)
        return -1;
    return ev ? json_object_set_new(ev, kind, obj) : 0;
}

static const struct field kind_field = {
    .name = "kind", .type = F_ENUM, .required = true, .values = kinds};
static const struct field call_id_field = {
    .name = "call_id", .type = F_STR, .required = true, .minlen = 1, .maxlen = EVENT_MAX_STR};
static const struct field key_field = {
    .name = "key", .type = F_STR, .minlen = 1, .maxlen = EVENT_KEY_MAX};
static const struct field order_field = {.name = "order", .type = F_OBJ, .sub = order_fields};

/* A command's result names no call: the broker takes it from the command. */
static int set_call_id(const json_t *src, const at *path, json_t *ev, field_error *e)
{
    const char *target = json_string_value(json_object_get(src, "target"));
    const json_t *v = json_object_get(src, "call_id");
    if (target && strcmp(target, "command") == 0 && (!v || json_is_null(v))) {
        if (json_object_get(src, "order"))
            return check_fail(e, path, "order", "needs a call_id");
        return 0;
    }
    return set_scalar(src, &call_id_field, path, ev, e);
}

/* Checks src; with ev, copies what it checked into it. */
static int walk_event(const json_t *src, const at *path, json_t *ev, field_error *e)
{
    if (!json_is_object(src))
        return check_fail(e, path, "", "must be an event object");
    if (set_scalar(src, &kind_field, path, ev, e) < 0 || set_audience(src, path, ev, e) < 0 ||
        set_call_id(src, path, ev, e) < 0 || set_scalar(src, &order_field, path, ev, e) < 0 ||
        set_kind_object(src, json_string_value(json_object_get(src, "kind")), path, ev, e) < 0 ||
        set_ts(src, path, ev, e) < 0 || set_scalar(src, &key_field, path, ev, e) < 0)
        return -1;
    const json_t *raw = json_object_get(src, "raw");
    if (ev && raw && !json_is_null(raw))
        json_object_set(ev, "raw", (json_t *)raw);
    return 0;
}

json_t *event_check_copy(const json_t *src, const char *path, field_error *e)
{
    const at root = {NULL, path};
    json_t *ev = json_object();
    if (ev && walk_event(src, &root, ev, e) == 0)
        return ev;
    if (!*e->message)
        check_fail(e, &root, "", "out of memory");
    json_decref(ev);
    return NULL;
}

/* An adapter's output: an event as event_check_copy gives it, with "users" (never "user")
 * or "target". */
int event_check(const json_t *ev, const char *path, field_error *e)
{
    const at root = {NULL, path};
    memset(e, 0, sizeof *e);
    if (json_is_object(ev) && json_object_get(ev, "user"))
        return check_fail(e, &root, "user", "an adapter names its users with \"users\"");
    return walk_event(ev, &root, NULL, e);
}

int event_check_all(const json_t *events, field_error *e)
{
    char path[32];
    memset(e, 0, sizeof *e);
    if (!json_is_array(events))
        return check_fail(e, NULL, "events", "must be an array");
    for (size_t i = 0; i < json_array_size(events); i++) {
        snprintf(path, sizeof path, "events[%zu]", i);
        if (event_check(json_array_get(events, i), path, e) < 0)
            return -1;
    }
    return 0;
}
