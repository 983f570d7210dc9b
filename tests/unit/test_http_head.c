/* test_http_head.c — request-head checks, Content-Length, hook paths, head authentication. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../broker/net/http_head.c"

static enum http_head_verdict scan(const char *s, http_head *h)
{
    return http_head_scan(s, strlen(s), h);
}

static void complete_heads(void **state)
{
    (void)state;
    http_head h;
    const char *get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nNEXT";
    assert_int_equal(scan(get, &h), HEAD_OK);
    assert_int_equal(h.head_len, strlen(get) - 4);
    assert_false(h.has_length);
    assert_int_equal(
        scan("POST /v1/x HTTP/1.1\r\nContent-Length: 12\r\nExpect: 100-Continue\r\n\r\n", &h),
        HEAD_OK);
    assert_true(h.has_length);
    assert_int_equal(h.content_length, 12);
    assert_true(h.expect_continue);
    assert_int_equal(scan("GET / HTTP/1.0\n\n", &h), HEAD_OK);
}

static void incomplete_heads(void **state)
{
    (void)state;
    http_head h;
    assert_int_equal(scan("", &h), HEAD_MORE);
    assert_int_equal(scan("GET /heal", &h), HEAD_MORE);
    assert_int_equal(scan("GET / HTTP/1.1\r\nHost: x\r\n", &h), HEAD_MORE);
}

static void expect_bad(const char *s, int status)
{
    http_head h;
    assert_int_equal(http_head_scan(s, strlen(s), &h), HEAD_BAD);
    assert_int_equal(h.status, status);
    assert_non_null(h.message);
}

static void refused_heads(void **state)
{
    (void)state;
    expect_bad("GET /a%00b HTTP/1.1\r\n\r\n", 400);
    expect_bad("GET /a%zz HTTP/1.1\r\n\r\n", 400);
    expect_bad("GET /a% HTTP/1.1\r\n\r\n", 400);
    expect_bad("GET a HTTP/1.1\r\n\r\n", 400);
    expect_bad("get / HTTP/1.1\r\n\r\n", 400);
    expect_bad("GET / HTTP/2.0\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1\r\nno colon\r\n\r\n", 400);
    expect_bad("GET / HTTP/1.1\r\nA: 1\x01\r\n\r\n", 400);
    expect_bad("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
    expect_bad("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400);
    expect_bad("GET /?a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p&q&r&s&t&u&v&w&x&y HTTP/1.1\r\n\r\n", 400);
}

static void limits(void **state)
{
    (void)state;
    static char buf[HTTP_HEAD_MAX * 2];
    int n = snprintf(buf, sizeof buf, "GET /");
    memset(buf + n, 'a', HTTP_URL_MAX + 1);
    buf[n + HTTP_URL_MAX + 1] = 0;
    expect_bad(buf, 414); /* incomplete, but already too long */
    strcat(buf, " HTTP/1.1\r\n\r\n");
    expect_bad(buf, 414);
    n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_HEADERS_MAX; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "X-%d: v\r\n", i);
    snprintf(buf + n, sizeof buf - (size_t)n, "\r\n");
    expect_bad(buf, 431);
    n = snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nX: ");
    memset(buf + n, 'a', HTTP_HEAD_MAX);
    buf[n + HTTP_HEAD_MAX] = 0;
    expect_bad(buf, 431);
    n = snprintf(buf, sizeof buf, "POST / HTTP/1.1\r\nwebhook-signature: ");
    memset(buf + n, 'a', HTTP_SIGNATURE_MAX + 1);
    strcpy(buf + n + HTTP_SIGNATURE_MAX + 1, "\r\n\r\n");
    expect_bad(buf, 431);
    buf[n + HTTP_SIGNATURE_MAX] = 0; /* at the limit: accepted */
    strcat(buf, "\r\n\r\n");
    http_head h;
    assert_int_equal(scan(buf, &h), HEAD_OK);
}

static void content_length(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(http_content_length_parse("0", 1, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(http_content_length_parse("1048576", 7, &v), 0);
    assert_int_equal(v, 1048576);
    assert_int_equal(http_content_length_parse("", 0, &v), -1);
    assert_int_equal(http_content_length_parse("+1", 2, &v), -1);
    assert_int_equal(http_content_length_parse("1 ", 2, &v), -1);
    assert_int_equal(http_content_length_parse("99999999999999999999", 20, &v), -1);
}

static void hook_paths(void **state)
{
    (void)state;
    char i[NAME_MAX_LEN + 1], a[NAME_MAX_LEN + 1];
    const char *sub;
    assert_true(http_hook_path("/v1/hooks/acme/native", i, a, &sub));
    assert_string_equal(i, "acme");
    assert_string_equal(a, "native");
    assert_string_equal(sub, "");
    assert_true(http_hook_path("/v1/hooks/acme/mango/events/call", i, a, &sub));
    assert_string_equal(a, "mango");
    assert_string_equal(sub, "/events/call");
    assert_false(http_hook_path("/v1/hooks/acme", i, a, &sub));
    assert_false(http_hook_path("/v1/hooks//native", i, a, &sub));
    assert_false(http_hook_path("/v1/hooks/acme/", i, a, &sub));
    assert_false(http_hook_path("/v1/users", i, a, &sub));
}

static void hook_head_decisions(void **state)
{
    (void)state;
    head_refusal why;
    hook_head ok = {.integration_known = true,
                    .adapter_matches = true,
                    .source_allowed = true,
                    .signs = true,
                    .id = "m",
                    .timestamp = "1000",
                    .signature = "v1,x",
                    .now = 1000};
    assert_true(http_hook_head_ok(&ok, &why));
    hook_head h = ok;
    h.adapter_matches = false;
    assert_false(http_hook_head_ok(&h, &why));
    assert_int_equal(why.status, 404);
    h = ok;
    h.source_allowed = false;
    assert_false(http_hook_head_ok(&h, &why));
    assert_int_equal(why.status, 403);
    h = ok;
    h.token_given = true;
    assert_false(http_hook_head_ok(&h, &why));
    assert_int_equal(why.code, 3103);
    h.token_valid = true;
    assert_true(http_hook_head_ok(&h, &why));
    h = ok;
    h.signature = NULL;
    assert_false(http_hook_head_ok(&h, &why));
    assert_int_equal(why.code, 3103);
    h = ok;
    h.timestamp = "1301";
    assert_false(http_hook_head_ok(&h, &why));
    assert_int_equal(why.code, 3102);
    h.timestamp = "12x";
    assert_false(http_hook_head_ok(&h, &why));
    h = ok;
    h.signs = false;
    h.id = h.timestamp = h.signature = NULL;
    assert_true(http_hook_head_ok(&h, &why)); /* its body decides */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(complete_heads),      cmocka_unit_test(incomplete_heads),
        cmocka_unit_test(refused_heads),       cmocka_unit_test(limits),
        cmocka_unit_test(content_length),      cmocka_unit_test(hook_paths),
        cmocka_unit_test(hook_head_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
