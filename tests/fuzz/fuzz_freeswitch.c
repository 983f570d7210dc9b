/* fuzz_freeswitch.c — libFuzzer: arbitrary CDR posts through freeswitch.parse. The first byte
 * picks how the rest arrives (raw JSON, form, base64 form, no Content-Type, or the rest
 * base64-encoded here so the fuzzer reaches the JSON behind "cdr="); the same bytes as JSON
 * settings go through check_settings. Nothing may crash, leak or read out of bounds; what
 * parses keeps the event contract and prepares. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "event.h"
#include "event_check.h"

static const char *const content_types[] = {
    "application/json",
    "application/x-www-form-urlencoded",
    "application/x-www-form-base64-encoded",
    NULL,
    "application/x-www-form-base64-encoded",
};

static void prepare_all(const json_t *events)
{
    size_t i;
    json_t *ev;
    adapter_error e;
    if (event_check_all(events, &e) != 0)
        abort();
    json_array_foreach(events, i, ev)
    {
        event_prepared p;
        if (event_prepare(ev, "fuzz", "freeswitch", 1795456800123LL, &p) != 0)
            abort();
        event_prepared_free(&p);
    }
}

/* mode 4: "cdr=" + base64 of the input, as mod_json_cdr's encode base64 sends it. */
static char *wrap_base64(const uint8_t *data, size_t size, size_t *len)
{
    char *b = malloc(4 * ((size + 2) / 3) + 5);
    if (!b)
        return NULL;
    memcpy(b, "cdr=", 4);
    *len = 4 + (size_t)EVP_EncodeBlock((unsigned char *)b + 4, data, (int)size);
    return b;
}

static void fuzz_parse(unsigned mode, const char *body, size_t len)
{
    const adapter *a = adapter_find("freeswitch");
    adapter_request req = {.method = "POST",
                           .subpath = mode & 8 ? "/x" : "",
                           .query = "token=T?uuid=U",
                           .content_type = content_types[mode % 5],
                           .body = body,
                           .body_len = len};
    adapter_ctx ctx = {.integration = "fuzz", .now = 1795456800};
    adapter_error err;
    json_t *out = json_array();
    enum adapter_status st = a->parse(&ctx, &req, out, &err);
    if (st == ADAPTER_OK)
        prepare_all(out);
    else if (json_array_size(out) != 0 || !err.message[0])
        abort();
    json_decref(out);
}

static void fuzz_settings(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    adapter_error err;
    json_t *s = json_loadb((const char *)data, size, 0, &jerr);
    if (s && adapter_find("freeswitch")->check_settings(s, &err) != 0 && !err.field[0])
        abort();
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 20)
        return 0;
    unsigned mode = data[0];
    const uint8_t *rest = data + 1;
    size_t n = size - 1, len = n;
    char *body = mode % 5 == 4 ? wrap_base64(rest, n, &len) : malloc(n + 1);
    if (!body)
        return 0;
    if (mode % 5 != 4)
        memcpy(body, rest, n);
    fuzz_parse(mode, body, len);
    fuzz_settings(rest, n);
    free(body);
    return 0;
}
