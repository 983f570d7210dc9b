/* test_utf8.c — messages made valid for JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../broker/lib/utf8.c"

static void expect(const char *in, const char *want)
{
    char buf[64];
    strcpy(buf, in);
    assert_string_equal(utf8_repair(buf), want);
}

static void keeps_valid_text(void **state)
{
    (void)state;
    expect("plain", "plain");
    expect("Jo\xC3\xA3o \xE2\x82\xAC \xF0\x9F\x93\x9E",
           "Jo\xC3\xA3o \xE2\x82\xAC \xF0\x9F\x93\x9E");
}

static void replaces_what_is_not_utf8(void **state)
{
    (void)state;
    expect("a\xFFz", "a?z");
    expect("cut \xE2\x82", "cut ??");   /* a character cut by a buffer */
    expect("\xC0\xAF", "??");           /* overlong '/' */
    expect("\xED\xA0\x80", "???");      /* a surrogate */
    expect("\xF4\x90\x80\x80", "????"); /* above U+10FFFF */
    expect("\x80 lone", "? lone");
    expect("\xC3(", "?(");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_valid_text),
        cmocka_unit_test(replaces_what_is_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
