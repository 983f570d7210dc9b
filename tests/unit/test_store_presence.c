/* test_store_presence.c — presence calls become the commands docs/redis-layout.md describes
 * (members "EXT\tINSTANCE" scored by expiry), and a ZRANGEBYSCORE reply becomes sorted
 * distinct extensions. The Redis connection is replaced by a stub that keeps every call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../broker/store/store_presence.c"

static cr_config cfg = {.retention_s = 60};
static struct {
    int n;
    char argv[4][16][64];
    int argc[4];
    store_cb done[4];
    void *ud[4];
} sent;

const cr_config *store_config(void) { return &cfg; }
char *store_key_online(const char *i)
{
    char *s = malloc(64);
    snprintf(s, 64, "cr:{%s}:on", i);
    return s;
}

int store_command(store_cb cb, void *ud, int argc, const char **argv, const size_t *lens)
{
    int k = sent.n++;
    sent.argc[k] = argc;
    for (int i = 0; i < argc && i < 16; i++) {
        assert_int_equal(lens[i], strlen(argv[i]));
        snprintf(sent.argv[k][i], 64, "%s", argv[i]);
    }
    sent.done[k] = cb;
    sent.ud[k] = ud;
    return 0;
}

int store_call_run(int s, store_cb done, void (*cb)(void), void *ud, int nkeys, int n,
                   const char **args)
{
    (void)s;
    (void)nkeys;
    store_call *c = malloc(sizeof *c);
    *c = (store_call){cb, ud};
    size_t lens[8];
    for (int i = 0; i < n; i++)
        lens[i] = strlen(args[i]);
    return store_command(done, c, n, args, lens);
}

static void reset(void) { memset(&sent, 0, sizeof sent); }

static int answered;
static void on_put(store_outcome o, void *ud)
{
    (void)ud;
    assert_int_equal(o.status, STORE_OK);
    answered++;
}

static void put_scores_members_and_expires_the_key(void **state)
{
    (void)state;
    reset();
    const char *exts[] = {"101", "102"};
    answered = 0;
    assert_int_equal(store_presence_put("acme", "ab12", exts, 2, 1700000030000, on_put, NULL), 0);
    assert_int_equal(sent.n, 2);
    const char *want[] = {"ZADD",      "cr:{acme}:on",  "1700000030000",
                          "101\tab12", "1700000030000", "102\tab12"};
    assert_int_equal(sent.argc[0], 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(sent.argv[0][i], want[i]);
    assert_string_equal(sent.argv[1][0], "PEXPIRE");
    assert_string_equal(sent.argv[1][2], "60000");
    redisReply r = {.type = REDIS_REPLY_INTEGER, .integer = 2};
    sent.done[0](&r, sent.ud[0]);
    sent.done[1](&r, sent.ud[1]);
    assert_int_equal(answered, 1);
}

static void remove_and_prune(void **state)
{
    (void)state;
    reset();
    const char *exts[] = {"101"};
    assert_int_equal(store_presence_remove("acme", "ab12", exts, 1, NULL, NULL), 0);
    assert_int_equal(sent.argc[0], 3);
    assert_string_equal(sent.argv[0][0], "ZREM");
    assert_string_equal(sent.argv[0][2], "101\tab12");
    redisReply r = {.type = REDIS_REPLY_INTEGER, .integer = 1};
    sent.done[0](&r, sent.ud[0]); /* no callback: nothing to call */
    assert_int_equal(store_presence_prune("acme", 1700000000000, NULL, NULL), 0);
    assert_string_equal(sent.argv[1][0], "ZREMRANGEBYSCORE");
    assert_string_equal(sent.argv[1][2], "-inf");
    assert_string_equal(sent.argv[1][3], "(1700000000000");
    sent.done[1](NULL, sent.ud[1]);
}

static void nothing_to_put_is_refused(void **state)
{
    (void)state;
    reset();
    assert_int_equal(store_presence_put("acme", "ab12", NULL, 0, 1, NULL, NULL), -1);
    assert_int_equal(sent.n, 0);
}

static struct {
    store_outcome o;
    size_t n;
    char exts[4][16];
} seen;

static void on_online_seen(store_outcome o, const char *const *exts, size_t n, void *ud)
{
    (void)ud;
    seen.o = o;
    seen.n = n;
    for (size_t i = 0; i < n && i < 4; i++)
        snprintf(seen.exts[i], sizeof seen.exts[i], "%s", exts[i]);
}

static redisReply str(char *s)
{
    return (redisReply){.type = REDIS_REPLY_STRING, .str = s, .len = strlen(s)};
}

static void online_is_distinct_and_sorted(void **state)
{
    (void)state;
    reset();
    assert_int_equal(store_presence_online("acme", 1700000000000, on_online_seen, NULL), 0);
    assert_string_equal(sent.argv[0][0], "ZRANGEBYSCORE");
    assert_string_equal(sent.argv[0][2], "(1700000000000");
    assert_string_equal(sent.argv[0][3], "+inf");
    char a[] = "102\tx", b[] = "101\ty", c[] = "102\ty";
    redisReply ra = str(a), rb = str(b), rc = str(c);
    redisReply *v[] = {&ra, &rb, &rc};
    redisReply r = {.type = REDIS_REPLY_ARRAY, .element = v, .elements = 3};
    sent.done[0](&r, sent.ud[0]);
    assert_int_equal(seen.o.status, STORE_OK);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.exts[0], "101");
    assert_string_equal(seen.exts[1], "102");

    reset();
    store_presence_online("acme", 1, on_online_seen, NULL);
    redisReply bad = {.type = REDIS_REPLY_INTEGER};
    redisReply *bv[] = {&bad};
    redisReply rbad = {.type = REDIS_REPLY_ARRAY, .element = bv, .elements = 1};
    sent.done[0](&rbad, sent.ud[0]);
    assert_int_equal(seen.o.status, STORE_FAILED);
    assert_int_equal(seen.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_scores_members_and_expires_the_key),
        cmocka_unit_test(remove_and_prune),
        cmocka_unit_test(nothing_to_put_is_refused),
        cmocka_unit_test(online_is_distinct_and_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
