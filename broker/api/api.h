/* api.h — the REST handlers, one file per group:
 * api_admin.c (provisioning), api_users.c (users, channel), api_hooks.c (PBX webhooks),
 * api_ops.c (health, readiness, metrics), api_calls.c (calls' state, who is online),
 * api_notifications.c (outbound notifications: list, one, retry),
 * api_static.c (the browser module and the demo page, embedded at build time),
 * api_auth.c (who a request is: admin, integration token, signature, source network). Each
 * handler answers exactly once. */
#ifndef CR_API_H
#define CR_API_H
#include "http.h"
#include "http_head.h"
#include "integrations.h"
#include "names.h"
#include "store_outcome.h"

void api_integration_create(http_req *r);
void api_integration_update(http_req *r);
void api_integration_delete(http_req *r);
void api_integration_list(http_req *r);

void api_users_create(http_req *r);
void api_users_delete(http_req *r);
void api_users_list(http_req *r);
void api_channel(http_req *r);

void api_hook(http_req *r);

void api_callback(http_req *r);
void api_route_async(http_req *r);
void api_transfer(http_req *r);
void api_hangup(http_req *r);
void api_record(http_req *r);
void api_finaz_post(http_req *r);
void api_finaz_get(http_req *r);

void api_call_get(http_req *r);
void api_session_ping(http_req *r);

void api_notifications_list(http_req *r);
void api_notification_get(http_req *r);
void api_notifications_retry(http_req *r);

void api_healthz(http_req *r);
void api_readyz(http_req *r);
void api_metrics(http_req *r);

void api_client_js(http_req *r);
void api_client_dts(http_req *r);
/* /demo and /demo/...: 404 unless CALLRELAY_DEMO=1. */
void api_demo_page(http_req *r);
void api_demo_asset(http_req *r);

/* What a request's head alone decides, before its body is read: 0 read the body, -1 refused
 * (*why says how), 1 the webhook names an integration unknown here (reload, then ask again). */
int api_head_check(http_req *r, head_refusal *why);
/* The routes and the head check, for http_start. */
extern const http_api api_http;
/* A Bearer token in the head of a provisioning call must be the admin token. */
int api_admin_head_check(http_req *r, head_refusal *why);
/* A Bearer token in the head of a users or channel call must be an integration's. */
int api_integration_head_check(http_req *r, head_refusal *why);

/* Shared checks: each answers the request itself and returns false when it fails. */
bool api_require_admin(http_req *r, const json_t *body);
/* Finds the integration of the request's token; fills r->integration. */
bool api_require_integration(http_req *r, const json_t *body);
/* The integration's allowed_networks hold the client's address (behind trusted proxies). */
bool api_source_allowed(const integration *in, http_req *r);
/* A webhook: the integration's token, else the adapter's signature (verify); answers 401. */
bool api_authenticate_hook(http_req *r, const integration *in, const adapter_ctx *ctx,
                           const adapter_request *q);
/* 503 when Redis is not connected or too much is in flight. */
bool api_require_store(http_req *r);
/* The start of most handlers: parses the body, checks the admin or the integration token and
 * that Redis is up, and copies the body's string field `field`, checked by `valid`, into out
 * (`rule` says what is allowed). Returns the body, or NULL when it answered already. */
json_t *api_named_body(http_req *r, bool admin, const char *field, bool (*valid)(const char *),
                       const char *rule, char out[NAME_MAX_LEN + 1]);
/* After a call of the store's domain API for r: rc 0 holds r until its callback runs; otherwise
 * answers 503. */
void api_store_wait(http_req *r, int rc);
/* Common answer to a store call that did not succeed: 503 or 500. */
void api_reply_store_outcome(http_req *r, store_outcome o);

#endif
