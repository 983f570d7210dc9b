/* notifier.c — the delivery loop: claim (notify_claim.lua), send (http_client), record
 * (notify_done.lua). One claim is out at a time; requests in flight are bounded; a timer looks
 * again when the earliest queued notification falls due, and at least every POLL_MS, for what
 * other instances queue. */
#include "notifier.h"
#include "event.h"
#include "http_client.h"
#include "integrations.h"
#include "log.h"
#include "metrics.h"
#include "notify_rule.h"
#include "store.h"
#include "utf8.h"
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_IN_FLIGHT 256
#define CLAIM_MAX 64
#define POLL_MS 500
#define STORE_DOWN_MS 1000
/* A notification whose rule this instance does not know yet (another instance may have saved
 * it a moment ago) waits this long, and is dead only after RULE_GRACE_MS. */
#define RULE_WAIT_MS 2000
#define RULE_GRACE_MS 60000
#define CLAIM_FIELDS 11
#define RESPONSE_KEPT 256

typedef struct job {
    char *integration, *nid;
    notify_rule_info info; /* numbers only: the rule itself may be replaced meanwhile */
    int64_t t0, ta, sent_ms;
    unsigned att, ab;
} job;

static struct {
    const cr_config *cfg;
    uv_timer_t timer;
    http_client *http;
    char instance[64];
    char retention_ms[24];
    bool claiming, stopping;
    unsigned in_flight;
} N;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void job_free(job *j)
{
    free(j->integration);
    free(j->nid);
    free(j);
}

static void claim(void);

static void on_timer(uv_timer_t *t)
{
    (void)t;
    claim();
}

/* Look again in ms at the latest (or sooner, when already due sooner). */
static void schedule(uint64_t ms)
{
    if (N.stopping)
        return;
    if (uv_is_active((uv_handle_t *)&N.timer) && uv_timer_get_due_in(&N.timer) <= ms)
        return;
    uv_timer_start(&N.timer, on_timer, ms, 0);
}

void notifier_kick(void) { schedule(0); }

static void on_done(redisReply *r, void *ud)
{
    job *j = ud;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_warn("notification outcome not recorded: it is sent again when its lease ends",
                 "{s:s,s:s}", "id", j->nid, "error", r ? r->str : "redis unavailable");
    job_free(j);
}

/* outcome: 'd' delivered, 'r' retry at next_ms, 'x' dead; attempt: its log line or NULL;
 * endpoint: "up", "down" or "". */
static void done(job *j, char outcome, const char *attempt, const char *endpoint, int64_t next_ms)
{
    char out[2] = {outcome, 0}, next[24];
    snprintf(next, sizeof next, "%lld", (long long)next_ms);
    const char *argv[] = {N.cfg->key_prefix,      j->integration, j->nid, out,
                          attempt ? attempt : "", endpoint,       next,   N.retention_ms};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    if (store_script(SCRIPT_NOTIFY_DONE, on_done, j, 0, 8, argv, lens) != 0)
        on_done(NULL, j);
}

static json_t *ts_or_null(int64_t ms)
{
    char buf[32];
    if (ms <= 0)
        return json_null();
    event_format_ts(ms, buf, sizeof buf);
    return json_string(buf);
}

/* One line of the notification's log. status 0: no HTTP answer. */
static char *attempt_json(int64_t at, long status, const char *error, const char *response,
                          double latency_ms, int64_t next_ms)
{
    json_t *a = json_pack("{s:o,s:o,s:o,s:f,s:o}", "at", ts_or_null(at), "status",
                          status ? json_integer(status) : json_null(), "error",
                          error ? json_string(error) : json_null(), "latency_ms", latency_ms,
                          "next_attempt", ts_or_null(next_ms));
    if (a && response)
        json_object_set_new(a, "response", json_string(response));
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

/* Settles j without sending: dead with why, or (why NULL) again at next_ms. */
static void skip(job *j, const char *why, int64_t next_ms)
{
    char *a = why ? attempt_json(now_ms(), 0, why, NULL, 0, 0) : NULL;
    if (why)
        METRIC_ADD(notify_dead, 1);
    done(j, why ? 'x' : 'r', a, "", next_ms);
    free(a);
}

static uint64_t random64(void)
{
    uint64_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint64_t)now_ms() * 6364136223846793005ull;
    return r;
}

static bool endpoint_down(const http_response *res)
{
    return res->status == 0 || res->status == 429 || res->status >= 500;
}

/* What the receiver said, for the log: the start of its body. */
static char *response_excerpt(const http_response *res)
{
    if (!res->body_len)
        return NULL;
    size_t n = res->body_len < RESPONSE_KEPT ? res->body_len : RESPONSE_KEPT;
    char *s = strndup(res->body, n);
    for (char *c = s; c && *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    return s ? utf8_repair(s) : NULL;
}

static void on_answer(void *ud, const http_response *res)
{
    job *j = ud;
    N.in_flight--;
    if (N.stopping) { /* cancelled: the lease runs out and it goes again */
        job_free(j);
        return;
    }
    int64_t now = now_ms(), next = 0;
    char outcome = 'd';
    unsigned made = j->att - j->ab + 1;
    if (res->status >= 200 && res->status < 300) {
        METRIC_ADD(notify_sent, 1);
        metrics_notify_latency(now - j->t0);
    } else {
        METRIC_ADD(notify_failed, 1);
        next = now + notify_retry_delay_ms(&j->info, made, random64());
        outcome = made >= j->info.max_attempts || next - j->ta > j->info.max_age_ms ? 'x' : 'r';
        if (outcome == 'x')
            next = 0;
        METRIC_ADD(notify_dead, outcome == 'x');
        METRIC_ADD(notify_retried, outcome == 'r');
    }
    char error[160] = "";
    if (res->error)
        snprintf(error, sizeof error, "%s", res->error);
    else if (outcome != 'd')
        snprintf(error, sizeof error, "HTTP %ld", res->status);
    char *excerpt = outcome == 'd' ? NULL : response_excerpt(res);
    char *a = attempt_json(j->sent_ms, res->status, *error ? utf8_repair(error) : NULL, excerpt,
                           res->total_ms, next);
    free(excerpt);
    done(j, outcome, a, endpoint_down(res) ? "down" : "up", next);
    free(a);
    schedule(0);
}

static int send_request(job *j, const notify_request *q)
{
    http_request rq = {
        .method = q->method,
        .url = q->url,
        .headers = (const char *const *)q->headers,
        .n_headers = q->n_headers,
        .body = q->body,
        .body_len = q->body_len,
        .connect_timeout_ms = j->info.timeout_ms < 5000 ? j->info.timeout_ms : 5000,
        .timeout_ms = j->info.timeout_ms,
        .max_body = 4096,
    };
    j->sent_ms = now_ms();
    if (http_client_send(N.http, &rq, on_answer, j) != 0)
        return -1;
    N.in_flight++;
    return 0;
}

/* The event as a client receives it: the stored copy with its id. */
static json_t *event_of(const redisReply *json, const redisReply *id)
{
    json_t *ev = json_loadb(json->str, json->len, 0, NULL);
    if (ev && json_object_set_new(ev, "id", json_stringn(id->str, id->len)) != 0) {
        json_decref(ev);
        ev = NULL;
    }
    return ev;
}

static void send_or_settle(job *j, const integration *in, const notify_rule *rule,
                           redisReply *const *f)
{
    j->info = notify_rule_get_info(rule);
    j->info.id = j->info.endpoint = NULL;
    if (now_ms() - j->ta > j->info.max_age_ms) {
        skip(j, "max_age_s passed before it could be sent", 0);
        return;
    }
    json_t *ev = event_of(f[4], f[5]);
    notify_request q = {0};
    field_error err = {{0}, {0}};
    int rc = ev ? notify_render(rule, ev, in->settings, j->nid, now_ms() / 1000, &q, &err) : -1;
    json_decref(ev);
    if (rc != 0)
        skip(j, *err.message ? err.message : "the stored event cannot be read", 0);
    else if (send_request(j, &q) != 0)
        skip(j, NULL, now_ms() + STORE_DOWN_MS);
    notify_request_free(&q);
}

static long long num(const redisReply *r) { return r->str ? strtoll(r->str, NULL, 10) : 0; }

/* f: integration, id, rule, user, event, event id, call id, t0, ta, attempts, attempt base. */
static void deliver(redisReply *const *f)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->integration = strdup(f[0]->str)) || !(j->nid = strdup(f[1]->str))) {
        if (j)
            job_free(j);
        return; /* its lease runs out */
    }
    j->t0 = num(f[7]);
    j->ta = num(f[8]);
    j->att = (unsigned)num(f[9]);
    j->ab = (unsigned)num(f[10]);
    const integration *in = integrations_by_name(j->integration);
    const notify_rule *rule = in ? notify_rules_find(in->notify, f[2]->str) : NULL;
    if (rule)
        send_or_settle(j, in, rule, f);
    else if (now_ms() - j->ta < RULE_GRACE_MS || !in)
        skip(j, NULL, now_ms() + RULE_WAIT_MS); /* a deleted integration's are dropped by claim */
    else
        skip(j, "its rule no longer exists", 0);
}

static bool strings(const redisReply *r, size_t from)
{
    for (size_t i = from; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING)
            return false;
    return true;
}

static void on_claimed(redisReply *r, void *ud)
{
    (void)ud;
    N.claiming = false;
    if (N.stopping)
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || (r->elements - 1) % CLAIM_FIELDS ||
        !strings(r, 1)) {
        if (r)
            log_warn("notification claim failed", "{s:s}", "error",
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        schedule(STORE_DOWN_MS);
        return;
    }
    size_t leased = (r->elements - 1) / CLAIM_FIELDS;
    for (size_t i = 0; i < leased; i++)
        deliver(r->element + 1 + i * CLAIM_FIELDS);
    int64_t next = r->element[0]->type == REDIS_REPLY_STRING && r->element[0]->len
                       ? (int64_t)strtod(r->element[0]->str, NULL) - now_ms()
                       : POLL_MS;
    schedule(leased == CLAIM_MAX ? 0 : next < 0 ? 0 : next > POLL_MS ? POLL_MS : (uint64_t)next);
}

static void claim(void)
{
    if (N.claiming || N.stopping)
        return;
    if (!store_connected() || !integrations_loaded()) {
        schedule(STORE_DOWN_MS);
        return;
    }
    unsigned room = MAX_IN_FLIGHT - N.in_flight;
    if (!room)
        return; /* an answer schedules the next claim */
    char max[16];
    snprintf(max, sizeof max, "%u", room < CLAIM_MAX ? room : CLAIM_MAX);
    const char *argv[] = {N.cfg->key_prefix, max, N.instance};
    size_t lens[] = {strlen(argv[0]), strlen(max), strlen(N.instance)};
    N.claiming = store_script(SCRIPT_NOTIFY_CLAIM, on_claimed, NULL, 0, 3, argv, lens) == 0;
    if (!N.claiming)
        schedule(STORE_DOWN_MS);
}

int notifier_start(uv_loop_t *loop, const cr_config *cfg, const char *instance)
{
    N.cfg = cfg;
    snprintf(N.instance, sizeof N.instance, "%s", instance);
    snprintf(N.retention_ms, sizeof N.retention_ms, "%lld", (long long)cfg->retention_s * 1000);
    http_client_limits lim = {MAX_IN_FLIGHT, 16};
    if (!(N.http = http_client_new(loop, &lim)) || uv_timer_init(loop, &N.timer) != 0)
        return -1;
    schedule(POLL_MS);
    return 0;
}

void notifier_stop(void)
{
    if (!N.timer.loop || N.stopping)
        return;
    N.stopping = true;
    uv_timer_stop(&N.timer);
    uv_close((uv_handle_t *)&N.timer, NULL);
    http_client_free(N.http);
    N.http = NULL;
}
