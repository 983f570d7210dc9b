/* test_freeswitch.c — the FreeSWITCH mod_json_cdr adapter: every recorded fixture, then what
 * the fixtures do not cover (settings, encodings' edges, wrong types, odd values). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "../../adapters/freeswitch.c"
#include "fixture_runner.h"

static void test_fixtures(void **state)
{
    (void)state;
    fixture_totals t = fixture_run_dir(&adapter_freeswitch, "../fixtures/freeswitch");
    assert_int_equal(t.accepted, 8);
    assert_int_equal(t.refused, 10);
}

/* ---- helpers ---- */

static const adapter_ctx CTX = {.integration = "acme", .now = 1795446000};

/* A CDR as mod_json_cdr writes it (values URL-encoded), that a test then bends. */
static json_t *cdr_base(void)
{
    return json_pack("{s{ssssssssssssss}s[{s{ssss}}]}", "variables", "uuid", "leg-1", "call_uuid",
                     "call-1", "hangup_cause", "NORMAL_CLEARING", "hangup_cause_q850", "16",
                     "answer_epoch", "1795446006", "end_epoch", "1795446080", "sip_from_user",
                     "%2B14155550100", "callflow", "caller_profile", "caller_id_number",
                     "+14155550100", "destination_number", "101");
}

static json_t *vars_of(json_t *cdr) { return json_object_get(cdr, "variables"); }

static json_t *profile_of(json_t *cdr)
{
    return json_object_get(json_array_get(json_object_get(cdr, "callflow"), 0), "caller_profile");
}

static enum adapter_status run(const char *content_type, const char *subpath, const char *body,
                               size_t len, json_t **out, adapter_error *err)
{
    adapter_request q = {.method = "POST",
                         .subpath = subpath,
                         .query = "uuid=leg-1",
                         .content_type = content_type,
                         .body = body,
                         .body_len = len};
    *out = json_array();
    enum adapter_status st = adapter_freeswitch.parse(&CTX, &q, *out, err);
    if (st != ADAPTER_OK)
        assert_int_equal(json_array_size(*out), 0); /* never partial events */
    else if (event_check_all(*out, err) != 0)
        fail_msg("output breaks the contract: %s: %s", err->field, err->message);
    return st;
}

/* Parses a raw JSON CDR (consumed); returns the status, events in *out. */
static enum adapter_status run_cdr(json_t *cdr, json_t **out, adapter_error *err)
{
    char *text = json_dumps(cdr, JSON_COMPACT);
    json_decref(cdr);
    enum adapter_status st = run("application/json", "", text, strlen(text), out, err);
    free(text);
    return st;
}

static void expect_invalid(json_t *cdr, const char *field)
{
    json_t *out;
    adapter_error err;
    assert_int_equal(run_cdr(cdr, &out, &err), ADAPTER_INVALID);
    if (strcmp(err.field, field) != 0)
        fail_msg("refused at %s (%s), expected at %s", err.field, err.message, field);
    assert_true(err.message[0] != '\0');
    json_decref(out);
}

static json_t *parse_ok(json_t *cdr)
{
    json_t *out;
    adapter_error err;
    enum adapter_status st = run_cdr(cdr, &out, &err);
    if (st != ADAPTER_OK)
        fail_msg("refused: %s: %s", err.field, err.message);
    return out;
}

static char *base64_of(const char *text)
{
    size_t n = strlen(text);
    char *b = malloc(4 * ((n + 2) / 3) + 8);
    memcpy(b, "cdr=", 4);
    EVP_EncodeBlock((unsigned char *)b + 4, (const unsigned char *)text, (int)n);
    return b;
}

/* ---- settings ---- */

static void test_settings(void **state)
{
    (void)state;
    adapter_error err;
    json_t *s = json_pack("{s{}}", "freeswitch");
    assert_int_equal(adapter_freeswitch.check_settings(s, &err), 0);
    json_decref(s);
    s = json_pack("{ss}", "company_id", "42");
    assert_int_equal(adapter_freeswitch.check_settings(s, &err), 0);
    json_decref(s);
    s = json_pack("{ss}", "freeswitch", "basic");
    assert_int_equal(adapter_freeswitch.check_settings(s, &err), -1);
    assert_string_equal(err.field, "freeswitch");
    json_decref(s);
    s = json_pack("{s{ss}}", "freeswitch", "cred", "freeswitch:secret");
    assert_int_equal(adapter_freeswitch.check_settings(s, &err), -1);
    assert_string_equal(err.field, "freeswitch.cred");
    json_decref(s);
}

/* ---- encodings ---- */

static void test_base64_edges(void **state)
{
    (void)state;
    json_t *cdr = cdr_base(), *out;
    adapter_error err;
    char *json = json_dumps(cdr, JSON_COMPACT), *b = base64_of(json);
    json_decref(cdr);
    /* without padding, with a line break, and URL-encoded after all: all the same CDR */
    size_t n = strlen(b);
    while (b[n - 1] == '=')
        b[--n] = '\0';
    assert_int_equal(run("application/x-www-form-base64-encoded", "", b, n, &out, &err),
                     ADAPTER_OK);
    assert_int_equal(json_array_size(out), 2);
    json_decref(out);
    char *wrapped = malloc(n + 3);
    snprintf(wrapped, n + 3, "%.40s\r\n%s", b, b + 40);
    assert_int_equal(
        run("application/x-www-form-base64-encoded", "", wrapped, strlen(wrapped), &out, &err),
        ADAPTER_OK);
    json_decref(out);
    /* without a Content-Type: recognised by "cdr=" and no '%' after it */
    assert_int_equal(run(NULL, "", b, n, &out, &err), ADAPTER_OK);
    assert_int_equal(json_array_size(out), 2);
    json_decref(out);
    assert_int_equal(run("application/x-www-form-base64-encoded", "", "cdr=", 4, &out, &err),
                     ADAPTER_INVALID);
    assert_string_equal(err.field, "cdr");
    json_decref(out);
    assert_int_equal(run("application/x-www-form-base64-encoded", "", "xml=e30=", 8, &out, &err),
                     ADAPTER_INVALID);
    json_decref(out);
    /* base64 of something that is not a JSON object */
    assert_int_equal(run("application/x-www-form-base64-encoded", "", "cdr=WzFd", 8, &out, &err),
                     ADAPTER_INVALID);
    assert_string_equal(err.field, "cdr");
    json_decref(out);
    free(wrapped);
    free(b);
    free(json);
}

static void test_form_edges(void **state)
{
    (void)state;
    json_t *out;
    adapter_error err;
    const char *twice = "cdr=%7B%7D&cdr=%7B%7D";
    assert_int_equal(run("application/x-www-form-urlencoded", "", twice, strlen(twice), &out, &err),
                     ADAPTER_INVALID);
    assert_string_equal(err.field, "cdr");
    json_decref(out);
    const char *bad_escape = "cdr=%7B%ZZ";
    assert_int_equal(
        run("application/x-www-form-urlencoded", "", bad_escape, strlen(bad_escape), &out, &err),
        ADAPTER_INVALID);
    json_decref(out);
    /* the CDR after another field, and no Content-Type but a URL-encoded body */
    const char *other = "a=1&cdr=%7B%22variables%22%3A%7B%7D%7D";
    assert_int_equal(run("application/x-www-form-urlencoded", "", other, strlen(other), &out, &err),
                     ADAPTER_INVALID);
    assert_string_equal(err.field, "variables.uuid");
    json_decref(out);
    const char *sniffed = "cdr=%7B%22variables%22%3A1%7D";
    assert_int_equal(run(NULL, "", sniffed, strlen(sniffed), &out, &err), ADAPTER_INVALID);
    assert_string_equal(err.field, "variables");
    json_decref(out);
}

static void test_subpath_and_empty(void **state)
{
    (void)state;
    json_t *out;
    adapter_error err;
    assert_int_equal(run("application/json", "/events", "{}", 2, &out, &err), ADAPTER_NOT_FOUND);
    json_decref(out);
    assert_int_equal(run("application/json", "/", "", 0, &out, &err), ADAPTER_INVALID);
    assert_string_equal(err.field, "cdr");
    json_decref(out);
    assert_int_equal(run("application/json", "", "[]", 2, &out, &err), ADAPTER_INVALID);
    assert_string_equal(err.field, "cdr");
    json_decref(out);
}

/* ---- fields ---- */

static void test_wrong_types(void **state)
{
    (void)state;
    json_t *c = cdr_base();
    json_object_set_new(vars_of(c), "uuid", json_array());
    expect_invalid(c, "variables.uuid");
    c = cdr_base();
    json_object_del(vars_of(c), "uuid");
    expect_invalid(c, "variables.uuid");
    c = cdr_base();
    json_object_set_new(vars_of(c), "hangup_cause_q850", json_string("128"));
    expect_invalid(c, "variables.hangup_cause_q850");
    c = cdr_base();
    json_object_set_new(vars_of(c), "hangup_cause_q850", json_string("-1"));
    expect_invalid(c, "variables.hangup_cause_q850");
    c = cdr_base();
    json_object_del(vars_of(c), "hangup_cause_q850");
    expect_invalid(c, "variables.hangup_cause_q850");
    c = cdr_base();
    json_object_set_new(vars_of(c), "end_epoch", json_string("99999999999999999999"));
    expect_invalid(c, "variables.end_epoch");
    c = cdr_base();
    json_object_set_new(vars_of(c), "answer_epoch", json_real(1.5));
    expect_invalid(c, "variables.answer_epoch");
    c = cdr_base();
    json_object_set_new(vars_of(c), "hangup_cause", json_true());
    expect_invalid(c, "variables.hangup_cause");
    c = cdr_base();
    json_array_set_new(json_object_get(c, "callflow"), 0, json_string("x"));
    expect_invalid(c, "callflow[0]");
    c = cdr_base();
    json_object_set_new(json_array_get(json_object_get(c, "callflow"), 0), "caller_profile",
                        json_integer(1));
    expect_invalid(c, "callflow[0].caller_profile");
    c = cdr_base();
    json_object_set_new(profile_of(c), "caller_id_number", json_object());
    expect_invalid(c, "callflow[0].caller_profile.caller_id_number");
    c = cdr_base();
    json_object_set_new(vars_of(c), "call_uuid", json_string("J%FFo"));
    expect_invalid(c, "variables.call_uuid");
    c = cdr_base();
    json_object_set_new(vars_of(c), "uuid", json_stringn("a\0b", 3));
    expect_invalid(c, "cdr"); /* \u0000: jansson refuses it, as it should */
}

/* Numbers as JSON numbers; no call_uuid; no hangup_cause; not answered. */
static void test_tolerated(void **state)
{
    (void)state;
    json_t *c = cdr_base();
    json_object_set_new(vars_of(c), "hangup_cause_q850", json_integer(17));
    json_object_set_new(vars_of(c), "end_epoch", json_integer(1795446080));
    json_object_set_new(vars_of(c), "answer_epoch", json_string("0"));
    json_object_del(vars_of(c), "call_uuid");
    json_object_del(vars_of(c), "hangup_cause");
    json_t *out = parse_ok(c);
    json_t *want = json_pack("[{ss s[ss] ss ss s{sssi} s{sss{ss}s{ss}s{si}} ss}]", "kind", "call",
                             "users", "+14155550100", "101", "call_id", "leg-1", "ts",
                             "2026-11-23T15:01:20.000Z", "order", "key", "leg-1", "seq", 2, "call",
                             "state", "disconnected", "from", "number", "+14155550100", "to",
                             "number", "101", "disconnect", "code", 17, "source", "freeswitch");
    assert_true(json_equal(out, want));
    json_decref(want);
    json_decref(out);
}

/* No callflow: the numbers come from the (URL-encoded) variables. */
static void test_numbers_from_variables(void **state)
{
    (void)state;
    json_t *c = cdr_base();
    json_object_del(c, "callflow");
    json_object_set_new(vars_of(c), "sip_to_user", json_string("102"));
    json_t *out = parse_ok(c);
    json_t *call = json_object_get(json_array_get(out, 0), "call");
    assert_string_equal(json_string_value(json_object_get(json_object_get(call, "from"), "number")),
                        "+14155550100");
    assert_string_equal(json_string_value(json_object_get(json_object_get(call, "to"), "number")),
                        "102");
    json_decref(out);
    /* callflow as one object; an empty array falls back too */
    c = cdr_base();
    json_object_set_new(c, "callflow", json_array());
    out = parse_ok(c);
    assert_int_equal(json_array_size(out), 2);
    json_decref(out);
}

/* A party too long for the event is left out; nobody who can be a user: no event. */
static void test_odd_parties(void **state)
{
    (void)state;
    char longnum[100];
    memset(longnum, '7', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = '\0';
    json_t *c = cdr_base();
    json_object_set_new(profile_of(c), "caller_id_number", json_string(longnum));
    json_object_set_new(vars_of(c), "sip_from_user", json_string(longnum));
    json_t *out = parse_ok(c);
    json_t *ev = json_array_get(out, 1);
    assert_null(json_object_get(json_object_get(ev, "call"), "from"));
    assert_int_equal(json_array_size(json_object_get(ev, "users")), 1);
    json_decref(out);

    c = cdr_base();
    json_object_set_new(profile_of(c), "caller_id_number", json_string("sip:anon@example.com"));
    json_object_set_new(profile_of(c), "destination_number", json_string("Jo%C3%A3o Silva"));
    out = parse_ok(c);
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);

    /* the same number on both sides names one user */
    c = cdr_base();
    json_object_set_new(profile_of(c), "caller_id_number", json_string("101"));
    out = parse_ok(c);
    assert_int_equal(json_array_size(json_object_get(json_array_get(out, 0), "users")), 1);
    json_decref(out);
}

static void test_percent_decoding(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(pct_decode("%2B55%20a+b", 11, buf), 7);
    assert_memory_equal(buf, "+55 a+b", 7);
    assert_int_equal(pct_decode("100%", 4, buf), 4); /* a lone '%' stays */
    assert_int_equal(pct_decode("%zz%0", 5, buf), 5);
    assert_int_equal(pct_decode("a%00b", 5, buf), 5); /* never a NUL */
    assert_memory_equal(buf, "a%00b", 5);
    json_t *c = cdr_base();
    json_object_set_new(vars_of(c), "hangup_cause", json_string("USER%5FBUSY"));
    json_t *out = parse_ok(c);
    json_t *d = json_object_get(json_object_get(json_array_get(out, 1), "call"), "disconnect");
    assert_string_equal(json_string_value(json_object_get(d, "text")), "USER_BUSY");
    json_decref(out);
}

static void test_answer(void **state)
{
    (void)state;
    adapter_answer a;
    adapter_counts c = {.accepted = 2, .duplicates = 1};
    assert_int_equal(adapter_freeswitch.answer(&CTX, &c, &a), 0);
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.body, "\"accepted\":2"));
    free(a.body);
    assert_null(adapter_freeswitch.verify); /* the broker checks the token */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_base64_edges),
        cmocka_unit_test(test_form_edges),
        cmocka_unit_test(test_subpath_and_empty),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_tolerated),
        cmocka_unit_test(test_numbers_from_variables),
        cmocka_unit_test(test_odd_parties),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
