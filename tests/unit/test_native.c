/* test_native.c — the native adapter on recorded fixtures: outputs, errors, signatures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "../../adapters/native.c"

#define FIXTURES "../fixtures/native/"
#define NOW 1795456800

struct hdr {
    const char *name, *value;
};

static const char *lookup(const adapter_request *req, const char *name)
{
    for (const struct hdr *h = req->header_ctx; h && h->name; h++)
        if (strcmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

static char *read_fixture(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static adapter_request request(const char *body, size_t len, const struct hdr *headers)
{
    adapter_request r = {.method = "POST",
                         .subpath = "",
                         .query = "",
                         .content_type = "application/json",
                         .body = body,
                         .body_len = len,
                         .header = lookup,
                         .header_ctx = (void *)headers};
    return r;
}

static const adapter_ctx CTX = {.integration = "acme", .now = NOW};

/* Parses a body; returns the events array (ADAPTER_OK expected). */
static json_t *parse_ok(const char *body, size_t len, const struct hdr *headers)
{
    adapter_request r = request(body, len, headers);
    adapter_error e;
    json_t *out = json_array();
    enum adapter_status st = adapter_native.parse(&CTX, &r, out, &e);
    if (st != ADAPTER_OK)
        print_error("unexpected error: field \"%s\": %s\n", e.field, e.message);
    assert_int_equal(st, ADAPTER_OK);
    return out;
}

static void expect_fixture(const char *name, const char *want_text, const struct hdr *headers)
{
    size_t len;
    char *body = read_fixture(name, &len);
    json_t *got = parse_ok(body, len, headers);
    json_t *want = json_loads(want_text, 0, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        print_error("%s gave %s\n", name, g);
        free(g);
    }
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    free(body);
}

static void expect_error(const char *body, size_t len, const char *field, const char *message)
{
    adapter_request r = request(body, len, NULL);
    adapter_error e;
    json_t *out = json_array();
    assert_int_equal(adapter_native.parse(&CTX, &r, out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, field);
    if (message)
        assert_string_equal(e.message, message);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
}

static void expect_fixture_error(const char *name, const char *field, const char *message)
{
    size_t len;
    char *body = read_fixture(name, &len);
    expect_error(body, len, field, message);
    free(body);
}

/* ---- fixtures that parse ---- */

static void single_call(void **state)
{
    (void)state;
    expect_fixture("call_appeared.json",
                   "[{\"kind\":\"call\",\"users\":[\"101\"],"
                   "\"call_id\":\"MToxMDE3NjUwMzoxMDE6NDY3OTgyNzI2\","
                   "\"ts\":\"2026-11-23T18:00:00.500Z\","
                   "\"call\":{\"state\":\"appeared\",\"direction\":\"inbound\","
                   "\"from\":{\"number\":\"+5511980121511\"},"
                   "\"to\":{\"number\":\"+551130030000\",\"extension\":\"101\"},"
                   "\"line\":\"551130030000\"}}]",
                   NULL);
}

static void single_call_takes_webhook_id_as_key(void **state)
{
    (void)state;
    static const struct hdr h[] = {{"webhook-id", "msg_2bLw"}, {0}};
    size_t len;
    char *body = read_fixture("call_appeared.json", &len);
    json_t *got = parse_ok(body, len, h);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "key")),
                        "msg_2bLw");
    json_decref(got);
    free(body);
    /* a given key wins over webhook-id */
    body = read_fixture("record_available.json", &len);
    got = parse_ok(body, len, h);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 0), "key")),
                        "rec-9001");
    json_decref(got);
    free(body);
}

static void batch(void **state)
{
    (void)state;
    static const struct hdr h[] = {{"webhook-id", "msg_batch"}, {0}};
    expect_fixture("batch.json",
                   "[{\"kind\":\"call\",\"users\":[\"101\",\"102\",\"103\"],\"call_id\":\"c-7f3a\","
                   "\"ts\":\"2026-11-23T18:00:01.000Z\",\"call\":{\"state\":\"appeared\","
                   "\"direction\":\"inbound\",\"from\":{\"number\":\"41988445566\"}}},"
                   "{\"kind\":\"call\",\"users\":[\"102\"],\"call_id\":\"c-7f3a\","
                   "\"ts\":\"2026-11-23T18:00:04.250Z\",\"key\":\"c-7f3a/102/connected\","
                   "\"call\":{\"state\":\"connected\",\"direction\":\"inbound\","
                   "\"from\":{\"number\":\"41988445566\"},\"to\":{\"extension\":\"102\"}}},"
                   "{\"kind\":\"call\",\"users\":[\"101\",\"103\"],\"call_id\":\"c-7f3a\","
                   "\"ts\":\"2026-11-23T18:00:04.251Z\",\"call\":{\"state\":\"disconnected\","
                   "\"is_group_disconnect\":true,"
                   "\"disconnect\":{\"code\":26,\"text\":\"non-selected user clearing\"}}},"
                   "{\"kind\":\"call\",\"users\":[\"102\"],\"call_id\":\"c-7f3a\","
                   "\"call\":{\"state\":\"disconnected\","
                   "\"disconnect\":{\"code\":16,\"text\":\"normal call clearing\"}}}]",
                   h); /* webhook-id is not the key of an array's events */
}

static void record(void **state)
{
    (void)state;
    expect_fixture("record_available.json",
                   "[{\"kind\":\"record\",\"users\":[\"102\"],\"call_id\":\"c-7f3a\","
                   "\"ts\":\"2026-11-23T18:05:00.000Z\",\"key\":\"rec-9001\","
                   "\"record\":{\"status\":\"available\",\"recording_id\":\"rec-9001\","
                   "\"url\":\"https://pbx.example.com/recordings/rec-9001.wav\","
                   "\"duration_s\":296.5}}]",
                   NULL);
}

static void ivr(void **state)
{
    (void)state;
    expect_fixture("ivr_appeared.json",
                   "[{\"kind\":\"ivr\",\"users\":[\"fallback.desk\"],\"call_id\":\"ivr-0001\","
                   "\"ivr\":{\"state\":\"appeared\",\"from\":{\"number\":\"+14155550100\"},"
                   "\"to\":{\"number\":\"+14155550199\"},\"line\":\"14155550199\"}}]",
                   NULL);
}

static void route_result(void **state)
{
    (void)state;
    expect_fixture("route_result.json",
                   "[{\"kind\":\"route_result\",\"users\":[\"101\"],\"call_id\":\"c-77\","
                   "\"route_result\":{\"command_id\":\"cmd-1\",\"result\":0,"
                   "\"to\":{\"extension\":\"102\"}}},"
                   "{\"kind\":\"route_result\",\"users\":[\"101\"],\"call_id\":\"c-78\","
                   "\"route_result\":{\"command_id\":\"cmd-2\",\"result\":4101,"
                   "\"to\":{\"extension\":\"103\",\"number\":\"5511\"}}}]",
                   NULL);
}

static void dialer_with_raw(void **state)
{
    (void)state;
    expect_fixture("dialer_connected.json",
                   "[{\"kind\":\"call\",\"users\":[\"operador_7\"],\"call_id\":\"dial-55-0001\","
                   "\"ts\":\"2026-11-23T18:00:00.123Z\","
                   "\"call\":{\"state\":\"connected\",\"direction\":\"outbound\","
                   "\"from\":{\"extension\":\"operador_7\"},\"to\":{\"number\":\"41988445566\"},"
                   "\"campaign\":\"cobranca-nov\",\"crm_contact_id\":\"884412\"},"
                   "\"raw\":{\"evento\":\"ATENDIDA\",\"pid\":884412,\"fila\":[\"a\",\"b\"]}}]",
                   NULL);
}

static void appends_to_existing_output(void **state)
{
    (void)state;
    size_t len;
    char *body = read_fixture("route_result.json", &len);
    adapter_request r = request(body, len, NULL);
    adapter_error e;
    json_t *out = json_pack("[s]", "already there");
    assert_int_equal(adapter_native.parse(&CTX, &r, out, &e), ADAPTER_OK);
    assert_int_equal(json_array_size(out), 3);
    assert_string_equal(json_string_value(json_array_get(out, 0)), "already there");
    json_decref(out);
    free(body);
}

/* ---- fixtures that do not ---- */

static void invalid_fixtures(void **state)
{
    (void)state;
    expect_fixture_error("invalid_state.json", "call.state",
                         "must be one of appeared, connected, on_hold, disconnected");
    expect_fixture_error("invalid_batch_state.json", "events[3].call.state",
                         "must be one of appeared, connected, on_hold, disconnected");
    expect_fixture_error("invalid_both_users.json", "users", "give one of user, users and target");
    expect_fixture_error("invalid_users_entry.json", "users[1]",
                         "must be an extension: 1 to 64 of A-Z a-z 0-9 _ . + -");
    expect_fixture_error("invalid_missing_call.json", "call", "is required for kind call");
    expect_fixture_error("invalid_ts.json", "ts",
                         "must be an RFC 3339 time such as 2026-11-23T18:00:00.123Z");
    expect_fixture_error("invalid_disconnect_code.json", "call.disconnect.code",
                         "must be an integer from 0 to 127");
    expect_fixture_error("invalid_record_duration.json", "events[0].record.duration_s",
                         "must be a number >= 0");
    expect_fixture_error("invalid_empty_array.json", "",
                         "the body must be an event or an array of 1 to 1000 events");
    expect_fixture_error("invalid_kind.json", "kind",
                         "must be one of call, record, ivr, route_result");
    expect_fixture_error("invalid_json.json", "", NULL);
}

struct bad {
    const char *body, *field, *message;
};

static void every_rule(void **state)
{
    (void)state;
#define EV(rest) "{\"kind\":\"call\",\"user\":\"101\",\"call_id\":\"c\"," rest "}"
#define CALL(rest) EV("\"call\":{\"state\":\"appeared\"," rest "}")
    static const struct bad cases[] = {
        {"42", "", "the body must be an event object or an array of events"},
        {"[42]", "events[0]", "must be an event object"},
        {"{\"user\":\"101\",\"call_id\":\"c\"}", "kind", "is required"},
        {"{\"kind\":7,\"user\":\"101\"}", "kind", "must be one of call, record, ivr, route_result"},
        {"{\"kind\":\"call\",\"call_id\":\"c\"}", "user", "is required (or users, or target)"},
        {"{\"kind\":\"call\",\"user\":101}", "user", NULL},
        {"{\"kind\":\"call\",\"user\":\"\"}", "user", NULL},
        {"{\"kind\":\"call\",\"users\":[]}", "users", "must be an array of 1 to 100 extensions"},
        {"{\"kind\":\"call\",\"users\":\"101\"}", "users",
         "must be an array of 1 to 100 extensions"},
        {"{\"kind\":\"call\",\"users\":[\"1\",2]}", "users[1]", NULL},
        {"{\"kind\":\"call\",\"user\":\"101\"}", "call_id", "is required"},
        {"{\"kind\":\"call\",\"user\":\"101\",\"call_id\":\"\"}", "call_id",
         "must be 1 to 200 characters long"},
        {"{\"kind\":\"call\",\"user\":\"101\",\"call_id\":5}", "call_id", "must be a string"},
        {EV("\"call\":[]"), "call", "must be an object"},
        {EV("\"call\":{}"), "call.state", "is required"},
        {CALL("\"direction\":\"sideways\""), "call.direction",
         "must be one of inbound, outbound, internal"},
        {CALL("\"from\":\"+55\""), "call.from", "must be an object"},
        {CALL("\"to\":{\"number\":5511}"), "call.to.number", "must be a string"},
        {CALL("\"to\":{\"extension\":"
              "\"01234567890123456789012345678901234567890123456789012345678901234\"}"),
         "call.to.extension", "must be 0 to 64 characters long"},
        {CALL("\"line\":1"), "call.line", "must be a string"},
        {CALL("\"is_group_disconnect\":\"yes\""), "call.is_group_disconnect",
         "must be true or false"},
        {CALL("\"disconnect\":16"), "call.disconnect", "must be an object"},
        {CALL("\"disconnect\":{\"code\":-1}"), "call.disconnect.code",
         "must be an integer from 0 to 127"},
        {CALL("\"disconnect\":{\"code\":16.0}"), "call.disconnect.code", NULL},
        {CALL("\"disconnect\":{\"text\":16}"), "call.disconnect.text", "must be a string"},
        {CALL("\"campaign\":7"), "call.campaign", "must be a string"},
        {CALL("\"crm_contact_id\":884412"), "call.crm_contact_id", "must be a string"},
        {EV("\"call\":{\"state\":\"appeared\"},\"ts\":1"), "ts", NULL},
        {EV("\"call\":{\"state\":\"appeared\"},\"key\":\"\""), "key",
         "must be 1 to 200 characters long"},
        {EV("\"call\":{\"state\":\"appeared\"},\"key\":[]"), "key", "must be a string"},
        {"{\"kind\":\"record\",\"user\":\"1\",\"call_id\":\"c\",\"record\":{}}", "record.status",
         "is required"},
        {"{\"kind\":\"record\",\"user\":\"1\",\"call_id\":\"c\",\"record\":{\"status\":\"ok\"}}",
         "record.status", "must be one of available, failed"},
        {"{\"kind\":\"record\",\"user\":\"1\",\"call_id\":\"c\",\"record\":{\"status\":\"failed\","
         "\"duration_s\":\"3\"}}",
         "record.duration_s", "must be a number >= 0"},
        {"{\"kind\":\"record\",\"user\":\"1\",\"call_id\":\"c\",\"record\":{\"status\":\"failed\","
         "\"url\":false}}",
         "record.url", "must be a string"},
        {"{\"kind\":\"ivr\",\"user\":\"1\",\"call_id\":\"c\",\"ivr\":{\"state\":\"held\"}}",
         "ivr.state", "must be one of appeared, connected, on_hold, disconnected"},
        {"{\"kind\":\"ivr\",\"user\":\"1\",\"call_id\":\"c\",\"ivr\":{\"state\":\"on_hold\","
         "\"from\":[]}}",
         "ivr.from", "must be an object"},
        {"{\"kind\":\"route_result\",\"user\":\"1\",\"call_id\":\"c\",\"route_result\":{"
         "\"result\":0}}",
         "route_result.command_id", "is required"},
        {"{\"kind\":\"route_result\",\"user\":\"1\",\"call_id\":\"c\",\"route_result\":{"
         "\"command_id\":\"x\"}}",
         "route_result.result", "is required"},
        {"{\"kind\":\"route_result\",\"user\":\"1\",\"call_id\":\"c\",\"route_result\":{"
         "\"command_id\":\"x\",\"result\":\"1000\"}}",
         "route_result.result", "must be an integer"},
        {"{\"kind\":\"route_result\",\"user\":\"1\",\"call_id\":\"c\",\"route_result\":{"
         "\"command_id\":\"x\",\"result\":1,\"to\":5}}",
         "route_result.to", "must be an object {number, extension} or a string"},
        {"{\"kind\":\"call\",\"kind\":\"call\"}", "", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expect_error(cases[i].body, strlen(cases[i].body), cases[i].field, cases[i].message);
    }
}

static void ts_forms(void **state)
{
    (void)state;
    static const struct hdr none[] = {{0}};
    static const char *const good[][2] = {
        {"2026-11-23T18:00:00Z", "2026-11-23T18:00:00.000Z"},
        {"2026-11-23t18:00:00.1z", "2026-11-23T18:00:00.100Z"},
        {"2026-11-23T18:00:00.98765Z", "2026-11-23T18:00:00.987Z"},
        {"2026-11-24T02:30:00+08:30", "2026-11-23T18:00:00.000Z"},
        {"2026-11-23T23:59:59-23:59", "2026-11-24T23:58:59.000Z"},
        {"2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"},
        {"2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char body[256];
        snprintf(body, sizeof body, EV("\"call\":{\"state\":\"appeared\"},\"ts\":\"%s\""),
                 good[i][0]);
        json_t *out = parse_ok(body, strlen(body), none);
        assert_string_equal(json_string_value(json_object_get(json_array_get(out, 0), "ts")),
                            good[i][1]);
        json_decref(out);
    }
    static const char *const bad[] = {
        "2026-11-23T18:00:00",       "2026-11-23 18:00:00Z",
        "2026-13-01T00:00:00Z",      "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",      "2026-11-23T24:00:00Z",
        "2026-11-23T18:60:00Z",      "2026-11-23T18:00:61Z",
        "2026-11-23T18:00:00.Z",     "2026-11-23T18:00:00+0300",
        "2026-11-23T18:00:00+24:00", "2026-11-23T18:00:00Zjunk",
        "26-11-23T18:00:00Z",        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char body[256];
        snprintf(body, sizeof body, EV("\"call\":{\"state\":\"appeared\"},\"ts\":\"%s\""), bad[i]);
        expect_error(body, strlen(body), "ts",
                     "must be an RFC 3339 time such as 2026-11-23T18:00:00.123Z");
    }
}

static void nulls_and_unknowns_dropped(void **state)
{
    (void)state;
    const char *body = "{\"kind\":\"call\",\"user\":\"101\",\"call_id\":\"c\",\"ts\":null,"
                       "\"key\":null,\"raw\":null,\"record\":{\"status\":\"available\"},"
                       "\"call\":{\"state\":\"on_hold\",\"direction\":null,"
                       "\"from\":{\"number\":\"1\",\"name\":\"Ann\"},\"x\":{}}}";
    json_t *out = parse_ok(body, strlen(body), NULL);
    json_t *want = json_loads("[{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c\","
                              "\"call\":{\"state\":\"on_hold\",\"from\":{\"number\":\"1\"}}}]",
                              0, NULL);
    assert_true(json_equal(out, want));
    json_decref(out);
    json_decref(want);
}

static void limits(void **state)
{
    (void)state;
    /* 1000 events parse, 1001 do not; 100 users do, 101 do not */
    size_t cap = 1100 * 80;
    char *body = malloc(cap);
    size_t n = 0;
    body[n++] = '[';
    for (int i = 0; i < 1001; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s" EV("\"call\":{\"state\":\"appeared\"}"),
                              i ? "," : "");
    body[n++] = ']';
    expect_error(body, n, "", "the body must be an event or an array of 1 to 1000 events");
    size_t one = strlen("," EV("\"call\":{\"state\":\"appeared\"}"));
    n -= one + 1;
    body[n++] = ']';
    json_t *out = parse_ok(body, n, NULL);
    assert_int_equal(json_array_size(out), 1000);
    json_decref(out);

    n = (size_t)snprintf(body, cap,
                         "{\"kind\":\"call\",\"call_id\":\"c\",\"call\":{\"state\":"
                         "\"appeared\"},\"users\":[");
    for (int i = 0; i < 101; i++)
        n += (size_t)snprintf(body + n, cap - n, "%s\"u%d\"", i ? "," : "", i);
    n += (size_t)snprintf(body + n, cap - n, "]}");
    expect_error(body, n, "users", "must be an array of 1 to 100 extensions");
    char *cut = strstr(body, ",\"u100\"");
    memmove(cut, cut + 7, strlen(cut + 7) + 1);
    out = parse_ok(body, strlen(body), NULL);
    assert_int_equal(json_array_size(json_object_get(json_array_get(out, 0), "users")), 100);
    json_decref(out);

    /* call_id counts characters: 200 two-byte characters are fine */
    n = (size_t)snprintf(body, cap,
                         "{\"kind\":\"call\",\"user\":\"1\",\"call\":{\"state\":"
                         "\"appeared\"},\"call_id\":\"");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(body + n, cap - n, "\xc3\xa9");
    n += (size_t)snprintf(body + n, cap - n, "\"}");
    out = parse_ok(body, n, NULL);
    json_decref(out);
    memmove(body + n - 2, "x\"}", 4);
    expect_error(body, n + 1, "call_id", "must be 1 to 200 characters long");
    free(body);
}

static void other_subpath_refused(void **state)
{
    (void)state;
    const char *body = CALL("\"line\":\"1\"");
    adapter_request r = request(body, strlen(body), NULL);
    r.subpath = "/events/call";
    adapter_error e;
    json_t *out = json_array();
    assert_int_equal(adapter_native.parse(&CTX, &r, out, &e), ADAPTER_INVALID);
    assert_string_equal(e.message, "native takes POST /v1/hooks/INTEGRATION/native only");
    json_decref(out);
}

/* ---- verify ---- */

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static enum adapter_status verify(const char *body, const struct hdr *h, const json_t *settings,
                                  adapter_error *e)
{
    adapter_request r = request(body, strlen(body), h);
    adapter_ctx ctx = {.integration = "acme", .settings = settings, .now = NOW};
    return adapter_native.verify(&ctx, &r, e);
}

static void verify_signatures(void **state)
{
    (void)state;
    const char *body = CALL("\"line\":\"1\"");
    char sig[128], ts[24];
    assert_int_equal(stdwh_sign(SECRET, "msg_1", NOW - 10, body, strlen(body), sig, sizeof sig), 0);
    snprintf(ts, sizeof ts, "%d", NOW - 10);
    json_t *settings = json_pack("{ss}", "webhook_secret", SECRET);
    json_t *no_secret = json_pack("{ss}", "company_id", "1");
    adapter_error e;

    struct hdr good[] = {
        {"webhook-id", "msg_1"}, {"webhook-timestamp", ts}, {"webhook-signature", sig}, {0}};
    assert_int_equal(verify(body, good, settings, &e), ADAPTER_OK);

    struct hdr none[] = {{"webhook-id", "msg_1"}, {0}};
    assert_int_equal(verify(body, none, settings, &e), ADAPTER_NO_SIGNATURE);

    assert_int_equal(verify(body, good, no_secret, &e), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.message,
                        "the request is signed but this integration has no webhook_secret");
    assert_int_equal(verify(body, good, NULL, &e), ADAPTER_BAD_SIGNATURE);

    struct hdr wrong[] = {
        {"webhook-id", "msg_2"}, {"webhook-timestamp", ts}, {"webhook-signature", sig}, {0}};
    assert_int_equal(verify(body, wrong, settings, &e), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.field, "webhook-signature");
    assert_string_equal(e.message, "no v1 signature in webhook-signature matches");

    struct hdr stale[] = {
        {"webhook-id", "msg_1"}, {"webhook-timestamp", "1000"}, {"webhook-signature", sig}, {0}};
    assert_int_equal(verify(body, stale, settings, &e), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.field, "webhook-timestamp");

    struct hdr no_id[] = {{"webhook-timestamp", ts}, {"webhook-signature", sig}, {0}};
    assert_int_equal(verify(body, no_id, settings, &e), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.field, "webhook-id");

    json_t *bad_secret = json_pack("{ss}", "webhook_secret", "plain-text");
    assert_int_equal(verify(body, good, bad_secret, &e), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.message, "the webhook_secret is not whsec_ followed by base64");

    json_decref(settings);
    json_decref(no_secret);
    json_decref(bad_secret);
}

/* ---- settings and the answer ---- */

static void settings_checked(void **state)
{
    (void)state;
    adapter_error e;
    json_t *good = json_pack("{ss}", "webhook_secret", SECRET);
    json_t *none = json_pack("{ss}", "company_id", "1");
    json_t *bad = json_pack("{ss}", "webhook_secret", "plain-text");
    json_t *num = json_pack("{si}", "webhook_secret", 7);
    assert_int_equal(adapter_native.check_settings(good, &e), 0);
    assert_int_equal(adapter_native.check_settings(none, &e), 0);
    assert_int_equal(adapter_native.check_settings(bad, &e), -1);
    assert_string_equal(e.field, "webhook_secret");
    assert_string_equal(e.message, "must be \"whsec_\" + base64");
    assert_int_equal(adapter_native.check_settings(num, &e), -1);
    assert_null(adapter_native.compile);
    assert_null(adapter_native.build_command);
    assert_null(adapter_native.parse_command_answer);
    json_decref(good);
    json_decref(none);
    json_decref(bad);
    json_decref(num);
}

static void answer_counts(void **state)
{
    (void)state;
    adapter_answer a;
    adapter_counts c = {.accepted = 2, .duplicates = 1, .ignored = 0, .stale = 3};
    assert_int_equal(adapter_native.answer(&CTX, &c, &a), 0);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.content_type, "application/json");
    assert_string_equal(a.body, "{\"result\":{\"code\":0,\"message\":\"ok\"},\"accepted\":2,"
                                "\"duplicates\":1,\"ignored\":0,\"stale\":3}");
    assert_int_equal(a.body_len, strlen(a.body));
    free(a.body);
}

/* What the broker stores for a fixture: native's output through event_prepare. */
static void stored_form(void **state)
{
    (void)state;
    static const struct hdr h[] = {{"webhook-id", "msg_2bLw"}, {0}};
    size_t len;
    char *body = read_fixture("call_appeared.json", &len);
    json_t *out = parse_ok(body, len, h);
    event_prepared p;
    assert_int_equal(event_prepare(json_array_get(out, 0), "acme", "native", 0, &p), 0);
    assert_string_equal(p.key, "msg_2bLw");
    assert_int_equal(p.n_users, 1);
    char *copy = event_for_user(&p, "101", NULL, false);
    assert_string_equal(copy, "{\"kind\":\"call\",\"integration\":\"acme\",\"user\":\"101\","
                              "\"call_id\":\"MToxMDE3NjUwMzoxMDE6NDY3OTgyNzI2\","
                              "\"ts\":\"2026-11-23T18:00:00.500Z\",\"source\":\"native\","
                              "\"call\":{\"state\":\"appeared\",\"direction\":\"inbound\","
                              "\"from\":{\"number\":\"+5511980121511\"},"
                              "\"to\":{\"number\":\"+551130030000\",\"extension\":\"101\"},"
                              "\"line\":\"551130030000\"}}");
    free(copy);
    event_prepared_free(&p);
    json_decref(out);
    free(body);
}

/* A PBX retry with its fields in another order gets the same idempotency key. */
static void reordered_retry_same_key(void **state)
{
    (void)state;
    static const char a[] = "{\"kind\":\"call\",\"user\":\"101\",\"call_id\":\"c-9\","
                            "\"call\":{\"state\":\"appeared\",\"from\":{\"number\":\"1\","
                            "\"extension\":\"7\"}}}";
    static const char b[] = "{\"call\":{\"from\":{\"extension\":\"7\",\"number\":\"1\"},"
                            "\"state\":\"appeared\"},\"call_id\":\"c-9\",\"user\":\"101\","
                            "\"kind\":\"call\"}";
    json_t *oa = parse_ok(a, sizeof a - 1, NULL), *ob = parse_ok(b, sizeof b - 1, NULL);
    event_prepared pa, pb;
    assert_int_equal(event_prepare(json_array_get(oa, 0), "acme", "native", 1000, &pa), 0);
    assert_int_equal(event_prepare(json_array_get(ob, 0), "acme", "native", 9000, &pb), 0);
    assert_string_equal(pa.key, pb.key);
    event_prepared_free(&pa);
    event_prepared_free(&pb);
    json_decref(oa);
    json_decref(ob);
}

/* native passes the declarations through: a target instead of users, and an order. */
static void target_and_order_pass_through(void **state)
{
    (void)state;
    static const char body[] =
        "[{\"kind\":\"ivr\",\"target\":\"one_online\",\"call_id\":\"c\","
        "\"order\":{\"key\":\"leg-a\",\"seq\":7},\"ivr\":{\"state\":\"appeared\"}},"
        "{\"kind\":\"route_result\",\"target\":\"command\","
        "\"route_result\":{\"command_id\":\"cmd-1\",\"result\":0}}]";
    json_t *out = parse_ok(body, sizeof body - 1, NULL);
    json_t *a = json_array_get(out, 0), *b = json_array_get(out, 1);
    assert_string_equal(json_string_value(json_object_get(a, "target")), "one_online");
    assert_null(json_object_get(a, "users"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "order"), "key")),
                        "leg-a");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "order"), "seq")), 7);
    assert_string_equal(json_string_value(json_object_get(b, "target")), "command");
    assert_null(json_object_get(b, "call_id"));
    event_prepared p;
    assert_int_equal(event_prepare(b, "acme", "native", 0, &p), 0);
    assert_int_equal(p.target, EVENT_TO_COMMAND);
    assert_string_equal(p.command_id, "cmd-1");
    event_prepared_free(&p);
    json_decref(out);
}

static void registry(void **state)
{
    (void)state;
    assert_ptr_equal(adapter_find("native"), &adapter_native);
    assert_null(adapter_find("nope"));
    assert_null(adapter_find(NULL));
    const adapter *const *all = adapter_all();
    assert_ptr_equal(all[0], &adapter_native);
    for (size_t i = 0; all[i]; i++) /* every dialect listed is found by its name */
        assert_ptr_equal(adapter_find(all[i]->name), all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(single_call),
        cmocka_unit_test(single_call_takes_webhook_id_as_key),
        cmocka_unit_test(batch),
        cmocka_unit_test(record),
        cmocka_unit_test(ivr),
        cmocka_unit_test(route_result),
        cmocka_unit_test(dialer_with_raw),
        cmocka_unit_test(appends_to_existing_output),
        cmocka_unit_test(invalid_fixtures),
        cmocka_unit_test(every_rule),
        cmocka_unit_test(ts_forms),
        cmocka_unit_test(nulls_and_unknowns_dropped),
        cmocka_unit_test(limits),
        cmocka_unit_test(other_subpath_refused),
        cmocka_unit_test(verify_signatures),
        cmocka_unit_test(settings_checked),
        cmocka_unit_test(answer_counts),
        cmocka_unit_test(stored_form),
        cmocka_unit_test(reordered_retry_same_key),
        cmocka_unit_test(target_and_order_pass_through),
        cmocka_unit_test(registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
