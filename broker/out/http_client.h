/* http_client.h — outbound HTTP on the event loop: libcurl's multi interface driven by libuv
 * (socket and timer callbacks), never a blocking call. Connections are reused; every request
 * has a connect and a total timeout; TLS is verified; requests in flight are bounded per host
 * and in total (curl queues the rest); the answer's status, headers and body (capped) go to a
 * callback. Notifications, commands and polling all send through one client per process. */
#ifndef CR_HTTP_CLIENT_H
#define CR_HTTP_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct http_client http_client;

typedef struct http_client_limits {
    unsigned max_total;    /* connections in total (CURLMOPT_MAX_TOTAL_CONNECTIONS); 0: 64 */
    unsigned max_per_host; /* per host (CURLMOPT_MAX_HOST_CONNECTIONS); 0: 8 */
} http_client_limits;

typedef struct http_request {
    const char *method;         /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *url;            /* http:// or https:// only */
    const char *const *headers; /* "Name: value" lines, n_headers of them */
    size_t n_headers;
    const char *body; /* NULL: none */
    size_t body_len;
    long connect_timeout_ms; /* 0: 5000 */
    long timeout_ms;         /* whole request; 0: 10000 */
    size_t max_body;         /* answer body bytes kept; beyond, truncated; 0: 65536 */
} http_request;

typedef struct http_response {
    long status;         /* HTTP status; 0 when no answer came */
    const char *error;   /* NULL when an answer came; else what went wrong, one line */
    bool timed_out;      /* the connect or total timeout ran out */
    const char *headers; /* the answer's header block as received, NUL-terminated */
    size_t headers_len;
    const char *body; /* NUL-terminated; body_len bytes kept */
    size_t body_len;
    bool truncated;  /* the answer had more than max_body bytes */
    double total_ms; /* from sending to the end of the answer (or the failure) */
} http_response;

/* Called exactly once per request, from the loop; res and what it points to live only during
 * the call. */
typedef void (*http_done_cb)(void *ud, const http_response *res);

http_client *http_client_new(uv_loop_t *loop, const http_client_limits *lim);
/* Copies everything in rq. Returns 0 (cb will be called), or -1 (bad request or out of memory;
 * cb will not be called). */
int http_client_send(http_client *c, const http_request *rq, http_done_cb cb, void *ud);
/* Requests sent and not yet answered (including those curl queues for a free connection). */
size_t http_client_in_flight(const http_client *c);
/* Ends every request still in flight (its cb gets error "cancelled"), then frees the client
 * once libuv has closed its handles (the loop must run on). */
void http_client_free(http_client *c);
/* The value of header name (case-insensitive) in a response's header block, copied into buf
 * (NUL-terminated, truncated to size). Returns false when absent. */
bool http_response_header(const http_response *res, const char *name, char *buf, size_t size);

/* ---- streaming: an answer too large to hold (a recording) ---- */

typedef struct http_stream http_stream; /* one streamed request, valid until done or cancel */

/* The final answer's head (after any redirects followed). */
typedef struct http_stream_head {
    long status;
    const char *content_type; /* "" when absent */
    long long content_length; /* -1 when absent */
    const char *location;     /* "" when absent */
    const char *headers;      /* the header block, as http_response has it */
    size_t headers_len;
} http_stream_head;

enum http_stream_mode {
    HTTP_STREAM_PASS,    /* hand the body to chunk as it arrives */
    HTTP_STREAM_COLLECT, /* keep up to max_body bytes for done, as http_client_send does */
};

typedef struct http_stream_cbs {
    /* The head, once, before any body; its answer decides what becomes of the body. */
    enum http_stream_mode (*head)(void *ud, const http_stream_head *h);
    /* A piece of the body (PASS). Returns true when taken; false when the consumer has no room:
     * reading pauses, and the same bytes come again after http_stream_resume. */
    bool (*chunk)(void *ud, const char *data, size_t len);
    /* Once, at the end: res->error NULL when the whole answer came (a COLLECT body in res->body),
     * else what went wrong (timed_out: idle for idle_timeout_ms, or no connection in time). */
    void (*done)(void *ud, const http_response *res);
} http_stream_cbs;

typedef struct http_stream_opts {
    long idle_timeout_ms; /* no byte from the server for this long (counted from sending, so it
                             bounds the wait for the head too; paused time is not counted):
                             give up; 0: 30000; checked every 100 ms */
    int max_redirects;    /* redirects followed (credentials never sent to another host; a
                             request with a body is not followed on 307/308, which would send
                             the body on); 0: 5; negative: none */
} http_stream_opts;

/* Sends rq (its timeout_ms is ignored: a stream has no total deadline, only the idle one) and
 * returns the stream, or NULL (bad request or out of memory; no callback will come). */
http_stream *http_client_stream(http_client *c, const http_request *rq, const http_stream_opts *o,
                                const http_stream_cbs *cbs, void *ud);
/* Reading goes on after chunk said false. Safe from any callback (curl is called on the next
 * loop pass). */
void http_stream_resume(http_stream *s);
/* Ends the request at once; no callback comes after. Safe from any callback, done excepted. */
void http_stream_cancel(http_stream *s);

#endif
