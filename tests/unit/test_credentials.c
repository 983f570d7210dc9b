/* test_credentials.c — where a PBX can put the integration token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../broker/lib/credentials.c"

static void expect_header(const char *auth, const char *want)
{
    char buf[64];
    const char *t = credentials_from_header(auth, buf, sizeof buf);
    if (!want)
        assert_null(t);
    else
        assert_string_equal(t, want);
}

static void expect_query(const char *query, const char *want)
{
    char buf[64];
    const char *t = credentials_from_query(query, buf, sizeof buf);
    if (!want)
        assert_null(t);
    else
        assert_string_equal(t, want);
}

static void bearer_and_basic(void **state)
{
    (void)state;
    expect_header("Bearer crt_abc", "crt_abc");
    expect_header("bearer crt_abc", "crt_abc");
    expect_header("Bearer ", NULL);
    /* freeswitch:crt_test_freeswitch_integration_token */
    expect_header("Basic ZnJlZXN3aXRjaDpjcnRfdGVzdF9mcmVlc3dpdGNoX2ludGVncmF0aW9uX3Rva2Vu",
                  "crt_test_freeswitch_integration_token");
    expect_header("Basic OmFiYw==", "abc");    /* ":abc": no user name */
    expect_header("Basic dXNlcjo=", NULL);     /* "user:": no password */
    expect_header("Basic dXNlcg==", NULL);     /* "user": no colon */
    expect_header("Basic !!!!", NULL);         /* not base64 */
    expect_header("Basic dXNlcjphYmM", NULL);  /* unpadded */
    expect_header("Basic dQB4OmFiYw==", NULL); /* "u\0x:abc": a NUL inside */
    expect_header("Digest x", NULL);
    expect_header(NULL, NULL);
    char big[600];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "Bearer ", 7);
    expect_header(big, NULL); /* longer than the buffer: refused, not cut */
}

static void query_token(void **state)
{
    (void)state;
    expect_query("token=abc", "abc");
    expect_query("a=1&token=abc&b=2", "abc");
    expect_query("token=abc?uuid=e5f0", "abc"); /* FreeSWITCH appends ?uuid= */
    expect_query("token=a%2Bb", "a+b");
    expect_query("token=a+b", "a b");
    expect_query("token=", NULL);
    expect_query("token=%zz", NULL);
    expect_query("token=%00", NULL);
    expect_query("xtoken=abc", NULL);
    expect_query("", NULL);
    expect_query(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bearer_and_basic),
        cmocka_unit_test(query_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
