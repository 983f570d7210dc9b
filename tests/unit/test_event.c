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
    assert_string_equal(p.json[0], "{\"kind\":\"call\",\"integration\":\"acme\",\"user\":\"101\","
                                   "\"call_id\":\"c-1\",\"ts\":\"2026-11-23T18:00:00.123Z\","
                                   "\"source\":\"native\",\"call\":{\"state\":\"connected\"},"
                                   "\"raw\":{\"z\":1,\"a\":2}}");
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
    assert_string_equal(p.json[0], "{\"kind\":\"record\",\"integration\":\"acme\",\"user\":\"7\","
                                   "\"call_id\":\"c\",\"ts\":\"2026-01-02T03:04:05.006Z\","
                                   "\"source\":\"native\",\"record\":{\"status\":\"available\"}}");
    event_prepared_free(&p);
    json_decref(ev);
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
    assert_string_not_equal(pa.json[0], pb.json[0]); /* different stamped ts */
    /* the key is sha256 of the content lines, computed independently here */
    const char *canon =
        "call\n\"c-9\"\n\n101,\n{\"state\":\"appeared\",\"from\":{\"number\":\"1\"}}\n";
    unsigned char md[32];
    unsigned int mdlen;
    EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL);
    char hex[65];
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    assert_string_equal(pa.key, hex);
    event_prepared_free(&pa);
    event_prepared_free(&pb);
    event_prepared_free(&pc);
    json_decref(a);
    json_decref(b);
    json_decref(c);
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
        char expect[512];
        snprintf(expect, sizeof expect,
                 "{\"kind\":\"ivr\",\"integration\":\"acme\",\"user\":\"%s\",\"call_id\":\"c\","
                 "\"ts\":\"2026-01-01T00:00:00.000Z\",\"source\":\"mango\","
                 "\"ivr\":{\"state\":\"appeared\"}}",
                 want[i]);
        assert_string_equal(p.json[i], expect);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_ts),
        cmocka_unit_test(fixed_key_order_and_stamped_ts),
        cmocka_unit_test(given_ts_key_and_unknown_fields),
        cmocka_unit_test(key_is_stable_across_retries),
        cmocka_unit_test(one_copy_per_distinct_user),
        cmocka_unit_test(refuses_events_without_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
