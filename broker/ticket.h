/* ticket.h — signed, short-lived websocket tickets. Any instance that shares
 * CALLRELAY_TICKET_SECRET verifies them without Redis.
 * Format: base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))
 * where payload = "v1\n" integration "\n" extension "\n" expiry-unix-seconds. */
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
 * integration and extension (each NAME_MAX_LEN + 1 bytes). */
enum ticket_status ticket_verify(const unsigned char *secret, size_t secret_len, const char *ticket,
                                 int64_t now, char integration[NAME_MAX_LEN + 1],
                                 char extension[NAME_MAX_LEN + 1]);

#endif
