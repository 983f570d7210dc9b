/* credentials.c — see credentials.h. */
#include "credentials.h"
#include "form.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Standard base64 (RFC 4648 §4) as HTTP Basic uses it; padding required. */
static int base64_decode(const char *in, size_t n, char *out, size_t size)
{
    if (n == 0 || n % 4 || n / 4 * 3 + 1 > size)
        return -1;
    int len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
    if (len < 0)
        return -1;
    len -= (in[n - 1] == '=') + (in[n - 2] == '=');
    out[len] = '\0';
    return strlen(out) == (size_t)len ? len : -1; /* a NUL inside is not a credential */
}

static const char *from_basic(const char *b64, char *buf, size_t size)
{
    char plain[512];
    const char *colon;
    if (base64_decode(b64, strlen(b64), plain, sizeof plain) < 0 || !(colon = strchr(plain, ':')) ||
        !colon[1] || strlen(colon + 1) >= size)
        return NULL;
    snprintf(buf, size, "%s", colon + 1);
    return buf;
}

const char *credentials_from_header(const char *authorization, char *buf, size_t size)
{
    if (!authorization)
        return NULL;
    if (strncasecmp(authorization, "Bearer ", 7) == 0 && authorization[7] &&
        strlen(authorization + 7) < size) {
        snprintf(buf, size, "%s", authorization + 7);
        return buf;
    }
    if (strncasecmp(authorization, "Basic ", 6) == 0)
        return from_basic(authorization + 6, buf, size);
    return NULL;
}

/* Percent-decodes [s, end) into buf; NULL when malformed, too long, empty or holding a NUL. */
static const char *decode(const char *s, const char *end, char *buf, size_t size)
{
    size_t n = (size_t)(end - s);
    long len = n < size ? form_unescape(s, n, buf) : -1;
    if (len <= 0)
        return NULL;
    buf[len] = '\0';
    return buf;
}

const char *credentials_from_query(const char *query, char *buf, size_t size)
{
    for (const char *p = query; p && *p;) {
        const char *end = p + strcspn(p, "&?");
        if (strncmp(p, "token=", 6) == 0)
            return decode(p + 6, end, buf, size);
        p = *end ? end + 1 : end;
    }
    return NULL;
}
