/* api_test_relay.c — built only with `make TEST_ROUTES=1` (CALLRELAY_TEST_ROUTES), never in the
 * shipped binary: GET /test/relay?url=...&accept=audio/wav&idle_ms=...&auth=user:pass streams
 * url to the client through relay.c, so the relay can be tested end to end before the command
 * engine serves GET /v1/record. Failures are answered the way the engine maps them. */
#include "api.h"
#include "commands.h"
#include "form.h"
#include "relay.h"
#include "result.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_fail(void *ud, http_req *r, const adapter_reply *reply)
{
    (void)ud;
    if (reply->status == 0 && reply->timed_out)
        http_reply_error(r, 504, RC_PBX_TIMEOUT, NULL, "the PBX did not answer in time");
    else if (reply->status == 0)
        http_reply_error(r, 502, RC_PBX_ERROR, NULL, "the PBX could not be reached");
    else if (reply->status == 404)
        http_reply_error(r, 404, RC_RECORDING_NOT_FOUND, "recording_id", "no such recording");
    else if (reply->status >= 200 && reply->status < 300)
        http_reply_error(r, 502, RC_RECORDING_FORMAT, NULL, "the recording is %s",
                         reply->content_type ? reply->content_type : "of no type");
    else
        http_reply_error(r, 502, RC_PBX_ERROR, NULL, "the PBX answered %d", reply->status);
}

static const char *arg(const json_t *q, const char *name)
{
    const char *v = json_string_value(json_object_get(q, name));
    return v ? v : "";
}

void api_test_relay(http_req *r)
{
    char header[512], err[200];
    json_t *q = form_parse(r->query, strlen(r->query), err, sizeof err);
    const char *url = arg(q, "url"), *accept = arg(q, "accept"), *auth = arg(q, "auth");
    if (!url[0]) {
        json_decref(q);
        http_reply_error(r, 400, RC_BAD_REQUEST, "url", "url is required");
        return;
    }
    adapter_http rq = {.method = "GET", .url = (char *)url, .stream = true};
    if (auth[0] && strlen(auth) < 300) {
        unsigned char b64[404];
        EVP_EncodeBlock(b64, (const unsigned char *)auth, (int)strlen(auth));
        snprintf(header, sizeof header, "Authorization: Basic %s\r\n", b64);
        rq.headers = header;
    }
    const char *types[] = {accept, NULL};
    relay_opts o = {.idle_timeout_ms = atol(arg(q, "idle_ms")),
                    .accept_types = accept[0] ? types : NULL};
    if (relay_start(r, commands_http(), &rq, &o, on_fail, NULL) != 0)
        http_reply_error(r, 500, RC_INTERNAL, NULL, "the relay did not start");
    json_decref(q);
}
