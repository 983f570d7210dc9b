/* names.c — the closed alphabets of integration names and extensions. */
#include "names.h"

#include <string.h>

static bool is_lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static bool is_alnum(char c) { return is_lower_or_digit(c) || (c >= 'A' && c <= 'Z'); }

bool name_integration_valid(const char *s)
{
    if (!s || !is_lower_or_digit(s[0]))
        return false;
    size_t n = 1;
    for (; s[n]; n++) {
        if (n >= NAME_MAX_LEN)
            return false;
        if (!is_lower_or_digit(s[n]) && s[n] != '_' && s[n] != '-')
            return false;
    }
    return true;
}

bool name_extension_valid(const char *s)
{
    if (!s || !s[0])
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= NAME_MAX_LEN)
            return false;
        if (!is_alnum(s[n]) && !strchr("_.+-", s[n]))
            return false;
    }
    return true;
}
