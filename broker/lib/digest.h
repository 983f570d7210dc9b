/* digest.h — SHA-256 as lowercase hex, for token hashes and event keys. */
#ifndef CR_DIGEST_H
#define CR_DIGEST_H
#include <stddef.h>

#define DIGEST_HEX_LEN 64

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1]);

#endif
