/* redact.c — masks what must never reach a log: websocket tickets and integration tokens
 * (they ride in query strings and headers), and passwords in URLs such as the Redis URL. */
#include "redact.h"
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MASK "***"

static bool value_end(char c) { return !c || strchr("& \t\r\n\"'<>;,#", c); }

/* Replaces s[from..to) with MASK; returns where the text after the mask starts. */
static char *mask(char *from, char *to)
{
    if ((size_t)(to - from) <= strlen(MASK)) { /* short: mask it without growing */
        memset(from, '*', (size_t)(to - from));
        return to;
    }
    memcpy(from, MASK, strlen(MASK));
    memmove(from + strlen(MASK), to, strlen(to) + 1);
    return from + strlen(MASK);
}

static void redact_after(char *s, const char *key)
{
    size_t klen = strlen(key);
    for (char *p = strcasestr(s, key); p; p = strcasestr(p, key)) {
        char *v = p + klen, *e = v;
        while (!value_end(*e))
            e++;
        p = e > v ? mask(v, e) : v;
    }
}

static void redact_userinfo(char *s)
{
    for (char *p = strstr(s, "://"); p; p = strstr(p, "://")) {
        char *auth = p + 3, *end = auth + strcspn(auth, "/?# \t\r\n\"'");
        char *at = memchr(auth, '@', (size_t)(end - auth));
        char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        p = colon && at > colon + 1 ? mask(colon + 1, at) : auth;
    }
}

void redact_secrets(char *s)
{
    redact_after(s, "ticket=");
    redact_after(s, "token=");
    redact_after(s, "bearer ");
    redact_userinfo(s);
}
