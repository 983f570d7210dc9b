/* api_test_relay.c — built only with `make TEST_ROUTES=1` (CALLRELAY_TEST_ROUTES), never in the
 * shipped binary: GET /test/relay?url=...&accept=audio/wav&idle_ms=...&auth=user:pass streams
 * url to the client through relay.c, so the relay can be tested end to end before the command
 * engine serves GET /v1/record. Failures are answered the way the engine maps them. */
#include "api.h"
#include "commands.h"
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

void api_test_relay(http_req *r)
{
    char url[1024], accept[128] = "", idle[32] = "", auth[256] = "", header[512];
    if (lws_get_urlarg_by_name(r->wsi, "url=", url, sizeof url) == NULL) {
        http_reply_error(r, 400, RC_BAD_REQUEST, "url", "url is required");
        return;
    }
    lws_get_urlarg_by_name(r->wsi, "accept=", accept, sizeof accept);
    lws_get_urlarg_by_name(r->wsi, "idle_ms=", idle, sizeof idle);
    lws_get_urlarg_by_name(r->wsi, "auth=", auth, sizeof auth);
    adapter_http rq = {.method = "GET", .url = url, .stream = true};
    if (auth[0]) {
        unsigned char b64[4 * sizeof auth / 3 + 4];
        EVP_EncodeBlock(b64, (const unsigned char *)auth, (int)strlen(auth));
        snprintf(header, sizeof header, "Authorization: Basic %s\r\n", b64);
        rq.headers = header;
    }
    const char *types[] = {accept, NULL};
    relay_opts o = {.idle_timeout_ms = atol(idle), .accept_types = accept[0] ? types : NULL};
    if (relay_start(r, commands_http(), &rq, &o, on_fail, NULL) != 0)
        http_reply_error(r, 500, RC_INTERNAL, NULL, "the relay did not start");
}
