/* digest.c — the SHA-256 implementation is fetched from OpenSSL's provider once: SHA256() and
 * EVP_sha256() look it up again on every call, which cost more than hashing a short text. The
 * context is kept too (its allocation and release cost about as much): the broker hashes on its
 * loop's thread only. */
#include "digest.h"
#include <openssl/evp.h>

static void hex(const unsigned char *h, char out[DIGEST_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < DIGEST_HEX_LEN / 2; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
    out[DIGEST_HEX_LEN] = '\0';
}

/* With a context of its own and the implicit fetch: the slow path, never a wrong digest. */
static int slow(const digest_piece *pieces, size_t n, unsigned char *h)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(c, pieces[i].data, pieces[i].len);
    ok = ok && EVP_DigestFinal_ex(c, h, NULL);
    EVP_MD_CTX_free(c);
    return ok;
}

void digest_sha256_pieces_hex(const digest_piece *pieces, size_t n, char out[DIGEST_HEX_LEN + 1])
{
    static EVP_MD *md;
    static EVP_MD_CTX *ctx;
    unsigned char h[EVP_MAX_MD_SIZE] = {0};
    unsigned int len = 0;
    if (!md)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!ctx)
        ctx = EVP_MD_CTX_new();
    int ok = md && ctx && EVP_DigestInit_ex2(ctx, md, NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(ctx, pieces[i].data, pieces[i].len);
    ok = ok && EVP_DigestFinal_ex(ctx, h, &len) && len == DIGEST_HEX_LEN / 2;
    if (!ok)
        slow(pieces, n, h);
    hex(h, out);
}

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1])
{
    digest_piece one = {data, len};
    digest_sha256_pieces_hex(&one, 1, out);
}
