/* main.c — one process, one libuv loop: start, run, and stop in the order lws, hiredis and
 * libuv need on a shared loop. */
#include "api.h"
#include "commands.h"
#include "http_client.h"
#include "config.h"
#include "http.h"
#include "hub.h"
#include "ingest.h"
#include "integrations.h"
#include "listener.h"
#include "log.h"
#include "redact.h"
#include "metrics.h"
#include "notifier.h"
#include "poller.h"
#include "presence.h"
#include "store.h"
#include "tls.h"
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define CALLRELAY_VERSION "0.1.0"
#define DRAIN_MS 300 /* at least this long when tabs were open: their 1001 frames leave */
#define DRAIN_TICK_MS 50

static struct {
    uv_loop_t *loop;
    cr_config cfg;
    uv_signal_t sigterm, sigint;
    uv_timer_t stop_timer;
    bool stopping;
    uint64_t drain_from; /* uv_now at the signal */
    uint64_t drain_min;  /* DRAIN_MS when tabs were open, else 0 */
    int listen_fd[METRICS_MAX_WORKERS];
    const sigset_t *blocked; /* a worker's signals, blocked by its parent until start() */
    http_client *http;       /* every outbound request: notifications, commands, polls */
} M;

/* Requests in flight to one host (a CRM, a PBX) and in all. */
#define HTTP_MAX_TOTAL 512
#define HTTP_MAX_PER_HOST 16

static void usage(FILE *f)
{
    fputs(
        "usage: callrelay [--config FILE] [--help] [--version]\n"
        "\n"
        "An event-relay broker between PBXs and CRM browser tabs.\n"
        "Settings come from FILE (\"name = value\" lines) and from the environment, which wins:\n"
        "  CALLRELAY_LISTEN         host:port for HTTP and websockets (127.0.0.1:8080)\n"
        "  CALLRELAY_REDIS_URL      redis://[:password@]host:port[/db] or unix:///path\n"
        "                           or redis+sentinel://[:password@]host:port[,host:port...]"
        "/MASTER[/db]\n"
        "  CALLRELAY_ADMIN_TOKEN    token for provisioning (none: provisioning refused)\n"
        "  CALLRELAY_TICKET_SECRET  key for websocket tickets, identical on every instance\n"
        "  CALLRELAY_PUBLIC_URL     base URL put in front of /v1/ws in channel answers\n"
        "  CALLRELAY_RETENTION      seconds events are kept (1209600)\n"
        "  CALLRELAY_KEY_PREFIX     prefix of every Redis key (cr:)\n"
        "  CALLRELAY_MAX_BODY       largest request body in bytes (1048576)\n"
        "  CALLRELAY_DEDUPE_WINDOW  seconds an event key is remembered (86400)\n"
        "  CALLRELAY_BODY_TIMEOUT   seconds for a request body after its head (10)\n"
        "  CALLRELAY_MAX_BUFFERED   bytes of request bodies held at once per process (67108864)\n"
        "  CALLRELAY_MAX_DELIVERIES events x users one webhook may store (10000)\n"
        "  CALLRELAY_PRESENCE_TTL   seconds a killed instance's tabs still count as online (30)\n",
        f);
    fputs("  CALLRELAY_DEMO           1: serve the demo CRM page at /demo (0)\n", f);
    fputs(
        "  CALLRELAY_TLS_CERT       PEM certificate (chain) file: serve HTTPS and WSS (none)\n"
        "  CALLRELAY_TLS_KEY        PEM private key of that certificate (none)\n"
        "  CALLRELAY_LOG_LEVEL      debug, info, warn or error (info)\n"
        "  CALLRELAY_DRAIN_TIMEOUT  seconds requests in flight get to finish after SIGTERM (25)\n",
        f);
    fputs("  CALLRELAY_DURABILITY     local: answer once the master stored it; replica: once\n"
          "                           WAIT 1 confirmed a replica has it too (local)\n"
          "  CALLRELAY_REPLICA_TIMEOUT_MS  how long WAIT waits for a replica, then 503 (1000)\n",
          f);
    fputs("Limits (429, 503 or 403 at the upgrade; a tab closed with 1008):\n"
          "  CALLRELAY_MAX_WEBSOCKETS          websockets per instance, all workers (20000)\n"
          "  CALLRELAY_MAX_WEBSOCKETS_PER_USER websockets per user per process (100)\n"
          "  CALLRELAY_RATE_LIMIT      requests per second per integration per process (1000)\n"
          "  CALLRELAY_RATE_BURST      requests an integration may send at once (2 x rate)\n"
          "  CALLRELAY_ALLOWED_ORIGINS origins of browser websockets, comma-separated (any)\n"
          "  CALLRELAY_WS_PING_INTERVAL     seconds of silence before a tab is pinged (30)\n"
          "  CALLRELAY_WS_IDLE_TIMEOUT      seconds of silence, pongs too, that close it (75)\n"
          "  CALLRELAY_WS_QUEUE_HARD_BYTES  bytes queued for a tab that close it (67108864)\n"
          "  CALLRELAY_WS_QUEUE_SOFT_BYTES  bytes queued that close it if they last (16777216)\n"
          "  CALLRELAY_WS_QUEUE_SOFT_SECONDS how long they may last (30)\n",
          f);
}

static void stop_outbound(void)
{
    poller_stop();
    notifier_stop();
    commands_stop();
    if (M.http)
        http_client_free(M.http);
    M.http = NULL;
}

static void final_stop(void)
{
    ingest_stop();
    stop_outbound();
    integrations_stop();
    presence_stop();
    store_stop();
    http_stop();
    uv_close((uv_handle_t *)&M.stop_timer, NULL);
    uv_close((uv_handle_t *)&M.sigterm, NULL);
    uv_close((uv_handle_t *)&M.sigint, NULL);
    /* closing them restores the default action: a second stop signal during the exit (an
     * impatient supervisor) would turn a clean drain into death by signal */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
}

/* Every tick until the requests in flight are over (a webhook being stored, a command waiting
 * on its PBX), or until CALLRELAY_DRAIN_TIMEOUT: what is still open then is cut, and logged,
 * and the exit is still clean (the orchestrator's grace is what it is). */
static void on_drain_tick(uv_timer_t *t)
{
    (void)t;
    uint64_t waited = uv_now(M.loop) - M.drain_from;
    size_t left = http_in_flight();
    if (waited < M.drain_min)
        return;
    if (left && waited < (uint64_t)M.cfg.drain_timeout_s * 1000)
        return;
    if (left)
        log_warn("drain timeout: requests still in flight are closed", "{s:i,s:i}", "requests",
                 (int)left, "seconds", M.cfg.drain_timeout_s);
    else
        log_info("drained", "{s:I}", "ms", (json_int_t)waited);
    uv_timer_stop(&M.stop_timer);
    final_stop();
}

/* SIGTERM: /readyz and new requests on kept-alive connections get 503, the listener stops,
 * websockets get their 1001 at once; Redis and lws are torn down once the requests in flight
 * are over, from a plain uv timer callback as lws requires. */
static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (M.stopping)
        return;
    M.stopping = true;
    log_info("stopping", "{s:i,s:i,s:i,s:i}", "signal", signum, "sessions",
             (int)metrics->sessions_open, "requests", (int)http_in_flight(), "drain_timeout",
             M.cfg.drain_timeout_s);
    presence_drain(); /* before the tabs close: their ZREMs would follow one by one */
    M.drain_from = uv_now(M.loop);
    M.drain_min = metrics->sessions_open ? DRAIN_MS : 0;
    http_drain();
    uv_timer_start(&M.stop_timer, on_drain_tick, 0, DRAIN_TICK_MS);
}

static void on_connected(void)
{
    integrations_load_all();
    hub_on_store_connected();
    notifier_kick();
}

static void on_notifications_queued(unsigned n)
{
    (void)n;
    notifier_kick();
}

/* A bad setting's line may quote a Redis URL, password included. */
static int config_error(char *err)
{
    redact_secrets(err);
    fprintf(stderr, "callrelay: %s\n", err);
    return -1;
}

static int parse_args(int argc, char **argv)
{
    char err[512];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("callrelay %s\n", CALLRELAY_VERSION);
            exit(0);
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            if (config_load_file(&M.cfg, argv[++i], err, sizeof err) != 0)
                return config_error(err);
        } else {
            fprintf(stderr, "callrelay: unknown argument \"%s\" (try --help)\n", argv[i]);
            return -1;
        }
    }
    if (config_load_env(&M.cfg, err, sizeof err) != 0 ||
        config_check(&M.cfg, err, sizeof err) != 0 || tls_check(&M.cfg, err, sizeof err) != 0)
        return config_error(err);
    log_set_level(M.cfg.log_level);
    return 0;
}

static int start(void)
{
    static const store_hooks hooks = {
        .on_connected = on_connected,
        .on_pubsub_ready = hub_on_pubsub_ready,
        .on_feed_ready = hub_on_feed_ready,
        .on_wakeup = hub_on_wakeup,
        .on_integration_changed = integrations_reload,
    };
    http_client_limits lim = {HTTP_MAX_TOTAL, HTTP_MAX_PER_HOST};
    if (!(M.http = http_client_new(M.loop, &lim)) || integrations_init(M.loop) ||
        hub_init(M.loop, &M.cfg) || commands_init(M.loop, M.http) ||
        ingest_init(M.loop, &M.cfg, on_notifications_queued) ||
        store_start(M.loop, &M.cfg, &hooks) || presence_start(M.loop, &M.cfg) ||
        notifier_start(M.loop, &M.cfg, presence_instance(), M.http) ||
        poller_init(M.loop, &M.cfg, M.http)) {
        fprintf(stderr, "callrelay: out of memory at start\n");
        return -1;
    }
    if (http_start(M.loop, &M.cfg, M.listen_fd[metrics_worker], &api_http) != 0) {
        fprintf(stderr, "callrelay: cannot start the HTTP server (libwebsockets)\n");
        return -1;
    }
    uv_signal_init(M.loop, &M.sigterm);
    uv_signal_init(M.loop, &M.sigint);
    uv_signal_start(&M.sigterm, on_signal, SIGTERM);
    uv_signal_start(&M.sigint, on_signal, SIGINT);
    uv_timer_init(M.loop, &M.stop_timer);
    if (M.cfg.ticket_secret_random)
        log_warn("CALLRELAY_TICKET_SECRET is not set: tickets are valid on this instance only",
                 NULL);
    char redis[512];
    snprintf(redis, sizeof redis, "%s", M.cfg.redis_url);
    redact_secrets(redis); /* its password */
    log_info("listening", "{s:s,s:i,s:s,s:s,s:s,s:b}", "host", M.cfg.listen_host, "port",
             M.cfg.listen_port, "redis", redis, "version", CALLRELAY_VERSION, "instance",
             presence_instance(), "tls", M.cfg.tls_cert != NULL);
    return 0;
}

static int run_worker(void)
{
    M.loop = uv_default_loop();
    if (start() != 0) {
        ingest_stop();
        stop_outbound();
        integrations_stop();
        presence_stop();
        store_stop();
        http_stop();
        uv_run(M.loop, UV_RUN_NOWAIT);
        return 1;
    }
    if (M.blocked)
        sigprocmask(SIG_UNBLOCK, M.blocked, NULL);
    uv_run(M.loop, UV_RUN_DEFAULT);
    http_stop(); /* lws finishes a destroy that its handles delayed */
    uv_run(M.loop, UV_RUN_DEFAULT);
    uv_loop_close(M.loop);
    hub_free();
    presence_free();
    integrations_free();
    config_free(&M.cfg);
    log_info("stopped", NULL);
    return 0;
}

/* ---- several workers: one process each, each accepting from its own SO_REUSEPORT socket */

#define STARTUP_GRACE_S 2
#define STOP_MARGIN_S 5 /* past the workers' own drain timeout */

static pid_t spawn(int slot, const sigset_t *blocked)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        M.blocked = blocked; /* unblocked once the worker's own handlers are in place */
        metrics_worker = slot;
        for (int i = 0; i < M.cfg.workers; i++) /* the parent keeps them for replacements */
            if (i != slot)
                close(M.listen_fd[i]);
        exit(run_worker());
    }
    return pid;
}

static int find_slot(const pid_t *pids, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid)
            return i;
    return -1;
}

typedef struct workers {
    int n;
    pid_t pid[METRICS_MAX_WORKERS];
    time_t born[METRICS_MAX_WORKERS];
    sigset_t blocked;
    bool stopping;
    bool failed;
    time_t stop_at;
} workers;

static void signal_all(workers *w, int sig)
{
    for (int i = 0; i < w->n; i++)
        if (w->pid[i] > 0)
            kill(w->pid[i], sig);
}

/* The parent's copies of the listening sockets go too: new connections are refused, not
 * left in a backlog nobody accepts from. */
static void stop_all(workers *w)
{
    if (!w->stopping) {
        w->stop_at = time(NULL);
        for (int i = 0; i < w->n; i++)
            close(M.listen_fd[i]);
    }
    w->stopping = true;
    signal_all(w, SIGTERM);
}

static void start_one(workers *w, int slot)
{
    pid_t pid = spawn(slot, &w->blocked);
    w->born[slot] = time(NULL);
    if (pid > 0) {
        w->pid[slot] = pid;
        return;
    }
    log_error("cannot start a worker", "{s:i,s:s}", "worker", slot, "error", strerror(errno));
    w->pid[slot] = 0;
    w->failed = true;
    stop_all(w);
}

/* A worker that dies soon after its start (port in use, say) stops everything; a later death
 * is a fault of that worker alone, and it is replaced. */
static void reap(workers *w)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int slot = find_slot(w->pid, w->n, pid);
        if (slot < 0)
            continue;
        w->pid[slot] = 0;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (w->stopping) {
            w->failed |= !clean;
            continue;
        }
        log_error("worker exited", "{s:i,s:i,s:i}", "worker", slot, "pid", (int)pid, "status",
                  status);
        if (time(NULL) - w->born[slot] < STARTUP_GRACE_S) {
            w->failed = true;
            stop_all(w);
            continue;
        }
        start_one(w, slot);
    }
}

static bool any_alive(const workers *w)
{
    for (int i = 0; i < w->n; i++)
        if (w->pid[i])
            return true;
    return false;
}

static int run_master(int n)
{
    workers w = {.n = n};
    int sig;
    sigemptyset(&w.blocked);
    sigaddset(&w.blocked, SIGTERM);
    sigaddset(&w.blocked, SIGINT);
    sigaddset(&w.blocked, SIGCHLD);
    sigprocmask(SIG_BLOCK, &w.blocked, NULL);
    for (int i = 0; i < n && !w.stopping; i++)
        start_one(&w, i);
    log_info("workers started", "{s:i}", "workers", n);
    while (any_alive(&w)) {
        struct timespec tick = {1, 0};
        sig = sigtimedwait(&w.blocked, NULL, &tick);
        if (sig == SIGCHLD)
            reap(&w);
        else if (sig > 0 && !w.stopping)
            stop_all(&w);
        int deadline = M.cfg.drain_timeout_s + STOP_MARGIN_S;
        if (w.stopping && time(NULL) - w.stop_at > deadline) {
            log_error("workers did not stop in time: killed", "{s:i}", "seconds", deadline);
            signal_all(&w, SIGKILL);
        }
    }
    return w.failed ? 1 : 0;
}

/* One descriptor per websocket: take all the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (config_init(&M.cfg) != 0) {
        fprintf(stderr, "callrelay: no random source for the ticket secret\n");
        return 1;
    }
    if (parse_args(argc, argv) != 0)
        return 2;
    if (listener_open(M.cfg.listen_host, M.cfg.listen_port, M.cfg.workers, M.listen_fd) != 0) {
        fprintf(stderr, "callrelay: cannot listen on %s:%d: %s\n", M.cfg.listen_host,
                M.cfg.listen_port, strerror(errno));
        return 1;
    }
    if (metrics_init(M.cfg.workers) != 0) {
        fprintf(stderr, "callrelay: cannot map shared memory for %d workers\n", M.cfg.workers);
        return 1;
    }
    /* once, before workers are forked: curl_global_init is not thread-safe */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "callrelay: libcurl cannot initialize\n");
        return 1;
    }
    return M.cfg.workers > 1 ? run_master(M.cfg.workers) : run_worker();
}
