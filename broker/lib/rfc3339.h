/* rfc3339.h — RFC 3339 date-times ("2026-11-23T18:00:00.123Z", any offset, up to
 * milliseconds kept). Pure. */
#ifndef CR_RFC3339_H
#define CR_RFC3339_H
#include <stdint.h>

/* Returns 0 with *unix_ms set, or -1 when s is not a whole RFC 3339 date-time. */
int rfc3339_parse(const char *s, int64_t *unix_ms);

#endif
