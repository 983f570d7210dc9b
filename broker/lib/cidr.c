/* cidr.c — parsing through inet_pton; prefixes compared bit by bit on 16-byte forms. */
#include "cidr.h"
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* Fills a 16-byte address (IPv4 as IPv4-mapped IPv6) and returns its bit length, or -1. */
static int parse_addr(const char *s, unsigned char out[16])
{
    struct in_addr v4;
    if (inet_pton(AF_INET, s, &v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return 32;
    }
    return inet_pton(AF_INET6, s, out) == 1 ? 128 : -1;
}

static int parse_cidr(const char *cidr, unsigned char net[16], int *prefix)
{
    char host[64];
    const char *slash = strchr(cidr, '/');
    size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (n == 0 || n >= sizeof host)
        return -1;
    memcpy(host, cidr, n);
    host[n] = 0;
    int bits = parse_addr(host, net);
    if (bits < 0)
        return -1;
    *prefix = bits;
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || p < 0 || p > bits)
            return -1;
        *prefix = (int)p;
    }
    if (bits == 32)
        *prefix += 96;
    return 0;
}

bool cidr_valid(const char *cidr)
{
    unsigned char net[16];
    int prefix;
    return parse_cidr(cidr, net, &prefix) == 0;
}

bool cidr_contains(const char *cidr, const char *addr)
{
    unsigned char net[16], a[16];
    int prefix;
    if (parse_cidr(cidr, net, &prefix) != 0 || parse_addr(addr, a) < 0)
        return false;
    for (int i = 0; i < prefix; i++) {
        unsigned char m = (unsigned char)(0x80 >> (i % 8));
        if ((net[i / 8] & m) != (a[i / 8] & m))
            return false;
    }
    return true;
}
