/* test_commands_asterisk.c — ARI commands: originate, redirect, hang-up and the stored
 * recording's file (URL with its encoded query, Basic auth), the settings commands need, and
 * ARI's answers mapped to result codes. */
#include "command_runner.h"
#include "result.h"

/* base64("cr:se:cret") */
#define AUTH "Authorization: Basic Y3I6c2U6Y3JldA==\r\n"
#define SETTINGS                                                                                   \
    "{\"asterisk\":{\"ari_url\":\"http://127.0.0.1:9\",\"ari_user\":\"cr\",\"ari_password\":"      \
    "\"se:cret\",\"app\":\"callrelay\",\"endpoint\":\"SIP/{extension}@trunk\",\"context\":"        \
    "\"from-crm\"}}"
#define WITH_ARI                                                                                   \
    "{\"asterisk\":{\"ari_url\":\"http://127.0.0.1:9/ari/\",\"ari_user\":\"cr\","                  \
    "\"ari_password\":\"se:cret\"}}"
#define NO_URL "{\"asterisk\":{\"ari_user\":\"cr\",\"ari_password\":\"x\"}}"
#define NO_PASSWORD "{\"asterisk\":{\"ari_url\":\"http://127.0.0.1:9\",\"ari_user\":\"cr\"}}"

static void settings(void **state)
{
    (void)state;
    const adapter *a = adapter_find("asterisk");
    adapter_error err;
    json_t *s = cmd_json(SETTINGS);
    assert_int_equal(a->check_settings(s, &err), 0);
    json_object_set_new(json_object_get(s, "asterisk"), "context", json_string("a b"));
    assert_int_equal(a->check_settings(s, &err), -1);
    assert_string_equal(err.field, "asterisk.context");
    json_object_set_new(json_object_get(s, "asterisk"), "context", json_string(""));
    assert_int_equal(a->check_settings(s, &err), -1);
    assert_string_equal(err.field, "asterisk.context");
    json_decref(s);
}

static void callback(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "asterisk", SETTINGS,
              "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\",\"to_number\":"
              "\"+55 11\",\"line_number\":\"4000\"}");
    assert_int_equal(r.status, ADAPTER_OK);
    assert_string_equal(r.http.method, "POST");
    assert_string_equal(r.http.url, "http://127.0.0.1:9/ari/channels?endpoint=SIP%2F101%40trunk&"
                                    "extension=%2B55%2011&context=from-crm&priority=1&"
                                    "callerId=4000");
    assert_string_equal(r.http.headers, AUTH);
    assert_null(r.http.body);
    assert_false(r.http.stream);
    cmd_answer(&r, "asterisk", 200,
               "{\"id\":\"1700000000.42\",\"name\":\"SIP/101\",\"state\":"
               "\"Down\"}");
    cmd_assert_outcome(&r, 200, 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.result, "answer"), "call_id")),
        "1700000000.42");
    cmd_answer(&r, "asterisk", 200, "{}");
    assert_int_equal(r.rc, -1);
    cmd_done(&r);
}

static void defaults_and_ari_suffix(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "asterisk", WITH_ARI,
              "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\",\"to_number\":"
              "\"200\"}");
    assert_int_equal(r.status, ADAPTER_OK);
    assert_string_equal(r.http.url, "http://127.0.0.1:9/ari/channels?endpoint=PJSIP%2F101&"
                                    "extension=200&context=default&priority=1");
    cmd_done(&r);
}

static void redirect_hangup_record(void **state)
{
    (void)state;
    static const struct {
        const char *command, *method, *url;
        bool stream;
    } cases[] = {
        {"{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"17.4/x\",\"to_extension\":\"102\"}",
         "POST", "http://127.0.0.1:9/ari/channels/17.4%2Fx/redirect?endpoint=SIP%2F102%40trunk",
         false},
        {"{\"op\":\"transfer\",\"command_id\":\"c\",\"call_id\":\"17.4\",\"to_number\":"
         "\"5511\",\"method\":\"blind\"}",
         "POST", "http://127.0.0.1:9/ari/channels/17.4/redirect?endpoint=SIP%2F5511%40trunk",
         false},
        {"{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"17.4\"}", "DELETE",
         "http://127.0.0.1:9/ari/channels/17.4", false},
        /* a dot segment alone is escaped: the path keeps it */
        {"{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"..\"}", "DELETE",
         "http://127.0.0.1:9/ari/channels/%2E%2E", false},
        {"{\"op\":\"record\",\"command_id\":\"c\",\"recording_id\":\"rec 1\"}", "GET",
         "http://127.0.0.1:9/ari/recordings/stored/rec%201/file", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cmd_run r;
        cmd_build(&r, "asterisk", SETTINGS, cases[i].command);
        assert_int_equal(r.status, ADAPTER_OK);
        assert_string_equal(r.http.method, cases[i].method);
        assert_string_equal(r.http.url, cases[i].url);
        assert_string_equal(r.http.headers, AUTH);
        assert_int_equal(r.http.stream, cases[i].stream);
        cmd_answer(&r, "asterisk", 204, "");
        cmd_assert_outcome(&r, 200, 0);
        cmd_done(&r);
    }
}

static void route_result_event(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "asterisk", SETTINGS,
              "{\"op\":\"route\",\"command_id\":\"c8\",\"call_id\":\"17.4\",\"to_extension\":"
              "\"102\"}");
    cmd_answer(&r, "asterisk", 204, "");
    json_t *want = cmd_json("[{\"kind\":\"route_result\",\"target\":\"command\",\"route_result\":"
                            "{\"command_id\":\"c8\",\"result\":0,\"to\":{\"extension\":\"102\"}},"
                            "\"source\":\"asterisk\"}]");
    assert_true(json_equal(json_object_get(r.result, "events"), want));
    json_decref(want);
    cmd_done(&r);
}

static void errors(void **state)
{
    (void)state;
    static const struct {
        const char *op;
        int http;
        const char *body;
        int status, code;
        const char *text;
    } cases[] = {
        {"hangup", 404, "{\"message\":\"Channel not found\"}", 404, RC_CALL_NOT_FOUND,
         "Channel not found"},
        {"record", 404, "{\"message\":\"Recording not found\"}", 404, RC_RECORDING_NOT_FOUND,
         "Recording not found"},
        {"route", 409, "{\"message\":\"Channel not in Stasis application\"}", 409, RC_CALL_GONE,
         "Stasis"},
        {"route", 422, "{\"message\":\"Endpoint not found\"}", 502, RC_PBX_ERROR,
         "Endpoint not found"},
        {"callback", 400, "{\"message\":\"Endpoint must be specified\"}", 502, RC_PBX_ERROR,
         "Endpoint must be specified"},
        {"hangup", 401, "", 502, RC_PBX_ERROR, "credentials"},
        {"hangup", 500, "oops", 502, RC_PBX_ERROR, "500"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cmd_run r;
        char command[256];
        snprintf(command, sizeof command,
                 "{\"op\":\"%s\",\"command_id\":\"c\",\"call_id\":\"1.2\",\"to_extension\":"
                 "\"102\",\"extension\":\"101\",\"to_number\":\"5\",\"recording_id\":\"r\"}",
                 cases[i].op);
        cmd_build(&r, "asterisk", SETTINGS, command);
        assert_int_equal(r.status, ADAPTER_OK);
        cmd_answer(&r, "asterisk", cases[i].http, cases[i].body);
        cmd_assert_outcome(&r, cases[i].status, cases[i].code);
        cmd_assert_pbx_code(&r, cases[i].http);
        assert_null(json_object_get(r.result, "events"));
        assert_non_null(
            strstr(json_string_value(json_object_get(r.result, "message")), cases[i].text));
        cmd_done(&r);
    }
}

static void invalid_and_unsupported(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "asterisk", SETTINGS, "{\"op\":\"status\",\"command_id\":\"c\"}");
    assert_int_equal(r.status, ADAPTER_UNSUPPORTED);
    cmd_done(&r);
    cmd_assert_invalid(&r, "asterisk", "{}",
                       "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"1\"}",
                       "settings.asterisk.ari_url");
    cmd_assert_invalid(&r, "asterisk", NO_URL,
                       "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"1\"}",
                       "settings.asterisk.ari_url");
    cmd_assert_invalid(&r, "asterisk", NO_PASSWORD,
                       "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"1\"}",
                       "settings.asterisk.ari_password");
    cmd_assert_invalid(&r, "asterisk", SETTINGS,
                       "{\"op\":\"callback\",\"command_id\":\"c\",\"to_number\":\"1\"}",
                       "extension");
    cmd_assert_invalid(&r, "asterisk", SETTINGS,
                       "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"1\"}",
                       "to_number");
    cmd_assert_invalid(&r, "asterisk", SETTINGS,
                       "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"1\"}", "to_extension");
    cmd_assert_invalid(&r, "asterisk", SETTINGS,
                       "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"1\","
                       "\"to_extension\":\"a/b\"}",
                       "to_extension");
    cmd_assert_invalid(&r, "asterisk", SETTINGS,
                       "{\"op\":\"transfer\",\"command_id\":\"c\",\"to_number\":\"1\"}", "call_id");
    cmd_assert_invalid(&r, "asterisk", SETTINGS, "{\"op\":\"hangup\",\"command_id\":\"c\"}",
                       "call_id");
    cmd_assert_invalid(&r, "asterisk", SETTINGS, "{\"op\":\"record\",\"command_id\":\"c\"}",
                       "recording_id");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings),
        cmocka_unit_test(callback),
        cmocka_unit_test(defaults_and_ari_suffix),
        cmocka_unit_test(redirect_hangup_record),
        cmocka_unit_test(route_result_event),
        cmocka_unit_test(errors),
        cmocka_unit_test(invalid_and_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
