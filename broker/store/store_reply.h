/* store_reply.h — for the store's own files: what a Redis reply came to, as the outcome that
 * callers of the domain API see instead of the reply. */
#ifndef CR_STORE_REPLY_H
#define CR_STORE_REPLY_H
#include "call_state.h"
#include "store_outcome.h"
#include <hiredis/hiredis.h>

/* well_formed says whether the reply has the shape the call expects. */
store_outcome store_outcome_of(const redisReply *r, bool well_formed);

/* A HGETALL reply as name/value pairs pointing into it (malloc'd array; *n pairs); NULL when
 * it is not a flat list of strings or memory ran out. */
call_field *store_reply_call_fields(const redisReply *r, size_t *n);

#endif
