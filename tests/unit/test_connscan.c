/* test_connscan.c — a connection's bytes in any split: heads checked, bodies skipped,
 * keep-alive requests one after another, the upgrade handing over to frame heads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../broker/net/connscan.c"

/* Feeds s in pieces of step bytes; returns false at the first refusal. */
static bool feed(connscan *c, const char *s, size_t len, size_t step, http_head *why)
{
    for (size_t i = 0; i < len; i += step)
        if (!connscan_feed(c, s + i, i + step > len ? len - i : step, why))
            return false;
    return true;
}

static const size_t steps[] = {1, 2, 5, 17, 100, 100000};

static void keepalive_requests_with_bodies_pass(void **state)
{
    (void)state;
    const char s[] = "POST /v1/hooks/acme/native HTTP/1.1\r\nContent-Length: 16\r\n\r\n"
                     "GET / HTTP/1.1\r\n" /* a body that looks like a head is still a body */
                     "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                     "POST /v1/users HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        connscan c = {0};
        http_head why;
        assert_true(feed(&c, s, sizeof s - 1, steps[k], &why));
        assert_int_equal(c.mode, CONNSCAN_HTTP);
        assert_null(c.head);
        assert_true(c.body_left == 0);
    }
}

static void bad_later_head_refused_in_any_split(void **state)
{
    (void)state;
    char s[12000];
    int n = snprintf(s, sizeof s, "GET /healthz HTTP/1.1\r\n\r\nGET /%%00 HTTP/1.1\r\n\r\n");
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        connscan c = {0};
        http_head why;
        assert_false(feed(&c, s, (size_t)n, steps[k], &why));
        assert_int_equal(why.status, 400);
        assert_int_equal(c.mode, CONNSCAN_OFF);
        assert_null(c.head);
    }
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', 9000);
    memcpy(s + 9005, " HTTP/1.1\r\n\r\n", 13);
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        connscan c = {0};
        http_head why;
        assert_false(feed(&c, s, 9018, steps[k], &why));
        assert_int_equal(why.status, 414);
    }
}

static void head_too_large_refused(void **state)
{
    (void)state;
    static char s[HTTP_HEAD_MAX + 200];
    size_t n = (size_t)snprintf(s, sizeof s, "GET / HTTP/1.1\r\n");
    while (n + 40 < sizeof s)
        n += (size_t)snprintf(s + n, sizeof s - n, "x-pad: %030d\r\n", 7);
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        connscan c = {0};
        http_head why;
        assert_false(feed(&c, s, n, steps[k], &why));
        assert_int_equal(why.status, 431);
    }
}

static void upgrade_hands_over_to_frames(void **state)
{
    (void)state;
    const char masked[] = "GET /v1/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                          "\x81\x82\x01\x02\x03\x04zz"
                          "\x81\x82\x01\x02\x03\x04zz";
    const char unmasked[] = "GET /v1/ws HTTP/1.1\r\nUpgrade: WebSocket\r\n\r\n"
                            "\x81\x82\x01\x02\x03\x04zz"
                            "\x81\x02zz";
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        connscan c = {0};
        http_head why;
        assert_true(feed(&c, masked, sizeof masked - 1, steps[k], &why));
        assert_int_equal(c.mode, CONNSCAN_WS);
        assert_false(c.ws.unmasked);
        connscan d = {0};
        assert_true(feed(&d, unmasked, sizeof unmasked - 1, steps[k], &why));
        assert_true(d.ws.unmasked);
    }
}

static void chunked_stops_the_scan(void **state)
{
    (void)state;
    const char s[] = "POST /v1/hooks/acme/native HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\n";
    connscan c = {0};
    http_head why;
    assert_true(feed(&c, s, sizeof s - 1, 3, &why));
    assert_int_equal(c.mode, CONNSCAN_OFF);
}

static void partial_head_memory_given_back(void **state)
{
    (void)state;
    connscan c = {0};
    http_head why;
    assert_true(connscan_feed(&c, "GET /health", 11, &why));
    assert_non_null(c.head);
    connscan_reset(&c);
    assert_null(c.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keepalive_requests_with_bodies_pass),
        cmocka_unit_test(bad_later_head_refused_in_any_split),
        cmocka_unit_test(head_too_large_refused),
        cmocka_unit_test(upgrade_hands_over_to_frames),
        cmocka_unit_test(chunked_stops_the_scan),
        cmocka_unit_test(partial_head_memory_given_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
