/* token.h — integration tokens: generated at random, stored only as SHA-256 hex. */
#ifndef CR_TOKEN_H
#define CR_TOKEN_H
#include <stddef.h>

#define TOKEN_LEN 43      /* base64url of 32 random bytes, no padding */
#define TOKEN_HASH_LEN 64 /* lowercase hex of SHA-256 */

/* Writes TOKEN_LEN chars + NUL into out. Returns 0, or -1 if the RNG failed. */
int token_generate(char out[TOKEN_LEN + 1]);
/* Lowercase hex SHA-256 of token; writes TOKEN_HASH_LEN chars + NUL. */
void token_hash(const char *token, char out[TOKEN_HASH_LEN + 1]);
/* Constant-time comparison of two NUL-terminated strings (length may leak). */
int token_equal(const char *a, const char *b);

/* base64url without padding (shared with ticket.c). Encode: out holds 4 * ceil(n / 3) + 1
 * bytes; returns the length written. Decode: accepts only the base64url alphabet, no padding
 * or whitespace; returns the byte count, or -1 if malformed or longer than out_size. */
size_t token_b64url_encode(const unsigned char *in, size_t n, char *out);
int token_b64url_decode(const char *in, size_t n, unsigned char *out, size_t out_size);

#endif
