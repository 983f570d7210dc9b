/* test_commands_mango.c — Mango's commands: the signed form for every op (the sign against the
 * documented vector of ADAPTERS.md, and others made here with OpenSSL's SHA256()), the base URL,
 * and every shape of Mango's answer mapped to a result code. */
#include <openssl/sha.h>

#include "command_runner.h"
#include "result.h"

#define VEC_SETTINGS "{\"mango\":{\"api_key\":\"<YOUR_API_KEY>\",\"api_salt\":\"<YOUR_API_SALT>\"}}"
#define SETTINGS                                                                                   \
    "{\"mango\":{\"api_key\":\"k1\",\"api_salt\":\"s1\",\"base_url\":\"http://127.0.0.1:9/"        \
    "vpbx\"}}"

static void sign_of(const char *key, const char *js, const char *salt, char out[65])
{
    char text[4096];
    unsigned char h[SHA256_DIGEST_LENGTH];
    snprintf(text, sizeof text, "%s%s%s", key, js, salt);
    SHA256((const unsigned char *)text, strlen(text), h);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Checks the form of a built command: key, sign over json, json equal to want (as JSON). */
static void assert_signed(const cmd_run *r, const char *key, const char *salt, const char *want)
{
    json_t *form = cmd_form(r), *got, *expected = cmd_json(want);
    const char *js = json_string_value(json_object_get(form, "json"));
    char sign[65];
    assert_non_null(js);
    cmd_assert_form_field(form, "vpbx_api_key", key);
    sign_of(key, js, salt, sign);
    cmd_assert_form_field(form, "sign", sign);
    got = cmd_json(js);
    if (!json_equal(got, expected))
        fail_msg("json %s, want %s", js, want);
    assert_int_equal(json_object_size(form), 3);
    json_decref(got);
    json_decref(expected);
    json_decref(form);
}

static void documented_vector(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "mango", VEC_SETTINGS,
              "{\"op\":\"callback\",\"command_id\":\"your-command-id\","
              "\"extension\":\"<extension>\",\"to_number\":\"<to_number>\"}");
    assert_int_equal(r.status, ADAPTER_OK);
    assert_string_equal(r.http.method, "POST");
    assert_string_equal(r.http.url, "https://app.mango-office.ru/vpbx/commands/callback");
    assert_true(cmd_has_header(&r, "Content-Type: application/x-www-form-urlencoded\r\n"));
    assert_false(r.http.stream);
    json_t *form = cmd_form(&r);
    cmd_assert_form_field(form, "json",
                          "{\"command_id\":\"your-command-id\",\"from\":{\"extension\":"
                          "\"<extension>\",\"number\":\"\"},\"to_number\":\"<to_number>\"}");
    cmd_assert_form_field(form, "sign",
                          "afdeb462cd5e0e422a9c9220390124608df06a4472cb1add6ebd6e24184bd15a");
    cmd_assert_form_field(form, "vpbx_api_key", "<YOUR_API_KEY>");
    json_decref(form);
    cmd_done(&r);
}

static void base_url_joined_once(void **state)
{
    (void)state;
    const char *bases[] = {"http://127.0.0.1:9/vpbx", "http://127.0.0.1:9/vpbx/",
                           "http://127.0.0.1:9/vpbx//"};
    for (size_t i = 0; i < 3; i++) {
        char settings[256];
        cmd_run r;
        snprintf(settings, sizeof settings,
                 "{\"mango\":{\"api_key\":\"k\",\"api_salt\":\"s\",\"base_url\":\"%s\"}}",
                 bases[i]);
        cmd_build(&r, "mango", settings,
                  "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"x\"}");
        assert_int_equal(r.status, ADAPTER_OK);
        assert_string_equal(r.http.url, "http://127.0.0.1:9/vpbx/commands/call/hangup");
        cmd_done(&r);
    }
}

static void every_op(void **state)
{
    (void)state;
    static const struct {
        const char *command, *path, *json;
        bool stream;
    } cases[] = {
        {"{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\",\"to_number\":"
         "\"5511980121511\",\"line_number\":\"74950000000\"}",
         "commands/callback",
         "{\"command_id\":\"c1\",\"from\":{\"extension\":\"101\",\"number\":\"\"},\"to_number\":"
         "\"5511980121511\",\"line_number\":\"74950000000\"}",
         false},
        {"{\"op\":\"route\",\"command_id\":\"c2\",\"call_id\":\"MToxMDE=\",\"to_extension\":"
         "\"102\",\"extension\":\"101\"}",
         "commands/route", "{\"command_id\":\"c2\",\"call_id\":\"MToxMDE=\",\"to_number\":\"102\"}",
         false},
        {"{\"op\":\"transfer\",\"command_id\":\"c3\",\"call_id\":\"X\",\"to_number\":\"103\","
         "\"method\":\"hold\",\"extension\":\"101\"}",
         "commands/transfer",
         "{\"command_id\":\"c3\",\"call_id\":\"X\",\"method\":\"hold\",\"to_number\":\"103\","
         "\"initiator\":\"101\"}",
         false},
        {"{\"op\":\"transfer\",\"command_id\":\"c4\",\"call_id\":\"X\",\"to_number\":\"103\","
         "\"method\":\"blind\"}",
         "commands/transfer",
         "{\"command_id\":\"c4\",\"call_id\":\"X\",\"method\":\"blind\",\"to_number\":\"103\"}",
         false},
        {"{\"op\":\"hangup\",\"command_id\":\"c5\",\"call_id\":\"a&b=c d\"}",
         "commands/call/hangup", "{\"command_id\":\"c5\",\"call_id\":\"a&b=c d\"}", false},
        {"{\"op\":\"record\",\"command_id\":\"c6\",\"recording_id\":\"REC+1/2\",\"call_id\":\"X\"}",
         "queries/recording/post", "{\"recording_id\":\"REC+1/2\",\"action\":\"download\"}", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cmd_run r;
        char url[256];
        cmd_build(&r, "mango", SETTINGS, cases[i].command);
        assert_int_equal(r.status, ADAPTER_OK);
        assert_string_equal(r.http.method, "POST");
        snprintf(url, sizeof url, "http://127.0.0.1:9/vpbx/%s", cases[i].path);
        assert_string_equal(r.http.url, url);
        assert_int_equal(r.http.stream, cases[i].stream);
        assert_true(cmd_has_header(&r, "Content-Type: application/x-www-form-urlencoded\r\n"));
        assert_signed(&r, "k1", "s1", cases[i].json);
        cmd_done(&r);
    }
}

static void unsupported_and_invalid(void **state)
{
    (void)state;
    cmd_run r;
    cmd_build(&r, "mango", SETTINGS, "{\"op\":\"status\",\"command_id\":\"c\",\"call_id\":\"x\"}");
    assert_int_equal(r.status, ADAPTER_UNSUPPORTED);
    assert_null(r.http.url);
    cmd_done(&r);
    cmd_build(&r, "mango", SETTINGS, "{\"command_id\":\"c\"}");
    assert_int_equal(r.status, ADAPTER_UNSUPPORTED);
    cmd_done(&r);
    cmd_assert_invalid(&r, "mango", SETTINGS, "{\"op\":\"callback\",\"command_id\":\"c\"}",
                       "extension");
    cmd_assert_invalid(&r, "mango", SETTINGS,
                       "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":\"101\"}",
                       "to_number");
    cmd_assert_invalid(&r, "mango", SETTINGS,
                       "{\"op\":\"callback\",\"command_id\":\"c\",\"extension\":101,"
                       "\"to_number\":\"1\"}",
                       "extension");
    cmd_assert_invalid(&r, "mango", SETTINGS,
                       "{\"op\":\"callback\",\"extension\":\"101\",\"to_number\":\"1\"}",
                       "command_id");
    cmd_assert_invalid(&r, "mango", SETTINGS,
                       "{\"op\":\"route\",\"command_id\":\"c\",\"to_extension\":\"102\"}",
                       "call_id");
    cmd_assert_invalid(&r, "mango", SETTINGS,
                       "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"x\"}", "to_extension");
    cmd_assert_invalid(&r, "mango", SETTINGS,
                       "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"x\","
                       "\"to_extension\":\"10 2\"}",
                       "to_extension");
    cmd_assert_invalid(&r, "mango", SETTINGS,
                       "{\"op\":\"transfer\",\"command_id\":\"c\",\"call_id\":\"x\","
                       "\"to_number\":\"1\",\"method\":\"warm\"}",
                       "method");
    cmd_assert_invalid(&r, "mango", SETTINGS,
                       "{\"op\":\"transfer\",\"command_id\":\"c\",\"call_id\":\"x\","
                       "\"to_number\":\"1\",\"method\":\"blind\",\"extension\":\"a\\nb\"}",
                       "extension");
    cmd_assert_invalid(&r, "mango", SETTINGS, "{\"op\":\"hangup\",\"command_id\":\"c\"}",
                       "call_id");
    cmd_assert_invalid(&r, "mango", SETTINGS, "{\"op\":\"record\",\"command_id\":\"c\"}",
                       "recording_id");
}

static const char *const HANGUP = "{\"op\":\"hangup\",\"command_id\":\"c\",\"call_id\":\"x\"}";

static void answers_ok(void **state)
{
    (void)state;
    const char *oks[] = {"{\"result\":1000}", "{\"result\":\"1000\"}", "{\"result\":1090}"};
    for (size_t i = 0; i < 3; i++) {
        cmd_run r;
        cmd_build(&r, "mango", SETTINGS, HANGUP);
        cmd_answer(&r, "mango", 200, oks[i]);
        cmd_assert_outcome(&r, 200, 0);
        assert_int_equal(json_object_size(r.result), 0);
        cmd_done(&r);
    }
    /* route: the outcome comes later to /result/route; nothing now */
    cmd_run r;
    cmd_build(&r, "mango", SETTINGS,
              "{\"op\":\"route\",\"command_id\":\"c\",\"call_id\":\"x\",\"to_extension\":\"102\"}");
    cmd_answer(&r, "mango", 200, "{\"result\":1000}");
    cmd_assert_outcome(&r, 200, 0);
    assert_null(json_object_get(r.result, "events"));
    cmd_done(&r);
}

static void answers_mapped(void **state)
{
    (void)state;
    static const struct {
        int http;
        const char *body;
        int status, code;
        long long pbx;
    } cases[] = {
        {200, "{\"result\":3310}", 404, RC_CALL_NOT_FOUND, 3310},
        {420, "{\"code\":3310}", 404, RC_CALL_NOT_FOUND, 3310},
        {420, "{\"code\":\"3320\"}", 404, RC_RECORDING_NOT_FOUND, 3320},
        {200, "{\"result\":\"4100\"}", 409, RC_IMPOSSIBLE_NOW, 4100},
        {420, "{\"code\":4101}", 409, RC_CALL_GONE, 4101},
        {200, "{\"result\":3102}", 502, RC_PBX_ERROR, 3102},
        {420, "{\"code\":3105}", 502, RC_PBX_ERROR, 3105},
        {200, "{\"result\":5000}", 502, RC_PBX_ERROR, 5000},
        {420, "{\"code\":3104}", 502, RC_PBX_ERROR, 3104},
        {200, "{\"result\":1110}", 502, RC_PBX_ERROR, 1110},
        {500, "{\"result\":1000}", 502, RC_PBX_ERROR, 1000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cmd_run r;
        char code[16];
        cmd_build(&r, "mango", SETTINGS, HANGUP);
        cmd_answer(&r, "mango", cases[i].http, cases[i].body);
        cmd_assert_outcome(&r, cases[i].status, cases[i].code);
        cmd_assert_pbx_code(&r, cases[i].pbx);
        snprintf(code, sizeof code, "%lld", cases[i].pbx);
        assert_non_null(strstr(json_string_value(json_object_get(r.result, "message")), code));
        cmd_done(&r);
    }
}

static void answers_unreadable(void **state)
{
    (void)state;
    const char *bad[] = {"",   "<html>bad gateway</html>", "[1000]",
                         "{}", "{\"result\":\"ok\"}",      "{\"result\":1.5}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cmd_run r;
        cmd_build(&r, "mango", SETTINGS, HANGUP);
        cmd_answer(&r, "mango", i % 2 ? 500 : 200, bad[i]);
        assert_int_equal(r.rc, -1);
        assert_true(strlen(r.err.message) > 0);
        cmd_done(&r);
    }
    cmd_run r;
    cmd_build(&r, "mango", SETTINGS, HANGUP);
    cmd_answer(&r, "mango", 0, NULL);
    cmd_assert_outcome(&r, 502, RC_PBX_ERROR);
    cmd_done(&r);
    /* the file host Mango redirected to no longer has it */
    cmd_build(&r, "mango", SETTINGS,
              "{\"op\":\"record\",\"command_id\":\"c\",\"recording_id\":\"R\"}");
    cmd_answer(&r, "mango", 404, "Not Found");
    cmd_assert_outcome(&r, 404, RC_RECORDING_NOT_FOUND);
    cmd_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documented_vector),  cmocka_unit_test(base_url_joined_once),
        cmocka_unit_test(every_op),           cmocka_unit_test(unsupported_and_invalid),
        cmocka_unit_test(answers_ok),         cmocka_unit_test(answers_mapped),
        cmocka_unit_test(answers_unreadable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
