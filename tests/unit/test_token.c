/* test_token.c — token generation, hashing, comparison and the base64url helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/lib/token.c"

static void generate_is_43_base64url_chars(void **state)
{
    (void)state;
    char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
    assert_int_equal(token_generate(a), 0);
    assert_int_equal(token_generate(b), 0);
    assert_int_equal(strlen(a), TOKEN_LEN);
    for (size_t i = 0; i < TOKEN_LEN; i++)
        assert_true(b64url_char_ok(a[i]));
    assert_string_not_equal(a, b);
    unsigned char raw[64];
    assert_int_equal(token_b64url_decode(a, TOKEN_LEN, raw, sizeof raw), 32);
}

static void hash_known_vectors(void **state)
{
    (void)state;
    char h[TOKEN_HASH_LEN + 1];
    token_hash("", h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    token_hash("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void equal_compares_whole_strings(void **state)
{
    (void)state;
    assert_true(token_equal("secret", "secret"));
    assert_false(token_equal("secret", "secreT"));
    assert_false(token_equal("secret", "secret2"));
    assert_false(token_equal("", "x"));
    assert_true(token_equal("", ""));
}

static void b64url_round_trip(void **state)
{
    (void)state;
    const unsigned char in[] = {0xfb, 0xff, 0xbf, 0x00, 0x01};
    char enc[16];
    unsigned char dec[16];
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t len = token_b64url_encode(in, n, enc);
        assert_int_equal(len, (n * 4 + 2) / 3);
        assert_null(strpbrk(enc, "+/="));
        assert_int_equal(token_b64url_decode(enc, len, dec, sizeof dec), (int)n);
        assert_memory_equal(dec, in, n);
    }
    assert_int_equal(token_b64url_encode(in, 3, enc), 4);
    assert_string_equal(enc, "-_-_");
}

static void b64url_decode_refuses(void **state)
{
    (void)state;
    unsigned char out[8];
    assert_int_equal(token_b64url_decode("abcde", 5, out, sizeof out), -1); /* 4n+1 */
    assert_int_equal(token_b64url_decode("ab+d", 4, out, sizeof out), -1);  /* not url alphabet */
    assert_int_equal(token_b64url_decode("ab==", 4, out, sizeof out), -1);  /* padding */
    assert_int_equal(token_b64url_decode(" abc", 4, out, sizeof out), -1);  /* whitespace */
    assert_int_equal(token_b64url_decode("AAAAAAAAAAAA", 12, out, 8), -1);  /* too long */
    assert_int_equal(token_b64url_decode("", 0, out, sizeof out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generate_is_43_base64url_chars), cmocka_unit_test(hash_known_vectors),
        cmocka_unit_test(equal_compares_whole_strings),   cmocka_unit_test(b64url_round_trip),
        cmocka_unit_test(b64url_decode_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
