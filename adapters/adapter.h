/* adapter.h — the whole interface between the broker and a PBX dialect, in the manner of an
 * nginx upstream module: the adapter checks and compiles its settings, verifies and translates
 * what the PBX sends, and shapes the answer; the broker does all I/O and storage.
 * An adapter is pure translation: no Redis, no sockets, no clock of its own (now is passed in). */
#ifndef CR_ADAPTER_H
#define CR_ADAPTER_H
#include "field_error.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An inbound webhook as the broker received it. The body is complete. */
typedef struct adapter_request {
    const char *method;  /* "POST" */
    const char *subpath; /* what follows /v1/hooks/INTEGRATION/ADAPTER, "" or "/events/call" */
    const char *query;   /* raw query string without '?', or "" */
    const char *content_type;
    const char *body;
    size_t body_len;
    /* Any request header by name, case-insensitive; NULL when absent or empty. The value stays
     * valid until parse (or verify) returns. */
    const char *(*header)(const struct adapter_request *req, const char *name);
    void *header_ctx;
} adapter_request;

/* What an adapter knows of the integration a request is for. */
typedef struct adapter_ctx {
    const char *integration; /* its name */
    const json_t *settings;  /* as stored; checked by check_settings when saved */
    const void *compiled;    /* what compile made of the settings; NULL without compile */
    int64_t now;             /* Unix seconds, for signature freshness */
} adapter_ctx;

enum adapter_status {
    ADAPTER_OK = 0,
    ADAPTER_INVALID,       /* the request is malformed or an event is invalid: 400 */
    ADAPTER_NO_SIGNATURE,  /* verify: the request carries no signature of this dialect */
    ADAPTER_BAD_SIGNATURE, /* verify: a signature is present but wrong or stale: 401 */
    ADAPTER_NOT_FOUND,     /* parse: the dialect never posts to this subpath: 404 */
    ADAPTER_UNSUPPORTED,   /* build_command: the dialect cannot do this command: 501 */
};

/* The error an adapter reports: which field (JSON-path-like, "events[2].call.state"; empty
 * when not about a field) and a message an integrator can act on. */
typedef field_error adapter_error;

/* What the ingest of a request's events did, for the answer: stored, already stored (same
 * key), for nobody (no such user, nobody online, no such call or command), and stale (an
 * order.seq not above the one stored for its order key). */
typedef struct adapter_counts {
    unsigned accepted, duplicates, ignored, stale;
} adapter_counts;

/* The answer the PBX gets once the events are stored. body is malloc'd; the broker frees it. */
typedef struct adapter_answer {
    int status;
    const char *content_type; /* static */
    char *body;
    size_t body_len;
} adapter_answer;

/* A request to the PBX that an adapter builds for a command; the broker sends it with its own
 * deadlines. Every string is malloc'd (adapter_http_clear frees them), except method. */
typedef struct adapter_http {
    const char *method; /* static: "GET", "POST", "PUT", "PATCH", "DELETE" */
    char *url;
    char *headers; /* "Name: value\r\n" lines, or NULL */
    char *body;    /* or NULL */
    size_t body_len;
    /* The answer is a file to pass on to the client (a recording): the broker streams a 2xx
     * body without holding it, follows redirects (without sending credentials to another
     * host), and hands only a non-2xx answer to parse_command_answer. */
    bool stream;
} adapter_http;

/* The PBX's answer to an adapter_http, as parse_command_answer sees it. */
typedef struct adapter_reply {
    int status;               /* HTTP status; 0 when no answer came */
    bool timed_out;           /* no answer in time (status 0) */
    const char *content_type; /* or NULL */
    const char *location;     /* the Location header, or NULL */
    const char *body;         /* NUL-terminated; body_len bytes (capped by the broker) */
    size_t body_len;
} adapter_reply;

typedef struct adapter {
    const char *name;
    /* verify checks Standard Webhooks headers (webhook-id, -timestamp, -signature): the broker
     * refuses a request that has neither them nor a token from its head, before its body.
     * false: the dialect signs its own way (Mango in the body, Twilio in its header), and
     * verify alone decides once the body is in. */
    bool standard_webhooks;
    /* parse makes every event with event_check_copy, the contract's own check, and adds only
     * what keeps the contract (native: a key that fits): the broker does not check those events
     * a second time. fuzz_native checks that they keep it. */
    bool events_checked;
    /* Checks the dialect's own settings (the broker checks the common ones) when an integration
     * is created or updated. err->field names the setting ("webhook_secret"), without the
     * "settings." prefix the broker adds. Returns 0, or -1 with err set. NULL: nothing to check. */
    int (*check_settings)(const json_t *settings, adapter_error *err);
    /* Turns checked settings into the form parse and verify use, once per load of the
     * integration; kept with it and freed with free_compiled. Returns 0, or -1 (the integration
     * is then not loaded). NULL: ctx->compiled stays NULL. */
    int (*compile)(const json_t *settings, void **compiled, adapter_error *err);
    void (*free_compiled)(void *compiled);
    /* Translates the request into zero or more normalized events, appended to out (a JSON
     * array). Each event carries every field of schemas/event.schema.json it knows except
     * id, integration and user, plus:
     *   "users": ["101", ...]  the extensions it is for (at least one), or
     *   "target": "..."       one_online, call_parties or command (event_check.h), and
     *   "key": "..."          its idempotency key when the dialect gives one (optional),
     *   "order": {"key", "seq"} its place among the call's events (optional): the broker
     *                         drops one not above the last stored for its key as stale.
     * "ts" may be absent: the broker then stamps the time it received the event.
     * The broker checks every event against the contract (event_check.h) before storing it.
     * An invalid request gives ADAPTER_INVALID and out is left without partial events. */
    enum adapter_status (*parse)(const adapter_ctx *ctx, const adapter_request *req, json_t *out,
                                 adapter_error *err);
    /* Checks the dialect's signature with the integration's settings. NULL: no signatures. */
    enum adapter_status (*verify)(const adapter_ctx *ctx, const adapter_request *req,
                                  adapter_error *err);
    /* Shapes the answer to a request whose events were stored (or that had none). Returns 0,
     * or -1 on allocation failure (the broker answers 500). */
    int (*answer)(const adapter_ctx *ctx, const adapter_counts *counts, adapter_answer *out);
    /* Commands (docs/commands.md). NULL build_command: the dialect has no command API, and
     * every command is answered 501. The broker hands a command as a JSON object:
     *   "op"          "callback", "route", "transfer", "hangup", "record" (fetch a recording),
     *                 or "status" (the poll of a call a polled provider placed);
     *   "command_id"  always present (the client's, or one the broker made);
     *   callback:     "extension", "to_number", optional "line_number";
     *   route:        "call_id", "to_extension", optional "extension" (who asked);
     *   transfer:     "call_id", "to_number", "method" ("blind" or "hold"), optional "extension";
     *   hangup:       "call_id";
     *   record:       "recording_id" and, when an event gave it, "url"; optional "call_id";
     *   status:       "call_id" (the provider's id), "user", optional "number", "last" (the
     *                 provider's last status seen, "" at first), "seq" (events emitted so far);
     *   "session"     what the adapter last returned as "session" for this integration on
     *                 this instance (a login token, say), {} at first;
     *   "step"        what the adapter's last "next" asked for, absent at first.
     * build_command returns ADAPTER_OK with out filled, ADAPTER_INVALID (400, err names the
     * field), or ADAPTER_UNSUPPORTED (501: the dialect cannot do this op). */
    enum adapter_status (*build_command)(const adapter_ctx *ctx, const json_t *command,
                                         adapter_http *out, adapter_error *err);
    /* Reads the PBX's answer into result, a JSON object the broker acts on; every key optional:
     *   "status"   the HTTP status for the client (default 200; 502 when the PBX failed);
     *   "code"     the result code (lib/result.h; default 0) and "message";
     *   "answer"   an object of fields added to the client's answer ({"call_id": "..."});
     *   "session"  replaces the integration's session (an object; {} forgets it);
     *   "next"     an object: send another request for this command: the broker sets the
     *              command's "step" to it and calls build_command again (at most 6 requests
     *              per command; a login before the real request, say);
     *   "events"   normalized events (as parse makes them) the broker stores;
     *   "poll"     {"call_id", "user", "number"}: the provider placed a call whose status the
     *              broker polls with op "status" until "done";
     *   "done"     true: a polled call ended, stop polling it;
     *   "retry_ms" a poll that failed: poll again no sooner than this.
     * Returns 0, or -1 with err set when the answer cannot be read (the broker answers 502). */
    int (*parse_command_answer)(const adapter_ctx *ctx, const json_t *command,
                                const adapter_reply *reply, json_t *result, adapter_error *err);
} adapter;

/* registry.c: the one table of dialects. */
const adapter *adapter_find(const char *name);
/* NULL-terminated list, for validation messages and listings. */
const adapter *const *adapter_all(void);

#endif
