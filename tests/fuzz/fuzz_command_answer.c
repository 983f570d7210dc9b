/* fuzz_command_answer.c — libFuzzer: "D S1 S2 REST". D picks the dialect (mango, twilio,
 * asterisk) and the op; S1 S2 the PBX's HTTP status; REST is both the PBX's answer body to
 * parse_command_answer and every id of the command build_command gets. Nothing may crash, leak
 * or read out of bounds; a built request has a URL, a refused one and a failed parse say why,
 * and a result's events keep the contract. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "common.h"
#include "event_check.h"

static const char *const dialects[] = {"mango", "twilio", "asterisk"};
static const char *const ops[] = {"callback", "route", "transfer", "hangup", "record", "status"};

static json_t *settings_of(const char *dialect)
{
    if (strcmp(dialect, "mango") == 0)
        return json_pack("{s:{s:s,s:s}}", "mango", "api_key", "k", "api_salt", "s");
    if (strcmp(dialect, "twilio") == 0)
        return json_pack("{s:{s:s,s:s,s:s,s:s}}", "twilio", "auth_token", "t", "public_url",
                         "https://r.example/h", "account_sid", "AC1", "caller_id", "+1555");
    return json_pack("{s:{s:s,s:s,s:s}}", "asterisk", "ari_url", "http://pbx:8088", "ari_user", "u",
                     "ari_password", "p");
}

static json_t *command_of(const char *op, const char *text, size_t len)
{
    json_t *v = json_stringn(text, len);
    if (!v) /* not UTF-8: the ids are plain ones */
        v = json_string("x");
    json_t *c = json_pack("{s:s,s:s}", "op", op, "command_id", "c1");
    const char *const names[] = {"extension", "to_number",    "to_extension",
                                 "call_id",   "recording_id", "line_number"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        json_object_set(c, names[i], v);
    json_object_set_new(c, "method", json_string("blind"));
    json_decref(v);
    return c;
}

static void check_result(const json_t *result)
{
    const json_t *events = json_object_get(result, "events");
    adapter_error e;
    if (events && event_check_all(events, &e) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    const char *dialect = dialects[data[0] % 3], *op = ops[(data[0] / 3) % 6];
    const adapter *a = adapter_find(dialect);
    char *body = malloc(size - 2);
    memcpy(body, data + 3, size - 3);
    body[size - 3] = '\0';
    json_t *settings = settings_of(dialect), *command = command_of(op, body, size - 3);
    adapter_ctx ctx = {.integration = "fuzz", .settings = settings, .now = 1795456800};
    adapter_http out;
    adapter_error err;
    enum adapter_status st = a->build_command(&ctx, command, &out, &err);
    if ((st == ADAPTER_OK && !out.url) || (st != ADAPTER_OK && !err.message[0]))
        abort();
    adapter_http_clear(&out);
    /* the broker reads answers only to what it could build */
    adapter_reply reply = {
        .status = ((data[1] << 8) | data[2]) % 600, .body = body, .body_len = size - 3};
    json_t *result = st == ADAPTER_OK ? json_object() : NULL;
    if (result && a->parse_command_answer(&ctx, command, &reply, result, &err) == 0)
        check_result(result);
    else if (result && !err.message[0])
        abort();
    json_decref(result);
    json_decref(command);
    json_decref(settings);
    free(body);
    return 0;
}
