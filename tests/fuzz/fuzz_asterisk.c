/* fuzz_asterisk.c — libFuzzer: arbitrary bytes as an ARI body through asterisk.parse (on two
 * subpaths), as Standard Webhooks headers through its verify, and as integration settings
 * through its check. Nothing may crash, leak or read out of bounds; every event parse returns
 * must keep the contract, and those naming users must prepare. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "event.h"
#include "event_check.h"

#define FUZZ_NOW 1795449602

static const char *fuzz_header(const adapter_request *req, const char *name)
{
    const char *const *h = req->header_ctx;
    if (strcmp(name, "webhook-id") == 0)
        return h[0];
    if (strcmp(name, "webhook-timestamp") == 0)
        return h[1];
    if (strcmp(name, "webhook-signature") == 0)
        return h[2];
    return NULL;
}

static void check_events(const json_t *events)
{
    size_t i;
    json_t *ev;
    adapter_error e;
    if (event_check_all(events, &e) != 0)
        abort();
    json_array_foreach(events, i, ev)
    {
        event_prepared p;
        if (!json_object_get(ev, "users"))
            continue; /* a target (call_parties) is resolved by the ingest, not prepared here */
        if (event_prepare(ev, "fuzz", "asterisk", 1795449602123LL, &p) != 0)
            abort();
        event_prepared_free(&p);
    }
}

static void fuzz_parse(const adapter *a, const char *subpath, const char *body, size_t len,
                       const char *text)
{
    const char *headers[3] = {text, "1795449600", text};
    adapter_request req = {.method = "POST",
                           .subpath = subpath,
                           .query = "",
                           .content_type = "application/json",
                           .body = body,
                           .body_len = len,
                           .header = fuzz_header,
                           .header_ctx = headers};
    json_t *settings = json_pack("{ss}", "webhook_secret",
                                 "whsec_Y2FsbHJlbGF5LXRlc3QtYXN0ZXJpc2std2ViaG9vay1rZXktMzJi");
    adapter_ctx ctx = {.integration = "fuzz", .settings = settings, .now = FUZZ_NOW};
    adapter_error err;
    json_t *out = json_array();
    enum adapter_status st = a->parse(&ctx, &req, out, &err);
    if (st == ADAPTER_OK)
        check_events(out);
    else if (json_array_size(out) != 0)
        abort();
    a->verify(&ctx, &req, &err);
    json_decref(out);
    json_decref(settings);
}

static void fuzz_settings(const adapter *a, const char *body, size_t len)
{
    json_error_t je;
    json_t *s = json_loadb(body, len, 0, &je);
    adapter_error err;
    if (s)
        a->check_settings(s, &err);
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const adapter *a = adapter_find("asterisk");
    char *text = malloc(size + 1); /* NUL-terminated copy for header values */
    if (!a || !text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_parse(a, "", (const char *)data, size, text);
    fuzz_parse(a, "/x", (const char *)data, size, text);
    fuzz_settings(a, (const char *)data, size);
    free(text);
    return 0;
}
