/* test_call_state.c — a call's hash fields become the call object: parties parsed, Q.850 and
 * recording grouped, users' legs listed, unknown and malformed fields left out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/store/call_state.c"

#define N(a) (sizeof a / sizeof *a)

static void assert_json(json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, 0, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("got %s", g);
    }
    json_decref(want);
}

static void full_call(void **state)
{
    (void)state;
    const call_field f[] = {
        {"state", "disconnected"},
        {"kind", "call"},
        {"direction", "inbound"},
        {"line", "551130000000"},
        {"from", "{\"number\":\"5511980121511\"}"},
        {"to", "{\"number\":\"551130000000\",\"extension\":\"101\"}"},
        {"code", "16"},
        {"text", "normal call clearing"},
        {"rec_id", "r-1"},
        {"rec_url", "https://pbx/r-1.mp3"},
        {"rec_status", "available"},
        {"rec_duration", "42.5"},
        {"ts", "2026-11-28T10:00:00.123Z"},
        {"u:101", "disconnected"},
        {"u:102", "connected"},
        {"answered", "101"},
        {"o:leg-7", "12"},
    };
    json_t *j = call_state_json("c-1", f, N(f));
    assert_json(j, "{\"call_id\":\"c-1\",\"state\":\"disconnected\",\"kind\":\"call\","
                   "\"direction\":\"inbound\",\"line\":\"551130000000\","
                   "\"from\":{\"number\":\"5511980121511\"},"
                   "\"to\":{\"number\":\"551130000000\",\"extension\":\"101\"},"
                   "\"disconnect\":{\"code\":16,\"text\":\"normal call clearing\"},"
                   "\"recording\":{\"recording_id\":\"r-1\",\"url\":\"https://pbx/r-1.mp3\","
                   "\"status\":\"available\",\"duration_s\":42.5},"
                   "\"users\":{\"101\":\"disconnected\",\"102\":\"connected\"},"
                   "\"updated\":\"2026-11-28T10:00:00.123Z\"}");
    json_decref(j);
}

static void open_call_has_no_disconnect_or_recording(void **state)
{
    (void)state;
    const call_field f[] = {{"state", "appeared"}, {"kind", "ivr"}, {"u:101", "appeared"}};
    json_t *j = call_state_json("c-2", f, N(f));
    assert_json(j, "{\"call_id\":\"c-2\",\"state\":\"appeared\",\"kind\":\"ivr\","
                   "\"users\":{\"101\":\"appeared\"}}");
    json_decref(j);
}

static void malformed_fields_left_out(void **state)
{
    (void)state;
    const call_field f[] = {
        {"state", "connected"}, {"from", "not json"},   {"to", "[1,2]"},     {"code", "16x"},
        {"text", "busy"},       {"rec_duration", "-3"}, {"u:", "connected"}, {"other", "x"},
    };
    json_t *j = call_state_json("c-3", f, N(f));
    assert_json(j, "{\"call_id\":\"c-3\",\"state\":\"connected\","
                   "\"disconnect\":{\"text\":\"busy\"},\"users\":{}}");
    json_decref(j);
}

static void no_fields_is_unknown(void **state)
{
    (void)state;
    assert_null(call_state_json("c-4", NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_call),
        cmocka_unit_test(open_call_has_no_disconnect_or_recording),
        cmocka_unit_test(malformed_fields_left_out),
        cmocka_unit_test(no_fields_is_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
