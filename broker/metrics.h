/* metrics.h — process-wide counters, rendered in Prometheus text format. */
#ifndef CR_METRICS_H
#define CR_METRICS_H
#include <stddef.h>
#include <stdint.h>

typedef struct cr_metrics {
    uint64_t events_accepted, events_ignored, events_duplicate, events_delivered;
    uint64_t sessions_open;
    uint64_t sessions_culled;
    uint64_t redis_reconnects;
    int redis_connected, pubsub_connected;
    uint64_t http_by_status[600];
} cr_metrics;

extern cr_metrics metrics;

void metrics_http_status(int status);
/* Returns a malloc'd text body; *len set. */
char *metrics_render(size_t *len);

#endif
