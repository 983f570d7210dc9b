/* test_held.c — held events: order kept, pruned by id, dropped and marked lost past HELD_MAX,
 * and every frame reference given back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/hub/held.c"

static frame *ev(void)
{
    frame *f = frame_event("1-0", "{\"a\":1}", 7);
    assert_non_null(f);
    return f;
}

static void add_prune_keep_order(void **state)
{
    (void)state;
    held_list h = {0};
    frame *f = ev();
    for (uint64_t i = 1; i <= 10; i++)
        held_add(&h, (streamid){100, i}, f);
    assert_int_equal(f->refs, 11);
    held_prune(&h, (streamid){100, 4});
    assert_int_equal(h.n, 6);
    for (unsigned i = 0; i < h.n; i++)
        assert_true(h.id[i].seq == 5 + i);
    assert_int_equal(f->refs, 7);
    held_prune(&h, (streamid){99, 999});
    assert_int_equal(h.n, 6);
    held_free(&h);
    assert_int_equal(f->refs, 1);
    frame_unref(f);
}

static void overflow_drops_all_and_marks_lost(void **state)
{
    (void)state;
    held_list h = {0};
    frame *f = ev();
    for (uint64_t i = 0; i < HELD_MAX; i++)
        held_add(&h, (streamid){1, i}, f);
    assert_false(h.lost);
    assert_int_equal(h.n, HELD_MAX);
    held_add(&h, (streamid){2, 0}, f);
    assert_true(h.lost);
    assert_int_equal(h.n, 0);
    assert_int_equal(f->refs, 1);
    held_add(&h, (streamid){3, 0}, f); /* lost stays lost until its holder read the stream */
    assert_int_equal(h.n, 0);
    held_free(&h);
    frame_unref(f);
}

static void event_frame_text(void **state)
{
    (void)state;
    frame *f = frame_event("17-3", "{\"kind\":\"call\"}", 15);
    assert_non_null(f);
    assert_int_equal(f->n_events, 1);
    assert_memory_equal(frame_text(f),
                        "{\"op\":\"event\",\"event\":{\"id\":\"17-3\",\"kind\":\"call\"}}", f->len);
    frame_unref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_prune_keep_order),
        cmocka_unit_test(overflow_drops_all_and_marks_lost),
        cmocka_unit_test(event_frame_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
