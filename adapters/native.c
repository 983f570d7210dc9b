/* native.c — the normalized event itself as JSON (schemas/event.schema.json), one object or
 * an array of 1..1000, checked field by field; only known fields are copied. Signed the
 * Standard Webhooks way with the integration's webhook_secret (or sent with its token). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "adapter.h"
#include "common.h"
#include "event.h"
#include "event_check.h"
#include "stdwh_request.h"

#define NATIVE_MAX_EVENTS 1000

/* ---- the adapter ---- */

/* webhook-id as the key of a single-event body, when it fits a key. */
static void key_from_webhook_id(const adapter_request *req, json_t *ev)
{
    const char *id = adapter_header(req, "webhook-id");
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
        return adapter_fail_at(e, "", "", "the body must be an event or an array of 1 to %d events",
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
        return adapter_fail_at(e, "", "", "the body must be an event object or an array of events");
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
        adapter_fail_at(err, "", "", "native takes POST /v1/hooks/INTEGRATION/native only");
        return ADAPTER_INVALID;
    }
    json_error_t jerr;
    json_t *body = json_loadb(req->body ? req->body : "", req->body_len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!body) {
        adapter_fail_at(err, "", "", "malformed JSON: %s (line %d, column %d)", jerr.text,
                        jerr.line, jerr.column);
        return ADAPTER_INVALID;
    }
    json_t *events = json_array();
    int rc =
        events ? parse_body(req, body, events, err) : adapter_fail_at(err, "", "", "out of memory");
    if (rc == 0 && json_array_extend(out, events) < 0)
        rc = adapter_fail_at(err, "", "", "out of memory");
    json_decref(events);
    json_decref(body);
    return rc == 0 ? ADAPTER_OK : ADAPTER_INVALID;
}

static int native_check_settings(const json_t *settings, adapter_error *err)
{
    const json_t *v = json_object_get(settings, "webhook_secret");
    const char *s = json_string_value(v);
    memset(err, 0, sizeof *err);
    if (!v || (s && strncmp(s, "whsec_", 6) == 0 && strlen(s) > 6))
        return 0;
    return adapter_fail_at(err, "", "webhook_secret", "must be \"whsec_\" + base64");
}

static int native_answer(const adapter_ctx *ctx, const adapter_counts *c, adapter_answer *out)
{
    (void)ctx;
    return adapter_answer_summary(c, out);
}

const adapter adapter_native = {
    .name = "native",
    .standard_webhooks = true,
    .events_checked = true,
    .check_settings = native_check_settings,
    .parse = native_parse,
    .verify = stdwh_verify_request,
    .answer = native_answer,
};
