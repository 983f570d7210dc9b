/* forwarded.h — the client's address behind reverse proxies: X-Forwarded-For is believed only
 * from proxies the operator trusts (CALLRELAY_TRUSTED_PROXIES). Pure. */
#ifndef CR_FORWARDED_H
#define CR_FORWARDED_H
#include <stddef.h>

/* peer: the address of the TCP peer. xff: the X-Forwarded-For value (all of its headers joined
 * by ", "), or NULL. trusted: n CIDRs. Walking from the peer leftwards through the list, the
 * first address that is not a trusted proxy is the client; when every one is trusted, the
 * leftmost. An entry that is not an address ends the walk and is returned as it is (it then
 * matches no allow list). Returns peer itself, or buf. */
const char *forwarded_client(const char *peer, const char *xff, char *const *trusted, size_t n,
                             char *buf, size_t size);

#endif
