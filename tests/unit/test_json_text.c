/* test_json_text.c — the text json_text writes is jansson's own, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../broker/lib/json_text.c"

#define FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

static void same_as_jansson(const json_t *v)
{
    size_t len = 0;
    char *mine = json_text(v, &len), *theirs = json_dumps(v, FLAGS);
    assert_non_null(theirs);
    assert_non_null(mine);
    assert_int_equal(len, strlen(theirs));
    assert_string_equal(mine, theirs);
    free(mine);
    free(theirs);
}

static void same_as_loaded(const char *doc)
{
    json_error_t err;
    json_t *v = json_loads(doc, JSON_DECODE_ANY, &err);
    if (!v)
        fail_msg("%s: %s", doc, err.text);
    same_as_jansson(v);
    json_decref(v);
}

static void writes_every_type(void **state)
{
    (void)state;
    same_as_loaded("null");
    same_as_loaded("true");
    same_as_loaded("false");
    same_as_loaded("0");
    same_as_loaded("-9223372036854775808");
    same_as_loaded("9223372036854775807");
    same_as_loaded("3.5");
    same_as_loaded("1e300");
    same_as_loaded("-0.1");
    same_as_loaded("\"\"");
    same_as_loaded("{}");
    same_as_loaded("[]");
    same_as_loaded("[[],{},[{}]]");
    same_as_loaded("{\"b\":1,\"a\":[1,2.25,\"x\",null,true,false],\"c\":{\"d\":{}}}");
    same_as_loaded("{\"kind\":\"call\",\"user\":\"101\",\"call_id\":\"c-1\",\"call\":{\"state\":"
                   "\"appeared\",\"from\":{\"number\":\"+15550100200\"},\"to\":{\"extension\":"
                   "\"101\"},\"line\":\"l\"}}");
}

static void escapes_as_jansson_does(void **state)
{
    (void)state;
    same_as_loaded("\"quote \\\" backslash \\\\ slash / \\/ tab \\t nl \\n cr \\r\"");
    same_as_loaded("\"\\b\\f\\u0001\\u001f\\u007f\\u0080\"");
    same_as_loaded("\"Jo\\u00e3o \\u20ac \\ud83d\\udcde \xC3\xA9\"");
    same_as_loaded("{\"k\\\"ey\\n\":\"v\"}");
}

static void writes_a_nul_as_jansson_does(void **state)
{
    (void)state;
    json_t *s = json_stringn("a\0b", 3);
    assert_non_null(s);
    same_as_jansson(s);
    json_decref(s);
}

static void refuses_what_jansson_refuses(void **state)
{
    (void)state;
    size_t len = 0;
    json_t *bad = json_stringn_nocheck("a\xFFz", 3), *cut = json_stringn_nocheck("\xE2\x82", 2);
    assert_null(json_dumps(bad, FLAGS));
    assert_null(json_text(bad, &len));
    assert_null(json_dumps(cut, FLAGS));
    assert_null(json_text(cut, &len));
    json_t *loop = json_array(), *inner = json_array(); /* loop -> inner -> loop */
    json_array_append(inner, loop);
    json_array_append(loop, inner);
    assert_null(json_dumps(loop, FLAGS));
    assert_null(json_text(loop, &len));
    json_array_clear(inner);
    json_decref(inner);
    json_decref(loop);
    json_decref(bad);
    json_decref(cut);
}

static void grows_past_its_first_buffer(void **state)
{
    (void)state;
    json_t *a = json_array();
    for (int i = 0; i < 2000; i++)
        json_array_append_new(a, json_pack("{s:i,s:s}", "n", i, "s", "text with \"quotes\"\n"));
    same_as_jansson(a);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_every_type),
        cmocka_unit_test(escapes_as_jansson_does),
        cmocka_unit_test(writes_a_nul_as_jansson_does),
        cmocka_unit_test(refuses_what_jansson_refuses),
        cmocka_unit_test(grows_past_its_first_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
