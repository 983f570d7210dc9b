/* test_ticket.c — signing, verifying, tampering, expiry and garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/hub/ticket.c"

static const unsigned char secret[] = "0123456789abcdef-shared-secret";
#define SECRET_LEN (sizeof secret - 1)
#define NOW 1800000000

static enum ticket_status verify(const char *t, int64_t now, char *integ, char *ext)
{
    return ticket_verify(secret, SECRET_LEN, t, now, integ, ext, NULL);
}

static void sign_then_verify(void **state)
{
    (void)state;
    char t[TICKET_MAX_LEN], integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
    assert_int_equal(ticket_sign(secret, SECRET_LEN, "acme", "101", NOW + 60, t, sizeof t), 0);
    assert_null(strpbrk(t, "+/= \n"));
    assert_int_equal(verify(t, NOW, integ, ext), TICKET_OK);
    assert_string_equal(integ, "acme");
    assert_string_equal(ext, "101");
    /* the payload is what the header says */
    const char *dot = strchr(t, '.');
    unsigned char payload[128];
    int n = token_b64url_decode(t, (size_t)(dot - t), payload, sizeof payload);
    const char head[] = "v2\nacme\n101\n1800000060\n";
    assert_int_equal(n, (int)strlen(head) + 16); /* then the nonce */
    assert_memory_equal(payload, head, strlen(head));
    assert_int_equal(strlen(dot + 1), TICKET_SIG_B64_LEN);
    int64_t expires = 0;
    assert_int_equal(ticket_verify(secret, SECRET_LEN, t, NOW, integ, ext, &expires), TICKET_OK);
    assert_int_equal(expires, NOW + 60);
}

/* Two tickets for the same user and second differ, so each can be used once. */
static void tickets_are_unique(void **state)
{
    (void)state;
    char a[TICKET_MAX_LEN], b[TICKET_MAX_LEN];
    assert_int_equal(ticket_sign(secret, SECRET_LEN, "acme", "101", NOW + 60, a, sizeof a), 0);
    assert_int_equal(ticket_sign(secret, SECRET_LEN, "acme", "101", NOW + 60, b, sizeof b), 0);
    assert_string_not_equal(a, b);
    assert_string_not_equal(strchr(a, '.'), strchr(b, '.'));
}

static void expiry_boundary(void **state)
{
    (void)state;
    char t[TICKET_MAX_LEN], integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
    assert_int_equal(ticket_sign(secret, SECRET_LEN, "acme", "101", NOW, t, sizeof t), 0);
    assert_int_equal(verify(t, NOW, integ, ext), TICKET_OK);
    assert_int_equal(verify(t, NOW + 1, integ, ext), TICKET_EXPIRED);
    assert_int_equal(verify(t, NOW + 3600, integ, ext), TICKET_EXPIRED);
}

static void other_secret_refused(void **state)
{
    (void)state;
    char t[TICKET_MAX_LEN], integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
    const unsigned char other[] = "another-secret-of-some-length";
    assert_int_equal(ticket_sign(other, sizeof other - 1, "acme", "101", NOW + 60, t, sizeof t), 0);
    assert_int_equal(verify(t, NOW, integ, ext), TICKET_BAD_SIGNATURE);
}

static void tampering_refused(void **state)
{
    (void)state;
    char t[TICKET_MAX_LEN], integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
    assert_int_equal(ticket_sign(secret, SECRET_LEN, "acme", "101", NOW + 60, t, sizeof t), 0);
    size_t len = strlen(t);
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '.')
            continue;
        char copy[TICKET_MAX_LEN];
        memcpy(copy, t, len + 1);
        copy[i] = copy[i] == 'A' ? 'B' : 'A';
        enum ticket_status st = verify(copy, NOW, integ, ext);
        assert_true(st == TICKET_BAD_SIGNATURE || st == TICKET_MALFORMED);
    }
    /* a forged payload for another user, signature kept */
    char forged[TICKET_MAX_LEN], enc[64];
    const char *payload = "v2\nacme\n102\n1800000060\nAAAAAAAAAAAAAAAA";
    size_t elen = token_b64url_encode((const unsigned char *)payload, strlen(payload), enc);
    snprintf(forged, sizeof forged, "%.*s%s", (int)elen, enc, strchr(t, '.'));
    assert_int_equal(verify(forged, NOW, integ, ext), TICKET_BAD_SIGNATURE);
}

static void garbage_is_malformed(void **state)
{
    (void)state;
    char integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
    assert_int_equal(verify(NULL, NOW, integ, ext), TICKET_MALFORMED);
    assert_int_equal(verify("", NOW, integ, ext), TICKET_MALFORMED);
    assert_int_equal(verify("abc", NOW, integ, ext), TICKET_MALFORMED);
    assert_int_equal(verify("abc.def", NOW, integ, ext), TICKET_MALFORMED);
    assert_int_equal(verify(".", NOW, integ, ext), TICKET_MALFORMED);
    char big[TICKET_MAX_LEN + 10];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[100] = '.';
    assert_int_equal(verify(big, NOW, integ, ext), TICKET_MALFORMED);
}

/* A correctly signed ticket whose payload is wrong must still be refused. */
static void signed_bad_payloads_are_malformed(void **state)
{
    (void)state;
    static const char *const payloads[] = {
        "v1\nacme\n101\n1800000060",
        "v3\nacme\n101\n1800000060\nAAAAAAAAAAAAAAAA",
        "v2\nacme\n101\n1800000060",
        "v2\nacme\n101\n1800000060\n",
        "v2\nacme\n101\n1800000060\nAAAA",
        "v2\nacme\n101\n1800000060\nAAAAAAAAAAAAAAAA\n",
        "v2\nAcme\n101\n1800000060\nAAAAAAAAAAAAAAAA",
        "v2\nacme\n1 01\n1800000060\nAAAAAAAAAAAAAAAA",
        "v2\nacme\n101\n18x\nAAAAAAAAAAAAAAAA",
        "v2\nacme\n101",
        "v2\nacme\n101\n-5\nAAAAAAAAAAAAAAAA",
        "v2\nacme\n101\n\nAAAAAAAAAAAAAAAA",
        "v2\nacme\n101\n9223372036854775808\nAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
        char enc[128], sig[64], t[TICKET_MAX_LEN];
        char integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
        size_t elen =
            token_b64url_encode((const unsigned char *)payloads[i], strlen(payloads[i]), enc);
        assert_int_equal(ticket_mac(secret, SECRET_LEN, enc, elen, sig), 0);
        snprintf(t, sizeof t, "%s.%s", enc, sig);
        assert_int_equal(verify(t, NOW, integ, ext), TICKET_MALFORMED);
    }
}

static void sign_refuses_small_buffer(void **state)
{
    (void)state;
    char t[40];
    assert_int_equal(ticket_sign(secret, SECRET_LEN, "acme", "101", NOW, t, sizeof t), -1);
    char big[TICKET_MAX_LEN];
    char longname[NAME_MAX_LEN + 1];
    memset(longname, 'x', NAME_MAX_LEN);
    longname[NAME_MAX_LEN] = '\0';
    assert_int_equal(
        ticket_sign(secret, SECRET_LEN, longname, longname, INT64_MAX, big, sizeof big), 0);
    char integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
    assert_int_equal(verify(big, NOW, integ, ext), TICKET_OK);
    assert_string_equal(integ, longname);
    assert_string_equal(ext, longname);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_then_verify),
        cmocka_unit_test(tickets_are_unique),
        cmocka_unit_test(expiry_boundary),
        cmocka_unit_test(other_secret_refused),
        cmocka_unit_test(tampering_refused),
        cmocka_unit_test(garbage_is_malformed),
        cmocka_unit_test(signed_bad_payloads_are_malformed),
        cmocka_unit_test(sign_refuses_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
