/* test_config.c — defaults, the file format, the environment winning, every bad value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log_level.h"
#include <unistd.h>

#include "../../broker/config.c"

static char err[512];

static const char *const env_names[] = {
    "CALLRELAY_LISTEN",         "CALLRELAY_REDIS_URL",  "CALLRELAY_ADMIN_TOKEN",
    "CALLRELAY_TICKET_SECRET",  "CALLRELAY_PUBLIC_URL", "CALLRELAY_RETENTION",
    "CALLRELAY_KEY_PREFIX",     "CALLRELAY_MAX_BODY",   "CALLRELAY_DEDUPE_WINDOW",
    "CALLRELAY_MAX_DELIVERIES",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof env_names / sizeof *env_names; i++)
        unsetenv(env_names[i]);
    err[0] = '\0';
    return 0;
}

static char *write_file(const char *text)
{
    static char path[] = "/tmp/callrelay-test-config-XXXXXX";
    strcpy(path, "/tmp/callrelay-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void defaults(void **state)
{
    (void)state;
    cr_config c;
    assert_int_equal(config_init(&c), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.redis_url, "redis://127.0.0.1:6379/0");
    assert_string_equal(c.redis.host, "127.0.0.1");
    assert_int_equal(c.redis.port, 6379);
    assert_null(c.redis.path);
    assert_null(c.redis.password);
    assert_int_equal(c.redis.db, 0);
    assert_null(c.admin_token);
    assert_null(c.public_url);
    assert_int_equal(c.ticket_secret_len, 32);
    assert_int_equal(c.ticket_secret_random, 1);
    assert_int_equal(c.retention_s, 1209600);
    assert_string_equal(c.key_prefix, "cr:");
    assert_int_equal(c.max_body, 1048576);
    assert_int_equal(c.dedupe_window_s, 86400);
    assert_int_equal(c.max_deliveries, 10000);
    assert_int_equal(c.demo, 0);
    cr_config d;
    assert_int_equal(config_init(&d), 0);
    assert_memory_not_equal(c.ticket_secret, d.ticket_secret, 32);
    config_free(&c);
    config_free(&d);
}

static void file_every_setting(void **state)
{
    (void)state;
    const char *path = write_file("# callrelay settings\n"
                                  "\n"
                                  "listen = 0.0.0.0:9090\n"
                                  "CALLRELAY_REDIS_URL=redis://:s3cret@redis.local:6380/2\n"
                                  "  Admin_Token = adm#in-1   # the hash inside stays\n"
                                  "ticket_secret = \"a shared secret of 32 bytes....\"\n"
                                  "public_url = https://relay.example.com/\n"
                                  "retention=3600\n"
                                  "key_prefix = 'crx:'\n"
                                  "max_body = 2048\n"
                                  "callrelay_dedupe_window = 60\n");
    cr_config c;
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_load_file(&c, path, err, sizeof err), 0);
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9090);
    assert_string_equal(c.redis_url, "redis://:s3cret@redis.local:6380/2");
    assert_string_equal(c.redis.host, "redis.local");
    assert_int_equal(c.redis.port, 6380);
    assert_string_equal(c.redis.password, "s3cret");
    assert_int_equal(c.redis.db, 2);
    assert_string_equal(c.admin_token, "adm#in-1");
    assert_int_equal(c.ticket_secret_len, 31);
    assert_memory_equal(c.ticket_secret, "a shared secret of 32 bytes....", 31);
    assert_int_equal(c.ticket_secret_random, 0);
    assert_string_equal(c.public_url, "https://relay.example.com");
    assert_int_equal(c.retention_s, 3600);
    assert_string_equal(c.key_prefix, "crx:");
    assert_int_equal(c.max_body, 2048);
    assert_int_equal(c.dedupe_window_s, 60);
    config_free(&c);
    unlink(path);
}

static void file_errors_name_line_and_setting(void **state)
{
    (void)state;
    cr_config c;
    assert_int_equal(config_init(&c), 0);
    char *path = write_file("listen = 127.0.0.1:80\n\nretention = soon\n");
    assert_int_equal(config_load_file(&c, path, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want,
             "%s:3: CALLRELAY_RETENTION: must be a positive integer, got \"soon\"", path);
    assert_string_equal(err, want);
    unlink(path);
    path = write_file("colour = blue\n");
    assert_int_equal(config_load_file(&c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:1: unknown setting \"colour\"", path);
    assert_string_equal(err, want);
    unlink(path);
    path = write_file("just words\n");
    assert_int_equal(config_load_file(&c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:1: expected name = value", path);
    assert_string_equal(err, want);
    unlink(path);
    assert_int_equal(config_load_file(&c, "/nonexistent/callrelay.conf", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/callrelay.conf: cannot open: No such file or directory");
    assert_null(strchr(err, '\n'));
    config_free(&c);
}

static void env_overrides_file(void **state)
{
    (void)state;
    const char *path = write_file("listen = 0.0.0.0:9090\nretention = 100\nkey_prefix = file:\n");
    setenv("CALLRELAY_LISTEN", "[::1]:7000", 1);
    setenv("CALLRELAY_RETENTION", "200", 1);
    setenv("CALLRELAY_KEY_PREFIX", "", 1); /* empty: as if unset */
    cr_config c;
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_load_file(&c, path, err, sizeof err), 0);
    assert_int_equal(config_load_env(&c, err, sizeof err), 0);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 7000);
    assert_int_equal(c.retention_s, 200);
    assert_string_equal(c.key_prefix, "file:");
    setenv("CALLRELAY_MAX_BODY", "0", 1);
    assert_int_equal(config_load_env(&c, err, sizeof err), -1);
    assert_string_equal(err, "CALLRELAY_MAX_BODY: must be a positive integer, got \"0\"");
    config_free(&c);
    unlink(path);
}

struct bad_case {
    const char *name, *value, *error;
};

static void every_bad_value(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"listen", "x", "CALLRELAY_LISTEN: must be host:port, got \"x\""},
        {"listen", "host:x", "CALLRELAY_LISTEN: port must be 1-65535, got \"x\""},
        {"listen", "host:0", "CALLRELAY_LISTEN: port must be 1-65535, got \"0\""},
        {"listen", "host:65536", "CALLRELAY_LISTEN: port must be 1-65535, got \"65536\""},
        {"listen", "host:", "CALLRELAY_LISTEN: port must be 1-65535, got \"\""},
        {"listen", ":8080", "CALLRELAY_LISTEN: must be host:port, got \":8080\""},
        {"listen", "::1:8080", "CALLRELAY_LISTEN: must be host:port, got \"::1:8080\""},
        {"listen", "[::1]8080", "CALLRELAY_LISTEN: must be host:port, got \"[::1]8080\""},
        {"listen", "", "CALLRELAY_LISTEN: must not be empty"},
        {"retention", "-1", "CALLRELAY_RETENTION: must be a positive integer, got \"-1\""},
        {"retention", "0", "CALLRELAY_RETENTION: must be a positive integer, got \"0\""},
        {"retention", "1.5", "CALLRELAY_RETENTION: must be a positive integer, got \"1.5\""},
        {"retention", "99999999999999999999",
         "CALLRELAY_RETENTION: must be a positive integer, got \"99999999999999999999\""},
        {"max_body", "1k", "CALLRELAY_MAX_BODY: must be a positive integer, got \"1k\""},
        {"max_deliveries", "0", "CALLRELAY_MAX_DELIVERIES: must be a positive integer, got \"0\""},
        {"dedupe_window", " 5", "CALLRELAY_DEDUPE_WINDOW: must be a positive integer, got \" 5\""},
        {"key_prefix", "a b",
         "CALLRELAY_KEY_PREFIX: must be non-empty, without whitespace or braces, got \"a b\""},
        {"key_prefix", "{cr}:",
         "CALLRELAY_KEY_PREFIX: must be non-empty, without whitespace or braces, got \"{cr}:\""},
        {"key_prefix", "", "CALLRELAY_KEY_PREFIX: must not be empty"},
        {"ticket_secret", "short", "CALLRELAY_TICKET_SECRET: must be 16 to 64 bytes long, got 5"},
        {"ticket_secret", "0123456789012345678901234567890123456789012345678901234567890123X",
         "CALLRELAY_TICKET_SECRET: must be 16 to 64 bytes long, got 65"},
        {"public_url", "relay.example.com",
         "CALLRELAY_PUBLIC_URL: must be a URL starting with http://, https://, ws:// or wss://, "
         "got \"relay.example.com\""},
        {"public_url", "ftp://relay.example.com",
         "CALLRELAY_PUBLIC_URL: must be a URL starting with http://, https://, ws:// or wss://, "
         "got \"ftp://relay.example.com\""},
        {"public_url", "https://",
         "CALLRELAY_PUBLIC_URL: must be a URL starting with http://, https://, ws:// or wss://, "
         "got \"https://\""},
        {"admin_token", "two words", "CALLRELAY_ADMIN_TOKEN: must not contain whitespace"},
        {"redis_url", "http://127.0.0.1:6379",
         "CALLRELAY_REDIS_URL: must start with redis://, redis+sentinel:// or unix://, got "
         "\"http://127.0.0.1:6379\""},
        {"redis_url", "redis+sentinel://h:26379",
         "CALLRELAY_REDIS_URL: must be redis+sentinel://[:password@]host:port[,host:port...]"
         "/MASTER[/db], got \"redis+sentinel://h:26379\""},
        {"redis_url", "redis+sentinel://h:0/m",
         "CALLRELAY_REDIS_URL: sentinel port must be 1-65535 in \"h:0\""},
        {"redis_url", "redis+sentinel://a:1,/m",
         "CALLRELAY_REDIS_URL: a sentinel host is required in \"\""},
        {"redis_url", "redis+sentinel://a:1/m/x",
         "CALLRELAY_REDIS_URL: the database must be a number, got \"x\""},
        {"durability", "both", "CALLRELAY_DURABILITY: must be local or replica, got \"both\""},
        {"feed", "all", "CALLRELAY_FEED: must be shards or both, got \"all\""},
        {"replica_timeout_ms", "0",
         "CALLRELAY_REPLICA_TIMEOUT_MS: must be a positive integer, got \"0\""},
        {"redis_url", "redis://h:0/", "CALLRELAY_REDIS_URL: port must be 1-65535, got \"0\""},
        {"redis_url", "redis://h/x",
         "CALLRELAY_REDIS_URL: the path must be a database number, got \"/x\""},
        {"redis_url", "redis://bob:pw@h/",
         "CALLRELAY_REDIS_URL: user names are not supported (use redis://:password@host:port)"},
        {"redis_url", "unix:///",
         "CALLRELAY_REDIS_URL: must be unix:///path/to/socket[?db=N], got \"unix:///\""},
        {"redis_url", "unix:///tmp/r.sock?db=x",
         "CALLRELAY_REDIS_URL: db must be a number, got \"x\""},
        {"redis_url", "unix:///tmp/r.sock?tls=1",
         "CALLRELAY_REDIS_URL: unknown query parameter \"tls=1\" (db or password)"},
        {"demo", "yes", "CALLRELAY_DEMO: must be 0 or 1, got \"yes\""},
        {"demo", "2", "CALLRELAY_DEMO: must be 0 or 1, got \"2\""},
        {"log_level", "loud",
         "CALLRELAY_LOG_LEVEL: must be debug, info, warn or error, got \"loud\""},
        {"drain_timeout", "0", "CALLRELAY_DRAIN_TIMEOUT: must be a positive integer, got \"0\""},
        {"drain_timeout", "3601",
         "CALLRELAY_DRAIN_TIMEOUT: must be a positive integer, got \"3601\""},
        {"nope", "1", "unknown setting \"nope\""},
    };
    cr_config c;
    assert_int_equal(config_init(&c), 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        err[0] = '\0';
        assert_int_equal(config_set(&c, cases[i].name, cases[i].value, err, sizeof err), -1);
        assert_string_equal(err, cases[i].error);
    }
    err[0] = '\0';
    assert_int_equal(config_set(&c, "redis_url", "redis://h:99999", err, sizeof err), -1);
    assert_true(strncmp(err, "CALLRELAY_REDIS_URL: ", 21) == 0);
    /* nothing changed */
    assert_int_equal(c.listen_port, 8080);
    assert_string_equal(c.redis_url, "redis://127.0.0.1:6379/0");
    assert_int_equal(c.ticket_secret_random, 1);
    config_free(&c);
}

static void sentinel_url(void **state)
{
    (void)state;
    cr_config c;
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(c.durability_replica, 0);
    assert_int_equal(c.replica_timeout_ms, 1000);
    assert_int_equal(config_set(&c, "redis_url",
                                "redis+sentinel://:p%40ss@10.0.0.1:26380,s2,[::1]:26381/main/3",
                                err, sizeof err),
                     0);
    assert_string_equal(c.redis.master_name, "main");
    assert_string_equal(c.redis.password, "p@ss");
    assert_int_equal(c.redis.db, 3);
    assert_null(c.redis.host);
    assert_int_equal(c.redis.n_sentinels, 3);
    assert_string_equal(c.redis.sentinels[0].host, "10.0.0.1");
    assert_int_equal(c.redis.sentinels[0].port, 26380);
    assert_string_equal(c.redis.sentinels[1].host, "s2");
    assert_int_equal(c.redis.sentinels[1].port, 26379);
    assert_string_equal(c.redis.sentinels[2].host, "::1");
    assert_int_equal(c.redis.sentinels[2].port, 26381);
    assert_int_equal(config_set(&c, "redis_url", "redis+sentinel://h:1/m", err, sizeof err), 0);
    assert_null(c.redis.password);
    assert_int_equal(c.redis.db, 0);
    assert_int_equal(config_set(&c, "durability", "replica", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "replica_timeout_ms", "250", err, sizeof err), 0);
    assert_int_equal(c.durability_replica, 1);
    assert_int_equal(c.replica_timeout_ms, 250);
    config_free(&c);
}

static void good_values(void **state)
{
    (void)state;
    cr_config c;
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(config_set(&c, "LISTEN", "localhost:1", err, sizeof err), 0);
    assert_string_equal(c.listen_host, "localhost");
    assert_int_equal(c.listen_port, 1);
    assert_int_equal(config_set(&c, "listen", "[::]:65535", err, sizeof err), 0);
    assert_string_equal(c.listen_host, "::");
    assert_int_equal(c.listen_port, 65535);
    assert_int_equal(config_set(&c, "public_url", "wss://x.example:8443/base//", err, sizeof err),
                     0);
    assert_string_equal(c.public_url, "wss://x.example:8443/base");
    assert_int_equal(config_set(&c, "public_url", "http://127.0.0.1:8080", err, sizeof err), 0);
    assert_string_equal(c.public_url, "http://127.0.0.1:8080");
    assert_int_equal(config_set(&c, "ticket_secret", "0123456789abcdef", err, sizeof err), 0);
    assert_int_equal(c.ticket_secret_len, 16);
    assert_int_equal(config_set(&c, "max_body", "2147483647", err, sizeof err), 0);
    assert_int_equal(c.max_body, 2147483647);
    assert_int_equal(config_set(&c, "demo", "1", err, sizeof err), 0);
    assert_int_equal(c.demo, 1);
    assert_int_equal(config_set(&c, "CALLRELAY_DEMO", "0", err, sizeof err), 0);
    assert_int_equal(c.demo, 0);
    assert_int_equal(c.log_level, CR_LOG_INFO);
    assert_int_equal(config_set(&c, "log_level", "DEBUG", err, sizeof err), 0);
    assert_int_equal(c.log_level, CR_LOG_DEBUG);
    assert_int_equal(config_set(&c, "log_level", "error", err, sizeof err), 0);
    assert_int_equal(c.log_level, CR_LOG_ERROR);
    assert_int_equal(config_set(&c, "tls_cert", "/etc/c.pem", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "tls_key", "/etc/k.pem", err, sizeof err), 0);
    assert_string_equal(c.tls_cert, "/etc/c.pem");
    assert_string_equal(c.tls_key, "/etc/k.pem");
    assert_int_equal(c.drain_timeout_s, 25);
    assert_int_equal(config_set(&c, "CALLRELAY_DRAIN_TIMEOUT", "2", err, sizeof err), 0);
    assert_int_equal(c.drain_timeout_s, 2);
    config_free(&c);
}

static void redis_url_forms(void **state)
{
    (void)state;
    cr_redis_target t;
    assert_int_equal(config_parse_redis_url("redis://localhost", &t, err, sizeof err), 0);
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.port, 6379);
    assert_int_equal(t.db, 0);
    assert_null(t.password);
    assert_null(t.path);
    redis_target_free(&t);

    assert_int_equal(
        config_parse_redis_url("redis://:p%40ss%3Aword@10.0.0.5:7000/15", &t, err, sizeof err), 0);
    assert_string_equal(t.host, "10.0.0.5");
    assert_int_equal(t.port, 7000);
    assert_string_equal(t.password, "p@ss:word");
    assert_int_equal(t.db, 15);
    redis_target_free(&t);

    assert_int_equal(config_parse_redis_url("redis://default:pw@[::1]:6390/", &t, err, sizeof err),
                     0);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 6390);
    assert_string_equal(t.password, "pw");
    assert_int_equal(t.db, 0);
    redis_target_free(&t);

    assert_int_equal(
        config_parse_redis_url("unix:///var/run/redis/redis.sock", &t, err, sizeof err), 0);
    assert_null(t.host);
    assert_string_equal(t.path, "/var/run/redis/redis.sock");
    assert_int_equal(t.db, 0);
    redis_target_free(&t);

    assert_int_equal(
        config_parse_redis_url("unix:///tmp/r%20s.sock?db=3&password=a%26b", &t, err, sizeof err),
        0);
    assert_string_equal(t.path, "/tmp/r s.sock");
    assert_int_equal(t.db, 3);
    assert_string_equal(t.password, "a&b");
    redis_target_free(&t);
}

static void limits(void **state)
{
    (void)state;
    cr_config c;
    assert_int_equal(config_init(&c), 0);
    assert_int_equal(c.max_websockets, 20000);
    assert_int_equal(c.max_websockets_per_user, 100);
    assert_true(c.rate_limit == 1000 && c.rate_burst == 2000);
    assert_int_equal(c.n_allowed_origins, 0);
    assert_int_equal(config_check(&c, err, sizeof err), 0);
    assert_int_equal(config_set(&c, "rate_limit", "7", err, sizeof err), 0);
    assert_true(c.rate_limit == 7 && c.rate_burst == 14); /* the burst follows the rate */
    assert_int_equal(config_set(&c, "CALLRELAY_RATE_BURST", "3", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "rate_limit", "9", err, sizeof err), 0);
    assert_true(c.rate_limit == 9 && c.rate_burst == 3); /* unless it was given */
    assert_int_equal(config_set(&c, "allowed_origins",
                                "https://crm.example.com, http://localhost:3000", err, sizeof err),
                     0);
    assert_int_equal(c.n_allowed_origins, 2);
    assert_string_equal(c.allowed_origins[1], "http://localhost:3000");
    static const char *const bad[] = {"https://crm.example.com/", "crm.example.com", "https://",
                                      "https://u@crm.example.com", "ftp://x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(config_set(&c, "allowed_origins", bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, "CALLRELAY_ALLOWED_ORIGINS"));
    }
    assert_int_equal(c.n_allowed_origins, 2); /* a bad value leaves the list as it was */
    assert_int_equal(config_set(&c, "ws_idle_timeout", "30", err, sizeof err), 0);
    assert_int_equal(config_check(&c, err, sizeof err), -1); /* the ping (30) must come first */
    assert_non_null(strstr(err, "CALLRELAY_WS_PING_INTERVAL"));
    assert_int_equal(config_set(&c, "ws_ping_interval", "10", err, sizeof err), 0);
    assert_int_equal(config_set(&c, "ws_queue_soft_bytes", "70000000", err, sizeof err), 0);
    assert_int_equal(config_check(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "CALLRELAY_WS_QUEUE_SOFT_BYTES"));
    assert_int_equal(config_set(&c, "ws_queue_hard_bytes", "70000000", err, sizeof err), 0);
    assert_int_equal(config_check(&c, err, sizeof err), 0);
    assert_int_equal(config_set(&c, "max_websockets_per_user", "0", err, sizeof err), -1);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(defaults, clear_env),
        cmocka_unit_test_setup(file_every_setting, clear_env),
        cmocka_unit_test_setup(file_errors_name_line_and_setting, clear_env),
        cmocka_unit_test_setup(env_overrides_file, clear_env),
        cmocka_unit_test_setup(every_bad_value, clear_env),
        cmocka_unit_test_setup(good_values, clear_env),
        cmocka_unit_test_setup(redis_url_forms, clear_env),
        cmocka_unit_test_setup(sentinel_url, clear_env),
        cmocka_unit_test_setup(limits, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
