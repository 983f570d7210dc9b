/* wsproto.c — parsing and checking of client frames with jansson. */
#include "wsproto.h"
#include "result.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int refuse(ws_frame *f, int code, const char *msg)
{
    snprintf(f->error, sizeof f->error, "%s", msg);
    return code;
}

static int parse_register(json_t *msg, ws_frame *f)
{
    json_t *jl = json_object_get(msg, "limit"), *js = json_object_get(msg, "since");
    f->limit = WS_PAGE_DEFAULT;
    if (jl) {
        if (!json_is_integer(jl) || json_integer_value(jl) < 1 ||
            json_integer_value(jl) > WS_PAGE_MAX)
            return refuse(f, RC_INVALID_FIELD, "limit: must be an integer from 1 to 1000");
        f->limit = (int)json_integer_value(jl);
    }
    f->has_since = js && !json_is_null(js);
    if (f->has_since && !streamid_parse(json_string_value(js), &f->id))
        return refuse(f, RC_INVALID_FIELD,
                      "since: must be an event id such as \"1700000000000-0\"");
    return 0;
}

static int parse_op(json_t *msg, const char *op, ws_frame *f)
{
    if (strcmp(op, "register") == 0) {
        f->op = WS_OP_REGISTER;
        return parse_register(msg, f);
    }
    if (strcmp(op, "ack") == 0) {
        f->op = WS_OP_ACK;
        if (!streamid_parse(json_string_value(json_object_get(msg, "id")), &f->id))
            return refuse(f, RC_INVALID_FIELD,
                          "id: must be an event id such as \"1700000000000-0\"");
        return 0;
    }
    if (strcmp(op, "ping") == 0) {
        f->op = WS_OP_PING;
        return 0;
    }
    if (strcmp(op, "unregister") == 0) {
        f->op = WS_OP_UNREGISTER;
        return 0;
    }
    char msgbuf[160];
    snprintf(msgbuf, sizeof msgbuf, "op: unknown op \"%.64s\"", op);
    return refuse(f, RC_UNKNOWN_OP, msgbuf);
}

int ws_frame_parse(const char *text, size_t len, ws_frame *f)
{
    memset(f, 0, sizeof *f);
    json_error_t e;
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    int rc;
    if (!msg) {
        char m[200];
        snprintf(m, sizeof m, "malformed JSON: %s", e.text);
        return refuse(f, RC_BAD_REQUEST, m);
    }
    const char *op = json_string_value(json_object_get(msg, "op"));
    if (!json_is_object(msg))
        rc = refuse(f, RC_BAD_REQUEST, "malformed JSON: not an object");
    else if (!op)
        rc = refuse(f, RC_INVALID_FIELD, "op: required, one of register, ack, ping, unregister");
    else
        rc = parse_op(msg, op, f);
    json_decref(msg);
    return rc;
}
