/* store_presence.h — who has a registered tab, on any instance, in Redis (the `P on` sorted
 * set of docs/redis-layout.md), in domain terms: a user is present on an instance until an
 * expiry that live instances push forward. store_outcome.h says how calls answer; cb may be
 * NULL for a change nobody waits for. */
#ifndef CR_STORE_PRESENCE_H
#define CR_STORE_PRESENCE_H
#include "store_outcome.h"
#include <stddef.h>
#include <stdint.h>

/* The users exts are present on instance until expires_ms (Unix ms). */
int store_presence_put(const char *integration, const char *instance, const char *const *exts,
                       size_t n, int64_t expires_ms, store_done_cb cb, void *ud);
int store_presence_remove(const char *integration, const char *instance, const char *const *exts,
                          size_t n, store_done_cb cb, void *ud);
/* Forgets what expired before now_ms (instances that died without removing theirs). */
int store_presence_prune(const char *integration, int64_t now_ms, store_done_cb cb, void *ud);

/* The distinct extensions present anywhere at now_ms, sorted. */
typedef void (*store_online_cb)(store_outcome o, const char *const *exts, size_t n, void *ud);
int store_presence_online(const char *integration, int64_t now_ms, store_online_cb cb, void *ud);

#endif
