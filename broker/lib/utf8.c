/* utf8.c — see utf8.h. */
#include "utf8.h"

#include <stddef.h>

/* Length of the well-formed sequence at p, or 0. */
static int sequence(const unsigned char *p)
{
    unsigned char c = p[0];
    int n = c < 0x80                 ? 1
            : c >= 0xC2 && c <= 0xDF ? 2
            : c >= 0xE0 && c <= 0xEF ? 3
            : c >= 0xF0 && c <= 0xF4 ? 4
                                     : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F) || /* overlong, surrogate */
        (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))   /* overlong, > U+10FFFF */
        return 0;
    return n;
}

char *utf8_repair(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = sequence(p);
        if (n)
            p += n;
        else
            *p++ = '?';
    }
    return s;
}
