/* test_asterisk.c — the asterisk adapter on its recorded fixtures, then what they do not cover:
 * settings, wrong types, odd timestamps, signatures, huge and anonymous values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../adapters/asterisk.c"
#include "fixture_runner.h"

static void fixtures(void **state)
{
    (void)state;
    fixture_totals t = fixture_run_dir(&adapter_asterisk, "../fixtures/asterisk");
    assert_true(t.accepted >= 20);
    assert_true(t.refused >= 14);
}

/* ---- helpers ---- */

#define NOW 1795449602
#define SECRET "whsec_Y2FsbHJlbGF5LXRlc3QtYXN0ZXJpc2std2ViaG9vay1rZXktMzJi"

struct hdr {
    const char *name, *value;
};

static const char *lookup(const adapter_request *req, const char *name)
{
    for (const struct hdr *h = req->header_ctx; h && h->name; h++)
        if (strcasecmp(h->name, name) == 0)
            return h->value;
    return NULL;
}

static enum adapter_status run(const char *subpath, const char *body, const struct hdr *headers,
                               json_t **out, adapter_error *e)
{
    adapter_request r = {.method = "POST",
                         .subpath = subpath,
                         .query = "",
                         .content_type = "application/json",
                         .body = body,
                         .body_len = strlen(body),
                         .header = lookup,
                         .header_ctx = (void *)headers};
    adapter_ctx ctx = {.integration = "acme", .now = NOW};
    *out = json_array();
    enum adapter_status st = adapter_asterisk.parse(&ctx, &r, *out, e);
    if (st != ADAPTER_OK)
        assert_int_equal(json_array_size(*out), 0);
    return st;
}

/* Parses body; expects success and returns the events. */
static json_t *events_of(const char *body)
{
    json_t *out;
    adapter_error e;
    enum adapter_status st = run("", body, NULL, &out, &e);
    if (st != ADAPTER_OK)
        fail_msg("refused: %s: %s", e.field, e.message);
    return out;
}

/* Parses body; expects 400 naming field. */
static void refused(const char *body, const char *field)
{
    json_t *out;
    adapter_error e;
    assert_int_equal(run("", body, NULL, &out, &e), ADAPTER_INVALID);
    if (strcmp(e.field, field) != 0)
        fail_msg("field %s (%s), expected %s", e.field, e.message, field);
    assert_true(e.message[0] != '\0');
    json_decref(out);
}

static const char *str_at(const json_t *events, size_t i, const char *path)
{
    const json_t *v = json_array_get(events, i);
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, "."))
        v = json_object_get(v, tok);
    return json_string_value(v);
}

#define CHAN(id, state, caller, conn, exten)                                                       \
    "{\"id\":\"" id "\",\"name\":\"PJSIP/x\",\"state\":\"" state "\",\"caller\":{\"name\":\"\","   \
    "\"number\":\"" caller "\"},\"connected\":{\"name\":\"\",\"number\":\"" conn "\"},"            \
    "\"dialplan\":{\"context\":\"c\",\"exten\":\"" exten "\",\"priority\":1}}"
#define TRUNK CHAN("1.1", "Up", "+14155550100", "", "14155550199")
#define LEG101 CHAN("1.2", "Ringing", "101", "+14155550100", "101")

/* ---- settings ---- */

static int settings_result(const char *json, adapter_error *e)
{
    json_error_t je;
    json_t *s = json_loads(json, 0, &je);
    assert_non_null(s);
    memset(e, 0, sizeof *e);
    int rc = adapter_asterisk.check_settings(s, e);
    json_decref(s);
    return rc;
}

static void settings_refused(const char *json, const char *field)
{
    adapter_error e;
    assert_int_equal(settings_result(json, &e), -1);
    if (strcmp(e.field, field) != 0)
        fail_msg("%s: field %s (%s), expected %s", json, e.field, e.message, field);
}

static void settings(void **state)
{
    (void)state;
    adapter_error e;
    assert_int_equal(settings_result("{}", &e), 0);
    assert_int_equal(settings_result("{\"webhook_secret\":\"" SECRET "\"}", &e), 0);
    assert_int_equal(settings_result("{\"asterisk\":{\"ari_url\":\"https://pbx.example.com/ari\","
                                     "\"ari_user\":\"u\",\"ari_password\":\"p\",\"app\":\"crm\","
                                     "\"endpoint\":\"SIP/{extension}@trunk\"}}",
                                     &e),
                     0);
    assert_int_equal(settings_result("{\"asterisk\":{}}", &e), 0);
    settings_refused("{\"webhook_secret\":\"secret\"}", "webhook_secret");
    settings_refused("{\"webhook_secret\":\"whsec_\"}", "webhook_secret");
    settings_refused("{\"webhook_secret\":\"whsec_!!not base64!!\"}", "webhook_secret");
    settings_refused("{\"webhook_secret\":42}", "webhook_secret");
    settings_refused("{\"asterisk\":\"http://pbx\"}", "asterisk");
    settings_refused("{\"asterisk\":{\"ari_url\":\"ftp://pbx/ari\"}}", "asterisk.ari_url");
    settings_refused("{\"asterisk\":{\"ari_url\":\"pbx:8088/ari\"}}", "asterisk.ari_url");
    settings_refused("{\"asterisk\":{\"ari_url\":\"http://\"}}", "asterisk.ari_url");
    settings_refused("{\"asterisk\":{\"ari_url\":\"http://pbx example/\"}}", "asterisk.ari_url");
    settings_refused("{\"asterisk\":{\"ari_user\":7}}", "asterisk.ari_user");
    settings_refused("{\"asterisk\":{\"ari_password\":\"\"}}", "asterisk.ari_password");
    settings_refused("{\"asterisk\":{\"app\":\"my app\"}}", "asterisk.app");
    settings_refused("{\"asterisk\":{\"endpoint\":\"PJSIP/101\"}}", "asterisk.endpoint");
    settings_refused("{\"asterisk\":{\"ari_uri\":\"http://pbx/ari\"}}", "asterisk.ari_uri");
}

/* ---- parse: what the fixtures do not cover ---- */

static void wrong_types(void **state)
{
    (void)state;
    refused("42", "");
    refused("\"StasisStart\"", "");
    refused("{\"type\":\"StasisStart\",\"channel\":[]}", "channel");
    refused("{\"type\":\"StasisStart\",\"channel\":{\"id\":\"\"}}", "channel.id");
    refused("{\"type\":\"StasisStart\",\"channel\":{\"id\":\"1\",\"state\":5}}", "channel.state");
    refused("{\"type\":\"StasisStart\",\"channel\":{\"id\":\"1\",\"caller\":\"101\"}}",
            "channel.caller");
    refused("{\"type\":\"StasisStart\",\"channel\":{\"id\":\"1\",\"caller\":{\"number\":101}}}",
            "channel.caller.number");
    refused("{\"type\":\"StasisStart\",\"channel\":{\"id\":\"1\",\"dialplan\":{\"exten\":[]}}}",
            "channel.dialplan.exten");
    refused("{\"type\":\"Dial\",\"peer\":" LEG101 "}", "dialstatus");
    refused("{\"type\":\"Dial\",\"peer\":" LEG101 ",\"dialstatus\":3}", "dialstatus");
    refused("{\"type\":\"Dial\",\"caller\":7,\"peer\":" LEG101 ",\"dialstatus\":\"ANSWER\"}",
            "caller");
    refused("{\"type\":\"Dial\",\"dialstatus\":\"ANSWER\"}", "peer");
    refused("{\"type\":\"ChannelDestroyed\",\"channel\":" TRUNK "}", "cause");
    refused("{\"type\":\"ChannelDestroyed\",\"cause\":-1,\"channel\":" TRUNK "}", "cause");
    refused("{\"type\":\"ChannelDestroyed\",\"cause\":16.5,\"channel\":" TRUNK "}", "cause");
    refused("{\"type\":\"ChannelDestroyed\",\"cause\":16,\"cause_txt\":16,\"channel\":" TRUNK "}",
            "cause_txt");
    refused("{\"type\":\"ChannelHangupRequest\",\"cause\":\"16\",\"channel\":" TRUNK "}", "cause");
    refused("{\"type\":\"RecordingFinished\"}", "recording");
    refused("{\"type\":\"RecordingFinished\",\"recording\":{\"state\":\"done\"}}",
            "recording.name");
    refused("{\"type\":\"RecordingFinished\",\"recording\":{\"name\":\"r\",\"duration\":-4}}",
            "recording.duration");
    refused("{\"type\":\"RecordingFinished\",\"recording\":{\"name\":\"r\",\"duration\":\"4\"}}",
            "recording.duration");
    refused("[{\"type\":\"StasisEnd\"},{\"type\":\"StasisStart\",\"channel\":{\"id\":5}}]",
            "messages[1].channel.id");
    refused("[{\"type\":\"StasisEnd\"},{\"type\":null}]", "messages[1].type");
    refused("{\"type\":\"StasisEnd\",\"timestamp\":1795446000}", "timestamp");
}

static void timestamps(void **state)
{
    (void)state;
    static const struct {
        const char *in, *ts;
    } ok[] = {
        {"2026-11-23T15:00:00.012+0000", "2026-11-23T15:00:00.012Z"},
        {"2026-11-23T15:00:00.012+00:00", "2026-11-23T15:00:00.012Z"},
        {"2026-11-23T15:00:00.012Z", "2026-11-23T15:00:00.012Z"},
        {"2026-11-23T12:00:00.5-0300", "2026-11-23T15:00:00.500Z"},
        {"2026-11-23T15:00:00.123456+0000", "2026-11-23T15:00:00.123Z"},
        {"2026-11-23T15:00:00+0000", "2026-11-23T15:00:00.000Z"},
        {"2024-02-29T23:59:59.999+0100", "2024-02-29T22:59:59.999Z"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"type\":\"StasisStart\",\"timestamp\":\"%s\",\"channel\":" TRUNK "}", ok[i].in);
        json_t *ev = events_of(body);
        assert_string_equal(str_at(ev, 0, "ts"), ok[i].ts);
        json_decref(ev);
    }
    static const char *const bad[] = {
        "yesterday",
        "2026-11-23 15:00:00.012+0000",
        "2026-02-30T15:00:00.000+0000",
        "2026-13-01T15:00:00.000+0000",
        "1969-12-31T23:59:59.000+0000",
        "2026-11-23T15:00:00.+0000",
        "2026-11-23T15:00:00.012+2500",
        "2026-11-23T15:00:00.012",
        "2026-11-23T15:00:00.012+0000x",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"type\":\"StasisStart\",\"timestamp\":\"%s\",\"channel\":" TRUNK "}", bad[i]);
        refused(body, "timestamp");
    }
}

/* Without a timestamp: no ts (the broker stamps it) and no order (nothing to order by). */
static void no_timestamp(void **state)
{
    (void)state;
    json_t *ev = events_of("{\"type\":\"ChannelStateChange\",\"channel\":" TRUNK "}");
    assert_int_equal(json_array_size(ev), 1);
    assert_null(json_object_get(json_array_get(ev, 0), "ts"));
    assert_null(json_object_get(json_array_get(ev, 0), "order"));
    field_error e;
    assert_int_equal(event_check_all(ev, &e), 0);
    json_decref(ev);
}

static void order_seq(void **state)
{
    (void)state;
    json_t *ev = events_of(
        "[{\"type\":\"ChannelStateChange\",\"timestamp\":\"2026-11-23T15:00:00.000+0000\","
        "\"channel\":" TRUNK "},{\"type\":\"ChannelDestroyed\",\"timestamp\":"
        "\"2026-11-23T15:00:00.000+0000\",\"cause\":16,\"cause_txt\":\"Normal Clearing\","
        "\"channel\":" TRUNK "}]");
    const json_t *o1 = json_object_get(json_array_get(ev, 0), "order");
    const json_t *o2 = json_object_get(json_array_get(ev, 1), "order");
    assert_string_equal(json_string_value(json_object_get(o1, "key")), "1.1");
    /* the same millisecond: the hang-up still orders after the answer */
    assert_int_equal(json_integer_value(json_object_get(o1, "seq")), 1795446000000LL * 4 + 1);
    assert_int_equal(json_integer_value(json_object_get(o2, "seq")), 1795446000000LL * 4 + 2);
    json_decref(ev);
}

static void channel_states(void **state)
{
    (void)state;
    static const struct {
        const char *ari, *state; /* NULL: no event */
    } cases[] = {
        {"Ring", "appeared"},     {"Ringing", "appeared"}, {"Dialing", "appeared"},
        {"Pre-ring", "appeared"}, {"Up", "connected"},     {"Down", NULL},
        {"Busy", NULL},           {"Unknown", NULL},       {"Rsrved", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"type\":\"ChannelStateChange\",\"channel\":" CHAN("9.9", "%s", "+15550001", "",
                                                                      "102") "}",
                 cases[i].ari);
        json_t *ev = events_of(body);
        assert_int_equal(json_array_size(ev), cases[i].state ? 1 : 0);
        if (cases[i].state)
            assert_string_equal(str_at(ev, 0, "call.state"), cases[i].state);
        json_decref(ev);
    }
}

static void dial_statuses(void **state)
{
    (void)state;
    static const struct {
        const char *status, *state;
        int code; /* -1: none; -2: no event */
    } cases[] = {
        {"", NULL, -2},
        {"PROGRESS", "appeared", -1},
        {"PROCEEDING", "appeared", -1},
        {"CHANUNAVAIL", "disconnected", 20},
        {"CONGESTION", "disconnected", 34},
        {"TORTURE", NULL, -2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[1024];
        snprintf(body, sizeof body,
                 "{\"type\":\"Dial\",\"caller\":" TRUNK ",\"peer\":" LEG101
                 ",\"dialstatus\":\"%s\"}",
                 cases[i].status);
        json_t *ev = events_of(body);
        assert_int_equal(json_array_size(ev), cases[i].code == -2 ? 0 : 1);
        if (cases[i].state)
            assert_string_equal(str_at(ev, 0, "call.state"), cases[i].state);
        const json_t *code = json_object_get(
            json_object_get(json_object_get(json_array_get(ev, 0), "call"), "disconnect"), "code");
        if (cases[i].code >= 0)
            assert_int_equal(json_integer_value(code), cases[i].code);
        else
            assert_null(code);
        json_decref(ev);
    }
}

/* A channel originated over ARI dials with no caller: the peer is the call. */
static void dial_without_caller(void **state)
{
    (void)state;
    json_t *ev = events_of("{\"type\":\"Dial\",\"timestamp\":\"2026-11-23T15:00:00.000+0000\","
                           "\"peer\":" LEG101 ",\"dialstatus\":\"RINGING\"}");
    assert_string_equal(str_at(ev, 0, "call_id"), "1.2");
    assert_string_equal(str_at(ev, 0, "order.key"), "1.2");
    assert_string_equal(str_at(ev, 0, "call.from.extension"), "101");
    assert_string_equal(str_at(ev, 0, "call.to.number"), "+14155550100");
    json_decref(ev);
}

/* A zone that carries 9999-12-31 past the year RFC 3339 can write is refused, not a 500. */
static void time_past_year_9999(void **state)
{
    (void)state;
    json_t *out = json_array();
    adapter_error e;
    const char *body = "{\"type\":\"ChannelDestroyed\",\"cause\":16,"
                       "\"timestamp\":\"9999-12-31T23:59:59.000-2359\",\"channel\":" TRUNK "}";
    adapter_request q = {
        .method = "POST", .subpath = "", .query = "", .body = body, .body_len = strlen(body)};
    adapter_ctx ctx = {.integration = "acme", .now = 0};
    assert_int_equal(adapter_asterisk.parse(&ctx, &q, out, &e), ADAPTER_INVALID);
    assert_string_equal(e.field, "timestamp");
    json_decref(out);
}

static void causes(void **state)
{
    (void)state;
    /* no cause_txt, or one too long to keep: the Q.850 name */
    json_t *ev = events_of("[{\"type\":\"ChannelDestroyed\",\"cause\":17,\"channel\":" TRUNK "},"
                           "{\"type\":\"ChannelDestroyed\",\"cause\":99,\"cause_txt\":\"\","
                           "\"channel\":" TRUNK "}]");
    /* each end is two events: the channel's parties, then its call's (target call_parties) */
    assert_string_equal(str_at(ev, 0, "call.disconnect.text"), "user busy");
    assert_string_equal(str_at(ev, 1, "target"), "call_parties");
    assert_string_equal(str_at(ev, 1, "call.disconnect.text"), "user busy");
    assert_string_equal(str_at(ev, 2, "call.disconnect.text"), "unspecified cause");
    json_decref(ev);
    char body[1024], txt[300];
    memset(txt, 'x', sizeof txt - 1);
    txt[sizeof txt - 1] = '\0';
    snprintf(body, sizeof body,
             "{\"type\":\"ChannelDestroyed\",\"cause\":0,\"cause_txt\":\"%s\",\"channel\":" TRUNK
             "}",
             txt);
    ev = events_of(body);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(json_array_get(ev, 0), "call"), "disconnect"), "code")),
        0);
    field_error e;
    assert_int_equal(event_check_all(ev, &e), 0);
    json_decref(ev);
}

/* Anonymous callers, odd numbers, long ids: never a broken event. */
static void odd_parties(void **state)
{
    (void)state;
    json_t *ev =
        events_of("{\"type\":\"StasisStart\",\"channel\":" CHAN("2.1", "Ring", "", "", "") "}");
    assert_int_equal(json_array_size(ev), 0);
    json_decref(ev);
    ev = events_of(
        "{\"type\":\"StasisStart\",\"channel\":" CHAN("2.1", "Ring", "Jane Doe", "", "101") "}");
    assert_int_equal(json_array_size(ev), 1);
    assert_string_equal(str_at(ev, 0, "call.from.number"), "Jane Doe");
    assert_int_equal(json_array_size(json_object_get(json_array_get(ev, 0), "users")), 1);
    json_decref(ev);
    char num[70], body[1024];
    memset(num, '5', sizeof num - 1);
    num[sizeof num - 1] = '\0';
    snprintf(body, sizeof body,
             "{\"type\":\"StasisStart\",\"channel\":{\"id\":\"3\",\"caller\":{\"number\":\"%s\"},"
             "\"dialplan\":{\"exten\":\"102\"}}}",
             num);
    ev = events_of(body);
    assert_null(json_object_get(json_object_get(json_array_get(ev, 0), "call"), "from"));
    assert_int_equal(json_array_size(json_object_get(json_array_get(ev, 0), "users")), 1);
    field_error e;
    assert_int_equal(event_check_all(ev, &e), 0);
    json_decref(ev);
    char id[120];
    memset(id, '7', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    snprintf(body, sizeof body, "{\"type\":\"StasisStart\",\"channel\":{\"id\":\"%s\"}}", id);
    refused(body, "channel.id");
}

static void recordings(void **state)
{
    (void)state;
    json_t *ev = events_of(
        "[{\"type\":\"RecordingFinished\",\"recording\":{\"name\":\"a b/c&d\",\"state\":\"failed\","
        "\"target_uri\":\"channel:1.1\"}},"
        "{\"type\":\"RecordingFinished\",\"recording\":{\"name\":\"r\",\"target_uri\":\"bridge:b-"
        "1\"}}]");
    assert_int_equal(json_array_size(ev), 1);
    assert_string_equal(str_at(ev, 0, "record.url"), "/v1/record?recording_id=a%20b%2Fc%26d");
    assert_string_equal(str_at(ev, 0, "record.status"), "failed");
    assert_string_equal(str_at(ev, 0, "target"), "call_parties");
    assert_null(json_object_get(json_object_get(json_array_get(ev, 0), "record"), "duration_s"));
    json_decref(ev);
}

static void bodies(void **state)
{
    (void)state;
    json_t *out;
    adapter_error e;
    assert_int_equal(run("/events", "{\"type\":\"StasisEnd\"}", NULL, &out, &e), ADAPTER_NOT_FOUND);
    json_decref(out);
    assert_int_equal(run("/", "{\"type\":\"StasisEnd\"}", NULL, &out, &e), ADAPTER_OK);
    json_decref(out);
    refused("", "");
    refused("[]", "");
    size_t n = 1001 * 20 + 3;
    char *big = malloc(n);
    size_t used = (size_t)snprintf(big, n, "[");
    for (int i = 0; i < 1001; i++)
        used += (size_t)snprintf(big + used, n - used, "%s{\"type\":\"X\"}", i ? "," : "");
    snprintf(big + used, n - used, "]");
    refused(big, "");
    free(big);
}

static enum adapter_status verify_with(const char *secret, const struct hdr *h, const char *body,
                                       adapter_error *e)
{
    json_t *settings = secret ? json_pack("{ss}", "webhook_secret", secret) : json_object();
    adapter_request r = {.method = "POST",
                         .subpath = "",
                         .query = "",
                         .body = body,
                         .body_len = strlen(body),
                         .header = lookup,
                         .header_ctx = (void *)h};
    adapter_ctx ctx = {.integration = "acme", .settings = settings, .now = NOW};
    enum adapter_status st = adapter_asterisk.verify(&ctx, &r, e);
    json_decref(settings);
    return st;
}

static void signatures(void **state)
{
    (void)state;
    const char *body = "{\"type\":\"StasisEnd\"}";
    char sig[128], two[300], ts[24], future[24];
    adapter_error e;
    assert_int_equal(stdwh_sign(SECRET, "msg_9", NOW - 30, body, strlen(body), sig, sizeof sig), 0);
    snprintf(ts, sizeof ts, "%d", NOW - 30);
    snprintf(future, sizeof future, "%d", NOW + 400);
    snprintf(two, sizeof two, "v1,AAAA %s", sig);
    const struct hdr good[] = {
        {"webhook-id", "msg_9"}, {"Webhook-Timestamp", ts}, {"webhook-signature", sig}, {0}};
    const struct hdr both[] = {
        {"webhook-id", "msg_9"}, {"webhook-timestamp", ts}, {"webhook-signature", two}, {0}};
    const struct hdr late[] = {
        {"webhook-id", "msg_9"}, {"webhook-timestamp", future}, {"webhook-signature", sig}, {0}};
    const struct hdr no_id[] = {{"webhook-timestamp", ts}, {"webhook-signature", sig}, {0}};
    const struct hdr none[] = {{"Authorization", "Bearer x"}, {0}};
    assert_int_equal(verify_with(SECRET, good, body, &e), ADAPTER_OK);
    assert_int_equal(verify_with(SECRET, both, body, &e), ADAPTER_OK);
    assert_int_equal(verify_with(SECRET, none, body, &e), ADAPTER_NO_SIGNATURE);
    assert_int_equal(verify_with(SECRET, good, "{\"type\":\"StasisEnd\" }", &e),
                     ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.field, "webhook-signature");
    assert_int_equal(verify_with(SECRET, late, body, &e), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.field, "webhook-timestamp");
    assert_int_equal(verify_with(SECRET, no_id, body, &e), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.field, "webhook-id");
    assert_int_equal(verify_with(NULL, good, body, &e), ADAPTER_BAD_SIGNATURE);
    assert_string_equal(e.field, "webhook-signature");
    assert_int_equal(verify_with("whsec_b3RoZXIta2V5", good, body, &e), ADAPTER_BAD_SIGNATURE);
}

static void answer(void **state)
{
    (void)state;
    adapter_counts c = {.accepted = 2, .duplicates = 1, .ignored = 0};
    adapter_answer a;
    assert_int_equal(adapter_asterisk.answer(NULL, &c, &a), 0);
    assert_int_equal(a.status, 200);
    assert_string_equal(a.content_type, "application/json");
    assert_string_equal(a.body, "{\"result\":{\"code\":0,\"message\":\"ok\"},\"accepted\":2,"
                                "\"duplicates\":1,\"ignored\":0,\"stale\":0}");
    assert_int_equal(a.body_len, strlen(a.body));
    free(a.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixtures),
        cmocka_unit_test(settings),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(timestamps),
        cmocka_unit_test(no_timestamp),
        cmocka_unit_test(order_seq),
        cmocka_unit_test(channel_states),
        cmocka_unit_test(dial_statuses),
        cmocka_unit_test(dial_without_caller),
        cmocka_unit_test(causes),
        cmocka_unit_test(time_past_year_9999),
        cmocka_unit_test(odd_parties),
        cmocka_unit_test(recordings),
        cmocka_unit_test(bodies),
        cmocka_unit_test(signatures),
        cmocka_unit_test(answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
