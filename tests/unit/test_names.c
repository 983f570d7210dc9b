/* test_names.c — the alphabets of integration names and extensions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../broker/lib/names.c"

static void integration_accepts(void **state)
{
    (void)state;
    assert_true(name_integration_valid("acme"));
    assert_true(name_integration_valid("0"));
    assert_true(name_integration_valid("a-b_c9"));
    char max[NAME_MAX_LEN + 1];
    memset(max, 'a', NAME_MAX_LEN);
    max[NAME_MAX_LEN] = '\0';
    assert_true(name_integration_valid(max));
}

static void integration_refuses(void **state)
{
    (void)state;
    assert_false(name_integration_valid(NULL));
    assert_false(name_integration_valid(""));
    assert_false(name_integration_valid("Acme"));
    assert_false(name_integration_valid("-acme"));
    assert_false(name_integration_valid("_acme"));
    assert_false(name_integration_valid("ac me"));
    assert_false(name_integration_valid("a{b}"));
    assert_false(name_integration_valid("a:b"));
    assert_false(name_integration_valid("a.b"));
    assert_false(name_integration_valid("caf\xc3\xa9"));
    char long_name[NAME_MAX_LEN + 2];
    memset(long_name, 'a', NAME_MAX_LEN + 1);
    long_name[NAME_MAX_LEN + 1] = '\0';
    assert_false(name_integration_valid(long_name));
}

static void extension_accepts(void **state)
{
    (void)state;
    assert_true(name_extension_valid("101"));
    assert_true(name_extension_valid("A"));
    assert_true(name_extension_valid("+5511980121511"));
    assert_true(name_extension_valid("john.doe_1-x"));
    assert_true(name_extension_valid("-"));
    char max[NAME_MAX_LEN + 1];
    memset(max, '9', NAME_MAX_LEN);
    max[NAME_MAX_LEN] = '\0';
    assert_true(name_extension_valid(max));
}

static void extension_refuses(void **state)
{
    (void)state;
    assert_false(name_extension_valid(NULL));
    assert_false(name_extension_valid(""));
    assert_false(name_extension_valid("10 1"));
    assert_false(name_extension_valid("101\n"));
    assert_false(name_extension_valid("{101}"));
    assert_false(name_extension_valid("a:b"));
    assert_false(name_extension_valid("a/b"));
    assert_false(name_extension_valid("a@b"));
    assert_false(name_extension_valid("\xd0\x96"));
    char long_name[NAME_MAX_LEN + 2];
    memset(long_name, '1', NAME_MAX_LEN + 1);
    long_name[NAME_MAX_LEN + 1] = '\0';
    assert_false(name_extension_valid(long_name));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integration_accepts),
        cmocka_unit_test(integration_refuses),
        cmocka_unit_test(extension_accepts),
        cmocka_unit_test(extension_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
