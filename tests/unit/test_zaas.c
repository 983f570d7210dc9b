/* test_zaas.c — the zaas adapter: its settings, no webhooks, and its commands as the broker runs
 * them: login (both answer shapes, renewal after 5 h 30 min, once more after a refused token),
 * Call/Server, Call/Create (NO_ENDPOINT_REGISTERED), and Call/Status polls into events with
 * both spellings of the fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../adapters/zaas.c"

#define NOW 1795449602

static json_t *settings_with(const char *extra)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"zaas\":{\"base_url\":\"https://zaas.example/Voice\",\"login\":\"flex\","
             "\"password\":\"12345678\",\"cod_campaign\":\"7\"%s}}",
             extra ? extra : "");
    json_t *s = json_loads(text, 0, NULL);
    assert_non_null(s);
    return s;
}

static int check(const char *extra, adapter_error *e)
{
    json_t *s = settings_with(extra);
    int rc = adapter_zaas.check_settings(s, e);
    json_decref(s);
    return rc;
}

static void settings_checked(void **state)
{
    (void)state;
    adapter_error e;
    assert_int_equal(check(NULL, &e), 0);
    assert_int_equal(check(",\"call_type\":\"internal\",\"caller_id\":\"554830037656\","
                           "\"recorder\":2,\"poll_interval_ms\":500",
                           &e),
                     0);
    const struct {
        const char *extra, *field;
    } bad[] = {
        {",\"call_type\":\"other\"", "zaas.call_type"},
        {",\"recorder\":3", "zaas.recorder"},
        {",\"recorder\":\"1\"", "zaas.recorder"},
        {",\"poll_interval_ms\":10", "zaas.poll_interval_ms"},
        {",\"poll_interval_ms\":600000", "zaas.poll_interval_ms"},
        {",\"caller_id\":\"\"", "zaas.caller_id"},
        {",\"surprise\":1", "zaas.surprise"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(check(bad[i].extra, &e), -1);
        assert_string_equal(e.field, bad[i].field);
    }
    const struct {
        const char *json, *field;
    } whole[] = {
        {"{}", "zaas"},
        {"{\"zaas\":[]}", "zaas"},
        {"{\"zaas\":{\"login\":\"a\",\"password\":\"b\",\"cod_campaign\":\"0\"}}", "zaas.base_url"},
        {"{\"zaas\":{\"base_url\":\"ftp://x/Voice\",\"login\":\"a\",\"password\":\"b\","
         "\"cod_campaign\":\"0\"}}",
         "zaas.base_url"},
        {"{\"zaas\":{\"base_url\":\"https://x/Voice?a=b\",\"login\":\"a\",\"password\":\"b\","
         "\"cod_campaign\":\"0\"}}",
         "zaas.base_url"},
        {"{\"zaas\":{\"base_url\":\"https://x/Voice\",\"password\":\"b\",\"cod_campaign\":\"0\"}}",
         "zaas.login"},
        {"{\"zaas\":{\"base_url\":\"https://x/Voice\",\"login\":\"a\",\"cod_campaign\":\"0\"}}",
         "zaas.password"},
        {"{\"zaas\":{\"base_url\":\"https://x/Voice\",\"login\":\"a\",\"password\":\"b\"}}",
         "zaas.cod_campaign"},
        {"{\"zaas\":{\"base_url\":\"https://x/Voice\",\"login\":\"a\",\"password\":\"b\","
         "\"cod_campaign\":-1}}",
         "zaas.cod_campaign"},
        {"{\"zaas\":{\"base_url\":\"https://x/Voice\",\"login\":\"a\\nb\",\"password\":\"b\","
         "\"cod_campaign\":0}}",
         "zaas.login"},
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        json_t *s = json_loads(whole[i].json, 0, NULL);
        assert_non_null(s);
        assert_int_equal(adapter_zaas.check_settings(s, &e), -1);
        assert_string_equal(e.field, whole[i].field);
        assert_true(strlen(e.message) > 0);
        json_decref(s);
    }
    json_t *s = json_loads("{\"zaas\":{\"base_url\":\"http://x/Voice/\",\"login\":\"a\","
                           "\"password\":\"b\",\"cod_campaign\":0}}",
                           0, NULL);
    assert_int_equal(adapter_zaas.check_settings(s, &e), 0); /* a number campaign is fine */
    json_decref(s);
}

static void no_webhooks(void **state)
{
    (void)state;
    const char *subpaths[] = {"", "/", "/events/call", "/status"};
    adapter_ctx ctx = {.integration = "acme", .now = NOW};
    for (size_t i = 0; i < 4; i++) {
        adapter_request r = {.method = "POST", .subpath = subpaths[i], .body = "{}", .body_len = 2};
        adapter_error e;
        json_t *out = json_array();
        assert_int_equal(adapter_zaas.parse(&ctx, &r, out, &e), ADAPTER_NOT_FOUND);
        assert_int_equal(json_array_size(out), 0);
        assert_non_null(strstr(e.message, "no webhooks"));
        json_decref(out);
    }
}

/* ---- commands ---- */

typedef struct cmd_run {
    json_t *settings, *command;
    adapter_ctx ctx;
    adapter_http http;
    json_t *sent; /* the request's body */
} cmd_run;

static void run_init(cmd_run *r, const char *extra, const char *command_json)
{
    memset(r, 0, sizeof *r);
    r->settings = settings_with(extra);
    r->command = json_loads(command_json, 0, NULL);
    assert_non_null(r->command);
    if (!json_object_get(r->command, "session"))
        json_object_set_new(r->command, "session", json_object());
    r->ctx = (adapter_ctx){.integration = "acme", .settings = r->settings, .now = NOW};
}

static void run_free(cmd_run *r)
{
    adapter_http_clear(&r->http);
    json_decref(r->sent);
    json_decref(r->settings);
    json_decref(r->command);
}

/* build_command; expects the request to base_url + method and returns nothing. */
static void build(cmd_run *r, const char *method)
{
    adapter_error e;
    char url[256];
    adapter_http_clear(&r->http);
    json_decref(r->sent);
    assert_int_equal(adapter_zaas.build_command(&r->ctx, r->command, &r->http, &e), ADAPTER_OK);
    snprintf(url, sizeof url, "https://zaas.example/Voice/%s", method);
    assert_string_equal(r->http.url, url);
    assert_string_equal(r->http.method, "POST");
    assert_false(r->http.stream);
    assert_non_null(strstr(r->http.headers, "Content-Type: application/json\r\n"));
    r->sent = json_loadb(r->http.body, r->http.body_len, 0, NULL);
    assert_non_null(r->sent);
}

static const char *sent_str(const cmd_run *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->sent, key));
    assert_non_null(s);
    return s;
}

/* parse_command_answer on (status, body); returns the result (caller frees). */
static json_t *answer(cmd_run *r, int status, const char *body)
{
    adapter_reply reply = {.status = status,
                           .content_type = "application/json",
                           .body = body,
                           .body_len = strlen(body)};
    adapter_error e;
    json_t *res = json_object();
    assert_int_equal(adapter_zaas.parse_command_answer(&r->ctx, r->command, &reply, res, &e), 0);
    return res;
}

/* What the broker does with a result: the session replaced, the step set to "next". */
static void apply(cmd_run *r, const json_t *res)
{
    const json_t *s = json_object_get(res, "session");
    const json_t *next = json_object_get(res, "next");
    if (s)
        json_object_set_new(r->command, "session", json_deep_copy(s));
    if (next)
        json_object_set_new(r->command, "step", json_deep_copy(next));
    else
        json_object_del(r->command, "step");
}

static long res_int(const json_t *res, const char *key)
{
    const json_t *v = json_object_get(res, key);
    assert_true(json_is_integer(v));
    return (long)json_integer_value(v);
}

#define CALLBACK                                                                                   \
    "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\","                            \
    "\"to_number\":\"5511980121511\"}"

static void login(cmd_run *r, const char *body)
{
    build(r, "Login");
    assert_string_equal(sent_str(r, "login"), "flex");
    assert_string_equal(sent_str(r, "password"), "12345678");
    json_t *res = answer(r, 200, body);
    const json_t *s = json_object_get(res, "session");
    assert_string_equal(json_string_value(json_object_get(s, "token")), "tok-1");
    assert_int_equal(json_integer_value(json_object_get(s, "token_at")), r->ctx.now);
    assert_true(json_is_object(json_object_get(res, "next")));
    assert_null(json_object_get(res, "status"));
    apply(r, res);
    json_decref(res);
}

/* Call/Server with the token; its api_key joins the session. */
static void server(cmd_run *r)
{
    build(r, "Call/Server");
    assert_string_equal(json_object_iter_key(json_object_iter(r->sent)), "token");
    assert_string_equal(sent_str(r, "token"), "tok-1");
    assert_string_equal(sent_str(r, "codCampaign"), "7");
    json_t *res = answer(r, 200,
                         "[{\"rtcSignalingServer\":\"rtc1\",\"api_key\":\"OMN-04\","
                         "\"agent_id\":\"a1\"}]");
    const json_t *s = json_object_get(res, "session");
    assert_string_equal(json_string_value(json_object_get(s, "api_key")), "OMN-04");
    assert_string_equal(json_string_value(json_object_get(s, "token")), "tok-1");
    assert_non_null(json_object_get(res, "next"));
    apply(r, res);
    json_decref(res);
}

static void callback_whole(void **state)
{
    (void)state;
    cmd_run r;
    run_init(&r, NULL, CALLBACK);
    login(&r, "{\"token\":\"tok-1\"}");
    server(&r);
    build(&r, "Call/Create");
    /* token first, as the document demands */
    assert_string_equal(json_object_iter_key(json_object_iter(r.sent)), "token");
    assert_non_null(strstr(r.http.body, "{\"token\":\"tok-1\","));
    assert_string_equal(sent_str(&r, "api_key"), "OMN-04");
    assert_string_equal(sent_str(&r, "codCampaign"), "7");
    assert_string_equal(sent_str(&r, "call_destination"), "5511980121511");
    assert_string_equal(sent_str(&r, "call_type"), "external");
    assert_string_equal(sent_str(&r, "call_recorder"), "1");
    assert_null(json_object_get(r.sent, "call_cid")); /* no line, no caller_id */
    json_t *res = answer(&r, 200, "[{\"_id\":\"5d7bd7d87b2e3252147f8be4\"}]");
    assert_null(json_object_get(res, "next"));
    assert_null(json_object_get(res, "status"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res, "answer"), "call_id")),
        "5d7bd7d87b2e3252147f8be4");
    json_t *want = json_pack("{ss ss ss}", "call_id", "5d7bd7d87b2e3252147f8be4", "user", "101",
                             "number", "5511980121511");
    assert_true(json_equal(json_object_get(res, "poll"), want));
    json_decref(want);
    json_decref(res);
    run_free(&r);
}

static void login_as_array_and_caller_id(void **state)
{
    (void)state;
    cmd_run r;
    run_init(&r, ",\"caller_id\":\"554830037656\",\"recorder\":0,\"call_type\":\"internal\"",
             CALLBACK);
    login(&r, "[{\"token\":\"tok-1\"}]");
    server(&r);
    build(&r, "Call/Create");
    assert_string_equal(sent_str(&r, "call_cid"), "554830037656");
    assert_string_equal(sent_str(&r, "call_recorder"), "0");
    assert_string_equal(sent_str(&r, "call_type"), "internal");
    run_free(&r);
    /* the client's line_number wins over the configured caller id */
    run_init(&r, ",\"caller_id\":\"554830037656\"",
             "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\","
             "\"to_number\":\"100\",\"line_number\":\"554800000001\","
             "\"session\":{\"token\":\"tok-1\",\"token_at\":1795449000,\"api_key\":\"K\"}}");
    build(&r, "Call/Create");
    assert_string_equal(sent_str(&r, "call_cid"), "554800000001");
    assert_string_equal(sent_str(&r, "api_key"), "K");
    run_free(&r);
}

/* A token 5 h 30 min old is renewed before use; a younger one is used. */
static void token_renewed_before_expiry(void **state)
{
    (void)state;
    cmd_run r;
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "{\"op\":\"status\",\"command_id\":\"poll:x\",\"call_id\":\"x1\",\"user\":\"101\","
             "\"last\":\"\",\"seq\":0,\"session\":{\"token\":\"old\",\"token_at\":%d}}",
             NOW - ZAAS_TOKEN_TTL);
    run_init(&r, NULL, cmd);
    build(&r, "Login");
    run_free(&r);
    snprintf(cmd, sizeof cmd,
             "{\"op\":\"status\",\"command_id\":\"poll:x\",\"call_id\":\"x1\",\"user\":\"101\","
             "\"last\":\"\",\"seq\":0,\"session\":{\"token\":\"old\",\"token_at\":%d}}",
             NOW - ZAAS_TOKEN_TTL + 1);
    run_init(&r, NULL, cmd);
    build(&r, "Call/Status");
    assert_string_equal(sent_str(&r, "token"), "old");
    assert_string_equal(sent_str(&r, "_id"), "x1");
    assert_string_equal(sent_str(&r, "codCampaign"), "7");
    run_free(&r);
}

#define SESSION "\"session\":{\"token\":\"tok-0\",\"token_at\":1795449000,\"api_key\":\"K\"}"

/* An expired token (401, or an error text in a 200): forget the session, log in once more. */
static void refused_token_relogs_once(void **state)
{
    (void)state;
    const struct {
        int status;
        const char *body;
    } refusals[] = {
        {401, "{\"message\":\"Unauthorized\"}"},
        {401, ""},
        {200, "[{\"error\":\"Token invalido ou expirado\"}]"},
        {200, "{\"message\":\"token expired\"}"},
    };
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        cmd_run r;
        run_init(&r, NULL,
                 "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\","
                 "\"to_number\":\"100\"," SESSION "}");
        build(&r, "Call/Create");
        json_t *res = answer(&r, refusals[i].status, refusals[i].body);
        assert_true(json_is_object(json_object_get(res, "session")));
        assert_int_equal(json_object_size(json_object_get(res, "session")), 0);
        assert_true(json_is_true(json_object_get(json_object_get(res, "next"), "relogged")));
        assert_null(json_object_get(res, "status"));
        apply(&r, res);
        json_decref(res);
        login(&r, "{\"token\":\"tok-1\"}");
        /* the step keeps saying a login was done */
        assert_true(json_is_true(json_object_get(json_object_get(r.command, "step"), "relogged")));
        server(&r);
        build(&r, "Call/Create");
        assert_string_equal(sent_str(&r, "token"), "tok-1");
        res = answer(&r, refusals[i].status, refusals[i].body); /* refused again */
        assert_int_equal(res_int(res, "status"), 502);
        assert_int_equal(res_int(res, "code"), RC_PBX_ERROR);
        assert_null(json_object_get(res, "next"));
        assert_non_null(strstr(json_string_value(json_object_get(res, "message")), "again"));
        json_decref(res);
        run_free(&r);
    }
}

static void login_refused(void **state)
{
    (void)state;
    const struct {
        int status;
        const char *body;
    } bad[] = {{401, "{\"message\":\"invalid login\"}"},
               {200, "[{\"error\":\"wrong password\"}]"},
               {500, "oops"},
               {200, "[]"},
               {200, "{\"token\":\"\"}"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cmd_run r;
        run_init(&r, NULL, CALLBACK);
        build(&r, "Login");
        json_t *res = answer(&r, bad[i].status, bad[i].body);
        assert_int_equal(res_int(res, "status"), 502);
        assert_int_equal(res_int(res, "code"), RC_PBX_ERROR);
        assert_null(json_object_get(res, "next"));
        assert_null(json_object_get(res, "session"));
        assert_non_null(strstr(json_string_value(json_object_get(res, "message")), "Login"));
        assert_non_null(json_object_get(json_object_get(res, "answer"), "pbx_code"));
        json_decref(res);
        run_free(&r);
    }
}

static void no_endpoint_registered(void **state)
{
    (void)state;
    const struct {
        int status;
        const char *body;
    } shapes[] = {
        {200, "[{\"error\":\"NO_ENDPOINT_REGISTERED\"}]"},
        {400, "{\"message\":\"Call failed: NO_ENDPOINT_REGISTERED for agent\"}"},
        {500, "NO_ENDPOINT_REGISTERED"},
        {200, "[{\"result\":{\"detail\":[\"x\",\"NO_ENDPOINT_REGISTERED\"]}}]"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        cmd_run r;
        run_init(&r, NULL,
                 "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\","
                 "\"to_number\":\"100\"," SESSION "}");
        build(&r, "Call/Create");
        json_t *res = answer(&r, shapes[i].status, shapes[i].body);
        assert_int_equal(res_int(res, "status"), 409);
        assert_int_equal(res_int(res, "code"), RC_ENDPOINT_OFFLINE);
        assert_non_null(strstr(json_string_value(json_object_get(res, "message")), "webphone"));
        assert_null(json_object_get(res, "poll"));
        assert_null(json_object_get(res, "answer"));
        json_decref(res);
        run_free(&r);
    }
}

static void create_and_server_failures(void **state)
{
    (void)state;
    cmd_run r;
    run_init(&r, NULL,
             "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\","
             "\"to_number\":\"100\"," SESSION "}");
    build(&r, "Call/Create");
    json_t *res = answer(&r, 200, "[{\"status\":\"failed\"}]");
    assert_int_equal(res_int(res, "status"), 502);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res, "answer"), "pbx_code")), "failed");
    assert_null(json_object_get(res, "retry_ms")); /* not a poll */
    json_decref(res);
    res = answer(&r, 503, "");
    assert_int_equal(res_int(res, "status"), 502);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(res, "answer"), "pbx_code")), 503);
    json_decref(res);
    res = answer(&r, 500, "[{\"_id\":\"abc\"}]"); /* an id with an error status is no call */
    assert_int_equal(res_int(res, "status"), 502);
    json_decref(res);
    run_free(&r);
    /* a placed call is never taken for a refused token: a second Call/Create would dial twice */
    run_init(&r, NULL,
             "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\","
             "\"to_number\":\"100\"," SESSION "}");
    build(&r, "Call/Create");
    res = answer(&r, 200, "[{\"_id\":123456,\"message\":\"Chamada autorizada, token ok\"}]");
    assert_null(json_object_get(res, "next"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res, "answer"), "call_id")), "123456");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "poll"), "call_id")),
                        "123456");
    json_decref(res);
    /* only the error fields are read, and echoed */
    res = answer(&r, 200, "[{\"rtcUAPassword\":\"secret token invalid\",\"x\":1}]");
    assert_null(json_object_get(res, "next"));
    assert_int_equal(res_int(res, "status"), 502);
    assert_null(strstr(json_string_value(json_object_get(res, "message")), "secret"));
    json_decref(res);
    run_free(&r);
    run_init(&r, NULL,
             "{\"op\":\"callback\",\"command_id\":\"c1\",\"extension\":\"101\","
             "\"to_number\":\"100\",\"session\":{\"token\":\"t\",\"token_at\":1795449000}}");
    build(&r, "Call/Server");
    res = answer(&r, 200, "[{\"rtcWsServer\":\"wss://x\"}]");
    assert_int_equal(res_int(res, "status"), 502);
    assert_non_null(strstr(json_string_value(json_object_get(res, "message")), "Call/Server"));
    json_decref(res);
    res = answer(&r, 401, "");
    assert_non_null(json_object_get(res, "next"));
    json_decref(res);
    run_free(&r);
}

static void bad_commands(void **state)
{
    (void)state;
    const char *unsupported[] = {"route", "transfer", "hangup", "record", "dance"};
    for (size_t i = 0; i < 5; i++) {
        cmd_run r;
        char cmd[256];
        adapter_error e;
        snprintf(cmd, sizeof cmd, "{\"op\":\"%s\",\"command_id\":\"c\",\"call_id\":\"x\"}",
                 unsupported[i]);
        run_init(&r, NULL, cmd);
        assert_int_equal(adapter_zaas.build_command(&r.ctx, r.command, &r.http, &e),
                         ADAPTER_UNSUPPORTED);
        assert_null(r.http.url);
        run_free(&r);
    }
    const struct {
        const char *cmd, *field;
    } invalid[] = {
        {"{\"op\":\"callback\",\"extension\":\"1 01\",\"to_number\":\"1\"," SESSION "}",
         "extension"},
        {"{\"op\":\"callback\",\"to_number\":\"1\"," SESSION "}", "extension"},
        {"{\"op\":\"callback\",\"extension\":\"101\",\"to_number\":\"\"," SESSION "}", "to_number"},
        {"{\"op\":\"callback\",\"extension\":\"101\",\"to_number\":\"1 2\"," SESSION "}",
         "to_number"},
        {"{\"op\":\"callback\",\"extension\":\"101\",\"to_number\":\"1\",\"line_number\":7," SESSION
         "}",
         "line_number"},
        {"{\"op\":\"status\",\"user\":\"101\"," SESSION "}", "call_id"},
        {"{\"op\":\"status\",\"call_id\":\"x\"," SESSION "}", "user"},
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        cmd_run r;
        adapter_error e;
        run_init(&r, NULL, invalid[i].cmd);
        assert_int_equal(adapter_zaas.build_command(&r.ctx, r.command, &r.http, &e),
                         ADAPTER_INVALID);
        assert_string_equal(e.field, invalid[i].field);
        assert_null(r.http.url);
        run_free(&r);
    }
    /* settings the broker would have refused: build says so instead of sending */
    cmd_run r;
    adapter_error e;
    run_init(&r, NULL, CALLBACK);
    json_object_set_new(r.settings, "zaas", json_string("x"));
    assert_int_equal(adapter_zaas.build_command(&r.ctx, r.command, &r.http, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "zaas");
    run_free(&r);
}

/* ---- status polls ---- */

/* One poll with last and the answer body; returns the result. */
static json_t *poll(const char *last, int status, const char *body)
{
    cmd_run r;
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "{\"op\":\"status\",\"command_id\":\"poll:5d7b\",\"call_id\":\"5d7b\","
             "\"user\":\"101\",\"number\":\"5511980121511\",\"last\":\"%s\",\"seq\":0," SESSION "}",
             last);
    run_init(&r, ",\"poll_interval_ms\":700", cmd);
    build(&r, "Call/Status");
    json_t *res = answer(&r, status, body);
    adapter_error e;
    const json_t *events = json_object_get(res, "events");
    if (events)
        assert_int_equal(event_check_all(events, &e), 0);
    run_free(&r);
    return res;
}

static const json_t *only_event(const json_t *res)
{
    const json_t *events = json_object_get(res, "events");
    assert_int_equal(json_array_size(events), 1);
    return json_array_get(events, 0);
}

static void assert_event(const json_t *ev, const char *state, const char *key, int seq)
{
    const json_t *call = json_object_get(ev, "call");
    assert_string_equal(json_string_value(json_object_get(ev, "kind")), "call");
    assert_string_equal(json_string_value(json_object_get(ev, "call_id")), "5d7b");
    assert_string_equal(json_string_value(json_object_get(ev, "source")), "zaas");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ev, "users"), 0)), "101");
    assert_int_equal(json_array_size(json_object_get(ev, "users")), 1);
    assert_string_equal(json_string_value(json_object_get(call, "state")), state);
    assert_string_equal(json_string_value(json_object_get(call, "direction")), "outbound");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(call, "from"), "extension")), "101");
    assert_string_equal(json_string_value(json_object_get(json_object_get(call, "to"), "number")),
                        "5511980121511");
    assert_string_equal(json_string_value(json_object_get(ev, "key")), key);
    const json_t *order = json_object_get(ev, "order");
    assert_string_equal(json_string_value(json_object_get(order, "key")), "5d7b");
    assert_int_equal(json_integer_value(json_object_get(order, "seq")), seq);
}

static const char *status_seen(const json_t *res)
{
    return json_string_value(json_object_get(json_object_get(res, "answer"), "status"));
}

static void status_sequence(void **state)
{
    (void)state;
    json_t *res = poll("", 200, "[{\"_id\":\"5d7b\",\"status\":\"Setup\"}]");
    assert_event(only_event(res), "appeared", "zaas:5d7b:appeared", 1);
    assert_string_equal(status_seen(res), "Setup");
    assert_null(json_object_get(res, "done"));
    assert_null(json_object_get(res, "status"));
    json_decref(res);
    /* Dialing after Setup: the call had appeared already */
    res = poll("Setup", 200, "[{\"_id\":\"5d7b\",\"status\":\"Dialing\"}]");
    assert_int_equal(json_array_size(json_object_get(res, "events")), 0);
    assert_string_equal(status_seen(res), "Dialing");
    json_decref(res);
    res = poll("Dialing", 200, "[{\"_id\":\"5d7b\",\"status\":\"Answered\"}]");
    assert_event(only_event(res), "connected", "zaas:5d7b:connected", 3);
    json_decref(res);
    res = poll("Answered", 200,
               "[{\"_id\":\"5d7b\",\"status\":\"Finished\",\"isdn_code\":16,"
               "\"isdn_reason\":\"Normal Clearing\"}]");
    const json_t *ev = only_event(res);
    assert_event(ev, "disconnected", "zaas:5d7b:disconnected", 4);
    const json_t *d = json_object_get(json_object_get(ev, "call"), "disconnect");
    assert_int_equal(json_integer_value(json_object_get(d, "code")), 16);
    assert_string_equal(json_string_value(json_object_get(d, "text")), "Normal Clearing");
    assert_true(json_is_true(json_object_get(res, "done")));
    json_decref(res);
}

/* The document's own example: voice_status, voice_code_result as text, an object answer. */
static void status_other_spelling(void **state)
{
    (void)state;
    json_t *res = poll("", 200, "[{\"_id\":\"5d7b\",\"voice_status\":\"Dialing\"}]");
    assert_event(only_event(res), "appeared", "zaas:5d7b:appeared", 2); /* Setup was missed */
    json_decref(res);
    res = poll("Dialing", 200,
               "{\"_id\":\"5d7b\",\"voice_status\":\"FINISHED\",\"voice_code_result\":\"17\","
               "\"voice_text_result\":\"User busy\"}");
    const json_t *d = json_object_get(json_object_get(only_event(res), "call"), "disconnect");
    assert_int_equal(json_integer_value(json_object_get(d, "code")), 17);
    assert_string_equal(json_string_value(json_object_get(d, "text")), "User busy");
    assert_string_equal(status_seen(res), "Finished");
    assert_true(json_is_true(json_object_get(res, "done")));
    json_decref(res);
    /* a code without a text is named from Q.850; a code out of range keeps only the text */
    res = poll("Answered", 200, "[{\"status\":\"Finished\",\"isdn_code\":\"19\"}]");
    d = json_object_get(json_object_get(only_event(res), "call"), "disconnect");
    assert_int_equal(json_integer_value(json_object_get(d, "code")), 19);
    assert_string_equal(json_string_value(json_object_get(d, "text")),
                        "no answer from user (user alerted)");
    json_decref(res);
    res = poll("Answered", 200,
               "[{\"status\":\"Finished\",\"isdn_code\":\"999\",\"isdn_reason\":\"odd\"}]");
    d = json_object_get(json_object_get(only_event(res), "call"), "disconnect");
    assert_null(json_object_get(d, "code"));
    assert_string_equal(json_string_value(json_object_get(d, "text")), "odd");
    json_decref(res);
    res = poll("Answered", 200, "[{\"status\":\"Finished\"}]");
    assert_null(json_object_get(json_object_get(only_event(res), "call"), "disconnect"));
    assert_true(json_is_true(json_object_get(res, "done")));
    json_decref(res);
}

static void status_no_change(void **state)
{
    (void)state;
    const struct {
        const char *last, *body;
    } quiet[] = {
        {"Answered", "[{\"status\":\"Answered\"}]"}, /* same */
        {"Answered", "[{\"status\":\"answered\"}]"}, /* same, another case */
        {"Answered", "[{\"status\":\"Dialing\"}]"},  /* backwards: stale */
        {"", "[{\"status\":\"Ringing\"}]"},          /* unknown */
        {"Setup", "[{\"status\":\"Queued\"}]"},
    };
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++) {
        json_t *res = poll(quiet[i].last, 200, quiet[i].body);
        assert_int_equal(json_array_size(json_object_get(res, "events")), 0);
        assert_null(json_object_get(res, "done"));
        assert_null(json_object_get(res, "retry_ms"));
        assert_null(json_object_get(res, "status"));
        assert_non_null(status_seen(res));
        json_decref(res);
    }
    /* Finished seen directly still ends the call with its event */
    json_t *res = poll("", 200, "[{\"status\":\"Finished\",\"isdn_code\":3}]");
    assert_event(only_event(res), "disconnected", "zaas:5d7b:disconnected", 4);
    assert_true(json_is_true(json_object_get(res, "done")));
    json_decref(res);
}

static void status_failures_retry(void **state)
{
    (void)state;
    const struct {
        int status;
        const char *body;
    } fails[] = {{500, "boom"}, {200, "[]"}, {200, "not json"}, {502, "{\"status\":\"Answered\"}"}};
    for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
        json_t *res = poll("Setup", fails[i].status, fails[i].body);
        assert_int_equal(res_int(res, "retry_ms"), 1400); /* twice the 700 ms interval */
        assert_int_equal(res_int(res, "status"), 502);
        assert_null(json_object_get(res, "events"));
        assert_null(json_object_get(res, "done"));
        json_decref(res);
    }
    /* no answer in time */
    cmd_run r;
    run_init(&r, ",\"poll_interval_ms\":20000",
             "{\"op\":\"status\",\"call_id\":\"5d7b\",\"user\":\"101\",\"last\":\"\"," SESSION "}");
    build(&r, "Call/Status");
    adapter_reply reply = {.status = 0, .timed_out = true, .body = "", .body_len = 0};
    adapter_error e;
    json_t *res = json_object();
    assert_int_equal(adapter_zaas.parse_command_answer(&r.ctx, r.command, &reply, res, &e), 0);
    assert_int_equal(res_int(res, "retry_ms"), ZAAS_RETRY_MAX); /* capped */
    assert_null(json_object_get(res, "events"));
    json_decref(res);
    /* an expired token on a poll: log in again, then the poll */
    res = answer(&r, 401, "");
    assert_true(json_is_true(json_object_get(json_object_get(res, "next"), "relogged")));
    assert_null(json_object_get(res, "retry_ms"));
    apply(&r, res);
    json_decref(res);
    build(&r, "Login");
    res = answer(&r, 200, "{\"token\":\"tok-1\"}");
    apply(&r, res);
    json_decref(res);
    build(&r, "Call/Status");
    res = answer(&r, 200, "[{\"error\":\"token expired\"}]");
    assert_int_equal(res_int(res, "status"), 502);
    assert_non_null(json_object_get(res, "retry_ms"));
    json_decref(res);
    run_free(&r);
}

/* What a poll's answer names is checked before it becomes an event. */
static void status_odd_commands(void **state)
{
    (void)state;
    cmd_run r;
    run_init(&r, NULL,
             "{\"op\":\"status\",\"call_id\":\"5d7b\",\"user\":\"101\",\"last\":7," SESSION "}");
    build(&r, "Call/Status");
    json_t *res = answer(&r, 200, "[{\"status\":\"Answered\"}]"); /* last not a string: first */
    assert_int_equal(json_array_size(json_object_get(res, "events")), 1);
    /* no number: the event names no callee */
    assert_null(json_object_get(json_object_get(only_event(res), "call"), "to"));
    json_decref(res);
    json_object_set_new(r.command, "user", json_string("bad user"));
    adapter_reply reply = {.status = 200, .body = "[{\"status\":\"Answered\"}]", .body_len = 23};
    adapter_error e;
    res = json_object();
    assert_int_equal(adapter_zaas.parse_command_answer(&r.ctx, r.command, &reply, res, &e), -1);
    assert_null(json_object_get(res, "events"));
    json_decref(res);
    run_free(&r);
}

static void registered(void **state)
{
    (void)state;
    assert_ptr_equal(adapter_find("zaas"), &adapter_zaas);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(settings_checked),
        cmocka_unit_test(no_webhooks),
        cmocka_unit_test(callback_whole),
        cmocka_unit_test(login_as_array_and_caller_id),
        cmocka_unit_test(token_renewed_before_expiry),
        cmocka_unit_test(refused_token_relogs_once),
        cmocka_unit_test(login_refused),
        cmocka_unit_test(no_endpoint_registered),
        cmocka_unit_test(create_and_server_failures),
        cmocka_unit_test(bad_commands),
        cmocka_unit_test(status_sequence),
        cmocka_unit_test(status_other_spelling),
        cmocka_unit_test(status_no_change),
        cmocka_unit_test(status_failures_retry),
        cmocka_unit_test(status_odd_commands),
        cmocka_unit_test(registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
