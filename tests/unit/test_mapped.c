/* test_mapped.c — the configured dialect: its recorded fixtures (the Kamailio mapping), settings
 * refused with the exact field, form bodies, JSON pointers, odd and huge values. */
#include "../../adapters/mapped.c"

#include "fixture_runner.h"

static void fixtures(void **state)
{
    (void)state;
    fixture_totals t = fixture_run_dir(&adapter_mapped, "../fixtures/mapped");
    assert_true(t.accepted >= 10 && t.refused >= 10);
}

/* check_settings on {"mapped": <text>}: the field it names, or "" when accepted. */
static void assert_refused(const char *mapped, const char *field)
{
    json_error_t je;
    json_t *m = json_loads(mapped, 0, &je);
    if (!m)
        fail_msg("test mapping does not parse: %s: %s", je.text, mapped);
    json_t *s = json_pack("{so}", "mapped", m);
    adapter_error e;
    int rc = adapter_mapped.check_settings(s, &e);
    if (!field) {
        if (rc != 0)
            fail_msg("refused %s: %s: %s", mapped, e.field, e.message);
    } else if (rc == 0 || strcmp(e.field, field) != 0 || !e.message[0]) {
        fail_msg("%s: expected refusal on %s, got %d %s: %s", mapped, field, rc, e.field,
                 e.message);
    }
    json_decref(s);
}

#define ID "\"call_id\":{\"pointer\":\"/id\"}"

static void settings_refused(void **state)
{
    (void)state;
    adapter_error e;
    json_t *none = json_object();
    assert_int_equal(adapter_mapped.check_settings(none, &e), -1);
    assert_string_equal(e.field, "mapped");
    json_decref(none);
    assert_refused("{\"fields\":{" ID "}}", "mapped.fields.state");
    assert_refused("{\"fields\":{" ID ",\"state\":{\"const\":\"appeared\"}}}",
                   "mapped.fields.users");
    assert_refused("{\"fields\":{" ID ",\"state\":{\"const\":\"appeared\"},\"users\":"
                   "{\"pointer\":\"/u\"}}}",
                   NULL);
    assert_refused("{\"fields\":{" ID ",\"kind\":{\"const\":\"record\"}}}", NULL);
    assert_refused("{\"fields\":{" ID ",\"kind\":{\"const\":\"ivr\"}}}", "mapped.fields.state");
    assert_refused("{\"body\":\"xml\",\"fields\":{" ID "}}", "mapped.body");
    assert_refused("{\"fields\":[]}", "mapped.fields");
    assert_refused("{\"fields\":{" ID "},\"extra\":1}", "mapped.extra");
    assert_refused("{\"fields\":{}}", "mapped.fields.call_id");
    assert_refused("{\"fields\":{\"call_id\":{\"pointer\":\"id\"}}}",
                   "mapped.fields.call_id.pointer");
    assert_refused("{\"fields\":{\"call_id\":{\"pointer\":\"/a~2\"}}}",
                   "mapped.fields.call_id.pointer");
    assert_refused("{\"fields\":{\"call_id\":{\"pointer\":\"/a~\"}}}",
                   "mapped.fields.call_id.pointer");
    assert_refused("{\"fields\":{\"call_id\":{\"pointer\":5}}}", "mapped.fields.call_id.pointer");
    assert_refused("{\"fields\":{\"call_id\":{\"field\":\"id\"}}}", "mapped.fields.call_id.field");
    assert_refused("{\"body\":\"form\",\"fields\":{" ID "}}", "mapped.fields.call_id.pointer");
    assert_refused("{\"fields\":{\"call_id\":{}}}", "mapped.fields.call_id");
    assert_refused("{\"fields\":{\"call_id\":\"/id\"}}", "mapped.fields.call_id");
    assert_refused("{\"fields\":{\"call_id\":{\"pointr\":\"/id\"}}}",
                   "mapped.fields.call_id.pointr");
    assert_refused("{\"fields\":{" ID ",\"colour\":{\"const\":\"red\"}}}", "mapped.fields.colour");
    assert_refused("{\"fields\":{" ID ",\"state\":{\"pointer\":\"/s\",\"map\":{\"ringing\":"
                   "\"ring\"}}}}",
                   "mapped.fields.state.map.ringing");
    assert_refused("{\"fields\":{" ID ",\"state\":{\"pointer\":\"/s\",\"map\":{}}}}",
                   "mapped.fields.state.map");
    assert_refused("{\"fields\":{" ID ",\"state\":{\"pointer\":\"/s\",\"default\":\"up\"}}}",
                   "mapped.fields.state.default");
    assert_refused("{\"fields\":{" ID ",\"disconnect.code\":{\"pointer\":\"/c\",\"map\":{\"486\":"
                   "300}}}}",
                   "mapped.fields.disconnect.code.map.486");
    assert_refused("{\"fields\":{" ID ",\"kind\":{\"const\":\"meeting\"}}}",
                   "mapped.fields.kind.const");
    assert_refused("{\"fields\":{" ID ",\"kind\":{\"const\":\"call\",\"map\":{\"a\":\"call\"}}}}",
                   "mapped.fields.kind.const");
    assert_refused("{\"fields\":{" ID ",\"line\":{\"pointer\":\"/l\",\"unit\":\"s\"}}}",
                   "mapped.fields.line.unit");
    assert_refused("{\"fields\":{" ID ",\"ts\":{\"pointer\":\"/t\",\"unit\":\"h\"}}}",
                   "mapped.fields.ts.unit");
    assert_refused("{\"fields\":{" ID ",\"users\":[]}}", "mapped.fields.users");
    assert_refused("{\"fields\":{" ID ",\"users\":[{\"pointer\":\"/a\"},{\"pointer\":\"b\"}]}}",
                   "mapped.fields.users[1].pointer");
    assert_refused("{\"fields\":{" ID ",\"record.duration_s\":{\"const\":-1}}}",
                   "mapped.fields.record.duration_s.const");
    assert_refused("{\"fields\":{" ID ",\"order.seq\":{\"const\":\"x\"}}}",
                   "mapped.fields.order.seq.const");
}

/* Compiles mapped, parses body with it (settings not given: parse reads the compiled form). */
static enum adapter_status run(const char *mapped, const char *body, json_t **out, adapter_error *e)
{
    json_t *s = json_pack("{so}", "mapped", json_loads(mapped, 0, NULL));
    void *c = NULL;
    assert_int_equal(adapter_mapped.compile(s, &c, e), 0);
    json_decref(s);
    adapter_ctx ctx = {.integration = "acme", .compiled = c, .now = 1795449600};
    adapter_request q = {
        .method = "POST", .subpath = "", .query = "", .body = body, .body_len = strlen(body)};
    *out = json_array();
    enum adapter_status st = adapter_mapped.parse(&ctx, &q, *out, e);
    adapter_mapped.free_compiled(c);
    if (st != ADAPTER_OK)
        assert_int_equal(json_array_size(*out), 0);
    return st;
}

static const json_t *first(const json_t *out, const char *path)
{
    const json_t *v = json_array_get(out, 0);
    char buf[128], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *t = strtok_r(buf, ".", &save); v && t; t = strtok_r(NULL, ".", &save))
        v = json_object_get(v, t);
    return v;
}

static void form_body(void **state)
{
    (void)state;
    const char *m = "{\"body\":\"form\",\"fields\":{\"call_id\":{\"field\":\"uuid\"},"
                    "\"users\":{\"field\":\"ext\"},\"state\":{\"field\":\"st\",\"map\":{\"RING\":"
                    "\"appeared\",\"UP\":\"connected\"},\"default\":\"ignore\"},"
                    "\"from.number\":{\"field\":\"caller id\"},\"ts\":{\"field\":\"t\","
                    "\"unit\":\"ms\"}}}";
    json_t *out;
    adapter_error e;
    assert_int_equal(
        run(m, "uuid=u-1&ext=101&ext=102&st=UP&caller+id=%2B55119&t=1795449600123", &out, &e),
        ADAPTER_OK);
    assert_string_equal(json_string_value(first(out, "call.state")), "connected");
    assert_string_equal(json_string_value(first(out, "call.from.number")), "+55119");
    assert_string_equal(json_string_value(first(out, "ts")), "2026-11-23T16:00:00.123Z");
    assert_int_equal(json_array_size(first(out, "users")), 1); /* a repeated field: its first */
    json_decref(out);
    assert_int_equal(run(m, "uuid=u-1&ext=101&st=HOLD", &out, &e), ADAPTER_OK);
    assert_int_equal(json_array_size(out), 0); /* default ignore */
    json_decref(out);
    assert_int_equal(run(m, "uuid=%zz", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "form");
    json_decref(out);
}

static void pointers(void **state)
{
    (void)state;
    const char *m = "{\"fields\":{\"call_id\":{\"pointer\":\"/a~1b/~0c\"},\"state\":{\"const\":"
                    "\"appeared\"},\"users\":[{\"pointer\":\"/legs/1/ext\"},{\"pointer\":"
                    "\"/legs/01/ext\"},{\"pointer\":\"/legs/-/ext\"},{\"pointer\":\"/\"}]}}";
    json_t *out;
    adapter_error e;
    const char *body = "{\"a/b\":{\"~c\":\"id-1\"},\"legs\":[{\"ext\":\"100\"},{\"ext\":\"101\"}],"
                       "\"\":\"102\"}";
    assert_int_equal(run(m, body, &out, &e), ADAPTER_OK);
    assert_string_equal(json_string_value(first(out, "call_id")), "id-1");
    const json_t *users = first(out, "users"); /* /legs/01 and /legs/- resolve to nothing */
    assert_int_equal(json_array_size(users), 2);
    assert_string_equal(json_string_value(json_array_get(users, 0)), "101");
    assert_string_equal(json_string_value(json_array_get(users, 1)), "102");
    json_decref(out);
}

static void bad_values_named(void **state)
{
    (void)state;
    const char *m = "{\"fields\":{\"call_id\":{\"pointer\":\"/id\"},\"users\":{\"const\":\"101\"},"
                    "\"state\":{\"const\":\"disconnected\"},\"disconnect.code\":{\"pointer\":"
                    "\"/q850\"},\"ts\":{\"pointer\":\"/ts\"},\"record.url\":{\"pointer\":\"/u\"}}}";
    json_t *out;
    adapter_error e;
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char body[600];
    snprintf(body, sizeof body, "{\"id\":\"%s\"}", big);
    assert_int_equal(run(m, body, &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/id");
    assert_non_null(strstr(e.message, "call_id"));
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"q850\":300}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/q850");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"q850\":\"17\",\"u\":[1]}", &out, &e), ADAPTER_OK);
    assert_int_equal(json_integer_value(first(out, "call.disconnect.code")), 17);
    assert_null(first(out, "record")); /* record fields land on record events only */
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"ts\":\"2026-11-23T19:00:00+03:00\"}", &out, &e),
                     ADAPTER_OK);
    assert_string_equal(json_string_value(first(out, "ts")), "2026-11-23T16:00:00.000Z");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"ts\":1e300}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/ts");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"ts\":\"12:00\"}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/ts");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":true}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/id");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"id\":\"d\"}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json");
    json_decref(out);
}

static void kinds_and_targets(void **state)
{
    (void)state;
    const char *m = "{\"fields\":{\"call_id\":{\"pointer\":\"/id\"},\"kind\":{\"pointer\":\"/k\","
                    "\"map\":{\"menu\":\"ivr\",\"rec\":\"record\",\"1\":\"call\"}},\"state\":"
                    "{\"const\":\"appeared\"},\"record.status\":{\"pointer\":\"/ok\",\"map\":"
                    "{\"true\":\"available\",\"false\":\"failed\"}},\"users\":{\"pointer\":\"/x\"},"
                    "\"from.number\":{\"pointer\":\"/n\"}}}";
    json_t *out;
    adapter_error e;
    assert_int_equal(run(m, "{\"id\":\"c\",\"k\":\"menu\",\"n\":\"+1555\"}", &out, &e), ADAPTER_OK);
    assert_string_equal(json_string_value(first(out, "target")), "one_online");
    assert_string_equal(json_string_value(first(out, "ivr.from.number")), "+1555");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"k\":\"rec\",\"ok\":false}", &out, &e), ADAPTER_OK);
    assert_string_equal(json_string_value(first(out, "record.status")), "failed");
    assert_string_equal(json_string_value(first(out, "target")), "call_parties");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"k\":\"rec\"}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/ok"); /* required, and absent */
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"k\":1,\"x\":\"101\"}", &out, &e), ADAPTER_OK);
    assert_string_equal(json_string_value(first(out, "kind")), "call");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"k\":\"x\"}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/k");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\"}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/k");
    json_decref(out);
    assert_int_equal(run(m, "{\"id\":\"c\",\"k\":1}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/x"); /* a call names no user */
    json_decref(out);
}

static void map_lookup(void **state)
{
    (void)state;
    const char *m = "{\"fields\":{\"call_id\":{\"const\":\"c\"},\"users\":{\"const\":\"101\"},"
                    "\"state\":{\"pointer\":\"/s\",\"map\":{\"1.5\":\"connected\",\"true\":"
                    "\"appeared\",\"0.1\":\"on_hold\"}}}}";
    json_t *out;
    adapter_error e;
    static const struct {
        const char *body, *state;
    } cases[] = {{"{\"s\":1.5}", "connected"},
                 {"{\"s\":true}", "appeared"},
                 {"{\"s\":0.1}", "on_hold"},
                 {"{\"s\":\"1.5\"}", "connected"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(run(m, cases[i].body, &out, &e), ADAPTER_OK);
        assert_string_equal(json_string_value(first(out, "call.state")), cases[i].state);
        json_decref(out);
    }
    char body[400];
    snprintf(body, sizeof body, "{\"s\":\"%0300d\"}", 7);
    assert_int_equal(run(m, body, &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/s");
    json_decref(out);
    assert_int_equal(run(m, "{\"s\":\"true\\u0000x\"}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json"); /* jansson refuses a NUL in a string */
    json_decref(out);
    assert_int_equal(run(m, "{\"s\":{}}", &out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "json/s");
    json_decref(out);
}

static void registered(void **state)
{
    (void)state;
    assert_ptr_equal(adapter_find("mapped"), &adapter_mapped);
    assert_null(adapter_mapped.verify);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures),         cmocka_unit_test(settings_refused),
        cmocka_unit_test(form_body),        cmocka_unit_test(pointers),
        cmocka_unit_test(bad_values_named), cmocka_unit_test(kinds_and_targets),
        cmocka_unit_test(map_lookup),       cmocka_unit_test(registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
