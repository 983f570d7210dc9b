/* wsscan.c — a frame is a 2-byte head, 0, 2 or 8 bytes of length, a 4-byte mask key when
 * masked, then the payload; only the heads are looked at. */
#include "wsscan.h"
#include <string.h>

static size_t head_size(const uint8_t *hdr)
{
    size_t n = 2 + ((hdr[1] & 0x80) ? 4 : 0);
    uint8_t l = hdr[1] & 0x7f;
    return n + (l == 126 ? 2 : l == 127 ? 8 : 0);
}

static uint64_t payload_size(const uint8_t *hdr)
{
    uint8_t l = hdr[1] & 0x7f;
    uint64_t v = 0;
    if (l < 126)
        return l;
    for (int i = 0; i < (l == 126 ? 2 : 8); i++)
        v = v << 8 | hdr[2 + i];
    return v;
}

void wsscan_feed(wsscan *s, const uint8_t *p, size_t len)
{
    while (len && !s->unmasked) {
        if (s->payload_left) {
            size_t skip = s->payload_left < len ? (size_t)s->payload_left : len;
            s->payload_left -= skip;
            p += skip;
            len -= skip;
            continue;
        }
        s->hdr[s->hdr_len++] = *p++;
        len--;
        if (s->hdr_len < 2)
            continue;
        if (!(s->hdr[1] & 0x80)) {
            s->unmasked = true;
            return;
        }
        if (s->hdr_len < head_size(s->hdr))
            continue;
        s->payload_left = payload_size(s->hdr);
        s->hdr_len = 0;
    }
}
