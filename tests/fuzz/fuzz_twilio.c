/* fuzz_twilio.c — libFuzzer: arbitrary requests through the twilio adapter's verify and parse,
 * and the same bytes as settings. The input is "FLAGS\nSUBPATH\nQUERY\nSIGNATURE\nSETTINGS-
 * HEADER\nBODY" (missing lines are empty); FLAGS' first byte picks the content type. Nothing may
 * crash, leak or read out of bounds; what parses keeps the event contract; a refusal leaves no
 * events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapter.h"
#include "event_check.h"

enum { F_FLAGS, F_SUBPATH, F_QUERY, F_SIG, F_SETTINGS, F_BODY, F_N };

static const char *fuzz_header(const adapter_request *req, const char *name)
{
    char *const *f = req->header_ctx;
    const char *v = NULL;
    if (strcasecmp(name, "X-Twilio-Signature") == 0)
        v = f[F_SIG];
    else if (strcasecmp(name, "X-Twilio-Webhooks-Signature-Settings") == 0)
        v = f[F_SETTINGS];
    return v && *v ? v : NULL;
}

/* Splits a NUL-terminated copy in place; the body keeps its length (it may hold NULs). */
static size_t split(char *text, size_t size, char *f[F_N])
{
    char *p = text;
    for (int i = 0; i < F_BODY; i++) {
        f[i] = p;
        char *nl = memchr(p, '\n', size - (size_t)(p - text));
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = text + size;
        }
    }
    f[F_BODY] = p;
    return size - (size_t)(p - text);
}

static void run(const adapter *a, const void *compiled, json_t *settings, char *f[F_N],
                size_t body_len)
{
    static const char *const types[] = {"application/x-www-form-urlencoded", "application/json",
                                        NULL, "text/plain"};
    adapter_request req = {.method = "POST",
                           .subpath = f[F_SUBPATH],
                           .query = f[F_QUERY],
                           .content_type = types[(unsigned char)f[F_FLAGS][0] % 4],
                           .body = f[F_BODY],
                           .body_len = body_len,
                           .header = fuzz_header,
                           .header_ctx = f};
    adapter_ctx ctx = {
        .integration = "fuzz", .settings = settings, .compiled = compiled, .now = 1795449600};
    adapter_error err;
    a->verify(&ctx, &req, &err);
    json_t *out = json_array();
    if (a->parse(&ctx, &req, out, &err) == ADAPTER_OK) {
        if (event_check_all(out, &err) != 0)
            abort();
    } else if (json_array_size(out) != 0 || !err.message[0]) {
        abort();
    }
    json_decref(out);
}

/* The first line as public_url: whatever check_settings accepts must compile. */
static void fuzz_settings(const adapter *a, const char *url)
{
    json_t *s = json_pack("{s{ss,ss}}", "twilio", "auth_token", "t", "public_url", url);
    adapter_error err;
    void *c = NULL;
    if (s && a->check_settings(s, &err) == 0 && a->compile(s, &c, &err) != 0)
        abort();
    a->free_compiled(c);
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const adapter *a = adapter_find("twilio");
    char *text = malloc(size + 1), *f[F_N];
    if (!text || !a)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_settings(a, text);
    size_t body_len = split(text, size, f);
    json_t *settings =
        json_pack("{s{ss,ss,ss}}", "twilio", "auth_token", "0123456789abcdef0123456789abcdef",
                  "public_url", "https://relay.example.com/v1/hooks/acme/twilio", "shared_key",
                  "callrelay-test-twilio-shared-key");
    void *compiled = NULL;
    adapter_error err;
    if (a->compile(settings, &compiled, &err) != 0)
        abort();
    run(a, compiled, settings, f, body_len);
    a->free_compiled(compiled);
    json_decref(settings);
    free(text);
    return 0;
}
