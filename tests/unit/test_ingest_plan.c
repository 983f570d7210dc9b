/* test_ingest_plan.c — the work one webhook may ask for, and where a batch is cut into calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../broker/ingest_plan.c"

/* n events, each for `users` users (as "users"; one user as "user"), with `pad` bytes of raw. */
static json_t *events(size_t n, size_t users, size_t pad)
{
    json_t *a = json_array();
    char *raw = calloc(1, pad + 1);
    memset(raw, 'x', pad);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_pack("{s:s,s:s,s:s}", "kind", "call", "call_id", "c", "raw", raw);
        if (users == 1) {
            json_object_set_new(ev, "user", json_string("101"));
        } else {
            json_t *u = json_array();
            for (size_t k = 0; k < users; k++)
                json_array_append_new(u, json_sprintf("u%zu", k));
            json_object_set_new(ev, "users", u);
        }
        json_array_append_new(a, ev);
    }
    free(raw);
    return a;
}

static void deliveries_are_events_times_users(void **state)
{
    (void)state;
    ingest_cost c;
    json_t *a = events(100, 100, 0);
    assert_int_equal(ingest_plan_check(a, 80000, 10000, &c), INGEST_FITS);
    assert_int_equal(c.deliveries, 10000);
    assert_int_equal(ingest_plan_check(a, 80000, 9999, &c), INGEST_TOO_MANY_DELIVERIES);
    assert_int_equal(c.deliveries, 10000);
    json_decref(a);
    a = events(3, 1, 0);
    assert_int_equal(ingest_plan_check(a, 300, 3, &c), INGEST_FITS);
    assert_int_equal(c.deliveries, 3);
    assert_int_equal(c.bytes, 0); /* small: not serialized */
    json_decref(a);
}

/* A target is resolved by the script: it counts as one delivery. */
static void a_target_counts_as_one_delivery(void **state)
{
    (void)state;
    ingest_cost c;
    json_t *a = json_array();
    json_array_append_new(a, json_pack("{s:s,s:s}", "kind", "ivr", "target", "one_online"));
    json_array_append_new(a, json_pack("{s:s,s:s}", "kind", "call", "target", "call_parties"));
    json_array_append_new(a, json_pack("{s:s,s:[s,s]}", "kind", "call", "users", "1", "2"));
    assert_int_equal(ingest_plan_check(a, 1000, 4, &c), INGEST_FITS);
    assert_int_equal(c.deliveries, 4);
    assert_int_equal(ingest_plan_check(a, 1000, 3, &c), INGEST_TOO_MANY_DELIVERIES);
    json_decref(a);
}

static void bytes_are_users_times_event_size(void **state)
{
    (void)state;
    ingest_cost c;
    json_t *a = events(1, 100, 200000); /* about 20 MB stored from a 200 KB body */
    assert_int_equal(ingest_plan_check(a, 200500, 10000, &c), INGEST_TOO_MANY_BYTES);
    assert_true(c.bytes > INGEST_REQUEST_MAX_BYTES);
    json_decref(a);
    a = events(1, 50, 200000); /* about 10 MB: allowed */
    assert_int_equal(ingest_plan_check(a, 200500, 10000, &c), INGEST_FITS);
    assert_true(c.bytes > 50 * 200000 && c.bytes < INGEST_REQUEST_MAX_BYTES);
    json_decref(a);
}

static void calls_are_cut_between_events(void **state)
{
    (void)state;
    /* an empty call takes anything, even an event larger than a call */
    assert_true(ingest_plan_fits(0, 0, 0, 5000, 50u << 20));
    assert_true(ingest_plan_fits(4, 400, 1000, 100, 1000));
    assert_false(ingest_plan_fits(5, 500, 1000, 1, 10));
    assert_true(ingest_plan_fits(1, 1, INGEST_CALL_MAX_BYTES - 10, 1, 10));
    assert_false(ingest_plan_fits(1, 1, INGEST_CALL_MAX_BYTES - 10, 1, 11));
    /* 100 events of 100 users: 20 calls of 5 events */
    unsigned calls = 0, have = 0, appends = 0;
    for (int e = 0; e < 100; e++) {
        if (!ingest_plan_fits(have, appends, 0, 100, 100)) {
            assert_true(appends <= INGEST_CALL_MAX_APPENDS);
            calls++;
            have = appends = 0;
        }
        have++;
        appends += 100;
    }
    assert_int_equal(calls + 1, 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deliveries_are_events_times_users),
        cmocka_unit_test(a_target_counts_as_one_delivery),
        cmocka_unit_test(bytes_are_users_times_event_size),
        cmocka_unit_test(calls_are_cut_between_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
