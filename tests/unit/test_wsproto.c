/* test_wsproto.c — client frames: what is accepted and the code of each refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../broker/hub/wsproto.c"

static int parse(const char *text, ws_frame *f) { return ws_frame_parse(text, strlen(text), f); }

static void register_defaults_and_limits(void **state)
{
    (void)state;
    ws_frame f;
    assert_int_equal(parse("{\"op\":\"register\"}", &f), 0);
    assert_int_equal(f.op, WS_OP_REGISTER);
    assert_int_equal(f.limit, WS_PAGE_DEFAULT);
    assert_false(f.has_since);
    assert_int_equal(parse("{\"op\":\"register\",\"limit\":1000,\"since\":\"17-3\"}", &f), 0);
    assert_int_equal(f.limit, 1000);
    assert_true(f.has_since);
    assert_true(f.id.ms == 17 && f.id.seq == 3);
    assert_int_equal(parse("{\"op\":\"register\",\"since\":null}", &f), 0);
    assert_false(f.has_since);
    assert_int_equal(parse("{\"op\":\"register\",\"limit\":0}", &f), 3101);
    assert_int_equal(parse("{\"op\":\"register\",\"limit\":1001}", &f), 3101);
    assert_int_equal(parse("{\"op\":\"register\",\"limit\":\"5\"}", &f), 3101);
    assert_int_equal(parse("{\"op\":\"register\",\"limit\":2.5}", &f), 3101);
}

/* The largest pair parses (the stream decides whether it is past its end); more overflows. */
static void ids_checked(void **state)
{
    (void)state;
    ws_frame f;
    assert_int_equal(
        parse("{\"op\":\"ack\",\"id\":\"18446744073709551615-18446744073709551615\"}", &f), 0);
    assert_true(f.id.ms == UINT64_MAX && f.id.seq == UINT64_MAX);
    static const char *const bad[] = {
        "{\"op\":\"ack\",\"id\":\"18446744073709551616-0\"}",
        "{\"op\":\"ack\",\"id\":\"99999999999999999999-0\"}",
        "{\"op\":\"ack\",\"id\":\"abc\"}",
        "{\"op\":\"ack\",\"id\":\"1-\"}",
        "{\"op\":\"ack\",\"id\":\"-1\"}",
        "{\"op\":\"ack\",\"id\":\"1-2-3\"}",
        "{\"op\":\"ack\",\"id\":\"\"}",
        "{\"op\":\"ack\",\"id\":\"+1-2\"}",
        "{\"op\":\"ack\",\"id\":\" 1-2\"}",
        "{\"op\":\"ack\",\"id\":12}",
        "{\"op\":\"ack\"}",
        "{\"op\":\"register\",\"since\":\"1-0x\"}",
        "{\"op\":\"register\",\"since\":5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(parse(bad[i], &f), 3101);
        assert_true(strlen(f.error) > 0);
    }
}

static void malformed_and_unknown(void **state)
{
    (void)state;
    ws_frame f;
    assert_int_equal(parse("not json", &f), 3100);
    assert_int_equal(parse("[1]", &f), 3100);
    assert_int_equal(parse("{\"op\":\"ping\",\"op\":\"ack\"}", &f), 3100);
    assert_int_equal(parse("{}", &f), 3101);
    assert_int_equal(parse("{\"op\":7}", &f), 3101);
    assert_int_equal(parse("{\"op\":\"subscribe\"}", &f), 3109);
    assert_non_null(strstr(f.error, "subscribe"));
    assert_int_equal(ws_frame_parse("{\"op\":\"ping\"}\0x", 15, &f), 3100);
    assert_int_equal(parse("{\"op\":\"ping\"}", &f), 0);
    assert_int_equal(f.op, WS_OP_PING);
    assert_int_equal(parse("{\"op\":\"unregister\"}", &f), 0);
    assert_int_equal(f.op, WS_OP_UNREGISTER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_defaults_and_limits),
        cmocka_unit_test(ids_checked),
        cmocka_unit_test(malformed_and_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
