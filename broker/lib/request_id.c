/* request_id.c — which incoming request ids are kept, and how one is written when made. */
#include "request_id.h"

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool request_id_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len > REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!id_char(s[i]))
            return false;
    return true;
}

void request_id_format(const unsigned char *random, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < REQUEST_ID_RANDOM; i++) {
        out[2 * i] = hex[random[i] >> 4];
        out[2 * i + 1] = hex[random[i] & 15];
    }
    out[2 * REQUEST_ID_RANDOM] = '\0';
}
