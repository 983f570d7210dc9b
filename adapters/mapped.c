/* mapped.c — a dialect made of configuration, for a PBX nobody wrote code for: the integration's
 * settings.mapped say where each normalized field sits in the body (an RFC 6901 JSON pointer
 * into a JSON body, or a form field), with value maps and defaults, and how the kind and the
 * state are recognised (schemas/adapters/mapped-settings.schema.json). The mapping is checked
 * and compiled once; parse reads the compiled form only. Authenticated by the integration
 * token: the broker does it, so there is no verify. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "common.h"
#include "event.h"
#include "event_check.h"
#include "form.h"
#include "names.h"

#define MAPPED_MAX_MAP 1000
#define MAPPED_MAX_USERS 16
#define MAPPED_MAX_TOKENS 32

enum mtype { MT_STR, MT_INT, MT_NUM, MT_ENUM, MT_TS };
/* Where a field lands: the event itself, call or ivr, call only, call.disconnect (only on a
 * disconnected call), record. */
enum mscope { SC_TOP, SC_PARTY, SC_CALL, SC_DISC, SC_RECORD };

typedef struct mtarget {
    const char *name; /* its key in mapped.fields */
    enum mscope scope;
    const char *path[2];
    enum mtype type;
    const char *const *values;
    long long min, max;
} mtarget;

static const char *const kinds[] = {"call", "record", "ivr", "ignore", NULL};
static const char *const states[] = {"appeared",     "connected", "on_hold",
                                     "disconnected", "ignore",    NULL};
static const char *const directions[] = {"inbound", "outbound", "internal", NULL};
static const char *const rec_statuses[] = {"available", "failed", NULL};

enum { T_KIND, T_USERS, T_CALL_ID, T_STATE };
static const mtarget targets[] = {
    {"kind", SC_TOP, {"kind"}, MT_ENUM, kinds, 0, 0},
    {"users", SC_TOP, {"users"}, MT_STR, NULL, 0, 0},
    {"call_id", SC_TOP, {"call_id"}, MT_STR, NULL, 0, 0},
    {"state", SC_PARTY, {"state"}, MT_ENUM, states, 0, 0},
    {"key", SC_TOP, {"key"}, MT_STR, NULL, 0, 0},
    {"ts", SC_TOP, {"ts"}, MT_TS, NULL, 0, 0},
    {"order.key", SC_TOP, {"order", "key"}, MT_STR, NULL, 0, 0},
    {"order.seq", SC_TOP, {"order", "seq"}, MT_INT, NULL, 0, EVENT_MAX_SEQ},
    {"from.number", SC_PARTY, {"from", "number"}, MT_STR, NULL, 0, 0},
    {"from.extension", SC_PARTY, {"from", "extension"}, MT_STR, NULL, 0, 0},
    {"to.number", SC_PARTY, {"to", "number"}, MT_STR, NULL, 0, 0},
    {"to.extension", SC_PARTY, {"to", "extension"}, MT_STR, NULL, 0, 0},
    {"line", SC_PARTY, {"line"}, MT_STR, NULL, 0, 0},
    {"direction", SC_CALL, {"direction"}, MT_ENUM, directions, 0, 0},
    {"campaign", SC_CALL, {"campaign"}, MT_STR, NULL, 0, 0},
    {"crm_contact_id", SC_CALL, {"crm_contact_id"}, MT_STR, NULL, 0, 0},
    {"disconnect.code", SC_DISC, {"disconnect", "code"}, MT_INT, NULL, 0, 127},
    {"disconnect.text", SC_DISC, {"disconnect", "text"}, MT_STR, NULL, 0, 0},
    {"record.status", SC_RECORD, {"status"}, MT_ENUM, rec_statuses, 0, 0},
    {"record.recording_id", SC_RECORD, {"recording_id"}, MT_STR, NULL, 0, 0},
    {"record.url", SC_RECORD, {"url"}, MT_STR, NULL, 0, 0},
    {"record.duration_s", SC_RECORD, {"duration_s"}, MT_NUM, NULL, 0, 0},
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

enum msrc { SRC_NONE, SRC_POINTER, SRC_FIELD, SRC_CONST };

typedef struct msource {
    enum msrc kind;
    char **tokens; /* the pointer, split and unescaped */
    size_t n_tokens;
    char *name;      /* for messages: "json/a/b", "form.x" or "mapped.fields.F.const" */
    char *form_name; /* SRC_FIELD */
    json_t *constant, *map, *def; /* converted to the field's type; map: text → value */
    bool ms;                      /* ts: Unix milliseconds rather than seconds */
} msource;

typedef struct mapped_compiled {
    bool form;
    msource src[N_TARGETS]; /* src[T_USERS] unused: users[] */
    msource users[MAPPED_MAX_USERS];
    size_t n_users;
} mapped_compiled;

/* A setting's name under at; a name too long for a field error is cut. */
static void path_join(char *buf, size_t size, const char *at, const char *sep, const char *name)
{
    if (snprintf(buf, size, "%s%s%s", at, sep, name) < 0)
        buf[0] = '\0';
}

/* ---- values ---- */

/* The text a value is looked up by in a map: a string as it is, a number in decimal. */
static bool lookup_text(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v))
        return json_string_length(v) < size &&
               strlen(json_string_value(v)) == json_string_length(v) &&
               snprintf(buf, size, "%s", json_string_value(v)) > -1;
    if (json_is_integer(v))
        return snprintf(buf, size, "%lld", (long long)json_integer_value(v)) > 0;
    if (json_is_real(v))
        return snprintf(buf, size, "%.15g", json_real_value(v)) > 0;
    if (json_is_boolean(v))
        return snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false") > 0;
    return false;
}

static json_t *to_int(const json_t *v, const mtarget *t, char *msg, size_t size)
{
    long long n = 0;
    const char *s = json_string_value(v);
    char *end = NULL;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
               fabs(json_real_value(v)) < 9.2e18) {
        n = (long long)json_real_value(v);
    } else if (s && *s && (errno = 0, n = strtoll(s, &end, 10), !*end && errno == 0)) {
        /* a decimal string */
    } else {
        snprintf(msg, size, "must be an integer");
        return NULL;
    }
    if (t->min < t->max && (n < t->min || n > t->max)) {
        snprintf(msg, size, "must be an integer from %lld to %lld", t->min, t->max);
        return NULL;
    }
    return json_integer(n);
}

static json_t *to_num(const json_t *v, char *msg, size_t size)
{
    const char *s = json_string_value(v);
    char *end = NULL;
    double d = json_number_value(v);
    if (s && *s)
        d = (errno = 0, strtod(s, &end));
    if ((!json_is_number(v) && !(s && *s && !*end && errno == 0)) || !isfinite(d) || d < 0) {
        snprintf(msg, size, "must be a number >= 0");
        return NULL;
    }
    return json_real(d);
}

static json_t *to_str(const json_t *v, char *msg, size_t size)
{
    char buf[64];
    if (json_is_string(v))
        return json_copy((json_t *)v);
    if (json_is_number(v) && lookup_text(v, buf, sizeof buf))
        return json_string(buf);
    snprintf(msg, size, "must be a string or a number");
    return NULL;
}

static json_t *to_enum(const json_t *v, const mtarget *t, char *msg, size_t size)
{
    const char *s = json_string_value(v);
    for (size_t i = 0; s && t->values[i]; i++)
        if (strcmp(s, t->values[i]) == 0)
            return json_copy((json_t *)v);
    size_t used = (size_t)snprintf(msg, size, "must be one of");
    for (size_t i = 0; t->values[i] && used < size; i++)
        used += (size_t)snprintf(msg + used, size - used, " %s", t->values[i]);
    return NULL;
}

/* A time: Unix seconds (or ms) as a number or digits, else RFC 3339 text (checked later). */
static json_t *to_ts(const json_t *v, bool ms, char *msg, size_t size)
{
    const char *s = json_string_value(v);
    if (s && (!*s || strspn(s, "0123456789.") != strlen(s)))
        return json_copy((json_t *)v);
    json_t *n = to_num(v, msg, size);
    double t = n ? json_real_value(n) : -1;
    json_decref(n);
    if (t < 0 || t > 253402300799.0 * (ms ? 1000 : 1)) {
        snprintf(msg, size, "must be Unix %s or an RFC 3339 time", ms ? "milliseconds" : "seconds");
        return NULL;
    }
    char buf[32];
    event_format_ts((int64_t)llround(ms ? t : t * 1000.0), buf, sizeof buf);
    return json_string(buf);
}

/* v as the target's type: a new reference, or NULL with msg. */
static json_t *convert(const json_t *v, const mtarget *t, bool ms, char *msg, size_t size)
{
    switch (t->type) {
    case MT_INT:
        return to_int(v, t, msg, size);
    case MT_NUM:
        return to_num(v, msg, size);
    case MT_ENUM:
        return to_enum(v, t, msg, size);
    case MT_TS:
        return to_ts(v, ms, msg, size);
    default:
        return to_str(v, msg, size);
    }
}

/* ---- compiling a mapping ---- */

static void source_free(msource *s)
{
    for (size_t i = 0; i < s->n_tokens; i++)
        free(s->tokens[i]);
    free(s->tokens);
    free(s->name);
    free(s->form_name);
    json_decref(s->constant);
    json_decref(s->map);
    json_decref(s->def);
    memset(s, 0, sizeof *s);
}

static void mapped_free(void *p)
{
    mapped_compiled *c = p;
    if (!c)
        return;
    for (size_t i = 0; i < N_TARGETS; i++)
        source_free(&c->src[i]);
    for (size_t i = 0; i < c->n_users; i++)
        source_free(&c->users[i]);
    free(c);
}

/* One reference token of an RFC 6901 pointer, "~1" → "/", "~0" → "~". */
static char *pointer_token(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;
    for (size_t i = 0; out && i < len; i++) {
        if (s[i] != '~') {
            *o++ = s[i];
        } else if (i + 1 < len && (s[i + 1] == '0' || s[i + 1] == '1')) {
            *o++ = s[++i] == '0' ? '~' : '/';
        } else {
            free(out);
            return NULL;
        }
    }
    if (out)
        *o = '\0';
    return out;
}

static int compile_pointer(msource *s, const json_t *v, const char *at, adapter_error *e)
{
    const char *p = json_string_value(v);
    if (!p || strlen(p) != json_string_length(v) || (*p && *p != '/'))
        return adapter_fail(e, at, "must be a JSON pointer (RFC 6901): \"\" or \"/a/b\"");
    s->tokens = calloc(MAPPED_MAX_TOKENS, sizeof *s->tokens);
    if (!s->tokens)
        return adapter_fail(e, at, "out of memory");
    while (*p) {
        const char *next = strchr(p + 1, '/');
        size_t len = next ? (size_t)(next - p - 1) : strlen(p + 1);
        if (s->n_tokens == MAPPED_MAX_TOKENS)
            return adapter_fail(e, at, "has more than %d reference tokens", MAPPED_MAX_TOKENS);
        if (!(s->tokens[s->n_tokens] = pointer_token(p + 1, len)))
            return adapter_fail(e, at, "'~' must be followed by 0 or 1 (RFC 6901)");
        s->n_tokens++;
        p += len + 1;
    }
    size_t n = strlen(json_string_value(v)) + 8;
    if (!(s->name = malloc(n)))
        return adapter_fail(e, at, "out of memory");
    snprintf(s->name, n, "json%s", json_string_value(v));
    return 0;
}

static int compile_field(msource *s, const json_t *v, const char *at, adapter_error *e)
{
    const char *f = json_string_value(v);
    if (!f || !*f || strlen(f) != json_string_length(v) || strlen(f) > 100)
        return adapter_fail(e, at, "must be a form field name of 1 to 100 characters");
    size_t n = strlen(f) + 8;
    s->form_name = strdup(f);
    s->name = malloc(n);
    if (!s->form_name || !s->name)
        return adapter_fail(e, at, "out of memory");
    snprintf(s->name, n, "form.%s", f);
    return 0;
}

static json_t *compile_value(const json_t *v, const mtarget *t, bool ms, const char *at,
                             adapter_error *e)
{
    char msg[200] = "";
    json_t *out = convert(v, t, ms, msg, sizeof msg);
    if (!out)
        adapter_fail(e, at, "%s", msg[0] ? msg : "out of memory");
    return out;
}

static int compile_map(msource *s, const json_t *map, const mtarget *t, const char *at,
                       adapter_error *e)
{
    char sub[128];
    const char *k;
    json_t *v;
    if (!json_is_object(map) || json_object_size(map) < 1 || json_object_size(map) > MAPPED_MAX_MAP)
        return adapter_fail(e, at, "must be an object of 1 to %d entries: value read → value",
                            MAPPED_MAX_MAP);
    if (!(s->map = json_object()))
        return adapter_fail(e, at, "out of memory");
    json_object_foreach((json_t *)map, k, v)
    {
        path_join(sub, sizeof sub, at, ".", k);
        json_t *c = compile_value(v, t, s->ms, sub, e);
        if (!c || json_object_set_new(s->map, k, c) < 0)
            return -1;
    }
    return 0;
}

static const char *const source_keys[] = {"pointer", "field", "const", "map",
                                          "default", "unit",  NULL};

static int check_keys(const json_t *spec, const mtarget *t, const char *at, adapter_error *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)spec, k, v)
    {
        size_t i = 0;
        while (source_keys[i] && strcmp(source_keys[i], k) != 0)
            i++;
        if (!source_keys[i] || (strcmp(k, "unit") == 0 && t->type != MT_TS)) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.%s", at, k);
            return adapter_fail(e, sub,
                                "unknown: a source has pointer, field or const, map, default%s",
                                t->type == MT_TS ? ", unit" : "");
        }
    }
    return 0;
}

static int compile_unit(msource *s, const json_t *spec, const char *at, adapter_error *e)
{
    const json_t *u = json_object_get(spec, "unit");
    const char *us = json_string_value(u);
    char sub[128];
    snprintf(sub, sizeof sub, "%s.unit", at);
    if (u && (!us || (strcmp(us, "s") != 0 && strcmp(us, "ms") != 0)))
        return adapter_fail(e, sub, "must be \"s\" (Unix seconds) or \"ms\" (milliseconds)");
    s->ms = us && strcmp(us, "ms") == 0;
    return 0;
}

/* Where the value comes from: exactly one of pointer (JSON body), field (form), const. */
static int compile_where(msource *s, const json_t *spec, bool form, const mtarget *t,
                         const char *at, adapter_error *e)
{
    const json_t *ptr = json_object_get(spec, "pointer"), *fld = json_object_get(spec, "field");
    const json_t *cst = json_object_get(spec, "const");
    char sub[128];
    if (!!ptr + !!fld + !!cst != 1)
        return adapter_fail(e, at, "give one of %s and const", form ? "field" : "pointer");
    if (cst) {
        snprintf(sub, sizeof sub, "%s.const", at);
        s->kind = SRC_CONST;
        if (json_object_get(spec, "map") || json_object_get(spec, "default"))
            return adapter_fail(e, sub, "a constant takes no map and no default");
        s->name = strdup(sub);
        s->constant = compile_value(cst, t, s->ms, sub, e);
        return s->constant && s->name ? 0 : -1;
    }
    snprintf(sub, sizeof sub, "%s.%s", at, ptr ? "pointer" : "field");
    if (!!fld != form)
        return adapter_fail(e, sub, "this mapping reads a %s body: use \"%s\"",
                            form ? "form" : "JSON", form ? "field" : "pointer");
    s->kind = ptr ? SRC_POINTER : SRC_FIELD;
    return ptr ? compile_pointer(s, ptr, sub, e) : compile_field(s, fld, sub, e);
}

static int compile_source(msource *s, const json_t *spec, bool form, const mtarget *t,
                          const char *at, adapter_error *e)
{
    char sub[128];
    if (!json_is_object(spec))
        return adapter_fail(e, at,
                            "must be an object: {\"%s\": ...} or {\"const\": ...}, with an "
                            "optional map and default",
                            form ? "field" : "pointer");
    if (check_keys(spec, t, at, e) < 0 || compile_unit(s, spec, at, e) < 0 ||
        compile_where(s, spec, form, t, at, e) < 0)
        return -1;
    const json_t *map = json_object_get(spec, "map"), *def = json_object_get(spec, "default");
    snprintf(sub, sizeof sub, "%s.map", at);
    if (map && compile_map(s, map, t, sub, e) < 0)
        return -1;
    snprintf(sub, sizeof sub, "%s.default", at);
    if (def && !(s->def = compile_value(def, t, s->ms, sub, e)))
        return -1;
    return 0;
}

static int compile_users(mapped_compiled *c, const json_t *spec, const char *at, adapter_error *e)
{
    char sub[128];
    if (json_is_object(spec)) {
        c->n_users = 1;
        return compile_source(&c->users[0], spec, c->form, &targets[T_USERS], at, e);
    }
    if (!json_is_array(spec) || json_array_size(spec) < 1 ||
        json_array_size(spec) > MAPPED_MAX_USERS)
        return adapter_fail(e, at, "must be a source or a list of 1 to %d sources",
                            MAPPED_MAX_USERS);
    for (size_t i = 0; i < json_array_size(spec); i++) {
        char index[24];
        snprintf(index, sizeof index, "[%zu]", i);
        path_join(sub, sizeof sub, at, "", index);
        c->n_users = i + 1;
        if (compile_source(&c->users[i], json_array_get(spec, i), c->form, &targets[T_USERS], sub,
                           e) < 0)
            return -1;
    }
    return 0;
}

static const mtarget *target_named(const char *name)
{
    for (size_t i = 0; i < N_TARGETS; i++)
        if (strcmp(targets[i].name, name) == 0)
            return &targets[i];
    return NULL;
}

/* What every event needs, unless the kind is a constant that needs less: a call has a state
 * and users, an ivr event a state. */
static int check_required(const mapped_compiled *c, adapter_error *e)
{
    const msource *k = &c->src[T_KIND];
    const char *kind = k->kind == SRC_CONST ? json_string_value(k->constant) : NULL;
    bool may_call = !kind || strcmp(kind, "call") == 0;
    if (!c->src[T_CALL_ID].kind)
        return adapter_fail(e, "mapped.fields.call_id", "is required");
    if (!c->src[T_STATE].kind && (may_call || strcmp(kind, "ivr") == 0))
        return adapter_fail(e, "mapped.fields.state",
                            "is required: the state of call and ivr events");
    if (!c->n_users && may_call)
        return adapter_fail(e, "mapped.fields.users", "is required: the extensions a call is for");
    return 0;
}

static int compile_fields(mapped_compiled *c, const json_t *fields, adapter_error *e)
{
    const char *k;
    json_t *v;
    char at[128];
    if (!json_is_object(fields))
        return adapter_fail(e, "mapped.fields", "must be an object: normalized field → source");
    json_object_foreach((json_t *)fields, k, v)
    {
        const mtarget *t = target_named(k);
        snprintf(at, sizeof at, "mapped.fields.%s", k);
        if (!t)
            return adapter_fail(e, at,
                                "not a field of the mapping (see mapped-settings.schema.json)");
        int rc = t == &targets[T_USERS]
                     ? compile_users(c, v, at, e)
                     : compile_source(&c->src[t - targets], v, c->form, t, at, e);
        if (rc < 0)
            return -1;
    }
    return check_required(c, e);
}

static int mapped_compile(const json_t *settings, void **out, adapter_error *e)
{
    const json_t *m = json_object_get(settings, "mapped");
    const json_t *body = json_object_get(m, "body");
    const char *b = json_string_value(body);
    memset(e, 0, sizeof *e);
    *out = NULL;
    if (!json_is_object(m))
        return adapter_fail(e, "mapped", "is required: an object {\"body\", \"fields\"}");
    if (body && (!b || (strcmp(b, "json") != 0 && strcmp(b, "form") != 0)))
        return adapter_fail(e, "mapped.body", "must be \"json\" or \"form\"");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        char at[128];
        snprintf(at, sizeof at, "mapped.%s", k);
        if (strcmp(k, "body") != 0 && strcmp(k, "fields") != 0)
            return adapter_fail(e, at, "unknown: mapped has body and fields");
    }
    mapped_compiled *c = calloc(1, sizeof *c);
    if (!c)
        return adapter_fail(e, "mapped", "out of memory");
    c->form = b && strcmp(b, "form") == 0;
    if (compile_fields(c, json_object_get(m, "fields"), e) < 0) {
        mapped_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

static int mapped_check_settings(const json_t *settings, adapter_error *e)
{
    void *c = NULL;
    int rc = mapped_compile(settings, &c, e);
    mapped_free(c);
    return rc;
}

/* ---- reading a request ---- */

static const json_t *pointer_get(const msource *s, const json_t *doc)
{
    for (size_t i = 0; doc && i < s->n_tokens; i++) {
        const char *tok = s->tokens[i];
        if (json_is_object(doc)) {
            doc = json_object_get(doc, tok);
        } else if (json_is_array(doc) && tok[0] && strspn(tok, "0123456789") == strlen(tok) &&
                   (tok[0] != '0' || !tok[1]) && strlen(tok) < 10) {
            doc = json_array_get(doc, strtoul(tok, NULL, 10));
        } else {
            doc = NULL;
        }
    }
    return doc;
}

static const json_t *source_raw(const msource *s, const json_t *doc)
{
    const json_t *v = NULL;
    if (s->kind == SRC_CONST)
        return s->constant;
    if (s->kind == SRC_POINTER)
        v = pointer_get(s, doc);
    else if (s->kind == SRC_FIELD)
        v = json_object_get(doc, s->form_name);
    if (json_is_array(v) && s->kind == SRC_FIELD) /* a repeated form field: its first value */
        v = json_array_get(v, 0);
    return json_is_null(v) ? NULL : v;
}

/* The value of a field for this request: 1 with *out (new reference), 0 absent, -1 error. */
static int resolve(const msource *s, const mtarget *t, const json_t *doc, json_t **out,
                   adapter_error *e)
{
    char text[256], msg[200] = "";
    const json_t *raw = s->kind ? source_raw(s, doc) : NULL;
    *out = NULL;
    if (s->kind == SRC_CONST)
        return (*out = json_incref(s->constant)) != NULL;
    if (raw && s->map) {
        if (!lookup_text(raw, text, sizeof text))
            return adapter_fail(
                e, s->name,
                "must be a string (up to %zu bytes, no NUL) or a number: mapped.fields.%s "
                "looks it up in its map",
                sizeof text - 1, t->name);
        const json_t *hit = json_object_get(s->map, text);
        if (hit || s->def)
            return (*out = json_incref((json_t *)(hit ? hit : s->def))) != NULL;
        return adapter_fail(e, s->name,
                            "\"%.60s\" is not in mapped.fields.%s.map, which has no default", text,
                            t->name);
    }
    if (!raw)
        return s->def ? (*out = json_incref(s->def)) != NULL : 0;
    if (!(*out = convert(raw, t, s->ms, msg, sizeof msg)))
        return adapter_fail(e, s->name, "%s (mapped.fields.%s)", msg[0] ? msg : "out of memory",
                            t->name);
    return 1;
}

static json_t *decode_body(const mapped_compiled *c, const adapter_request *req, adapter_error *e)
{
    json_error_t je;
    char msg[160] = "";
    const char *body = req->body ? req->body : "";
    if (c->form) {
        json_t *f = form_parse(body, req->body_len, msg, sizeof msg);
        if (!f)
            adapter_fail(e, "form",
                         "the body is not a form (application/x-www-form-urlencoded): %s", msg);
        return f;
    }
    json_t *doc = json_loadb(body, req->body_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        adapter_fail(e, "json", "malformed JSON: %s (line %d, column %d)", je.text, je.line,
                     je.column);
    return doc;
}

/* ---- building the event ---- */

static const char *scope_object(enum mscope sc, const char *kind, const char *state)
{
    bool call = strcmp(kind, "call") == 0;
    switch (sc) {
    case SC_PARTY:
        return call || strcmp(kind, "ivr") == 0 ? kind : NULL;
    case SC_CALL:
        return call ? "call" : NULL;
    case SC_DISC:
        return call && strcmp(state, "disconnected") == 0 ? "call" : NULL;
    case SC_RECORD:
        return strcmp(kind, "record") == 0 ? "record" : NULL;
    default:
        return "";
    }
}

/* Where target t lands in an event of this kind ("call.from.number"), or "" if nowhere. */
static void target_path(const mtarget *t, const char *kind, const char *state, char *buf,
                        size_t size)
{
    const char *obj = scope_object(t->scope, kind, state);
    if (!obj)
        snprintf(buf, size, "%s", "");
    else
        snprintf(buf, size, "%s%s%s%s%s", obj, *obj ? "." : "", t->path[0], t->path[1] ? "." : "",
                 t->path[1] ? t->path[1] : "");
}

static int place(json_t *ev, const mtarget *t, const char *obj, json_t *v)
{
    const char *names[3];
    size_t n = 0;
    if (*obj)
        names[n++] = obj;
    names[n++] = t->path[0];
    if (t->path[1])
        names[n++] = t->path[1];
    json_t *at = ev;
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *next = json_object_get(at, names[i]);
        if (!next && json_object_set_new(at, names[i], next = json_object()) < 0) {
            json_decref(v);
            return -1;
        }
        at = next;
    }
    return json_object_set_new(at, names[n - 1], v);
}

static int fill_fields(const mapped_compiled *c, const json_t *doc, const char *kind,
                       const char *state, json_t *ev, adapter_error *e)
{
    for (size_t i = T_STATE + 1; i < N_TARGETS; i++) {
        const char *obj = scope_object(targets[i].scope, kind, state);
        json_t *v = NULL;
        if (!obj || !c->src[i].kind)
            continue;
        int rc = resolve(&c->src[i], &targets[i], doc, &v, e);
        if (rc < 0 || (rc == 1 && place(ev, &targets[i], obj, v) < 0))
            return -1;
    }
    return 0;
}

/* The extensions the sources give, each once; what is not an extension is not a user. */
static json_t *collect_users(const mapped_compiled *c, const json_t *doc, adapter_error *e)
{
    json_t *users = json_array();
    for (size_t i = 0; users && i < c->n_users; i++) {
        json_t *v = NULL;
        if (resolve(&c->users[i], &targets[T_USERS], doc, &v, e) < 0) {
            json_decref(users);
            return NULL;
        }
        const char *s = json_string_value(v);
        bool keep = s && name_extension_valid(s);
        for (size_t j = 0; keep && j < json_array_size(users); j++)
            keep = strcmp(json_string_value(json_array_get(users, j)), s) != 0;
        if (keep)
            json_array_append(users, v);
        json_decref(v);
    }
    if (!users && !e->message[0])
        adapter_fail(e, "", "out of memory");
    return users;
}

/* ivr: one online user; a record naming nobody: the call's parties; else the users. */
static int fill_users(const mapped_compiled *c, const json_t *doc, const char *kind, json_t *ev,
                      adapter_error *e)
{
    if (strcmp(kind, "ivr") == 0)
        return json_object_set_new(ev, "target", json_string("one_online"));
    json_t *users = collect_users(c, doc, e);
    if (!users)
        return -1;
    if (json_array_size(users) > 0)
        return json_object_set_new(ev, "users", users);
    json_decref(users);
    if (strcmp(kind, "record") == 0)
        return json_object_set_new(ev, "target", json_string("call_parties"));
    return adapter_fail(e, c->n_users ? c->users[0].name : "mapped.fields.users",
                        "names no extension: none of mapped.fields.users gives one");
}

/* The event contract's complaint, said in terms of the mapping. */
static void explain(const mapped_compiled *c, const char *kind, const char *state, adapter_error *e)
{
    char path[128];
    for (size_t i = 0; i < N_TARGETS; i++) {
        target_path(&targets[i], kind, state, path, sizeof path);
        if (!c->src[i].kind || strcmp(path, e->field) != 0)
            continue;
        adapter_error was = *e;
        adapter_fail(e, c->src[i].name, "%s (mapped.fields.%s): %s", was.field, targets[i].name,
                     was.message);
        return;
    }
}

/* kind and state: 1 with both set (state "" for record), 0 when the event is ignored. */
static int recognise(const mapped_compiled *c, const json_t *doc, char kind[16], char state[16],
                     adapter_error *e)
{
    json_t *k = NULL, *s = NULL;
    int rc = c->src[T_KIND].kind ? resolve(&c->src[T_KIND], &targets[T_KIND], doc, &k, e) : 1;
    snprintf(kind, 16, "%s", k ? json_string_value(k) : "call");
    json_decref(k);
    if (rc == 0)
        return adapter_fail(e, c->src[T_KIND].name, "is required (mapped.fields.kind)");
    if (rc < 0 || strcmp(kind, "ignore") == 0)
        return rc < 0 ? -1 : 0;
    state[0] = '\0';
    if (strcmp(kind, "record") == 0)
        return 1;
    if (!c->src[T_STATE].kind)
        return adapter_fail(e, "mapped.fields.state", "is required for kind %s", kind);
    rc = resolve(&c->src[T_STATE], &targets[T_STATE], doc, &s, e);
    snprintf(state, 16, "%s", s ? json_string_value(s) : "");
    json_decref(s);
    if (rc == 0)
        return adapter_fail(e, c->src[T_STATE].name, "is required (mapped.fields.state)");
    return rc < 0 ? -1 : strcmp(state, "ignore") != 0;
}

static json_t *build_event(const mapped_compiled *c, const json_t *doc, const char *kind,
                           const char *state, adapter_error *e)
{
    json_t *ev = json_pack("{ss}", "kind", kind), *id = NULL;
    if (!ev)
        return adapter_fail(e, "", "out of memory"), NULL;
    if (*state || strcmp(kind, "record") == 0)
        json_object_set_new(ev, kind, *state ? json_pack("{ss}", "state", state) : json_object());
    int rc = resolve(&c->src[T_CALL_ID], &targets[T_CALL_ID], doc, &id, e);
    if (rc == 0)
        adapter_fail(e, c->src[T_CALL_ID].name, "is required (mapped.fields.call_id)");
    if (rc == 1)
        json_object_set_new(ev, "call_id", id);
    if (rc < 1 || fill_users(c, doc, kind, ev, e) < 0 ||
        fill_fields(c, doc, kind, state, ev, e) < 0) {
        json_decref(ev);
        return NULL;
    }
    json_t *out = event_check_copy(ev, "", e);
    json_decref(ev);
    if (!out)
        explain(c, kind, state, e);
    else
        json_object_set_new(out, "source", json_string("mapped"));
    return out;
}

static enum adapter_status mapped_parse(const adapter_ctx *ctx, const adapter_request *req,
                                        json_t *out, adapter_error *err)
{
    const mapped_compiled *c = ctx->compiled;
    char kind[16], state[16];
    memset(err, 0, sizeof *err);
    if (req->subpath && *req->subpath && strcmp(req->subpath, "/") != 0)
        return adapter_fail(err, "", "mapped takes POST /v1/hooks/INTEGRATION/mapped only"),
               ADAPTER_NOT_FOUND;
    if (!c)
        return adapter_fail(err, "settings.mapped", "this integration has no compiled mapping"),
               ADAPTER_INVALID;
    json_t *doc = decode_body(c, req, err);
    if (!doc)
        return ADAPTER_INVALID;
    int rc = recognise(c, doc, kind, state, err);
    json_t *ev = rc == 1 ? build_event(c, doc, kind, state, err) : NULL;
    json_decref(doc);
    if (rc < 0 || (rc == 1 && (!ev || json_array_append_new(out, ev) < 0)))
        return ADAPTER_INVALID;
    return ADAPTER_OK;
}

const adapter adapter_mapped = {
    .name = "mapped",
    .check_settings = mapped_check_settings,
    .compile = mapped_compile,
    .free_compiled = mapped_free,
    .parse = mapped_parse,
};
