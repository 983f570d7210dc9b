/* ticket.h — signed, short-lived websocket tickets. Any instance that shares
 * CALLRELAY_TICKET_SECRET verifies them without Redis.
 * Format: base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))
 * where payload = "v2\n" integration "\n" extension "\n" expiry-unix-seconds "\n" nonce.
 * The nonce (12 random bytes, base64url) makes every ticket unique, so that the hub can let
 * each open one connection only (remembered in Redis by its signature). */
#ifndef CR_TICKET_H
#define CR_TICKET_H
#include <stddef.h>
#include <stdint.h>
#include "names.h"

#define TICKET_MAX_LEN 512

/* Writes the ticket into out (NUL-terminated). Returns 0, or -1 if out is too small. */
int ticket_sign(const unsigned char *secret, size_t secret_len, const char *integration,
                const char *extension, int64_t expires_at, char *out, size_t out_size);

enum ticket_status { TICKET_OK = 0, TICKET_MALFORMED, TICKET_BAD_SIGNATURE, TICKET_EXPIRED };

/* Checks the signature (constant time) and the expiry against now. On TICKET_OK fills
 * integration and extension (each NAME_MAX_LEN + 1 bytes), and *expires when not NULL. */
enum ticket_status ticket_verify(const unsigned char *secret, size_t secret_len, const char *ticket,
                                 int64_t now, char integration[NAME_MAX_LEN + 1],
                                 char extension[NAME_MAX_LEN + 1], int64_t *expires);

/* The signature part of a well-formed ticket: what names it. */
#define TICKET_SIG_B64_LEN 43

#endif
