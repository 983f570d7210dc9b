/* store_outcome.h — what a call of the store's domain API came to, without a Redis reply.
 * Each call returns 0 when queued (its callback then runs exactly once) or -1 when Redis is
 * not connected or memory ran out (it never runs). What a callback receives is valid only
 * while it runs. */
#ifndef CR_STORE_OUTCOME_H
#define CR_STORE_OUTCOME_H
#include <stdbool.h>

typedef enum store_status {
    STORE_OK,
    STORE_UNAVAILABLE, /* the connection was lost or is closing */
    STORE_FAILED       /* Redis answered with an error or an unexpected reply */
} store_status;

/* error: with STORE_FAILED, Redis's error text or "unexpected reply". */
typedef struct store_outcome {
    store_status status;
    const char *error;
} store_outcome;

typedef void (*store_done_cb)(store_outcome o, void *ud);
/* found: what the call looked for was there (and, for a change, was changed). */
typedef void (*store_found_cb)(store_outcome o, bool found, void *ud);

#endif
