/* test_commands_twilio.c — Twilio's commands: the REST requests (URL, Basic auth, form, TwiML
 * with its escaping, the agent template's three forms), the settings commands need, and
 * Twilio's answers and errors mapped to result codes. */
#include "command_runner.h"
#include "result.h"

/* base64("ACx1:tok") */
#define AUTH "Authorization: Basic QUN4MTp0b2s=\r\n"
#define SETTINGS                                                                                   \
    "{\"twilio\":{\"auth_token\":\"tok\",\"public_url\":\"https://r.example/v1/hooks/acme/"        \
    "twilio\",\"account_sid\":\"ACx1\",\"api_base_url\":\"http://127.0.0.1:9/\","                  \
    "\"caller_id\":\"+15550001111\"}}"
#define SIP_AGENT                                                                                  \
    "{\"twilio\":{\"auth_token\":\"tok\",\"public_url\":\"https://r.example/h\","                  \
    "\"account_sid\":\"ACx1\",\"agent\":\"sip:{extension}@acme.sip.twilio.com\"}}"
#define NUMBER_AGENT                                                                               \
    "{\"twilio\":{\"auth_token\":\"tok\",\"public_url\":\"https://r.example/h\","                  \
    "\"account_sid\":\"ACx1\",\"agent\":\"+1415555{extension}\"}}"
#define NO_SID "{\"twilio\":{\"auth_token\":\"tok\",\"public_url\":\"https://r.example/h\"}}"
#define NO_CALLER_ID                                                                               \
    "{\"twilio\":{\"auth_token\":\"tok\",\"public_url\":\"https://r.example/h\","                  \
    "\"account_sid\":\"ACx1\"}}"

static void settings(void **state)
{
    (void)state;
    const adapter *a = adapter_find("twilio");
    adapter_error err;
    json_t *s = cmd_json(SIP_AGENT);
    assert_int_equal(a->check_settings(s, &err), 0);
    json_object_set_new(json_object_get(s, "twilio"), "agent", json_string("client:alice"));
    assert_int_equal(a->check_settings(s, &err), -1);
    assert_string_equal(err.field, "twilio.agent");
    json_object_set_new(json_object_get(s, "twilio"), "agent", json_integer(1));
    assert_int_equal(a->check_settings(s, &err), -1);
    assert_string_equal(err.field, "twilio.agent");
    json_decref(s);
}

static void callback(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "twilio", SETTINGS,
              "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\",\"to_number\":"
              "\"+5511980121511\"}");
    assert_int_equal(r.status, ADAPTER_OK);
    assert_string_equal(r.http.method, "POST");
    assert_string_equal(r.http.url, "http://127.0.0.1:9/2010-04-01/Accounts/ACx1/Calls.json");
    assert_true(cmd_has_header(&r, AUTH));
    assert_true(cmd_has_header(&r, "Content-Type: application/x-www-form-urlencoded\r\n"));
    assert_false(r.http.stream);
    json_t *form = cmd_form(&r);
    cmd_assert_form_field(form, "To", "client:101");
    cmd_assert_form_field(form, "From", "+15550001111");
    cmd_assert_form_field(form, "Twiml",
                          "<Response><Dial callerId=\"+15550001111\"><Number>+5511980121511"
                          "</Number></Dial></Response>");
    assert_int_equal(json_object_size(form), 3);
    json_decref(form);

    cmd_answer(&r, "twilio", 201, "{\"sid\":\"CA123\",\"status\":\"queued\"}");
    cmd_assert_outcome(&r, 200, 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.result, "answer"), "call_id")),
        "CA123");
    cmd_answer(&r, "twilio", 201, "{\"status\":\"queued\"}");
    assert_int_equal(r.rc, -1);
    cmd_done(&r);
}

static void callback_line_and_escaping(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "twilio", NUMBER_AGENT,
              "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"7\",\"to_number\":"
              "\"<1&2>\",\"line_number\":\"\\\"+1'\"}");
    assert_int_equal(r.status, ADAPTER_OK);
    assert_string_equal(r.http.url, "https://api.twilio.com/2010-04-01/Accounts/ACx1/Calls.json");
    json_t *form = cmd_form(&r);
    cmd_assert_form_field(form, "To", "+14155557");
    cmd_assert_form_field(form, "From", "\"+1'");
    cmd_assert_form_field(form, "Twiml",
                          "<Response><Dial callerId=\"&quot;+1&apos;\"><Number>&lt;1&amp;2&gt;"
                          "</Number></Dial></Response>");
    json_decref(form);
    cmd_done(&r);
}

static void route_transfer_hangup(void **state)
{
    (void)state;
    static const struct {
        const char *settings, *command, *url, *field, *value;
    } cases[] = {
        {SETTINGS,
         "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"CA 9/x\",\"to_extension\":\"102\"}",
         "http://127.0.0.1:9/2010-04-01/Accounts/ACx1/Calls/CA%209%2Fx.json", "Twiml",
         "<Response><Dial><Client>102</Client></Dial></Response>"},
        {SIP_AGENT,
         "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"CA1\",\"to_extension\":\"102\"}",
         "https://api.twilio.com/2010-04-01/Accounts/ACx1/Calls/CA1.json", "Twiml",
         "<Response><Dial><Sip>sip:102@acme.sip.twilio.com</Sip></Dial></Response>"},
        {NUMBER_AGENT,
         "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"CA1\",\"to_extension\":\"102\"}",
         "https://api.twilio.com/2010-04-01/Accounts/ACx1/Calls/CA1.json", "Twiml",
         "<Response><Dial><Number>+1415555102</Number></Dial></Response>"},
        {SETTINGS,
         "{\"op\":\"transfer\",\"command_id\":\"c\",\"call_id\":\"CA1\",\"to_number\":"
         "\"+5511\",\"method\":\"blind\"}",
         "http://127.0.0.1:9/2010-04-01/Accounts/ACx1/Calls/CA1.json", "Twiml",
         "<Response><Dial><Number>+5511</Number></Dial></Response>"},
        {SETTINGS, "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"CA1\"}",
         "http://127.0.0.1:9/2010-04-01/Accounts/ACx1/Calls/CA1.json", "Status", "completed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cmd_run r;
        cmd_build(&r, "twilio", cases[i].settings, cases[i].command);
        assert_int_equal(r.status, ADAPTER_OK);
        assert_string_equal(r.http.method, "POST");
        assert_string_equal(r.http.url, cases[i].url);
        assert_true(cmd_has_header(&r, AUTH));
        json_t *form = cmd_form(&r);
        cmd_assert_form_field(form, cases[i].field, cases[i].value);
        assert_int_equal(json_object_size(form), 1);
        json_decref(form);
        cmd_done(&r);
    }
}

static void route_result_event(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "twilio", SETTINGS,
              "{\"op\":\"route\",\"command_id\":\"c7\",\"call_id\":\"CA1\",\"to_extension\":"
              "\"102\",\"extension\":\"101\"}");
    cmd_answer(&r, "twilio", 200, "{\"sid\":\"CA1\"}");
    cmd_assert_outcome(&r, 200, 0);
    json_t *want = cmd_json("[{\"kind\":\"route_result\",\"target\":\"command\",\"route_result\":"
                            "{\"command_id\":\"c7\",\"result\":0,\"to\":{\"extension\":\"102\"}},"
                            "\"source\":\"twilio\"}]");
    assert_true(json_equal(json_object_get(r.result, "events"), want));
    json_decref(want);
    /* a failed redirect is the client's error answer, not an event */
    cmd_answer(&r, "twilio", 404, "{\"code\":20404,\"message\":\"not found\",\"status\":404}");
    assert_null(json_object_get(r.result, "events"));
    cmd_done(&r);
}

static void record(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "twilio", SETTINGS,
              "{\"op\":\"record\",\"command_id\":\"c\",\"recording_id\":\"RE12\"}");
    assert_int_equal(r.status, ADAPTER_OK);
    assert_string_equal(r.http.method, "GET");
    assert_string_equal(r.http.url,
                        "http://127.0.0.1:9/2010-04-01/Accounts/ACx1/Recordings/RE12.wav");
    assert_true(r.http.stream);
    assert_string_equal(r.http.headers, AUTH);
    assert_null(r.http.body);
    cmd_answer(&r, "twilio", 404,
               "{\"code\":20404,\"message\":\"The requested resource was not found\","
               "\"status\":404}");
    cmd_assert_outcome(&r, 404, RC_RECORDING_NOT_FOUND);
    cmd_assert_pbx_code(&r, 20404);
    cmd_done(&r);
}

static void errors(void **state)
{
    (void)state;
    static const struct {
        int http;
        const char *body;
        int status, code;
        long long pbx;
    } cases[] = {
        {404, "{\"code\":20404,\"message\":\"not found\",\"status\":404}", 404, RC_CALL_NOT_FOUND,
         20404},
        {400, "{\"code\":21220,\"message\":\"Call is not in-progress\",\"status\":400}", 409,
         RC_CALL_GONE, 21220},
        {401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}", 502, RC_PBX_ERROR,
         20003},
        {403, "", 502, RC_PBX_ERROR, 403},
        {400, "{\"code\":21201,\"message\":\"No 'To' number\",\"status\":400}", 502, RC_PBX_ERROR,
         21201},
        {500, "<html/>", 502, RC_PBX_ERROR, 500},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cmd_run r;
        cmd_build(&r, "twilio", SETTINGS,
                  "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"CA1\"}");
        cmd_answer(&r, "twilio", cases[i].http, cases[i].body);
        cmd_assert_outcome(&r, cases[i].status, cases[i].code);
        cmd_assert_pbx_code(&r, cases[i].pbx);
        if (cases[i].http == 401)
            assert_non_null(
                strstr(json_string_value(json_object_get(r.result, "message")), "credentials"));
        cmd_done(&r);
    }
    cmd_run r;
    cmd_build(&r, "twilio", SETTINGS,
              "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"CA1\"}");
    cmd_answer(&r, "twilio", 0, NULL);
    cmd_assert_outcome(&r, 502, RC_PBX_ERROR);
    cmd_done(&r);
}

static void invalid_and_unsupported(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "twilio", SETTINGS, "{\"op\":\"status\",\"command_id\":\"c\",\"call_id\":\"x\"}");
    assert_int_equal(r.status, ADAPTER_UNSUPPORTED);
    cmd_done(&r);
    cmd_assert_invalid(&r, "twilio", NO_SID,
                       "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"CA1\"}",
                       "settings.twilio.account_sid");
    cmd_assert_invalid(&r, "twilio", NO_CALLER_ID,
                       "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"101\","
                       "\"to_number\":\"+1\"}",
                       "settings.twilio.caller_id");
    cmd_assert_invalid(&r, "twilio", SETTINGS,
                       "{\"op\":\"callback\",\"command_id\":\"c\",\"to_number\":\"+1\"}",
                       "extension");
    cmd_assert_invalid(&r, "twilio", SETTINGS,
                       "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"101\"}",
                       "to_number");
    cmd_assert_invalid(&r, "twilio", SETTINGS,
                       "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"CA1\"}",
                       "to_extension");
    cmd_assert_invalid(&r, "twilio", SETTINGS,
                       "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"CA1\","
                       "\"to_extension\":\"1 2\"}",
                       "to_extension");
    cmd_assert_invalid(&r, "twilio", SETTINGS,
                       "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"<101>\","
                       "\"to_number\":\"+1\"}",
                       "extension");
    cmd_assert_invalid(&r, "twilio", SETTINGS,
                       "{\"op\":\"transfer\",\"command_id\":\"c\",\"to_number\":\"1\"}", "call_id");
    cmd_assert_invalid(&r, "twilio", SETTINGS, "{\"op\":\"record\",\"command_id\":\"c\"}",
                       "recording_id");
    cmd_assert_invalid(&r, "twilio", SETTINGS, "{\"op\":\"hangup\",\"call_id\":\"CA1\"}",
                       "command_id");
    /* with the line number given, no caller_id is needed */
    cmd_build(&r, "twilio", NO_CALLER_ID,
              "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"101\",\"to_number\":"
              "\"+1\",\"line_number\":\"+2\"}");
    assert_int_equal(r.status, ADAPTER_OK);
    cmd_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings),
        cmocka_unit_test(callback),
        cmocka_unit_test(callback_line_and_escaping),
        cmocka_unit_test(route_transfer_hangup),
        cmocka_unit_test(route_result_event),
        cmocka_unit_test(record),
        cmocka_unit_test(errors),
        cmocka_unit_test(invalid_and_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
