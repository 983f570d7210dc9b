/* test_mango.c — the Mango dialect: every fixture of tests/fixtures/mango, then what the
 * fixtures do not cover (settings, types, signature edge cases, odd values). */
#include "../../adapters/mango.c"

#include "fixture_runner.h"

static void fixtures(void **state)
{
    (void)state;
    fixture_totals t = fixture_run_dir(&adapter_mango, "../fixtures/mango");
    assert_true(t.accepted > 0 && t.refused > 0 && t.events > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
