/* http.h — the HTTP side: one libwebsockets context on the broker's libuv loop, a route
 * table, request objects that outlive their connection while Redis answers, and answers. */
#ifndef CR_HTTP_H
#define CR_HTTP_H
#include "config.h"
#include "http_head.h"
#include "names.h"
#include "request_id.h"
#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define HTTP_REQ_MAGIC 0x48545250u

enum http_method { HTTP_GET, HTTP_POST, HTTP_OTHER };

typedef struct http_hdr http_hdr; /* a header looked up by name, kept until the request ends */
typedef struct http_out http_out; /* a streamed answer (http_stream.c) */

/* A header added to an answer: name lowercase with its colon ("etag:"). */
typedef struct http_extra_header {
    const char *name, *value;
} http_extra_header;
#define HTTP_EXTRA_HEADERS 4

typedef struct http_req {
    uint32_t magic;
    int refs;
    struct lws *wsi; /* NULL once the connection is gone: answers are then dropped */
    enum http_method method;
    char request_id[REQUEST_ID_MAX + 1]; /* X-Request-Id: the client's when sane, else made */
    uint64_t started_ms;                 /* uv_now when the head arrived */
    char message[160];                   /* an error answer's message, for its log line */
    char path[256];
    char query[1024];
    char peer[64];
    char client[64]; /* the client behind trusted proxies (http_client_address) */
    char host[256];
    char authorization[512];
    char content_type[128];
    char webhook_id[256], webhook_timestamp[64];
    char *webhook_signature;            /* up to HTTP_SIGNATURE_MAX; NULL when absent */
    http_hdr *looked_up;                /* see http_header */
    const char *too_long;               /* a header longer than its copy allows: 431 */
    char integration[NAME_MAX_LEN + 1]; /* set by authentication */
    char token_of[NAME_MAX_LEN + 1];    /* whose token the head carried, once checked */
    bool rate_counted;                  /* charged to its integration's CALLRELAY_RATE_LIMIT */
    char retry_after[24];               /* the Retry-After of a 429 */
    char *body;
    size_t body_len, body_cap, content_length;
    size_t reserved;      /* counted against CALLRELAY_MAX_BUFFERED until released */
    uint64_t deadline_ms; /* the body must be complete by then (uv_now) */
    struct http_req *next_reading, **prev_reading; /* requests reading a body */
    bool body_done, head_waiting;
    /* the answer */
    int status;
    char *resp;
    size_t resp_len;
    const char *resp_type;
    http_extra_header resp_headers[HTTP_EXTRA_HEADERS];
    int n_resp_headers;
    bool responded, close_after;
    bool waited;     /* the handler returned before answering */
    bool refreshed;  /* integrations were reloaded once for this request */
    bool dispatched; /* its handler ran (lws may report the body complete again) */
    bool streaming;  /* the answer is streamed (http_reply_stream_begin) */
    http_out *out;   /* a streamed answer, its watchers (http_reply_stream_*) */
    void *state;     /* a handler's own state, freed with free_state */
    void (*free_state)(void *);
} http_req;

/* listen_fd: from listener_open, shared by every worker. */
/* The API served: its routes, ended by a NULL path (a prefix route matches every path that
 * starts with it), and what a request's head alone decides before its body is read (0 read
 * it, -1 refused as *why says, 1 ask again after one reload of the integrations). */
typedef struct http_route {
    enum http_method method;
    const char *path;
    bool prefix;
    void (*handler)(http_req *r);
} http_route;
typedef struct http_api {
    const http_route *routes;
    int (*head_check)(http_req *r, head_refusal *why);
} http_api;

int http_start(uv_loop_t *loop, const cr_config *cfg, int listen_fd, const http_api *api);
/* Stop accepting and close every websocket (1001); requests in flight go on, and answers
 * close their connection. */
void http_drain(void);
void http_stop(void);
bool http_draining(void);
/* Requests begun and not yet over (answer written or connection gone, handler done). */
size_t http_in_flight(void);
const cr_config *http_config(void);
uv_loop_t *http_loop(void);

/* The answer's log line (status set): with its request id, method, path, status and time. */
void http_log_answer(http_req *r);
/* Refuses a websocket upgrade from LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION with status and a
 * JSON body {"result":{"code","message"}} (message: plain ASCII without quotes); returns -1,
 * what the filter callback returns. */
/* extra (stolen, may be NULL): fields added to the JSON body ({"limit": ...}). */
int http_refuse_upgrade(struct lws *wsi, int status, int code, const char *message, json_t *extra);
/* Adds the request's X-Request-Id header to an answer's head. */
int http_add_request_id(struct lws *wsi, const http_req *r, unsigned char **p, unsigned char *end);

void http_req_hold(http_req *r);
void http_req_release(http_req *r);
/* An answer ends the request; later answers are ignored. body is stolen. */
void http_reply_json(http_req *r, int status, json_t *body);
/* {"result":{"code":code,"message":...},"field":field?} */
void http_reply_error(http_req *r, int status, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void http_reply_ok(http_req *r, json_t *extra);
void http_reply_raw(http_req *r, int status, const char *content_type, char *body, size_t len);
/* A streamed answer (a recording passed through): the head, then the body as the producer
 * hands it over, written only when the client's connection is writable. The queue is bounded:
 * a write that does not fit is refused whole, and more() is called once there is room again.
 * Without a known length the connection closes at the end (lws 4.1 on HTTP/1.1 says
 * "Connection: close"; it does not chunk an answer itself). A client that stops reading for
 * HTTP_STREAM_STALL_SECS is dropped. */
#define HTTP_STREAM_QUEUE (128 * 1024)
#define HTTP_STREAM_PIECE (32 * 1024)
#define HTTP_STREAM_STALL_SECS 60
/* Who to tell: more (room again after a refused write) and gone (the client went away; r stays
 * valid while held). Can be set before http_reply_stream_begin (gone then covers the wait for
 * the head) and cleared with NULLs. Returns -1 when out of memory. */
int http_reply_stream_watch(http_req *r, void (*more)(void *), void (*gone)(void *), void *ud);
/* Starts the answer: status, content type, content length (-1: unknown). Returns 0, or -1
 * (answered already, client gone, out of memory). */
int http_reply_stream_begin(http_req *r, int status, const char *content_type,
                            long long content_length);
/* Queues len bytes (copied). False when they do not fit (nothing taken) or the client is gone. */
bool http_reply_stream_write(http_req *r, const void *data, size_t len);
/* Bytes queued and not yet written. */
size_t http_reply_stream_queued(const http_req *r);
/* The end: complete, the answer ends once the queue is written; not complete (the producer
 * failed midway), the connection closes so the client sees a short answer. */
void http_reply_stream_end(http_req *r, bool complete);
/* For http.c: a writable streamed answer (0 go on, 1 the answer is over and the connection
 * serves the next request, -1 close it); the client gone; freeing with the request. */
int http_stream_writeable(struct lws *wsi, http_req *r);
void http_stream_gone(http_req *r);
void http_stream_free(http_req *r);
void http_stream_stop(void); /* at drain: the client watch's timer closes */
/* Extends how long the connection waits for the answer (the default is 15 s from dispatch). */
void http_req_wait(http_req *r, unsigned secs);

/* Adds a header to the answer to come (before http_reply_*); name and value must outlive the
 * request (string literals, embedded data). False when HTTP_EXTRA_HEADERS are set already. A
 * 304 answer carries neither Content-Type nor Content-Length (RFC 9110 15.4.5). */
bool http_reply_header(http_req *r, const char *name, const char *value);
/* The bearer token, or the body's "token" field (for JSON bodies), or ?token=. NULL if none. */
const char *http_token(http_req *r, const json_t *body, char *buf, size_t size);
/* Runs the request's handler again once the integrations were reloaded (see
 * integrations_refresh); false when no reload could start: the caller answers. */
bool http_retry_after_refresh(http_req *r);
/* The client's address, looked up on first use (a system call). */
const char *http_peer(http_req *r);
/* The client's address: the peer, or, when the peer is a trusted proxy, what X-Forwarded-For
 * says (forwarded.h). */
const char *http_client_address(http_req *r);
/* Any request header by name, case-insensitive; NULL when absent or empty, or once the
 * connection is gone. The value lives as long as the request. */
const char *http_header(http_req *r, const char *name);
/* Parses the body as a JSON object, or answers 400 and returns NULL. */
json_t *http_body_object(http_req *r);

#endif
