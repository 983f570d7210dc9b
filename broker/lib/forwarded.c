/* forwarded.c — see forwarded.h. */
#include "forwarded.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"

static bool is_trusted(const char *addr, char *const *trusted, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(trusted[i], addr))
            return true;
    return false;
}

/* The entry of xff that ends just before end, trimmed, into buf; returns its start. */
static const char *entry_before(const char *xff, const char *end, char *buf, size_t size)
{
    const char *start = end;
    while (start > xff && start[-1] != ',')
        start--;
    const char *a = start, *b = end;
    while (a < b && (*a == ' ' || *a == '\t'))
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
    snprintf(buf, size, "%.*s", (int)(b - a), a);
    return start;
}

const char *forwarded_client(const char *peer, const char *xff, char *const *trusted, size_t n,
                             char *buf, size_t size)
{
    if (!xff || !*xff || !is_trusted(peer, trusted, n))
        return peer;
    const char *end = xff + strlen(xff);
    for (;;) {
        const char *start = entry_before(xff, end, buf, size);
        if (!buf[0] || !cidr_valid(buf) || strchr(buf, '/'))
            return buf[0] ? buf : "unknown";
        if (start == xff || !is_trusted(buf, trusted, n))
            return buf;
        end = start - 1;
    }
}
