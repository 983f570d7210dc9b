/* event_check.h — the one description of the normalized event an adapter hands the broker
 * (schemas/event.schema.json plus the declarations to the broker: "users" or "target",
 * "key" and "order"). */
#ifndef CR_EVENT_CHECK_H
#define CR_EVENT_CHECK_H
#include <jansson.h>

#include "field_error.h"

#define EVENT_MAX_USERS 100
#define EVENT_MAX_STR 200
/* order.seq: exact as a Lua number (a double) in the ingest script */
#define EVENT_MAX_SEQ 9007199254740991LL

/* Checks src field by field and returns a new event with its known fields only ("user" becomes
 * "users"; ts rewritten as UTC with milliseconds). Declarations: "users" (1..100 extensions) or
 * "target" ("one_online": one user with a registered tab, else fallback_extension;
 * "call_parties": the users of the call the broker keeps; "command": the user who sent the
 * command in route_result.command_id, whose call_id it then takes, so call_id may be absent);
 * "key" (idempotency); "order" {"key", "seq" 0..2^53-1}: within one key, an event whose seq is
 * not above the last stored one is stale, or NULL with e naming the field under path
 * ("events[2].call.state"). For input a PBX sends in the normalized form. */
json_t *event_check_copy(const json_t *src, const char *path, field_error *e);
/* Checks an adapter's output event as it is; 0, or -1 with e set. */
int event_check(const json_t *ev, const char *path, field_error *e);
/* Checks every event of an adapter's output array; e->field starts with "events[I]". */
int event_check_all(const json_t *events, field_error *e);

#endif
