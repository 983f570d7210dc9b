/* names.h — which strings may name an integration or a user (extension).
 * They become parts of Redis keys and of pub/sub lines, so the alphabet is closed:
 * no braces (hash tags), no colon, no whitespace. */
#ifndef CR_NAMES_H
#define CR_NAMES_H
#include <stdbool.h>

#define NAME_MAX_LEN 64

/* integration: [a-z0-9][a-z0-9_-]{0,63} */
bool name_integration_valid(const char *s);
/* extension: [A-Za-z0-9_.+-]{1,64} */
bool name_extension_valid(const char *s);

#endif
