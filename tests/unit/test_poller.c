/* test_poller.c — the poller's delay between polls: the interval, doubled per failure in a
 * row, the adapter's retry_ms when longer, never above 30 s. (The loop and its Redis scripts
 * are exercised by tests/integration/test_zaas.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "poller.h"

static void interval_after_success(void **state)
{
    (void)state;
    assert_int_equal(poller_delay_ms(700, 0, 0), 700);
    assert_int_equal(poller_delay_ms(700, 0, 5000), 700); /* retry_ms is for failures only */
    assert_int_equal(poller_delay_ms(0, 0, 0), POLLER_INTERVAL_MS);
    assert_int_equal(poller_delay_ms(60000, 0, 0), POLLER_BACKOFF_MAX_MS);
}

static void doubles_per_failure(void **state)
{
    (void)state;
    assert_int_equal(poller_delay_ms(1000, 1, 0), 2000);
    assert_int_equal(poller_delay_ms(1000, 2, 0), 4000);
    assert_int_equal(poller_delay_ms(1000, 4, 0), 16000);
    assert_int_equal(poller_delay_ms(1000, 5, 0), POLLER_BACKOFF_MAX_MS);
    assert_int_equal(poller_delay_ms(1000, 1000000, 0), POLLER_BACKOFF_MAX_MS);
}

static void retry_ms_when_longer(void **state)
{
    (void)state;
    assert_int_equal(poller_delay_ms(200, 1, 400), 400);
    assert_int_equal(poller_delay_ms(200, 1, 100), 400);
    assert_int_equal(poller_delay_ms(200, 3, 400), 1600);
    assert_int_equal(poller_delay_ms(200, 1, 120000), POLLER_BACKOFF_MAX_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interval_after_success),
        cmocka_unit_test(doubles_per_failure),
        cmocka_unit_test(retry_ms_when_longer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
