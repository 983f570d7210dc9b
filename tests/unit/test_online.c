/* test_online.c — presence members become distinct sorted extensions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/store/online.c"

static void distinct_and_sorted(void **state)
{
    (void)state;
    char a[] = "102\tinst-b", b[] = "101\tinst-a", c[] = "102\tinst-a", d[] = "no-tab",
         e[] = "\tinst-a", f[] = "100\tinst-b";
    char *m[] = {a, b, c, d, e, f};
    size_t n = online_extensions(m, 6);
    assert_int_equal(n, 3);
    assert_string_equal(m[0], "100");
    assert_string_equal(m[1], "101");
    assert_string_equal(m[2], "102");
}

static void empty(void **state)
{
    (void)state;
    assert_int_equal(online_extensions(NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(distinct_and_sorted),
        cmocka_unit_test(empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
