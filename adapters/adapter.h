/* adapter.h — the whole interface between the broker and a PBX dialect.
 * An adapter is pure translation: no Redis, no sockets, no clock of its own (now is passed in). */
#ifndef CR_ADAPTER_H
#define CR_ADAPTER_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* An inbound webhook as the broker received it. Headers are looked up by lowercase name. */
typedef struct adapter_request {
    const char *method;  /* "POST" */
    const char *subpath; /* what follows /v1/hooks/INTEGRATION/ADAPTER, "" or "/events/call" */
    const char *query;   /* raw query string without '?', or "" */
    const char *content_type;
    const char *body;
    size_t body_len;
    const char *(*header)(const struct adapter_request *req, const char *lowercase_name);
    void *header_ctx;
    int64_t now; /* Unix seconds, for signature freshness */
} adapter_request;

enum adapter_status {
    ADAPTER_OK = 0,
    ADAPTER_INVALID,       /* the request is malformed or an event is invalid: 400 */
    ADAPTER_NO_SIGNATURE,  /* verify: the request carries no signature of this dialect */
    ADAPTER_BAD_SIGNATURE, /* verify: a signature is present but wrong or stale: 401 */
};

/* The error an adapter reports: which field (JSON-path-like, "events[2].call.state"; empty
 * when not about a field) and a message an integrator can act on. */
typedef struct adapter_error {
    char field[128];
    char message[256];
} adapter_error;

typedef struct adapter {
    const char *name;
    /* Translates the request into zero or more normalized events, appended to out (a JSON
     * array). Each event carries every field of schemas/event.schema.json it knows except
     * id, integration and user, plus:
     *   "users": ["101", ...]  the extensions it is for (at least one), and
     *   "key": "..."          its idempotency key when the dialect gives one (optional).
     * "ts" may be absent: the broker then stamps the time it received the event.
     * An invalid request gives ADAPTER_INVALID and out is left without partial events. */
    enum adapter_status (*parse)(const adapter_request *req, const json_t *settings, json_t *out,
                                 adapter_error *err);
    /* Checks the dialect's signature with the integration's settings. NULL: no signatures. */
    enum adapter_status (*verify)(const adapter_request *req, const json_t *settings,
                                  adapter_error *err);
} adapter;

/* registry.c: the one table of dialects. */
const adapter *adapter_find(const char *name);
/* NULL-terminated list, for validation messages and listings. */
const adapter *const *adapter_all(void);

#endif
