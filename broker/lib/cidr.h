/* cidr.h — source-address allow lists ("10.0.0.0/8", "2001:db8::/32", "127.0.0.1"). */
#ifndef CR_CIDR_H
#define CR_CIDR_H
#include <stdbool.h>

bool cidr_valid(const char *cidr);
/* true when addr (textual IPv4 or IPv6) lies in cidr. IPv4-mapped IPv6 matches IPv4. */
bool cidr_contains(const char *cidr, const char *addr);

#endif
