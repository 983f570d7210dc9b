/* fuzz_wsframe.c — libFuzzer: arbitrary bytes as what a client sends on a connection: HTTP
 * heads, bodies and, after an upgrade, websocket frames (connscan, wsscan), each fed whole
 * and in pieces, which must agree; and as the text of one client frame (wsproto). Nothing
 * may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connscan.h"
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

static bool stream(const char *data, size_t size, size_t piece, connscan *c)
{
    http_head why;
    bool ok = true;
    for (size_t i = 0; ok && i < size; i += piece) {
        ok = connscan_feed(c, data + i, i + piece > size ? size - i : piece, &why);
        if (!ok && (!why.message || why.status < 400))
            abort();
        if (c->head_len > HTTP_HEAD_MAX)
            abort();
    }
    return ok;
}

static void connection(const uint8_t *data, size_t size)
{
    connscan whole = {0}, pieces = {0};
    size_t piece = size ? 1 + data[0] % 61 : 1;
    bool a = stream((const char *)data, size, size ? size : 1, &whole);
    bool b = stream((const char *)data, size, piece, &pieces);
    if (a != b || (a && whole.mode != pieces.mode))
        abort();
    connscan_reset(&whole);
    connscan_reset(&pieces);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    connection(data, size);
    scan(data, size);
    parse(data, size);
    return 0;
}
