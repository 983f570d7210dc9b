/* event.h — from an adapter's event to what ingest.lua stores: one compact JSON template per
 * event, without "id" (Redis assigns it; the hub splices it in when sending) and with marks
 * where the script puts what only it knows (the user of each copy, a command's call_id, the
 * group-disconnect flag), and the fields of the call's state the script keeps. */
#ifndef CR_EVENT_H
#define CR_EVENT_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_KEY_MAX 200

/* Marks in the template. jansson escapes every control byte, so none occurs in its output. */
#define EVENT_MARK_USER '\1'    /* the extension of the copy, inside a JSON string */
#define EVENT_MARK_CALL_ID '\2' /* the call_id as a JSON string (command target without one) */
#define EVENT_MARK_GROUP '\3'   /* ',"is_group_disconnect":true' or nothing */
#define EVENT_GROUP_FLAG ",\"is_group_disconnect\":true"

enum event_target { EVENT_TO_USERS, EVENT_TO_ONE_ONLINE, EVENT_TO_CALL_PARTIES, EVENT_TO_COMMAND };

typedef struct event_prepared {
    char *key; /* idempotency key: the event's "key", else sha256 hex of its content */
    enum event_target target;
    char *command_id; /* EVENT_TO_COMMAND: route_result.command_id */
    size_t n_users;   /* EVENT_TO_USERS: the extensions, de-duplicated, in the order given */
    char **users;
    /* compact, keys in a fixed order, starting with '{' (kind comes first) */
    char *json;
    size_t json_len;
    /* What the call's state takes from the event, NUL-terminated fields: CALL_ID, KIND,
     * STATE, ORDER_SEQ, ORDER_KEY, then pairs FIELD, VALUE of the call hash
     * (docs/redis-layout.md); empty strings for what the event does not give. Values never hold
     * a NUL (jansson refuses it in strings). */
    char *state;
    size_t state_len;
} event_prepared;

/* ev: one event as an adapter produced it (see adapter.h) and event_check accepted it. Sets
 * integration, source and user (a mark), stamps ts from now_ms when absent, drops "users",
 * "target", "order" and "key". A missing key is the SHA-256 of the event's content as the
 * adapter normalized it (fixed field order, so reordered fields do not matter), without the ts
 * stamped here: a PBX retry of the same event gets the same key. Returns 0, or -1 on
 * allocation failure or an event without its audience, kind or call_id. */
int event_prepare(const json_t *ev, const char *integration, const char *source, int64_t now_ms,
                  event_prepared *out);
void event_prepared_free(event_prepared *p);

/* The copy for one user, as ingest.lua makes it: call_id_json replaces the call_id mark (NULL:
 * there is none), group says whether the group flag goes in. malloc'd, or NULL. */
char *event_for_user(const event_prepared *p, const char *user, const char *call_id_json,
                     bool group);

/* RFC 3339 UTC with milliseconds: "2026-11-23T18:00:00.123Z". buf >= 32 bytes. */
void event_format_ts(int64_t unix_ms, char *buf, size_t size);

#endif
