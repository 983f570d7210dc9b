/* poller.c — the polling loop: claim due calls (poll_claim.lua), run each poll as a status
 * command (commands_run), settle it (poll_done.lua): forgotten when the call ended, else due
 * again after the interval or a backoff. One claim is out at a time; polls in flight are
 * bounded; a timer looks again when the earliest call falls due, and at least every CLAIM_MS,
 * for what other instances add. */
#include "poller.h"
#include "commands.h"
#include "integrations.h"
#include "log.h"
#include "names.h"
#include "presence.h"
#include "store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IN_FLIGHT 256
#define CLAIM_MAX 64
#define CLAIM_MS 500
#define STORE_DOWN_MS 1000
#define CLAIM_FIELDS 8
/* A status poll is at most four requests: a login for a stale token, Status refused, a login
 * again, Status. */
#define LEASE_REQUESTS 4
#define LEASE_MARGIN_MS 2000

static struct {
    const cr_config *cfg;
    uv_timer_t timer;
    char max_age[24];
    bool claiming, kicked, running;
    unsigned in_flight;
} P;

typedef struct poll_job {
    char integration[NAME_MAX_LEN + 1];
    char *call_id, *user, *number, *last, *lid;
    long seq, failures;
    long delay_ms; /* until its next poll, once settled */
} poll_job;

static void job_free(poll_job *j)
{
    free(j->call_id);
    free(j->user);
    free(j->number);
    free(j->last);
    free(j->lid);
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
    if (!P.running)
        return;
    if (uv_is_active((uv_handle_t *)&P.timer) && uv_timer_get_due_in(&P.timer) <= ms)
        return;
    uv_timer_start(&P.timer, on_timer, ms, 0);
}

/* settings.<dialect>.poll_interval_ms, as the dialect's check_settings allowed it. */
static long interval_of(const integration *in)
{
    const json_t *own = in ? json_object_get(in->settings, in->adapter->name) : NULL;
    json_int_t ms = json_integer_value(json_object_get(own, "poll_interval_ms"));
    return ms > 0 ? (long)ms : POLLER_INTERVAL_MS;
}

/* ---- settling ---- */

static void on_settled(redisReply *r, void *ud)
{
    poll_job *j = ud;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_warn("poll outcome not recorded: the call is polled again when its lease ends",
                 "{s:s,s:s,s:s}", "integration", j->integration, "call_id", j->call_id, "error",
                 r ? r->str : "redis unavailable");
    else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
        schedule((uint64_t)j->delay_ms); /* the next look may be later than its next poll */
    job_free(j);
    P.in_flight--;
    if (P.in_flight == MAX_IN_FLIGHT - 1)
        schedule(0);
}

/* poll_done.lua with what (done, ok, fail, release), the status seen and the delay. */
static void settle(poll_job *j, const char *what, const char *last, long delay_ms)
{
    char seq[24], delay[24];
    snprintf(seq, sizeof seq, "%ld", j->seq);
    snprintf(delay, sizeof delay, "%ld", delay_ms);
    j->delay_ms = delay_ms;
    const char *args[] = {
        P.cfg->key_prefix, j->integration, j->call_id, j->lid, what, last, seq, delay};
    size_t lens[8];
    for (size_t i = 0; i < 8; i++)
        lens[i] = strlen(args[i]);
    if (!P.running || store_script(SCRIPT_POLL_DONE, on_settled, j, 0, 8, args, lens) != 0) {
        job_free(j); /* the lease runs out and the call is polled again */
        P.in_flight--;
    }
}

static void on_polled(void *ud, const command_outcome *o)
{
    poll_job *j = ud;
    const integration *in = integrations_by_name(j->integration);
    long interval = interval_of(in);
    if (o->done)
        return settle(j, "done", j->last, 0);
    if (o->status >= 200 && o->status < 300) {
        const char *seen = json_string_value(json_object_get(o->answer, "status"));
        if (seen && strcmp(seen, j->last) != 0)
            j->seq++;
        return settle(j, "ok", seen ? seen : j->last, poller_delay_ms(interval, 0, 0));
    }
    log_info("poll failed", "{s:s,s:s,s:i,s:s}", "integration", j->integration, "call_id",
             j->call_id, "status", o->status, "message", o->message ? o->message : "");
    settle(j, "fail", j->last, poller_delay_ms(interval, j->failures + 1, o->retry_ms));
}

/* ---- polling ---- */

static void poll_call(poll_job *j)
{
    char command_id[NAME_MAX_LEN + 256];
    const integration *in = integrations_by_name(j->integration);
    if (!in) /* not known here yet, or deleted: the call is forgotten after 4 hours */
        return settle(j, "release", j->last, STORE_DOWN_MS);
    snprintf(command_id, sizeof command_id, "poll:%s", j->call_id);
    json_t *cmd = json_pack("{ss ss ss ss ss sI ss}", "op", "status", "call_id", j->call_id, "user",
                            j->user, "number", j->number, "last", j->last, "seq",
                            (json_int_t)j->seq, "command_id", command_id);
    if (!cmd || commands_run(j->integration, cmd, on_polled, j) != 0)
        settle(j, "release", j->last, STORE_DOWN_MS);
}

static char *dup_reply(const redisReply *r) { return strndup(r->str, r->len); }

static poll_job *job_of(redisReply **f)
{
    poll_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    snprintf(j->integration, sizeof j->integration, "%.*s", (int)f[0]->len, f[0]->str);
    j->call_id = dup_reply(f[1]);
    j->user = dup_reply(f[2]);
    j->number = dup_reply(f[3]);
    j->last = dup_reply(f[4]);
    j->seq = strtol(f[5]->str, NULL, 10);
    j->failures = strtol(f[6]->str, NULL, 10);
    j->lid = dup_reply(f[7]);
    if (!j->call_id || !j->user || !j->number || !j->last || !j->lid) {
        job_free(j);
        return NULL;
    }
    return j;
}

static bool all_strings(const redisReply *r)
{
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING)
            return false;
    return true;
}

static void on_claimed(redisReply *r, void *ud)
{
    (void)ud;
    P.claiming = false;
    if (!P.running)
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || (r->elements - 2) % CLAIM_FIELDS ||
        !all_strings(r)) {
        if (r)
            log_warn("poll claim failed", "{s:s}", "error",
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        schedule(STORE_DOWN_MS);
        return;
    }
    long long redis_now = strtoll(r->element[1]->str, NULL, 10);
    size_t leased = (r->elements - 2) / CLAIM_FIELDS;
    for (size_t i = 0; i < leased; i++) {
        poll_job *j = job_of(r->element + 2 + i * CLAIM_FIELDS);
        if (!j) {
            log_warn("out of memory polling a call: polled again when its lease ends", NULL);
            continue;
        }
        P.in_flight++;
        poll_call(j);
    }
    long long next =
        r->element[0]->len ? (long long)strtod(r->element[0]->str, NULL) - redis_now : CLAIM_MS;
    bool again = leased == CLAIM_MAX || P.kicked;
    P.kicked = false;
    schedule(again || next < 0 ? 0 : next > CLAIM_MS ? CLAIM_MS : (uint64_t)next);
}

static void claim(void)
{
    if (P.claiming) {
        P.kicked = true;
        return;
    }
    if (!P.running)
        return;
    if (!store_connected() || !integrations_loaded()) {
        schedule(STORE_DOWN_MS);
        return;
    }
    unsigned room = MAX_IN_FLIGHT - P.in_flight;
    if (!room)
        return; /* a settled poll schedules the next claim */
    char max[16];
    snprintf(max, sizeof max, "%u", room < CLAIM_MAX ? room : CLAIM_MAX);
    const char *args[] = {P.cfg->key_prefix, max, presence_instance(), P.max_age};
    size_t lens[4];
    for (size_t i = 0; i < 4; i++)
        lens[i] = strlen(args[i]);
    P.claiming = store_script(SCRIPT_POLL_CLAIM, on_claimed, NULL, 0, 4, args, lens) == 0;
    if (!P.claiming)
        schedule(STORE_DOWN_MS);
}

/* ---- adding ---- */

typedef struct add_req {
    void (*cb)(void *ud, bool ok);
    void *ud;
} add_req;

static void on_added(redisReply *r, void *ud)
{
    add_req *a = ud;
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    if (!ok)
        log_warn("a call to poll was not stored", "{s:s}", "error",
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "redis unavailable");
    a->cb(a->ud, ok);
    free(a);
    if (ok)
        schedule(0); /* its first poll may be due before the next look */
}

int poller_add(const char *name, const char *call_id, const char *user, const char *number,
               void (*cb)(void *ud, bool ok), void *ud)
{
    const integration *in = integrations_by_name(name);
    add_req *a = P.cfg ? malloc(sizeof *a) : NULL;
    char first[24], lease[24], max_age[24];
    if (!a)
        return -1;
    *a = (add_req){cb, ud};
    long timeout = in ? commands_timeout_ms(in->settings) : COMMAND_TIMEOUT_MS;
    snprintf(first, sizeof first, "%ld", interval_of(in));
    snprintf(lease, sizeof lease, "%ld", LEASE_REQUESTS * timeout + LEASE_MARGIN_MS);
    snprintf(max_age, sizeof max_age, "%lld", POLLER_MAX_AGE_MS);
    const char *args[] = {P.cfg->key_prefix,    name,  call_id, user,
                          number ? number : "", first, lease,   max_age};
    size_t lens[8];
    for (size_t i = 0; i < 8; i++)
        lens[i] = strlen(args[i]);
    if (store_script(SCRIPT_POLL_ADD, on_added, a, 0, 8, args, lens) != 0) {
        free(a);
        return -1;
    }
    return 0;
}

/* ---- start and stop ---- */

int poller_init(uv_loop_t *loop, const cr_config *cfg, http_client *client)
{
    (void)client; /* the polls' requests go through commands_run, which has it */
    P.cfg = cfg;
    snprintf(P.max_age, sizeof P.max_age, "%lld", POLLER_MAX_AGE_MS);
    if (uv_timer_init(loop, &P.timer) != 0)
        return -1;
    P.running = true;
    commands_on_poll(poller_add);
    schedule(CLAIM_MS);
    return 0;
}

void poller_stop(void)
{
    if (!P.running)
        return;
    P.running = false;
    commands_on_poll(NULL);
    uv_timer_stop(&P.timer);
    uv_close((uv_handle_t *)&P.timer, NULL);
}
