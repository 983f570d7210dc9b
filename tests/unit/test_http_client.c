/* test_http_client.c — the outbound HTTP client against a small HTTP/1.1 server that the test
 * runs on the same libuv loop (127.0.0.1, port 0): what arrives there (method, headers, body,
 * connections) and what comes back to the callback (status, headers, capped body, timeouts,
 * errors, cancellation). Every test ends with the loop empty: uv_run and uv_loop_close give 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../broker/out/http_client.c"

/* ---- the server ---- */

#define SRV_REQS 16

typedef struct srv_req {
    char method[16];
    char head[2048];
    char body[2048];
    size_t body_len;
    int conn; /* which accepted connection it came on, from 1 */
} srv_req;

typedef struct server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    struct srv_conn *conns;
    /* the script */
    bool silent;        /* read requests, never answer */
    unsigned delay_ms;  /* hold each answer this long */
    size_t reply_len;   /* body bytes, a repeating pattern; 0: "hello" */
    int pad_headers;    /* this many 1000-byte X-Pad headers after X-Test */
    char location[128]; /* /redirect answers 302 to it; /missing answers 404 */
    char last_path[64]; /* of the last request taken */
    size_t partial;     /* send only this many body bytes, then nothing more; 0: all */
    /* what it saw */
    int accepted, open, max_open, n_reqs, closed_by_peer;
    srv_req reqs[SRV_REQS];
} server;

typedef struct srv_conn {
    server *srv;
    struct srv_conn *next;
    uv_tcp_t tcp;
    uv_timer_t delay;
    int handles, no;
    char *buf;
    size_t len, cap;
    bool closing;
} srv_conn;

static char pattern(size_t i) { return (char)('a' + i % 26); }

static void conn_closed(uv_handle_t *h)
{
    srv_conn *k = h->data;
    if (--k->handles == 0) {
        free(k->buf);
        free(k);
    }
}

static void conn_close(srv_conn *k)
{
    if (k->closing)
        return;
    k->closing = true;
    k->srv->open--;
    for (srv_conn **p = &k->srv->conns; *p; p = &(*p)->next)
        if (*p == k) {
            *p = k->next;
            break;
        }
    uv_close((uv_handle_t *)&k->tcp, conn_closed);
    uv_close((uv_handle_t *)&k->delay, conn_closed);
}

static void written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void write_out(srv_conn *k, char *out, size_t len)
{
    uv_write_t *w = malloc(sizeof *w);
    w->data = out;
    uv_buf_t b = uv_buf_init(out, (unsigned)len);
    uv_write(w, (uv_stream_t *)&k->tcp, &b, 1, written);
}

/* The paths a stream test asks for: a redirect and an unknown file. */
static bool answer_scripted(srv_conn *k, const char *path)
{
    char *out = malloc(512);
    int n;
    if (strncmp(path, "/redirect", 9) == 0)
        n = snprintf(out, 512,
                     "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 5\r\n"
                     "Content-Type: text/plain\r\n\r\nmoved",
                     k->srv->location);
    else if (strncmp(path, "/missing", 8) == 0)
        n = snprintf(out, 512,
                     "HTTP/1.1 404 Not Found\r\nContent-Length: 17\r\n"
                     "Content-Type: text/plain\r\n\r\nno such recording");
    else {
        free(out);
        return false;
    }
    write_out(k, out, (size_t)n);
    return true;
}

static void answer(srv_conn *k)
{
    server *s = k->srv;
    if (answer_scripted(k, s->last_path))
        return;
    size_t n = s->reply_len ? s->reply_len : 5;
    size_t pad = (size_t)s->pad_headers * 1024;
    char *out = malloc(256 + pad + n);
    int h = snprintf(out, 256,
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nX-Test:   hello world  \r\n"
                     "Content-Type: text/plain\r\n",
                     n);
    for (int i = 0; i < s->pad_headers; i++)
        h += sprintf(out + h, "X-Pad-%02d: %01000d\r\n", i, 0);
    h += sprintf(out + h, "\r\n");
    for (size_t i = 0; i < n; i++)
        out[h + i] = s->reply_len ? pattern(i) : "hello"[i];
    write_out(k, out, (size_t)h + (s->partial ? s->partial : n));
}

static void on_delay(uv_timer_t *t) { answer(t->data); }

static size_t content_length(const char *head)
{
    const char *p = strcasestr(head, "\r\ncontent-length:");
    return p ? strtoul(p + 17, NULL, 10) : 0;
}

/* A whole request in the buffer: recorded, removed, answered as the script says. */
static bool take_request(srv_conn *k)
{
    char *end = memmem(k->buf, k->len, "\r\n\r\n", 4);
    if (!end)
        return false;
    size_t head_len = (size_t)(end - k->buf) + 4;
    *end = '\0';
    size_t body_len = content_length(k->buf);
    if (k->len < head_len + body_len) {
        *end = '\r';
        return false;
    }
    server *s = k->srv;
    s->last_path[0] = '\0';
    sscanf(k->buf, "%*s %63s", s->last_path);
    if (s->n_reqs < SRV_REQS) {
        srv_req *r = &s->reqs[s->n_reqs];
        sscanf(k->buf, "%15s", r->method);
        snprintf(r->head, sizeof r->head, "%s\r\n", k->buf);
        r->body_len = body_len < sizeof r->body ? body_len : sizeof r->body - 1;
        memcpy(r->body, k->buf + head_len, r->body_len);
        r->conn = k->no;
    }
    s->n_reqs++;
    memmove(k->buf, k->buf + head_len + body_len, k->len - head_len - body_len);
    k->len -= head_len + body_len;
    if (s->silent)
        return true;
    if (s->delay_ms)
        uv_timer_start(&k->delay, on_delay, s->delay_ms, 0);
    else
        answer(k);
    return true;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    srv_conn *k = h->data;
    if (k->cap - k->len < suggested) {
        k->cap = k->len + suggested;
        k->buf = realloc(k->buf, k->cap);
    }
    *b = uv_buf_init(k->buf + k->len, (unsigned)(k->cap - k->len));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    srv_conn *k = st->data;
    if (n < 0) {
        k->srv->closed_by_peer++;
        conn_close(k);
        return;
    }
    k->len += (size_t)n;
    if (k->len && k->buf[0] == 0x16) { /* a TLS ClientHello: answered in plain HTTP */
        k->len = 0;
        answer(k);
        return;
    }
    while (take_request(k))
        ;
}

static void on_connection(uv_stream_t *l, int status)
{
    server *s = l->data;
    assert_int_equal(status, 0);
    srv_conn *k = calloc(1, sizeof *k);
    k->srv = s;
    k->no = ++s->accepted;
    uv_tcp_init(s->loop, &k->tcp);
    uv_timer_init(s->loop, &k->delay);
    k->tcp.data = k->delay.data = k;
    k->handles = 2;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&k->tcp), 0);
    k->next = s->conns;
    s->conns = k;
    if (++s->open > s->max_open)
        s->max_open = s->open;
    uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
}

static void server_start(server *s, uv_loop_t *loop)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    s->loop = loop;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_init(loop, &s->listener), 0);
    s->listener.data = s;
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 16, on_connection), 0);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void server_stop(server *s)
{
    uv_close((uv_handle_t *)&s->listener, NULL);
    while (s->conns)
        conn_close(s->conns);
}

/* ---- a test run: one loop, one server, one client ---- */

typedef struct result {
    int calls;
    long status;
    char error[512];
    bool has_error, timed_out, truncated;
    char *body;
    size_t body_len;
    double total_ms;
    char x_test[64];
    bool has_x_test;
    size_t headers_len;
} result;

typedef struct run {
    uv_loop_t loop;
    server srv;
    http_client *c;
    char url[128];
    result r[8];
    int done, expect;
    void (*then)(struct run *, int i); /* after request i's answer, before the end check */
} run;

static void run_init(run *t, const http_client_limits *lim)
{
    memset(t, 0, sizeof *t);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    server_start(&t->srv, &t->loop);
    snprintf(t->url, sizeof t->url, "http://127.0.0.1:%d/hook?x=1", t->srv.port);
    t->c = http_client_new(&t->loop, lim);
    assert_non_null(t->c);
}

static void end(run *t)
{
    http_client_free(t->c);
    server_stop(&t->srv);
}

typedef struct req_ud {
    run *t;
    int i;
} req_ud;

static req_ud uds[8];

static void on_done(void *ud, const http_response *res)
{
    req_ud *u = ud;
    run *t = u->t;
    result *r = &t->r[u->i];
    r->calls++;
    r->status = res->status;
    r->has_error = res->error != NULL;
    if (res->error)
        snprintf(r->error, sizeof r->error, "%s", res->error);
    r->timed_out = res->timed_out;
    r->truncated = res->truncated;
    assert_int_equal(res->body[res->body_len], '\0');
    assert_int_equal(res->headers[res->headers_len], '\0');
    r->body = malloc(res->body_len + 1);
    memcpy(r->body, res->body, res->body_len + 1);
    r->body_len = res->body_len;
    r->total_ms = res->total_ms;
    r->headers_len = res->headers_len;
    r->has_x_test = http_response_header(res, "x-TEST", r->x_test, sizeof r->x_test);
    t->done++;
    if (t->then)
        t->then(t, u->i);
    if (t->done == t->expect)
        end(t);
}

static void send_ok(run *t, int i, const http_request *rq)
{
    uds[i] = (req_ud){t, i};
    assert_int_equal(http_client_send(t->c, rq, on_done, &uds[i]), 0);
}

/* Runs until nothing is left on the loop. */
static void run_loop(run *t)
{
    alarm(10); /* a test that hangs fails instead */
    assert_int_equal(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
    alarm(0);
}

static void run_finish(run *t)
{
    assert_int_equal(uv_loop_close(&t->loop), 0);
    for (int i = 0; i < 8; i++)
        free(t->r[i].body);
}

static run T;

/* ---- tests ---- */

static void get_answer_read_back(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.expect = 1;
    send_ok(&T, 0, &(http_request){.method = "GET", .url = T.url});
    assert_int_equal(http_client_in_flight(T.c), 1);
    run_loop(&T);
    result *r = &T.r[0];
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->status, 200);
    assert_false(r->has_error);
    assert_false(r->truncated);
    assert_string_equal(r->body, "hello");
    assert_true(r->has_x_test);
    assert_string_equal(r->x_test, "hello world");
    assert_true(r->total_ms >= 0 && r->total_ms < 2000);
    assert_string_equal(T.srv.reqs[0].method, "GET");
    assert_non_null(strstr(T.srv.reqs[0].head, "GET /hook?x=1 HTTP/1.1\r\n"));
    run_finish(&T);
}

static void post_body_and_headers_arrive(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.expect = 1;
    static const char body[] = "{\"a\":1,\"b\":\"\\u00e9\"}\0tail"; /* a NUL inside */
    const char *hdrs[] = {"Content-Type: application/json", "X-Custom:  abc", "webhook-id: ntf_1"};
    send_ok(&T, 0,
            &(http_request){.method = "POST",
                            .url = T.url,
                            .headers = hdrs,
                            .n_headers = 3,
                            .body = body,
                            .body_len = sizeof body - 1});
    run_loop(&T);
    assert_int_equal(T.r[0].status, 200);
    srv_req *q = &T.srv.reqs[0];
    assert_string_equal(q->method, "POST");
    assert_int_equal(q->body_len, sizeof body - 1);
    assert_memory_equal(q->body, body, sizeof body - 1);
    assert_non_null(strcasestr(q->head, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strcasestr(q->head, "\r\nX-Custom:  abc\r\n"));
    assert_non_null(strcasestr(q->head, "\r\nwebhook-id: ntf_1\r\n"));
    assert_null(strcasestr(q->head, "\r\nExpect:"));
    run_finish(&T);
}

/* Without "Expect:" curl would ask for 100-continue before a large body and wait a second for
 * it (this server never sends one). */
static void large_body_sent_without_waiting(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.expect = 1;
    size_t n = 2 << 20;
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = pattern(i);
    send_ok(&T, 0, &(http_request){.method = "PUT", .url = T.url, .body = body, .body_len = n});
    free(body); /* copied by send */
    run_loop(&T);
    assert_int_equal(T.r[0].status, 200);
    assert_true(T.r[0].total_ms < 900);
    srv_req *q = &T.srv.reqs[0];
    assert_int_equal(content_length(q->head), n);
    for (size_t i = 0; i < q->body_len; i++)
        assert_int_equal(q->body[i], pattern(i));
    assert_null(strcasestr(q->head, "\r\nExpect:"));
    assert_null(strcasestr(q->head, "\r\nContent-Type:")); /* none given, none invented */
    run_finish(&T);
}

static void methods_arrive_as_such(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.expect = 4;
    send_ok(&T, 0, &(http_request){.method = "PUT", .url = T.url, .body = "p", .body_len = 1});
    send_ok(&T, 1, &(http_request){.method = "PATCH", .url = T.url, .body = "pa", .body_len = 2});
    send_ok(&T, 2, &(http_request){.method = "DELETE", .url = T.url});
    send_ok(&T, 3, &(http_request){.method = "PUT", .url = T.url}); /* no body */
    run_loop(&T);
    assert_int_equal(T.srv.n_reqs, 4);
    int put = 0, patch = 0, del = 0;
    for (int i = 0; i < 4; i++) {
        srv_req *q = &T.srv.reqs[i];
        assert_int_equal(T.r[i].status, 200);
        if (strcmp(q->method, "PUT") == 0) {
            put++;
            assert_true(q->body_len <= 1);
            assert_non_null(strcasestr(q->head, "\r\nContent-Length: "));
        } else if (strcmp(q->method, "PATCH") == 0) {
            patch++;
            assert_int_equal(q->body_len, 2);
            assert_memory_equal(q->body, "pa", 2);
        } else if (strcmp(q->method, "DELETE") == 0) {
            del++;
            assert_int_equal(q->body_len, 0);
        }
    }
    assert_int_equal(put, 2);
    assert_int_equal(patch, 1);
    assert_int_equal(del, 1);
    run_finish(&T);
}

/* The rest is read and dropped: the answer completes and its connection serves the next. */
static void big_body_truncated(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.srv.reply_len = 100000;
    T.expect = 1;
    send_ok(&T, 0, &(http_request){.url = T.url, .max_body = 1000});
    run_loop(&T);
    result *r = &T.r[0];
    assert_int_equal(r->status, 200);
    assert_false(r->has_error);
    assert_true(r->truncated);
    assert_int_equal(r->body_len, 1000);
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(r->body[i], pattern(i));
    run_finish(&T);
}

static void exact_max_body_not_truncated(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.srv.reply_len = 1000;
    T.expect = 1;
    send_ok(&T, 0, &(http_request){.url = T.url, .max_body = 1000});
    run_loop(&T);
    assert_false(T.r[0].truncated);
    assert_int_equal(T.r[0].body_len, 1000);
    run_finish(&T);
}

/* The header block keeps whole lines up to 16 KiB; the answer itself is not an error. */
static void header_block_capped(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.srv.pad_headers = 40;
    T.expect = 1;
    send_ok(&T, 0, &(http_request){.url = T.url});
    run_loop(&T);
    result *r = &T.r[0];
    assert_int_equal(r->status, 200);
    assert_false(r->has_error);
    assert_string_equal(r->body, "hello");
    assert_string_equal(r->x_test, "hello world");
    assert_true(r->headers_len > 15000 && r->headers_len <= 16384);
    run_finish(&T);
}

static void silent_server_times_out(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.srv.silent = true;
    T.expect = 1;
    send_ok(&T, 0, &(http_request){.url = T.url, .timeout_ms = 300});
    run_loop(&T);
    result *r = &T.r[0];
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->status, 0);
    assert_true(r->has_error);
    assert_true(r->timed_out);
    assert_non_null(strstr(r->error, "Timeout"));
    assert_null(strpbrk(r->error, "\r\n"));
    assert_true(r->total_ms >= 290 && r->total_ms < 2000);
    assert_int_equal(T.srv.n_reqs, 1);
    run_finish(&T);
}

static void refused_connection_is_an_error(void **state)
{
    (void)state;
    /* a bound socket that does not listen: its port refuses connections */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    run_init(&T, NULL);
    T.expect = 1;
    snprintf(T.url, sizeof T.url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    send_ok(&T, 0, &(http_request){.method = "POST", .url = T.url, .body = "x", .body_len = 1});
    run_loop(&T);
    close(fd);
    result *r = &T.r[0];
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->status, 0);
    assert_true(r->has_error);
    assert_false(r->timed_out);
    assert_non_null(strstr(r->error, "Couldn't connect"));
    run_finish(&T);
}

/* https is accepted, and a server that does not speak TLS is an error, not an answer. */
static void https_to_plain_server_fails(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.expect = 1;
    snprintf(T.url, sizeof T.url, "https://127.0.0.1:%d/", T.srv.port);
    send_ok(&T, 0, &(http_request){.url = T.url});
    run_loop(&T);
    assert_int_equal(T.r[0].status, 0);
    assert_true(T.r[0].has_error);
    assert_false(T.r[0].timed_out);
    run_finish(&T);
}

static void send_second(run *t, int i)
{
    if (i == 0)
        send_ok(t, 1, &(http_request){.url = t->url});
}

static void connection_reused(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.expect = 2;
    T.then = send_second;
    send_ok(&T, 0, &(http_request){.url = T.url});
    run_loop(&T);
    assert_int_equal(T.r[0].status, 200);
    assert_int_equal(T.r[1].status, 200);
    assert_int_equal(T.srv.n_reqs, 2);
    assert_int_equal(T.srv.accepted, 1);
    assert_int_equal(T.srv.reqs[1].conn, 1);
    run_finish(&T);
}

/* Six answers held 100 ms each through at most two connections: three rounds. */
static void per_host_limit(void **state)
{
    (void)state;
    run_init(&T, &(http_client_limits){.max_per_host = 2});
    T.srv.delay_ms = 100;
    T.expect = 6;
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < 6; i++)
        send_ok(&T, i, &(http_request){.url = T.url});
    assert_int_equal(http_client_in_flight(T.c), 6);
    run_loop(&T);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(T.r[i].calls, 1);
        assert_int_equal(T.r[i].status, 200);
    }
    assert_int_equal(T.srv.n_reqs, 6);
    assert_int_equal(T.srv.max_open, 2);
    assert_true(T.srv.accepted <= 2);
    assert_true(ms >= 290);
    run_finish(&T);
}

static void total_limit(void **state)
{
    (void)state;
    run_init(&T, &(http_client_limits){.max_total = 1});
    T.srv.delay_ms = 20;
    T.expect = 3;
    for (int i = 0; i < 3; i++)
        send_ok(&T, i, &(http_request){.url = T.url});
    run_loop(&T);
    for (int i = 0; i < 3; i++)
        assert_int_equal(T.r[i].status, 200);
    assert_int_equal(T.srv.max_open, 1);
    run_finish(&T);
}

static void free_now(uv_timer_t *tm)
{
    run *t = tm->data;
    assert_int_equal(http_client_in_flight(t->c), 3);
    end(t);
    uv_close((uv_handle_t *)tm, NULL);
}

static void free_cancels_in_flight(void **state)
{
    (void)state;
    run_init(&T, &(http_client_limits){.max_per_host = 2}); /* one of them still queued */
    T.srv.silent = true;
    T.expect = 99; /* never reached: the end is free_now */
    for (int i = 0; i < 3; i++)
        send_ok(&T, i, &(http_request){.url = T.url});
    uv_timer_t tm;
    uv_timer_init(&T.loop, &tm);
    tm.data = &T;
    uv_timer_start(&tm, free_now, 100, 0);
    run_loop(&T);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(T.r[i].calls, 1);
        assert_int_equal(T.r[i].status, 0);
        assert_string_equal(T.r[i].error, "cancelled");
        assert_false(T.r[i].timed_out);
    }
    assert_int_equal(T.srv.n_reqs, 2);
    run_finish(&T);
}

static void resend_after_free(run *t, int i)
{
    (void)i;
    /* the client is being freed: nothing new is accepted */
    http_client_free(t->c);
    assert_int_equal(http_client_send(t->c, &(http_request){.url = t->url}, on_done, &uds[7]), -1);
    server_stop(&t->srv);
}

static void free_from_a_callback(void **state)
{
    (void)state;
    run_init(&T, NULL);
    T.expect = 99;
    T.then = resend_after_free;
    send_ok(&T, 0, &(http_request){.url = T.url});
    run_loop(&T);
    run_finish(&T);
    assert_int_equal(T.r[0].calls, 1);
    assert_int_equal(T.r[7].calls, 0);
}

static void bad_requests_refused(void **state)
{
    (void)state;
    run_init(&T, NULL);
    char ftp[64];
    snprintf(ftp, sizeof ftp, "ftp://127.0.0.1:%d/", T.srv.port);
    const char *crlf[] = {"X-A: 1\r\nX-B: 2"};
    const char *nocolon[] = {"X-A 1"};
    const http_request bad[] = {
        {.url = ftp},
        {.url = "file:///etc/passwd"},
        {.url = "gopher://127.0.0.1/"},
        {.url = NULL},
        {.method = "TRACE", .url = T.url},
        {.url = T.url, .headers = crlf, .n_headers = 1},
        {.url = T.url, .headers = nocolon, .n_headers = 1},
        {.method = "POST", .url = T.url, .body = NULL, .body_len = 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(http_client_send(T.c, &bad[i], on_done, &uds[0]), -1);
    assert_int_equal(http_client_send(T.c, NULL, on_done, &uds[0]), -1);
    assert_int_equal(http_client_in_flight(T.c), 0);
    end(&T);
    run_loop(&T);
    run_finish(&T);
    assert_int_equal(T.r[0].calls, 0);
    assert_int_equal(T.srv.accepted, 0);
}

static void header_lookup(void **state)
{
    (void)state;
    static const char block[] = "HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n"
                                "HTTP/1.1 200 OK\r\nContent-Type: \t text/plain  \r\n"
                                "Retry-After:120\r\nEmpty:\r\nX-Dup: a\r\nX-Dup: b\r\n\r\n";
    http_response res = {.headers = block, .headers_len = sizeof block - 1};
    char buf[64];
    assert_true(http_response_header(&res, "content-type", buf, sizeof buf));
    assert_string_equal(buf, "text/plain");
    assert_true(http_response_header(&res, "RETRY-AFTER", buf, sizeof buf));
    assert_string_equal(buf, "120");
    assert_true(http_response_header(&res, "Empty", buf, sizeof buf));
    assert_string_equal(buf, "");
    assert_true(http_response_header(&res, "X-Dup", buf, sizeof buf));
    assert_string_equal(buf, "a");
    assert_true(http_response_header(&res, "Content-Type", buf, 5));
    assert_string_equal(buf, "text");
    assert_false(http_response_header(&res, "X-Early", buf, sizeof buf));
    assert_false(http_response_header(&res, "Content", buf, sizeof buf));
    assert_false(http_response_header(&res, "Type", buf, sizeof buf));
    http_response none = {0};
    assert_false(http_response_header(&none, "Content-Type", buf, sizeof buf));
}

/* ---- streams ---- */

#include <sys/resource.h>

typedef struct sres {
    run *t;
    http_stream *s;
    enum http_stream_mode mode; /* what head answers */
    int heads, dones, pauses;
    long status, done_status;
    char type[64], location[256], error[256], body[256];
    long long length;
    size_t got, body_len;
    bool in_order, has_error, timed_out, head_before_body;
    size_t room;         /* bytes taken before saying "no room"; 0: unlimited */
    size_t since_resume; /* bytes taken since the last resume */
    unsigned resume_ms;  /* the pause lasts this long */
    bool long_once;      /* only the first pause lasts resume_ms; the others 1 ms */
    size_t cancel_at;    /* cancel from chunk once this many bytes came; 0: never */
    double paused_cpu_ms;
    double cpu_at_pause;
    uv_timer_t resume, watch;
} sres;

static sres SR;

static double cpu_ms(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

static enum http_stream_mode s_head(void *ud, const http_stream_head *h)
{
    sres *r = ud;
    r->heads++;
    r->head_before_body = r->got == 0;
    r->status = h->status;
    r->length = h->content_length;
    snprintf(r->type, sizeof r->type, "%s", h->content_type);
    snprintf(r->location, sizeof r->location, "%s", h->location);
    return r->mode;
}

static void on_resume(uv_timer_t *tm)
{
    sres *r = tm->data;
    r->paused_cpu_ms += cpu_ms() - r->cpu_at_pause;
    r->since_resume = 0;
    if (r->long_once)
        r->resume_ms = 1;
    http_stream_resume(r->s);
    http_stream_resume(r->s); /* twice is harmless */
}

static void on_watch(uv_timer_t *tm)
{
    sres *r = tm->data;
    if (r->t->srv.closed_by_peer == 0)
        return;
    uv_close((uv_handle_t *)&r->resume, NULL);
    uv_close((uv_handle_t *)tm, NULL);
    end(r->t);
}

static bool s_chunk(void *ud, const char *data, size_t len)
{
    sres *r = ud;
    if (r->room && r->since_resume + len > r->room) {
        r->pauses++;
        r->cpu_at_pause = cpu_ms();
        uv_timer_start(&r->resume, on_resume, r->resume_ms, 0);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if (data[i] != pattern(r->got + i))
            r->in_order = false;
    r->got += len;
    r->since_resume += len;
    if (r->cancel_at && r->got >= r->cancel_at) {
        http_stream_cancel(r->s);
        http_stream_cancel(r->s); /* twice is harmless */
        uv_timer_start(&r->watch, on_watch, 10, 10);
        r->cancel_at = 0;
    }
    return true;
}

static void s_done(void *ud, const http_response *res)
{
    sres *r = ud;
    r->dones++;
    r->done_status = res->status;
    r->has_error = res->error != NULL;
    r->timed_out = res->timed_out;
    if (res->error)
        snprintf(r->error, sizeof r->error, "%s", res->error);
    r->body_len = res->body_len < sizeof r->body - 1 ? res->body_len : sizeof r->body - 1;
    memcpy(r->body, res->body, r->body_len);
    r->body[r->body_len] = '\0';
    uv_close((uv_handle_t *)&r->resume, NULL);
    uv_close((uv_handle_t *)&r->watch, NULL);
    end(r->t);
}

static const http_stream_cbs scbs = {s_head, s_chunk, s_done};

static void stream_init(const char *path)
{
    run_init(&T, NULL);
    memset(&SR, 0, sizeof SR);
    SR.t = &T;
    SR.in_order = true;
    uv_timer_init(&T.loop, &SR.resume);
    uv_timer_init(&T.loop, &SR.watch);
    SR.resume.data = SR.watch.data = &SR;
    snprintf(T.url, sizeof T.url, "http://127.0.0.1:%d%s", T.srv.port, path);
}

static void stream_start(const http_request *rq, const http_stream_opts *o)
{
    SR.s = http_client_stream(T.c, rq, o, &scbs, &SR);
    assert_non_null(SR.s);
}

/* 8 MiB in curl's pieces, taken as they come: in order, the head first. */
static void stream_big_body_in_pieces(void **state)
{
    (void)state;
    stream_init("/rec.wav");
    T.srv.reply_len = 8 << 20;
    stream_start(&(http_request){.url = T.url, .timeout_ms = 1}, NULL); /* no total deadline */
    run_loop(&T);
    assert_int_equal(SR.heads, 1);
    assert_true(SR.head_before_body);
    assert_int_equal(SR.status, 200);
    assert_string_equal(SR.type, "text/plain");
    assert_int_equal(SR.length, 8 << 20);
    assert_int_equal(SR.got, 8 << 20);
    assert_true(SR.in_order);
    assert_int_equal(SR.dones, 1);
    assert_false(SR.has_error);
    assert_int_equal(SR.done_status, 200);
    assert_int_equal(SR.body_len, 0); /* passed on, not kept */
    run_finish(&T);
}

/* A consumer with room for 64 KiB at a time pauses the transfer again and again; the bytes it
 * refused come again, none lost or doubled, and a paused transfer does not spin the loop. */
static void stream_pause_and_resume(void **state)
{
    (void)state;
    stream_init("/rec.wav");
    T.srv.reply_len = 2 << 20;
    SR.room = 65536;
    SR.resume_ms = 5;
    stream_start(&(http_request){.url = T.url}, NULL);
    run_loop(&T);
    assert_int_equal(SR.got, 2 << 20);
    assert_true(SR.in_order);
    assert_true(SR.pauses >= 20);
    assert_int_equal(SR.dones, 1);
    assert_false(SR.has_error);
    run_finish(&T);
}

/* One long pause: the idle timeout does not count it, and the loop sleeps meanwhile. */
static void stream_long_pause_not_idle(void **state)
{
    (void)state;
    stream_init("/rec.wav");
    T.srv.reply_len = 1 << 20;
    SR.room = 65536;
    SR.resume_ms = 1500;
    SR.long_once = true;
    stream_start(&(http_request){.url = T.url}, &(http_stream_opts){.idle_timeout_ms = 1000});
    run_loop(&T);
    assert_int_equal(SR.got, 1 << 20);
    assert_false(SR.has_error);
    assert_true(SR.pauses >= 2);
    /* a transfer that spun while paused would burn most of the 1.5 s */
    printf("cpu while paused: %.1f ms over %d pauses\n", SR.paused_cpu_ms, SR.pauses);
    assert_true(SR.paused_cpu_ms < 300.0);
    run_finish(&T);
}

static void stream_cancel_closes_connection(void **state)
{
    (void)state;
    stream_init("/rec.wav");
    T.srv.reply_len = 32 << 20;
    SR.cancel_at = 1 << 20;
    stream_start(&(http_request){.url = T.url}, NULL);
    run_loop(&T);
    assert_int_equal(SR.dones, 0);
    assert_true(SR.got >= 1 << 20 && SR.got < 32 << 20);
    assert_int_equal(T.srv.closed_by_peer, 1);
    run_finish(&T);
}

/* A redirect to the same host keeps the credentials; the head is the final answer's. */
static void stream_redirect_followed(void **state)
{
    (void)state;
    stream_init("/redirect");
    T.srv.reply_len = 1000;
    snprintf(T.srv.location, sizeof T.srv.location, "http://127.0.0.1:%d/file.wav", T.srv.port);
    const char *hdrs[] = {"Authorization: Basic dTpw"};
    stream_start(&(http_request){.url = T.url, .headers = hdrs, .n_headers = 1}, NULL);
    run_loop(&T);
    assert_int_equal(SR.heads, 1);
    assert_int_equal(SR.status, 200);
    assert_int_equal(SR.got, 1000);
    assert_true(SR.in_order);
    assert_int_equal(T.srv.n_reqs, 2);
    assert_non_null(strstr(T.srv.reqs[1].head, "GET /file.wav "));
    assert_non_null(strcasestr(T.srv.reqs[1].head, "\r\nAuthorization: Basic dTpw\r\n"));
    run_finish(&T);
}

/* To another host (by name), the Authorization header stays behind. */
static void stream_redirect_elsewhere_drops_credentials(void **state)
{
    (void)state;
    stream_init("/redirect");
    T.srv.reply_len = 1000;
    snprintf(T.srv.location, sizeof T.srv.location, "http://localhost:%d/file.wav", T.srv.port);
    const char *hdrs[] = {"Authorization: Basic dTpw"};
    stream_start(&(http_request){.url = T.url, .headers = hdrs, .n_headers = 1}, NULL);
    run_loop(&T);
    assert_int_equal(SR.status, 200);
    assert_int_equal(SR.got, 1000);
    assert_int_equal(T.srv.n_reqs, 2);
    assert_non_null(strcasestr(T.srv.reqs[0].head, "\r\nAuthorization: "));
    assert_null(strcasestr(T.srv.reqs[1].head, "\r\nAuthorization: "));
    run_finish(&T);
}

static void stream_redirect_not_followed(void **state)
{
    (void)state;
    stream_init("/redirect");
    snprintf(T.srv.location, sizeof T.srv.location, "http://127.0.0.1:%d/file.wav", T.srv.port);
    SR.mode = HTTP_STREAM_COLLECT;
    stream_start(&(http_request){.url = T.url}, &(http_stream_opts){.max_redirects = -1});
    run_loop(&T);
    assert_int_equal(SR.status, 302);
    assert_string_equal(SR.location, T.srv.location);
    assert_string_equal(SR.body, "moved");
    assert_int_equal(T.srv.n_reqs, 1);
    run_finish(&T);
}

/* A head the consumer does not stream: its body is kept for done, as with a plain request. */
static void stream_error_collected(void **state)
{
    (void)state;
    stream_init("/missing");
    SR.mode = HTTP_STREAM_COLLECT;
    stream_start(&(http_request){.url = T.url}, NULL);
    run_loop(&T);
    assert_int_equal(SR.status, 404);
    assert_int_equal(SR.length, 17);
    assert_int_equal(SR.got, 0);
    assert_int_equal(SR.dones, 1);
    assert_false(SR.has_error);
    assert_int_equal(SR.done_status, 404);
    assert_string_equal(SR.body, "no such recording");
    run_finish(&T);
}

static void stream_silent_server_idles_out(void **state)
{
    (void)state;
    stream_init("/rec.wav");
    T.srv.silent = true;
    uint64_t t0 = uv_hrtime();
    stream_start(&(http_request){.url = T.url}, &(http_stream_opts){.idle_timeout_ms = 1000});
    run_loop(&T);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_int_equal(SR.heads, 0);
    assert_int_equal(SR.dones, 1);
    assert_true(SR.has_error);
    assert_true(SR.timed_out);
    assert_int_equal(SR.done_status, 0);
    assert_true(ms >= 900 && ms < 4000);
    run_finish(&T);
}

/* Data, then silence: the idle time counts from the last byte, not from the start. */
static void stream_stall_after_data_idles_out(void **state)
{
    (void)state;
    stream_init("/rec.wav");
    T.srv.reply_len = 1 << 20;
    T.srv.partial = 100000;
    uint64_t t0 = uv_hrtime();
    stream_start(&(http_request){.url = T.url}, &(http_stream_opts){.idle_timeout_ms = 500});
    run_loop(&T);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_int_equal(SR.heads, 1);
    assert_int_equal(SR.got, 100000);
    assert_true(SR.in_order);
    assert_int_equal(SR.dones, 1);
    assert_true(SR.has_error);
    assert_true(SR.timed_out);
    assert_non_null(strstr(SR.error, "no byte for 500 ms"));
    assert_true(ms >= 490 && ms < 3000);
    run_finish(&T);
}

static void stream_bad_requests_refused(void **state)
{
    (void)state;
    stream_init("/");
    http_stream_cbs partial = {s_head, NULL, s_done};
    assert_null(http_client_stream(T.c, &(http_request){.url = T.url}, NULL, &partial, &SR));
    assert_null(http_client_stream(T.c, &(http_request){.url = "ftp://x/"}, NULL, &scbs, &SR));
    assert_null(http_client_stream(T.c, &(http_request){.url = T.url}, NULL, NULL, &SR));
    assert_int_equal(http_client_in_flight(T.c), 0);
    uv_close((uv_handle_t *)&SR.resume, NULL);
    uv_close((uv_handle_t *)&SR.watch, NULL);
    end(&T);
    run_loop(&T);
    run_finish(&T);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_answer_read_back),
        cmocka_unit_test(post_body_and_headers_arrive),
        cmocka_unit_test(large_body_sent_without_waiting),
        cmocka_unit_test(methods_arrive_as_such),
        cmocka_unit_test(big_body_truncated),
        cmocka_unit_test(exact_max_body_not_truncated),
        cmocka_unit_test(header_block_capped),
        cmocka_unit_test(silent_server_times_out),
        cmocka_unit_test(refused_connection_is_an_error),
        cmocka_unit_test(https_to_plain_server_fails),
        cmocka_unit_test(connection_reused),
        cmocka_unit_test(per_host_limit),
        cmocka_unit_test(total_limit),
        cmocka_unit_test(free_cancels_in_flight),
        cmocka_unit_test(free_from_a_callback),
        cmocka_unit_test(bad_requests_refused),
        cmocka_unit_test(header_lookup),
        cmocka_unit_test(stream_big_body_in_pieces),
        cmocka_unit_test(stream_pause_and_resume),
        cmocka_unit_test(stream_long_pause_not_idle),
        cmocka_unit_test(stream_cancel_closes_connection),
        cmocka_unit_test(stream_redirect_followed),
        cmocka_unit_test(stream_redirect_elsewhere_drops_credentials),
        cmocka_unit_test(stream_redirect_not_followed),
        cmocka_unit_test(stream_error_collected),
        cmocka_unit_test(stream_silent_server_idles_out),
        cmocka_unit_test(stream_stall_after_data_idles_out),
        cmocka_unit_test(stream_bad_requests_refused),
    };
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
