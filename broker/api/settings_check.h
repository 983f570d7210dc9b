/* settings_check.h — an integration's settings checked when it is created or updated. */
#ifndef CR_SETTINGS_CHECK_H
#define CR_SETTINGS_CHECK_H
#include "adapter.h"
#include <stddef.h>

/* The common settings here, the dialect's own by a->check_settings. Returns 0, or -1 with
 * field ("settings.NAME") and message filled. */
int settings_check(const adapter *a, const json_t *settings, char *field, size_t fsize, char *msg,
                   size_t msize);

#endif
