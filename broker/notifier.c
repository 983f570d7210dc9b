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
#include "strmap.h"
#include "utf8.h"
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_IN_FLIGHT 256
/* Requests to one endpoint at once from this instance: as many connections as the HTTP client
 * opens to one host, so that none waits in curl's queue while its timeout and lease run. */
#define PER_ENDPOINT 16
#define CLAIM_MAX 64
#define POLL_MS 500
#define STORE_DOWN_MS 1000
/* A notification whose rule or integration this instance does not know yet (another instance
 * may have saved it a moment ago) waits this long; notify_done.lua gives a rule a minute. */
#define RULE_WAIT_MS 2000
#define CLAIM_FIELDS 13
#define CLAIM_HEAD 5 /* notify_claim.lua's arguments before the endpoints' counts */
#define RESPONSE_KEPT 256

typedef struct job {
    char *integration, *nid, *endpoint;
    notify_rule_info info; /* numbers only: the rule itself may be replaced meanwhile */
    /* Ages in Redis's clock (the queue's), from the claim: the broker's may differ. */
    int64_t age_ms, since_stored_ms, lease_ms;
    int64_t claimed_at, sent_at; /* this broker's clock */
    unsigned att, ab;
    bool counted; /* in the endpoint's count of requests in flight */
} job;

static struct {
    const cr_config *cfg;
    uv_timer_t timer;
    http_client *http;
    char instance[64];
    char retention_ms[24];
    bool claiming, stopping, kicked;
    unsigned in_flight;
    strmap busy; /* endpoint -> requests in flight, as (uintptr_t) */
} N;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void busy_add(const char *endpoint, int d)
{
    if (N.stopping)
        return;
    uintptr_t n = (uintptr_t)strmap_get(&N.busy, endpoint) + (uintptr_t)(intptr_t)d;
    if (!n)
        strmap_del(&N.busy, endpoint);
    else if (strmap_put(&N.busy, endpoint, (void *)n) != 0)
        log_warn("out of memory counting requests per endpoint", NULL);
}

static void job_free(job *j)
{
    if (j->counted)
        busy_add(j->endpoint, -1);
    free(j->integration);
    free(j->nid);
    free(j->endpoint);
    free(j);
}

/* How long j has waited since its age began, now. */
static int64_t job_age(const job *j) { return j->age_ms + (now_ms() - j->claimed_at); }

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

/* Counted from what notify_done.lua says it came to: a notification another instance or a
 * replay settled meanwhile counts nowhere. */
static void on_done(redisReply *r, void *ud)
{
    job *j = ud;
    if (!r || r->type != REDIS_REPLY_STRING) {
        log_warn("notification outcome not recorded: it is sent again when its lease ends",
                 "{s:s,s:s}", "id", j->nid, "error",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "redis unavailable");
    } else if (r->len == 1 && r->str[0] == 'd') {
        METRIC_ADD(notify_sent, 1);
        if (!j->ab) /* a replay's age says nothing about delivery */
            metrics_notify_latency(j->since_stored_ms + (now_ms() - j->claimed_at));
    } else if (r->len == 1) {
        METRIC_ADD(notify_retried, r->str[0] == 'r' && j->sent_at); /* not a wait for a rule */
        METRIC_ADD(notify_dead, r->str[0] == 'x');
    }
    job_free(j);
}

/* outcome: 'd' delivered, 'r' retry in delay_ms, 'x' dead, 'm' its rule is missing here;
 * attempt: its log line or NULL; endpoint: "up", "down" or "". */
static void done(job *j, char outcome, const char *attempt, const char *endpoint, int64_t delay_ms)
{
    char out[2] = {outcome, 0}, next[24];
    snprintf(next, sizeof next, "%lld", (long long)delay_ms);
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

/* Settles j without sending: outcome 'x' (dead), 'm' (rule missing) or 'r' (again in
 * delay_ms); why goes into its log, when given. */
static void skip(job *j, char outcome, const char *why, int64_t delay_ms)
{
    char *a = why ? attempt_json(now_ms(), 0, why, NULL, 0, 0) : NULL;
    done(j, outcome, a, "", delay_ms);
    free(a);
}

static uint64_t random64(void)
{
    uint64_t r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
        r = (uint64_t)now_ms() * 6364136223846793005ull;
    return r;
}

/* For the circuit breaker: "" when the request never left. */
static const char *endpoint_state(const http_response *res, bool sent)
{
    if (!sent)
        return "";
    return res->status == 0 || res->status == 429 || res->status >= 500 ? "down" : "up";
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

/* What an answer, or a request that could not be made (sent false), comes to. */
static void settle(job *j, const http_response *res, bool sent)
{
    int64_t delay = 0;
    char outcome = 'd';
    unsigned made = j->att - j->ab + 1;
    if (res->status < 200 || res->status >= 300) {
        METRIC_ADD(notify_failed, 1);
        delay = notify_retry_delay_ms(&j->info, made, random64());
        outcome =
            made >= j->info.max_attempts || job_age(j) + delay > j->info.max_age_ms ? 'x' : 'r';
    }
    char error[160] = "";
    if (res->error)
        snprintf(error, sizeof error, "%s", res->error);
    else if (outcome != 'd')
        snprintf(error, sizeof error, "HTTP %ld", res->status);
    char *excerpt = outcome == 'd' ? NULL : response_excerpt(res);
    char *a = attempt_json(j->sent_at, res->status, *error ? utf8_repair(error) : NULL, excerpt,
                           res->total_ms, outcome == 'r' ? now_ms() + delay : 0);
    free(excerpt);
    done(j, outcome, a, endpoint_state(res, sent), delay);
    free(a);
}

static void on_answer(void *ud, const http_response *res)
{
    job *j = ud;
    N.in_flight--;
    if (j->counted) /* the endpoint has room again, before its outcome is recorded */
        busy_add(j->endpoint, -1);
    j->counted = false;
    if (N.stopping) { /* cancelled: the lease runs out and it goes again */
        job_free(j);
        return;
    }
    settle(j, res, true);
    schedule(0);
}

/* The request's timeout never outlasts the lease taken when it was queued (its rule's timeout
 * may have grown since): another instance would send it a second time. */
static void send_request(job *j, const notify_request *q)
{
    long timeout = j->info.timeout_ms;
    if (timeout > j->lease_ms - NOTIFY_LEASE_MARGIN_MS)
        timeout =
            j->lease_ms - NOTIFY_LEASE_MARGIN_MS > 100 ? j->lease_ms - NOTIFY_LEASE_MARGIN_MS : 100;
    http_request rq = {
        .method = q->method,
        .url = q->url,
        .headers = (const char *const *)q->headers,
        .n_headers = q->n_headers,
        .body = q->body,
        .body_len = q->body_len,
        .connect_timeout_ms = timeout < 5000 ? timeout : 5000,
        .timeout_ms = timeout,
        .max_body = 4096,
    };
    j->sent_at = now_ms();
    if (http_client_send(N.http, &rq, on_answer, j) != 0) {
        http_response failed = {.error = "the request could not be made (out of memory?)"};
        settle(j, &failed, false);
        return;
    }
    N.in_flight++;
    busy_add(j->endpoint, 1);
    j->counted = true;
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
    if (job_age(j) > j->info.max_age_ms) {
        skip(j, 'x', "max_age_s passed before it could be sent", 0);
        return;
    }
    json_t *ev = event_of(f[4], f[5]);
    notify_request q = {0};
    field_error err = {{0}, {0}};
    int rc = ev ? notify_render(rule, ev, in->settings, j->nid, now_ms() / 1000, &q, &err) : -1;
    json_decref(ev);
    if (rc != 0)
        skip(j, 'x', *err.message ? err.message : "the stored event cannot be read", 0);
    else
        send_request(j, &q);
    notify_request_free(&q);
}

static long long num(const redisReply *r) { return r->str ? strtoll(r->str, NULL, 10) : 0; }

/* f: integration, id, rule, user, event, event id, call id, t0, ta, attempts, attempt base,
 * endpoint, lease ms; redis_now: Redis's clock at the claim. */
static void deliver(redisReply *const *f, int64_t redis_now)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !(j->integration = strdup(f[0]->str)) || !(j->nid = strdup(f[1]->str)) ||
        !(j->endpoint = strdup(f[11]->str))) {
        if (j)
            job_free(j);
        return; /* its lease runs out */
    }
    j->claimed_at = now_ms();
    j->since_stored_ms = redis_now - num(f[7]);
    j->age_ms = redis_now - num(f[8]);
    j->att = (unsigned)num(f[9]);
    j->ab = (unsigned)num(f[10]);
    j->lease_ms = num(f[12]);
    const integration *in = integrations_by_name(j->integration);
    const notify_rule *rule = in ? notify_rules_find(in->notify, f[2]->str) : NULL;
    if (rule)
        send_or_settle(j, in, rule, f);
    else if (in) /* another instance may have saved the rule a moment ago */
        skip(j, 'm', "its rule no longer exists", RULE_WAIT_MS);
    else if (j->age_ms > (int64_t)NOTIFY_DEFAULT_MAX_AGE_S * 1000)
        skip(j, 'x', "its integration is unknown to this instance", 0);
    else /* a deleted integration's are dropped by the claim */
        skip(j, 'r', NULL, RULE_WAIT_MS);
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
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || (r->elements - 2) % CLAIM_FIELDS ||
        !strings(r, 0)) {
        if (r)
            log_warn("notification claim failed", "{s:s}", "error",
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        schedule(STORE_DOWN_MS);
        return;
    }
    int64_t redis_now = num(r->element[1]);
    size_t leased = (r->elements - 2) / CLAIM_FIELDS;
    for (size_t i = 0; i < leased; i++)
        deliver(r->element + 2 + i * CLAIM_FIELDS, redis_now);
    int64_t next =
        r->element[0]->len ? (int64_t)strtod(r->element[0]->str, NULL) - redis_now : POLL_MS;
    /* due but not leased: its endpoint is at its bound here, and an answer will claim again */
    if (next <= 0 && !leased)
        next = POLL_MS;
    bool again = leased == CLAIM_MAX || N.kicked;
    N.kicked = false;
    schedule(again || next < 0 ? 0 : next > POLL_MS ? POLL_MS : (uint64_t)next);
}

typedef struct claim_args {
    const char **v;
    size_t n; /* endpoints added */
    char (*counts)[16];
} claim_args;

static void add_busy(const char *endpoint, void *value, void *ud)
{
    claim_args *a = ud;
    snprintf(a->counts[a->n], sizeof *a->counts, "%lu", (unsigned long)(uintptr_t)value);
    a->v[CLAIM_HEAD + 2 * a->n] = endpoint;
    a->v[CLAIM_HEAD + 2 * a->n + 1] = a->counts[a->n];
    a->n++;
}

static void claim(void)
{
    if (N.claiming) {
        N.kicked = true; /* what woke us may not be seen by the claim in flight */
        return;
    }
    if (N.stopping)
        return;
    if (!store_connected() || !integrations_loaded()) {
        schedule(STORE_DOWN_MS);
        return;
    }
    unsigned room = MAX_IN_FLIGHT - N.in_flight;
    if (!room)
        return; /* an answer schedules the next claim */
    char max[16], per[16];
    snprintf(max, sizeof max, "%u", room < CLAIM_MAX ? room : CLAIM_MAX);
    snprintf(per, sizeof per, "%d", PER_ENDPOINT);
    size_t n = CLAIM_HEAD + 2 * N.busy.count;
    claim_args a = {malloc(n * sizeof *a.v), 0, malloc((N.busy.count + 1) * sizeof *a.counts)};
    size_t *lens = malloc(n * sizeof *lens);
    if (a.v && a.counts && lens) {
        const char *head[CLAIM_HEAD] = {N.cfg->key_prefix, max, N.instance, N.retention_ms, per};
        memcpy(a.v, head, sizeof head);
        strmap_each(&N.busy, add_busy, &a);
        for (size_t i = 0; i < n; i++)
            lens[i] = strlen(a.v[i]);
        N.claiming = store_script(SCRIPT_NOTIFY_CLAIM, on_claimed, NULL, 0, (int)n, a.v, lens) == 0;
    }
    free(a.v);
    free(a.counts);
    free(lens);
    if (!N.claiming)
        schedule(STORE_DOWN_MS);
}

int notifier_start(uv_loop_t *loop, const cr_config *cfg, const char *instance, http_client *client)
{
    N.cfg = cfg;
    snprintf(N.instance, sizeof N.instance, "%s", instance);
    snprintf(N.retention_ms, sizeof N.retention_ms, "%lld", (long long)cfg->retention_s * 1000);
    N.http = client;
    if (strmap_init(&N.busy) != 0 || uv_timer_init(loop, &N.timer) != 0)
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
    N.http = NULL;
    strmap_free(&N.busy);
}
