/* poller.h — polls the status of the calls a provider without webhooks placed (ZaaS): each
 * call lives in Redis (docs/redis-layout.md, "Polled calls") until it ends or is 4 hours old;
 * instances lease due calls, so two never poll one call at once and a dead instance's calls
 * are polled again when its lease ends. Each poll is the command {"op":"status"} run through
 * commands_run; its events are stored there. */
#ifndef CR_POLLER_H
#define CR_POLLER_H
#include "config.h"
#include "http_client.h"
#include <stdbool.h>
#include <uv.h>

#define POLLER_MAX_AGE_MS (4LL * 3600 * 1000)
#define POLLER_BACKOFF_MAX_MS 30000
#define POLLER_INTERVAL_MS 1000 /* settings.<dialect>.poll_interval_ms when absent */

/* Starts claiming and makes poller_add the engine's destination for polls (commands_on_poll).
 * client is the process's HTTP client: the polls go through commands_run, which uses it.
 * Returns 0, or -1 when out of memory. */
int poller_init(uv_loop_t *loop, const cr_config *cfg, http_client *client);
/* Stops claiming; polls in flight finish without being recorded (their leases run out). */
void poller_stop(void);
/* Persists a call to poll (Redis) and schedules its first poll; cb(ud, ok) once written.
 * Returns 0 (cb will be called) or -1 (Redis not connected or no memory; cb will not be). */
int poller_add(const char *integration, const char *call_id, const char *user, const char *number,
               void (*cb)(void *ud, bool ok), void *ud);
/* The delay before the next poll: the interval after a success; after the n-th failure in a
 * row (n >= 1), the interval doubled n times, or retry_ms when longer; at most
 * POLLER_BACKOFF_MAX_MS either way. Inline so the unit tests reach it without a loop. */
static inline long poller_delay_ms(long interval_ms, long failures, long retry_ms)
{
    long d = interval_ms > 0 ? interval_ms : POLLER_INTERVAL_MS;
    for (long i = 0; i < failures && d < POLLER_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (failures > 0 && retry_ms > d)
        d = retry_ms;
    return d < POLLER_BACKOFF_MAX_MS ? d : POLLER_BACKOFF_MAX_MS;
}

#endif
