/* native.c — the normalized event itself as JSON (schemas/event.schema.json), one object or
 * an array of 1..1000, checked field by field; only known fields are copied. Signed the
 * Standard Webhooks way with the integration's webhook_secret (or sent with its token). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "adapter.h"
#include "event.h"
#include "event_check.h"
#include "stdwebhooks.h"

#define NATIVE_MAX_EVENTS 1000

static int native_fail(adapter_error *e, const char *path, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int native_fail(adapter_error *e, const char *path, const char *name, const char *fmt, ...)
{
    if (*path && *name)
        snprintf(e->field, sizeof e->field, "%s.%s", path, name);
    else
        snprintf(e->field, sizeof e->field, "%s", *path ? path : name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- the adapter ---- */

static const char *header(const adapter_request *req, const char *name)
{
    return req->header ? req->header(req, name) : NULL;
}

/* webhook-id as the key of a single-event body, when it fits a key. */
static void key_from_webhook_id(const adapter_request *req, json_t *ev)
{
    const char *id = header(req, "webhook-id");
    if (!id || json_object_get(ev, "key") || !*id || strlen(id) > EVENT_KEY_MAX)
        return;
    json_t *s = json_string(id);
    if (s)
        json_object_set_new(ev, "key", s);
}

static int parse_array(const json_t *body, json_t *events, adapter_error *e)
{
    size_t n = json_array_size(body);
    if (n < 1 || n > NATIVE_MAX_EVENTS)
        return native_fail(e, "", "", "the body must be an event or an array of 1 to %d events",
                           NATIVE_MAX_EVENTS);
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof path, "events[%zu]", i);
        json_t *ev = event_check_copy(json_array_get(body, i), path, e);
        if (!ev || json_array_append_new(events, ev) < 0)
            return -1;
    }
    return 0;
}

static int parse_body(const adapter_request *req, json_t *body, json_t *events, adapter_error *e)
{
    if (json_is_array(body))
        return parse_array(body, events, e);
    if (!json_is_object(body))
        return native_fail(e, "", "", "the body must be an event object or an array of events");
    json_t *ev = event_check_copy(body, "", e);
    if (!ev)
        return -1;
    key_from_webhook_id(req, ev);
    return json_array_append_new(events, ev);
}

static enum adapter_status native_parse(const adapter_ctx *ctx, const adapter_request *req,
                                        json_t *out, adapter_error *err)
{
    (void)ctx;
    memset(err, 0, sizeof *err);
    if (req->subpath && *req->subpath && strcmp(req->subpath, "/") != 0) {
        native_fail(err, "", "", "native takes POST /v1/hooks/INTEGRATION/native only");
        return ADAPTER_INVALID;
    }
    json_error_t jerr;
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!body) {
        native_fail(err, "", "", "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                    jerr.column);
        return ADAPTER_INVALID;
    }
    json_t *events = json_array();
    int rc =
        events ? parse_body(req, body, events, err) : native_fail(err, "", "", "out of memory");
    if (rc == 0 && json_array_extend(out, events) < 0)
        rc = native_fail(err, "", "", "out of memory");
    json_decref(events);
    json_decref(body);
    return rc == 0 ? ADAPTER_OK : ADAPTER_INVALID;
}

static const char *stdwh_field(enum stdwh_status st, const adapter_request *req)
{
    switch (st) {
    case STDWH_MISSING:
        return header(req, "webhook-id") ? "webhook-timestamp" : "webhook-id";
    case STDWH_BAD_TIMESTAMP:
    case STDWH_STALE:
        return "webhook-timestamp";
    case STDWH_MISMATCH:
        return "webhook-signature";
    default:
        return "";
    }
}

static enum adapter_status native_verify(const adapter_ctx *ctx, const adapter_request *req,
                                         adapter_error *err)
{
    memset(err, 0, sizeof *err);
    const char *sig = header(req, "webhook-signature");
    if (!sig)
        return ADAPTER_NO_SIGNATURE;
    const char *secret = json_string_value(json_object_get(ctx->settings, "webhook_secret"));
    if (!secret || !*secret) {
        native_fail(err, "", "webhook-signature",
                    "the request is signed but this integration has no webhook_secret");
        return ADAPTER_BAD_SIGNATURE;
    }
    enum stdwh_status st =
        stdwh_verify(secret, header(req, "webhook-id"), header(req, "webhook-timestamp"), sig,
                     req->body, req->body_len, ctx->now);
    if (st == STDWH_OK)
        return ADAPTER_OK;
    native_fail(err, "", stdwh_field(st, req), "%s", stdwh_status_text(st));
    return ADAPTER_BAD_SIGNATURE;
}

static int native_check_settings(const json_t *settings, adapter_error *err)
{
    const json_t *v = json_object_get(settings, "webhook_secret");
    const char *s = json_string_value(v);
    memset(err, 0, sizeof *err);
    if (!v || (s && strncmp(s, "whsec_", 6) == 0 && strlen(s) > 6))
        return 0;
    return native_fail(err, "", "webhook_secret", "must be \"whsec_\" + base64");
}

static int native_answer(const adapter_ctx *ctx, const adapter_counts *c, adapter_answer *out)
{
    char body[192];
    (void)ctx;
    int n = snprintf(body, sizeof body,
                     "{\"result\":{\"code\":0,\"message\":\"ok\"},\"accepted\":%u,"
                     "\"duplicates\":%u,\"ignored\":%u,\"stale\":%u}",
                     c->accepted, c->duplicates, c->ignored, c->stale);
    *out = (adapter_answer){.status = 200, .content_type = "application/json"};
    out->body = strndup(body, (size_t)n);
    out->body_len = (size_t)n;
    return out->body ? 0 : -1;
}

const adapter adapter_native = {
    .name = "native",
    .check_settings = native_check_settings,
    .parse = native_parse,
    .verify = native_verify,
    .answer = native_answer,
};
