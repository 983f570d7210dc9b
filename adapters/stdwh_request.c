/* stdwh_request.c — see stdwh_request.h. */
#include "stdwh_request.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

static const char *status_header(enum stdwh_status st, const adapter_request *req)
{
    switch (st) {
    case STDWH_MISSING:
        return adapter_header(req, "webhook-id") ? "webhook-timestamp" : "webhook-id";
    case STDWH_BAD_TIMESTAMP:
    case STDWH_STALE:
        return "webhook-timestamp";
    case STDWH_MISMATCH:
        return "webhook-signature";
    default:
        return "";
    }
}

enum adapter_status stdwh_verify_request(const adapter_ctx *ctx, const adapter_request *req,
                                         adapter_error *err)
{
    memset(err, 0, sizeof *err);
    const char *sig = adapter_header(req, "webhook-signature");
    if (!sig)
        return ADAPTER_NO_SIGNATURE;
    const char *secret = json_string_value(json_object_get(ctx->settings, "webhook_secret"));
    if (!secret || !*secret) {
        snprintf(err->field, sizeof err->field, "webhook-signature");
        snprintf(err->message, sizeof err->message,
                 "the request is signed but this integration has no webhook_secret");
        return ADAPTER_BAD_SIGNATURE;
    }
    enum stdwh_status st = stdwh_verify(secret, adapter_header(req, "webhook-id"),
                                        adapter_header(req, "webhook-timestamp"), sig, req->body,
                                        req->body_len, ctx->now);
    if (st == STDWH_OK)
        return ADAPTER_OK;
    snprintf(err->field, sizeof err->field, "%s", status_header(st, req));
    snprintf(err->message, sizeof err->message, "%s", stdwh_status_text(st));
    return ADAPTER_BAD_SIGNATURE;
}
