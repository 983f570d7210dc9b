/* test_feed_shard.c — the shard of a user, and one shard's subscription through the orders in
 * which its commands and their answers can come. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../broker/lib/feed_shard.c"

static void shard_matches_the_scripts_formula(void **state)
{
    (void)state;
    /* computed by hand: h = h * 131 + byte mod 2147483647 over "acme\t101", then mod 1024 */
    uint64_t h = 0;
    for (const char *p = "acme\t101"; *p; p++)
        h = (h * 131u + (unsigned char)*p) % 2147483647u;
    assert_int_equal(feed_shard("acme", "101"), h % 1024);
    assert_int_equal(feed_shard("acme", "101"), 97);
    assert_int_equal(feed_shard("", ""), 9);
    assert_true(feed_shard("acme", "101") != feed_shard("acme", "102"));
    /* bytes above 127 count as unsigned, as Lua's string.byte gives them */
    assert_true(feed_shard("\xc3\xa9", "1") < FEED_SHARDS);
}

static void shards_spread(void **state)
{
    (void)state;
    static unsigned seen[FEED_SHARDS];
    char ext[16];
    for (int i = 0; i < 100000; i++) { /* numbers, as extensions mostly are */
        snprintf(ext, sizeof ext, "%d", i);
        seen[feed_shard("acme", ext)]++;
    }
    for (unsigned i = 0; i < FEED_SHARDS; i++) /* about 98 each */
        assert_in_range(seen[i], 80, 120);
}

static void first_user_subscribes_last_unsubscribes(void **state)
{
    (void)state;
    feed_slot f = {0};
    feed_cmd then;
    assert_int_equal(feed_ref(&f, true), FEED_SUBSCRIBE);
    assert_int_equal(feed_ref(&f, true), FEED_NONE);
    assert_false(f.active);
    assert_true(feed_answered(&f, true, &then));
    assert_int_equal(then, FEED_NONE);
    assert_true(f.active);
    assert_int_equal(feed_unref(&f, true), FEED_NONE);
    assert_int_equal(feed_unref(&f, true), FEED_UNSUBSCRIBE);
    assert_false(f.active);
    assert_false(feed_answered(&f, false, &then));
    assert_int_equal(then, FEED_NONE);
    assert_int_equal(f.outstanding, 0);
}

static void back_while_unsubscribing_waits_for_the_answer(void **state)
{
    (void)state;
    feed_slot f = {0};
    feed_cmd then;
    feed_ref(&f, true);
    feed_answered(&f, true, &then);
    assert_int_equal(feed_unref(&f, true), FEED_UNSUBSCRIBE);
    assert_int_equal(feed_ref(&f, true), FEED_NONE); /* not while UNSUBSCRIBE is unanswered */
    assert_false(feed_answered(&f, false, &then));
    assert_int_equal(then, FEED_SUBSCRIBE);
    assert_false(f.active);
    assert_true(feed_answered(&f, true, &then));
    assert_true(f.active);
}

static void back_and_gone_again_while_unsubscribing(void **state)
{
    (void)state;
    feed_slot f = {0};
    feed_cmd then;
    feed_ref(&f, true);
    feed_answered(&f, true, &then);
    feed_unref(&f, true);
    feed_ref(&f, true);
    assert_int_equal(feed_unref(&f, true), FEED_NONE); /* the UNSUBSCRIBE on its way does it */
    assert_false(feed_answered(&f, false, &then));
    assert_int_equal(then, FEED_NONE);
    assert_false(f.active);
}

static void gone_before_the_subscribe_answer(void **state)
{
    (void)state;
    feed_slot f = {0};
    feed_cmd then;
    feed_ref(&f, true);
    assert_int_equal(feed_unref(&f, true), FEED_UNSUBSCRIBE);
    assert_false(feed_answered(&f, true, &then)); /* the SUBSCRIBE's answer: not active */
    assert_false(f.active);
    assert_false(feed_answered(&f, false, &then));
    assert_false(f.active);
    assert_int_equal(then, FEED_NONE);
}

static void offline_then_reconnected(void **state)
{
    (void)state;
    feed_slot f = {0}, idle = {0};
    feed_cmd then;
    assert_int_equal(feed_ref(&f, false), FEED_NONE);
    assert_true(feed_reconnect(&f));
    assert_false(feed_reconnect(&idle));
    assert_true(feed_answered(&f, true, &then));
    feed_lost(&f);
    assert_false(f.active);
    assert_int_equal(f.refs, 1);
    assert_false(feed_answered(&f, true, &then)); /* an answer from before: ignored */
    assert_int_equal(feed_unref(&f, false), FEED_NONE);
    assert_int_equal(f.refs, 0);
    assert_int_equal(feed_unref(&f, true), FEED_NONE); /* below zero stays zero */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shard_matches_the_scripts_formula),
        cmocka_unit_test(shards_spread),
        cmocka_unit_test(first_user_subscribes_last_unsubscribes),
        cmocka_unit_test(back_while_unsubscribing_waits_for_the_answer),
        cmocka_unit_test(back_and_gone_again_while_unsubscribing),
        cmocka_unit_test(gone_before_the_subscribe_answer),
        cmocka_unit_test(offline_then_reconnected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
