/* connscan.h — follows the byte stream a client sends on one connection, as libwebsockets
 * reads it: HTTP request heads (checked with http_head before lws parses them: lws 4.1
 * closes without an answer on a head it cannot hold) and the bodies they announce, then,
 * after an upgrade, websocket frame heads (wsscan: lws never checks a client's mask bit).
 * Pure: it sees bytes, never a socket. */
#ifndef CR_CONNSCAN_H
#define CR_CONNSCAN_H
#include "http_head.h"
#include "wsscan.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum connscan_mode { CONNSCAN_HTTP, CONNSCAN_WS, CONNSCAN_OFF };

typedef struct connscan {
    enum connscan_mode mode;
    char *head; /* a head begun in an earlier read, HTTP_HEAD_MAX + 1 bytes at most */
    size_t head_len;
    uint64_t body_left;
    unsigned heads; /* complete heads passed */
    size_t bad_at;  /* after a refusal: bytes of that read before the refused head */
    wsscan ws;
} connscan;

/* Feeds the next bytes read. false: a head is refused, *why says how to answer; the
 * connection must end (nothing more is scanned). */
bool connscan_feed(connscan *c, const char *p, size_t len, http_head *why);
/* Gives back the memory of a head in progress. */
void connscan_reset(connscan *c);

#endif
