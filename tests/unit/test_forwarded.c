/* test_forwarded.c — X-Forwarded-For believed only from trusted proxies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../broker/lib/forwarded.c"

static char *trusted[] = {"127.0.0.1/32", "10.0.0.0/8", "fd00::/8"};

static void expect_client(const char *peer, const char *xff, size_t n, const char *want)
{
    char buf[64];
    assert_string_equal(forwarded_client(peer, xff, trusted, n, buf, sizeof buf), want);
}

static void untrusted_peer_is_the_client(void **state)
{
    (void)state;
    expect_client("198.51.100.9", "203.0.113.7", 3, "198.51.100.9");
    expect_client("127.0.0.1", "203.0.113.7", 0, "127.0.0.1"); /* no proxies configured */
    expect_client("127.0.0.1", NULL, 3, "127.0.0.1");
    expect_client("127.0.0.1", "", 3, "127.0.0.1");
}

static void first_untrusted_from_the_right(void **state)
{
    (void)state;
    expect_client("127.0.0.1", "203.0.113.7", 3, "203.0.113.7");
    /* a client may put anything on the left: only what trusted proxies added counts */
    expect_client("127.0.0.1", "192.0.2.1, 203.0.113.7, 10.1.2.3", 3, "203.0.113.7");
    expect_client("127.0.0.1", " 203.0.113.7 ,10.1.2.3", 3, "203.0.113.7");
    expect_client("127.0.0.1", "2001:db8::1, fd00::5", 3, "2001:db8::1");
    expect_client("127.0.0.1", "10.9.9.9, 10.1.2.3", 3, "10.9.9.9"); /* all trusted: leftmost */
}

static void garbage_matches_nothing(void **state)
{
    (void)state;
    expect_client("127.0.0.1", "203.0.113.7, not-an-ip", 3, "not-an-ip");
    expect_client("127.0.0.1", "203.0.113.7, ", 3, "unknown");
    expect_client("127.0.0.1", "10.0.0.0/8", 3, "10.0.0.0/8");
    expect_client("127.0.0.1", ",,,", 3, "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(untrusted_peer_is_the_client),
        cmocka_unit_test(first_untrusted_from_the_right),
        cmocka_unit_test(garbage_matches_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
