/* tls.h — the listener's certificate and key (CALLRELAY_TLS_CERT, CALLRELAY_TLS_KEY), checked
 * once at start so that a bad pair stops the process with one line, not a failing worker. */
#ifndef CR_TLS_H
#define CR_TLS_H
#include "config.h"
#include <stddef.h>

/* 0 when TLS is off (neither set) or both files load and the key matches the certificate;
 * else -1 with one line (no newline) in err naming the setting. */
int tls_check(const cr_config *c, char *err, size_t errlen);

#endif
