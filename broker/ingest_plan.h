/* ingest_plan.h — how much work a webhook asks of Redis, and how a batch of webhooks is cut
 * into script calls that Redis runs in milliseconds. Pure: no Redis, no loop. */
#ifndef CR_INGEST_PLAN_H
#define CR_INGEST_PLAN_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One script call appends at most this many stream entries, and carries at most this many
 * bytes of events, unless a single event is larger: an event is never split across calls. */
#define INGEST_CALL_MAX_APPENDS 500
#define INGEST_CALL_MAX_BYTES (512u << 10)
/* What one request may store: about this many bytes (each user's copy of each event). */
#define INGEST_REQUEST_MAX_BYTES (16u << 20)
/* A wake-up PUBLISH carries whole lines and at most this many bytes, unless one line is larger. */
#define INGEST_WAKE_MAX_BYTES 65536

typedef struct ingest_cost {
    size_t deliveries; /* events x users: one stream entry each */
    size_t bytes;      /* estimate: per event, its users x its compact JSON; 0 when not needed */
} ingest_cost;

enum ingest_verdict { INGEST_FITS, INGEST_TOO_MANY_DELIVERIES, INGEST_TOO_MANY_BYTES };

/* events: an adapter's output (each with "users", an array, "user", or "target", which counts
 * as one delivery). body_len: the
 * request's body, an upper bound of any one event's size, so that the exact byte count is
 * computed only for requests that could be over INGEST_REQUEST_MAX_BYTES. */
enum ingest_verdict ingest_plan_check(const json_t *events, size_t body_len, size_t max_deliveries,
                                      ingest_cost *cost);

/* Whether an event of `appends` entries and `bytes` bytes joins a call that holds `events`
 * events, `have_appends` entries and `have_bytes` bytes, or starts the next call. */
bool ingest_plan_fits(unsigned events, unsigned have_appends, size_t have_bytes, unsigned appends,
                      size_t bytes);

#endif
