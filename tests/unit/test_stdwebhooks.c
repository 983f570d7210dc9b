/* test_stdwebhooks.c — Standard Webhooks signatures against an independent HMAC and the
 * specification's published vector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/stdwebhooks.c"

/* The vector published with the Standard Webhooks / Svix reference libraries. */
#define VEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TS 1614265330
#define VEC_BODY "{\"test\": 2432232314}"
#define VEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* 32 bytes 0x00..0x1f, base64 with its '=' padding. */
#define KEY32_SECRET "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static enum stdwh_status check(const char *secret, const char *sigs, int64_t now)
{
    return stdwh_verify(secret, VEC_ID, "1614265330", sigs, VEC_BODY, strlen(VEC_BODY), now);
}

/* "v1," + base64(HMAC-SHA256(key, id.ts.body)) computed here, not by the module. */
static void expected_sig(const unsigned char *key, size_t klen, const char *content, char *out)
{
    unsigned char mac[32];
    unsigned int mlen = 0;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)content, strlen(content), mac, &mlen);
    assert_int_equal(mlen, 32);
    strcpy(out, "v1,");
    EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
}

static void published_vector(void **state)
{
    (void)state;
    char sig[128];
    assert_int_equal(
        stdwh_sign(VEC_SECRET, VEC_ID, VEC_TS, VEC_BODY, strlen(VEC_BODY), sig, sizeof sig), 0);
    assert_string_equal(sig, VEC_SIG);
    assert_int_equal(check(VEC_SECRET, VEC_SIG, VEC_TS), STDWH_OK);
}

static void padded_key_matches_independent_hmac(void **state)
{
    (void)state;
    unsigned char key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i;
    char want[128], got[128];
    expected_sig(key, sizeof key, "msg_1.1700000000.{\"a\":1}", want);
    assert_int_equal(stdwh_sign(KEY32_SECRET, "msg_1", 1700000000, "{\"a\":1}", 7, got, sizeof got),
                     0);
    assert_string_equal(got, want);
    assert_int_equal(
        stdwh_verify(KEY32_SECRET, "msg_1", "1700000000", want, "{\"a\":1}", 7, 1700000000),
        STDWH_OK);
    /* the same key written without its padding */
    assert_int_equal(stdwh_verify("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "msg_1",
                                  "1700000000", want, "{\"a\":1}", 7, 1700000000),
                     STDWH_OK);
}

static void several_signatures(void **state)
{
    (void)state;
    assert_int_equal(check(VEC_SECRET, "v1,Zm9vYmFy " VEC_SIG, VEC_TS), STDWH_OK);
    assert_int_equal(check(VEC_SECRET, VEC_SIG " v1,Zm9vYmFy", VEC_TS), STDWH_OK);
    assert_int_equal(check(VEC_SECRET, "v1a,xx  " VEC_SIG "  ", VEC_TS), STDWH_OK);
    /* the right bytes under another version tag do not count */
    assert_int_equal(check(VEC_SECRET, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", VEC_TS),
                     STDWH_MISMATCH);
    assert_int_equal(check(VEC_SECRET, "v1,Zm9vYmFy v1,", VEC_TS), STDWH_MISMATCH);
    assert_int_equal(check(VEC_SECRET, "", VEC_TS), STDWH_MISMATCH);
}

static void tampered_content(void **state)
{
    (void)state;
    const char *body = "{\"test\": 2432232315}";
    assert_int_equal(
        stdwh_verify(VEC_SECRET, VEC_ID, "1614265330", VEC_SIG, body, strlen(body), VEC_TS),
        STDWH_MISMATCH);
    assert_int_equal(stdwh_verify(VEC_SECRET, "msg_other", "1614265330", VEC_SIG, VEC_BODY,
                                  strlen(VEC_BODY), VEC_TS),
                     STDWH_MISMATCH);
    assert_int_equal(
        stdwh_verify(VEC_SECRET, VEC_ID, "1614265331", VEC_SIG, VEC_BODY, strlen(VEC_BODY), VEC_TS),
        STDWH_MISMATCH);
    assert_int_equal(check("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", VEC_SIG, VEC_TS),
                     STDWH_MISMATCH);
    /* the signature with its last byte changed */
    assert_int_equal(check(VEC_SECRET, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", VEC_TS),
                     STDWH_MISMATCH);
}

static void tolerance_both_directions(void **state)
{
    (void)state;
    assert_int_equal(check(VEC_SECRET, VEC_SIG, VEC_TS + 300), STDWH_OK);
    assert_int_equal(check(VEC_SECRET, VEC_SIG, VEC_TS - 300), STDWH_OK);
    assert_int_equal(check(VEC_SECRET, VEC_SIG, VEC_TS + 301), STDWH_STALE);
    assert_int_equal(check(VEC_SECRET, VEC_SIG, VEC_TS - 301), STDWH_STALE);
}

static void bad_timestamp(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "abc", "16142653.0", "-1614265330", " 1614265330", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(
            stdwh_verify(VEC_SECRET, VEC_ID, bad[i], VEC_SIG, VEC_BODY, strlen(VEC_BODY), VEC_TS),
            STDWH_BAD_TIMESTAMP);
}

static void bad_secret(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_",
        "whsec_not base64",
        "whsec_abc$",
        "whsec_A",
        "whsec_AA=A",
        "whsec_AAA==",
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(check(bad[i], VEC_SIG, VEC_TS), STDWH_BAD_SECRET);
    assert_int_equal(check(NULL, VEC_SIG, VEC_TS), STDWH_BAD_SECRET);
    char out[128];
    assert_int_equal(stdwh_sign("whsec_", "id", 1, "", 0, out, sizeof out), -1);
    assert_int_equal(stdwh_sign(VEC_SECRET, "id", 1, "", 0, out, 10), -1);
}

static void missing_headers(void **state)
{
    (void)state;
    const char *b = VEC_BODY;
    assert_int_equal(stdwh_verify(VEC_SECRET, NULL, "1614265330", VEC_SIG, b, strlen(b), VEC_TS),
                     STDWH_MISSING);
    assert_int_equal(stdwh_verify(VEC_SECRET, VEC_ID, NULL, VEC_SIG, b, strlen(b), VEC_TS),
                     STDWH_MISSING);
    assert_int_equal(stdwh_verify(VEC_SECRET, VEC_ID, "1614265330", NULL, b, strlen(b), VEC_TS),
                     STDWH_MISSING);
    assert_string_equal(stdwh_status_text(STDWH_OK), "ok");
    assert_non_null(strstr(stdwh_status_text(STDWH_STALE), "5 minutes"));
}

static void empty_body(void **state)
{
    (void)state;
    char sig[128];
    assert_int_equal(stdwh_sign(VEC_SECRET, "m", 100, NULL, 0, sig, sizeof sig), 0);
    assert_int_equal(stdwh_verify(VEC_SECRET, "m", "100", sig, NULL, 0, 100), STDWH_OK);
    assert_int_equal(stdwh_verify(VEC_SECRET, "m", "100", sig, "x", 1, 100), STDWH_MISMATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(published_vector),
        cmocka_unit_test(padded_key_matches_independent_hmac),
        cmocka_unit_test(several_signatures),
        cmocka_unit_test(tampered_content),
        cmocka_unit_test(tolerance_both_directions),
        cmocka_unit_test(bad_timestamp),
        cmocka_unit_test(bad_secret),
        cmocka_unit_test(missing_headers),
        cmocka_unit_test(empty_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
