/* test_request_id.c — which X-Request-Id values are kept, and how a made one looks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../broker/lib/request_id.c"

static bool valid(const char *s) { return request_id_valid(s, strlen(s)); }

static void keeps_sane_ids(void **state)
{
    (void)state;
    assert_true(valid("a"));
    assert_true(valid("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_true(valid("req-2024.11_28-A"));
    char longest[REQUEST_ID_MAX + 1];
    memset(longest, 'x', REQUEST_ID_MAX);
    longest[REQUEST_ID_MAX] = '\0';
    assert_true(valid(longest));
}

static void refuses_the_rest(void **state)
{
    (void)state;
    assert_false(valid(""));
    assert_false(request_id_valid(NULL, 0));
    assert_false(valid("two words"));
    assert_false(valid("line\nbreak"));
    assert_false(valid("quote\"d"));
    assert_false(valid("{json}"));
    assert_false(valid("caf\xC3\xA9"));
    char too_long[REQUEST_ID_MAX + 2];
    memset(too_long, 'x', REQUEST_ID_MAX + 1);
    too_long[REQUEST_ID_MAX + 1] = '\0';
    assert_false(valid(too_long));
    /* the length given counts, not a NUL */
    assert_false(request_id_valid("ab\0cd", 5));
}

static void made_ids_are_hex_and_valid(void **state)
{
    (void)state;
    const unsigned char r[REQUEST_ID_RANDOM] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
    char out[2 * REQUEST_ID_RANDOM + 1];
    request_id_format(r, out);
    assert_string_equal(out, "00017f80abcdefff");
    assert_true(valid(out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_sane_ids),
        cmocka_unit_test(refuses_the_rest),
        cmocka_unit_test(made_ids_are_hex_and_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
