/* stdwebhooks.c — Standard Webhooks: verify and produce "v1,<base64 HMAC-SHA256>" signatures. */
#include "stdwebhooks.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STDWH_PREFIX "whsec_"
#define STDWH_B64_MAX 1024 /* longest base64 text we decode (secret or signature) */
#define STDWH_MAC_LEN 32

static int b64_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Standard base64, padding optional. Returns the byte count or -1. EVP_DecodeBlock wants
 * a multiple of 4, skips surrounding whitespace and counts '=' as zero bytes, so the
 * text is checked and padded here and the padding subtracted afterwards. */
static int b64_decode(const char *in, size_t n, unsigned char *out, size_t out_size)
{
    size_t pad_in = 0;
    while (pad_in < 2 && n > 0 && in[n - 1] == '=') {
        n--;
        pad_in++;
    }
    if (n == 0 || n % 4 == 1 || n > STDWH_B64_MAX)
        return -1;
    char buf[STDWH_B64_MAX + 4];
    for (size_t i = 0; i < n; i++) {
        if (!b64_char_ok(in[i]))
            return -1;
        buf[i] = in[i];
    }
    size_t pad = (4 - n % 4) % 4;
    if (pad_in && pad_in != pad)
        return -1;
    memset(buf + n, '=', pad);
    size_t len = (n + pad) / 4 * 3 - pad;
    unsigned char tmp[STDWH_B64_MAX / 4 * 3 + 3];
    if (len > out_size || EVP_DecodeBlock(tmp, (const unsigned char *)buf, (int)(n + pad)) < 0)
        return -1;
    memcpy(out, tmp, len);
    return (int)len;
}

static int secret_key(const char *secret, unsigned char *key, size_t key_size)
{
    size_t plen = strlen(STDWH_PREFIX);
    if (!secret || strncmp(secret, STDWH_PREFIX, plen) != 0)
        return -1;
    return b64_decode(secret + plen, strlen(secret + plen), key, key_size);
}

/* HMAC-SHA256 over id "." ts "." body. */
static int stdwh_mac(const unsigned char *key, size_t key_len, const char *id, const char *ts,
                     const char *body, size_t body_len, unsigned char mac[STDWH_MAC_LEN])
{
    size_t idlen = strlen(id), tslen = strlen(ts);
    size_t total = idlen + 1 + tslen + 1 + body_len;
    unsigned char *msg = malloc(total ? total : 1);
    if (!msg)
        return -1;
    memcpy(msg, id, idlen);
    msg[idlen] = '.';
    memcpy(msg + idlen + 1, ts, tslen);
    msg[idlen + 1 + tslen] = '.';
    if (body_len)
        memcpy(msg + idlen + tslen + 2, body, body_len);
    unsigned int mlen = 0;
    int ok = HMAC(EVP_sha256(), key, (int)key_len, msg, total, mac, &mlen) != NULL;
    free(msg);
    return ok && mlen == STDWH_MAC_LEN ? 0 : -1;
}

static int parse_timestamp(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s || strlen(s) > 18)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

/* Is any space-separated "v1,<base64>" in sigs equal to mac? Other versions are skipped. */
static int any_signature_matches(const char *sigs, const unsigned char mac[STDWH_MAC_LEN])
{
    int found = 0;
    const char *p = sigs;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        unsigned char got[STDWH_MAC_LEN];
        if (len > 3 && strncmp(p, "v1,", 3) == 0 &&
            b64_decode(p + 3, len - 3, got, sizeof got) == STDWH_MAC_LEN)
            found |= CRYPTO_memcmp(got, mac, STDWH_MAC_LEN) == 0;
        p += len;
    }
    return found;
}

enum stdwh_status stdwh_verify(const char *secret, const char *id, const char *timestamp,
                               const char *signatures, const char *body, size_t body_len,
                               int64_t now)
{
    if (!id || !timestamp || !signatures)
        return STDWH_MISSING;
    unsigned char key[STDWH_B64_MAX];
    int klen = secret_key(secret, key, sizeof key);
    if (klen <= 0)
        return STDWH_BAD_SECRET;
    int64_t ts;
    if (parse_timestamp(timestamp, &ts) < 0)
        return STDWH_BAD_TIMESTAMP;
    if (ts > now + STDWH_TOLERANCE_S || ts < now - STDWH_TOLERANCE_S)
        return STDWH_STALE;
    unsigned char mac[STDWH_MAC_LEN];
    if (stdwh_mac(key, (size_t)klen, id, timestamp, body, body_len, mac) < 0)
        return STDWH_MISMATCH;
    return any_signature_matches(signatures, mac) ? STDWH_OK : STDWH_MISMATCH;
}

int stdwh_sign(const char *secret, const char *id, int64_t timestamp, const char *body,
               size_t body_len, char *out, size_t out_size)
{
    unsigned char key[STDWH_B64_MAX];
    int klen = secret_key(secret, key, sizeof key);
    if (klen <= 0)
        return -1;
    char ts[24];
    snprintf(ts, sizeof ts, "%" PRId64, timestamp);
    unsigned char mac[STDWH_MAC_LEN];
    if (stdwh_mac(key, (size_t)klen, id, ts, body, body_len, mac) < 0)
        return -1;
    char enc[4 * ((STDWH_MAC_LEN + 2) / 3) + 1];
    EVP_EncodeBlock((unsigned char *)enc, mac, STDWH_MAC_LEN);
    if (3 + strlen(enc) + 1 > out_size)
        return -1;
    snprintf(out, out_size, "v1,%s", enc);
    return 0;
}

const char *stdwh_status_text(enum stdwh_status s)
{
    switch (s) {
    case STDWH_OK:
        return "ok";
    case STDWH_MISSING:
        return "webhook-id, webhook-timestamp and webhook-signature headers are required";
    case STDWH_BAD_SECRET:
        return "the webhook_secret is not whsec_ followed by base64";
    case STDWH_BAD_TIMESTAMP:
        return "webhook-timestamp is not an integer (Unix seconds)";
    case STDWH_STALE:
        return "webhook-timestamp is more than 5 minutes from the broker's clock";
    case STDWH_MISMATCH:
        return "no v1 signature in webhook-signature matches";
    }
    return "unknown";
}
