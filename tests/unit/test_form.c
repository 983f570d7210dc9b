/* test_form.c — the form decoder: escapes, repeated names, and what it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../broker/lib/form.c"

static void expect(const char *body, const char *want_json)
{
    char err[128] = "";
    json_t *got = form_parse(body, strlen(body), err, sizeof err);
    if (!got)
        print_error("refused: %s\n", err);
    assert_non_null(got);
    json_t *want = json_loads(want_json, 0, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *text = json_dumps(got, JSON_COMPACT);
        print_error("got %s\n", text);
        free(text);
        fail();
    }
    json_decref(got);
    json_decref(want);
}

static void expect_refused(const char *body, size_t len, const char *why)
{
    char err[128] = "";
    assert_null(form_parse(body, len, err, sizeof err));
    assert_non_null(strstr(err, why));
}

static void decodes_pairs(void **state)
{
    (void)state;
    expect("", "{}");
    expect("a=1&b=two", "{\"a\":\"1\",\"b\":\"two\"}");
    expect("CallStatus=in-progress&From=%2B15551234567",
           "{\"CallStatus\":\"in-progress\",\"From\":\"+15551234567\"}");
    expect("q=hello+world%21", "{\"q\":\"hello world!\"}");
    expect("x=%c3%a9%C3%A9", "{\"x\":\"\xc3\xa9\xc3\xa9\"}");
    expect("a%20b=c%3Dd&e", "{\"a b\":\"c=d\",\"e\":\"\"}");
    expect("a=&=b", "{\"a\":\"\",\"\":\"b\"}");
    expect("&&a=1&&", "{\"a\":\"1\"}");
    expect("a=1=2", "{\"a\":\"1=2\"}");
}

static void repeated_names_keep_every_value(void **state)
{
    (void)state;
    expect("a=1&b=2&a=3", "{\"a\":[\"1\",\"3\"],\"b\":\"2\"}");
    expect("a=1&a=2&a=3", "{\"a\":[\"1\",\"2\",\"3\"]}");
}

static void refuses_malformed(void **state)
{
    (void)state;
    expect_refused("a=%", 3, "malformed escape");
    expect_refused("a=%4", 4, "malformed escape");
    expect_refused("a=%G1", 5, "malformed escape");
    expect_refused("b=1&%zz=1", 9, "at byte 4");
    expect_refused("a=%00", 5, "NUL");
    expect_refused("a=x\0y", 5, "NUL");
    expect_refused("a=%ff", 5, "not UTF-8");
    expect_refused("%c3=1", 5, "not UTF-8");
    assert_null(form_parse("a=%", 3, NULL, 0));
}

static void reads_only_len_bytes(void **state)
{
    (void)state;
    const char body[] = "a=1&b=2";
    json_t *got = form_parse(body, 3, NULL, 0);
    assert_string_equal(json_string_value(json_object_get(got, "a")), "1");
    assert_null(json_object_get(got, "b"));
    json_decref(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decodes_pairs),
        cmocka_unit_test(repeated_names_keep_every_value),
        cmocka_unit_test(refuses_malformed),
        cmocka_unit_test(reads_only_len_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
