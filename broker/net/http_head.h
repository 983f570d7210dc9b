/* http_head.h — checks of an HTTP/1.1 request head made before libwebsockets parses it, and
 * the decisions about a request that its head alone allows. Pure: no sockets, no lws. */
#ifndef CR_HTTP_HEAD_H
#define CR_HTTP_HEAD_H
#include "names.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX 16384 /* request line and headers, CRLFs included */
#define HTTP_URL_MAX 4096   /* the request target, query included */
#define HTTP_HEADERS_MAX 64 /* header lines */
#define HTTP_QUERY_ARGS_MAX 24
#define HTTP_SIGNATURE_MAX 12288 /* webhook-signature value: about 32 rotated signatures */

enum http_head_verdict {
    HEAD_OK,   /* a complete head that lws may parse */
    HEAD_MORE, /* incomplete, within the limits so far */
    HEAD_BAD,  /* answer status/code/message and close */
};

typedef struct http_head {
    size_t head_len; /* bytes up to and including the blank line */
    bool has_length; /* a Content-Length header was given */
    uint64_t content_length;
    bool expect_continue; /* Expect: 100-continue */
    bool upgrade;         /* Upgrade: websocket: the bytes after the head are frames */
    bool chunked;         /* Transfer-Encoding given: the body's end is unknown here */
    bool body_allowed;    /* POST, PUT or PATCH: a Content-Length above 0 is a body */
    int status, code;     /* for HEAD_BAD: 400, 414 or 431, and a result code */
    const char *message;  /* for HEAD_BAD: static text */
} http_head;

/* Scans the head at the start of buf (len bytes received so far). */
enum http_head_verdict http_head_scan(const char *buf, size_t len, http_head *out);
/* Decimal digits only, no sign, no overflow. 0 or -1. */
int http_content_length_parse(const char *s, size_t len, uint64_t *out);

/* /v1/hooks/INTEGRATION/ADAPTER[/MORE] into its parts; false when the path has no such shape. */
bool http_hook_path(const char *path, char integration[NAME_MAX_LEN + 1],
                    char adapter[NAME_MAX_LEN + 1], const char **subpath);

/* What the head of a webhook shows; the caller looks up what needs state. */
typedef struct hook_head {
    bool integration_known, adapter_matches, source_allowed;
    bool token_given, token_valid;
    bool signs; /* the adapter checks Standard Webhooks signatures (adapter.standard_webhooks) */
    const char *id, *timestamp, *signature; /* webhook-* headers, NULL when absent */
    int64_t now;
} hook_head;

typedef struct head_refusal {
    int status, code;
    const char *message;
} head_refusal;

/* false with *why filled when the head alone refuses the webhook. */
bool http_hook_head_ok(const hook_head *h, head_refusal *why);

#endif
