/* digest.c — the SHA-256 implementation is fetched from OpenSSL's provider once: SHA256() and
 * EVP_sha256() look it up again on every call, which cost more than hashing a short text. */
#include "digest.h"
#include <openssl/evp.h>
#include <openssl/sha.h>

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    static EVP_MD *md;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!md)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!md || !EVP_Digest(data, len, h, &n, md, NULL) || n != DIGEST_HEX_LEN / 2)
        SHA256(data, len, h); /* the slow path, never a wrong digest */
    for (unsigned int i = 0; i < DIGEST_HEX_LEN / 2; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[DIGEST_HEX_LEN] = '\0';
}
