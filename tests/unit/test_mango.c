/* test_mango.c — the Mango dialect: every fixture of tests/fixtures/mango, then what the
 * fixtures do not cover (settings, types, signature edge cases, odd values). Signs are made
 * here with OpenSSL's SHA256() directly, not with the adapter's code. */
#include "../../adapters/mango.c"

#include <openssl/sha.h>

#include "fixture_runner.h"

#define KEY "k-unit"
#define SALT "s-unit"

static void fixtures(void **state)
{
    (void)state;
    fixture_totals t = fixture_run_dir(&adapter_mango, "../fixtures/mango");
    assert_true(t.accepted > 0 && t.refused > 0 && t.events > 0);
}

/* ---- settings ---- */

static void refused_setting(const char *settings, const char *field)
{
    json_error_t je;
    json_t *s = json_loads(settings, 0, &je);
    adapter_error err;
    assert_non_null(s);
    assert_int_equal(mango_check_settings(s, &err), -1);
    assert_string_equal(err.field, field);
    assert_true(strlen(err.message) > 0);
    json_decref(s);
}

static void settings(void **state)
{
    (void)state;
    adapter_error err;
    json_t *ok = json_pack("{s:{s:s,s:s}}", "mango", "api_key", "k", "api_salt", "s");
    assert_int_equal(mango_check_settings(ok, &err), 0);
    json_object_set_new(json_object_get(ok, "mango"), "base_url",
                        json_string("https://app.mango-office.ru/vpbx/"));
    assert_int_equal(mango_check_settings(ok, &err), 0);
    json_decref(ok);
    refused_setting("{}", "mango");
    refused_setting("{\"mango\":[]}", "mango");
    refused_setting("{\"mango\":{\"api_salt\":\"s\"}}", "mango.api_key");
    refused_setting("{\"mango\":{\"api_key\":\"\",\"api_salt\":\"s\"}}", "mango.api_key");
    refused_setting("{\"mango\":{\"api_key\":\"k\",\"api_salt\":7}}", "mango.api_salt");
    refused_setting("{\"mango\":{\"api_key\":\"k\",\"api_salt\":\"s\",\"base_url\":\"ftp://x/\"}}",
                    "mango.base_url");
    refused_setting("{\"mango\":{\"api_key\":\"k\",\"api_salt\":\"s\",\"base_url\":\"vpbx\"}}",
                    "mango.base_url");
    refused_setting("{\"mango\":{\"api_key\":\"k\",\"api_salt\":\"s\",\"base_url\":1}}",
                    "mango.base_url");
}

/* ---- requests built here ---- */

typedef struct built {
    char body[8192];
    adapter_request req;
    adapter_ctx ctx;
    json_t *settings;
    json_t *out;
    adapter_error err;
} built;

static void sign_hex(const char *key, const char *js, const char *salt, char out[65])
{
    char text[4096];
    unsigned char h[SHA256_DIGEST_LENGTH];
    snprintf(text, sizeof text, "%s%s%s", key, js, salt);
    SHA256((const unsigned char *)text, strlen(text), h);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void build_raw(built *b, const char *subpath, const char *body)
{
    memset(b, 0, sizeof *b);
    snprintf(b->body, sizeof b->body, "%s", body);
    b->settings = json_pack("{s:{s:s,s:s}}", "mango", "api_key", KEY, "api_salt", SALT);
    b->ctx = (adapter_ctx){.integration = "acme", .settings = b->settings, .now = 1795446000};
    b->req = (adapter_request){.method = "POST",
                               .subpath = subpath,
                               .query = "",
                               .content_type = "application/x-www-form-urlencoded",
                               .body = b->body,
                               .body_len = strlen(b->body)};
    b->out = json_array();
}

/* A form as Mango sends it: the json signed with KEY and SALT. */
static void build(built *b, const char *subpath, const char *js)
{
    char sign[65], body[8192];
    sign_hex(KEY, js, SALT, sign);
    char *esc = curl_easy_escape(NULL, js, 0);
    snprintf(body, sizeof body, "vpbx_api_key=%s&sign=%s&json=%s", KEY, sign, esc);
    curl_free(esc);
    build_raw(b, subpath, body);
}

static void done(built *b)
{
    json_decref(b->out);
    json_decref(b->settings);
}

static enum adapter_status verify_of(built *b) { return mango_verify(&b->ctx, &b->req, &b->err); }

static enum adapter_status parse_of(built *b)
{
    enum adapter_status st = mango_parse(&b->ctx, &b->req, b->out, &b->err);
    adapter_error e;
    if (st == ADAPTER_OK)
        assert_int_equal(event_check_all(b->out, &e), 0);
    else
        assert_int_equal(json_array_size(b->out), 0);
    return st;
}

/* The request must verify and parse to exactly one event; returns it (owned by b). */
static json_t *one_event(built *b)
{
    assert_int_equal(verify_of(b), ADAPTER_OK);
    assert_int_equal(parse_of(b), ADAPTER_OK);
    assert_int_equal(json_array_size(b->out), 1);
    return json_array_get(b->out, 0);
}

static void no_event(const char *subpath, const char *js)
{
    built b;
    build(&b, subpath, js);
    assert_int_equal(verify_of(&b), ADAPTER_OK);
    assert_int_equal(parse_of(&b), ADAPTER_OK);
    assert_int_equal(json_array_size(b.out), 0);
    done(&b);
}

static void invalid(const char *subpath, const char *js, const char *field)
{
    built b;
    build(&b, subpath, js);
    assert_int_equal(verify_of(&b), ADAPTER_OK);
    assert_int_equal(parse_of(&b), ADAPTER_INVALID);
    assert_string_equal(b.err.field, field);
    assert_true(strlen(b.err.message) > 0);
    done(&b);
}

static const char *str_at(const json_t *ev, const char *a, const char *b)
{
    const json_t *v = json_object_get(ev, a);
    return json_string_value(b ? json_object_get(v, b) : v);
}

/* ---- signatures ---- */

static void known_vector(void **state)
{
    (void)state;
    /* ../shared/ADAPTERS.md, checked against Mango's PDF and three client libraries */
    const char *js = "{\"command_id\":\"your-command-id\",\"from\":{\"extension\":\"<extension>\","
                     "\"number\":\"\"},\"to_number\":\"<to_number>\"}";
    assert_true(sign_matches("<YOUR_API_KEY>", js, "<YOUR_API_SALT>",
                             "afdeb462cd5e0e422a9c9220390124608df06a4472cb1add6ebd6e24184bd15a"));
    assert_true(sign_matches("<YOUR_API_KEY>", js, "<YOUR_API_SALT>",
                             "AFDEB462CD5E0E422A9C9220390124608DF06A4472CB1ADD6EBD6E24184BD15A"));
    assert_false(sign_matches("<YOUR_API_KEY>", js, "<YOUR_API_SALT>",
                              "afdeb462cd5e0e422a9c9220390124608df06a4472cb1add6ebd6e24184bd15"));
    assert_false(sign_matches("<YOUR_API_KEY>", js, "<YOUR_API_SALT>", ""));
}

static void signature_edges(void **state)
{
    (void)state;
    built b;
    char sign[65], body[512];
    const char *js = "{\"command_id\":\"c1\",\"result\":1000}";
    sign_hex(KEY, js, SALT, sign);

    /* the sign covers the json byte for byte: the same object spaced differently fails */
    snprintf(body, sizeof body, "vpbx_api_key=" KEY "&sign=%s&json=%s", sign,
             "%7B%22command_id%22%3A%22c1%22%2C%20%22result%22%3A1000%7D");
    build_raw(&b, "/result/route", body);
    assert_int_equal(verify_of(&b), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(b.err.field, "sign");
    done(&b);

    /* another key signed correctly with our salt is still not this integration */
    build_raw(&b, "/result/route", "vpbx_api_key=other&sign=00&json=%7B%7D");
    assert_int_equal(verify_of(&b), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(b.err.field, "vpbx_api_key");
    done(&b);

    /* a repeated sign, a key without a sign, nothing at all */
    snprintf(body, sizeof body, "vpbx_api_key=" KEY "&sign=%s&sign=%s&json=x", sign, sign);
    build_raw(&b, "/result/route", body);
    assert_int_equal(verify_of(&b), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(b.err.field, "sign");
    done(&b);
    build_raw(&b, "/events/call", "vpbx_api_key=" KEY "&json=%7B%7D");
    assert_int_equal(verify_of(&b), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(b.err.field, "sign");
    done(&b);
    build_raw(&b, "/events/call", "json=%7B%7D");
    assert_int_equal(verify_of(&b), ADAPTER_NO_SIGNATURE);
    done(&b);

    /* a bare ping needs no sign; a ping with a wrong one is refused; a bare event is not a ping */
    build_raw(&b, "/ping", "");
    assert_int_equal(verify_of(&b), ADAPTER_OK);
    assert_int_equal(parse_of(&b), ADAPTER_OK);
    done(&b);
    build_raw(&b, "/ping", "vpbx_api_key=" KEY "&sign=0123&json=%7B%7D");
    assert_int_equal(verify_of(&b), ADAPTER_BAD_SIGNATURE);
    done(&b);
    build_raw(&b, "/events/call", "");
    assert_int_equal(verify_of(&b), ADAPTER_NO_SIGNATURE);
    done(&b);

    /* an integration whose settings lost the mango object refuses, never crashes */
    build(&b, "/result/route", js);
    json_object_del(b.settings, "mango");
    assert_int_equal(verify_of(&b), ADAPTER_BAD_SIGNATURE);
    done(&b);
}

/* ---- events/call ---- */

#define LEG "\"entry_id\":\"E1\",\"call_id\":\"L1\",\"timestamp\":1795446000,\"seq\":1"

static void call_variants(void **state)
{
    (void)state;
    built b;
    /* internal: both sides are employees; numbers as JSON numbers; state in any case */
    build(&b, "events/call",
          "{" LEG ",\"call_state\":\"CONNECTED\",\"location\":\"abonent\","
          "\"from\":{\"extension\":101,\"number\":74950000101},\"to\":{\"extension\":\"102\"}}");
    json_t *ev = one_event(&b);
    assert_string_equal(str_at(ev, "call", "direction"), "internal");
    assert_string_equal(str_at(ev, "call", "state"), "connected");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(ev, "call"), "from"), "number")),
                        "74950000101");
    assert_int_equal(json_array_size(json_object_get(ev, "users")), 2);
    assert_string_equal(str_at(ev, "call_id", NULL), "E1");
    assert_string_equal(str_at(ev, "order", "key"), "L1");
    done(&b);

    build(&b, "/events/call/",
          "{" LEG ",\"call_state\":\"onhold\",\"from\":{\"extension\":\"101\"},"
          "\"to\":{\"number\":\"79990001122\",\"line_number\":null}}");
    ev = one_event(&b);
    assert_string_equal(str_at(ev, "call", "state"), "on_hold");
    assert_string_equal(str_at(ev, "call", "direction"), "outbound");
    assert_null(json_object_get(json_object_get(ev, "call"), "line"));
    done(&b);

    /* the largest seq an ordered event may carry; an unknown disconnect code keeps Mango's */
    build(
        &b, "events/call",
        "{\"entry_id\":\"E1\",\"call_id\":\"L1\",\"timestamp\":\"0\",\"seq\":\"9007199254740991\","
        "\"call_state\":\"Disconnected\",\"disconnect_reason\":\"4210\","
        "\"to\":{\"extension\":\"101\"}}");
    ev = one_event(&b);
    json_t *d = json_object_get(json_object_get(ev, "call"), "disconnect");
    assert_int_equal(json_integer_value(json_object_get(d, "code")), 20);
    assert_string_equal(json_string_value(json_object_get(d, "text")),
                        "subscriber absent (mango 4210)");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ev, "order"), "seq")),
                     9007199254740991LL);
    assert_string_equal(str_at(ev, "ts", NULL), "1970-01-01T00:00:00.000Z");
    done(&b);
}

static void disconnect_causes(void **state)
{
    (void)state;
    static const struct {
        int64_t mango;
        int q850;
    } table[] = {{1100, 16}, {1110, 16}, {1111, 19}, {1120, 16}, {1121, 17},
                 {1122, 21}, {1190, 16}, {2100, 21}, {3200, 1},  {3299, 1},
                 {4201, 20}, {5001, 41}, {3102, 31}, {0, 31},    {99999, 31}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        assert_int_equal(q850_of(table[i].mango), table[i].q850);
}

static void nobody_on_the_leg(void **state)
{
    (void)state;
    /* in a queue or still in the IVR after arriving: no employee, nobody to tell */
    no_event("events/call", "{" LEG ",\"call_state\":\"Appeared\",\"location\":\"queue\","
                            "\"from\":{\"number\":\"79160000000\"},\"to\":{\"number\":\"749\"}}");
    no_event("events/call", "{" LEG ",\"call_state\":\"Disconnected\",\"location\":\"ivr\","
                            "\"disconnect_reason\":1110,\"from\":{\"number\":\"7916\"}}");
    /* the IVR with an employee already on the leg is a call */
    built b;
    build(&b, "events/call",
          "{" LEG
          ",\"call_state\":\"Appeared\",\"location\":\"IVR\",\"to\":{\"extension\":\"101\"}}");
    assert_string_equal(str_at(one_event(&b), "kind", NULL), "call");
    done(&b);
    /* an arrival in the IVR with no number at all still goes to one online user */
    build(&b, "events/call", "{" LEG ",\"call_state\":\"Appeared\",\"location\":\"ivr\"}");
    json_t *ev = one_event(&b);
    assert_string_equal(str_at(ev, "target", NULL), "one_online");
    assert_null(json_object_get(json_object_get(ev, "ivr"), "from"));
    done(&b);
}

static void call_types(void **state)
{
    (void)state;
    invalid("events/call", "{" LEG ",\"call_state\":\"Appeared\",\"from\":\"101\"}", "json.from");
    invalid("events/call", "{" LEG ",\"call_state\":\"Appeared\",\"to\":{\"extension\":\"1 1\"}}",
            "json.to.extension");
    invalid("events/call", "{" LEG ",\"call_state\":\"Appeared\",\"to\":{\"number\":true}}",
            "json.to.number");
    invalid("events/call",
            "{" LEG ",\"call_state\":\"Appeared\",\"to\":{\"number\":"
            "\"12345678901234567890123456789012345678901234567890123456789012345\"}}",
            "json.to.number");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\",\"timestamp\":1,\"seq\":-1,"
            "\"call_state\":\"Appeared\"}",
            "json.seq");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\",\"timestamp\":1,"
            "\"seq\":9007199254740992,\"call_state\":\"Appeared\"}",
            "json.seq");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\",\"timestamp\":1,"
            "\"seq\":\"99999999999999999999\",\"call_state\":\"Appeared\"}",
            "json.seq");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\",\"timestamp\":1,\"seq\":\" 1\","
            "\"call_state\":\"Appeared\"}",
            "json.seq");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\",\"timestamp\":1,\"seq\":1.5,"
            "\"call_state\":\"Appeared\"}",
            "json.seq");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\",\"timestamp\":1e300,\"seq\":1,"
            "\"call_state\":\"Appeared\"}",
            "json.timestamp");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\",\"timestamp\":253402300800,"
            "\"seq\":1,\"call_state\":\"Appeared\"}",
            "json.timestamp");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\",\"seq\":1,"
            "\"call_state\":\"Appeared\"}",
            "json.timestamp");
    invalid("events/call",
            "{\"entry_id\":\"E\",\"call_id\":\"L\\u0000x\",\"timestamp\":1,"
            "\"seq\":1,\"call_state\":\"Appeared\"}",
            "json"); /* jansson refuses \u0000 */
    invalid("events/call",
            "{\"entry_id\":7,\"call_id\":\"L\",\"timestamp\":1,\"seq\":1,"
            "\"call_state\":\"Appeared\"}",
            "json.entry_id");
    invalid("events/call", "{\"entry_id\":\"E\",\"entry_id\":\"F\"}", "json");
    invalid("events/call", "{" LEG ",\"call_state\":\"Disconnected\",\"disconnect_reason\":-5}",
            "json.disconnect_reason");
}

/* ---- recordings, results, other paths ---- */

static void recordings(void **state)
{
    (void)state;
    built b;
    build(&b, "events/record/added",
          "{\"entry_id\":\"E1\",\"recording_id\":\"a+b/c=d&e\",\"timestamp\":\"1795446000\"}");
    json_t *ev = one_event(&b);
    assert_string_equal(str_at(ev, "record", "url"), "/v1/record?recording_id=a%2Bb%2Fc%3Dd%26e");
    assert_string_equal(str_at(ev, "target", NULL), "call_parties");
    done(&b);

    build(&b, "events/recording",
          "{\"recording_id\":\"R\",\"recording_state\":\"completed\",\"entry_id\":\"E1\","
          "\"completion_code\":4002}");
    ev = one_event(&b);
    assert_string_equal(str_at(ev, "record", "status"), "failed");
    assert_string_equal(str_at(ev, "target", NULL), "call_parties");
    assert_null(json_object_get(ev, "ts"));
    done(&b);

    no_event("events/recording", "{\"recording_id\":\"R\",\"recording_state\":\"Continued\"}");
    invalid("events/recording",
            "{\"recording_id\":\"R\",\"recording_state\":\"Completed\",\"completion_code\":4002}",
            "json.entry_id");
    invalid("events/recording", "{\"recording_id\":\"R\",\"recording_state\":\"Paused\"}",
            "json.recording_state");
    invalid("events/record/added", "{\"entry_id\":\"E1\",\"recording_id\":\"\"}",
            "json.recording_id");
}

static void results_and_paths(void **state)
{
    (void)state;
    built b;
    build(&b, "result/route", "{\"command_id\":\"c\",\"result\":\"1192\"}");
    json_t *ev = one_event(&b);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(ev, "route_result"), "result")), 1192);
    assert_null(json_object_get(ev, "call_id"));
    done(&b);

    no_event("result/callback", "{\"command_id\":\"c\",\"result\":1000}");
    no_event("result/recording/start", "{\"command_id\":\"c\",\"result\":1000}");
    no_event("events/summary", "{\"entry_id\":\"E\"}");
    no_event("events/dtmf", "{\"dtmf\":\"1\"}");
    no_event("events/sms", "{}");
    no_event("events/record/tagged", "{}");
    invalid("result/callback", "{\"command_id\":\"c\"}", "json.result");
    invalid("events/dtmf", "[1]", "json");
    invalid("events/summary", "", "json");

    static const char *const unknown[] = {"",       "/",       "events",        "events/call/x",
                                          "result", "result/", "result//route", "events/CALL",
                                          "pings"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        build(&b, unknown[i], "{}");
        assert_int_equal(parse_of(&b), ADAPTER_NOT_FOUND);
        done(&b);
    }

    /* a path that is not printable ASCII is not echoed into the (JSON) answer */
    build(&b, "events/\xff\xfe", "{}");
    assert_int_equal(parse_of(&b), ADAPTER_NOT_FOUND);
    assert_non_null(strstr(b.err.message, "/... "));
    done(&b);

    /* jansson's message quotes the input: what reaches the answer stays ASCII */
    build(&b, "events/call", "{\"x\": \xd0\xb6\xd0\xb6\xd0\xb6}");
    assert_int_equal(parse_of(&b), ADAPTER_INVALID);
    assert_string_equal(b.err.field, "json");
    for (const char *c = b.err.message; *c; c++)
        assert_true(*c >= 0x20 && *c < 0x7f);
    done(&b);

    /* a form that does not decode, a json given twice */
    build_raw(&b, "events/call", "json=%ZZ");
    assert_int_equal(parse_of(&b), ADAPTER_INVALID);
    done(&b);
    build_raw(&b, "events/call", "json=%7B%7D&json=%7B%7D");
    assert_int_equal(parse_of(&b), ADAPTER_INVALID);
    assert_string_equal(b.err.field, "json");
    done(&b);
}

static void answer(void **state)
{
    (void)state;
    adapter_answer a = {0};
    adapter_counts c = {.accepted = 1, .duplicates = 2, .ignored = 3};
    assert_int_equal(mango_answer(NULL, &c, &a), 0);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "{\"result\":{\"code\":0,\"message\":\"ok\"},\"accepted\":1,"
                                "\"duplicates\":2,\"ignored\":3,\"stale\":0}");
    free(a.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures),
        cmocka_unit_test(settings),
        cmocka_unit_test(known_vector),
        cmocka_unit_test(signature_edges),
        cmocka_unit_test(call_variants),
        cmocka_unit_test(disconnect_causes),
        cmocka_unit_test(nobody_on_the_leg),
        cmocka_unit_test(call_types),
        cmocka_unit_test(recordings),
        cmocka_unit_test(results_and_paths),
        cmocka_unit_test(answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
