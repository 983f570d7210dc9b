/* http_head.c — request heads are checked here before libwebsockets sees them, because lws
 * 4.1 closes the connection without an answer when a head overflows its header table, a
 * path holds %00, or a request has more fragments (headers, query arguments) than it has
 * slots for. Whatever passes these limits fits lws's table. */
#include "http_head.h"
#include "result.h"
#include "stdwebhooks.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static enum http_head_verdict bad(http_head *h, int status, int code, const char *message)
{
    h->status = status;
    h->code = code;
    h->message = message;
    return HEAD_BAD;
}

int http_content_length_parse(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 19)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* lws splits the target at '&' and ';' (each piece takes a slot) and gives up on a decoded
 * NUL or a broken escape. */
static enum http_head_verdict check_target(const char *t, size_t n, http_head *h)
{
    size_t pieces = 1;
    if (n == 0 || t[0] != '/')
        return bad(h, 400, RC_BAD_REQUEST, "the request target must start with /");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c <= 0x20 || c == 0x7f)
            return bad(h, 400, RC_BAD_REQUEST, "control character in the request target");
        if (c == '&' || c == ';')
            pieces++;
        if (c != '%')
            continue;
        if (i + 2 >= n || hexval(t[i + 1]) < 0 || hexval(t[i + 2]) < 0)
            return bad(h, 400, RC_BAD_REQUEST, "malformed percent escape in the request target");
        if (hexval(t[i + 1]) == 0 && hexval(t[i + 2]) == 0)
            return bad(h, 400, RC_BAD_REQUEST, "%00 in the request target");
        i += 2;
    }
    if (pieces > HTTP_QUERY_ARGS_MAX)
        return bad(h, 400, RC_BAD_REQUEST, "too many query arguments");
    return HEAD_OK;
}

/* METHOD SP /target SP HTTP/1.x */
static enum http_head_verdict request_line(const char *l, size_t n, http_head *h)
{
    const char *sp = memchr(l, ' ', n);
    if (!sp || sp == l)
        return bad(h, 400, RC_BAD_REQUEST, "malformed request line");
    for (const char *m = l; m < sp; m++)
        if (!isupper((unsigned char)*m))
            return bad(h, 400, RC_BAD_REQUEST, "malformed request method");
    size_t ml = (size_t)(sp - l);
    h->body_allowed = (ml == 4 && !memcmp(l, "POST", 4)) || (ml == 3 && !memcmp(l, "PUT", 3)) ||
                      (ml == 5 && !memcmp(l, "PATCH", 5));
    const char *t = sp + 1, *end = l + n;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2)
        return (size_t)(end - t) > HTTP_URL_MAX
                   ? bad(h, 414, RC_TOO_LARGE, "the request target is too long")
                   : bad(h, 400, RC_BAD_REQUEST, "malformed request line");
    if ((size_t)(sp2 - t) > HTTP_URL_MAX)
        return bad(h, 414, RC_TOO_LARGE, "the request target is too long");
    if ((size_t)(end - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
        return bad(h, 400, RC_BAD_REQUEST, "only HTTP/1.x is served");
    return check_target(t, (size_t)(sp2 - t), h);
}

static bool name_is(const char *l, size_t nlen, const char *name)
{
    return nlen == strlen(name) && strncasecmp(l, name, nlen) == 0;
}

static enum http_head_verdict header_line(const char *l, size_t n, http_head *h)
{
    const char *colon = memchr(l, ':', n);
    if (!colon || colon == l)
        return bad(h, 400, RC_BAD_REQUEST, "malformed header line");
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f)
            return bad(h, 400, RC_BAD_REQUEST, "control character in a header");
    size_t nlen = (size_t)(colon - l);
    const char *v = colon + 1, *end = l + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (name_is(l, nlen, "content-length")) {
        if (h->has_length || http_content_length_parse(v, vlen, &h->content_length) != 0)
            return bad(h, 400, RC_BAD_REQUEST, "malformed or repeated Content-Length");
        h->has_length = true;
    } else if (name_is(l, nlen, "upgrade")) {
        h->upgrade = vlen == 9 && strncasecmp(v, "websocket", 9) == 0;
    } else if (name_is(l, nlen, "transfer-encoding")) {
        h->chunked = true;
    } else if (name_is(l, nlen, "expect")) {
        h->expect_continue = vlen == 12 && strncasecmp(v, "100-continue", 12) == 0;
    } else if (name_is(l, nlen, "webhook-signature") && vlen > HTTP_SIGNATURE_MAX) {
        return bad(h, 431, RC_TOO_LARGE, "the webhook-signature header is too long");
    }
    return HEAD_OK;
}

/* The length of the line at l without its CRLF (or bare LF), or -1 when it has no end yet;
 * *next is where the following line starts. */
static long line_end(const char *l, const char *end, const char **next)
{
    const char *nl = memchr(l, '\n', (size_t)(end - l));
    if (!nl)
        return -1;
    *next = nl + 1;
    return (long)(nl > l && nl[-1] == '\r' ? nl - 1 - l : nl - l);
}

static enum http_head_verdict incomplete(const char *buf, size_t len, http_head *h)
{
    const char *sp = memchr(buf, ' ', len < HTTP_URL_MAX ? len : HTTP_URL_MAX);
    bool in_request_line = !memchr(buf, '\n', len);
    if (in_request_line && sp && len - (size_t)(sp + 1 - buf) > HTTP_URL_MAX)
        return bad(h, 414, RC_TOO_LARGE, "the request target is too long");
    if (len > HTTP_HEAD_MAX)
        return bad(h, 431, RC_TOO_LARGE, "the request head is too large");
    return HEAD_MORE;
}

enum http_head_verdict http_head_scan(const char *buf, size_t len, http_head *out)
{
    http_head h = {0};
    const char *p = buf, *end = buf + len, *next = buf;
    long n = line_end(p, end, &next);
    enum http_head_verdict v = n < 0 ? incomplete(buf, len, &h) : request_line(p, (size_t)n, &h);
    for (int lines = 0; v == HEAD_OK; lines++) {
        p = next;
        if ((size_t)(p - buf) > HTTP_HEAD_MAX) {
            v = bad(&h, 431, RC_TOO_LARGE, "the request head is too large");
        } else if ((n = line_end(p, end, &next)) < 0) {
            v = incomplete(buf, len, &h);
        } else if (n == 0) {
            h.head_len = (size_t)(next - buf);
            break;
        } else if (lines == HTTP_HEADERS_MAX) {
            v = bad(&h, 431, RC_TOO_LARGE, "too many header lines");
        } else {
            v = header_line(p, (size_t)n, &h);
        }
    }
    if (v == HEAD_OK && h.head_len > HTTP_HEAD_MAX)
        v = bad(&h, 431, RC_TOO_LARGE, "the request head is too large");
    /* lws reads no body for the others: its bytes would be taken for the next request */
    if (v == HEAD_OK && h.has_length && h.content_length && !h.body_allowed)
        v = bad(&h, 400, RC_BAD_REQUEST, "only POST, PUT and PATCH requests carry a body");
    *out = h;
    return v;
}

bool http_hook_path(const char *path, char integration[NAME_MAX_LEN + 1],
                    char adapter[NAME_MAX_LEN + 1], const char **subpath)
{
    static const char prefix[] = "/v1/hooks/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return false;
    const char *p = path + sizeof prefix - 1, *slash = strchr(p, '/');
    if (!slash || slash == p || slash - p > NAME_MAX_LEN)
        return false;
    const char *a = slash + 1, *rest = strchr(a, '/');
    size_t alen = rest ? (size_t)(rest - a) : strlen(a);
    if (alen == 0 || alen > NAME_MAX_LEN)
        return false;
    memcpy(integration, p, (size_t)(slash - p));
    integration[slash - p] = '\0';
    memcpy(adapter, a, alen);
    adapter[alen] = '\0';
    *subpath = rest ? rest : "";
    return true;
}

static bool refuse(head_refusal *why, int status, int code, const char *message)
{
    why->status = status;
    why->code = code;
    why->message = message;
    return false;
}

static bool timestamp_fresh(const char *ts, int64_t now)
{
    char *end;
    long long t = strtoll(ts, &end, 10);
    if (end == ts || *end || t < now - STDWH_TOLERANCE_S || t > now + STDWH_TOLERANCE_S)
        return false;
    return true;
}

bool http_hook_head_ok(const hook_head *h, head_refusal *why)
{
    if (!h->integration_known || !h->adapter_matches)
        return refuse(why, 404, RC_NOT_FOUND, "no such integration with this adapter");
    if (!h->source_allowed)
        return refuse(why, 403, RC_FORBIDDEN, "the source address is not allowed");
    if (h->token_given)
        return h->token_valid ||
               refuse(why, 401, RC_UNAUTHORIZED, "the integration token is wrong");
    if (!h->signs)
        return true; /* a dialect that signs its own way: its body decides */
    if (!h->id || !h->timestamp || !h->signature)
        return refuse(why, 401, RC_UNAUTHORIZED,
                      "neither the integration token nor a webhook signature was given");
    if (!timestamp_fresh(h->timestamp, h->now))
        return refuse(why, 401, RC_BAD_SIGNATURE,
                      "webhook-timestamp is not within 5 minutes of the broker's clock");
    return true;
}
