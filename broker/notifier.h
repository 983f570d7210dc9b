/* notifier.h — sends the notifications that ingest.lua queues (API.md "Outbound
 * notifications"). Every instance runs one: it leases what is due from Redis, renders each
 * request from the integration's current rule, sends it through the HTTP client on the loop,
 * and records the attempt; a notification of a killed instance goes to another when its lease
 * runs out. */
#ifndef CR_NOTIFIER_H
#define CR_NOTIFIER_H
#include "config.h"
#include "http_client.h"
#include <uv.h>

/* client: the process's HTTP client (main owns it). */
int notifier_start(uv_loop_t *loop, const cr_config *cfg, const char *instance,
                   http_client *client);
/* Notifications were queued, or Redis is back: look for due ones now. */
void notifier_kick(void);
/* Requests in flight are abandoned (their leases run out and they are sent again). */
void notifier_stop(void);

#endif
