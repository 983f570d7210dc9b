/* test_asterisk.c — the asterisk adapter on its recorded fixtures, then what they do not cover:
 * settings, wrong types, odd timestamps, signatures, huge and anonymous values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../adapters/asterisk.c"
#include "fixture_runner.h"

static void fixtures(void **state)
{
    (void)state;
    fixture_totals t = fixture_run_dir(&adapter_asterisk, "../fixtures/asterisk");
    assert_true(t.accepted >= 20);
    assert_true(t.refused >= 14);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
