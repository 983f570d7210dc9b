/* request_id.h — the id of an HTTP request (X-Request-Id): a client's or a proxy's when it is
 * sane, so that one id follows a request across hops, else one made here. */
#ifndef CR_REQUEST_ID_H
#define CR_REQUEST_ID_H
#include <stdbool.h>
#include <stddef.h>

#define REQUEST_ID_MAX 128
#define REQUEST_ID_RANDOM 8 /* bytes of a generated id, written as 16 hex digits */

/* 1 to REQUEST_ID_MAX characters of [A-Za-z0-9._-]: safe in a log line and in a header. */
bool request_id_valid(const char *s, size_t len);
/* Writes the id for random (REQUEST_ID_RANDOM bytes) into out (at least 2 * REQUEST_ID_RANDOM
 * + 1 bytes). */
void request_id_format(const unsigned char *random, char *out);

#endif
