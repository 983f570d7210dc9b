/* metrics.c — counters in one struct (shared between workers); rendered only when scraped. */
#include "metrics.h"
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

char *metrics_render(size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    const cr_metrics *m = metrics;
    metric(f, "callrelay_events_accepted_total", "Events stored for at least one user.", "counter",
           (long long)m->events_accepted);
    metric(f, "callrelay_events_ignored_total", "Events for extensions that are not users.",
           "counter", (long long)m->events_ignored);
    metric(f, "callrelay_events_duplicate_total", "Events whose idempotency key was seen.",
           "counter", (long long)m->events_duplicate);
    metric(f, "callrelay_events_stale_total",
           "Events whose order.seq was not above the one stored for their order key.", "counter",
           (long long)m->events_stale);
    metric(f, "callrelay_events_delivered_total", "Events written to websocket sessions.",
           "counter", (long long)m->events_delivered);
    metric(f, "callrelay_sessions_open", "Open websocket sessions.", "gauge",
           (long long)m->sessions_open);
    metric(f, "callrelay_sessions_culled_total", "Sessions closed for reading too slowly.",
           "counter", (long long)m->sessions_culled);
    metric(f, "callrelay_redis_connected", "1 when the Redis command connection is up.", "gauge",
           all_up(m->redis_connected));
    metric(f, "callrelay_redis_pubsub_connected", "1 when the Redis pub/sub feed is up.", "gauge",
           all_up(m->pubsub_connected));
    metric(f, "callrelay_redis_reconnects_total", "Redis connections established.", "counter",
           (long long)m->redis_reconnects);
    metric(f, "callrelay_workers", "Worker processes sharing the port.", "gauge", m->workers);
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
