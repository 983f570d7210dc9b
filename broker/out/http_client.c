/* http_client.c — libcurl's multi interface on the libuv loop.
 *
 * curl tells us which sockets to watch (socket callback: one uv_poll_t per socket, found again
 * through curl_multi_assign) and when to call it back without activity (timer callback: one
 * uv_timer_t). Both callbacks only arm or disarm libuv handles: curl is called from the poll and
 * timer callbacks, never from inside its own, and every curl_multi_socket_action is followed by
 * draining curl_multi_info_read, where finished requests go to their callbacks.
 *
 * curl_global_init runs once, in the first http_client_new. main may call it itself before it
 * starts any thread; curl counts the calls, so both are harmless. */
#include "http_client.h"
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLIENT_MAGIC 0x48434c54u /* "HCLT" */
#define JOB_MAGIC 0x484a4f42u    /* "HJOB" */
#define SOCK_MAGIC 0x48534f43u   /* "HSOC" */
#define HEAD_MAX 16384           /* header block bytes kept; whole lines only */
#define DEFAULT_MAX_TOTAL 64
#define DEFAULT_MAX_PER_HOST 8
#define DEFAULT_CONNECT_MS 5000
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_MAX_BODY 65536
#define IDLE_TICK_MS 100

typedef struct http_job {
    unsigned magic;
    http_client *c;
    struct http_job *prev, *next;
    CURL *easy;
    struct curl_slist *headers;
    http_done_cb cb;
    void *ud;
    uint64_t started_ns;
    char *body;
    size_t body_len, body_cap, max_body;
    bool truncated;
    bool collected; /* a collected stream reached max_body: stopped there, not failed */
    char *head;
    size_t head_len, head_cap;
    char errbuf[CURL_ERROR_SIZE];
    /* a stream (http_client_stream) */
    bool streaming, head_sent, skip_body, paused, resume_wanted, cancelled;
    bool follow;
    bool sends_body;           /* the request has a body */
    bool kept_body_moved;      /* a 307/308 would send that body on: not followed */
    uint64_t idle_ns, last_ns; /* the idle timeout; the last byte (or send, or resume) */
    enum http_stream_mode mode;
    http_stream_cbs scbs;
} http_job;

typedef struct http_sock {
    unsigned magic;
    http_client *c;
    struct http_sock *prev, *next;
    uv_poll_t poll;
    curl_socket_t fd;
} http_sock;

struct http_client {
    unsigned magic;
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    uv_timer_t sweep; /* resumes and cancellations of streams, outside curl's callbacks */
    uv_timer_t idle;  /* ticks while streams run: ends those idle too long */
    http_job *jobs;   /* every request sent and not yet answered */
    size_t n_jobs;
    http_sock *socks; /* polls open, not yet closing */
    int open_handles; /* timer and polls whose close callback has not run yet */
    int draining;     /* inside drain(): freeing waits until it returns */
    bool closing, free_wanted;
};

static void client_teardown(http_client *c);

/* ---- the list of requests ---- */

static void job_link(http_client *c, http_job *j)
{
    j->next = c->jobs;
    if (c->jobs)
        c->jobs->prev = j;
    c->jobs = j;
    c->n_jobs++;
}

static void job_unlink(http_client *c, http_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        c->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
    c->n_jobs--;
}

static void job_free(http_job *j)
{
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->body);
    free(j->head);
    j->magic = 0;
    free(j);
}

/* ---- what curl receives ---- */

/* Grows *buf to hold need bytes plus a NUL, doubling, never beyond limit + 1. */
static bool grow(char **buf, size_t *cap, size_t need, size_t limit)
{
    if (need + 1 <= *cap)
        return true;
    size_t n = *cap ? *cap : 1024;
    while (n < need + 1)
        n *= 2;
    if (n > limit + 1)
        n = limit + 1;
    char *p = realloc(*buf, n);
    if (!p)
        return false;
    *buf = p;
    *cap = n;
    return true;
}

/* Keeps the first max_body bytes and reads the rest to nothing, so the connection stays usable. */
static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    http_job *j = ud;
    size_t len = size * n;
    size_t keep = j->max_body - j->body_len;
    if (len > keep)
        j->truncated = true;
    else
        keep = len;
    if (keep && grow(&j->body, &j->body_cap, j->body_len + keep, j->max_body)) {
        memcpy(j->body + j->body_len, data, keep);
        j->body_len += keep;
        j->body[j->body_len] = '\0';
    } else if (keep) {
        j->truncated = true;
    }
    return len;
}

static void stream_head_end(http_job *j);

/* Header lines arrive one per call. A status line starts a new response (an interim 100, a
 * proxy's CONNECT answer): the block keeps the last response's lines only. */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    http_job *j = ud;
    size_t len = size * n;
    j->last_ns = uv_hrtime();
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        j->head_len = 0;
        j->skip_body = false;
    }
    if (j->head_len + len <= HEAD_MAX &&
        grow(&j->head, &j->head_cap, j->head_len + len, HEAD_MAX)) {
        memcpy(j->head + j->head_len, data, len);
        j->head_len += len;
        j->head[j->head_len] = '\0';
    }
    if (j->streaming && !j->head_sent && (len == 2 || len == 1) && data[len - 1] == '\n' &&
        (len == 1 || data[0] == '\r'))
        stream_head_end(j);
    return j->cancelled || j->kept_body_moved ? 0 : len;
}

/* ---- the end of a request ---- */

/* One line: curl's name for the code, then its error buffer's detail when it has one. */
static void describe(char *out, size_t size, CURLcode rc, const char *detail)
{
    if (detail[0])
        snprintf(out, size, "%s: %s", curl_easy_strerror(rc), detail);
    else
        snprintf(out, size, "%s", curl_easy_strerror(rc));
    for (char *p = out; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    size_t len = strlen(out);
    while (len && out[len - 1] == ' ')
        out[--len] = '\0';
}

/* An error means no answer: status 0 even when a status line came before the failure. */
static void job_finish(http_job *j, const char *error, CURLcode rc, bool timed_out)
{
    char line[CURL_ERROR_SIZE + 128];
    http_response res = {
        .headers = j->head ? j->head : "",
        .headers_len = j->head_len,
        .body = j->body ? j->body : "",
        .body_len = j->body_len,
        .truncated = j->truncated,
        .total_ms = (double)(uv_hrtime() - j->started_ns) / 1e6,
    };
    if (rc == CURLE_WRITE_ERROR && j->collected)
        rc = CURLE_OK;
    if (!error && j->kept_body_moved)
        error = "the server redirected the request with its body (307/308): not followed";
    if (!error && rc != CURLE_OK) {
        describe(line, sizeof line, rc, j->errbuf);
        error = line;
        res.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    }
    res.timed_out = res.timed_out || timed_out;
    res.error = error;
    if (!error)
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &res.status);
    j->cb(j->ud, &res);
}

static void drain(http_client *c)
{
    CURLMsg *m;
    int left;
    c->draining++;
    while (!c->closing && (m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        http_job *j = (http_job *)priv;
        if (!j || j->magic != JOB_MAGIC)
            abort();
        curl_multi_remove_handle(c->multi, j->easy);
        job_unlink(c, j);
        if (!j->cancelled)
            job_finish(j, NULL, rc, false);
        job_free(j);
    }
    c->draining--;
    if (!c->draining && c->free_wanted)
        client_teardown(c);
}

/* ---- libuv handles curl asks for ---- */

static void maybe_free_client(http_client *c)
{
    if (c->closing && !c->draining && c->open_handles == 0) {
        c->magic = 0;
        free(c);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    http_client *c = h->data;
    c->open_handles--;
    maybe_free_client(c);
}

static void on_sock_closed(uv_handle_t *h)
{
    http_sock *s = h->data;
    http_client *c = s->c;
    s->magic = 0;
    free(s);
    c->open_handles--;
    maybe_free_client(c);
}

static void sock_close(http_sock *s)
{
    http_client *c = s->c;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    http_sock *s = h->data;
    if (!s || s->magic != SOCK_MAGIC)
        abort();
    http_client *c = s->c;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    drain(c);
}

static void on_timer(uv_timer_t *t)
{
    http_client *c = t->data;
    if (!c || c->magic != CLIENT_MAGIC)
        abort();
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(c);
}

/* curl's socket callback: arms, changes or closes the poll of one socket. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp)
{
    (void)easy;
    http_client *c = ud;
    http_sock *s = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_close(s);
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->magic = SOCK_MAGIC;
        s->c = c;
        s->fd = fd;
        s->poll.data = s;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        c->open_handles++;
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

/* curl's timer callback: only arms the timer (a 0 ms timeout runs on the next loop pass). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *ud)
{
    (void)multi;
    http_client *c = ud;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- the client ---- */

http_client *http_client_new(uv_loop_t *loop, const http_client_limits *lim)
{
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        curl_ready = true;
    }
    http_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->multi = curl_multi_init();
    if (!c->multi || uv_timer_init(loop, &c->timer) != 0) {
        if (c->multi)
            curl_multi_cleanup(c->multi);
        free(c);
        return NULL;
    }
    uv_timer_init(loop, &c->sweep); /* cannot fail once the first timer did: same loop */
    uv_timer_init(loop, &c->idle);
    long total = lim && lim->max_total ? (long)lim->max_total : DEFAULT_MAX_TOTAL;
    long per_host = lim && lim->max_per_host ? (long)lim->max_per_host : DEFAULT_MAX_PER_HOST;
    c->magic = CLIENT_MAGIC;
    c->loop = loop;
    c->timer.data = c;
    c->sweep.data = c;
    c->idle.data = c;
    c->open_handles = 3;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, total);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, total); /* idle ones kept for reuse */
    /* One request per connection at a time, HTTP/2 too: the limits then bound requests. */
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    return c;
}

static bool url_allowed(const char *url)
{
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

static bool method_known(const char *m)
{
    static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return true;
    return false;
}

/* "Name: value" with a non-empty name and no line break that would start another header. */
static bool header_line_ok(const char *h)
{
    const char *colon = h ? strchr(h, ':') : NULL;
    return colon && colon != h && !strpbrk(h, "\r\n");
}

static bool request_ok(const http_request *rq)
{
    if (!rq || !url_allowed(rq->url) || (rq->method && !method_known(rq->method)))
        return false;
    if (rq->body_len && !rq->body)
        return false;
    if (rq->n_headers && !rq->headers)
        return false;
    for (size_t i = 0; i < rq->n_headers; i++)
        if (!header_line_ok(rq->headers[i]))
            return false;
    return true;
}

static bool job_header(http_job *j, const char *h)
{
    struct curl_slist *l = curl_slist_append(j->headers, h);
    if (l)
        j->headers = l;
    return l != NULL;
}

/* The caller's headers, and only those: "Expect:" removes curl's Expect: 100-continue (and its
 * wait before a large body); "Content-Type:", unless one is given, removes the form type curl
 * would put on any body. */
static bool job_headers(http_job *j, const http_request *rq)
{
    bool typed = false;
    for (size_t i = 0; i < rq->n_headers; i++) {
        typed = typed || strncasecmp(rq->headers[i], "Content-Type:", 13) == 0;
        if (!job_header(j, rq->headers[i]))
            return false;
    }
    return job_header(j, "Expect:") && (typed || job_header(j, "Content-Type:"));
}

/* POST, PUT and PATCH always send a body (Content-Length: 0 when empty); GET and DELETE only
 * when given one. */
static bool job_method(http_job *j, const http_request *rq)
{
    const char *m = rq->method ? rq->method : "GET";
    bool post = strcmp(m, "POST") == 0;
    bool body = rq->body || post || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
    CURL *e = j->easy;
    if (body) {
        j->sends_body = true;
        if (curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len) ||
            curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, rq->body ? rq->body : ""))
            return false;
    }
    if (!post && strcmp(m, "GET") != 0)
        return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) == CURLE_OK;
    if (!post && body)
        return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "GET") == CURLE_OK;
    return true;
}

static bool job_setup(http_job *j, const http_request *rq)
{
    CURL *e = j->easy;
    long connect_ms = rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : DEFAULT_CONNECT_MS;
    long total_ms = rq->timeout_ms > 0 ? rq->timeout_ms : DEFAULT_TIMEOUT_MS;
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(e, CURLOPT_URL, rq->url);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* not http_proxy and friends from the environment: a signed request goes where it says */
    rc |= curl_easy_setopt(e, CURLOPT_PROXY, "");
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total_ms);
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)j);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    return rc == CURLE_OK && job_method(j, rq);
}

static http_job *job_create(http_client *c, const http_request *rq, http_done_cb cb, void *ud)
{
    if (!c || c->magic != CLIENT_MAGIC || c->closing || c->free_wanted || !cb || !request_ok(rq))
        return NULL;
    http_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->magic = JOB_MAGIC;
    j->c = c;
    j->cb = cb;
    j->ud = ud;
    j->max_body = rq->max_body ? rq->max_body : DEFAULT_MAX_BODY;
    j->easy = curl_easy_init();
    if (!j->easy || !job_headers(j, rq) || !job_setup(j, rq)) {
        job_free(j);
        return NULL;
    }
    return j;
}

static int job_add(http_client *c, http_job *j)
{
    j->started_ns = uv_hrtime();
    if (curl_multi_add_handle(c->multi, j->easy) != CURLM_OK) {
        job_free(j);
        return -1;
    }
    job_link(c, j);
    return 0;
}

int http_client_send(http_client *c, const http_request *rq, http_done_cb cb, void *ud)
{
    http_job *j = job_create(c, rq, cb, ud);
    return j ? job_add(c, j) : -1;
}

size_t http_client_in_flight(const http_client *c) { return c ? c->n_jobs : 0; }

/* Every request ends as cancelled, curl lets go of its sockets, then the handles close; the
 * last close callback frees the client. */
static void client_teardown(http_client *c)
{
    c->free_wanted = false;
    c->closing = true;
    while (c->jobs) {
        http_job *j = c->jobs;
        curl_multi_remove_handle(c->multi, j->easy);
        job_unlink(c, j);
        if (!j->cancelled)
            job_finish(j, "cancelled", CURLE_OK, false);
        job_free(j);
    }
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    while (c->socks)
        sock_close(c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_timer_stop(&c->sweep);
    uv_close((uv_handle_t *)&c->sweep, on_handle_closed);
    uv_timer_stop(&c->idle);
    uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

void http_client_free(http_client *c)
{
    if (!c || c->magic != CLIENT_MAGIC || c->closing || c->free_wanted)
        return;
    if (c->draining) {
        c->free_wanted = true; /* called from a request's callback: drain() finishes first */
        return;
    }
    client_teardown(c);
}

/* ---- reading an answer's headers ---- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    return end;
}

/* The block starting at its last status line: the final response's headers. */
static const char *last_response(const char *p, const char *end)
{
    const char *start = p;
    for (const char *line = p; line < end;) {
        if (end - line >= 5 && memcmp(line, "HTTP/", 5) == 0)
            start = line;
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        line = nl ? nl + 1 : end;
    }
    return start;
}

bool http_response_header(const http_response *res, const char *name, char *buf, size_t size)
{
    if (!res || !res->headers || !name)
        return false;
    size_t name_len = strlen(name);
    const char *end = res->headers + res->headers_len;
    for (const char *line = last_response(res->headers, end); line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *eol = nl ? nl : end;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon && trim_end(line, colon) - line == (ptrdiff_t)name_len &&
            strncasecmp(line, name, name_len) == 0) {
            const char *v = skip_ws(colon + 1, eol);
            size_t len = (size_t)(trim_end(v, eol) - v);
            if (size) {
                if (len >= size)
                    len = size - 1;
                memcpy(buf, v, len);
                buf[len] = '\0';
            }
            return true;
        }
        line = nl ? nl + 1 : end;
    }
    return false;
}

/* ---- streams ---- */

static bool redirect_status(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static long head_status(const http_job *j)
{
    const char *sp = j->head ? memchr(j->head, ' ', j->head_len) : NULL;
    return sp ? strtol(sp + 1, NULL, 10) : 0;
}

static long long length_value(const char *v)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    return end != v && *end == '\0' && n >= 0 && v[0] != '-' ? n : -1;
}

/* The end of a head: the final one goes to the consumer; an interim one, or a redirect curl is
 * about to follow, does not (its body is dropped). */
static void stream_head_end(http_job *j)
{
    http_response res = {.headers = j->head ? j->head : "", .headers_len = j->head_len};
    char type[256], length[32], location[2048];
    long status = head_status(j);
    if (status < 200)
        return;
    bool has_location = http_response_header(&res, "Location", location, sizeof location);
    if (j->follow && has_location && redirect_status(status)) {
        /* a 307 or 308 resends the body (Mango's signed form) wherever it points: refused;
         * 301, 302 and 303 turn into a GET without it */
        if (j->sends_body && (status == 307 || status == 308))
            j->kept_body_moved = true;
        j->skip_body = true;
        return;
    }
    if (!has_location)
        location[0] = '\0';
    if (!http_response_header(&res, "Content-Type", type, sizeof type))
        type[0] = '\0';
    long long content_length = -1; /* curl de-chunks and ignores a length beside chunking */
    if (http_response_header(&res, "Content-Length", length, sizeof length) &&
        !http_response_header(&res, "Transfer-Encoding", NULL, 0))
        content_length = length_value(length);
    http_stream_head h = {status, type, content_length, location, res.headers, res.headers_len};
    j->head_sent = true;
    j->mode = j->scbs.head(j->ud, &h);
}

/* A refused piece pauses the transfer: curl keeps it and hands it again after the resume. */
static size_t on_stream_body(char *data, size_t size, size_t n, void *ud)
{
    http_job *j = ud;
    size_t len = size * n;
    if (j->cancelled)
        return 0;
    j->last_ns = uv_hrtime();
    if (!j->head_sent || j->skip_body)
        return len;
    if (j->mode == HTTP_STREAM_COLLECT) { /* what is kept is all the consumer reads: stop */
        size_t taken = on_body(data, size, n, ud);
        j->collected = j->truncated;
        return j->truncated ? 0 : taken;
    }
    bool taken = j->scbs.chunk(j->ud, data, len);
    if (j->cancelled)
        return 0;
    if (taken)
        return len;
    j->paused = true;
    return CURL_WRITEFUNC_PAUSE;
}

/* curl_easy_pause may call the write callback at once (7.88 hands over the piece it kept), and
 * a handle must not be removed from inside curl's callbacks: both wait for this timer. */
static void on_sweep(uv_timer_t *t)
{
    http_client *c = t->data;
    c->draining++;
    for (http_job *j = c->jobs, *next; j && !c->closing; j = next) {
        next = j->next;
        if (j->cancelled) {
            curl_multi_remove_handle(c->multi, j->easy);
            job_unlink(c, j);
            job_free(j);
        } else if (j->resume_wanted) {
            j->resume_wanted = false;
            if (j->paused) {
                j->paused = false;
                j->last_ns = uv_hrtime(); /* paused time is not idle time */
                curl_easy_pause(j->easy, CURLPAUSE_CONT);
            }
        }
    }
    c->draining--;
    drain(c);
}

/* curl's low-speed limit would average over seconds; this counts from the last byte. A paused
 * stream waits for its consumer, not for the server: it is not idle. */
static void on_idle_tick(uv_timer_t *t)
{
    http_client *c = t->data;
    uint64_t now = uv_hrtime();
    bool any = false;
    c->draining++;
    for (http_job *j = c->jobs, *next; j && !c->closing; j = next) {
        next = j->next;
        if (!j->streaming || j->cancelled)
            continue;
        any = true;
        if (j->paused || now - j->last_ns < j->idle_ns)
            continue;
        char why[80];
        snprintf(why, sizeof why, "Timeout: no byte for %llu ms",
                 (unsigned long long)(j->idle_ns / 1000000u));
        curl_multi_remove_handle(c->multi, j->easy);
        job_unlink(c, j);
        job_finish(j, why, CURLE_OK, true);
        job_free(j);
    }
    c->draining--;
    if (!any)
        uv_timer_stop(t);
    drain(c);
}

static http_job *stream_job(http_stream *s)
{
    http_job *j = (http_job *)(void *)s;
    return j && j->magic == JOB_MAGIC && j->streaming && !j->cancelled && !j->c->closing ? j : NULL;
}

void http_stream_resume(http_stream *s)
{
    http_job *j = stream_job(s);
    if (!j)
        return;
    j->resume_wanted = true;
    uv_timer_start(&j->c->sweep, on_sweep, 0, 0);
}

void http_stream_cancel(http_stream *s)
{
    http_job *j = stream_job(s);
    if (!j)
        return;
    j->cancelled = true;
    uv_timer_start(&j->c->sweep, on_sweep, 0, 0);
}

static bool stream_setup(http_job *j, const http_stream_opts *o)
{
    long idle_ms = o && o->idle_timeout_ms > 0 ? o->idle_timeout_ms : 30000;
    int redirects = o && o->max_redirects ? o->max_redirects : 5;
    CURL *e = j->easy;
    CURLcode rc = CURLE_OK;
    j->follow = redirects > 0;
    j->idle_ns = (uint64_t)idle_ms * 1000000u;
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_stream_body);
    rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, j->follow ? 1L : 0L);
    rc |= curl_easy_setopt(e, CURLOPT_MAXREDIRS, j->follow ? (long)redirects : 0L);
    /* curl drops a custom Authorization header on a redirect to another host or port; this
     * keeps its own credentials from following too */
    rc |= curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    return rc == CURLE_OK;
}

http_stream *http_client_stream(http_client *c, const http_request *rq, const http_stream_opts *o,
                                const http_stream_cbs *cbs, void *ud)
{
    if (!cbs || !cbs->head || !cbs->chunk || !cbs->done)
        return NULL;
    http_job *j = job_create(c, rq, cbs->done, ud);
    if (!j)
        return NULL;
    j->streaming = true;
    j->scbs = *cbs;
    if (!stream_setup(j, o)) {
        job_free(j);
        return NULL;
    }
    if (job_add(c, j) != 0)
        return NULL;
    j->last_ns = j->started_ns;
    if (!uv_is_active((uv_handle_t *)&c->idle))
        uv_timer_start(&c->idle, on_idle_tick, IDLE_TICK_MS, IDLE_TICK_MS);
    return (http_stream *)(void *)j;
}
