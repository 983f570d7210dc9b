/* test_redact.c — tickets, tokens and URL passwords never reach a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../broker/lib/redact.c"

static void check(const char *in, const char *want)
{
    char buf[512];
    strcpy(buf, in);
    redact_secrets(buf);
    assert_string_equal(buf, want);
}

static void query_secrets(void **state)
{
    (void)state;
    check("GET /v1/ws?ticket=eyJhbGciOi.abc HTTP/1.1", "GET /v1/ws?ticket=*** HTTP/1.1");
    check("/v1/ws?ticket=abcdef", "/v1/ws?ticket=***");
    check("/v1/ws?token=SECRET123&extension=101", "/v1/ws?token=***&extension=101");
    check("/x?a=1&TOKEN=SECRETX&ticket=T0P\"", "/x?a=1&TOKEN=***&ticket=***\"");
    check("/v1/hooks/acme/native?token=", "/v1/hooks/acme/native?token=");
    check("token=ab", "token=**");
    check("nothing to hide here", "nothing to hide here");
}

static void headers_and_urls(void **state)
{
    (void)state;
    check("Authorization: Bearer abc.def-ghi\r\n", "Authorization: Bearer ***\r\n");
    check("redis://:s3cret-pw@10.0.0.1:6379/0", "redis://:***@10.0.0.1:6379/0");
    check("redis://user:pw12345@host/0 and http://a@b/c",
          "redis://user:***@host/0 and http://a@b/c");
    check("unix:///var/run/redis.sock", "unix:///var/run/redis.sock");
    check("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_secrets),
        cmocka_unit_test(headers_and_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
