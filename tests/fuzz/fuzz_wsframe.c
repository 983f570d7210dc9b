/* fuzz_wsframe.c — libFuzzer: arbitrary bytes as a client's websocket byte stream (frame
 * heads followed by wsscan, in two splits that must agree) and as the text of one client
 * frame (wsproto). Nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result.h"
#include "wsproto.h"
#include "wsscan.h"

static void scan(const uint8_t *data, size_t size)
{
    wsscan whole = {0}, bytewise = {0};
    wsscan_feed(&whole, data, size);
    for (size_t i = 0; i < size; i++)
        wsscan_feed(&bytewise, data + i, 1);
    if (whole.unmasked != bytewise.unmasked ||
        (!whole.unmasked &&
         (whole.payload_left != bytewise.payload_left || whole.hdr_len != bytewise.hdr_len)))
        abort();
}

static void parse(const uint8_t *data, size_t size)
{
    ws_frame f;
    int rc = ws_frame_parse((const char *)data, size, &f);
    if (rc != 0 && rc != RC_BAD_REQUEST && rc != RC_INVALID_FIELD && rc != RC_UNKNOWN_OP)
        abort();
    if (rc != 0 && (!f.error[0] || !memchr(f.error, 0, sizeof f.error)))
        abort();
    if (rc == 0 && f.op == WS_OP_REGISTER && (f.limit < 1 || f.limit > WS_PAGE_MAX))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    scan(data, size);
    parse(data, size);
    return 0;
}
