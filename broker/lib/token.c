/* token.c — integration tokens: 32 random bytes as base64url, kept only as SHA-256 hex. */
#include "token.h"
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

size_t token_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return (size_t)len;
}

static int b64url_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int token_b64url_decode(const char *in, size_t n, unsigned char *out, size_t out_size)
{
    if (n % 4 == 1 || n > 4096)
        return -1;
    char buf[4100];
    for (size_t i = 0; i < n; i++) {
        if (!b64url_char_ok(in[i]))
            return -1;
        buf[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    }
    size_t pad = (4 - n % 4) % 4;
    memset(buf + n, '=', pad);
    size_t full = n + pad;
    /* EVP_DecodeBlock counts padding as zero bytes: subtract it. */
    size_t len = full / 4 * 3 - pad;
    if (len > out_size)
        return -1;
    unsigned char tmp[4096 / 4 * 3 + 3];
    if (EVP_DecodeBlock(tmp, (const unsigned char *)buf, (int)full) < 0)
        return -1;
    memcpy(out, tmp, len);
    return (int)len;
}

int token_generate(char out[TOKEN_LEN + 1])
{
    unsigned char raw[32];
    char buf[48];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    token_b64url_encode(raw, sizeof raw, buf);
    memcpy(out, buf, TOKEN_LEN + 1);
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

void token_hash(const char *token, char out[TOKEN_HASH_LEN + 1])
{
    digest_sha256_hex(token, strlen(token), out);
}

int token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}
