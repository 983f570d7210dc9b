/* credentials.h — the integration token a request carries, wherever a PBX can put it. Pure:
 * the one reading of credentials, for the broker and its tests. */
#ifndef CR_CREDENTIALS_H
#define CR_CREDENTIALS_H
#include <stddef.h>

/* From the Authorization header: "Bearer T", or HTTP Basic with T as the password (any user
 * name). Returns buf holding T, or NULL. authorization may be NULL. */
const char *credentials_from_header(const char *authorization, char *buf, size_t size);
/* From the raw query string: the parameter token=T, percent-decoded. T ends at '&' or at a
 * second '?': FreeSWITCH appends "?uuid=..." to a configured URL that has a query already.
 * Returns buf holding T, or NULL. */
const char *credentials_from_query(const char *query, char *buf, size_t size);

#endif
