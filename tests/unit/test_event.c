/* test_event.c — keys, ts stamping, the fixed key order and one copy per user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../broker/event.c"
#include <openssl/evp.h>

#define NOW_MS 1795456800123LL /* 2026-11-23T18:00:00.123Z */

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static void format_ts(void **state)
{
    (void)state;
    char buf[32];
    event_format_ts(NOW_MS, buf, sizeof buf);
    assert_string_equal(buf, "2026-11-23T18:00:00.123Z");
    event_format_ts(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    event_format_ts(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    event_format_ts(951782400005LL, buf, sizeof buf);
    assert_string_equal(buf, "2000-02-29T00:00:00.005Z");
}

static void fixed_key_order_and_stamped_ts(void **state)
{
    (void)state;
    json_t *ev = load("{\"raw\":{\"z\":1,\"a\":2},\"call\":{\"state\":\"connected\"},"
                      "\"users\":[\"101\"],\"call_id\":\"c-1\",\"kind\":\"call\"}");
    event_prepared p;
    assert_int_equal(event_prepare(ev, "acme", "native", NOW_MS, &p), 0);
    assert_int_equal(p.n_users, 1);
    assert_string_equal(p.users[0], "101");
    assert_string_equal(p.json, "{\"kind\":\"call\",\"integration\":\"acme\",\"user\":\"\1\","
                                "\"call_id\":\"c-1\",\"ts\":\"2026-11-23T18:00:00.123Z\","
                                "\"source\":\"native\",\"call\":{\"state\":\"connected\"},"
                                "\"raw\":{\"z\":1,\"a\":2}}");
    assert_int_equal(p.json_len, strlen(p.json));
    char *copy = event_for_user(&p, "101", NULL, false);
    assert_string_equal(copy, "{\"kind\":\"call\",\"integration\":\"acme\",\"user\":\"101\","
                              "\"call_id\":\"c-1\",\"ts\":\"2026-11-23T18:00:00.123Z\","
                              "\"source\":\"native\",\"call\":{\"state\":\"connected\"},"
                              "\"raw\":{\"z\":1,\"a\":2}}");
    free(copy);
    assert_int_equal(strlen(p.key), 64);
    event_prepared_free(&p);
    json_decref(ev);
}

static void given_ts_key_and_unknown_fields(void **state)
{
    (void)state;
    json_t *ev = load("{\"kind\":\"record\",\"users\":[\"7\"],\"call_id\":\"c\","
                      "\"ts\":\"2026-01-02T03:04:05.006Z\",\"key\":\"pbx-42\","
                      "\"record\":{\"status\":\"available\"},\"call\":{\"state\":\"appeared\"},"
                      "\"extra\":true}");
    event_prepared p;
    assert_int_equal(event_prepare(ev, "acme", "native", NOW_MS, &p), 0);
    assert_string_equal(p.key, "pbx-42");
    char *copy = event_for_user(&p, "7", NULL, false);
    assert_string_equal(copy, "{\"kind\":\"record\",\"integration\":\"acme\",\"user\":\"7\","
                              "\"call_id\":\"c\",\"ts\":\"2026-01-02T03:04:05.006Z\","
                              "\"source\":\"native\",\"record\":{\"status\":\"available\"}}");
    free(copy);
    event_prepared_free(&p);
    json_decref(ev);
}

/* sha256 of text as hex, computed with OpenSSL directly, not through digest.c */
static void sha256_hex(const char *text, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen;
    EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
}

static void key_is_stable_across_retries(void **state)
{
    (void)state;
    /* the same event received at another time (reordered fields: see test_native) */
    json_t *a = load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c-9\","
                     "\"call\":{\"state\":\"appeared\",\"from\":{\"number\":\"1\"}}}");
    json_t *b = load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c-9\","
                     "\"call\":{\"state\":\"appeared\",\"from\":{\"number\":\"1\"}}}");
    json_t *c = load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c-9\","
                     "\"call\":{\"state\":\"connected\",\"from\":{\"number\":\"1\"}}}");
    event_prepared pa, pb, pc;
    assert_int_equal(event_prepare(a, "acme", "native", NOW_MS, &pa), 0);
    assert_int_equal(event_prepare(b, "acme", "native", NOW_MS + 5000, &pb), 0);
    assert_int_equal(event_prepare(c, "acme", "native", NOW_MS, &pc), 0);
    assert_string_equal(pa.key, pb.key);
    assert_string_not_equal(pa.key, pc.key);
    assert_string_not_equal(pa.json, pb.json); /* different stamped ts */
    /* the key is sha256 of the content lines, computed independently here */
    const char *canon =
        "call\n\"c-9\"\n\n101,\n{\"state\":\"appeared\",\"from\":{\"number\":\"1\"}}\n";
    char hex[65];
    sha256_hex(canon, hex);
    assert_string_equal(pa.key, hex);
    event_prepared_free(&pa);
    event_prepared_free(&pb);
    event_prepared_free(&pc);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* A target's name is part of the content (the key hashes the pieces without joining them). */
static void key_of_a_target_event(void **state)
{
    (void)state;
    json_t *ev = load("{\"kind\":\"call\",\"target\":\"one_online\",\"call_id\":\"c-9\","
                      "\"ts\":\"2026-01-02T03:04:05.006Z\",\"call\":{\"state\":\"appeared\"},"
                      "\"raw\":{\"x\":[1]}}");
    event_prepared p;
    assert_int_equal(event_prepare(ev, "acme", "native", NOW_MS, &p), 0);
    const char *canon = "call\n\"c-9\"\n2026-01-02T03:04:05.006Z\n@one_online\n"
                        "{\"state\":\"appeared\"}\n{\"x\":[1]}";
    char hex[65];
    sha256_hex(canon, hex);
    assert_string_equal(p.key, hex);
    event_prepared_free(&p);
    json_decref(ev);
}

static void one_copy_per_distinct_user(void **state)
{
    (void)state;
    json_t *ev = load("{\"kind\":\"ivr\",\"users\":[\"101\",\"102\",\"101\",\"103\"],"
                      "\"call_id\":\"c\",\"ts\":\"2026-01-01T00:00:00.000Z\","
                      "\"ivr\":{\"state\":\"appeared\"}}");
    event_prepared p;
    assert_int_equal(event_prepare(ev, "acme", "mango", NOW_MS, &p), 0);
    assert_int_equal(p.n_users, 3);
    static const char *const want[] = {"101", "102", "103"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(p.users[i], want[i]);
        char expect[512], *copy = event_for_user(&p, want[i], NULL, false);
        snprintf(expect, sizeof expect,
                 "{\"kind\":\"ivr\",\"integration\":\"acme\",\"user\":\"%s\",\"call_id\":\"c\","
                 "\"ts\":\"2026-01-01T00:00:00.000Z\",\"source\":\"mango\","
                 "\"ivr\":{\"state\":\"appeared\"}}",
                 want[i]);
        assert_string_equal(copy, expect);
        free(copy);
    }
    event_prepared_free(&p);
    json_decref(ev);
}

static void refuses_events_without_users(void **state)
{
    (void)state;
    event_prepared p;
    json_t *none = load("{\"kind\":\"call\",\"call_id\":\"c\",\"call\":{\"state\":\"appeared\"}}");
    json_t *empty = load("{\"kind\":\"call\",\"users\":[],\"call_id\":\"c\"}");
    json_t *num = load("{\"kind\":\"call\",\"users\":[1],\"call_id\":\"c\"}");
    json_t *arr = load("[1]");
    assert_int_equal(event_prepare(none, "acme", "native", NOW_MS, &p), -1);
    assert_int_equal(p.n_users, 0);
    assert_null(p.key);
    assert_int_equal(event_prepare(empty, "acme", "native", NOW_MS, &p), -1);
    assert_int_equal(event_prepare(num, "acme", "native", NOW_MS, &p), -1);
    assert_int_equal(event_prepare(arr, "acme", "native", NOW_MS, &p), -1);
    json_decref(none);
    json_decref(empty);
    json_decref(num);
    json_decref(arr);
}

/* The state block, NUL-separated, compared whole. */
static void expect_state(const event_prepared *p, const char *want, size_t want_len)
{
    if (p->state_len != want_len || memcmp(p->state, want, want_len) != 0) {
        for (size_t i = 0; i < p->state_len; i++)
            print_message("%c", p->state[i] ? p->state[i] : '|');
        print_message("\n");
    }
    assert_int_equal(p->state_len, want_len);
    assert_memory_equal(p->state, want, want_len);
}

#define EXPECT_STATE(p, lit) expect_state(p, lit, sizeof lit - 1)

static void state_of_a_call(void **state)
{
    (void)state;
    json_t *ev = load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c-1\","
                      "\"ts\":\"2026-01-02T03:04:05.006Z\",\"order\":{\"key\":\"leg\",\"seq\":42},"
                      "\"call\":{\"state\":\"disconnected\",\"direction\":\"inbound\","
                      "\"from\":{\"number\":\"55\\\"1\"},\"to\":{\"extension\":\"101\"},"
                      "\"line\":\"L1\",\"disconnect\":{\"code\":17,\"text\":\"User busy\"},"
                      "\"campaign\":\"x\"}}");
    event_prepared p;
    assert_int_equal(event_prepare(ev, "acme", "native", NOW_MS, &p), 0);
    EXPECT_STATE(&p, "c-1\0call\0disconnected\00042\0leg\0direction\0inbound\0line\0L1\0"
                     "from\0{\"number\":\"55\\\"1\"}\0to\0{\"extension\":\"101\"}\0code\00017\0"
                     "text\0User busy\0ts\0002026-01-02T03:04:05.006Z\0");
    json_decref(ev);
    event_prepared_free(&p);
}

/* An adapter's party may carry members the contract does not know, nested and with quotes
 * and braces in strings: the parties are still cut whole from the call object's dump. */
static void parties_cut_whole_from_the_dump(void **state)
{
    (void)state;
    json_t *ev = load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c\","
                      "\"ts\":\"2026-01-02T03:04:05.006Z\",\"call\":{\"state\":\"appeared\","
                      "\"line\":\"\\\"to\\\":{\",\"from\":{\"number\":\"1\",\"x\":{\"y\":[\"}\","
                      "{\"z\":\"\\\\\\\"to\\\":\"}]},\"n\":[1,2]},\"to\":{\"extension\":\"7\"}}}");
    event_prepared p;
    assert_int_equal(event_prepare(ev, "acme", "native", NOW_MS, &p), 0);
    EXPECT_STATE(&p, "c\0call\0appeared\0\0\0line\0\"to\":{\0"
                     "from\0{\"number\":\"1\",\"x\":{\"y\":[\"}\",{\"z\":\"\\\\\\\"to\\\":\"}]},"
                     "\"n\":[1,2]}\0to\0{\"extension\":\"7\"}\0ts\0002026-01-02T03:04:05.006Z\0");
    event_prepared_free(&p);
    json_decref(ev);
}

static void state_of_record_ivr_and_route_result(void **state)
{
    (void)state;
    json_t *rec = load("{\"kind\":\"record\",\"users\":[\"7\"],\"call_id\":\"c\","
                       "\"ts\":\"2026-01-02T03:04:05.006Z\",\"record\":{\"status\":\"available\","
                       "\"recording_id\":\"r-1\",\"url\":\"https://x/r\",\"duration_s\":12.5}}");
    json_t *ivr = load("{\"kind\":\"ivr\",\"target\":\"one_online\",\"call_id\":\"c\","
                       "\"ts\":\"2026-01-02T03:04:05.006Z\",\"ivr\":{\"state\":\"appeared\","
                       "\"from\":{\"number\":\"1\"}}}");
    json_t *rr = load("{\"kind\":\"route_result\",\"users\":[\"7\"],\"call_id\":\"c\","
                      "\"route_result\":{\"command_id\":\"k\",\"result\":0}}");
    event_prepared p;
    assert_int_equal(event_prepare(rec, "acme", "native", NOW_MS, &p), 0);
    EXPECT_STATE(&p, "c\0record\0\0\0\0rec_id\0r-1\0rec_url\0https://x/r\0rec_status\0available\0"
                     "rec_duration\00012.5\0ts\0002026-01-02T03:04:05.006Z\0");
    event_prepared_free(&p);
    assert_int_equal(event_prepare(ivr, "acme", "native", NOW_MS, &p), 0);
    EXPECT_STATE(&p, "c\0ivr\0appeared\0\0\0from\0{\"number\":\"1\"}\0"
                     "ts\0002026-01-02T03:04:05.006Z\0");
    assert_int_equal(p.target, EVENT_TO_ONE_ONLINE);
    assert_int_equal(p.n_users, 0);
    event_prepared_free(&p);
    assert_int_equal(event_prepare(rr, "acme", "native", NOW_MS, &p), 0);
    EXPECT_STATE(&p, "c\0route_result\0\0\0\0");
    event_prepared_free(&p);
    json_decref(rec);
    json_decref(ivr);
    json_decref(rr);
}

/* A disconnected call event gets a slot for the group flag, unless the adapter decided it. */
static void group_slot_only_when_undecided(void **state)
{
    (void)state;
    json_t *open =
        load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c\","
             "\"ts\":\"2026-01-02T03:04:05.006Z\",\"call\":{\"state\":\"disconnected\"}}");
    json_t *given = load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c\","
                         "\"ts\":\"2026-01-02T03:04:05.006Z\",\"call\":{\"state\":\"disconnected\","
                         "\"is_group_disconnect\":false}}");
    json_t *ringing = load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c\","
                           "\"call\":{\"state\":\"appeared\"}}");
    event_prepared p;
    assert_int_equal(event_prepare(open, "acme", "native", NOW_MS, &p), 0);
    assert_non_null(strchr(p.json, EVENT_MARK_GROUP));
#define BASE(flag)                                                                                 \
    "{\"kind\":\"call\",\"integration\":\"acme\",\"user\":\"101\",\"call_id\":\"c\","              \
    "\"ts\":\"2026-01-02T03:04:05.006Z\",\"source\":\"native\","                                   \
    "\"call\":{\"state\":\"disconnected\"" flag "}}"
    char *copy = event_for_user(&p, "101", NULL, true);
    assert_string_equal(copy, BASE(",\"is_group_disconnect\":true"));
    free(copy);
    copy = event_for_user(&p, "101", NULL, false);
    assert_string_equal(copy, BASE(""));
    json_t *parsed = load(copy); /* valid JSON either way */
    json_decref(parsed);
    free(copy);
    event_prepared_free(&p);
    assert_int_equal(event_prepare(given, "acme", "native", NOW_MS, &p), 0);
    assert_null(strchr(p.json, EVENT_MARK_GROUP));
    event_prepared_free(&p);
    assert_int_equal(event_prepare(ringing, "acme", "native", NOW_MS, &p), 0);
    assert_null(strchr(p.json, EVENT_MARK_GROUP));
    event_prepared_free(&p);
    json_decref(open);
    json_decref(given);
    json_decref(ringing);
}

/* A command's result without call_id: the script splices the command's call in. */
static void command_target_takes_the_call_id(void **state)
{
    (void)state;
    json_t *ev = load("{\"kind\":\"route_result\",\"target\":\"command\","
                      "\"ts\":\"2026-01-02T03:04:05.006Z\","
                      "\"route_result\":{\"command_id\":\"cmd-9\",\"result\":0}}");
    event_prepared p;
    assert_int_equal(event_prepare(ev, "acme", "native", NOW_MS, &p), 0);
    assert_int_equal(p.target, EVENT_TO_COMMAND);
    assert_string_equal(p.command_id, "cmd-9");
    assert_non_null(strchr(p.json, EVENT_MARK_CALL_ID));
    EXPECT_STATE(&p, "\0route_result\0\0\0\0");
    char *copy = event_for_user(&p, "102", "\"c-7\"", false);
    assert_string_equal(copy,
                        "{\"kind\":\"route_result\",\"integration\":\"acme\",\"user\":\"102\","
                        "\"call_id\":\"c-7\",\"ts\":\"2026-01-02T03:04:05.006Z\","
                        "\"source\":\"native\",\"route_result\":{\"command_id\":\"cmd-9\","
                        "\"result\":0}}");
    free(copy);
    event_prepared_free(&p);
    json_decref(ev);
}

/* The content key tells a target from named users; an order does not change it: two legs'
 * reports of one fact are one event (key_is_stable_across_retries covers the rest). */
static void content_key_covers_target_not_order(void **state)
{
    (void)state;

    const char *variants[] = {
        "\"users\":[\"101\"]",
        "\"target\":\"call_parties\"",
        "\"target\":\"one_online\"",
        "\"users\":[\"101\"],\"order\":{\"key\":\"k\",\"seq\":1}",
        "\"users\":[\"101\"],\"order\":{\"key\":\"other-leg\",\"seq\":2}",
    };
    enum { N = sizeof variants / sizeof *variants };
    char *keys[N];
    for (size_t i = 0; i < N; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "{\"kind\":\"call\",%s,\"call_id\":\"c\",\"call\":{\"state\":\"appeared\"}}",
                 variants[i]);
        json_t *ev = load(text);
        event_prepared p;
        assert_int_equal(event_prepare(ev, "acme", "native", NOW_MS, &p), 0);
        keys[i] = strdup(p.key);
        event_prepared_free(&p);
        json_decref(ev);
    }
    for (size_t i = 0; i < 3; i++)
        for (size_t j = i + 1; j < 3; j++)
            assert_string_not_equal(keys[i], keys[j]);
    assert_string_equal(keys[3], keys[0]);
    assert_string_equal(keys[4], keys[0]);
    for (size_t i = 0; i < N; i++)
        free(keys[i]);
}

/* A control byte in a value is escaped by jansson: no mark appears but the script's own. */
static void control_bytes_never_look_like_marks(void **state)
{
    (void)state;
    json_t *ev = load("{\"kind\":\"call\",\"users\":[\"101\"],\"call_id\":\"c\\u0001\\u0002\","
                      "\"call\":{\"state\":\"disconnected\",\"line\":\"\\u0003\"},"
                      "\"raw\":\"\\u0001\"}");
    event_prepared p;
    assert_int_equal(event_prepare(ev, "acme", "native", NOW_MS, &p), 0);
    size_t marks = 0;
    for (const char *c = p.json; *c; c++)
        marks += *c == EVENT_MARK_USER || *c == EVENT_MARK_CALL_ID || *c == EVENT_MARK_GROUP;
    assert_int_equal(marks, 2); /* the user and the group slot */
    event_prepared_free(&p);
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_ts),
        cmocka_unit_test(fixed_key_order_and_stamped_ts),
        cmocka_unit_test(given_ts_key_and_unknown_fields),
        cmocka_unit_test(key_of_a_target_event),
        cmocka_unit_test(key_is_stable_across_retries),
        cmocka_unit_test(one_copy_per_distinct_user),
        cmocka_unit_test(refuses_events_without_users),
        cmocka_unit_test(state_of_a_call),
        cmocka_unit_test(parties_cut_whole_from_the_dump),
        cmocka_unit_test(state_of_record_ivr_and_route_result),
        cmocka_unit_test(group_slot_only_when_undecided),
        cmocka_unit_test(command_target_takes_the_call_id),
        cmocka_unit_test(content_key_covers_target_not_order),
        cmocka_unit_test(control_bytes_never_look_like_marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
