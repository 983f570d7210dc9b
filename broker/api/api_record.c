/* api_record.c — GET /v1/record?recording_id=... (or call_id=...): the adapter builds the
 * request for the file, the relay streams the PBX's answer to the client without holding it
 * (relay.h), and a refusal is read by the adapter into a result code. Finaz's gravacao comes
 * here too, for WAV only. */
#include "api.h"
#include "api_record.h"
#include "command_check.h"
#include "commands.h"
#include "common.h"
#include "form.h"
#include "metrics.h"
#include "relay.h"
#include "result.h"
#include "store_calls.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct record_req {
    char integration[NAME_MAX_LEN + 1];
    json_t *command;
    bool wav_only;
} record_req;

static const char *const wav_types[] = {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave",
                                        NULL};
/* A PBX may answer an error with a 200 (Mango's {"result":3320}): only a file is passed on. */
static const char *const file_types[] = {"audio/*", "application/octet-stream", NULL};

static bool is_audio(const char *type)
{
    return type && (strncasecmp(type, "audio/", 6) == 0 ||
                    strncasecmp(type, "application/octet-stream", 24) == 0);
}

static void record_free(record_req *q)
{
    json_decref(q->command);
    free(q);
}

static void reply_outcome(http_req *r, const json_t *command, const command_outcome *o)
{
    json_t *b = json_pack("{s:{s:i,s:s}}", "result", "code", o->code, "message",
                          o->message ? o->message : "");
    const char *id = json_string_value(json_object_get(command, "recording_id"));
    if (b && id)
        json_object_set_new(b, "recording_id", json_string(id));
    if (b && o->field)
        json_object_set_new(b, "field", json_string(o->field));
    if (b && o->answer)
        json_object_update_missing(b, (json_t *)o->answer);
    http_reply_json(r, o->status, b);
}

static void on_read(void *ud, const command_outcome *o)
{
    http_req *r = ud;
    const record_req *q = r->state;
    command_outcome out = *o;
    if (out.status < 300) { /* an answer the adapter read as success: still no file */
        out = (command_outcome){.status = 502,
                                .code = RC_PBX_ERROR,
                                .message = "the PBX answered without the recording"};
    }
    reply_outcome(r, q->command, &out);
    http_req_release(r);
}

static void on_fail(void *ud, http_req *r, const adapter_reply *reply)
{
    record_req *q = ud;
    const char *type = reply->content_type ? reply->content_type : "no type";
    if (reply->status == 0 || reply->status >= 300)
        METRIC_ADD(pbx_failures, 1);
    if (reply->status >= 200 && reply->status < 300 && is_audio(reply->content_type))
        http_reply_error(r, 406, RC_RECORDING_FORMAT, NULL,
                         "the PBX has this recording only as %s, not as WAV", type);
    else if (reply->timed_out)
        http_reply_error(r, 504, RC_PBX_TIMEOUT, NULL,
                         "the PBX did not send the recording in time");
    else if (reply->status == 0)
        http_reply_error(r, 502, RC_PBX_ERROR, NULL, "cannot reach the PBX");
    else {
        http_req_hold(r);
        commands_read(q->integration, q->command, reply, on_read, r);
    }
}

static void free_state(void *p) { record_free(p); }

static void start(http_req *r, json_t *command, bool wav_only)
{
    record_req *q = calloc(1, sizeof *q);
    adapter_http rq = {0};
    command_outcome o;
    if (!q || !command) {
        free(q);
        json_decref(command);
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
        return;
    }
    snprintf(q->integration, sizeof q->integration, "%s", r->integration);
    q->command = command;
    q->wav_only = wav_only;
    r->state = q;
    r->free_state = free_state;
    if (commands_build(q->integration, command, &rq, &o) != ADAPTER_OK)
        return reply_outcome(r, command, &o);
    const integration *in = integrations_by_name(q->integration);
    long ms = in ? commands_timeout_ms(in->settings) : COMMAND_TIMEOUT_MS;
    relay_opts opts = {.connect_timeout_ms = ms,
                       .idle_timeout_ms = ms,
                       .accept_types = wav_only ? wav_types : file_types};
    if (!rq.stream)
        http_reply_error(r, 500, RC_INTERNAL, NULL,
                         "the adapter's recording request is not a file");
    else if (relay_start(r, commands_http(), &rq, &opts, on_fail, q) != 0)
        http_reply_error(r, 500, RC_INTERNAL, NULL, "the recording could not be requested");
    else
        METRIC_ADD(pbx_requests, 1);
    adapter_http_clear(&rq);
}

static json_t *record_command(const char *recording_id, const char *url, const char *call_id)
{
    json_t *c = json_pack("{s:s,s:s}", "op", "record", "recording_id", recording_id);
    if (c && url)
        json_object_set_new(c, "url", json_string(url));
    if (c && call_id)
        json_object_set_new(c, "call_id", json_string(call_id));
    if (c) {
        char *id = malloc(strlen(recording_id) + 5);
        if (id)
            sprintf(id, "rec:%s", recording_id);
        json_object_set_new(c, "command_id", json_string(id ? id : "rec"));
        free(id);
    }
    return c;
}

typedef struct of_call {
    http_req *r;
    bool wav_only;
} of_call;

static const char *field_of(const call_fields *call, const char *name)
{
    for (size_t i = 0; i < call->n; i++)
        if (strcmp(call->v[i].name, name) == 0)
            return call->v[i].value;
    return NULL;
}

static void on_call(store_outcome so, const call_fields *call, void *ud)
{
    of_call *c = ud;
    http_req *r = c->r;
    const char *id = so.status == STORE_OK ? field_of(call, "rec_id") : NULL;
    const char *url = so.status == STORE_OK ? field_of(call, "rec_url") : NULL;
    if (so.status != STORE_OK)
        api_reply_store_outcome(r, so);
    else if (!call->n)
        http_reply_error(r, 404, RC_CALL_NOT_FOUND, "call_id", "call not found: %s", call->call_id);
    else if (!id && !url)
        http_reply_error(r, 404, RC_RECORDING_NOT_FOUND, "call_id", "call %s has no recording",
                         call->call_id);
    else
        start(r, record_command(id ? id : url, url, call->call_id), c->wav_only);
    free(c);
    http_req_release(r);
}

void api_record_of_call(http_req *r, const char *call_id, bool wav_only)
{
    of_call *c = malloc(sizeof *c);
    if (!command_id_valid(call_id)) {
        free(c);
        http_reply_error(r, 400, RC_INVALID_FIELD, "call_id",
                         "call_id: 1-200 characters, no controls or '/'");
        return;
    }
    if (!c) {
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
        return;
    }
    *c = (of_call){r, wav_only};
    http_req_hold(r);
    if (store_call_state(r->integration, call_id, on_call, c) != 0) {
        free(c);
        http_req_release(r);
        http_reply_error(r, 503, RC_UNAVAILABLE, NULL, "storage unavailable, retry later");
    }
}

void api_record(http_req *r)
{
    if (!api_require_integration(r, NULL) || !api_require_store(r))
        return;
    char err[200];
    json_t *q = form_parse(r->query, strlen(r->query), err, sizeof err);
    const char *rec = json_string_value(json_object_get(q, "recording_id"));
    const char *call_id = json_string_value(json_object_get(q, "call_id"));
    if (!q)
        http_reply_error(r, 400, RC_BAD_REQUEST, NULL, "query: %s", err);
    else if (!rec == !call_id)
        http_reply_error(r, 400, RC_INVALID_FIELD, "recording_id",
                         "give recording_id or call_id, one of them");
    else if (rec && !command_id_valid(rec))
        http_reply_error(r, 400, RC_INVALID_FIELD, "recording_id",
                         "recording_id: 1-200 characters, no controls or '/'");
    else if (rec)
        start(r, record_command(rec, NULL, NULL), false);
    else
        api_record_of_call(r, call_id, false);
    json_decref(q);
}
