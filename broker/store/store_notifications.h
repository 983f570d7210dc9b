/* store_notifications.h — what the notifications API reads and changes in Redis
 * (notify_list.lua, notify_retry.lua; docs/redis-layout.md "Notifications"). */
#ifndef CR_STORE_NOTIFICATIONS_H
#define CR_STORE_NOTIFICATIONS_H
#include "store_outcome.h"
#include <hiredis/hiredis.h>
#include <stddef.h>

/* list: notify_list.lua's reply (per notification {id, {field, value...}, {attempt JSON...}}),
 * valid during the call; NULL unless STORE_OK. */
typedef void (*store_notify_list_cb)(store_outcome o, const redisReply *list, void *ud);
typedef void (*store_notify_count_cb)(store_outcome o, long long n, void *ud);

/* status: pending, dead or delivered; newest first, at most limit. */
int store_notify_list(const char *integration, const char *status, unsigned limit,
                      store_notify_list_cb cb, void *ud);
int store_notify_get(const char *integration, const char *id, store_notify_list_cb cb, void *ud);
/* Queues again the delivered or dead ones among ids; cb gets how many. */
int store_notify_retry_ids(const char *integration, const char *const *ids, size_t n,
                           store_notify_count_cb cb, void *ud);
/* Queues again the dead ones that died at since_ms or later. */
int store_notify_retry_dead(const char *integration, long long since_ms, store_notify_count_cb cb,
                            void *ud);

#endif
