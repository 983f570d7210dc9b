/* wsscan.h — follows the frame headers of a client's websocket byte stream to find what
 * libwebsockets 4.1 lets through: RFC 6455 §5.1 says a server must close the connection
 * when a client frame is not masked, and lws never checks the mask bit on a server. Pure:
 * it sees bytes, never a socket. */
#ifndef CR_WSSCAN_H
#define CR_WSSCAN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsscan {
    uint64_t payload_left; /* bytes of the current frame's payload still to skip */
    uint8_t hdr[14];
    uint8_t hdr_len;
    bool unmasked; /* sticky: a frame without the mask bit was seen */
} wsscan;

/* Feeds the next bytes of the stream, from the first byte after the upgrade's head. */
void wsscan_feed(wsscan *s, const uint8_t *p, size_t len);

#endif
