/* config.h — settings from a file and from CALLRELAY_* variables (the environment wins). */
#ifndef CR_CONFIG_H
#define CR_CONFIG_H
#include <stddef.h>
#include <stdint.h>

typedef struct cr_host_port {
    char *host;
    int port;
} cr_host_port;

typedef struct cr_redis_target {
    char *host; /* NULL for a unix socket or behind sentinels */
    int port;
    char *path;     /* unix socket path, or NULL */
    char *password; /* NULL when none */
    int db;
    char *master_name;       /* redis+sentinel://: the master's name at the sentinels */
    cr_host_port *sentinels; /* asked in turn for the master's address */
    size_t n_sentinels;
} cr_redis_target;

typedef struct cr_config {
    char *listen_host; /* CALLRELAY_LISTEN host part, default 127.0.0.1 */
    int listen_port;   /* default 8080 */
    char *redis_url;   /* as given, default redis://127.0.0.1:6379/0 */
    cr_redis_target redis;
    char *admin_token; /* NULL: provisioning refused */
    unsigned char ticket_secret[64];
    size_t ticket_secret_len;
    int ticket_secret_random; /* 1 when generated for this process */
    char *public_url;         /* NULL: derived from Host */
    int64_t retention_s;      /* default 1209600 */
    char *key_prefix;         /* default "cr:" */
    size_t max_body;          /* default 1048576 */
    size_t max_buffered;      /* bodies reserved across a process's connections, 64 MiB */
    unsigned body_timeout_s;  /* a body, from the end of its head, default 10 */
    int64_t dedupe_window_s;  /* default 86400 */
    size_t max_deliveries;    /* events x users one request may store, default 10000 */
    int workers;              /* processes sharing the port (SO_REUSEPORT), default 1 */
    char **trusted_proxies;   /* CIDRs whose X-Forwarded-For is believed; none by default */
    size_t n_trusted_proxies;
    int presence_ttl_s; /* a tab counts as online this long past a refresh, default 30 */
    int demo;           /* 1: the demo CRM page is served at /demo; default 0 */
    char *tls_cert;     /* PEM certificate (chain) file: HTTPS and WSS; NULL: plain */
    char *tls_key;      /* PEM private key file of tls_cert */
    int log_level;      /* CR_LOG_DEBUG..CR_LOG_ERROR (log_level.h), default CR_LOG_INFO */
    /* limits (docs/decisions.md "Limits per tenant and per tab") */
    int64_t max_websockets;          /* per instance, every worker together, default 20000 */
    int64_t max_websockets_per_user; /* per process, default 100 */
    double rate_limit,
        rate_burst;         /* requests per second per integration, default 1000; burst, 2x */
    int rate_burst_set;     /* rate_burst was given: rate_limit no longer sets it */
    char **allowed_origins; /* Origin of browser websockets; none: any */
    size_t n_allowed_origins;
    int ws_ping_interval_s; /* ping a tab this long after it last sent anything, default 30 */
    int ws_idle_timeout_s;  /* close a tab that sent nothing (not even a pong), default 75 */
    size_t ws_queue_hard;   /* bytes queued for a tab: over it, closed at once, 64 MiB */
    size_t ws_queue_soft;   /* over it for ws_queue_soft_s, closed, 16 MiB */
    int ws_queue_soft_s;    /* default 30 */
    int drain_timeout_s;    /* SIGTERM: requests in flight get this long to finish, default 25 */
    int durability_replica; /* 1: a webhook's 2xx waits for WAIT 1 (CALLRELAY_DURABILITY) */
    int feed_both; /* 1: wake-ups also on the single channel of versions before the shards */
    int replica_timeout_ms; /* WAIT's timeout, default 1000 */
} cr_config;

/* Defaults everywhere; a random ticket secret. Returns 0 or -1 (RNG failure). */
int config_init(cr_config *c);
/* File lines: "name = value" or "CALLRELAY_NAME=value"; '#' starts a comment; blank lines
 * ignored; names are the variable names with or without the CALLRELAY_ prefix, any case
 * (listen, redis_url, admin_token, ticket_secret, public_url, retention, key_prefix,
 * max_body, max_buffered, body_timeout, dedupe_window, max_deliveries, workers,
 * trusted_proxies, presence_ttl, demo, tls_cert, tls_key, log_level, max_websockets,
 * max_websockets_per_user, rate_limit,
 * rate_burst, allowed_origins, ws_ping_interval, ws_idle_timeout, ws_queue_hard_bytes,
 * ws_queue_soft_bytes, ws_queue_soft_seconds, drain_timeout, durability, replica_timeout_ms). On
 * error writes one line (no newline) into err and returns -1.
 */
int config_load_file(cr_config *c, const char *path, char *err, size_t errlen);
/* Reads CALLRELAY_* from the environment (envp-style lookup through getenv). */
int config_load_env(cr_config *c, char *err, size_t errlen);
/* Sets one setting by its short name (e.g. "listen"). Used by both loaders. */
int config_set(cr_config *c, const char *name, const char *value, char *err, size_t errlen);
/* redis://[:password@]host:port[/db] or unix:///path[?db=N], parsed with libcurl's URL API;
 * redis+sentinel://[:password@]host:port[,host:port...]/MASTER[/db]. */
int config_parse_redis_url(const char *url, cr_redis_target *out, char *err, size_t errlen);
/* Frees what a parsed target holds (hosts, password, sentinels, master name). */
void redis_target_free(cr_redis_target *t);
/* What no single setting can check: the ping comes before the idle timeout, the soft queue
 * bound below the hard one, the burst at least 1. After both loaders. */
int config_check(const cr_config *c, char *err, size_t errlen);
void config_free(cr_config *c);

#endif
