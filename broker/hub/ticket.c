/* ticket.c — signed websocket tickets: base64url(payload) "." base64url(HMAC-SHA256). */
#include "ticket.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "token.h"

#define TICKET_PAYLOAD_MAX 224
#define TICKET_NONCE_BYTES 12 /* tickets of one second differ: each is used once */
#define TICKET_NONCE_B64_LEN 16

/* Writes base64url(HMAC(secret, data)) into out (TICKET_SIG_B64_LEN + 1 bytes). */
static int ticket_mac(const unsigned char *secret, size_t secret_len, const char *data, size_t len,
                      char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)data, len, md, &mdlen))
        return -1;
    token_b64url_encode(md, mdlen, out);
    return 0;
}

int ticket_sign(const unsigned char *secret, size_t secret_len, const char *integration,
                const char *extension, int64_t expires_at, char *out, size_t out_size)
{
    unsigned char raw[TICKET_NONCE_BYTES];
    char payload[TICKET_PAYLOAD_MAX], nonce[TICKET_NONCE_BYTES * 2];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    token_b64url_encode(raw, sizeof raw, nonce);
    int n = snprintf(payload, sizeof payload, "v2\n%s\n%s\n%" PRId64 "\n%s", integration, extension,
                     expires_at, nonce);
    if (n < 0 || (size_t)n >= sizeof payload)
        return -1;
    char enc[TICKET_PAYLOAD_MAX / 3 * 4 + 8];
    size_t elen = token_b64url_encode((const unsigned char *)payload, (size_t)n, enc);
    if (elen + 1 + TICKET_SIG_B64_LEN + 1 > out_size)
        return -1;
    char sig[TICKET_SIG_B64_LEN + 8];
    if (ticket_mac(secret, secret_len, enc, elen, sig) < 0)
        return -1;
    memcpy(out, enc, elen);
    out[elen] = '.';
    memcpy(out + elen + 1, sig, TICKET_SIG_B64_LEN + 1);
    return 0;
}

/* Copies the next '\n'-terminated (or final) field of *p into dst; advances *p. */
static int take_field(const char **p, char *dst, size_t dst_size)
{
    const char *end = strchr(*p, '\n');
    size_t len = end ? (size_t)(end - *p) : strlen(*p);
    if (len >= dst_size)
        return -1;
    memcpy(dst, *p, len);
    dst[len] = '\0';
    *p += len + (end ? 1 : 0);
    return end ? 0 : 1;
}

static int parse_expiry(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

static enum ticket_status parse_payload(const char *enc, size_t elen, int64_t *expires_at,
                                        char *integration, char *extension)
{
    char payload[TICKET_PAYLOAD_MAX + 1];
    int n = token_b64url_decode(enc, elen, (unsigned char *)payload, TICKET_PAYLOAD_MAX);
    if (n < 0 || memchr(payload, '\0', (size_t)n))
        return TICKET_MALFORMED;
    payload[n] = '\0';
    const char *p = payload;
    char version[4], expiry[24], nonce[TICKET_NONCE_BYTES * 2];
    if (take_field(&p, version, sizeof version) != 0 || strcmp(version, "v2") != 0 ||
        take_field(&p, integration, NAME_MAX_LEN + 1) != 0 ||
        take_field(&p, extension, NAME_MAX_LEN + 1) != 0 ||
        take_field(&p, expiry, sizeof expiry) != 0 || parse_expiry(expiry, expires_at) < 0 ||
        take_field(&p, nonce, sizeof nonce) != 1 || strlen(nonce) != TICKET_NONCE_B64_LEN)
        return TICKET_MALFORMED;
    if (!name_integration_valid(integration) || !name_extension_valid(extension))
        return TICKET_MALFORMED;
    return TICKET_OK;
}

enum ticket_status ticket_verify(const unsigned char *secret, size_t secret_len, const char *ticket,
                                 int64_t now, char integration[NAME_MAX_LEN + 1],
                                 char extension[NAME_MAX_LEN + 1], int64_t *expires)
{
    if (!ticket)
        return TICKET_MALFORMED;
    size_t len = strnlen(ticket, TICKET_MAX_LEN + 1);
    const char *dot = memchr(ticket, '.', len);
    if (len > TICKET_MAX_LEN || !dot || len - (size_t)(dot - ticket) - 1 != TICKET_SIG_B64_LEN)
        return TICKET_MALFORMED;
    char want[TICKET_SIG_B64_LEN + 8];
    size_t elen = (size_t)(dot - ticket);
    if (ticket_mac(secret, secret_len, ticket, elen, want) < 0)
        return TICKET_MALFORMED;
    if (CRYPTO_memcmp(want, dot + 1, TICKET_SIG_B64_LEN) != 0)
        return TICKET_BAD_SIGNATURE;
    char integ[NAME_MAX_LEN + 1], ext[NAME_MAX_LEN + 1];
    int64_t expires_at = 0;
    enum ticket_status st = parse_payload(ticket, elen, &expires_at, integ, ext);
    if (st != TICKET_OK)
        return st;
    if (now > expires_at)
        return TICKET_EXPIRED;
    memcpy(integration, integ, sizeof integ);
    memcpy(extension, ext, sizeof ext);
    if (expires)
        *expires = expires_at;
    return TICKET_OK;
}
