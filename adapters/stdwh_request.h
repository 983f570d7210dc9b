/* stdwh_request.h — the Standard Webhooks check of a whole webhook request, shared by the
 * dialects signed that way. It speaks the seam, so it lives with the adapters;
 * broker/stdwebhooks.h knows nothing of them. */
#ifndef CR_STDWH_REQUEST_H
#define CR_STDWH_REQUEST_H
#include "adapter.h"
#include "stdwebhooks.h"

/* An adapter's verify for dialects signed this way with settings.webhook_secret (native,
 * asterisk): ADAPTER_NO_SIGNATURE without a webhook-signature header (the token may still do);
 * ADAPTER_BAD_SIGNATURE, err naming the header, when signed but without a secret, stale or
 * wrong; ADAPTER_OK when a v1 signature matches within STDWH_TOLERANCE_S of ctx->now. */
enum adapter_status stdwh_verify_request(const adapter_ctx *ctx, const adapter_request *req,
                                         adapter_error *err);

#endif
