/* store_calls.h — the state of calls in Redis (`P call:CALL_ID`, written by ingest.lua), read
 * in domain terms: a call's fields, never a Redis reply (store_outcome.h says how calls
 * answer). */
#ifndef CR_STORE_CALLS_H
#define CR_STORE_CALLS_H
#include "call_state.h"
#include "store_outcome.h"

/* call->n is 0 when the call is unknown (never seen, or expired with the retention). */
typedef void (*store_call_state_cb)(store_outcome o, const call_fields *call, void *ud);
int store_call_state(const char *integration, const char *call_id, store_call_state_cb cb,
                     void *ud);

#endif
