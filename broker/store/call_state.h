/* call_state.h — the call object of GET /v1/calls/CALL_ID and of the first register answer,
 * from the fields of the call's hash (docs/redis-layout.md). Pure. */
#ifndef CR_CALL_STATE_H
#define CR_CALL_STATE_H
#include <jansson.h>
#include <stddef.h>

typedef struct call_field {
    const char *name, *value;
} call_field;

/* One call as read from Redis: its id and the fields of its hash. */
typedef struct call_fields {
    const char *call_id;
    const call_field *v;
    size_t n;
} call_fields;

/* {call_id, state, kind, direction, from, to, line, disconnect, recording, users, updated},
 * each only when its fields are there; fields it does not know are left out. NULL when there
 * are no fields (the call is unknown) or memory ran out. */
json_t *call_state_json(const char *call_id, const call_field *v, size_t n);

#endif
