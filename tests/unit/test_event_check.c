/* test_event_check.c — the event contract as the broker applies it to every adapter's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "../../broker/event_check.c"
#include "adapter.h"

#define GOOD                                                                                       \
    "{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c1\",\"ts\":\"2026-11-23T18:00:00."      \
    "123Z\","                                                                                      \
    "\"call\":{\"state\":\"connected\",\"from\":{\"number\":\"5511\"}},\"key\":\"k1\","            \
    "\"raw\":{\"anything\":[1,2]}}"

static void expect_checked(const char *text, const char *field, const char *message)
{
    json_error_t je;
    json_t *ev = json_loads(text, 0, &je);
    assert_non_null(ev);
    adapter_error e;
    int rc = event_check(ev, "events[3]", &e);
    if (!field) {
        if (rc != 0)
            print_error("refused: %s: %s\n", e.field, e.message);
        assert_int_equal(rc, 0);
    } else {
        assert_int_equal(rc, -1);
        assert_string_equal(e.field, field);
        if (message)
            assert_string_equal(e.message, message);
    }
    json_decref(ev);
}

static void accepts_a_normalized_event(void **state)
{
    (void)state;
    expect_checked(GOOD, NULL, NULL);
    expect_checked("{\"kind\":\"record\",\"users\":[\"101\",\"102\"],\"call_id\":\"c1\","
                   "\"record\":{\"status\":\"available\",\"duration_s\":3.5}}",
                   NULL, NULL);
}

static void names_the_broken_field(void **state)
{
    (void)state;
    expect_checked("[]", "events[3]", "must be an event object");
    expect_checked("{\"kind\":\"call\",\"user\":\"101\",\"call_id\":\"c1\",\"call\":{\"state\":"
                   "\"connected\"}}",
                   "events[3].user", "an adapter names its users with \"users\"");
    expect_checked("{\"kind\":\"call\",\"users\":[],\"call_id\":\"c1\",\"call\":{\"state\":"
                   "\"connected\"}}",
                   "events[3].users", NULL);
    expect_checked("{\"kind\":\"call\",\"users\":[\"1 01\"],\"call_id\":\"c1\",\"call\":{\"state\":"
                   "\"connected\"}}",
                   "events[3].users[0]", NULL);
    expect_checked("{\"kind\":\"fax\",\"users\":[\"101\"],\"call_id\":\"c1\"}", "events[3].kind",
                   "must be one of call, record, ivr, route_result");
    expect_checked("{\"kind\":\"call\",\"users\":[\"101\"],\"call\":{\"state\":\"connected\"}}",
                   "events[3].call_id", "is required");
    expect_checked("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c1\"}", "events[3].call",
                   "is required for kind call");
    expect_checked("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c1\",\"call\":{\"state\":"
                   "\"ringing\"}}",
                   "events[3].call.state", NULL);
    expect_checked("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c1\",\"ts\":\"yesterday\","
                   "\"call\":{\"state\":\"connected\"}}",
                   "events[3].ts", NULL);
    expect_checked("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c1\",\"key\":\"\","
                   "\"call\":{\"state\":\"connected\"}}",
                   "events[3].key", NULL);
}

/* Declarations: a target instead of users; an order needs a call. */
static void checks_target_and_order(void **state)
{
    (void)state;
    expect_checked("{\"kind\":\"ivr\",\"target\":\"one_online\",\"call_id\":\"c1\","
                   "\"order\":{\"key\":\"leg1\",\"seq\":3},\"ivr\":{\"state\":\"appeared\"}}",
                   NULL, NULL);
    expect_checked("{\"kind\":\"route_result\",\"target\":\"command\","
                   "\"route_result\":{\"command_id\":\"k\",\"result\":0}}",
                   NULL, NULL);
    expect_checked("{\"kind\":\"ivr\",\"target\":\"anyone\",\"call_id\":\"c1\","
                   "\"ivr\":{\"state\":\"appeared\"}}",
                   "events[3].target", "must be one of one_online, call_parties, command");
    expect_checked("{\"kind\":\"ivr\",\"target\":\"one_online\",\"users\":[\"101\"],"
                   "\"call_id\":\"c1\",\"ivr\":{\"state\":\"appeared\"}}",
                   "events[3].target", "give one of user, users and target");
    expect_checked("{\"kind\":\"ivr\",\"target\":\"one_online\","
                   "\"ivr\":{\"state\":\"appeared\"}}",
                   "events[3].call_id", "is required");
    expect_checked("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c1\","
                   "\"order\":{\"key\":\"leg1\",\"seq\":-1},\"call\":{\"state\":\"connected\"}}",
                   "events[3].order.seq", NULL);
    expect_checked("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c1\","
                   "\"order\":{\"seq\":1},\"call\":{\"state\":\"connected\"}}",
                   "events[3].order.key", "is required");
    expect_checked("{\"kind\":\"route_result\",\"target\":\"command\",\"order\":{\"key\":"
                   "\"k\",\"seq\":1},\"route_result\":{\"command_id\":\"k\",\"result\":0}}",
                   "events[3].order", "needs a call_id");
    /* a command's sender gets its result; other kinds have no command to follow */
    expect_checked("{\"kind\":\"call\",\"target\":\"command\",\"call_id\":\"c1\","
                   "\"call\":{\"state\":\"appeared\"}}",
                   "events[3].target", "command is the target of a route_result only");
}

/* What native produces from its fixtures keeps the contract it shares. */
static void native_output_keeps_the_contract(void **state)
{
    (void)state;
    const char *body = "[" GOOD "," GOOD "]";
    adapter_request req = {.method = "POST", .subpath = "", .body = body, .body_len = strlen(body)};
    adapter_ctx ctx = {.integration = "acme", .now = 1795456800};
    adapter_error e;
    json_t *out = json_array();
    assert_int_equal(adapter_find("native")->parse(&ctx, &req, out, &e), ADAPTER_OK);
    assert_int_equal(json_array_size(out), 2);
    for (size_t i = 0; i < json_array_size(out); i++)
        assert_int_equal(event_check(json_array_get(out, i), "", &e), 0);
    json_decref(out);
}

/* A deliberately broken adapter, local to this test: its second event has a state no one knows.
 * The broker checks an adapter's output with event_check_all before anything is stored. */
static enum adapter_status broken_parse(const adapter_ctx *ctx, const adapter_request *req,
                                        json_t *out, adapter_error *err)
{
    (void)ctx;
    (void)req;
    (void)err;
    json_array_append_new(out, json_loads(GOOD, 0, NULL));
    json_array_append_new(out, json_pack("{ss s[s] ss s{ss}}", "kind", "call", "users", "101",
                                         "call_id", "c2", "call", "state", "ringing"));
    return ADAPTER_OK;
}

static void broken_adapter_output_is_caught(void **state)
{
    (void)state;
    const adapter broken = {.name = "broken", .parse = broken_parse};
    adapter_request req = {.method = "POST", .subpath = "", .body = "", .body_len = 0};
    adapter_ctx ctx = {.integration = "acme", .now = 1795456800};
    adapter_error e;
    json_t *out = json_array();
    assert_int_equal(broken.parse(&ctx, &req, out, &e), ADAPTER_OK);
    assert_int_equal(event_check_all(out, &e), -1);
    assert_string_equal(e.field, "events[1].call.state");
    assert_non_null(strstr(e.message, "must be one of"));
    json_array_remove(out, 1);
    assert_int_equal(event_check_all(out, &e), 0);
    json_decref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_a_normalized_event),
        cmocka_unit_test(names_the_broken_field),
        cmocka_unit_test(checks_target_and_order),
        cmocka_unit_test(native_output_keeps_the_contract),
        cmocka_unit_test(broken_adapter_output_is_caught),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
