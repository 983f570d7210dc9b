/* call_state.c — a call's hash fields as the call object the API answers. */
#include "call_state.h"
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *field(const call_field *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0)
            return v[i].value;
    return NULL;
}

static void put_string(json_t *o, const char *key, const char *value)
{
    if (value)
        json_object_set_new(o, key, json_string(value));
}

/* from/to are stored as compact JSON objects; anything else is left out. */
static void put_party(json_t *o, const char *key, const char *stored)
{
    json_t *p = stored ? json_loads(stored, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (json_is_object(p))
        json_object_set(o, key, p);
    json_decref(p);
}

static bool parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    *out = s && *s ? strtoll(s, &end, 10) : 0;
    return s && *s && !*end && !errno;
}

static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = s && *s ? strtod(s, &end) : 0;
    return s && *s && !*end && !errno;
}

static void put_disconnect(json_t *o, const call_field *v, size_t n)
{
    const char *code = field(v, n, "code"), *text = field(v, n, "text");
    long long c;
    bool has_code = parse_int(code, &c);
    if (!has_code && !text)
        return;
    json_t *d = json_object();
    if (has_code)
        json_object_set_new(d, "code", json_integer(c));
    put_string(d, "text", text);
    json_object_set_new(o, "disconnect", d);
}

static void put_recording(json_t *o, const call_field *v, size_t n)
{
    const char *id = field(v, n, "rec_id"), *url = field(v, n, "rec_url"),
               *status = field(v, n, "rec_status");
    double duration;
    bool has_duration = parse_number(field(v, n, "rec_duration"), &duration) && duration >= 0;
    if (!id && !url && !status && !has_duration)
        return;
    json_t *r = json_object();
    put_string(r, "recording_id", id);
    put_string(r, "url", url);
    put_string(r, "status", status);
    if (has_duration)
        json_object_set_new(r, "duration_s", json_real(duration));
    json_object_set_new(o, "recording", r);
}

static void put_users(json_t *o, const call_field *v, size_t n)
{
    json_t *users = json_object();
    for (size_t i = 0; i < n; i++)
        if (strncmp(v[i].name, "u:", 2) == 0 && v[i].name[2])
            json_object_set_new(users, v[i].name + 2, json_string(v[i].value));
    json_object_set_new(o, "users", users);
}

json_t *call_state_json(const char *call_id, const call_field *v, size_t n)
{
    static const char *const plain[] = {"state", "kind", "direction", "line"};
    if (!n)
        return NULL;
    json_t *o = json_pack("{s:s}", "call_id", call_id);
    if (!o)
        return NULL;
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        put_string(o, plain[i], field(v, n, plain[i]));
    put_party(o, "from", field(v, n, "from"));
    put_party(o, "to", field(v, n, "to"));
    put_disconnect(o, v, n);
    put_recording(o, v, n);
    put_users(o, v, n);
    put_string(o, "updated", field(v, n, "ts"));
    return o;
}
