/* store.h — Redis: one command connection and one pub/sub connection, reconnected with
 * backoff, scripts run by EVALSHA with a NOSCRIPT fallback. Every call is async. */
#ifndef CR_STORE_H
#define CR_STORE_H
#include "config.h"
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <uv.h>

enum store_script {
    SCRIPT_INGEST,
    SCRIPT_PAGE,
    SCRIPT_ACK,
    SCRIPT_INTEGRATION_PUT,
    SCRIPT_INTEGRATION_DELETE,
    SCRIPT_USER_DELETE,
    SCRIPT_SESSION_OPEN,
    SCRIPT_NOTIFY_CLAIM,
    SCRIPT_NOTIFY_DONE,
    SCRIPT_NOTIFY_RETRY,
    SCRIPT_NOTIFY_LIST,
    SCRIPT_COMMAND_BEGIN,
    SCRIPT_COMMAND_END,
    SCRIPT_POLL_ADD,
    SCRIPT_POLL_CLAIM,
    SCRIPT_POLL_DONE,
    SCRIPT_COUNT
};

/* reply is NULL when the command could not complete (connection lost or closing). */
typedef void (*store_cb)(redisReply *reply, void *ud);

/* The store hands each pub/sub message to its consumer: wake-ups to the hub, changes of an
 * integration to the cache of integrations. */
typedef struct store_hooks {
    void (*on_connected)(void);            /* command connection (re)established */
    void (*on_pubsub_ready)(void);         /* subscribed again: callers resync */
    void (*on_feed_ready)(unsigned shard); /* the feed of one shard is subscribed (again) */
    void (*on_wakeup)(const char *payload, size_t len);
    void (*on_integration_changed)(const char *name); /* created, updated or deleted */
} store_hooks;

int store_start(uv_loop_t *loop, const cr_config *cfg, const store_hooks *hooks);
void store_stop(void);
const cr_config *store_config(void);
bool store_connected(void);
bool store_pubsub_connected(void);
/* Commands queued and not yet answered; callers refuse new work above a bound. */
unsigned store_in_flight(void);

/* Returns 0 when queued (cb will be called exactly once), -1 when Redis is not connected
 * (cb will not be called). */
int store_command(store_cb cb, void *ud, int argc, const char **argv, const size_t *lens);
int store_script(enum store_script s, store_cb cb, void *ud, int nkeys, int nargs,
                 const char **args, const size_t *lens);

/* For the domain calls (store_users.c, store_integrations.c): the caller's callback and its
 * data, carried through one Redis call. */
typedef struct store_call {
    void (*cb)(void);
    void *ud;
} store_call;
/* Queues script s (a plain command when s < 0) with C-string arguments, NULL for lack of
 * memory; done receives a store_call that it frees. Returns 0 or -1 as store_command. */
int store_call_run(int s, store_cb done, void (*cb)(void), void *ud, int nkeys, int n,
                   const char **args);

/* Keys. Each returns a malloc'd string. */
char *store_key_integrations(void);
char *store_key_users(const char *integration);
char *store_key_stream(const char *integration, const char *ext);
char *store_key_cursor(const char *integration, const char *ext);
/* A used ticket, by its signature, remembered until the ticket expires. */
char *store_key_ticket(const char *integration, const char *signature);
/* The state of one call (a hash: see docs/redis-layout.md), and the calls of a user that have
 * not ended (a sorted set of call ids by last change). */
char *store_key_call(const char *integration, const char *call_id);
char *store_key_user_calls(const char *integration, const char *ext);
/* Who has a registered tab: a sorted set of "EXT\tINSTANCE" scored by expiry (Unix ms). */
char *store_key_online(const char *integration);
/* epoch: the integration's incarnation, so that a deleted and re-created integration does not
 * inherit the dedupe markers of the old one (they cannot be enumerated to delete them). */
char *store_key_dedupe(const char *integration, const char *epoch, const char *key);
/* "PREFIX{integration}:" — the prefix of every per-integration key. */
char *store_key_integration_prefix(const char *integration);
const char *store_channel_events(void);
/* The wake-ups' channels: this prefix and the shard's number (broker/lib/feed_shard.h). */
const char *store_channel_feed(void);
/* A user with tabs here joins or leaves its shard: the instance listens to a shard's channel
 * while any such user is in it. Active: Redis has the subscription, events reach us. */
void store_feed_join(unsigned shard);
void store_feed_leave(unsigned shard);
bool store_feed_active(unsigned shard);
const char *store_channel_control(void);

#endif
