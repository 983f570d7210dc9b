/* fuzz_credentials.c — libFuzzer: arbitrary Authorization values, query strings and
 * X-Forwarded-For lists. Nothing may crash; a token found is non-empty and fits its buffer, and
 * the client address is the peer or an entry of the list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credentials.h"
#include "forwarded.h"

static char *trusted[] = {"127.0.0.0/8", "10.0.0.0/8", "::1/128"};

static void check_token(const char *t, const char *buf, size_t size)
{
    if (t && (t != buf || !*t || strlen(t) >= size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), buf[64];
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_token(credentials_from_header(s, buf, sizeof buf), buf, sizeof buf);
    check_token(credentials_from_query(s, buf, sizeof buf), buf, sizeof buf);
    const char *c = forwarded_client("127.0.0.1", s, trusted, 3, buf, sizeof buf);
    if (c != buf && strcmp(c, "127.0.0.1") != 0 && strcmp(c, "unknown") != 0)
        abort();
    free(s);
    return 0;
}
