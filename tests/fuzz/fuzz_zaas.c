/* fuzz_zaas.c — libFuzzer: arbitrary bytes as ZaaS's answer to every request the adapter makes
 * (Login, Call/Server, Call/Create, Call/Status, with and without a login already redone), under
 * a few HTTP statuses, and as integration settings. Nothing may crash, leak or read out of
 * bounds; every event a poll yields must keep the contract and prepare, and a result carries
 * only what the broker reads, with the types it expects. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "common.h"
#include "event.h"
#include "event_check.h"

#define FUZZ_NOW 1795449602

static const char *const settings_json =
    "{\"zaas\":{\"base_url\":\"https://zaas.example/Voice\",\"login\":\"flex\","
    "\"password\":\"x\",\"cod_campaign\":\"0\",\"poll_interval_ms\":500}}";

/* The commands at each stage: no session (Login), a token (Call/Server), token and api_key
 * (Call/Create), a poll with a token (Call/Status) after a status seen. */
static const char *const commands[] = {
    "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"101\",\"to_number\":\"55\","
    "\"session\":{}}",
    "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"101\",\"to_number\":\"55\","
    "\"session\":{\"token\":\"t\",\"token_at\":1795449000},\"step\":{\"relogged\":true}}",
    "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"101\",\"to_number\":\"55\","
    "\"session\":{\"token\":\"t\",\"token_at\":1795449000,\"api_key\":\"k\"}}",
    "{\"op\":\"status\",\"command_id\":\"poll:x\",\"call_id\":\"x\",\"user\":\"101\","
    "\"number\":\"55\",\"last\":\"Setup\",\"seq\":1,"
    "\"session\":{\"token\":\"t\",\"token_at\":1795449000}}",
    "{\"op\":\"status\",\"command_id\":\"poll:x\",\"call_id\":\"x\",\"user\":\"101\","
    "\"last\":\"\",\"seq\":0,\"session\":{\"token\":\"t\",\"token_at\":1795449000},"
    "\"step\":{\"relogged\":true}}",
};

static void check_result(const json_t *res)
{
    const json_t *events = json_object_get(res, "events");
    adapter_error e;
    size_t i;
    json_t *ev;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)res, k, v)
    {
        if ((strcmp(k, "status") == 0 || strcmp(k, "code") == 0 || strcmp(k, "retry_ms") == 0) &&
            !json_is_integer(v))
            abort();
        if ((strcmp(k, "session") == 0 || strcmp(k, "next") == 0 || strcmp(k, "answer") == 0 ||
             strcmp(k, "poll") == 0) &&
            !json_is_object(v))
            abort();
    }
    if (!events)
        return;
    if (!json_is_array(events) || event_check_all(events, &e) != 0)
        abort();
    json_array_foreach(events, i, ev)
    {
        event_prepared p;
        if (event_prepare(ev, "fuzz", "zaas", 1795449602123LL, &p) != 0)
            abort();
        event_prepared_free(&p);
    }
}

static void fuzz_answer(const adapter *a, const json_t *settings, const char *command_json,
                        int status, const char *body, size_t len)
{
    adapter_ctx ctx = {.integration = "fuzz", .settings = settings, .now = FUZZ_NOW};
    json_t *command = json_loads(command_json, 0, NULL);
    adapter_http http;
    adapter_error err;
    if (!command || a->build_command(&ctx, command, &http, &err) != ADAPTER_OK)
        abort();
    adapter_http_clear(&http);
    adapter_reply reply = {
        .status = status, .content_type = "application/json", .body = body, .body_len = len};
    json_t *res = json_object();
    if (a->parse_command_answer(&ctx, command, &reply, res, &err) == 0)
        check_result(res);
    json_decref(res);
    json_decref(command);
}

static void fuzz_settings(const adapter *a, const char *body, size_t len)
{
    json_t *s = json_loadb(body, len, 0, NULL);
    adapter_error err;
    if (s)
        a->check_settings(s, &err);
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 401, 500};
    const adapter *a = adapter_find("zaas");
    json_t *settings = json_loads(settings_json, 0, NULL);
    char *body = malloc(size + 1); /* the broker hands a NUL-terminated body */
    if (!a || !settings || !body)
        abort();
    memcpy(body, data, size);
    body[size] = '\0';
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        for (size_t s = 0; s < sizeof statuses / sizeof statuses[0]; s++)
            fuzz_answer(a, settings, commands[c], statuses[s], body, size);
    fuzz_settings(a, body, size);
    free(body);
    json_decref(settings);
    return 0;
}
