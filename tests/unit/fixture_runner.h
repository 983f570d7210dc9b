/* fixture_runner.h — runs an adapter over a folder of recorded requests
 * (tests/fixtures/README.md) the way the broker does: settings checked and compiled, the
 * integration token or the adapter's signature, parse, the contract, the answer. Every
 * fixture's outcome must be the one its sidecar expects; expected events must match exactly.
 * Include it in one test file per dialect. */
#ifndef CR_FIXTURE_RUNNER_H
#define CR_FIXTURE_RUNNER_H
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "adapter.h"
#include "credentials.h"
#include "event_check.h"

typedef struct fixture_totals {
    unsigned requests, accepted, refused, events;
} fixture_totals;

static char *fixture_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    fclose(f);
    return buf;
}

static json_t *fixture_json(const char *dir, const char *name)
{
    char path[512];
    json_error_t e;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return json_load_file(path, JSON_DECODE_ANY, &e);
}

static const char *fixture_header(const adapter_request *req, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)req->header_ctx, k, v)
    {
        if (strcasecmp(k, name) == 0 && json_string_length(v) > 0)
            return json_string_value(v);
    }
    return NULL;
}

/* The settings as an integration stores them: keys starting with '_' are the fixtures' notes. */
static json_t *fixture_settings(const char *dir, const char **token)
{
    json_t *all = fixture_json(dir, "settings.json"), *s = json_object();
    const char *k;
    json_t *v;
    assert_non_null(all);
    json_object_foreach(all, k, v)
    {
        if (k[0] != '_')
            json_object_set(s, k, v);
    }
    *token = json_string_value(json_object_get(all, "_integration_token"));
    *token = *token ? strdup(*token) : NULL;
    json_decref(all);
    return s;
}

static void fixture_fail(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fixture_fail(const char *name, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg("fixture %s: %s", name, msg);
}

static bool fixture_status_ok(const json_t *expect, int status)
{
    if (json_integer_value(json_object_get(expect, "status")) == status)
        return true;
    size_t i;
    json_t *alt;
    json_array_foreach(json_object_get(expect, "status_alternatives"), i, alt) if (
        json_integer_value(alt) == status) return true;
    return false;
}

/* What the broker would answer before storing: 401, 404, 400 or 200 (events in out). */
static int fixture_outcome(const adapter *a, const adapter_ctx *ctx, const adapter_request *q,
                           const char *token, json_t *out, adapter_error *err)
{
    char buf[512];
    const char *t = credentials_from_header(fixture_header(q, "Authorization"), buf, sizeof buf);
    if (!t)
        t = credentials_from_query(q->query, buf, sizeof buf);
    bool authed = t && token && strcmp(t, token) == 0;
    if (!authed && (!a->verify || a->verify(ctx, q, err) != ADAPTER_OK))
        return 401;
    memset(err, 0, sizeof *err);
    enum adapter_status st = a->parse(ctx, q, out, err);
    if (st == ADAPTER_NOT_FOUND)
        return 404;
    if (st != ADAPTER_OK) {
        if (json_array_size(out) != 0)
            return -1; /* partial events on failure break the seam */
        return err->message[0] ? 400 : -2;
    }
    return 200;
}

static void fixture_check_answer(const adapter *a, const adapter_ctx *ctx, const char *name,
                                 const json_t *expect, unsigned n_events)
{
    const char *ct = json_string_value(json_object_get(expect, "content_type"));
    const char *body = json_string_value(json_object_get(expect, "body"));
    if (!ct && !body)
        return;
    adapter_answer ans = {0};
    adapter_counts c = {.accepted = n_events};
    if (!a->answer || a->answer(ctx, &c, &ans) != 0)
        fixture_fail(name, "no answer shaped");
    if (ct && (!ans.content_type || strncmp(ans.content_type, ct, strlen(ct)) != 0))
        fixture_fail(name, "content type %s, expected %s",
                     ans.content_type ? ans.content_type : "(none)", ct);
    if (body && (ans.body_len != strlen(body) || memcmp(ans.body, body, ans.body_len) != 0))
        fixture_fail(name, "answer body %.*s, expected %s", (int)ans.body_len,
                     ans.body ? ans.body : "", body);
    free(ans.body);
}

static void fixture_check_events(const char *dir, const char *name, const json_t *out,
                                 fixture_totals *tot)
{
    char file[300];
    snprintf(file, sizeof file, "%s.expected.json", name);
    json_t *want = fixture_json(dir, file);
    adapter_error err;
    if (!want)
        fixture_fail(name, "accepted but has no %s", file);
    if (!json_equal(want, (json_t *)out)) {
        char *got = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
        char *exp = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
        fixture_fail(name, "events differ\n got: %s\nwant: %s", got, exp);
    }
    if (event_check_all(out, &err) != 0)
        fixture_fail(name, "output breaks the contract: %s: %s", err.field, err.message);
    tot->events += (unsigned)json_array_size(out);
    json_decref(want);
}

static void fixture_run_one(const adapter *a, const adapter_ctx *base, const char *dir,
                            const char *name, const char *token, fixture_totals *tot)
{
    char file[300], path[512];
    snprintf(file, sizeof file, "%s.request.json", name);
    json_t *rq = fixture_json(dir, file);
    assert_non_null(rq);
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, json_string_value(json_object_get(rq, "body_file")));
    char *body = fixture_read(path, &len);
    assert_non_null(body);
    const char *sub = json_string_value(json_object_get(rq, "subpath"));
    char subpath[256];
    snprintf(subpath, sizeof subpath, "%s%s", sub && *sub ? "/" : "", sub ? sub : "");
    adapter_request q = {
        .method = "POST",
        .subpath = subpath,
        .query = json_string_value(json_object_get(rq, "query")),
        .content_type = json_string_value(json_object_get(rq, "content_type")),
        .body = body,
        .body_len = len,
        .header = fixture_header,
        .header_ctx = json_object_get(rq, "headers"),
    };
    if (!q.query)
        q.query = "";
    adapter_ctx ctx = *base;
    if (json_is_integer(json_object_get(rq, "now")))
        ctx.now = json_integer_value(json_object_get(rq, "now"));
    const json_t *expect = json_object_get(rq, "expect");
    json_t *out = json_array();
    adapter_error err = {{0}, {0}};
    int status = fixture_outcome(a, &ctx, &q, token, out, &err);
    if (!fixture_status_ok(expect, status))
        fixture_fail(name, "status %d (%s: %s), expected %lld", status, err.field, err.message,
                     json_integer_value(json_object_get(expect, "status")));
    tot->requests++;
    if (status == 200) {
        tot->accepted++;
        fixture_check_events(dir, name, out, tot);
        fixture_check_answer(a, &ctx, name, expect, (unsigned)json_array_size(out));
    } else {
        tot->refused++;
    }
    json_decref(out);
    json_decref(rq);
    free(body);
}

static int fixture_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Runs every NAME.request.json of dir; returns the totals (and prints them). */
static fixture_totals fixture_run_dir(const adapter *a, const char *dir)
{
    fixture_totals tot = {0};
    const char *token = NULL;
    json_t *settings = fixture_settings(dir, &token);
    adapter_error err = {{0}, {0}};
    if (a->check_settings && a->check_settings(settings, &err) != 0)
        fail_msg("%s/settings.json refused: %s: %s", dir, err.field, err.message);
    void *compiled = NULL;
    if (a->compile && a->compile(settings, &compiled, &err) != 0)
        fail_msg("%s/settings.json does not compile: %s: %s", dir, err.field, err.message);
    adapter_ctx ctx = {.integration = "acme", .settings = settings, .compiled = compiled,
                       .now = (int64_t)time(NULL)};
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[1024];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 1024;) {
        const char *suffix = strstr(e->d_name, ".request.json");
        if (suffix && suffix[strlen(".request.json")] == '\0')
            names[n++] = strndup(e->d_name, (size_t)(suffix - e->d_name));
    }
    closedir(d);
    qsort(names, n, sizeof *names, fixture_cmp);
    for (size_t i = 0; i < n; i++) {
        fixture_run_one(a, &ctx, dir, names[i], token, &tot);
        free(names[i]);
    }
    if (a->free_compiled)
        a->free_compiled(compiled);
    json_decref(settings);
    free((char *)token);
    print_message("%s: %u requests (%u accepted, %u refused), %u events\n", dir, tot.requests,
                  tot.accepted, tot.refused, tot.events);
    assert_true(tot.requests > 0);
    return tot;
}

#endif
