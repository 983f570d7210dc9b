/* command_runner.h — drives a dialect's build_command and parse_command_answer as the broker
 * does, through the adapter table (adapter_find), with settings and commands written as JSON
 * text. Include it in one test file per dialect. */
#ifndef CR_COMMAND_RUNNER_H
#define CR_COMMAND_RUNNER_H
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "adapter.h"
#include "common.h"
#include "form.h"

typedef struct cmd_run {
    json_t *settings, *command, *result;
    adapter_http http;
    adapter_error err;
    enum adapter_status status;
    int rc; /* parse_command_answer's return */
} cmd_run;

static inline json_t *cmd_json(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v)
        fail_msg("bad test JSON %s: %s", text, je.text);
    return v;
}

/* Builds command (JSON text) for the integration's settings (JSON text). */
static inline void cmd_build(cmd_run *r, const char *dialect, const char *settings, const char *command)
{
    const adapter *a = adapter_find(dialect);
    memset(r, 0, sizeof *r);
    assert_non_null(a);
    assert_non_null(a->build_command);
    r->settings = cmd_json(settings);
    r->command = cmd_json(command);
    adapter_ctx ctx = {.integration = "acme", .settings = r->settings, .now = 1795456800};
    r->status = a->build_command(&ctx, r->command, &r->http, &r->err);
}

/* Hands the PBX's answer to the built command to parse_command_answer. */
static inline void cmd_answer(cmd_run *r, const char *dialect, int status, const char *body)
{
    const adapter *a = adapter_find(dialect);
    adapter_ctx ctx = {.integration = "acme", .settings = r->settings, .now = 1795456800};
    adapter_reply reply = {.status = status,
                           .content_type = "application/json",
                           .body = body ? body : "",
                           .body_len = body ? strlen(body) : 0};
    json_decref(r->result);
    r->result = json_object();
    memset(&r->err, 0, sizeof r->err);
    r->rc = a->parse_command_answer(&ctx, r->command, &reply, r->result, &r->err);
}

static inline void cmd_done(cmd_run *r)
{
    adapter_http_clear(&r->http);
    json_decref(r->settings);
    json_decref(r->command);
    json_decref(r->result);
    memset(r, 0, sizeof *r);
}

/* The built request's body as a decoded form. */
static inline json_t *cmd_form(const cmd_run *r)
{
    assert_non_null(r->http.body);
    assert_int_equal(strlen(r->http.body), r->http.body_len);
    json_t *f = form_parse(r->http.body, r->http.body_len, NULL, 0);
    assert_non_null(f);
    return f;
}

static inline void cmd_assert_form_field(const json_t *form, const char *name, const char *want)
{
    const char *got = json_string_value(json_object_get(form, name));
    if (!got || strcmp(got, want) != 0)
        fail_msg("form field %s: got %s, want %s", name, got ? got : "(absent)", want);
}

/* The result's status and code as parse_command_answer set them (absent: 200 and 0). */
static inline void cmd_assert_outcome(const cmd_run *r, int status, int code)
{
    const json_t *s = json_object_get(r->result, "status"), *c = json_object_get(r->result, "code");
    assert_int_equal(r->rc, 0);
    assert_int_equal(s ? json_integer_value(s) : 200, status);
    assert_int_equal(c ? json_integer_value(c) : 0, code);
    if (code != 0)
        assert_true(strlen(json_string_value(json_object_get(r->result, "message"))) > 0);
}

static inline void cmd_assert_pbx_code(const cmd_run *r, long long want)
{
    const json_t *v = json_object_get(json_object_get(r->result, "answer"), "pbx_code");
    assert_true(json_is_integer(v));
    assert_int_equal(json_integer_value(v), want);
}

static inline void cmd_assert_invalid(cmd_run *r, const char *dialect, const char *settings,
                               const char *command, const char *field)
{
    cmd_build(r, dialect, settings, command);
    assert_int_equal(r->status, ADAPTER_INVALID);
    assert_string_equal(r->err.field, field);
    assert_true(strlen(r->err.message) > 0);
    assert_null(r->http.url);
    cmd_done(r);
}

static inline bool cmd_has_header(const cmd_run *r, const char *line)
{
    return r->http.headers && strstr(r->http.headers, line) != NULL;
}

#endif
