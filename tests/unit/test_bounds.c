/* test_bounds.c — the token bucket, the outgoing queue bound and the Origin allow list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../broker/lib/bounds.c"

static void bucket_starts_full_then_refuses_with_whole_seconds(void **state)
{
    (void)state;
    token_bucket b = {0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(bucket_take(&b, 2.0, 5.0, 1000), 0);
    assert_int_equal(bucket_take(&b, 2.0, 5.0, 1000), 1); /* half a second away: 1 */
    assert_int_equal(bucket_take(&b, 2.0, 5.0, 1499), 1);
    assert_int_equal(bucket_take(&b, 2.0, 5.0, 1500), 0); /* one token in 0.5 s at 2/s */
    token_bucket slow = {0};
    assert_int_equal(bucket_take(&slow, 0.25, 1.0, 1000), 0);
    assert_int_equal(bucket_take(&slow, 0.25, 1.0, 1000), 4); /* 4 s for one token */
}

static void bucket_refills_up_to_burst_only(void **state)
{
    (void)state;
    token_bucket b = {0};
    assert_int_equal(bucket_take(&b, 10.0, 3.0, 1000), 0);
    int taken = 0;
    while (bucket_take(&b, 10.0, 3.0, 100000) == 0) /* long idle: back to 3, not 990 */
        taken++;
    assert_int_equal(taken, 3);
}

static void bucket_ignores_a_clock_going_back(void **state)
{
    (void)state;
    token_bucket b = {0};
    assert_int_equal(bucket_take(&b, 1.0, 1.0, 5000), 0);
    assert_int_equal(bucket_take(&b, 1.0, 1.0, 4000), 1);
    assert_int_equal(bucket_take(&b, 1.0, 1.0, 5000), 0);
}

static void queue_hard_at_once_soft_after_its_time(void **state)
{
    (void)state;
    int64_t since = 0;
    assert_int_equal(queue_bound(100, 1000, &since, 1000, 500, 2000), QUEUE_OK);
    assert_int_equal(since, 0);
    assert_int_equal(queue_bound(1001, 1000, &since, 1000, 500, 2000), QUEUE_HARD);
    assert_int_equal(queue_bound(600, 1000, &since, 1000, 500, 2000), QUEUE_OK);
    assert_int_equal(since, 1000);
    assert_int_equal(queue_bound(700, 2999, &since, 1000, 500, 2000), QUEUE_OK);
    assert_int_equal(queue_bound(700, 3000, &since, 1000, 500, 2000), QUEUE_SOFT);
}

static void queue_soft_time_restarts_when_it_drops_below(void **state)
{
    (void)state;
    int64_t since = 0;
    assert_int_equal(queue_bound(600, 1000, &since, 1000, 500, 2000), QUEUE_OK);
    assert_int_equal(queue_bound(500, 2500, &since, 1000, 500, 2000), QUEUE_OK);
    assert_int_equal(since, 0);
    assert_int_equal(queue_bound(600, 2600, &since, 1000, 500, 2000), QUEUE_OK);
    assert_int_equal(queue_bound(600, 4599, &since, 1000, 500, 2000), QUEUE_OK);
    assert_int_equal(queue_bound(600, 4600, &since, 1000, 500, 2000), QUEUE_SOFT);
}

static void origins(void **state)
{
    (void)state;
    char *list[] = {"https://crm.example.com", "http://localhost:3000"};
    assert_true(origin_allowed(NULL, 0, "https://evil.example"));
    assert_true(origin_allowed(list, 2, NULL));
    assert_true(origin_allowed(list, 2, "https://CRM.example.com"));
    assert_true(origin_allowed(list, 2, "http://localhost:3000"));
    assert_false(origin_allowed(list, 2, "http://localhost:3001"));
    assert_false(origin_allowed(list, 2, "https://crm.example.com.evil.example"));
    assert_false(origin_allowed(list, 2, "null"));
    assert_false(origin_allowed(list, 2, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_starts_full_then_refuses_with_whole_seconds),
        cmocka_unit_test(bucket_refills_up_to_burst_only),
        cmocka_unit_test(bucket_ignores_a_clock_going_back),
        cmocka_unit_test(queue_hard_at_once_soft_after_its_time),
        cmocka_unit_test(queue_soft_time_restarts_when_it_drops_below),
        cmocka_unit_test(origins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
