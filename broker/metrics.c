/* metrics.c — counters live in one struct; the text is rendered only when scraped. */
#include "metrics.h"
#include <stdio.h>
#include <stdlib.h>

cr_metrics metrics;

void metrics_http_status(int status)
{
    if (status >= 100 && status < 600)
        metrics.http_by_status[status]++;
}

static void counter(FILE *f, const char *name, const char *help, const char *type, uint64_t v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
            (unsigned long long)v);
}

char *metrics_render(size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    counter(f, "callrelay_events_accepted_total", "Events stored for at least one user.", "counter",
            metrics.events_accepted);
    counter(f, "callrelay_events_ignored_total", "Events for extensions that are not users.",
            "counter", metrics.events_ignored);
    counter(f, "callrelay_events_duplicate_total", "Events whose idempotency key was seen.",
            "counter", metrics.events_duplicate);
    counter(f, "callrelay_events_delivered_total", "Events written to websocket sessions.",
            "counter", metrics.events_delivered);
    counter(f, "callrelay_sessions_open", "Open websocket sessions.", "gauge",
            metrics.sessions_open);
    counter(f, "callrelay_sessions_culled_total", "Sessions closed for reading too slowly.",
            "counter", metrics.sessions_culled);
    counter(f, "callrelay_redis_connected", "1 when the Redis command connection is up.", "gauge",
            (uint64_t)metrics.redis_connected);
    counter(f, "callrelay_redis_pubsub_connected", "1 when the Redis pub/sub feed is up.", "gauge",
            (uint64_t)metrics.pubsub_connected);
    counter(f, "callrelay_redis_reconnects_total", "Redis connections re-established.", "counter",
            metrics.redis_reconnects);
    fputs("# HELP callrelay_http_requests_total HTTP requests answered, by status.\n"
          "# TYPE callrelay_http_requests_total counter\n",
          f);
    for (int s = 100; s < 600; s++)
        if (metrics.http_by_status[s])
            fprintf(f, "callrelay_http_requests_total{status=\"%d\"} %llu\n", s,
                    (unsigned long long)metrics.http_by_status[s]);
    fclose(f);
    return buf;
}
