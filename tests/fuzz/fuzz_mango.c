/* fuzz_mango.c — libFuzzer: "SUBPATH\nREST". REST goes through mango's verify and parse twice:
 * as the raw form body, and as the json field of a form signed with the test settings (whose
 * sign must never be found wrong), so parse sees every JSON path. Nothing may crash, leak or read
 * out of bounds; what parses must keep the event contract and prepare. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "adapter.h"
#include "digest.h"
#include "event.h"
#include "event_check.h"

#define KEY "callrelay-test-mango-key"
#define SALT "callrelay-test-mango-salt"

static void check_events(const json_t *events)
{
    adapter_error e;
    size_t i;
    json_t *ev;
    if (event_check_all(events, &e) != 0)
        abort();
    json_array_foreach(events, i, ev)
    {
        event_prepared p;
        if (!json_object_get(ev, "users"))
            continue; /* a target is resolved by the ingest, from the broker's state */
        if (event_prepare(ev, "fuzz", "mango", 1795456800123LL, &p) != 0)
            abort();
        event_prepared_free(&p);
    }
}

static enum adapter_status run(const char *subpath, const char *body, size_t len)
{
    const adapter *a = adapter_find("mango");
    json_t *settings = json_pack("{s:{s:s,s:s}}", "mango", "api_key", KEY, "api_salt", SALT);
    adapter_request req = {
        .method = "POST", .subpath = subpath, .query = "", .body = body, .body_len = len};
    adapter_ctx ctx = {.integration = "fuzz", .settings = settings, .now = 1795456800};
    adapter_error err;
    json_t *out = json_array();
    enum adapter_status verified = a->verify(&ctx, &req, &err);
    if (a->parse(&ctx, &req, out, &err) == ADAPTER_OK)
        check_events(out);
    else if (json_array_size(out) != 0)
        abort();
    json_decref(out);
    json_decref(settings);
    return verified;
}

/* REST as the json field, signed as Mango signs it. */
static void run_signed(const char *subpath, const char *js, size_t len)
{
    if (memchr(js, '\0', len))
        return; /* a form field cannot carry a NUL */
    char *text = malloc(sizeof KEY + len + sizeof SALT), sign[DIGEST_HEX_LEN + 1];
    char *esc = curl_easy_escape(NULL, js, (int)len);
    if (!text || !esc)
        abort();
    int n = sprintf(text, "%s%s%s", KEY, js, SALT);
    digest_sha256_hex(text, (size_t)n, sign);
    size_t blen = strlen(esc) + sizeof KEY + DIGEST_HEX_LEN + 32;
    char *body = malloc(blen);
    if (!body)
        abort();
    n = snprintf(body, blen, "vpbx_api_key=%s&sign=%s&json=%s", KEY, sign, esc);
    if (run(subpath, body, (size_t)n) == ADAPTER_BAD_SIGNATURE)
        abort(); /* a correct sign is never wrong (text that is not UTF-8 is no form at all) */
    free(body);
    free(text);
    curl_free(esc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 64 ? size : 64);
    size_t plen = nl ? (size_t)(nl - data) : 0;
    char subpath[65];
    memcpy(subpath, data, plen);
    subpath[plen] = '\0';
    const char *rest = (const char *)data + (nl ? plen + 1 : 0);
    size_t rlen = size - (size_t)(rest - (const char *)data);
    char *copy = malloc(rlen + 1); /* exactly rlen bytes for the raw body: ASan sees overreads */
    if (!copy)
        return 0;
    memcpy(copy, rest, rlen);
    copy[rlen] = '\0';
    run(subpath, copy, rlen);
    run_signed(subpath, copy, rlen);
    free(copy);
    return 0;
}
