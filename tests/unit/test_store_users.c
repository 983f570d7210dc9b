/* test_store_users.c — Redis replies become domain values: malformed entries are left out
 * (and counted), a malformed page is a failure, script answers become outcomes. The Redis
 * connection is replaced by a stub that keeps the last call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../broker/store/store_users.c"

/* ---- the stub of store.c ---- */

static cr_config cfg = {.retention_s = 60};
static struct {
    int script, nkeys, n;
    char args[8][128];
    store_cb done;
    store_call *call;
} last;

const cr_config *store_config(void) { return &cfg; }

int store_call_run(int s, store_cb done, void (*cb)(void), void *ud, int nkeys, int n,
                   const char **args)
{
    memset(&last, 0, sizeof last);
    last.script = s;
    last.nkeys = nkeys;
    last.n = n;
    for (int i = 0; i < n; i++)
        snprintf(last.args[i], sizeof last.args[i], "%s", args[i]);
    last.done = done;
    last.call = malloc(sizeof *last.call);
    *last.call = (store_call){cb, ud};
    return 0;
}

static char *key(const char *kind, const char *i, const char *rest)
{
    char *s = malloc(128);
    snprintf(s, 128, "%s{%s}:%s", kind, i, rest);
    return s;
}
char *store_key_users(const char *i) { return key("u", i, ""); }
char *store_key_stream(const char *i, const char *ext) { return key("s", i, ext); }
char *store_key_cursor(const char *i, const char *ext) { return key("c", i, ext); }
char *store_key_ticket(const char *i, const char *sig) { return key("t", i, sig); }
char *store_key_user_calls(const char *i, const char *ext) { return key("uc", i, ext); }
char *store_key_call(const char *i, const char *id) { return key("call", i, id); }

static void answer(redisReply *r) { last.done(r, last.call); }

/* ---- replies ---- */

static redisReply str(const char *s)
{
    return (redisReply){.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
}
static redisReply integer(long long v)
{
    return (redisReply){.type = REDIS_REPLY_INTEGER, .integer = v};
}
static redisReply array(redisReply **v, size_t n)
{
    return (redisReply){.type = REDIS_REPLY_ARRAY, .element = v, .elements = n};
}

/* {id, {"e", json}} built in storage that the caller owns */
typedef struct entry {
    redisReply id, field, json, pair, whole;
    redisReply *pv[2], *wv[2];
} entry;

static redisReply *entry_make(entry *e, const char *id, const char *json)
{
    e->id = str(id);
    e->field = str("e");
    e->json = str(json);
    e->pv[0] = &e->field;
    e->pv[1] = &e->json;
    e->pair = array(e->pv, 2);
    e->wv[0] = &e->id;
    e->wv[1] = &e->pair;
    e->whole = array(e->wv, 2);
    return &e->whole;
}

/* ---- what the callbacks saw ---- */

static struct {
    int calls;
    store_outcome o;
    size_t n, read;
    char ids[4][32];
    bool beyond, gap;
    char top[32];
    int result;
    size_t n_calls, call_fields[4];
    char call_ids[4][32];
} seen;

static void on_entries_seen(const store_entries *e, void *ud)
{
    (void)ud;
    seen.calls++;
    seen.o = e->outcome;
    seen.n = e->n;
    seen.read = e->read;
    for (size_t i = 0; i < e->n && i < 4; i++)
        snprintf(seen.ids[i], sizeof seen.ids[i], "%s", e->v[i].id_text);
}

static void on_page_seen(const store_page *p, void *ud)
{
    (void)ud;
    seen.calls++;
    seen.o = p->outcome;
    seen.n = p->n;
    seen.beyond = p->beyond;
    seen.gap = p->gap;
    seen.n_calls = p->n_calls;
    for (size_t i = 0; i < p->n_calls && i < 4; i++) {
        snprintf(seen.call_ids[i], sizeof seen.call_ids[i], "%s", p->calls[i].call_id);
        seen.call_fields[i] = p->calls[i].n;
    }
    snprintf(seen.top, sizeof seen.top, "%s", p->top_text ? p->top_text : "");
}

static void on_ack_seen(store_outcome o, store_ack_result r, void *ud)
{
    (void)ud;
    seen.calls++;
    seen.o = o;
    seen.result = r;
}

static void on_session_seen(store_outcome o, store_session_result r, void *ud)
{
    (void)ud;
    seen.calls++;
    seen.o = o;
    seen.result = r;
}

/* ---- tests ---- */

static void read_after_skips_malformed_entries(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof seen);
    streamid after = {5, 1};
    assert_int_equal(store_stream_read_after("acme", "101", after, 1000, on_entries_seen, NULL), 0);
    assert_int_equal(last.script, -1);
    assert_string_equal(last.args[0], "XRANGE");
    assert_string_equal(last.args[1], "s{acme}:101");
    assert_string_equal(last.args[2], "(5-1");
    assert_string_equal(last.args[5], "1000");
    entry a, b, c;
    redisReply *v[] = {entry_make(&a, "6-0", "{\"k\":1}"), entry_make(&b, "7-0", "not json"),
                       entry_make(&c, "x-0", "{}")};
    redisReply r = array(v, 3);
    answer(&r);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.o.status, STORE_OK);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.read, 3);
    assert_string_equal(seen.ids[0], "6-0");
}

static void lost_connection_is_unavailable(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof seen);
    store_stream_read_after("acme", "101", (streamid){0, 0}, 10, on_entries_seen, NULL);
    answer(NULL);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.o.status, STORE_UNAVAILABLE);
}

static void page_reply(const char *top, redisReply **entries, size_t n, const char *status)
{
    redisReply t = str(top), cursor = str("0-0"), list = array(entries, n), st = str(status),
               gap = integer(0), calls = array(NULL, 0);
    redisReply *v[] = {&t, &cursor, &list, &st, &gap, &calls};
    redisReply r = array(v, 6);
    answer(&r);
}

static void page_parsed(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof seen);
    store_page_read("acme", "101", "", "3-0", 2, false, on_page_seen, NULL);
    assert_int_equal(last.script, SCRIPT_PAGE);
    assert_int_equal(last.nkeys, 3);
    assert_string_equal(last.args[2], "uc{acme}:101");
    assert_string_equal(last.args[4], "3-0");
    assert_string_equal(last.args[6], "60000");
    assert_string_equal(last.args[7], ""); /* no calls asked for */
    entry a;
    redisReply *v[] = {entry_make(&a, "4-0", "{}")};
    page_reply("9-0", v, 1, "ok");
    assert_int_equal(seen.o.status, STORE_OK);
    assert_int_equal(seen.n, 1);
    assert_false(seen.beyond);
    assert_string_equal(seen.top, "9-0");
}

static void page_beyond(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof seen);
    store_page_read("acme", "101", "", "99-0", 2, false, on_page_seen, NULL);
    page_reply("9-0", NULL, 0, "beyond");
    assert_int_equal(seen.o.status, STORE_OK);
    assert_true(seen.beyond);
}

static void page_with_a_malformed_entry_fails(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof seen);
    store_page_read("acme", "101", "", "", 2, false, on_page_seen, NULL);
    entry a;
    redisReply *v[] = {entry_make(&a, "4-0", "[]")};
    page_reply("9-0", v, 1, "ok");
    assert_int_equal(seen.o.status, STORE_FAILED);
    assert_string_equal(seen.o.error, "unexpected reply");
}

/* {top, cursor, entries, status, gap, {{call_id, {field, value, ...}}, ...}} */
static void page_with_gap_and_calls(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof seen);
    store_page_read("acme", "101", "", "", 2, true, on_page_seen, NULL);
    assert_string_equal(last.args[7], "call{acme}:");
    redisReply t = str("9-0"), cursor = str(""), none = array(NULL, 0), st = str("ok"),
               gap = integer(1);
    redisReply id1 = str("c-1"), f1 = str("state"), v1 = str("connected"), f2 = str("u:101"),
               v2 = str("connected");
    redisReply *h1v[] = {&f1, &v1, &f2, &v2};
    redisReply h1 = array(h1v, 4);
    redisReply *c1v[] = {&id1, &h1};
    redisReply c1 = array(c1v, 2);
    redisReply *callv[] = {&c1};
    redisReply calls = array(callv, 1);
    redisReply *v[] = {&t, &cursor, &none, &st, &gap, &calls};
    redisReply r = array(v, 6);
    answer(&r);
    assert_int_equal(seen.o.status, STORE_OK);
    assert_true(seen.gap);
    assert_int_equal(seen.n_calls, 1);
    assert_string_equal(seen.call_ids[0], "c-1");
    assert_int_equal(seen.call_fields[0], 2);

    memset(&seen, 0, sizeof seen); /* a hash with an odd list is not a call */
    store_page_read("acme", "101", "", "", 2, true, on_page_seen, NULL);
    h1.elements = 3;
    answer(&r);
    assert_int_equal(seen.o.status, STORE_FAILED);
}

static void script_error_carries_its_text(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof seen);
    store_ack("acme", "101", (streamid){4, 0}, on_ack_seen, NULL);
    assert_int_equal(last.script, SCRIPT_ACK);
    assert_string_equal(last.args[2], "4-0");
    redisReply r = {.type = REDIS_REPLY_ERROR, .str = "ERR boom", .len = 8};
    answer(&r);
    assert_int_equal(seen.o.status, STORE_FAILED);
    assert_string_equal(seen.o.error, "ERR boom");
}

static void ack_answers(void **state)
{
    (void)state;
    store_ack("acme", "101", (streamid){4, 0}, on_ack_seen, NULL);
    redisReply r = integer(-1);
    answer(&r);
    assert_int_equal(seen.o.status, STORE_OK);
    assert_int_equal(seen.result, STORE_ACK_BEYOND);
    store_ack("acme", "101", (streamid){4, 0}, on_ack_seen, NULL);
    r = integer(0);
    answer(&r);
    assert_int_equal(seen.result, STORE_ACK_DONE);
}

static void session_open_answers(void **state)
{
    (void)state;
    store_session_open("acme", "101", "SIG", 1700000000, on_session_seen, NULL);
    assert_int_equal(last.nkeys, 2);
    assert_int_equal(last.n, 4);
    assert_string_equal(last.args[1], "t{acme}:SIG");
    redisReply r = integer(2);
    answer(&r);
    assert_int_equal(seen.result, STORE_SESSION_TICKET_USED);
    store_session_open("acme", "101", "", 0, on_session_seen, NULL);
    assert_int_equal(last.nkeys, 1);
    assert_int_equal(last.n, 2);
    r = integer(0);
    answer(&r);
    assert_int_equal(seen.result, STORE_SESSION_NO_USER);
    store_session_open("acme", "101", "", 0, on_session_seen, NULL);
    r = integer(1);
    answer(&r);
    assert_int_equal(seen.result, STORE_SESSION_OPEN);
}

static char listed[3][64];

static void on_users_seen(store_outcome o, const store_user *u, size_t n, void *ud)
{
    (void)ud;
    assert_int_equal(o.status, STORE_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        snprintf(listed[i], sizeof listed[i], "%s=%s", u[i].extension, u[i].name);
}

static void users_sorted_by_extension(void **state)
{
    (void)state;
    store_users_list("acme", on_users_seen, NULL);
    redisReply e1 = str("200"), n1 = str("{\"name\":\"Bo\"}"), e2 = str("101"),
               n2 = str("{\"name\":\"Ann\"}"), e3 = str("150"), n3 = str("{}");
    redisReply *v[] = {&e1, &n1, &e2, &n2, &e3, &n3};
    redisReply r = array(v, 6);
    answer(&r);
    assert_string_equal(listed[0], "101=Ann");
    assert_string_equal(listed[1], "150=");
    assert_string_equal(listed[2], "200=Bo");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_after_skips_malformed_entries),
        cmocka_unit_test(lost_connection_is_unavailable),
        cmocka_unit_test(page_parsed),
        cmocka_unit_test(page_beyond),
        cmocka_unit_test(page_with_a_malformed_entry_fails),
        cmocka_unit_test(page_with_gap_and_calls),
        cmocka_unit_test(script_error_carries_its_text),
        cmocka_unit_test(ack_answers),
        cmocka_unit_test(session_open_answers),
        cmocka_unit_test(users_sorted_by_extension),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
