/* event.h — from an adapter's events to what is stored: one compact JSON text per
 * (event, user), without "id" (Redis assigns it; the hub splices it in when sending). */
#ifndef CR_EVENT_H
#define CR_EVENT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_KEY_MAX 200

typedef struct event_prepared {
    char *key; /* idempotency key: the event's "key", else sha256 hex of its content */
    size_t n_users;
    char **users; /* extensions, de-duplicated, in the order given */
    char **json;  /* json[i]: the event for users[i]; compact, keys in a fixed order,
                     starting with '{' and never "{}" (kind comes first) */
} event_prepared;

/* ev: one event as an adapter produced it (see adapter.h). Sets integration, source and
 * user (per copy), stamps ts from now_ms when absent, drops "users" and "key".
 * A missing key is the SHA-256 of the event's content as the adapter normalized it (fixed
 * field order, so reordered fields do not matter), without the ts stamped here: a PBX retry
 * of the same event gets the same key. Returns 0, or -1 on allocation failure. */
int event_prepare(const json_t *ev, const char *integration, const char *source, int64_t now_ms,
                  event_prepared *out);
void event_prepared_free(event_prepared *p);

/* RFC 3339 UTC with milliseconds: "2026-11-23T18:00:00.123Z". buf >= 32 bytes. */
void event_format_ts(int64_t unix_ms, char *buf, size_t size);

#endif
