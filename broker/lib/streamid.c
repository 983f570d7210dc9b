/* streamid.c — strict parsing: digits, one dash, digits, no sign, no overflow. */
#include "streamid.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static bool parse_part(const char *s, const char **end, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *e;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno)
        return false;
    *out = v;
    *end = e;
    return true;
}

bool streamid_parse(const char *s, streamid *out)
{
    const char *p;
    if (!s || !parse_part(s, &p, &out->ms) || *p != '-')
        return false;
    return parse_part(p + 1, &p, &out->seq) && *p == 0;
}

int streamid_cmp(streamid a, streamid b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

bool streamid_is_zero(streamid a) { return a.ms == 0 && a.seq == 0; }

void streamid_format(streamid id, char out[STREAMID_MAX_LEN])
{
    snprintf(out, STREAMID_MAX_LEN, "%llu-%llu", (unsigned long long)id.ms,
             (unsigned long long)id.seq);
}
