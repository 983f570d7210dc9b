/* fuzz_native.c — libFuzzer: arbitrary bodies through native.parse, and the same bytes as a
 * ticket and as Standard Webhooks headers. Nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "event.h"
#include "event_check.h"
#include "stdwebhooks.h"
#include "ticket.h"

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

/* Every copy the script can make of a prepared event is one JSON object. */
static void check_copies(const event_prepared *p)
{
    for (int group = 0; group < 2; group++) {
        char *copy = event_for_user(p, "101", "\"c-1\"", group);
        json_t *j = copy ? json_loads(copy, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(j))
            abort();
        json_decref(j);
        free(copy);
    }
}

/* The state block is NUL-terminated fields; the parties in it, cut from a dump, are JSON. */
static void check_state(const event_prepared *p)
{
    const char *s = p->state, *end = p->state + p->state_len, *prev = NULL;
    if (p->state_len == 0 || end[-1] != '\0')
        abort();
    for (int i = 0; s < end; i++, prev = s, s += strlen(s) + 1) {
        if (i < 6 || i % 2 != 0 || (strcmp(prev, "from") != 0 && strcmp(prev, "to") != 0))
            continue;
        json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
        if (!json_is_object(j))
            abort();
        json_decref(j);
    }
}

/* Every event that parses must keep the contract and prepare. */
static void prepare_all(const json_t *events)
{
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        event_prepared p;
        adapter_error e;
        if (event_check(ev, "", &e) != 0)
            abort();
        if (event_prepare(ev, "fuzz", "native", 1795456800123LL, &p) != 0)
            abort();
        check_copies(&p);
        check_state(&p);
        event_prepared_free(&p);
    }
}

static void fuzz_parse(const char *body, size_t len, const char *text)
{
    const adapter *a = adapter_find("native");
    const char *headers[3] = {text, "1795456800", text};
    adapter_request req = {.method = "POST",
                           .subpath = "",
                           .query = "",
                           .body = body,
                           .body_len = len,
                           .header = fuzz_header,
                           .header_ctx = headers};
    adapter_ctx ctx = {.integration = "fuzz", .now = 1795456800};
    adapter_error err;
    json_t *out = json_array();
    if (a->parse(&ctx, &req, out, &err) == ADAPTER_OK)
        prepare_all(out);
    else if (json_array_size(out) != 0)
        abort();
    json_t *settings =
        json_pack("{ss}", "webhook_secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    ctx.settings = settings;
    a->verify(&ctx, &req, &err);
    json_decref(settings);
    json_decref(out);
}

static void fuzz_ticket(const char *text)
{
    static const unsigned char secret[] = "fuzz-ticket-secret-0123456789";
    char integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
    ticket_verify(secret, sizeof secret - 1, text, 1795456800, integ, ext, NULL);
}

static void fuzz_stdwh(const char *text, size_t len)
{
    /* the input as signatures, as timestamp and as secret */
    stdwh_verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", "1795456800", text, text, len,
                 1795456800);
    stdwh_verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", text, "v1,AAAA", text, len,
                 1795456800);
    stdwh_verify(text, "msg_1", "1795456800", "v1,AAAA", text, len, 1795456800);
    char sig[256];
    stdwh_sign(text, text, 1795456800, text, len, sig, sizeof sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1); /* NUL-terminated copy for the string APIs */
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_parse((const char *)data, size, text);
    fuzz_ticket(text);
    fuzz_stdwh(text, size);
    free(text);
    return 0;
}
