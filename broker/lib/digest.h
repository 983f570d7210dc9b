/* digest.h — SHA-256 as lowercase hex, for token hashes and event keys. */
#ifndef CR_DIGEST_H
#define CR_DIGEST_H
#include <stddef.h>

#define DIGEST_HEX_LEN 64

/* A piece of the text to hash. */
typedef struct digest_piece {
    const void *data;
    size_t len;
} digest_piece;

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1]);
/* The digest of the pieces one after another, as of their concatenation, without copying them. */
void digest_sha256_pieces_hex(const digest_piece *pieces, size_t n, char out[DIGEST_HEX_LEN + 1]);

#endif
