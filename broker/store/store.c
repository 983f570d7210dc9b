/* store.c — the Redis connections. hiredis 0.14 has no timeouts and no reconnect, so both
 * live here: a connect deadline, a PING heartbeat on the command connection, and
 * reconnection with backoff. hiredis frees a context itself after its disconnect callback,
 * so nothing here frees a context from inside a hiredis callback. */
#include "store.h"
#include "feed_shard.h"
#include "log.h"
#include "metrics.h"
#include "redis_uv.h"
#include "scripts.h"
#include <hiredis/async.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 2000
#define HEARTBEAT_MS 1000
#define HEARTBEAT_DEADLINE_MS 3000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

typedef struct conn {
    const char *name;
    bool pubsub;
    redisAsyncContext *ac;
    bool connected;
    bool subscribed;
    uint64_t connect_started;
    unsigned backoff_ms;
    uv_timer_t retry;
    uv_getaddrinfo_t resolver;
    bool resolving;
    /* behind sentinels: the one being asked, and since when */
    redisAsyncContext *sac;
    size_t sidx;
    bool resolving_sentinel;
    uint64_t sentinel_started;
} conn;

static struct {
    uv_loop_t *loop;
    const cr_config *cfg;
    store_hooks hooks;
    conn cmd, sub;
    uv_timer_t heartbeat;
    bool ping_outstanding;
    uint64_t ping_sent;
    uint64_t last_reply; /* any reply on the command connection: it is alive */
    unsigned in_flight;
    bool stopping;
    char sha[SCRIPT_COUNT][41];
    const char *text[SCRIPT_COUNT];
    char *chan_events, *chan_control, *chan_feed; /* chan_feed: the shards' prefix */
    feed_slot feed[FEED_SHARDS];
} st;

static void conn_begin(conn *c);
static void sentinel_try(conn *c);
static void open_context(conn *c, const char *ip, int port);
static void on_role(redisAsyncContext *ac, void *r, void *priv);

static void on_retry(uv_timer_t *t) { conn_begin(t->data); }

static void schedule_retry(conn *c)
{
    if (st.stopping)
        return;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    uv_timer_start(&c->retry, on_retry, c->backoff_ms, 0);
}

static void set_connected_metrics(void)
{
    metrics_redis_state(st.cmd.connected, st.sub.subscribed);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    conn *c = ac->data;
    (void)status;
    if (!c || c->ac != ac)
        return;
    bool was = c->connected;
    c->ac = NULL;
    c->connected = c->subscribed = false;
    if (c == &st.cmd)
        st.ping_outstanding = false;
    else
        for (unsigned i = 0; i < FEED_SHARDS; i++)
            feed_lost(&st.feed[i]);
    set_connected_metrics();
    if (was)
        log_warn("redis connection lost", "{s:s}", "connection", c->name);
    schedule_retry(c);
}

/* "integration NAME", published by the integration scripts. */
static void on_control(const char *payload, size_t len)
{
    static const char prefix[] = "integration ";
    if (len <= sizeof prefix - 1 || len > 200 || memcmp(payload, prefix, sizeof prefix - 1))
        return;
    char name[201];
    snprintf(name, sizeof name, "%.*s", (int)(len - (sizeof prefix - 1)),
             payload + sizeof prefix - 1);
    st.hooks.on_integration_changed(name);
}

/* The shard a channel of the feed is, or -1. */
static int feed_channel(const char *channel)
{
    size_t n = strlen(st.chan_feed);
    if (strncmp(channel, st.chan_feed, n) != 0)
        return -1;
    char *end;
    unsigned long v = strtoul(channel + n, &end, 10);
    return *end || end == channel + n || v >= FEED_SHARDS ? -1 : (int)v;
}

static void on_message(const char *channel, const char *payload, size_t len)
{
    if (strcmp(channel, st.chan_control) == 0)
        on_control(payload, len);
    else if (feed_channel(channel) >= 0 || strcmp(channel, st.chan_events) == 0)
        st.hooks.on_wakeup(payload, len);
}

static void send_feed(unsigned shard, feed_cmd cmd);

static void on_feed_answer(int shard, bool subscribe)
{
    feed_cmd then;
    if (feed_answered(&st.feed[shard], subscribe, &then) && st.hooks.on_feed_ready)
        st.hooks.on_feed_ready((unsigned)shard);
    send_feed((unsigned)shard, then);
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    (void)ac;
    (void)priv;
    if (reply && reply->type == REDIS_REPLY_ERROR) /* an ACL without the channel, say */
        log_error("redis refused a subscription", "{s:s}", "error", reply->str);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING)
        return;
    const char *type = reply->element[0]->str, *channel = reply->element[1]->str;
    bool sub = strcmp(type, "subscribe") == 0;
    int shard = feed_channel(channel);
    if ((sub || strcmp(type, "unsubscribe") == 0) && shard >= 0 && st.sub.ac) {
        on_feed_answer(shard, sub);
    } else if (sub && st.sub.ac && strcmp(channel, st.chan_control) == 0) {
        /* the control channel comes last in the first SUBSCRIBE: the feed's shards are in */
        st.sub.subscribed = true;
        set_connected_metrics();
        log_info("redis pub/sub subscribed", NULL);
        if (st.hooks.on_pubsub_ready)
            st.hooks.on_pubsub_ready();
    } else if (strcmp(type, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING) {
        on_message(channel, reply->element[2]->str, reply->element[2]->len);
    }
}

static void send_feed(unsigned shard, feed_cmd cmd)
{
    if (cmd == FEED_NONE || !st.sub.ac)
        return;
    redisAsyncCommand(st.sub.ac, on_sub_reply, NULL, "%s %s%u",
                      cmd == FEED_SUBSCRIBE ? "SUBSCRIBE" : "UNSUBSCRIBE", st.chan_feed, shard);
}

/* The wanted shards, the channel of instances from before the shards, and the control
 * channel, in one SUBSCRIBE. */
static void subscribe_all(redisAsyncContext *ac)
{
    const char *argv[FEED_SHARDS + 3];
    size_t each = strlen(st.chan_feed) + 12;
    char *names = malloc(FEED_SHARDS * each);
    int argc = 0;
    argv[argc++] = "SUBSCRIBE";
    argv[argc++] = st.chan_events;
    for (unsigned i = 0; i < FEED_SHARDS; i++) {
        if (!feed_reconnect(&st.feed[i]))
            continue;
        if (!names) { /* subscribed when the connection is made again */
            feed_lost(&st.feed[i]);
            continue;
        }
        snprintf(names + i * each, each, "%s%u", st.chan_feed, i);
        argv[argc++] = names + i * each;
    }
    argv[argc++] = st.chan_control;
    redisAsyncCommandArgv(ac, on_sub_reply, NULL, argc, argv, NULL);
    free(names);
}

void store_feed_join(unsigned shard)
{
    send_feed(shard, feed_ref(&st.feed[shard % FEED_SHARDS], st.sub.ac != NULL));
}

void store_feed_leave(unsigned shard)
{
    send_feed(shard, feed_unref(&st.feed[shard % FEED_SHARDS], st.sub.ac != NULL));
}

bool store_feed_active(unsigned shard) { return st.feed[shard % FEED_SHARDS].active; }

static void on_auth_reply(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    (void)priv;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        conn *c = ac->data;
        log_error("redis refused AUTH or SELECT", "{s:s,s:s}", "connection", c->name, "error",
                  reply->str);
        redisAsyncDisconnect(ac);
    }
}

static void send_setup(conn *c)
{
    const cr_redis_target *t = &st.cfg->redis;
    if (t->password)
        redisAsyncCommand(c->ac, on_auth_reply, NULL, "AUTH %s", t->password);
    if (t->master_name)
        redisAsyncCommand(c->ac, on_role, NULL, "ROLE");
    if (c->pubsub) {
        subscribe_all(c->ac);
    } else if (t->db) {
        redisAsyncCommand(c->ac, on_auth_reply, NULL, "SELECT %d", t->db);
    }
}

static void conn_ready(conn *c);

/* A sentinel may still name a master that was demoted: only a "master" ROLE is used. */
static void on_role(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    conn *c = ac->data;
    (void)priv;
    if (!c || c->ac != ac || !reply)
        return;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(reply->element[0]->str, "master") == 0) {
        conn_ready(c);
        return;
    }
    log_warn("redis named by the sentinels is not a master", "{s:s}", "connection", c->name);
    redisAsyncDisconnect(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    conn *c = ac->data;
    if (!c || c->ac != ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback; the disconnect callback is not called */
        if (!c->backoff_ms)
            log_warn("redis connect failed", "{s:s,s:s}", "connection", c->name, "error",
                     ac->errstr);
        c->ac = NULL;
        schedule_retry(c);
        return;
    }
    if (!st.cfg->redis.master_name)
        conn_ready(c);
}

static void on_loaded(redisReply *r, void *ud)
{
    (void)r;
    (void)ud;
}

/* Every script is loaded as soon as the connection is up: the first calls of a script, when
 * they come in a burst (a thousand tabs registering), would otherwise each come back NOSCRIPT
 * and be sent again whole. A failed load only leaves that fallback. */
static void load_scripts(void)
{
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", st.text[i]};
        size_t lens[3] = {6, 4, strlen(st.text[i])};
        store_command(on_loaded, NULL, 3, argv, lens);
    }
}

/* Connected (behind sentinels: and ROLE said master). */
static void conn_ready(conn *c)
{
    c->connected = true;
    c->backoff_ms = 0;
    uv_timer_stop(&c->retry);
    METRIC_ADD(redis_reconnects, 1);
    set_connected_metrics();
    log_info("redis connected", "{s:s}", "connection", c->name);
    if (c == &st.cmd)
        load_scripts();
    if (c == &st.cmd && st.hooks.on_connected)
        st.hooks.on_connected();
}

static void open_context(conn *c, const char *ip, int port)
{
    const cr_redis_target *t = &st.cfg->redis;
    redisAsyncContext *ac = t->path ? redisAsyncConnectUnix(t->path) : redisAsyncConnect(ip, port);
    if (!ac || ac->err) {
        log_warn("redis connect failed", "{s:s,s:s}", "connection", c->name, "error",
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    ac->data = c;
    if (redis_uv_attach(ac, st.loop) != 0) {
        redisAsyncFree(ac);
        schedule_retry(c);
        return;
    }
    c->ac = ac;
    c->connect_started = uv_now(st.loop);
    if (!t->path) /* the idle pub/sub connection must notice a peer that vanished */
        redisEnableKeepAlive(&ac->c);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    send_setup(c);
}

static void sentinel_resolved(conn *c, const char *ip);

/* ---- sentinels: SENTINEL get-master-addr-by-name, each sentinel in turn ---- */

static void sentinel_next(conn *c)
{
    c->sidx++;
    sentinel_try(c);
}

static void on_master_addr(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *reply = r;
    conn *c = ac->data;
    (void)priv;
    if (!c || c->sac != ac)
        return;
    c->sac = NULL;
    if (reply)
        redisAsyncDisconnect(ac);
    if (st.stopping)
        return;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        sentinel_next(c);
        return;
    }
    int port = atoi(reply->element[1]->str);
    if (port <= 0 || port > 65535) {
        sentinel_next(c);
        return;
    }
    log_debug("sentinel named the master", "{s:s,s:s,s:i}", "connection", c->name, "host",
              reply->element[0]->str, "port", port);
    open_context(c, reply->element[0]->str, port);
}

static void on_sentinel_connect(const redisAsyncContext *ac, int status)
{
    conn *c = ac->data;
    if (status == REDIS_OK || !c || c->sac != ac)
        return;
    c->sac = NULL; /* hiredis frees it */
    sentinel_next(c);
}

static void on_sentinel_disconnect(const redisAsyncContext *ac, int status)
{
    conn *c = ac->data;
    (void)status;
    if (!c || c->sac != ac)
        return;
    c->sac = NULL;
    sentinel_next(c);
}

static void sentinel_resolved(conn *c, const char *ip)
{
    const cr_host_port *s = &st.cfg->redis.sentinels[c->sidx];
    redisAsyncContext *ac = ip ? redisAsyncConnect(ip, s->port) : NULL;
    if (!ac || ac->err || redis_uv_attach(ac, st.loop) != 0) {
        if (ac)
            redisAsyncFree(ac);
        sentinel_next(c);
        return;
    }
    ac->data = c;
    c->sac = ac;
    c->sentinel_started = uv_now(st.loop);
    redisAsyncSetConnectCallback(ac, on_sentinel_connect);
    redisAsyncSetDisconnectCallback(ac, on_sentinel_disconnect);
    redisAsyncCommand(ac, on_master_addr, NULL, "SENTINEL get-master-addr-by-name %s",
                      st.cfg->redis.master_name);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res);

static void sentinel_try(conn *c)
{
    const cr_redis_target *t = &st.cfg->redis;
    if (st.stopping)
        return;
    if (c->sidx >= t->n_sentinels) {
        if (!c->backoff_ms)
            log_warn("no sentinel named a reachable master", "{s:s,s:s}", "connection", c->name,
                     "master", t->master_name);
        schedule_retry(c);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[16];
    snprintf(port, sizeof port, "%d", t->sentinels[c->sidx].port);
    c->resolver.data = c;
    c->resolving = c->resolving_sentinel = true;
    if (uv_getaddrinfo(st.loop, &c->resolver, on_resolved, t->sentinels[c->sidx].host, port,
                       &hints) != 0) {
        c->resolving = c->resolving_sentinel = false;
        sentinel_next(c);
    }
}

/* A sentinel that does not answer in time: the next one. Outside hiredis's callbacks. */
static void sentinel_deadline(conn *c, uint64_t now)
{
    if (!c->sac || now - c->sentinel_started <= CONNECT_TIMEOUT_MS)
        return;
    redisAsyncContext *ac = c->sac;
    c->sac = NULL;
    redisAsyncFree(ac);
    sentinel_next(c);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    conn *c = req->data;
    char ip[64] = "";
    c->resolving = false;
    if (status == 0 && res)
        uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
    if (res && res->ai_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    if (st.stopping)
        return;
    if (c->resolving_sentinel) {
        c->resolving_sentinel = false;
        sentinel_resolved(c, ip[0] ? ip : NULL);
        return;
    }
    if (status != 0 || !ip[0]) {
        log_warn("redis host does not resolve", "{s:s,s:s}", "host", st.cfg->redis.host, "error",
                 uv_strerror(status));
        schedule_retry(c);
        return;
    }
    open_context(c, ip, st.cfg->redis.port);
}

/* Resolution goes through libuv's thread pool: hiredis would block the loop on it. */
static void conn_begin(conn *c)
{
    if (st.stopping || c->ac || c->resolving || c->sac)
        return;
    if (st.cfg->redis.path) {
        open_context(c, NULL, 0);
        return;
    }
    if (st.cfg->redis.master_name) { /* every (re)connection asks where the master is now */
        c->sidx = 0;
        sentinel_try(c);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[16];
    snprintf(port, sizeof port, "%d", st.cfg->redis.port);
    c->resolver.data = c;
    c->resolving = true;
    if (uv_getaddrinfo(st.loop, &c->resolver, on_resolved, st.cfg->redis.host, port, &hints) != 0) {
        c->resolving = false;
        schedule_retry(c);
    }
}

static void on_pong(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    (void)priv;
    if (r)
        st.ping_outstanding = false;
    st.in_flight--;
}

static void force_reconnect(conn *c, const char *why)
{
    if (!c->ac)
        return;
    log_warn("redis connection dropped", "{s:s,s:s}", "connection", c->name, "reason", why);
    redisAsyncContext *ac = c->ac;
    redisAsyncFree(ac); /* pending callbacks get NULL; on_disconnect schedules the retry */
    if (c->ac == ac) {  /* not connected yet: hiredis called no disconnect callback */
        c->ac = NULL;
        schedule_retry(c);
    }
}

static void on_heartbeat(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_now(st.loop);
    conn *both[2] = {&st.cmd, &st.sub};
    for (int i = 0; i < 2; i++) {
        sentinel_deadline(both[i], now);
        if (both[i]->ac && !both[i]->connected &&
            now - both[i]->connect_started > CONNECT_TIMEOUT_MS)
            force_reconnect(both[i], "connect timeout");
    }
    if (!st.cmd.connected)
        return;
    /* WAITs (CALLRELAY_DURABILITY=replica) hold the connection up to their timeout each: a
     * PING queued behind them is late, but their replies show the connection is alive. */
    uint64_t deadline = HEARTBEAT_DEADLINE_MS;
    if (st.cfg->durability_replica)
        deadline += (uint64_t)st.cfg->replica_timeout_ms;
    if (st.ping_outstanding) {
        if (now - st.ping_sent > deadline && now - st.last_reply > deadline) {
            force_reconnect(&st.cmd, "no answer to PING");
            force_reconnect(&st.sub, "command connection unresponsive");
        }
        return;
    }
    if (redisAsyncCommand(st.cmd.ac, on_pong, NULL, "PING") == REDIS_OK) {
        st.in_flight++;
        st.ping_outstanding = true;
        st.ping_sent = now;
    }
}

static void sha1_hex(const char *text, char out[41])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)text, strlen(text), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static char *join(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    char *s = malloc(la + lb + lc + 1);
    if (!s)
        return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    if (c)
        memcpy(s + la + lb, c, lc);
    s[la + lb + lc] = 0;
    return s;
}

static void conn_init(conn *c, const char *name, bool pubsub)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->pubsub = pubsub;
    uv_timer_init(st.loop, &c->retry);
    c->retry.data = c;
}

int store_start(uv_loop_t *loop, const cr_config *cfg, const store_hooks *hooks)
{
    st.loop = loop;
    st.cfg = cfg;
    st.hooks = *hooks;
    st.text[SCRIPT_INGEST] = script_ingest;
    st.text[SCRIPT_PAGE] = script_page;
    st.text[SCRIPT_ACK] = script_ack;
    st.text[SCRIPT_INTEGRATION_PUT] = script_integration_put;
    st.text[SCRIPT_INTEGRATION_DELETE] = script_integration_delete;
    st.text[SCRIPT_USER_DELETE] = script_user_delete;
    st.text[SCRIPT_SESSION_OPEN] = script_session_open;
    st.text[SCRIPT_NOTIFY_CLAIM] = script_notify_claim;
    st.text[SCRIPT_NOTIFY_DONE] = script_notify_done;
    st.text[SCRIPT_NOTIFY_RETRY] = script_notify_retry;
    st.text[SCRIPT_NOTIFY_LIST] = script_notify_list;
    st.text[SCRIPT_COMMAND_BEGIN] = script_command_begin;
    st.text[SCRIPT_COMMAND_END] = script_command_end;
    st.text[SCRIPT_POLL_ADD] = script_poll_add;
    st.text[SCRIPT_POLL_CLAIM] = script_poll_claim;
    st.text[SCRIPT_POLL_DONE] = script_poll_done;
    for (int i = 0; i < SCRIPT_COUNT; i++)
        sha1_hex(st.text[i], st.sha[i]);
    st.chan_events = join(cfg->key_prefix, "events", NULL);
    st.chan_control = join(cfg->key_prefix, "control", NULL);
    st.chan_feed = join(cfg->key_prefix, "ev:", NULL);
    if (!st.chan_events || !st.chan_control || !st.chan_feed)
        return -1;
    conn_init(&st.cmd, "command", false);
    conn_init(&st.sub, "pubsub", true);
    uv_timer_init(loop, &st.heartbeat);
    uv_timer_start(&st.heartbeat, on_heartbeat, HEARTBEAT_MS, HEARTBEAT_MS);
    conn_begin(&st.cmd);
    conn_begin(&st.sub);
    return 0;
}

void store_stop(void)
{
    st.stopping = true;
    uv_timer_stop(&st.heartbeat);
    uv_close((uv_handle_t *)&st.heartbeat, NULL);
    conn *both[2] = {&st.cmd, &st.sub};
    for (int i = 0; i < 2; i++) {
        conn *c = both[i];
        uv_timer_stop(&c->retry);
        uv_close((uv_handle_t *)&c->retry, NULL);
        if (c->resolving)
            uv_cancel((uv_req_t *)&c->resolver);
        redisAsyncContext *ctx[2] = {c->ac, c->sac};
        c->ac = c->sac = NULL;
        for (int k = 0; k < 2; k++) {
            if (ctx[k]) {
                ctx[k]->data = NULL;
                redisAsyncFree(ctx[k]);
            }
        }
    }
    free(st.chan_events);
    free(st.chan_control);
    free(st.chan_feed);
    st.chan_events = st.chan_control = st.chan_feed = NULL;
}

const cr_config *store_config(void) { return st.cfg; }
bool store_connected(void) { return st.cmd.connected; }
bool store_pubsub_connected(void) { return st.sub.subscribed; }
unsigned store_in_flight(void) { return st.in_flight; }

/* ---- commands ---- */

typedef struct job {
    store_cb cb;
    void *ud;
    int script; /* -1 for a plain command */
    int argc;
    const char **argv;
    size_t *lens;
} job;

static void on_reply(redisAsyncContext *ac, void *r, void *priv);

static int job_send(job *j)
{
    if (!st.cmd.connected || !st.cmd.ac)
        return -1;
    if (redisAsyncCommandArgv(st.cmd.ac, on_reply, j, j->argc, j->argv, j->lens) != REDIS_OK)
        return -1;
    st.in_flight++;
    return 0;
}

static bool is_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* The master became a replica (a failover the connection outlived): both connections go,
 * and the reconnection asks the sentinels again. The caller is inside a reply callback of the
 * command connection, so that one is only asked to disconnect. */
static void on_readonly(redisAsyncContext *ac)
{
    if (!st.cmd.connected || st.cmd.ac != ac)
        return;
    log_warn("redis master is read-only now: asking the sentinels again", NULL);
    st.cmd.connected = false;
    set_connected_metrics();
    redisAsyncDisconnect(ac);
    force_reconnect(&st.sub, "master became read-only");
}

static bool is_readonly(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "READONLY", 8) == 0;
}

static void on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    job *j = priv;
    st.in_flight--;
    st.last_reply = uv_now(st.loop);
    if (is_readonly(r)) {
        on_readonly(ac);
        r = NULL;
    }
    if (j->script >= 0 && is_noscript(r) && j->lens[0] == 7 &&
        memcmp(j->argv[0], "EVALSHA", 7) == 0) {
        j->argv[0] = "EVAL";
        j->argv[1] = st.text[j->script];
        j->lens[0] = 4;
        j->lens[1] = strlen(st.text[j->script]);
        if (job_send(j) == 0)
            return;
        r = NULL;
    }
    j->cb(r, j->ud);
    free(j);
}

/* One allocation holds the job, its argument vectors and copies of every argument, kept for
 * a possible resend after NOSCRIPT. head: short strings put before the arguments. */
static job *job_new(store_cb cb, void *ud, int script, int head, const char **head_argv, int argc,
                    const char **argv, const size_t *lens)
{
    int total = head + argc;
    size_t bytes = sizeof(job) + total * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < total; i++)
        bytes += i < head ? strlen(head_argv[i]) : lens[i - head];
    job *j = malloc(bytes);
    if (!j)
        return NULL;
    j->cb = cb;
    j->ud = ud;
    j->script = script;
    j->argc = total;
    j->argv = (const char **)(j + 1);
    j->lens = (size_t *)(j->argv + total);
    char *p = (char *)(j->lens + total);
    for (int i = 0; i < total; i++) {
        const char *src = i < head ? head_argv[i] : argv[i - head];
        size_t n = i < head ? strlen(src) : lens[i - head];
        memcpy(p, src, n);
        j->argv[i] = p;
        j->lens[i] = n;
        p += n;
    }
    return j;
}

/* Queues j; on failure frees it, and cb will not be called. */
static int job_submit(job *j)
{
    if (!j)
        return -1;
    if (job_send(j) != 0) {
        free(j);
        return -1;
    }
    return 0;
}

int store_command(store_cb cb, void *ud, int argc, const char **argv, const size_t *lens)
{
    if (!st.cmd.connected)
        return -1;
    return job_submit(job_new(cb, ud, -1, 0, NULL, argc, argv, lens));
}

int store_script(enum store_script s, store_cb cb, void *ud, int nkeys, int nargs,
                 const char **args, const size_t *lens)
{
    if (!st.cmd.connected)
        return -1;
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    const char *head[3] = {"EVALSHA", st.sha[s], nk};
    return job_submit(job_new(cb, ud, s, 3, head, nargs, args, lens));
}

#define CALL_STACK_ARGS 8

int store_call_run(int s, store_cb done, void (*cb)(void), void *ud, int nkeys, int n,
                   const char **args)
{
    size_t stack[CALL_STACK_ARGS];
    size_t *lens = n <= CALL_STACK_ARGS ? stack : malloc((size_t)n * sizeof *lens);
    store_call *c = lens ? malloc(sizeof *c) : NULL;
    int rc = c ? 0 : -1;
    for (int i = 0; !rc && i < n; i++)
        rc = args[i] ? (lens[i] = strlen(args[i]), 0) : -1;
    if (!rc) {
        *c = (store_call){cb, ud};
        rc = s < 0 ? store_command(done, c, n, args, lens)
                   : store_script((enum store_script)s, done, c, nkeys, n, args, lens);
    }
    if (rc)
        free(c);
    if (lens != stack)
        free(lens);
    return rc;
}

/* ---- keys ---- */

char *store_key_integrations(void) { return join(st.cfg->key_prefix, "integrations", NULL); }

char *store_key_integration_prefix(const char *integration)
{
    size_t n = strlen(st.cfg->key_prefix) + strlen(integration) + 4;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s{%s}:", st.cfg->key_prefix, integration);
    return s;
}

/* PREFIX{integration}:KIND[REST], built with memcpy: this runs several times per event */
static char *per_integration(const char *integration, const char *kind, const char *rest)
{
    const char *parts[] = {st.cfg->key_prefix, "{", integration, "}:", kind, rest ? rest : ""};
    size_t lens[6], n = 1;
    for (int i = 0; i < 6; i++)
        n += lens[i] = strlen(parts[i]);
    char *s = malloc(n), *p = s;
    for (int i = 0; s && i < 6; i++) {
        memcpy(p, parts[i], lens[i]);
        p += lens[i];
    }
    if (s)
        *p = '\0';
    return s;
}

char *store_key_users(const char *integration)
{
    return per_integration(integration, "users", NULL);
}
char *store_key_stream(const char *i, const char *ext) { return per_integration(i, "s:", ext); }
char *store_key_cursor(const char *i, const char *ext) { return per_integration(i, "c:", ext); }
char *store_key_ticket(const char *i, const char *sig) { return per_integration(i, "t:", sig); }
char *store_key_call(const char *i, const char *call_id)
{
    return per_integration(i, "call:", call_id);
}
char *store_key_user_calls(const char *i, const char *ext)
{
    return per_integration(i, "uc:", ext);
}
char *store_key_online(const char *i) { return per_integration(i, "on", NULL); }
char *store_key_dedupe(const char *i, const char *epoch, const char *key)
{
    size_t n = strlen(epoch) + strlen(key) + 2;
    char *rest = malloc(n), *s = NULL;
    if (rest) {
        snprintf(rest, n, "%s:%s", epoch, key);
        s = per_integration(i, "k:", rest);
    }
    free(rest);
    return s;
}
const char *store_channel_events(void) { return st.chan_events; }
const char *store_channel_feed(void) { return st.chan_feed; }
const char *store_channel_control(void) { return st.chan_control; }
