/* ingest.h — storing webhook events. The webhooks accepted in one pass of the loop are stored
 * together by ingest.lua: Redis runs one script instead of one per request. A large batch is
 * cut, between events, into calls of bounded size (ingest_plan.h) that leave in order, so that
 * no call stalls Redis; each event stays atomic. A webhook is stored when all its calls are. */
#ifndef CR_INGEST_H
#define CR_INGEST_H
#include "config.h"
#include "integrations.h"
#include <jansson.h>
#include <uv.h>

enum ingest_status { INGEST_STORED, INGEST_UNAVAILABLE, INGEST_FAILED };

/* Called once per submitted webhook, after Redis answered every call holding its events (or
 * could not). INGEST_FAILED: its one call got an error; INGEST_UNAVAILABLE otherwise, also
 * when only some of its calls failed (a retry is de-duplicated by the event keys). */
typedef void (*ingest_cb)(void *ud, enum ingest_status st, const adapter_counts *counts);

/* on_queued(n): a stored batch queued n notifications (the notifier may send them at once). */
int ingest_init(uv_loop_t *loop, const cr_config *cfg, void (*on_queued)(unsigned n));
void ingest_stop(void);
/* events: the adapter's output (see adapter.h). Returns 0 when queued (cb will be called), -1
 * when out of memory (cb will not be called). */
int ingest_submit(const integration *in, const json_t *events, ingest_cb cb, void *ud);

#endif
