/* metrics.c — counters in one struct (shared between workers); rendered only when scraped. */
#include "metrics.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static cr_metrics local = {.workers = 1};
cr_metrics *metrics = &local;
int metrics_worker;

int metrics_init(int workers)
{
    if (workers <= 1)
        return 0;
    void *m =
        mmap(NULL, sizeof(cr_metrics), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    metrics = m;
    metrics->workers = workers;
    return 0;
}

void metrics_http_status(int status)
{
    if (status >= 100 && status < 600)
        METRIC_ADD(http_by_status[status], 1);
}

void metrics_redis_state(int command_connected, int pubsub_connected)
{
    metrics->redis_connected[metrics_worker] = command_connected;
    metrics->pubsub_connected[metrics_worker] = pubsub_connected;
}

static const int64_t latency_bounds[METRICS_LATENCY_BUCKETS] = METRICS_LATENCY_BUCKETS_MS;

void metrics_notify_latency(int64_t ms)
{
    int b = 0;
    while (b < METRICS_LATENCY_BUCKETS && ms > latency_bounds[b])
        b++;
    METRIC_ADD(notify_latency[b], 1);
    METRIC_ADD(notify_latency_sum_ms, ms > 0 ? (uint64_t)ms : 0);
}

static void latency_histogram(FILE *f, const cr_metrics *m)
{
#define LATENCY "callrelay_notification_latency_seconds"
    const char *name = LATENCY;
    fputs("# HELP " LATENCY " From an event stored to the receiver's 2xx answer to its "
          "notification.\n# TYPE " LATENCY " histogram\n",
          f);
    unsigned long long sum = 0;
    for (int b = 0; b <= METRICS_LATENCY_BUCKETS; b++) {
        sum += m->notify_latency[b];
        if (b < METRICS_LATENCY_BUCKETS)
            fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, latency_bounds[b] / 1000.0, sum);
        else
            fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, sum);
    }
    fprintf(f, "%s_sum %.3f\n%s_count %llu\n", name, m->notify_latency_sum_ms / 1000.0, name, sum);
}

static void metric(FILE *f, const char *name, const char *help, const char *type, long long v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name, v);
}

/* 1 only when every worker's connection is up. */
static int all_up(const int *state)
{
    for (int i = 0; i < metrics->workers; i++)
        if (!state[i])
            return 0;
    return 1;
}

/* The plain counters and gauges, in the order they are rendered. Each field is 64 bits. */
static const struct {
    const char *name, *help, *type;
    size_t offset;
} counters[] = {
    {"callrelay_events_accepted_total", "Events stored for at least one user.", "counter",
     offsetof(cr_metrics, events_accepted)},
    {"callrelay_events_ignored_total", "Events for extensions that are not users.", "counter",
     offsetof(cr_metrics, events_ignored)},
    {"callrelay_events_duplicate_total", "Events whose idempotency key was seen.", "counter",
     offsetof(cr_metrics, events_duplicate)},
    {"callrelay_events_stale_total",
     "Events whose order.seq was not above the one stored for their order key.", "counter",
     offsetof(cr_metrics, events_stale)},
    {"callrelay_events_delivered_total", "Events written to websocket sessions.", "counter",
     offsetof(cr_metrics, events_delivered)},
    {"callrelay_sessions_open", "Open websocket sessions.", "gauge",
     offsetof(cr_metrics, sessions_open)},
    {"callrelay_sessions_culled_total", "Sessions closed for reading too slowly.", "counter",
     offsetof(cr_metrics, sessions_culled)},
    {"callrelay_redis_reconnects_total", "Redis connections established.", "counter",
     offsetof(cr_metrics, redis_reconnects)},
    {"callrelay_notifications_queued_total", "Notifications queued with their events.", "counter",
     offsetof(cr_metrics, notify_queued)},
    {"callrelay_notifications_sent_total", "Notifications a receiver answered with 2xx.", "counter",
     offsetof(cr_metrics, notify_sent)},
    {"callrelay_notifications_retried_total", "Failed notification attempts that will be retried.",
     "counter", offsetof(cr_metrics, notify_retried)},
    {"callrelay_notifications_failed_total",
     "Failed notification attempts (an error, a timeout or a status other than 2xx).", "counter",
     offsetof(cr_metrics, notify_failed)},
    {"callrelay_notifications_dead_total",
     "Notifications given up after their last attempt or their age.", "counter",
     offsetof(cr_metrics, notify_dead)},
    {"callrelay_pbx_requests_total",
     "Requests to PBXs: commands, logins, polls, recordings (each request of a command).",
     "counter", offsetof(cr_metrics, pbx_requests)},
    {"callrelay_pbx_failures_total",
     "PBX requests that got no answer, or one the adapter read as a failure.", "counter",
     offsetof(cr_metrics, pbx_failures)},
    {"callrelay_pbx_timeouts_total", "PBX requests that got no answer in time.", "counter",
     offsetof(cr_metrics, pbx_timeouts)},
};

char *metrics_render(size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    const cr_metrics *m = metrics;
    for (size_t i = 0; i < sizeof counters / sizeof *counters; i++)
        metric(f, counters[i].name, counters[i].help, counters[i].type,
               *(const int64_t *)((const char *)m + counters[i].offset));
    metric(f, "callrelay_redis_connected", "1 when the Redis command connection is up.", "gauge",
           all_up(m->redis_connected));
    metric(f, "callrelay_redis_pubsub_connected", "1 when the Redis pub/sub feed is up.", "gauge",
           all_up(m->pubsub_connected));
    latency_histogram(f, m);
    metric(f, "callrelay_workers", "Worker processes sharing the port.", "gauge", m->workers);
    static const char *const limits[LIMIT_COUNT] = {
        "websockets_total", "websockets_per_user", "origin", "rate", "idle",
        "queue_hard",       "queue_soft",
    };
    fputs("# HELP callrelay_limited_total Requests and websocket upgrades refused, and websockets "
          "closed, by the limit that did it.\n"
          "# TYPE callrelay_limited_total counter\n",
          f);
    for (int i = 0; i < LIMIT_COUNT; i++)
        fprintf(f, "callrelay_limited_total{limit=\"%s\"} %llu\n", limits[i],
                (unsigned long long)m->limited[i]);
    fputs("# HELP callrelay_http_requests_total HTTP requests answered, by status.\n"
          "# TYPE callrelay_http_requests_total counter\n",
          f);
    for (int s = 100; s < 600; s++)
        if (m->http_by_status[s])
            fprintf(f, "callrelay_http_requests_total{status=\"%d\"} %llu\n", s,
                    (unsigned long long)m->http_by_status[s]);
    fclose(f);
    return buf;
}
