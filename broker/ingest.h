/* ingest.h — storing webhook events. Every webhook accepted in one pass of the loop is stored
 * by one call of ingest.lua: Redis runs one script instead of one per request, and publishes
 * one wake-up for all of them. Each webhook's events stay atomic: the whole batch is. */
#ifndef CR_INGEST_H
#define CR_INGEST_H
#include "config.h"
#include "integrations.h"
#include <jansson.h>
#include <uv.h>

enum ingest_status { INGEST_STORED, INGEST_UNAVAILABLE, INGEST_FAILED };

/* Called once per submitted webhook, after Redis answered (or could not). */
typedef void (*ingest_cb)(void *ud, enum ingest_status st, unsigned accepted, unsigned duplicates,
                          unsigned ignored);

int ingest_init(uv_loop_t *loop, const cr_config *cfg);
void ingest_stop(void);
/* events: the adapter's output (see adapter.h). Returns 0 when queued (cb will be called), -1
 * when out of memory (cb will not be called). */
int ingest_submit(const integration *in, const json_t *events, ingest_cb cb, void *ud);

#endif
