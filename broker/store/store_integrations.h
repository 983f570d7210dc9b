/* store_integrations.h — integrations' records in Redis, in domain terms (store_outcome.h
 * says how calls answer). A change is announced to every instance on the control channel by
 * the same script that makes it. */
#ifndef CR_STORE_INTEGRATIONS_H
#define CR_STORE_INTEGRATIONS_H
#include "store_outcome.h"
#include <stddef.h>

typedef struct store_integration {
    const char *name;
    const char *record; /* JSON, as stored */
} store_integration;

typedef void (*store_integrations_cb)(store_outcome o, const store_integration *v, size_t n,
                                      void *ud);

/* Writes the record (integration_put.lua): found is false when create found the integration
 * present, or an update found it absent. */
int store_integration_put(const char *name, const char *record, bool create, store_found_cb cb,
                          void *ud);
/* Deletes it with its users, streams and cursors (integration_delete.lua). */
int store_integration_delete(const char *name, store_found_cb cb, void *ud);
int store_integrations_list(store_integrations_cb cb, void *ud);
/* One record: n is 0 when the integration does not exist. */
int store_integration_get(const char *name, store_integrations_cb cb, void *ud);

#endif
