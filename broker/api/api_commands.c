/* api_commands.c — POST /v1/callback, /v1/route/async, /v1/transfer, /v1/hangup: checked here,
 * recorded under their command_id (store_commands.h), carried out by the engine (commands.h).
 * A repeated command_id gets the first answer, waiting while the first attempt runs. */
#include "api.h"
#include "api_commands.h"
#include "command_check.h"
#include "common.h"
#include "commands.h"
#include "log.h"
#include "result.h"
#include "store_commands.h"
#include "token.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING_RECHECK_MS 200
#define EXTRA_LEASE_MS 5000

typedef struct cmd_req {
    http_req *r;
    char integration[NAME_MAX_LEN + 1];
    json_t *command;
    char id[COMMAND_ID_MAX + 1], fp[65];
    long lease_ms;
    uv_timer_t *recheck; /* while a first attempt runs elsewhere */
    api_command_done done;
    void *done_ud;
} cmd_req;

static void on_recheck_closed(uv_handle_t *h) { free(h); }

static void cmd_free(cmd_req *c)
{
    if (c->recheck)
        uv_close((uv_handle_t *)c->recheck, on_recheck_closed);
    json_decref(c->command);
    http_req_release(c->r);
    free(c);
}

/* The client's answer: result, command_id, what the PBX gave (never overriding those). */
static json_t *answer_body(const cmd_req *c, const command_outcome *o)
{
    json_t *b = json_pack("{s:{s:i,s:s},s:s}", "result", "code", o->code, "message",
                          o->message ? o->message : "", "command_id", c->id);
    if (b && o->field)
        json_object_set_new(b, "field", json_string(o->field));
    if (b && o->answer)
        json_object_update_missing(b, (json_t *)o->answer);
    return b;
}

static void reply_text(cmd_req *c, int status, const char *text)
{
    if (c->done)
        c->done(c->done_ud, c->r, status, text);
    else
        http_reply_raw(c->r, status, "application/json", strdup(text), strlen(text));
    cmd_free(c);
}

typedef struct ended {
    cmd_req *c;
    int status;
    char *text;
} ended;

static void on_end(store_outcome so, void *ud)
{
    ended *e = ud;
    if (so.status != STORE_OK)
        log_warn("command answer not recorded", "{s:s,s:s,s:s,s:s}", "integration",
                 e->c->integration, "command_id", e->c->id, "error",
                 so.error ? so.error : "unavailable", "request_id", e->c->r->request_id);
    reply_text(e->c, e->status, e->text);
    free(e->text);
    free(e);
}

static void on_outcome(void *ud, const command_outcome *o)
{
    cmd_req *c = ud;
    json_t *b = answer_body(c, o);
    ended *e = calloc(1, sizeof *e);
    char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;
    const char *call_id = json_string_value(json_object_get(b, "call_id"));
    if (e && text) {
        *e = (ended){c, o->status, text};
        if (store_command_end(c->integration, c->id, o->reached, o->status, text, call_id, on_end,
                              e) == 0) {
            json_decref(b);
            return;
        }
        on_end((store_outcome){STORE_UNAVAILABLE, NULL}, e);
        json_decref(b);
        return;
    }
    free(e);
    free(text);
    json_decref(b);
    http_reply_error(c->r, 500, RC_INTERNAL, NULL, "out of memory");
    cmd_free(c);
}

static void begin(cmd_req *c);

static void on_recheck(uv_timer_t *t) { begin(t->data); }

static void wait_for_first(cmd_req *c, long long ms_left)
{
    if (ms_left <= 0) {
        http_reply_error(c->r, 504, RC_COMMAND_UNKNOWN, "command_id",
                         "command %s was sent before and its outcome never came; "
                         "ask the PBX, or send it again with a new command_id",
                         c->id);
        return cmd_free(c);
    }
    if (!c->recheck) {
        c->recheck = malloc(sizeof *c->recheck);
        if (!c->recheck || uv_timer_init(uv_default_loop(), c->recheck) != 0) {
            free(c->recheck);
            c->recheck = NULL;
            http_reply_error(c->r, 500, RC_INTERNAL, NULL, "out of memory");
            return cmd_free(c);
        }
        c->recheck->data = c;
    }
    http_req_wait(c->r, (unsigned)(ms_left / 1000) + 5);
    uv_timer_start(c->recheck, on_recheck, PENDING_RECHECK_MS, 0);
}

static void on_begin(store_outcome so, const command_seen *seen, void *ud)
{
    cmd_req *c = ud;
    if (so.status != STORE_OK) {
        api_reply_store_outcome(c->r, so);
        return cmd_free(c);
    }
    switch (seen->kind) {
    case CMD_NEW:
        if (commands_run(c->integration, json_deep_copy(c->command), on_outcome, c) != 0) {
            http_reply_error(c->r, 500, RC_INTERNAL, NULL, "out of memory");
            cmd_free(c);
        }
        return;
    case CMD_DONE:
        return reply_text(c, seen->status, seen->answer);
    case CMD_PENDING:
        return wait_for_first(c, seen->ms);
    case CMD_CONFLICT:
        http_reply_error(c->r, 409, RC_COMMAND_CONFLICT, "command_id",
                         "command_id %s was used for a different %s command", c->id, seen->op);
        return cmd_free(c);
    }
}

static void begin(cmd_req *c)
{
    const char *user = json_string_value(json_object_get(c->command, "extension"));
    const char *call_id = json_string_value(json_object_get(c->command, "call_id"));
    const char *op = json_string_value(json_object_get(c->command, "op"));
    if (strcmp(op, "callback") == 0)
        call_id = NULL; /* the PBX names the call it places */
    if (store_command_begin(c->integration, c->id, op, c->fp, user ? user : "",
                            call_id ? call_id : "", c->lease_ms, on_begin, c) != 0) {
        http_reply_error(c->r, 503, RC_UNAVAILABLE, NULL, "storage unavailable, retry later");
        cmd_free(c);
    }
}

/* Builds the request once without sending it: a command the dialect cannot carry out, or
 * settings it lacks, are answered before anything is recorded. */
static bool buildable(http_req *r, const json_t *command)
{
    json_t *copy = json_deep_copy(command);
    adapter_http rq = {0};
    command_outcome o;
    enum adapter_status st = copy ? commands_build(r->integration, copy, &rq, &o) : ADAPTER_OK;
    json_decref(copy);
    adapter_http_clear(&rq);
    if (!copy)
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    else if (st != ADAPTER_OK)
        http_reply_error(r, o.status, o.code, o.field, "%s", o.message);
    return copy && st == ADAPTER_OK;
}

void api_command_start(http_req *r, json_t *command, api_command_done done, void *done_ud)
{
    const integration *in = integrations_by_name(r->integration);
    cmd_req *c = in && buildable(r, command) ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        if (!in)
            http_reply_error(r, 404, RC_NOT_FOUND, NULL, "no integration %s", r->integration);
        else if (!r->responded)
            http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
        json_decref(command);
        return;
    }
    c->r = r;
    http_req_hold(r);
    c->command = command;
    c->done = done;
    c->done_ud = done_ud;
    snprintf(c->integration, sizeof c->integration, "%s", r->integration);
    snprintf(c->id, sizeof c->id, "%s", json_string_value(json_object_get(command, "command_id")));
    command_fingerprint(command, c->fp);
    c->lease_ms = commands_timeout_ms(in->settings) * COMMAND_MAX_REQUESTS + EXTRA_LEASE_MS;
    http_req_wait(r, (unsigned)(c->lease_ms / 1000) + 5); /* the lease, then its answer */
    begin(c);
}

bool api_command_fresh_id(char out[COMMAND_ID_MAX + 1])
{
    char t[TOKEN_LEN + 1];
    if (token_generate(t) != 0)
        return false;
    snprintf(out, COMMAND_ID_MAX + 1, "cmd_%.22s", t);
    return true;
}

static void command(http_req *r, const char *op)
{
    json_t *body = http_body_object(r);
    if (!body)
        return;
    char fresh[COMMAND_ID_MAX + 1];
    field_error err;
    json_t *cmd = NULL;
    if (!api_require_integration(r, body) || !api_require_store(r)) {
        json_decref(body);
        return;
    }
    if (!api_command_fresh_id(fresh))
        http_reply_error(r, 500, RC_INTERNAL, NULL, "no randomness for a command_id");
    else if (!(cmd = command_from_body(op, body, fresh, &err)))
        http_reply_error(r, 400, RC_INVALID_FIELD, err.field, "%s", err.message);
    json_decref(body);
    if (cmd)
        api_command_start(r, cmd, NULL, NULL);
}

void api_callback(http_req *r) { command(r, "callback"); }
void api_route_async(http_req *r) { command(r, "route"); }
void api_transfer(http_req *r) { command(r, "transfer"); }
void api_hangup(http_req *r) { command(r, "hangup"); }
