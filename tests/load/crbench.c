/*
 * crbench — callrelay's load tool for websocket pub/sub brokers (callrelay, Nchan, ...).
 *
 * One process and one epoll loop drive both sides of a broker:
 *   - subscribers: a minimal RFC 6455 client (handshake with Sec-WebSocket-Accept check,
 *     masked client frames, optional fragmentation of what it sends, reassembly of
 *     fragmented messages, ping -> pong, close handshake);
 *   - publishers: N keep-alive HTTP/1.1 connections, one request in flight on each,
 *     closed loop (as fast as the broker answers) or open loop at a fixed rate, where an
 *     event's time is its *scheduled* send time, so a stall is counted in the latency.
 * `idle` mode forks only as many processes as RLIMIT_NOFILE requires.
 *
 * Every published body carries one {mark}: "crb:RUN.UIDX.SEQ.TS" (run tag, user index,
 * per-user sequence number, CLOCK_MONOTONIC ns of the send or scheduled send). Received
 * text is scanned for marks, so a broker may wrap the body, JSON-escape it, or carry
 * several events in one frame. From the marks crbench counts, per subscriber and against
 * the events the broker acknowledged: lost, duplicates, misrouted (another user's event),
 * foreign (another run's), and delivered-but-unacknowledged.
 *
 *   crbench run  [options]   subscribe, publish, drain, one JSON line on stdout
 *   crbench idle [options]   open N websockets, hold them, server RSS/PSS per connection
 *   crbench selftest         known-answer checks of the pure parts
 *
 * No libraries beyond libc. Loopback targets only. Every run is bounded by its event
 * and connection counts and by --timeout (plus an alarm() backstop).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define CRB_VERSION   2
#define MAX_MSG       (16u << 20) /* largest websocket message or HTTP body accepted */
#define MAX_HDR       65536       /* largest HTTP header block accepted */
#define SCRATCH_SZ    (256 * 1024)
#define MAX_EVENTS    20000000ULL
#define MAX_SUBS      1000000ULL
#define MAX_PROCS     32
#define MARK          "crb:"
#define WS_GUID       "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* ================================================================== util */

static int g_verbose;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("crbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void vlog(const char *fmt, ...)
{
    if (!g_verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("crbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        die("out of memory (%zu x %zu bytes)", n, sz);
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory (%zu bytes)", n);
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static uint64_t g_rng = 0x243F6A8885A308D3ULL;
static uint64_t rnd64(void) /* splitmix64: websocket keys and masks only */
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* growable byte buffer; live bytes are p[off .. len) */
typedef struct {
    char *p;
    size_t off, len, cap;
} buf_t;

static inline size_t bn(const buf_t *b) { return b->len - b->off; }
static inline char *bp(const buf_t *b) { return b->p + b->off; }

static void breserve(buf_t *b, size_t extra)
{
    if (b->off && (b->off == b->len || b->cap - b->len < extra)) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->cap - b->len < extra) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc - b->len < extra)
            nc *= 2;
        b->p = xrealloc(b->p, nc);
        b->cap = nc;
    }
}

static void badd(buf_t *b, const void *d, size_t n)
{
    if (!n)
        return;
    breserve(b, n);
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void badds(buf_t *b, const char *s) { badd(b, s, strlen(s)); }

static void bu64(buf_t *b, uint64_t v)
{
    char t[24];
    int i = 24;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    badd(b, t + i, (size_t)(24 - i));
}

static void bfmt(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bfmt(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    breserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void beat(buf_t *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

static void bclear(buf_t *b) { b->off = b->len = 0; }

static void bfree(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* samples (ns) for percentiles */
typedef struct {
    uint64_t *v;
    size_t n, cap;
} samples_t;

static void spush(samples_t *s, uint64_t x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8192;
        s->v = xrealloc(s->v, s->cap * sizeof(uint64_t));
    }
    s->v[s->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* nearest-rank percentile of sorted samples, q in (0, 1] */
static uint64_t spct(const samples_t *s, double q)
{
    if (!s->n)
        return 0;
    double r = q * (double)s->n;
    size_t k = (size_t)r;
    if ((double)k < r)
        k++;
    if (k < 1)
        k = 1;
    if (k > s->n)
        k = s->n;
    return s->v[k - 1];
}

/* ========================================================= SHA-1, base64 */

static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else
            f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1(const void *data, size_t len, uint8_t out[20])
{
    const uint8_t *d = data;
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t i = 0;
    for (; i + 64 <= len; i += 64)
        sha1_block(h, d + i);
    uint8_t tail[128] = {0};
    size_t rem = len - i, tl = rem < 56 ? 64 : 128;
    memcpy(tail, d + i, rem);
    tail[rem] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int j = 0; j < 8; j++)
        tail[tl - 1 - (size_t)j] = (uint8_t)(bits >> (8 * j));
    sha1_block(h, tail);
    if (tl == 128)
        sha1_block(h, tail + 64);
    for (int j = 0; j < 5; j++)
        for (int k = 0; k < 4; k++)
            out[4 * j + k] = (uint8_t)(h[j] >> (24 - 8 * k));
}

static void b64(const uint8_t *in, size_t n, char *out)
{
    static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tb[v >> 18 & 63];
        out[o++] = tb[v >> 12 & 63];
        out[o++] = i + 1 < n ? tb[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tb[v & 63] : '=';
    }
    out[o] = 0;
}

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)) */
static void ws_accept(const char *key, char out[29])
{
    char cat[128];
    uint8_t dg[20];
    int n = snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
    sha1(cat, (size_t)n, dg);
    b64(dg, 20, out);
}

/* ============================================================ templates */

enum { P_LIT, P_USER, P_UIDX, P_SEQ, P_GSEQ, P_TS, P_MARK, P_PAD, P_RUN, P_IDX, P__N };
static const char *const pname[P__N] = {"", "user", "uidx", "seq", "gseq", "ts", "mark", "pad", "run", "idx"};

typedef struct {
    int kind;
    const char *s;
    size_t n;
} piece_t;

typedef struct {
    piece_t *v;
    int n;
    unsigned used;   /* bit per placeholder kind */
    int marks;       /* how many {mark} */
} tmpl_t;

typedef struct {
    uint64_t uidx, seq, gseq, ts, idx;
} tvals_t;

static char **g_users;         /* user names, prefix + index */
static size_t *g_userlen;
static const char *g_run = ""; /* run tag: [0-9a-z]{1,16} */
static size_t g_runlen;
static const char *g_pad = "";
static size_t g_padlen;

static void tadd(tmpl_t *t, int kind, const char *s, size_t n)
{
    t->v = xrealloc(t->v, (size_t)(t->n + 1) * sizeof(piece_t));
    t->v[t->n++] = (piece_t){kind, s, n};
    t->used |= 1u << kind;
    if (kind == P_MARK)
        t->marks++;
}

/* Only {name} for a known name is a placeholder; every other brace is literal (JSON). */
static void tparse(tmpl_t *t, const char *src)
{
    memset(t, 0, sizeof(*t));
    const char *p = src, *lit = src;
    while (*p) {
        int hit = 0;
        if (*p == '{')
            for (int k = 1; k < P__N && !hit; k++) {
                size_t L = strlen(pname[k]);
                if (!strncmp(p + 1, pname[k], L) && p[1 + L] == '}') {
                    if (p > lit)
                        tadd(t, P_LIT, lit, (size_t)(p - lit));
                    tadd(t, k, NULL, 0);
                    p += L + 2;
                    lit = p;
                    hit = 1;
                }
            }
        if (!hit)
            p++;
    }
    if (p > lit)
        tadd(t, P_LIT, lit, (size_t)(p - lit));
}

static void mark_write(buf_t *b, const tvals_t *v)
{
    badd(b, MARK, 4);
    badd(b, g_run, g_runlen);
    badd(b, ".", 1);
    bu64(b, v->uidx);
    badd(b, ".", 1);
    bu64(b, v->seq);
    badd(b, ".", 1);
    bu64(b, v->ts);
}

static void texpand(buf_t *b, const tmpl_t *t, const tvals_t *v)
{
    for (int i = 0; i < t->n; i++) {
        const piece_t *s = &t->v[i];
        switch (s->kind) {
        case P_LIT: badd(b, s->s, s->n); break;
        case P_USER: badd(b, g_users[v->uidx], g_userlen[v->uidx]); break;
        case P_UIDX: bu64(b, v->uidx); break;
        case P_SEQ: bu64(b, v->seq); break;
        case P_GSEQ: bu64(b, v->gseq); break;
        case P_TS: bu64(b, v->ts); break;
        case P_MARK: mark_write(b, v); break;
        case P_PAD: badd(b, g_pad, g_padlen); break;
        case P_RUN: badd(b, g_run, g_runlen); break;
        case P_IDX: bu64(b, v->idx); break;
        }
    }
}

/* Parses "RUN.UIDX.SEQ.TS" after MARK. Returns bytes used, 0 if malformed; *ours = run matches. */
static size_t mark_parse(const char *p, const char *end, int *ours, uint64_t out[3])
{
    const char *q = p;
    while (q < end && isalnum((unsigned char)*q) && q - p < 32)
        q++;
    if (q == p || q >= end || *q != '.')
        return 0;
    *ours = (size_t)(q - p) == g_runlen && !memcmp(p, g_run, g_runlen);
    q++;
    for (int f = 0; f < 3; f++) {
        if (q >= end || !isdigit((unsigned char)*q))
            return 0;
        uint64_t v = 0;
        int nd = 0;
        while (q < end && isdigit((unsigned char)*q) && nd < 20) {
            v = v * 10 + (uint64_t)(*q++ - '0');
            nd++;
        }
        out[f] = v;
        if (f < 2) {
            if (q >= end || *q != '.')
                return 0;
            q++;
        }
    }
    return (size_t)(q - p);
}

/* ================================================================= URLs */

typedef struct {
    struct sockaddr_in sa;
    char hostport[280];
    tmpl_t path;
} url_t;

/* NULL on success, else why not. Only 127.0.0.0/8 (or "localhost") is accepted: no DNS. */
static const char *url_parse(url_t *u, const char *s, const char *scheme)
{
    static char why[320];
    size_t sl = strlen(scheme);
    if (strncmp(s, scheme, sl) || strncmp(s + sl, "://", 3)) {
        snprintf(why, sizeof(why), "URL '%.200s' must start with %s://", s, scheme);
        return why;
    }
    const char *h = s + sl + 3, *slash = strchr(h, '/'), *hend = slash ? slash : h + strlen(h);
    const char *colon = memchr(h, ':', (size_t)(hend - h));
    char host[256];
    size_t hl = (size_t)((colon ? colon : hend) - h);
    if (!hl || hl >= sizeof(host)) {
        snprintf(why, sizeof(why), "bad host in URL '%.200s'", s);
        return why;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    long port = 80;
    if (colon) {
        char *e;
        port = strtol(colon + 1, &e, 10);
        if (e != hend || port <= 0 || port > 65535) {
            snprintf(why, sizeof(why), "bad port in URL '%.200s'", s);
            return why;
        }
    }
    memset(&u->sa, 0, sizeof(u->sa));
    u->sa.sin_family = AF_INET;
    u->sa.sin_port = htons((uint16_t)port);
    if (!strcasecmp(host, "localhost"))
        u->sa.sin_addr.s_addr = htonl(0x7F000001u);
    else if (inet_pton(AF_INET, host, &u->sa.sin_addr) != 1) {
        snprintf(why, sizeof(why), "refusing target '%.64s': only IPv4 loopback addresses (127.0.0.0/8) or localhost", host);
        return why;
    }
    if (ntohl(u->sa.sin_addr.s_addr) >> 24 != 127) {
        snprintf(why, sizeof(why), "refusing non-loopback target %.64s: crbench only loads 127.0.0.0/8", host);
        return why;
    }
    snprintf(u->hostport, sizeof(u->hostport), "%.*s", (int)(hend - h), h);
    tparse(&u->path, slash ? xstrdup(slash) : "/");
    return NULL;
}

/* =============================================================== config */

static struct {
    const char *mode, *label;
    const char *sub_url, *pub_url, *body, *first_frame, *page_frame, *page_reply, *page_end, *ready_on;
    const char *user_prefix, *content_type, *ack_match;
    char *sub_hdrs, *pub_hdrs; /* "K: V\r\n" lines */
    const char *server_pids, *aux_pids;
    uint64_t users, tabs, events, conns, user_shift;
    double rate;
    int replay, src_addrs, connect_conc, procs;
    size_t pad, send_frag;
    double connect_timeout, timeout, settle, drain, hold, idle_settle, close_wait;
} cfg = {
    .label = "",
    .user_prefix = "u",
    .content_type = "application/json",
    .users = 1,
    .tabs = 1,
    .events = 1000,
    .conns = 16,
    .src_addrs = 8,
    .connect_conc = 256,
    .connect_timeout = 30,
    .timeout = 300,
    .settle = 0.5,
    .drain = 5,
    .hold = 5,
    .idle_settle = 1,
    .close_wait = 1,
};

static url_t sub_url, pub_url;
static tmpl_t body_t, first_t, page_t;

/* ========================================================== connections */

enum { K_SUB = 1, K_PUB, K_CTRL };
enum { S_IDLE = 0, S_CONNECTING, S_HANDSHAKE, S_OPEN, S_CLOSING, S_CLOSED };
enum { EV_PENDING = 0, EV_INFLIGHT, EV_ACKED, EV_REJECTED, EV_UNKNOWN };

typedef struct conn {
    int fd;
    uint8_t kind, state, ready, in_msg, msg_op, was_open, page_done, failed;
    uint32_t evmask;
    uint32_t idx;  /* subscriber or publisher number */
    uint32_t user; /* subscriber: the user it is accounted to */
    uint64_t t_start;
    buf_t in, out, msg;
    uint8_t *seen; /* subscriber: bit per per-user sequence number */
    char accept[29];
    /* publisher */
    int64_t ev;    /* event in flight, -1 none */
    uint64_t t_sent, retry_at;
    uint32_t reconnects;
    uint8_t in_free; /* on the idle-publisher ring */
} conn_t;

static int epfd = -1;
static conn_t *subs;
static uint64_t nsubs, next_sub, sub_base; /* sub_base: first global subscriber number (idle child) */
static int connecting; /* subscribers started but neither ready nor failed */
static conn_t *pubs;
static uint32_t *pub_free; /* FIFO ring of idle publishers (open loop): every connection takes turns */
static uint64_t npub_free, pub_free_head;
static uint8_t *ev_status;
static uint32_t *acked_per_user, *ready_per_user;
static uint64_t epu; /* events per user */
static uint64_t next_event;
static char scratch[SCRATCH_SZ];
static buf_t g_tmp, g_body;
static int g_phase;
enum { PH_CONNECT = 1, PH_SETTLE, PH_PUBLISH, PH_REPLAY, PH_DRAIN, PH_DONE };

static struct {
    uint64_t sent, acked, rejected, transport_errors, finalized, pub_reconnects, body_bytes;
    uint64_t delivered, delivered_total, duplicates, misrouted, foreign, bad_marks, other_frames;
    uint64_t subs_ready, sub_connect_errors, sub_disconnects, server_closes, proto_errors, pings, close_ok;
    uint64_t pages, pages_done, subs_page_done, expected_ready;
    uint64_t t_begin, t_subs_done, t_pub_start, t_last_ack, t_first_del, t_last_del, t_replay, t_page_end,
        t_progress, t_drain_end;
    uint64_t late_sends, sched_lag_max, backlog_max;
    samples_t lat, ack;
    int timed_out;
} S;

static void set_mask(conn_t *c, uint32_t m)
{
    if (c->evmask == m)
        return;
    struct epoll_event ev = {.events = m, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl MOD: %s", strerror(errno));
    c->evmask = m;
}

static void conn_lost(conn_t *c, const char *why);

/* write c->out as far as the socket takes it */
static void flush(conn_t *c)
{
    while (bn(&c->out)) {
        ssize_t n = send(c->fd, bp(&c->out), bn(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            beat(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_mask(c, EPOLLIN | EPOLLOUT);
            return;
        }
        conn_lost(c, n < 0 ? strerror(errno) : "send returned 0");
        return;
    }
    if (c->state != S_CONNECTING)
        set_mask(c, EPOLLIN);
}

static int open_socket(const struct sockaddr_in *dst, uint32_t src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (src) {
        /* the port is chosen at connect(), per destination: 8 source addresses x 28k ports */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET};
        sa.sin_addr.s_addr = htonl(src);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            goto fail;
    }
    if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 && errno != EINPROGRESS)
        goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static void add_fd(conn_t *c, uint32_t mask)
{
    struct epoll_event ev = {.events = mask, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl ADD: %s", strerror(errno));
    c->evmask = mask;
}

/* ============================================================ websocket */

/* one masked frame into b */
static void ws_frame(buf_t *b, int fin, int op, const void *data, size_t len)
{
    uint8_t h[14];
    size_t hl = 2;
    h[0] = (uint8_t)((fin ? 0x80 : 0) | op);
    if (len < 126)
        h[1] = (uint8_t)(0x80 | len);
    else if (len < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    uint32_t m = (uint32_t)rnd64();
    memcpy(h + hl, &m, 4);
    const uint8_t *mk = h + hl;
    hl += 4;
    badd(b, h, hl);
    breserve(b, len);
    uint8_t *dst = (uint8_t *)b->p + b->len;
    const uint8_t *src = data;
    for (size_t i = 0; i < len; i++)
        dst[i] = src[i] ^ mk[i & 3];
    b->len += len;
}

/* a message, fragmented into --send-frag byte pieces when asked (control frames never are) */
static void ws_build(buf_t *b, int op, const void *data, size_t len)
{
    if (op < 8 && cfg.send_frag && len > cfg.send_frag) {
        const char *d = data;
        for (size_t off = 0; off < len; off += cfg.send_frag) {
            size_t k = len - off < cfg.send_frag ? len - off : cfg.send_frag;
            ws_frame(b, off + k == len, off ? 0 : op, d + off, k);
        }
    } else {
        ws_frame(b, 1, op, data, len);
    }
}

static void ws_send(conn_t *c, int op, const void *data, size_t len)
{
    ws_build(&c->out, op, data, len);
    flush(c);
}

static void ws_send_tmpl(conn_t *c, const tmpl_t *t)
{
    tvals_t v = {.uidx = (c->user + cfg.user_shift) % cfg.users, .idx = c->idx};
    bclear(&g_tmp);
    texpand(&g_tmp, t, &v);
    ws_send(c, 0x1, bp(&g_tmp), bn(&g_tmp));
}

static void sub_ready(conn_t *c, uint64_t now)
{
    if (c->ready)
        return;
    c->ready = 1;
    connecting--;
    S.subs_ready++;
    if (ready_per_user) {
        ready_per_user[c->user]++;
        S.expected_ready += acked_per_user[c->user];
    }
    S.t_progress = now;
}

static void sub_start(uint64_t i)
{
    conn_t *c = &subs[i];
    uint64_t gi = sub_base + i;
    c->kind = K_SUB;
    c->idx = (uint32_t)gi;
    c->user = (uint32_t)(gi / cfg.tabs);
    c->t_start = now_ns();
    uint32_t src = cfg.src_addrs ? 0x7F000002u + (uint32_t)(gi % (uint64_t)cfg.src_addrs) : 0;
    c->fd = open_socket(&sub_url.sa, src);
    if (c->fd < 0) {
        vlog("sub %" PRIu64 ": connect: %s", i, strerror(errno));
        c->state = S_CLOSED;
        c->failed = 1;
        S.sub_connect_errors++;
        return;
    }
    c->state = S_CONNECTING;
    connecting++;
    add_fd(c, EPOLLOUT);
}

static void sub_handshake(conn_t *c)
{
    uint8_t raw[16];
    uint64_t r1 = rnd64(), r2 = rnd64();
    memcpy(raw, &r1, 8);
    memcpy(raw + 8, &r2, 8);
    char key[32];
    b64(raw, 16, key);
    ws_accept(key, c->accept);
    tvals_t v = {.uidx = (c->user + cfg.user_shift) % cfg.users, .idx = c->idx};
    badds(&c->out, "GET ");
    texpand(&c->out, &sub_url.path, &v);
    bfmt(&c->out,
         " HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
         sub_url.hostport, key, cfg.sub_hdrs ? cfg.sub_hdrs : "");
    c->state = S_HANDSHAKE;
    flush(c);
}

/* marks in a received message: account every event against this subscriber */
static void scan_marks(conn_t *c, const char *d, size_t n, uint64_t now)
{
    const char *end = d + n, *p = d, *m;
    int any = 0;
    while ((m = memmem(p, (size_t)(end - p), MARK, 4))) {
        uint64_t f[3];
        int ours = 0;
        size_t k = mark_parse(m + 4, end, &ours, f);
        p = m + 4 + k;
        any = 1;
        if (!k) {
            S.bad_marks++;
            continue;
        }
        if (!ours) {
            S.foreign++;
            continue;
        }
        S.delivered_total++;
        if (f[0] != c->user) {
            S.misrouted++;
            continue;
        }
        if (f[1] >= epu || !c->seen) {
            S.bad_marks++;
            continue;
        }
        uint8_t bit = (uint8_t)(1u << (f[1] & 7));
        if (c->seen[f[1] >> 3] & bit) {
            S.duplicates++;
            continue;
        }
        c->seen[f[1] >> 3] |= bit;
        S.delivered++;
        if (!S.t_first_del)
            S.t_first_del = now;
        S.t_last_del = now;
        S.t_progress = now;
        spush(&S.lat, now > f[2] ? now - f[2] : 0);
    }
    if (!any)
        S.other_frames++;
}

static void on_message(conn_t *c, const char *d, size_t n, uint64_t now)
{
    if (g_phase < PH_DONE)
        scan_marks(c, d, n, now);
    if (!c->ready && cfg.ready_on && memmem(d, n, cfg.ready_on, strlen(cfg.ready_on)))
        sub_ready(c, now);
    if (!cfg.page_reply || !memmem(d, n, cfg.page_reply, strlen(cfg.page_reply)) || g_phase >= PH_DONE)
        return;
    S.pages++;
    S.t_progress = now;
    if (cfg.page_end && memmem(d, n, cfg.page_end, strlen(cfg.page_end))) {
        S.pages_done++;
        if (!c->page_done) {
            c->page_done = 1;
            S.subs_page_done++;
            S.t_page_end = now;
        }
        return;
    }
    const tmpl_t *t = page_t.n ? &page_t : &first_t;
    if (t->n)
        ws_send_tmpl(c, t);
}

static void proto_error(conn_t *c, const char *why)
{
    S.proto_errors++;
    fprintf(stderr, "crbench: sub %u: protocol error: %s\n", c->idx, why);
    conn_lost(c, why);
}

/* frames from d[0..n); returns bytes consumed */
static size_t ws_input(conn_t *c, const uint8_t *d, size_t n, uint64_t now)
{
    size_t off = 0;
    while (n - off >= 2) {
        uint8_t b0 = d[off], b1 = d[off + 1];
        int fin = b0 & 0x80, op = b0 & 0x0f;
        uint64_t len = b1 & 0x7f;
        size_t hl = 2;
        if (b0 & 0x70) {
            proto_error(c, "RSV bits set without an extension");
            return n;
        }
        if (b1 & 0x80) {
            proto_error(c, "masked frame from the server");
            return n;
        }
        if (len == 126) {
            if (n - off < 4)
                break;
            len = (uint64_t)d[off + 2] << 8 | d[off + 3];
            hl = 4;
        } else if (len == 127) {
            if (n - off < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | d[off + 2 + i];
            hl = 10;
        }
        if (len > MAX_MSG) {
            proto_error(c, "frame too large");
            return n;
        }
        if (op >= 8 && (!fin || len > 125)) {
            proto_error(c, "fragmented or long control frame");
            return n;
        }
        if (n - off < hl + len)
            break;
        const char *pl = (const char *)d + off + hl;
        size_t L = (size_t)len;
        off += hl + L;
        switch (op) {
        case 0x1:
        case 0x2:
            if (c->in_msg) {
                proto_error(c, "new message inside a fragmented one");
                return n;
            }
            if (fin)
                on_message(c, pl, L, now);
            else {
                c->in_msg = 1;
                c->msg_op = (uint8_t)op;
                bclear(&c->msg);
                badd(&c->msg, pl, L);
            }
            break;
        case 0x0:
            if (!c->in_msg) {
                proto_error(c, "continuation without a message");
                return n;
            }
            if (bn(&c->msg) + L > MAX_MSG) {
                proto_error(c, "message too large");
                return n;
            }
            badd(&c->msg, pl, L);
            if (fin) {
                c->in_msg = 0;
                on_message(c, bp(&c->msg), bn(&c->msg), now);
                bfree(&c->msg);
            }
            break;
        case 0x8:
            if (c->state == S_CLOSING) { /* the answer to our close */
                S.close_ok++;
                conn_lost(c, "closed");
                return n;
            }
            S.server_closes++;
            vlog("sub %u: server closed (code %d %.*s)", c->idx, L >= 2 ? ((uint8_t)pl[0] << 8 | (uint8_t)pl[1]) : 0,
                 L > 2 ? (int)(L - 2) : 0, L > 2 ? pl + 2 : "");
            ws_frame(&c->out, 1, 0x8, pl, L >= 2 ? 2 : 0);
            flush(c);
            conn_lost(c, "server close");
            return n;
        case 0x9:
            S.pings++;
            ws_send(c, 0xA, pl, L);
            break;
        case 0xA:
            break;
        default:
            proto_error(c, "unknown opcode");
            return n;
        }
        if (c->state == S_CLOSED)
            return n;
    }
    return off;
}

static size_t sub_input(conn_t *c, const char *d, size_t n, uint64_t now)
{
    size_t used = 0;
    if (c->state == S_HANDSHAKE) {
        const char *e = memmem(d, n, "\r\n\r\n", 4);
        if (!e) {
            if (n > MAX_HDR)
                proto_error(c, "handshake answer too large");
            return 0;
        }
        size_t hl = (size_t)(e - d) + 4;
        char *h = xmalloc(hl + 1);
        memcpy(h, d, hl);
        h[hl] = 0;
        const char *why = NULL;
        if (strncmp(h, "HTTP/1.1 101", 12) && strncmp(h, "HTTP/1.0 101", 12))
            why = "handshake refused";
        else {
            char *a = strcasestr(h, "\r\nsec-websocket-accept:"), *u = strcasestr(h, "\r\nupgrade:");
            if (a) {
                a += 23;
                while (*a == ' ' || *a == '\t')
                    a++;
            }
            if (!a || strncmp(a, c->accept, 28) || (a[28] != '\r' && a[28] != ' ' && a[28] != '\t'))
                why = "bad Sec-WebSocket-Accept";
            else if (!u || !strcasestr(u, "websocket"))
                why = "no Upgrade: websocket";
        }
        if (why) {
            char *eol = strstr(h, "\r\n");
            if (eol)
                *eol = 0;
            if (S.sub_connect_errors < 3)
                fprintf(stderr, "crbench: sub %u: %s: %s\n", c->idx, why, h);
            free(h);
            conn_lost(c, why);
            return n;
        }
        free(h);
        used = hl;
        c->state = S_OPEN;
        c->was_open = 1;
        if (c->seen == NULL && epu)
            c->seen = xcalloc((size_t)((epu + 7) / 8), 1);
        if (first_t.n)
            ws_send_tmpl(c, &first_t);
        if (c->state == S_CLOSED)
            return n;
        if (!cfg.ready_on)
            sub_ready(c, now);
    }
    if (c->state >= S_OPEN && c->state != S_CLOSED && n > used)
        used += ws_input(c, (const uint8_t *)d + used, n - used, now);
    return used;
}

/* ============================================================ publishers */

/* case-insensitive search for w in p[0..n) */
static int has_word(const char *p, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++)
        if (!strncasecmp(p + i, w, wl))
            return 1;
    return 0;
}

static int open_loop(void) { return cfg.rate > 0; }
static uint64_t t0_sched;
static uint64_t due(uint64_t g) { return t0_sched + (uint64_t)((double)g * 1e9 / cfg.rate); }

static void pub_connect(conn_t *c)
{
    bfree(&c->in);
    bfree(&c->out);
    c->ev = -1;
    c->fd = open_socket(&pub_url.sa, 0);
    if (c->fd < 0) {
        vlog("pub %u: connect: %s", c->idx, strerror(errno));
        c->state = S_CLOSED;
        c->retry_at = now_ns() + 100000000ULL;
        return;
    }
    c->state = S_CONNECTING;
    add_fd(c, EPOLLOUT);
}

static void pub_send(conn_t *c, uint64_t g, uint64_t ts, uint64_t now)
{
    tvals_t v = {.uidx = g % cfg.users, .seq = g / cfg.users, .gseq = g, .ts = ts, .idx = g};
    bclear(&g_body);
    texpand(&g_body, &body_t, &v);
    if (!S.body_bytes)
        S.body_bytes = bn(&g_body);
    badd(&c->out, "POST ", 5);
    texpand(&c->out, &pub_url.path, &v);
    badds(&c->out, " HTTP/1.1\r\nHost: ");
    badds(&c->out, pub_url.hostport);
    badds(&c->out, "\r\nContent-Type: ");
    badds(&c->out, cfg.content_type);
    badds(&c->out, "\r\nContent-Length: ");
    bu64(&c->out, bn(&g_body));
    badds(&c->out, "\r\n");
    if (cfg.pub_hdrs)
        badds(&c->out, cfg.pub_hdrs);
    badds(&c->out, "\r\n");
    badd(&c->out, bp(&g_body), bn(&g_body));
    c->ev = (int64_t)g;
    c->t_sent = now;
    ev_status[g] = EV_INFLIGHT;
    S.sent++;
    flush(c);
}

/* hand out due events to idle publishers */
static void pump(uint64_t now)
{
    if (g_phase != PH_PUBLISH)
        return;
    if (!open_loop()) {
        for (uint64_t i = 0; i < cfg.conns && next_event < cfg.events; i++) {
            conn_t *c = &pubs[i];
            if (c->state == S_OPEN && c->ev < 0)
                pub_send(c, next_event++, now, now);
        }
        return;
    }
    while (next_event < cfg.events && npub_free) {
        uint64_t d = due(next_event);
        if (d > now)
            break;
        conn_t *c = &pubs[pub_free[pub_free_head]];
        pub_free_head = (pub_free_head + 1) % cfg.conns;
        npub_free--;
        c->in_free = 0;
        if (c->state != S_OPEN || c->ev >= 0)
            continue;
        uint64_t lag = now - d;
        if (lag > S.sched_lag_max)
            S.sched_lag_max = lag;
        if (lag > 1000000)
            S.late_sends++;
        pub_send(c, next_event++, d, now);
    }
    if (next_event < cfg.events) {
        uint64_t d = due(next_event);
        if (d <= now) { /* due, but every connection is busy */
            uint64_t backlog = (uint64_t)((double)(now - t0_sched) * cfg.rate / 1e9) + 1 - next_event;
            if (backlog > S.backlog_max)
                S.backlog_max = backlog;
        }
    }
}

static void pub_idle(conn_t *c)
{
    if (open_loop() && !c->in_free) {
        c->in_free = 1;
        pub_free[(pub_free_head + npub_free++) % cfg.conns] = c->idx;
    }
}

static void pub_finish(conn_t *c, int status, const char *body, size_t blen, uint64_t now)
{
    uint64_t g = (uint64_t)c->ev;
    c->ev = -1;
    spush(&S.ack, now - c->t_sent);
    S.finalized++;
    S.t_last_ack = now;
    int ok = status >= 200 && status < 300;
    if (ok && cfg.ack_match && !memmem(body, blen, cfg.ack_match, strlen(cfg.ack_match)))
        ok = 0;
    if (ok) {
        ev_status[g] = EV_ACKED;
        S.acked++;
        uint32_t u = (uint32_t)(g % cfg.users);
        acked_per_user[u]++;
        S.expected_ready += ready_per_user[u];
    } else {
        ev_status[g] = EV_REJECTED;
        if (S.rejected++ < 3)
            fprintf(stderr, "crbench: event %" PRIu64 " rejected: HTTP %d %.*s\n", g, status,
                    (int)(blen > 200 ? 200 : blen), body);
    }
}

/* One HTTP/1.1 response from d[0..n). Returns bytes used, 0 if incomplete, -1 if malformed.
 * The body (chunked decoded) goes to *body. */
static long http_response(const char *d, size_t n, int *status, int *close_after, buf_t *body)
{
    const char *e = memmem(d, n, "\r\n\r\n", 4);
    if (!e)
        return n > MAX_HDR ? -1 : 0;
    size_t hl = (size_t)(e - d) + 4;
    if (hl < 16 || strncmp(d, "HTTP/1.", 7) || d[8] != ' ' || !isdigit((unsigned char)d[9]))
        return -1;
    *status = atoi(d + 9);
    *close_after = d[7] == '0';
    long long clen = -1;
    int chunked = 0;
    for (const char *line = memchr(d, '\n', hl) + 1; line < d + hl - 2;) {
        const char *eol = memchr(line, '\n', (size_t)(d + hl - line));
        size_t ll = (size_t)(eol - line);
        if (ll > 15 && !strncasecmp(line, "content-length:", 15))
            clen = strtoll(line + 15, NULL, 10);
        else if (ll > 18 && !strncasecmp(line, "transfer-encoding:", 18))
            chunked = has_word(line + 18, ll - 18, "chunked");
        else if (ll > 11 && !strncasecmp(line, "connection:", 11)) {
            if (has_word(line + 11, ll - 11, "close"))
                *close_after = 1;
            else if (has_word(line + 11, ll - 11, "keep-alive"))
                *close_after = 0;
        }
        line = eol + 1;
    }
    bclear(body);
    if (*status == 204 || *status == 304 || (*status >= 100 && *status < 200))
        return (long)hl;
    if (chunked) {
        size_t p = hl;
        for (;;) {
            const char *le = memmem(d + p, n - p, "\r\n", 2);
            if (!le)
                return n - p > 64 ? -1 : 0;
            char *x;
            unsigned long long sz = strtoull(d + p, &x, 16);
            if (x == d + p || sz > MAX_MSG)
                return -1;
            p = (size_t)(le - d) + 2;
            if (sz == 0) { /* trailers, then an empty line */
                const char *te = memmem(d + p - 2, n - (p - 2), "\r\n\r\n", 4);
                if (!te)
                    return 0;
                return (long)((size_t)(te - d) + 4);
            }
            if (n - p < sz + 2)
                return 0;
            badd(body, d + p, (size_t)sz);
            p += (size_t)sz + 2;
        }
    }
    if (clen < 0 || clen > MAX_MSG)
        return -1; /* a body until close is useless on a keep-alive publisher */
    if (n - hl < (size_t)clen)
        return 0;
    badd(body, d + hl, (size_t)clen);
    return (long)(hl + (size_t)clen);
}

static size_t pub_input(conn_t *c, const char *d, size_t n, uint64_t now)
{
    size_t off = 0;
    while (off < n) {
        int status = 0, close_after = 0;
        long used = http_response(d + off, n - off, &status, &close_after, &g_tmp);
        if (used == 0)
            break;
        if (used < 0 || c->ev < 0) {
            S.proto_errors++;
            fprintf(stderr, "crbench: pub %u: %s\n", c->idx, used < 0 ? "malformed HTTP response" : "response without a request");
            conn_lost(c, "protocol error");
            return n;
        }
        off += (size_t)used;
        if (status >= 100 && status < 200)
            continue; /* interim */
        pub_finish(c, status, bp(&g_tmp), bn(&g_tmp), now);
        if (close_after) {
            conn_lost(c, "server asked to close");
            return n;
        }
        pub_idle(c);
    }
    return off;
}

/* ============================================================ events */

static void conn_lost(conn_t *c, const char *why)
{
    if (c->state == S_CLOSED)
        return;
    int prev = c->state;
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = S_CLOSED;
    bfree(&c->out);
    bfree(&c->in);
    bfree(&c->msg);
    c->in_msg = 0;
    if (c->kind == K_SUB) {
        if (!c->ready) {
            if (!c->failed) {
                c->failed = 1;
                connecting--;
                S.sub_connect_errors++;
            }
            vlog("sub %u: failed before ready: %s", c->idx, why);
        } else if (prev != S_CLOSING && g_phase < PH_DONE) {
            S.sub_disconnects++;
            vlog("sub %u: lost: %s", c->idx, why);
        }
    } else if (c->kind == K_PUB) {
        if (c->ev >= 0) {
            ev_status[c->ev] = EV_UNKNOWN;
            S.transport_errors++;
            S.finalized++;
            vlog("pub %u: lost with event %" PRId64 " in flight: %s", c->idx, c->ev, why);
            c->ev = -1;
        }
        if (g_phase <= PH_PUBLISH && c->reconnects < 100) {
            if (prev == S_OPEN) {
                c->reconnects++;
                S.pub_reconnects++;
                pub_connect(c);
            } else {
                c->retry_at = now_ns() + 100000000ULL;
            }
        }
    }
}

static void on_writable(conn_t *c)
{
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            conn_lost(c, strerror(err));
            return;
        }
        set_mask(c, EPOLLIN);
        if (c->kind == K_SUB)
            sub_handshake(c);
        else {
            c->state = S_OPEN;
            pub_idle(c);
            pump(now_ns());
        }
        return;
    }
    flush(c);
}

static void on_readable(conn_t *c)
{
    const int fd = c->fd; /* a publisher may reconnect (new fd) while its data is processed */
    for (int iter = 0; iter < 8; iter++) {
        ssize_t n = recv(fd, scratch, sizeof(scratch), 0);
        if (n > 0) {
            uint64_t now = now_ns();
            size_t used;
            if (!bn(&c->in)) {
                used = c->kind == K_SUB ? sub_input(c, scratch, (size_t)n, now) : pub_input(c, scratch, (size_t)n, now);
                if (c->state == S_CLOSED || c->fd != fd)
                    return;
                badd(&c->in, scratch + used, (size_t)n - used);
            } else {
                badd(&c->in, scratch, (size_t)n);
                used = c->kind == K_SUB ? sub_input(c, bp(&c->in), bn(&c->in), now)
                                        : pub_input(c, bp(&c->in), bn(&c->in), now);
                if (c->state == S_CLOSED || c->fd != fd)
                    return;
                beat(&c->in, used);
            }
            if (!bn(&c->in) && c->in.cap > 65536)
                bfree(&c->in);
            if ((size_t)n < sizeof(scratch))
                break;
            continue;
        }
        if (n == 0) {
            if (c->state == S_CLOSING)
                S.close_ok++;
            conn_lost(c, "EOF");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            conn_lost(c, strerror(errno));
        break;
    }
}

static void start_sub_connects(void)
{
    while (next_sub < nsubs && connecting < cfg.connect_conc)
        sub_start(next_sub++);
}

static uint64_t last_scan;
static void check_timeouts(uint64_t now)
{
    if (now - last_scan < 100000000ULL)
        return;
    last_scan = now;
    uint64_t lim = (uint64_t)(cfg.connect_timeout * 1e9);
    for (uint64_t i = 0; i < next_sub; i++) {
        conn_t *c = &subs[i];
        if (!c->ready && !c->failed && now > c->t_start && now - c->t_start > lim)
            conn_lost(c, "connect timeout");
    }
    if (pubs)
        for (uint64_t i = 0; i < cfg.conns; i++)
            if (pubs[i].state == S_CLOSED && pubs[i].retry_at && now >= pubs[i].retry_at && g_phase <= PH_PUBLISH &&
                pubs[i].reconnects < 100) {
                pubs[i].retry_at = 0;
                pubs[i].reconnects++;
                S.pub_reconnects++;
                pub_connect(&pubs[i]);
            }
}

/* close every subscriber: a close frame and a short wait for the answer (graceful), or RST */
static void close_subs(int graceful)
{
    struct linger lg = {1, 0};
    if (graceful) {
        static const uint8_t code[2] = {0x03, 0xE8}; /* 1000 */
        for (uint64_t i = 0; i < next_sub; i++) {
            conn_t *c = &subs[i];
            if (c->state == S_OPEN) {
                ws_frame(&c->out, 1, 0x8, code, 2);
                c->state = S_CLOSING;
                flush(c);
            }
        }
        uint64_t until = now_ns() + (uint64_t)(cfg.close_wait * 1e9);
        struct epoll_event evs[256];
        for (;;) {
            int open = 0;
            for (uint64_t i = 0; i < next_sub && !open; i++)
                open = subs[i].state == S_CLOSING;
            uint64_t now = now_ns();
            if (!open || now >= until)
                break;
            int n = epoll_wait(epfd, evs, 256, (int)((until - now) / 1000000 + 1));
            for (int k = 0; k < n; k++) {
                conn_t *c = evs[k].data.ptr;
                if (c->kind != K_SUB || c->state == S_CLOSED)
                    continue;
                if (evs[k].events & EPOLLOUT)
                    flush(c);
                if (c->state != S_CLOSED && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                    on_readable(c);
            }
        }
    }
    for (uint64_t i = 0; i < next_sub; i++)
        if (subs[i].fd >= 0) {
            setsockopt(subs[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)); /* RST: no TIME_WAIT pile-up */
            subs[i].state = S_CLOSING;
            conn_lost(&subs[i], "end");
        }
}

/* ========================================================== /proc */

typedef struct {
    long rss_kib, pss_kib;
    double cpu_s;
    int nproc;
} pstat_t;

static long kib_field(const char *path, const char *field)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, field, fl)) {
            v = strtol(line + fl, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* utime + stime of a process (all its threads), from /proc/PID/stat */
static double proc_cpu_s(int pid)
{
    char path[64], line[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')');
    if (!p)
        return 0;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ppid(4) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static pstat_t sample(const char *pids)
{
    pstat_t r = {0, 0, 0, 0};
    if (!pids || !*pids)
        return r;
    char *copy = xstrdup(pids), *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int pid = atoi(tok);
        if (pid <= 0)
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        long rss = kib_field(path, "VmRSS:");
        if (rss < 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
        long pss = kib_field(path, "Pss:");
        r.rss_kib += rss;
        r.pss_kib += pss > 0 ? pss : 0;
        r.cpu_s += proc_cpu_s(pid);
        r.nproc++;
    }
    free(copy);
    return r;
}

static double self_cpu_s(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* ============================================================ setup */

static rlim_t raise_nofile(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

static void make_users(void)
{
    g_users = xcalloc((size_t)cfg.users, sizeof(char *));
    g_userlen = xcalloc((size_t)cfg.users, sizeof(size_t));
    for (uint64_t u = 0; u < cfg.users; u++) {
        char t[160];
        int n = snprintf(t, sizeof(t), "%s%" PRIu64, cfg.user_prefix, u);
        g_users[u] = xstrdup(t);
        g_userlen[u] = (size_t)n;
    }
}

static void common_init(void)
{
    signal(SIGPIPE, SIG_IGN);
    g_rng ^= now_ns() ^ ((uint64_t)getpid() << 32);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
}

static conn_t ctrl_conn = {.kind = K_CTRL, .fd = -1};

/* epoll_wait with a nanosecond timeout (epoll_pwait2, Linux 5.11), so that an open-loop event is
 * sent at its scheduled time without a timerfd round trip; millisecond epoll_wait where missing */
static int have_pwait2 = 1;
static int wait_events(struct epoll_event *evs, int max, uint64_t timeout_ns)
{
    if (have_pwait2) {
        struct timespec ts = {(time_t)(timeout_ns / 1000000000ULL), (long)(timeout_ns % 1000000000ULL)};
        int n = epoll_pwait2(epfd, evs, max, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        have_pwait2 = 0;
    }
    return epoll_wait(epfd, evs, max, (int)((timeout_ns + 999999) / 1000000));
}

/* ============================================================ run mode */

static pstat_t sv_pub, ax_pub;
static double cpu_pub;

static void enter(int ph, uint64_t now)
{
    g_phase = ph;
    vlog("phase %d at %.3f s: subs ready %" PRIu64 ", connect errors %" PRIu64 ", acked %" PRIu64, ph,
         (double)(now - S.t_begin) / 1e9, S.subs_ready, S.sub_connect_errors, S.acked);
}

static void start_publish(void)
{
    sv_pub = sample(cfg.server_pids);
    ax_pub = sample(cfg.aux_pids);
    cpu_pub = self_cpu_s(RUSAGE_SELF);
    uint64_t now = now_ns();
    enter(PH_PUBLISH, now);
    S.t_pub_start = t0_sched = now;
    pump(now);
}

static int all_pubs_open(void)
{
    for (uint64_t i = 0; i < cfg.conns; i++)
        if (pubs[i].state != S_OPEN)
            return 0;
    return 1;
}

static int drained(void)
{
    if (S.delivered < S.expected_ready)
        return 0;
    if (cfg.page_end && cfg.replay && S.subs_page_done < S.subs_ready)
        return 0;
    return 1;
}

static void run_loop(void)
{
    struct epoll_event evs[512];
    uint64_t deadline = S.t_begin + (uint64_t)(cfg.timeout * 1e9);
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            S.timed_out = 1;
            fprintf(stderr, "crbench: hard timeout (%.0f s) in phase %d\n", cfg.timeout, g_phase);
            break;
        }
        if (g_phase == PH_CONNECT || g_phase == PH_REPLAY) {
            start_sub_connects();
            if (next_sub >= nsubs && connecting == 0) {
                S.t_subs_done = now;
                if (g_phase == PH_CONNECT) {
                    enter(PH_SETTLE, now);
                    S.t_progress = now;
                } else {
                    enter(PH_DRAIN, now);
                }
            }
        }
        check_timeouts(now);
        if (g_phase == PH_SETTLE) {
            double waited = (double)(now - S.t_progress) / 1e9;
            if ((waited >= cfg.settle && all_pubs_open()) || waited >= cfg.settle + cfg.connect_timeout) {
                int any = 0;
                for (uint64_t i = 0; i < cfg.conns; i++)
                    any |= pubs[i].state == S_OPEN;
                if (!any) {
                    fprintf(stderr, "crbench: no publishing connection could be opened\n");
                    S.timed_out = 1;
                    break;
                }
                start_publish();
            }
        }
        if (g_phase == PH_PUBLISH && S.finalized >= cfg.events) {
            S.t_progress = now;
            if (cfg.replay) {
                S.t_replay = now;
                enter(PH_REPLAY, now);
                continue;
            }
            enter(PH_DRAIN, now);
        }
        if (g_phase == PH_DRAIN) {
            if (drained())
                break;
            if ((double)(now - S.t_progress) / 1e9 >= cfg.drain) {
                vlog("drain: nothing for %.1f s, stopping", cfg.drain);
                break;
            }
        }
        uint64_t timeout = g_phase == PH_PUBLISH ? 50000000ULL : 10000000ULL;
        if (g_phase == PH_PUBLISH && open_loop() && next_event < cfg.events && npub_free) {
            uint64_t d = due(next_event);
            timeout = d <= now ? 0 : d - now < timeout ? d - now : timeout;
        }
        int n = wait_events(evs, 512, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (c->state == S_CLOSED)
                continue;
            if (c->state == S_CONNECTING && (e & (EPOLLERR | EPOLLHUP | EPOLLOUT))) {
                on_writable(c);
                continue;
            }
            if (e & EPOLLOUT)
                on_writable(c);
            if (c->state != S_CLOSED && (e & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(c);
        }
        if (g_phase == PH_PUBLISH)
            pump(now_ns());
    }
    S.t_drain_end = now_ns();
}

static void jstr(buf_t *b, const char *k, const char *v)
{
    bfmt(b, "\"%s\":\"", k);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            bfmt(b, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            bfmt(b, "\\u%04x", *p);
        else
            badd(b, p, 1);
    }
    badds(b, "\",");
}

static double us(uint64_t ns) { return (double)ns / 1000.0; }
static double sec(uint64_t a, uint64_t b) { return b > a ? (double)(b - a) / 1e9 : 0; }

static int output_run(pstat_t sv0, pstat_t sv1, pstat_t ax1)
{
    /* every acked event x every subscriber of its user (ready or not) must have arrived */
    uint64_t expected = 0, got = 0, lost = 0, unacked_del = 0;
    for (uint64_t i = 0; i < nsubs; i++) {
        conn_t *c = &subs[i];
        uint32_t u = (uint32_t)(i / cfg.tabs);
        for (uint64_t s = 0; s < epu; s++) {
            uint64_t g = s * cfg.users + u;
            if (g >= cfg.events)
                break;
            int seen = c->seen && (c->seen[s >> 3] >> (s & 7) & 1);
            if (ev_status[g] == EV_ACKED) {
                expected++;
                if (seen)
                    got++;
                else
                    lost++;
            } else if (seen)
                unacked_del++;
        }
    }
    if (S.lat.n)
        qsort(S.lat.v, S.lat.n, sizeof(uint64_t), cmp_u64);
    if (S.ack.n)
        qsort(S.ack.v, S.ack.n, sizeof(uint64_t), cmp_u64);
    uint64_t end = S.t_drain_end;
    double pub_s = sec(S.t_pub_start, S.t_last_ack);
    uint64_t dbase = cfg.replay ? S.t_replay : S.t_pub_start;
    double del_s = sec(dbase, S.t_last_del);
    uint64_t last = S.t_last_ack > S.t_last_del ? S.t_last_ack : S.t_last_del;
    double e2e_s = sec(S.t_pub_start, last);
    double act = S.t_pub_start ? sec(S.t_pub_start, end) : 0;
    double cpu = self_cpu_s(RUSAGE_SELF) - cpu_pub;
    uint64_t errors = S.rejected + S.transport_errors;
    int ok = !lost && !S.duplicates && !S.misrouted && !errors && !S.timed_out && S.subs_ready == nsubs &&
             !S.sub_disconnects && !S.proto_errors && !S.bad_marks && S.acked == cfg.events;
    buf_t b = {0};
    bfmt(&b, "{\"tool\":\"crbench\",\"version\":%d,\"mode\":\"run\",", CRB_VERSION);
    jstr(&b, "label", cfg.label);
    jstr(&b, "run", g_run);
    bfmt(&b, "\"order\":\"%s\",\"loop\":\"%s\",\"users\":%" PRIu64 ",\"tabs\":%" PRIu64 ",\"subs\":%" PRIu64
             ",\"subs_ready\":%" PRIu64 ",\"sub_connect_errors\":%" PRIu64 ",\"sub_disconnects\":%" PRIu64
             ",\"server_closes\":%" PRIu64 ",\"proto_errors\":%" PRIu64 ",\"pings\":%" PRIu64 ",",
         cfg.replay ? "replay" : "live", open_loop() ? "open" : "closed", cfg.users, cfg.tabs, nsubs, S.subs_ready,
         S.sub_connect_errors, S.sub_disconnects, S.server_closes, S.proto_errors, S.pings);
    bfmt(&b, "\"events\":%" PRIu64 ",\"rate\":%.1f,\"conns\":%" PRIu64 ",\"body_bytes\":%" PRIu64 ",\"sent\":%" PRIu64
             ",\"acked\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"transport_errors\":%" PRIu64
             ",\"pub_reconnects\":%" PRIu64 ",",
         cfg.events, cfg.rate, cfg.conns, S.body_bytes, S.sent, S.acked, errors, S.rejected, S.transport_errors,
         S.pub_reconnects);
    bfmt(&b, "\"expected\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"delivered_total\":%" PRIu64 ",\"lost\":%" PRIu64
             ",\"duplicates\":%" PRIu64 ",\"misrouted\":%" PRIu64 ",\"foreign\":%" PRIu64 ",\"unacked_delivered\":%" PRIu64
             ",\"bad_marks\":%" PRIu64 ",\"other_frames\":%" PRIu64 ",",
         expected, got, S.delivered_total, lost, S.duplicates, S.misrouted, S.foreign, unacked_del, S.bad_marks,
         S.other_frames);
    if (cfg.page_reply)
        bfmt(&b, "\"pages\":%" PRIu64 ",\"pages_done\":%" PRIu64 ",", S.pages, S.pages_done);
    bfmt(&b, "\"publish_per_s\":%.1f,\"delivery_per_s\":%.1f,\"events_per_s\":%.1f,",
         pub_s > 0 ? (double)S.acked / pub_s : 0, del_s > 0 ? (double)got / del_s : 0,
         e2e_s > 0 ? (double)S.acked / e2e_s : 0);
    bfmt(&b, "\"lat_n\":%zu,\"lat_p50_us\":%.1f,\"lat_p90_us\":%.1f,\"lat_p99_us\":%.1f,\"lat_p999_us\":%.1f,"
             "\"lat_max_us\":%.1f,",
         S.lat.n, us(spct(&S.lat, .5)), us(spct(&S.lat, .9)), us(spct(&S.lat, .99)), us(spct(&S.lat, .999)),
         us(S.lat.n ? S.lat.v[S.lat.n - 1] : 0));
    bfmt(&b, "\"ack_p50_us\":%.1f,\"ack_p99_us\":%.1f,\"ack_max_us\":%.1f,", us(spct(&S.ack, .5)),
         us(spct(&S.ack, .99)), us(S.ack.n ? S.ack.v[S.ack.n - 1] : 0));
    if (open_loop())
        bfmt(&b, "\"late_sends\":%" PRIu64 ",\"sched_lag_max_us\":%.1f,\"backlog_max\":%" PRIu64 ",", S.late_sends,
             us(S.sched_lag_max), S.backlog_max);
    bfmt(&b, "\"connect_s\":%.3f,\"publish_s\":%.3f,\"delivery_s\":%.3f,\"e2e_s\":%.3f,",
         cfg.replay ? 0 : sec(S.t_begin, S.t_subs_done), pub_s, del_s, e2e_s);
    if (cfg.replay)
        bfmt(&b, "\"replay_connect_ms\":%.1f,\"replay_first_ms\":%.1f,\"replay_all_ms\":%.1f,\"replay_end_ms\":%.1f,",
             S.t_subs_done > S.t_replay ? sec(S.t_replay, S.t_subs_done) * 1e3 : -1,
             S.t_first_del > S.t_replay ? sec(S.t_replay, S.t_first_del) * 1e3 : -1,
             (!lost && got) ? sec(S.t_replay, S.t_last_del) * 1e3 : -1,
             S.t_page_end > S.t_replay ? sec(S.t_replay, S.t_page_end) * 1e3 : -1);
    bfmt(&b, "\"wall_s\":%.3f,\"active_s\":%.3f,\"tool_cpu_s\":%.3f,\"tool_cpu_pct\":%.1f,\"tool_cpu_us_per_event\":%.1f,",
         sec(S.t_begin, end), act, cpu, act > 0 ? 100 * cpu / act : 0, S.acked ? cpu * 1e6 / (double)S.acked : 0);
    if (sv1.nproc) {
        double c = sv1.cpu_s - sv_pub.cpu_s;
        bfmt(&b, "\"server_procs\":%d,\"server_cpu_s\":%.2f,\"server_cpu_pct\":%.1f,\"server_cpu_us_per_event\":%.1f,"
                 "\"server_rss_kib_start\":%ld,\"server_rss_kib_end\":%ld,\"server_pss_kib_end\":%ld,",
             sv1.nproc, c, act > 0 ? 100 * c / act : 0, S.acked ? c * 1e6 / (double)S.acked : 0, sv0.rss_kib,
             sv1.rss_kib, sv1.pss_kib);
    }
    if (ax1.nproc) {
        double c = ax1.cpu_s - ax_pub.cpu_s;
        bfmt(&b, "\"aux_cpu_s\":%.2f,\"aux_cpu_pct\":%.1f,\"aux_rss_kib_end\":%ld,", c, act > 0 ? 100 * c / act : 0,
             ax1.rss_kib);
    }
    bfmt(&b, "\"close_ok\":%" PRIu64 ",\"timed_out\":%s,\"ok\":%s}\n", S.close_ok, S.timed_out ? "true" : "false",
         ok ? "true" : "false");
    fwrite(bp(&b), 1, bn(&b), stdout);
    fflush(stdout);
    bfree(&b);
    return S.timed_out ? 2 : 0;
}

static int mode_run(void)
{
    if (!cfg.pub_url || !cfg.body)
        die("run needs --pub-url and --body");
    if (cfg.tabs && !cfg.sub_url)
        die("run needs --sub-url (or --tabs 0)");
    const char *why = url_parse(&pub_url, cfg.pub_url, "http");
    if (!why && cfg.sub_url)
        why = url_parse(&sub_url, cfg.sub_url, "ws");
    if (why)
        die("%s", why);
    tparse(&body_t, cfg.body);
    if (cfg.tabs && body_t.marks != 1)
        die("--body must contain {mark} exactly once (it has %d)", body_t.marks);
    if (cfg.user_shift && cfg.user_shift % cfg.users == 0)
        die("--user-shift must not be a multiple of --users");
    nsubs = cfg.users * cfg.tabs;
    rlim_t lim = raise_nofile();
    if (nsubs + cfg.conns + 32 > lim)
        die("need %" PRIu64 " descriptors but RLIMIT_NOFILE is %llu: use idle mode (it forks) or fewer subscribers",
            nsubs + cfg.conns + 32, (unsigned long long)lim);
    common_init();
    make_users();
    epu = (cfg.events + cfg.users - 1) / cfg.users;
    ev_status = xcalloc((size_t)cfg.events, 1);
    acked_per_user = xcalloc((size_t)cfg.users, sizeof(uint32_t));
    ready_per_user = xcalloc((size_t)cfg.users, sizeof(uint32_t));
    subs = xcalloc((size_t)nsubs, sizeof(conn_t));
    for (uint64_t i = 0; i < nsubs; i++)
        subs[i].fd = -1;
    pubs = xcalloc((size_t)cfg.conns, sizeof(conn_t));
    pub_free = xcalloc((size_t)cfg.conns, sizeof(uint32_t));
    if (open_loop())
        prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* wake at the scheduled time, not up to 50 us later */
    pstat_t sv0 = sample(cfg.server_pids);
    S.t_begin = now_ns();
    for (uint64_t i = 0; i < cfg.conns; i++) {
        pubs[i].kind = K_PUB;
        pubs[i].idx = (uint32_t)i;
        pub_connect(&pubs[i]);
    }
    if (cfg.replay) { /* publish with nobody listening; subscribers connect afterwards */
        g_phase = PH_SETTLE;
        S.t_progress = S.t_begin - (uint64_t)(cfg.settle * 1e9);
    } else {
        enter(PH_CONNECT, S.t_begin);
    }
    run_loop();
    pstat_t sv1 = sample(cfg.server_pids), ax1 = sample(cfg.aux_pids);
    g_phase = PH_DONE;
    for (uint64_t i = 0; i < cfg.conns; i++)
        if (pubs[i].fd >= 0)
            conn_lost(&pubs[i], "end");
    close_subs(1);
    return output_run(sv0, sv1, ax1);
}

/* ============================================================ idle mode */

/* child: open subscribers [lo, hi), report, hold until the control pipe closes, RST all */
static void idle_child(uint64_t lo, uint64_t hi, int status_fd, int ctl_fd)
{
    common_init();
    nsubs = hi - lo;
    next_sub = 0;
    subs = xcalloc((size_t)nsubs, sizeof(conn_t));
    for (uint64_t i = 0; i < nsubs; i++)
        subs[i].fd = -1;
    ctrl_conn.fd = ctl_fd;
    add_fd(&ctrl_conn, EPOLLIN);
    S.t_begin = now_ns();
    uint64_t deadline = S.t_begin + (uint64_t)(cfg.timeout * 1e9);
    enter(PH_CONNECT, S.t_begin);
    struct epoll_event evs[512];
    int reported = 0;
    while (g_phase != PH_DONE) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            S.timed_out = 1;
            break;
        }
        if (g_phase == PH_CONNECT) {
            start_sub_connects();
            check_timeouts(now);
            if (next_sub >= nsubs && connecting == 0) {
                g_phase = PH_DRAIN; /* = hold */
                uint64_t st[4] = {S.subs_ready, S.sub_connect_errors, now - S.t_begin, 0};
                if (write(status_fd, st, sizeof(st)) != (ssize_t)sizeof(st))
                    _exit(3);
                reported = 1;
            }
        }
        int n = epoll_wait(epfd, evs, 512, 20);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->kind == K_CTRL) {
                g_phase = PH_DONE;
                continue;
            }
            uint32_t e = evs[i].events;
            if (c->state == S_CLOSED)
                continue;
            if (c->state == S_CONNECTING && (e & (EPOLLERR | EPOLLHUP | EPOLLOUT))) {
                on_writable(c);
                continue;
            }
            if (e & EPOLLOUT)
                on_writable(c);
            if (c->state != S_CLOSED && (e & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                on_readable(c);
        }
    }
    uint64_t disc = S.sub_disconnects + S.server_closes;
    close_subs(0);
    uint64_t fin[4] = {disc, S.pings, S.proto_errors, (uint64_t)S.timed_out};
    if (!reported) {
        uint64_t st[4] = {S.subs_ready, S.sub_connect_errors + (nsubs - S.subs_ready - S.sub_connect_errors), 0, 1};
        if (write(status_fd, st, sizeof(st)) < 0)
            _exit(3);
    }
    if (write(status_fd, fin, sizeof(fin)) < 0)
        _exit(3);
    _exit(0);
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (s > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int mode_idle(void)
{
    if (!cfg.sub_url)
        die("idle needs --sub-url");
    const char *why = url_parse(&sub_url, cfg.sub_url, "ws");
    if (why)
        die("%s", why);
    uint64_t total = cfg.users * cfg.tabs;
    rlim_t lim = raise_nofile();
    uint64_t per = lim > 200 ? (uint64_t)lim - 100 : 100;
    int procs = cfg.procs > 0 ? cfg.procs : (int)((total + per - 1) / per);
    if (procs < 1)
        procs = 1;
    if (procs > MAX_PROCS)
        die("idle: %d processes needed, at most %d", procs, MAX_PROCS);
    if (total / (uint64_t)procs + 1 > per)
        die("idle: %" PRIu64 " connections per process exceed RLIMIT_NOFILE %llu", total / (uint64_t)procs + 1,
            (unsigned long long)lim);
    make_users();
    epu = 0;
    pstat_t before = sample(cfg.server_pids), ax_before = sample(cfg.aux_pids);
    uint64_t t0 = now_ns();
    pid_t pid[MAX_PROCS];
    int stfd[MAX_PROCS], ctlfd[MAX_PROCS];
    for (int k = 0; k < procs; k++) {
        int sp[2], cp[2];
        if (pipe2(sp, O_CLOEXEC) < 0 || pipe2(cp, O_CLOEXEC) < 0)
            die("pipe: %s", strerror(errno));
        fflush(NULL);
        pid[k] = fork();
        if (pid[k] < 0)
            die("fork: %s", strerror(errno));
        if (pid[k] == 0) {
            close(sp[0]);
            close(cp[1]);
            for (int j = 0; j < k; j++) {
                close(stfd[j]);
                close(ctlfd[j]);
            }
            uint64_t lo = total * (uint64_t)k / (uint64_t)procs, hi = total * (uint64_t)(k + 1) / (uint64_t)procs;
            /* subscriber numbers are global: a child's first is lo (user and source address follow it) */
            sub_base = lo;
            idle_child(lo, hi, sp[1], cp[0]);
        }
        close(sp[1]);
        close(cp[0]);
        stfd[k] = sp[0];
        ctlfd[k] = cp[1];
    }
    uint64_t est = 0, failed = 0, connect_ns = 0, disc = 0, pings = 0, perr = 0;
    int timed_out = 0;
    uint64_t deadline = t0 + (uint64_t)(cfg.timeout * 1e9);
    for (int k = 0; k < procs; k++) {
        struct pollfd pf = {.fd = stfd[k], .events = POLLIN};
        uint64_t now = now_ns();
        uint64_t st[4];
        if (poll(&pf, 1, now < deadline ? (int)((deadline - now) / 1000000) : 0) <= 0 ||
            read(stfd[k], st, sizeof(st)) != (ssize_t)sizeof(st)) {
            timed_out = 1;
            break;
        }
        est += st[0];
        failed += st[1];
        connect_ns = st[2] > connect_ns ? st[2] : connect_ns;
        timed_out |= st[3] != 0;
    }
    double connect_s = (double)(now_ns() - t0) / 1e9;
    sleep_s(cfg.idle_settle);
    pstat_t after = sample(cfg.server_pids), ax_after = sample(cfg.aux_pids);
    sleep_s(cfg.hold);
    pstat_t end = sample(cfg.server_pids);
    for (int k = 0; k < procs; k++)
        close(ctlfd[k]);
    for (int k = 0; k < procs; k++) {
        uint64_t fin[4];
        struct pollfd pf = {.fd = stfd[k], .events = POLLIN};
        if (poll(&pf, 1, 15000) > 0 && read(stfd[k], fin, sizeof(fin)) == (ssize_t)sizeof(fin)) {
            disc += fin[0];
            pings += fin[1];
            perr += fin[2];
        }
        close(stfd[k]);
    }
    for (int k = 0; k < procs; k++) {
        int st;
        uint64_t until = now_ns() + 10000000000ULL;
        while (waitpid(pid[k], &st, WNOHANG) == 0) {
            if (now_ns() > until) {
                kill(pid[k], SIGKILL); /* our own child, by its pid */
                waitpid(pid[k], &st, 0);
                break;
            }
            sleep_s(0.01);
        }
    }
    double cpu = self_cpu_s(RUSAGE_SELF) + self_cpu_s(RUSAGE_CHILDREN);
    long drss = after.rss_kib - before.rss_kib, dpss = after.pss_kib - before.pss_kib;
    buf_t b = {0};
    bfmt(&b, "{\"tool\":\"crbench\",\"version\":%d,\"mode\":\"idle\",", CRB_VERSION);
    jstr(&b, "label", cfg.label);
    bfmt(&b, "\"target\":%" PRIu64 ",\"established\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"procs\":%d,"
             "\"disconnects_during_hold\":%" PRIu64 ",\"pings\":%" PRIu64 ",\"proto_errors\":%" PRIu64
             ",\"connect_s\":%.3f,\"hold_s\":%.1f,",
         total, est, failed, procs, disc, pings, perr, connect_s, cfg.hold);
    if (before.nproc)
        bfmt(&b, "\"server_procs\":%d,\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,\"rss_end_kib\":%ld,"
                 "\"pss_before_kib\":%ld,\"pss_after_kib\":%ld,\"kib_per_conn_rss\":%.2f,\"kib_per_conn_pss\":%.2f,",
             after.nproc, before.rss_kib, after.rss_kib, end.rss_kib, before.pss_kib, after.pss_kib,
             est ? (double)drss / (double)est : 0, est ? (double)dpss / (double)est : 0);
    if (ax_before.nproc)
        bfmt(&b, "\"aux_rss_before_kib\":%ld,\"aux_rss_after_kib\":%ld,\"aux_kib_per_conn_rss\":%.2f,",
             ax_before.rss_kib, ax_after.rss_kib,
             est ? (double)(ax_after.rss_kib - ax_before.rss_kib) / (double)est : 0);
    int ok = est == total && !failed && !disc && !perr && !timed_out;
    bfmt(&b, "\"tool_cpu_s\":%.3f,\"wall_s\":%.3f,\"timed_out\":%s,\"ok\":%s}\n", cpu, (double)(now_ns() - t0) / 1e9,
         timed_out ? "true" : "false", ok ? "true" : "false");
    fwrite(bp(&b), 1, bn(&b), stdout);
    fflush(stdout);
    bfree(&b);
    return timed_out ? 2 : 0;
}

/* ============================================================ selftest */

static int st_fail;
static void check(int ok, const char *what)
{
    printf("%-58s %s\n", what, ok ? "ok" : "FAIL");
    st_fail += !ok;
}

/* decode one masked client frame (as a server would) */
static size_t unmask_frame(const uint8_t *d, size_t n, int *fin, int *op, buf_t *out)
{
    if (n < 2 || !(d[1] & 0x80))
        return 0;
    *fin = d[0] >> 7;
    *op = d[0] & 15;
    uint64_t len = d[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) {
        len = (uint64_t)d[2] << 8 | d[3];
        hl = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | d[2 + i];
        hl = 10;
    }
    const uint8_t *mk = d + hl;
    hl += 4;
    if (n < hl + len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = (char)(d[hl + i] ^ mk[i & 3]);
        badd(out, &ch, 1);
    }
    return hl + (size_t)len;
}

static int selftest(void)
{
    uint8_t dg[20];
    char hex[41], acc[29], s64[64];
    const char *v448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha1(v448, strlen(v448), dg);
    for (int i = 0; i < 20; i++)
        sprintf(hex + 2 * i, "%02x", dg[i]);
    check(!strcmp(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"), "SHA-1 of the 448-bit FIPS 180 vector");
    sha1("", 0, dg);
    for (int i = 0; i < 20; i++)
        sprintf(hex + 2 * i, "%02x", dg[i]);
    check(!strcmp(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709"), "SHA-1 of the empty string");
    b64((const uint8_t *)"foob", 4, s64);
    check(!strcmp(s64, "Zm9vYg=="), "base64 (RFC 4648 'foob')");
    ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
    check(!strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "Sec-WebSocket-Accept of RFC 6455's example key");

    /* masked frames: 3 length encodings round-trip through an unmasking decoder */
    conn_t c = {.fd = -1};
    size_t lens[3] = {5, 300, 70000};
    int frames_ok = 1;
    for (int k = 0; k < 3; k++) {
        char *src = xmalloc(lens[k]);
        for (size_t i = 0; i < lens[k]; i++)
            src[i] = (char)('a' + i % 26);
        bclear(&c.out);
        ws_frame(&c.out, 1, 1, src, lens[k]);
        buf_t dec = {0};
        int fin = 0, op = 0;
        size_t used = unmask_frame((const uint8_t *)bp(&c.out), bn(&c.out), &fin, &op, &dec);
        frames_ok &= used == bn(&c.out) && fin && op == 1 && bn(&dec) == lens[k] && !memcmp(bp(&dec), src, lens[k]);
        bfree(&dec);
        free(src);
    }
    check(frames_ok, "masked client frames, 7/16/64-bit lengths, round trip");
    /* fragmented send: 10 bytes in 4-byte fragments -> text(4, !fin) cont(4, !fin) cont(2, fin) */
    cfg.send_frag = 4;
    bclear(&c.out);
    {
        const char *msg = "0123456789";
        ws_build(&c.out, 1, msg, 10);
        buf_t dec = {0};
        int fin, op, ops = 0, fins = 0;
        size_t p = 0, u;
        while ((u = unmask_frame((const uint8_t *)bp(&c.out) + p, bn(&c.out) - p, &fin, &op, &dec))) {
            p += u;
            ops = ops * 10 + op;
            fins = fins * 10 + fin;
        }
        check(bn(&dec) == 10 && !memcmp(bp(&dec), msg, 10) && ops == 100 && fins == 1,
              "fragmented send: text + 2 continuations, FIN on the last");
        bfree(&dec);
    }
    cfg.send_frag = 0;
    bfree(&c.out);

    /* server frames in: fragmented text with a ping in the middle, then a 2-event frame */
    g_run = "t1";
    g_runlen = 2;
    cfg.users = 2;
    cfg.tabs = 1;
    epu = 4;
    make_users();
    conn_t s = {.fd = -1, .kind = K_SUB, .state = S_OPEN, .ready = 1, .user = 1};
    s.seen = xcalloc(1, 1);
    uint8_t in[256];
    size_t n = 0;
    const char *a = "{\"e\":\"crb:t1.1.0.5\",", *b2 = "\"x\":1}";
    in[n++] = 0x01, in[n++] = (uint8_t)strlen(a), memcpy(in + n, a, strlen(a)), n += strlen(a);
    in[n++] = 0x8A, in[n++] = 0; /* pong: ignored (a ping would need a socket) */
    in[n++] = 0x80, in[n++] = (uint8_t)strlen(b2), memcpy(in + n, b2, strlen(b2)), n += strlen(b2);
    const char *two = "[crb:t1.1.1.7,crb:t1.1.1.7,crb:t1.0.2.9,crb:zz.1.3.1,crb:t1.1.x]";
    in[n++] = 0x81, in[n++] = (uint8_t)strlen(two), memcpy(in + n, two, strlen(two)), n += strlen(two);
    size_t used = ws_input(&s, in, n - 3, 100); /* last frame incomplete */
    int part_ok = used == n - 2 - strlen(two) && S.delivered == 1;
    used += ws_input(&s, in + used, n - used, 100);
    check(part_ok && used == n && S.delivered == 2 && S.duplicates == 1 && S.misrouted == 1 && S.foreign == 1 &&
              S.bad_marks == 1 && S.lat.n == 2 && S.lat.v[0] == 95,
          "frames in: fragments, control in between, split reads, marks");
    memset(&S, 0, sizeof(S));

    tmpl_t t;
    tparse(&t, "{\"u\":\"{user}\",\"m\":\"{mark}\",\"x\":{nope},\"s\":{seq}}");
    buf_t o = {0};
    tvals_t v = {.uidx = 1, .seq = 7, .ts = 42};
    texpand(&o, &t, &v);
    badd(&o, "", 1);
    check(!strcmp(bp(&o), "{\"u\":\"u1\",\"m\":\"crb:t1.1.7.42\",\"x\":{nope},\"s\":7}") && t.marks == 1,
          "templates: placeholders, other braces literal");
    bfree(&o);

    buf_t body = {0};
    int st = 0, cl = 0;
    const char *r1 = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 2";
    long u1 = http_response(r1, strlen(r1), &st, &cl, &body);
    int ok1 = u1 == (long)strlen(r1) - 10 && st == 200 && !cl && bn(&body) == 5;
    const char *r2 = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-T: 1\r\n\r\n";
    long u2 = http_response(r2, strlen(r2), &st, &cl, &body);
    int ok2 = u2 == (long)strlen(r2) && st == 201 && cl && bn(&body) == 5 && !memcmp(bp(&body), "abcde", 5);
    long u3 = http_response(r2, strlen(r2) - 3, &st, &cl, &body);
    const char *r4 = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    long u4 = http_response(r4, strlen(r4), &st, &cl, &body);
    check(ok1 && ok2 && u3 == 0 && u4 == (long)strlen(r4) && cl, "HTTP responses: length, chunked+trailer, partial, 1.0");
    bfree(&body);

    url_t uu;
    check(!url_parse(&uu, "ws://127.0.0.5:81/sub/{user}", "ws") && ntohs(uu.sa.sin_port) == 81 &&
              url_parse(&uu, "http://10.0.0.1/pub", "http") && url_parse(&uu, "http://example.com/", "http") &&
              !url_parse(&uu, "http://localhost:8080/x", "http") && url_parse(&uu, "ws://127.0.0.1:0/", "ws"),
          "URLs: loopback accepted, anything else refused");

    samples_t ps = {0};
    for (uint64_t i = 1; i <= 1000; i++)
        spush(&ps, i);
    check(spct(&ps, .5) == 500 && spct(&ps, .99) == 990 && spct(&ps, .999) == 999 && spct(&ps, 1) == 1000,
          "nearest-rank percentiles");
    printf("%s\n", st_fail ? "selftest FAILED" : "selftest passed");
    return st_fail ? 1 : 0;
}

/* ============================================================ options */

static void usage(void)
{
    fputs(
        "usage: crbench run|idle|selftest [options]\n"
        "subscribers (run, idle):\n"
        "  --sub-url T            ws://127.0.0.1:8080/sub/{user}\n"
        "  --sub-header 'K: V'    extra handshake header (repeatable)\n"
        "  --first-frame T        text frame sent after the handshake, e.g. '{\"op\":\"register\",\"limit\":100}'\n"
        "  --ready-on S           a subscriber counts as subscribed when a frame containing S arrives\n"
        "                         (default: when the handshake completes)\n"
        "  --page-reply S         a frame containing S is a page of a paged replay: the page frame is\n"
        "  --page-end S             sent again unless the frame also contains the --page-end string\n"
        "  --page-frame T         frame asking for the next page (default: the first frame)\n"
        "  --users U --tabs N     U users (PREFIX0..), N subscribers each; subscriber i is user i/N\n"
        "  --user-prefix S        (default 'u')\n"
        "  --user-shift K         sanity check: subscribers connect as user (u+K)%U but are accounted to u\n"
        "  --src-addrs K          subscribers bind 127.0.0.2..127.0.0.(K+1) (default 8, 0 = kernel's choice)\n"
        "  --connect-concurrency C (default 256)   --connect-timeout S (default 30)\n"
        "  --send-frag N          send own text frames in N-byte fragments\n"
        "publishers (run):\n"
        "  --pub-url T            http://127.0.0.1:8080/pub/{user}\n"
        "  --body T               request body; must contain {mark} once\n"
        "  --pub-header 'K: V'    extra request header (repeatable)\n"
        "  --content-type S       (default application/json)\n"
        "  --ack-match S          a 2xx answer counts as acknowledged only if its body contains S\n"
        "  --events E             event g goes to user g%U with per-user sequence g/U\n"
        "  --conns P              keep-alive connections, one request in flight each (default 16)\n"
        "  --rate R               open loop: R events/s, latency from the scheduled send time\n"
        "  --replay               publish first, then connect the subscribers and time the catch-up\n"
        "  --pad N                {pad} = N 'x'       --run S   {run} and the marks' run tag\n"
        "  --settle S (0.5)       --drain S (5: stop after S s without progress)   --close-wait S (1)\n"
        "idle:\n"
        "  --hold S (5)           --idle-settle S (1)   --procs K (default: as RLIMIT_NOFILE requires)\n"
        "common:\n"
        "  --server-pids LIST     pids whose CPU (/proc/PID/stat) and RSS/PSS are summed\n"
        "  --aux-pids LIST        a second group (e.g. redis-server)\n"
        "  --timeout S            hard limit of the whole run (default 300)\n"
        "  --label S              copied into the JSON      -v   progress on stderr\n"
        "templates: {user} {uidx} {seq} {gseq} {ts} {mark} {pad} {run} {idx}; other braces stay literal.\n",
        stderr);
    exit(1);
}

static char *append_hdr(char *old, const char *h)
{
    if (strpbrk(h, "\r\n") || !strchr(h, ':'))
        die("bad header '%s' (want 'Name: value')", h);
    buf_t b = {0};
    if (old)
        badds(&b, old);
    badds(&b, h);
    badd(&b, "\r\n", 3);
    free(old);
    return b.p;
}

static double num(const char *s, const char *name, double lo, double hi)
{
    char *e;
    double v = strtod(s, &e);
    if (*e || e == s || v < lo || v > hi)
        die("bad value for --%s: '%s' (range %g..%g)", name, s, lo, hi);
    return v;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "crbench: alarm backstop: run exceeded --timeout by 30 s, exiting\n";
    if (write(2, m, sizeof(m) - 1) < 0) {
    }
    _exit(4);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    cfg.mode = argv[1];
    if (!strcmp(cfg.mode, "selftest"))
        return selftest();
    if (strcmp(cfg.mode, "run") && strcmp(cfg.mode, "idle"))
        usage();
    enum {
        O_SUB_URL = 256, O_SUB_HDR, O_FIRST, O_READY_ON, O_PAGE_REPLY, O_PAGE_END, O_PAGE_FRAME, O_USERS, O_TABS,
        O_PREFIX, O_SHIFT, O_SRC, O_CONC, O_CTIMEOUT, O_FRAG, O_PUB_URL, O_BODY, O_PUB_HDR, O_CTYPE, O_ACK_MATCH,
        O_EVENTS, O_CONNS, O_RATE, O_REPLAY, O_PAD, O_RUN, O_SETTLE, O_DRAIN, O_CLOSE_WAIT, O_HOLD, O_IDLE_SETTLE,
        O_PROCS, O_SPIDS, O_APIDS, O_TIMEOUT, O_LABEL
    };
    static const struct option opts[] = {
        {"sub-url", 1, 0, O_SUB_URL},     {"sub-header", 1, 0, O_SUB_HDR},   {"first-frame", 1, 0, O_FIRST},
        {"ready-on", 1, 0, O_READY_ON},   {"page-reply", 1, 0, O_PAGE_REPLY}, {"page-end", 1, 0, O_PAGE_END},
        {"page-frame", 1, 0, O_PAGE_FRAME}, {"users", 1, 0, O_USERS},       {"tabs", 1, 0, O_TABS},
        {"user-prefix", 1, 0, O_PREFIX},  {"user-shift", 1, 0, O_SHIFT},     {"src-addrs", 1, 0, O_SRC},
        {"connect-concurrency", 1, 0, O_CONC}, {"connect-timeout", 1, 0, O_CTIMEOUT}, {"send-frag", 1, 0, O_FRAG},
        {"pub-url", 1, 0, O_PUB_URL},     {"body", 1, 0, O_BODY},            {"pub-header", 1, 0, O_PUB_HDR},
        {"content-type", 1, 0, O_CTYPE},  {"ack-match", 1, 0, O_ACK_MATCH},  {"events", 1, 0, O_EVENTS},
        {"conns", 1, 0, O_CONNS},         {"rate", 1, 0, O_RATE},            {"replay", 0, 0, O_REPLAY},
        {"pad", 1, 0, O_PAD},             {"run", 1, 0, O_RUN},              {"settle", 1, 0, O_SETTLE},
        {"drain", 1, 0, O_DRAIN},         {"close-wait", 1, 0, O_CLOSE_WAIT}, {"hold", 1, 0, O_HOLD},
        {"idle-settle", 1, 0, O_IDLE_SETTLE}, {"procs", 1, 0, O_PROCS},     {"server-pids", 1, 0, O_SPIDS},
        {"aux-pids", 1, 0, O_APIDS},      {"timeout", 1, 0, O_TIMEOUT},      {"label", 1, 0, O_LABEL},
        {0, 0, 0, 0}};
    static char runbuf[16];
    snprintf(runbuf, sizeof(runbuf), "%08" PRIx64, (uint64_t)((now_ns() ^ ((uint64_t)getpid() << 20)) & 0xffffffffu));
    g_run = runbuf;
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
        switch (o) {
        case O_SUB_URL: cfg.sub_url = optarg; break;
        case O_SUB_HDR: cfg.sub_hdrs = append_hdr(cfg.sub_hdrs, optarg); break;
        case O_FIRST: cfg.first_frame = optarg; break;
        case O_READY_ON: cfg.ready_on = optarg; break;
        case O_PAGE_REPLY: cfg.page_reply = optarg; break;
        case O_PAGE_END: cfg.page_end = optarg; break;
        case O_PAGE_FRAME: cfg.page_frame = optarg; break;
        case O_USERS: cfg.users = (uint64_t)num(optarg, "users", 1, 1e7); break;
        case O_TABS: cfg.tabs = (uint64_t)num(optarg, "tabs", 0, 1000); break;
        case O_PREFIX: cfg.user_prefix = optarg; break;
        case O_SHIFT: cfg.user_shift = (uint64_t)num(optarg, "user-shift", 0, 1e7); break;
        case O_SRC: cfg.src_addrs = (int)num(optarg, "src-addrs", 0, 250); break;
        case O_CONC: cfg.connect_conc = (int)num(optarg, "connect-concurrency", 1, 100000); break;
        case O_CTIMEOUT: cfg.connect_timeout = num(optarg, "connect-timeout", 0.1, 3600); break;
        case O_FRAG: cfg.send_frag = (size_t)num(optarg, "send-frag", 0, 1 << 20); break;
        case O_PUB_URL: cfg.pub_url = optarg; break;
        case O_BODY: cfg.body = optarg; break;
        case O_PUB_HDR: cfg.pub_hdrs = append_hdr(cfg.pub_hdrs, optarg); break;
        case O_CTYPE: cfg.content_type = optarg; break;
        case O_ACK_MATCH: cfg.ack_match = optarg; break;
        case O_EVENTS: cfg.events = (uint64_t)num(optarg, "events", 1, (double)MAX_EVENTS); break;
        case O_CONNS: cfg.conns = (uint64_t)num(optarg, "conns", 1, 4096); break;
        case O_RATE: cfg.rate = num(optarg, "rate", 0, 1e7); break;
        case O_REPLAY: cfg.replay = 1; break;
        case O_PAD: cfg.pad = (size_t)num(optarg, "pad", 0, 1 << 20); break;
        case O_RUN:
            for (const char *p = optarg; *p; p++)
                if (!isalnum((unsigned char)*p))
                    die("--run must be letters and digits");
            if (!*optarg || strlen(optarg) > 16)
                die("--run must be 1..16 characters");
            g_run = optarg;
            break;
        case O_SETTLE: cfg.settle = num(optarg, "settle", 0, 600); break;
        case O_DRAIN: cfg.drain = num(optarg, "drain", 0.05, 600); break;
        case O_CLOSE_WAIT: cfg.close_wait = num(optarg, "close-wait", 0, 60); break;
        case O_HOLD: cfg.hold = num(optarg, "hold", 0, 3600); break;
        case O_IDLE_SETTLE: cfg.idle_settle = num(optarg, "idle-settle", 0, 600); break;
        case O_PROCS: cfg.procs = (int)num(optarg, "procs", 0, MAX_PROCS); break;
        case O_SPIDS: cfg.server_pids = optarg; break;
        case O_APIDS: cfg.aux_pids = optarg; break;
        case O_TIMEOUT: cfg.timeout = num(optarg, "timeout", 1, 86400); break;
        case O_LABEL: cfg.label = optarg; break;
        case 'v': g_verbose = 1; break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();
    g_runlen = strlen(g_run);
    if (cfg.users * cfg.tabs > MAX_SUBS)
        die("users x tabs above %llu", MAX_SUBS);
    if (cfg.pad) {
        char *p = xmalloc(cfg.pad);
        memset(p, 'x', cfg.pad);
        g_pad = p;
        g_padlen = cfg.pad;
    }
    if (cfg.first_frame)
        tparse(&first_t, cfg.first_frame);
    if (cfg.page_frame)
        tparse(&page_t, cfg.page_frame);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)cfg.timeout + 30 + (unsigned)(cfg.hold + cfg.idle_settle));
    return !strcmp(cfg.mode, "run") ? mode_run() : mode_idle();
}
