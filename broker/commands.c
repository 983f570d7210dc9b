/* commands.c — the command engine: requests built and read by the adapter, sent here. */
#include "commands.h"
#include "common.h"
#include "digest.h"
#include "event_check.h"
#include "ingest.h"
#include "integrations.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "result.h"
#include "strmap.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ANSWER_BODY 65536
#define MAX_HEADERS 16

/* An adapter's session for one integration, kept while its settings stay the same. */
typedef struct session {
    char settings[DIGEST_HEX_LEN + 1]; /* SHA-256 of the settings it was made with */
    json_t *value;
} session;

static void settings_digest(const json_t *settings, char out[DIGEST_HEX_LEN + 1])
{
    char *text = json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS);
    digest_sha256_hex(text ? text : "", text ? strlen(text) : 0, out);
    free(text);
}

static struct {
    uv_loop_t *loop;
    http_client *http;
    command_poll_fn poll;
    strmap sessions;
    bool ready;
} E;

typedef struct run {
    char integration[NAME_MAX_LEN + 1];
    json_t *command;
    json_t *result;
    command_cb cb;
    void *ud;
    int requests, waiting;
    bool reached, finished, store_failed;
    command_outcome out;
    char message[400], field[128];
    uv_timer_t defer;
} run;

/* ---- sessions ---- */

static void session_free(session *s)
{
    if (s)
        json_decref(s->value);
    free(s);
}

static json_t *session_get(const integration *in)
{
    session *s = strmap_get(&E.sessions, in->name);
    char now[DIGEST_HEX_LEN + 1];
    if (s)
        settings_digest(in->settings, now);
    if (s && strcmp(s->settings, now) != 0) { /* the integration was changed: log in again */
        session_free(strmap_del(&E.sessions, in->name));
        s = NULL;
    }
    return s ? json_deep_copy(s->value) : json_object();
}

static void session_put(const integration *in, json_t *value)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return;
    settings_digest(in->settings, s->settings);
    s->value = json_deep_copy(value);
    session_free(strmap_del(&E.sessions, in->name));
    if (!s->value || strmap_put(&E.sessions, in->name, s) != 0)
        session_free(s);
}

/* ---- outcomes ---- */

static void set_outcome(command_outcome *o, char *buf, size_t size, int status, int code,
                        const char *fmt, va_list ap)
{
    vsnprintf(buf, size, fmt, ap);
    *o = (command_outcome){.status = status, .code = code, .message = buf};
}

static void outcome(command_outcome *o, char *buf, size_t size, int status, int code,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void outcome(command_outcome *o, char *buf, size_t size, int status, int code,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_outcome(o, buf, size, status, code, fmt, ap);
    va_end(ap);
}

static void on_closed(uv_handle_t *h)
{
    run *x = h->data;
    json_decref(x->command);
    json_decref(x->result);
    free(x);
}

static void on_defer(uv_timer_t *t)
{
    run *x = t->data;
    x->out.reached = x->reached;
    if (x->store_failed && x->out.status < 300) {
        snprintf(x->message, sizeof x->message,
                 "the PBX carried out the command, but its outcome could not be stored");
        x->out = (command_outcome){
            .status = 503, .code = RC_UNAVAILABLE, .message = x->message, .reached = true};
    }
    x->cb(x->ud, &x->out);
    uv_close((uv_handle_t *)&x->defer, on_closed);
}

/* The outcome is in x->out; the callback runs from the loop, after whatever called us. */
static void finish(run *x)
{
    if (x->finished)
        return;
    x->finished = true;
    uv_timer_start(&x->defer, on_defer, 0, 0);
}

static void fail(run *x, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(run *x, int status, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_outcome(&x->out, x->message, sizeof x->message, status, code, fmt, ap);
    va_end(ap);
    finish(x);
}

/* ---- building ---- */

long commands_timeout_ms(const json_t *settings)
{
    json_int_t ms = json_integer_value(json_object_get(settings, "command_timeout_ms"));
    return ms > 0 ? (long)ms : COMMAND_TIMEOUT_MS;
}

static const char *op_of(const json_t *command)
{
    const char *op = json_string_value(json_object_get(command, "op"));
    return op ? op : "";
}

/* buf holds the message, field (128 bytes) the field at fault. */
static enum adapter_status build(const integration *in, json_t *command, adapter_http *rq,
                                 command_outcome *o, char *buf, size_t size, char *field)
{
    const adapter *a = in->adapter;
    if (!a->build_command) {
        outcome(o, buf, size, 501, RC_NOT_IMPLEMENTED, "the %s dialect has no command API",
                a->name);
        return ADAPTER_UNSUPPORTED;
    }
    json_object_set_new(command, "session", session_get(in));
    adapter_ctx ctx = integrations_adapter_ctx(in, (int64_t)time(NULL));
    adapter_error err = {{0}, {0}};
    enum adapter_status st = a->build_command(&ctx, command, rq, &err);
    if (st == ADAPTER_OK && !rq->url)
        st = ADAPTER_INVALID;
    if (st == ADAPTER_OK)
        return st;
    adapter_http_clear(rq);
    if (st == ADAPTER_UNSUPPORTED) {
        outcome(o, buf, size, 501, RC_NOT_IMPLEMENTED, "the %s dialect cannot %s%s%s", a->name,
                op_of(command), err.message[0] ? ": " : "", err.message);
    } else {
        outcome(o, buf, size, 400, RC_INVALID_FIELD, "%s",
                err.message[0] ? err.message : "the command cannot be built");
        snprintf(field, 128, "%s", err.field);
        o->field = field[0] ? field : NULL;
    }
    return st;
}

enum adapter_status commands_build(const char *name, json_t *command, adapter_http *rq,
                                   command_outcome *o)
{
    static char buf[400], field[128];
    const integration *in = integrations_by_name(name);
    if (!in) {
        outcome(o, buf, sizeof buf, 404, RC_NOT_FOUND, "no integration %s", name);
        return ADAPTER_NOT_FOUND;
    }
    /* static storage: the caller answers before it builds another command */
    return build(in, command, rq, o, buf, sizeof buf, field);
}

/* ---- sending ---- */

static void on_answer(void *ud, const http_response *res);

static size_t split_headers(char *text, const char *lines[MAX_HEADERS])
{
    size_t n = 0;
    for (char *save = NULL, *l = text ? strtok_r(text, "\r\n", &save) : NULL; l && n < MAX_HEADERS;
         l = strtok_r(NULL, "\r\n", &save))
        lines[n++] = l;
    return n;
}

static void step(run *x);

static void send_request(run *x, const integration *in, adapter_http *rq)
{
    const char *lines[MAX_HEADERS];
    long timeout = commands_timeout_ms(in->settings);
    http_request hr = {
        .method = rq->method,
        .url = rq->url,
        .headers = lines,
        .n_headers = split_headers(rq->headers, lines),
        .body = rq->body,
        .body_len = rq->body_len,
        .connect_timeout_ms = timeout,
        .timeout_ms = timeout,
        .max_body = MAX_ANSWER_BODY,
    };
    int rc = http_client_send(E.http, &hr, on_answer, x);
    adapter_http_clear(rq);
    if (rc != 0)
        return fail(x, 500, RC_INTERNAL, "the request to the PBX could not be made");
    x->requests++;
    x->reached = true;
    METRIC_ADD(pbx_requests, 1);
}

static void step(run *x)
{
    const integration *in = integrations_by_name(x->integration);
    if (!in)
        return fail(x, 404, RC_NOT_FOUND, "integration %s is gone", x->integration);
    adapter_http rq = {0};
    if (build(in, x->command, &rq, &x->out, x->message, sizeof x->message, x->field) != ADAPTER_OK)
        return finish(x);
    if (rq.stream) {
        adapter_http_clear(&rq);
        return fail(x, 500, RC_INTERNAL, "%s streams a file: not a command", op_of(x->command));
    }
    send_request(x, in, &rq);
}

/* ---- reading ---- */

static void on_ingested(void *ud, enum ingest_status st, const adapter_counts *c)
{
    run *x = ud;
    (void)c;
    if (st != INGEST_STORED)
        x->store_failed = true;
    if (--x->waiting == 0)
        finish(x);
}

static void on_poll_added(void *ud, bool ok)
{
    on_ingested(ud, ok ? INGEST_STORED : INGEST_UNAVAILABLE, NULL);
}

static void store_events(run *x, const integration *in, const json_t *events)
{
    field_error err;
    if (!json_array_size(events))
        return;
    if (event_check_all(events, &err) != 0) {
        log_error("adapter output breaks the event contract", "{s:s,s:s,s:s,s:s}", "adapter",
                  in->adapter->name, "integration", in->name, "field", err.field, "detail",
                  err.message);
        x->store_failed = true;
        return;
    }
    x->waiting++;
    if (ingest_submit(in, events, on_ingested, x) != 0) {
        x->waiting--;
        x->store_failed = true;
    }
}

static void add_poll(run *x, const json_t *poll)
{
    const char *call_id = json_string_value(json_object_get(poll, "call_id"));
    const char *user = json_string_value(json_object_get(poll, "user"));
    const char *number = json_string_value(json_object_get(poll, "number"));
    if (!call_id || !user || !E.poll) {
        x->store_failed = true;
        return;
    }
    x->waiting++;
    if (E.poll(x->integration, call_id, user, number ? number : "", on_poll_added, x) != 0) {
        x->waiting--;
        x->store_failed = true;
    }
}

/* The outcome the adapter's result describes (without acting on it). */
static void outcome_of_result(run *x)
{
    const json_t *r = x->result;
    json_int_t code = json_integer_value(json_object_get(r, "code"));
    json_int_t status = json_integer_value(json_object_get(r, "status"));
    const char *msg = json_string_value(json_object_get(r, "message"));
    if (!status)
        status = code ? 502 : 200;
    if (code && x->requests)
        METRIC_ADD(pbx_failures, 1);
    snprintf(x->message, sizeof x->message, "%s", msg ? msg : code ? "the PBX refused" : "ok");
    const json_t *answer = json_object_get(r, "answer");
    x->out = (command_outcome){
        .status = (int)status,
        .code = (int)code,
        .message = x->message,
        .answer = json_is_object(answer) ? answer : NULL,
        .done = json_is_true(json_object_get(r, "done")),
        .retry_ms = (long)json_integer_value(json_object_get(r, "retry_ms")),
    };
}

/* Runs parse_command_answer into x->result; false (x failed) when the answer is unreadable. */
static bool read_reply(run *x, const integration *in, const adapter_reply *reply)
{
    adapter_ctx ctx = integrations_adapter_ctx(in, (int64_t)time(NULL));
    adapter_error err = {{0}, {0}};
    json_decref(x->result);
    x->result = json_object();
    if (!x->result || !in->adapter->parse_command_answer ||
        in->adapter->parse_command_answer(&ctx, x->command, reply, x->result, &err) != 0) {
        fail(x, 502, RC_PBX_ERROR, "the PBX's answer (HTTP %d) could not be read%s%s",
             reply->status, err.message[0] ? ": " : "", err.message);
        return false;
    }
    const json_t *s = json_object_get(x->result, "session");
    if (json_is_object(s))
        session_put(in, (json_t *)s);
    return true;
}

static void act_on_result(run *x, const integration *in)
{
    json_t *next = json_object_get(x->result, "next");
    if (json_is_object(next)) {
        if (x->requests >= COMMAND_MAX_REQUESTS)
            return fail(x, 502, RC_PBX_ERROR, "the PBX needed more than %d requests",
                        COMMAND_MAX_REQUESTS);
        json_object_set(x->command, "step", next);
        return step(x);
    }
    outcome_of_result(x);
    x->waiting++; /* a store that answers at once must not finish x before the poll is added */
    store_events(x, in, json_object_get(x->result, "events"));
    const json_t *poll = json_object_get(x->result, "poll");
    if (json_is_object(poll))
        add_poll(x, poll);
    if (--x->waiting == 0)
        finish(x);
}

static void on_answer(void *ud, const http_response *res)
{
    run *x = ud;
    if (!E.ready) /* stopping: the client cancelled what was in flight */
        return fail(x, 503, RC_UNAVAILABLE, "the broker is stopping");
    if (res->status == 0)
        METRIC_ADD(pbx_failures, 1);
    if (res->timed_out)
        METRIC_ADD(pbx_timeouts, 1);
    const integration *in = integrations_by_name(x->integration);
    bool poll = strcmp(op_of(x->command), "status") == 0;
    long timeout = in ? commands_timeout_ms(in->settings) : 0;
    if (!in)
        return fail(x, 404, RC_NOT_FOUND, "integration %s is gone", x->integration);
    if (!poll && res->timed_out)
        return fail(x, 504, RC_PBX_TIMEOUT, "the PBX did not answer within %ld ms", timeout);
    if (!poll && res->status == 0)
        return fail(x, 502, RC_PBX_ERROR, "cannot reach the PBX: %s",
                    res->error ? res->error : "no answer");
    char ctype[128], location[2048];
    adapter_reply reply = {
        .status = (int)res->status,
        .timed_out = res->timed_out,
        .content_type =
            http_response_header(res, "content-type", ctype, sizeof ctype) ? ctype : NULL,
        .location =
            http_response_header(res, "location", location, sizeof location) ? location : NULL,
        .body = res->body ? res->body : "",
        .body_len = res->body_len,
    };
    if (read_reply(x, in, &reply))
        act_on_result(x, in);
}

/* ---- the interface ---- */

static run *run_new(const char *name, json_t *command, command_cb cb, void *ud)
{
    run *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    snprintf(x->integration, sizeof x->integration, "%s", name);
    x->command = command;
    x->cb = cb;
    x->ud = ud;
    uv_timer_init(E.loop, &x->defer);
    x->defer.data = x;
    return x;
}

int commands_run(const char *name, json_t *command, command_cb cb, void *ud)
{
    run *x = command && E.ready ? run_new(name, command, cb, ud) : NULL;
    if (!x) {
        json_decref(command);
        return -1;
    }
    step(x);
    return 0;
}

void commands_read(const char *name, const json_t *command, const adapter_reply *reply,
                   command_cb cb, void *ud)
{
    run *x = run_new(name, json_deep_copy(command), cb, ud);
    if (!x) {
        cb(ud, &(command_outcome){.status = 500, .code = RC_INTERNAL, .message = "out of memory"});
        return;
    }
    x->reached = true;
    const integration *in = integrations_by_name(name);
    if (!in) {
        fail(x, 404, RC_NOT_FOUND, "integration %s is gone", name);
    } else if (read_reply(x, in, reply)) {
        outcome_of_result(x);
        finish(x);
    }
}

void commands_on_poll(command_poll_fn fn) { E.poll = fn; }

int commands_init(uv_loop_t *loop, http_client *client)
{
    E.loop = loop;
    E.http = client;
    if (strmap_init(&E.sessions) != 0)
        return -1;
    E.ready = true;
    return 0;
}

static void free_session(const char *key, void *value, void *ud)
{
    (void)key;
    (void)ud;
    session_free(value);
}

void commands_stop(void)
{
    if (!E.ready)
        return;
    E.ready = false;
    strmap_each(&E.sessions, free_session, NULL);
    strmap_free(&E.sessions);
}

http_client *commands_http(void) { return E.http; }
