/* metrics.h — process-wide counters, rendered in Prometheus text format. With several
 * workers the counters live in one shared mapping, so any worker answers /metrics for all. */
#ifndef CR_METRICS_H
#define CR_METRICS_H
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_WORKERS 64
/* Upper bounds, in milliseconds, of the notification latency histogram's buckets (+Inf after). */
#define METRICS_LATENCY_BUCKETS_MS                                                                 \
    {                                                                                              \
        5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 3600000       \
    }
#define METRICS_LATENCY_BUCKETS 15

/* What a limit refused or closed (callrelay_limited_total{limit=...}). */
enum metric_limit {
    LIMIT_WS_TOTAL,   /* upgrade over CALLRELAY_MAX_WEBSOCKETS: 503 */
    LIMIT_WS_USER,    /* upgrade over CALLRELAY_MAX_WEBSOCKETS_PER_USER: 429 */
    LIMIT_ORIGIN,     /* upgrade from an Origin not in CALLRELAY_ALLOWED_ORIGINS: 403 */
    LIMIT_RATE,       /* request over CALLRELAY_RATE_LIMIT: 429 */
    LIMIT_IDLE,       /* tab silent for CALLRELAY_WS_IDLE_TIMEOUT: 1008 */
    LIMIT_QUEUE_HARD, /* tab's queue over CALLRELAY_WS_QUEUE_HARD_BYTES: 1008 */
    LIMIT_QUEUE_SOFT, /* over CALLRELAY_WS_QUEUE_SOFT_BYTES for its seconds: 1008 */
    LIMIT_COUNT
};

typedef struct cr_metrics {
    uint64_t events_accepted, events_ignored, events_duplicate, events_stale, events_delivered;
    int64_t sessions_open;
    uint64_t sessions_culled;
    uint64_t redis_reconnects;
    uint64_t http_by_status[600];
    uint64_t notify_queued, notify_sent, notify_retried, notify_failed, notify_dead;
    uint64_t notify_latency[METRICS_LATENCY_BUCKETS + 1], notify_latency_sum_ms;
    uint64_t pbx_requests, pbx_failures, pbx_timeouts;
    uint64_t limited[LIMIT_COUNT];
    int workers;
    int redis_connected[METRICS_MAX_WORKERS], pubsub_connected[METRICS_MAX_WORKERS];
} cr_metrics;

extern cr_metrics *metrics;
extern int metrics_worker; /* this process's slot */

#define METRIC_ADD(field, n) __atomic_fetch_add(&metrics->field, (n), __ATOMIC_RELAXED)
#define METRIC_SUB(field, n) __atomic_fetch_sub(&metrics->field, (n), __ATOMIC_RELAXED)

/* Before any worker starts: a mapping shared by the processes forked afterwards. */
int metrics_init(int workers);
void metrics_http_status(int status);
void metrics_redis_state(int command_connected, int pubsub_connected);
/* A notification delivered ms milliseconds after its event was stored. */
void metrics_notify_latency(int64_t ms);
/* Returns a malloc'd text body; *len set. */
char *metrics_render(size_t *len);

#endif
