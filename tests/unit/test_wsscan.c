/* test_wsscan.c — frame heads followed across any split of the byte stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../broker/net/wsscan.c"

/* Appends one client frame (FIN, opcode) with payload len of 'x', masked or not. */
static size_t frame(uint8_t *out, uint8_t opcode, uint64_t len, bool masked)
{
    size_t n = 0;
    out[n++] = (uint8_t)(0x80 | opcode);
    uint8_t m = masked ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(len >> (8 * i));
    }
    if (masked) {
        memcpy(out + n, "\x01\x02\x03\x04", 4);
        n += 4;
    }
    memset(out + n, 'x', (size_t)len);
    return n + (size_t)len;
}

static uint8_t stream[300000];

static size_t masked_stream(void)
{
    size_t n = 0;
    n += frame(stream + n, 1, 0, true);
    n += frame(stream + n, 1, 17, true);
    n += frame(stream + n, 1, 125, true);
    n += frame(stream + n, 1, 126, true);
    n += frame(stream + n, 9, 3, true); /* ping */
    n += frame(stream + n, 1, 70000, true);
    n += frame(stream + n, 1, 65535, true);
    n += frame(stream + n, 2, 5, true);
    return n;
}

static void masked_frames_pass_in_any_split(void **state)
{
    (void)state;
    size_t n = masked_stream();
    static const size_t steps[] = {1, 2, 3, 7, 13, 4096, 300000};
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        wsscan s = {0};
        for (size_t i = 0; i < n; i += steps[k])
            wsscan_feed(&s, stream + i, i + steps[k] > n ? n - i : steps[k]);
        assert_false(s.unmasked);
        assert_int_equal(s.hdr_len, 0);
        assert_int_equal(s.payload_left, 0);
    }
}

static void unmasked_frame_is_found_after_masked_ones(void **state)
{
    (void)state;
    size_t n = masked_stream();
    n += frame(stream + n, 1, 200, false);
    for (size_t step = 1; step < 40; step += 6) {
        wsscan s = {0};
        for (size_t i = 0; i < n; i += step)
            wsscan_feed(&s, stream + i, i + step > n ? n - i : step);
        assert_true(s.unmasked);
    }
}

static void unmasked_first_frame(void **state)
{
    (void)state;
    wsscan s = {0};
    size_t n = frame(stream, 1, 13, false);
    wsscan_feed(&s, stream, 1);
    assert_false(s.unmasked);
    wsscan_feed(&s, stream + 1, n - 1);
    assert_true(s.unmasked);
}

static void huge_length_is_skipped_not_read(void **state)
{
    (void)state;
    wsscan s = {0};
    const uint8_t head[] = {0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
    wsscan_feed(&s, head, sizeof head);
    assert_false(s.unmasked);
    assert_true(s.payload_left == 0x7fffffffffffffffULL);
    wsscan_feed(&s, stream, 1000);
    assert_true(s.payload_left == 0x7fffffffffffffffULL - 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masked_frames_pass_in_any_split),
        cmocka_unit_test(unmasked_frame_is_found_after_masked_ones),
        cmocka_unit_test(unmasked_first_frame),
        cmocka_unit_test(huge_length_is_skipped_not_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
