/* config.c — settings from a file and from CALLRELAY_* variables; every value is checked
 * here so that a bad configuration stops the process with one line naming the setting. */
#include "config.h"
#include "cidr.h"
#include "log_level.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#define DEFAULT_REDIS_URL "redis://127.0.0.1:6379/0"
#define TICKET_SECRET_MIN 16

typedef int (*setter)(cr_config *c, const char *env, const char *value, char *err, size_t errlen);

struct setting {
    const char *name;
    setter set;
};

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int replace_str(char **slot, const char *value, char *err, size_t errlen)
{
    char *copy = strdup(value);
    if (!copy)
        return cfg_fail(err, errlen, "out of memory");
    free(*slot);
    *slot = copy;
    return 0;
}

/* Decimal digits only, 1..max. */
static int parse_positive(const char *s, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        if (v > (max - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v < 1)
        return -1;
    *out = v;
    return 0;
}

static int has_space_or_ctl(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
            return 1;
    return 0;
}

/* ---- listen ---- */

static int split_host_port(const char *v, char *host, size_t hostsize, const char **port)
{
    const char *colon;
    const char *hstart = v;
    size_t hlen;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (!close || close[1] != ':')
            return -1;
        hstart = v + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon || memchr(v, ':', (size_t)(colon - v)))
            return -1;
        hlen = (size_t)(colon - v);
    }
    if (hlen == 0 || hlen >= hostsize)
        return -1;
    memcpy(host, hstart, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    return 0;
}

static int set_listen(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    int64_t p;
    if (split_host_port(v, host, sizeof host, &port) < 0 || has_space_or_ctl(host))
        return cfg_fail(err, errlen, "%s: must be host:port, got \"%s\"", env, v);
    if (parse_positive(port, 65535, &p) < 0)
        return cfg_fail(err, errlen, "%s: port must be 1-65535, got \"%s\"", env, port);
    if (replace_str(&c->listen_host, host, err, errlen) < 0)
        return -1;
    c->listen_port = (int)p;
    return 0;
}

/* ---- redis ---- */

void redis_target_free(cr_redis_target *t)
{
    for (size_t i = 0; i < t->n_sentinels; i++)
        free(t->sentinels[i].host);
    free(t->sentinels);
    free(t->master_name);
    free(t->host);
    free(t->path);
    free(t->password);
    memset(t, 0, sizeof *t);
}

/* Gets a URL part (URL-decoded); *out is NULL when the part is absent. */
static int url_part(CURLU *u, CURLUPart part, char **out)
{
    char *v = NULL;
    CURLUcode rc = curl_url_get(u, part, &v, CURLU_URLDECODE);
    *out = NULL;
    if (rc != CURLUE_OK) {
        curl_free(v);
        return 0;
    }
    *out = strdup(v);
    curl_free(v);
    return *out ? 0 : -1;
}

static int parse_db(const char *s, int *db)
{
    int64_t v;
    if (strcmp(s, "0") == 0) {
        *db = 0;
        return 0;
    }
    if (parse_positive(s, 1 << 20, &v) < 0)
        return -1;
    *db = (int)v;
    return 0;
}

/* redis://[[user]:password@]host[:port][/db] */
static int redis_tcp(CURLU *u, cr_redis_target *t, char *err, size_t errlen)
{
    char *user = NULL, *port = NULL, *path = NULL;
    int rc = -1;
    if (url_part(u, CURLUPART_USER, &user) < 0 ||
        url_part(u, CURLUPART_PASSWORD, &t->password) < 0 ||
        url_part(u, CURLUPART_HOST, &t->host) < 0 || url_part(u, CURLUPART_PORT, &port) < 0 ||
        url_part(u, CURLUPART_PATH, &path) < 0) {
        cfg_fail(err, errlen, "out of memory");
        goto out;
    }
    if (user && *user && strcmp(user, "default") != 0) {
        cfg_fail(err, errlen, "user names are not supported (use redis://:password@host:port)");
        goto out;
    }
    if (!t->host || !*t->host) {
        cfg_fail(err, errlen, "a host is required");
        goto out;
    }
    if (t->host[0] == '[') { /* IPv6 literal: hiredis wants it without brackets */
        size_t n = strlen(t->host);
        memmove(t->host, t->host + 1, n - 2);
        t->host[n - 2] = '\0';
    }
    int64_t p = 6379;
    if (port && parse_positive(port, 65535, &p) < 0) {
        cfg_fail(err, errlen, "port must be 1-65535, got \"%s\"", port);
        goto out;
    }
    t->port = (int)p;
    const char *db = path && path[0] == '/' ? path + 1 : "";
    if (*db && parse_db(db, &t->db) < 0) {
        cfg_fail(err, errlen, "the path must be a database number, got \"%s\"", path);
        goto out;
    }
    rc = 0;
out:
    free(user);
    free(port);
    free(path);
    return rc;
}

/* One "name=value" of a unix:// query: db or password. */
static int unix_query_item(const char *item, cr_redis_target *t, char *err, size_t errlen)
{
    if (strncmp(item, "db=", 3) == 0) {
        if (parse_db(item + 3, &t->db) < 0)
            return cfg_fail(err, errlen, "db must be a number, got \"%s\"", item + 3);
        return 0;
    }
    if (strncmp(item, "password=", 9) == 0) {
        free(t->password);
        t->password = strdup(item + 9);
        return t->password ? 0 : cfg_fail(err, errlen, "out of memory");
    }
    return cfg_fail(err, errlen, "unknown query parameter \"%s\" (db or password)", item);
}

/* unix:///path[?db=N][&password=P]. curl 7.88 misreads an empty authority for schemes it
 * does not know ("unix:///var/x" gives host "var"), so parse it as the file: scheme. */
static int redis_unix(const char *url, cr_redis_target *t, char *err, size_t errlen)
{
    char *fileurl = NULL, *query = NULL, *q = NULL, *save = NULL;
    int rc = -1;
    CURLU *u = curl_url();
    if (!u || asprintf(&fileurl, "file%s", url + strlen("unix")) < 0) {
        fileurl = NULL;
        cfg_fail(err, errlen, "out of memory");
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, fileurl, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        url_part(u, CURLUPART_PATH, &t->path) < 0 || !t->path || strcmp(t->path, "/") == 0) {
        cfg_fail(err, errlen, "must be unix:///path/to/socket[?db=N], got \"%s\"", url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK) {
        query = strdup(q);
        curl_free(q);
    }
    rc = 0;
    for (char *it = query ? strtok_r(query, "&", &save) : NULL; it && rc == 0;
         it = strtok_r(NULL, "&", &save)) {
        char *dec = curl_easy_unescape(NULL, it, 0, NULL);
        rc = dec ? unix_query_item(dec, t, err, errlen) : cfg_fail(err, errlen, "out of memory");
        curl_free(dec);
    }
out:
    free(fileurl);
    free(query);
    curl_url_cleanup(u);
    return rc;
}

static int redis_url_tcp(const char *url, cr_redis_target *t, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL;
    int rc = -1;
    if (!u)
        return cfg_fail(err, errlen, "out of memory");
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK)
        cfg_fail(err, errlen, "%s, got \"%s\"", curl_url_strerror(uc), url);
    else if (url_part(u, CURLUPART_SCHEME, &scheme) < 0 || !scheme ||
             strcasecmp(scheme, "redis") != 0)
        cfg_fail(err, errlen, "must start with redis:// or unix://, got \"%s\"", url);
    else
        rc = redis_tcp(u, t, err, errlen);
    free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* One "host:port" of a sentinel list; "[v6]:port" too; the port defaults to 26379. */
static int sentinel_addr(const char *item, size_t len, cr_host_port *out, char *err, size_t errlen)
{
    const char *colon = NULL, *h = item, *end = item + len;
    if (len && item[0] == '[') {
        const char *close = memchr(item, ']', len);
        if (!close || (close + 1 < end && close[1] != ':'))
            return cfg_fail(err, errlen, "bad sentinel address \"%.*s\"", (int)len, item);
        h = item + 1;
        colon = close + 1 < end ? close + 1 : NULL;
        end = close;
    } else {
        colon = memrchr(item, ':', len);
        end = colon ? colon : end;
    }
    int64_t port = 26379;
    char num[8];
    size_t nlen = colon ? (size_t)(item + len - colon - 1) : 0;
    if (colon &&
        (nlen == 0 || nlen >= sizeof num ||
         (memcpy(num, colon + 1, nlen), num[nlen] = '\0', parse_positive(num, 65535, &port) < 0)))
        return cfg_fail(err, errlen, "sentinel port must be 1-65535 in \"%.*s\"", (int)len, item);
    if (end == h)
        return cfg_fail(err, errlen, "a sentinel host is required in \"%.*s\"", (int)len, item);
    out->host = strndup(h, (size_t)(end - h));
    out->port = (int)port;
    return out->host ? 0 : cfg_fail(err, errlen, "out of memory");
}

static int sentinel_list(const char *s, size_t len, cr_redis_target *t, char *err, size_t errlen)
{
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        cr_host_port *n = realloc(t->sentinels, (t->n_sentinels + 1) * sizeof *n);
        if (!n)
            return cfg_fail(err, errlen, "out of memory");
        t->sentinels = n;
        n[t->n_sentinels] = (cr_host_port){0};
        if (sentinel_addr(s + start, i - start, &n[t->n_sentinels], err, errlen) < 0)
            return -1;
        t->n_sentinels++;
        start = i + 1;
    }
    return 0;
}

/* redis+sentinel://[:password@]host:port[,host:port...]/MASTER[/db], by hand: a list of
 * hosts is no URL that libcurl parses. */
static int redis_sentinel(const char *url, cr_redis_target *t, char *err, size_t errlen)
{
    const char *auth = url + strlen("redis+sentinel://");
    const char *slash = strchr(auth, '/');
    if (!slash || !slash[1] || slash[1] == '/')
        return cfg_fail(err, errlen,
                        "must be redis+sentinel://[:password@]host:port[,host:port...]/MASTER[/db]"
                        ", got \"%s\"",
                        url);
    const char *at = memrchr(auth, '@', (size_t)(slash - auth)), *hosts = at ? at + 1 : auth;
    if (at) {
        const char *pw = auth[0] == ':' ? auth + 1 : auth;
        t->password = curl_easy_unescape(NULL, pw, (int)(at - pw), NULL);
        if (!t->password)
            return cfg_fail(err, errlen, "out of memory");
        char *copy = strdup(t->password); /* curl's memory goes back through curl_free */
        curl_free(t->password);
        if (!(t->password = copy))
            return cfg_fail(err, errlen, "out of memory");
    }
    if (sentinel_list(hosts, (size_t)(slash - hosts), t, err, errlen) < 0)
        return -1;
    const char *name = slash + 1, *db = strchr(name, '/');
    t->master_name = db ? strndup(name, (size_t)(db - name)) : strdup(name);
    if (!t->master_name)
        return cfg_fail(err, errlen, "out of memory");
    if (db && db[1] && parse_db(db + 1, &t->db) < 0)
        return cfg_fail(err, errlen, "the database must be a number, got \"%s\"", db + 1);
    return 0;
}

int config_parse_redis_url(const char *url, cr_redis_target *out, char *err, size_t errlen)
{
    cr_redis_target t = {0};
    int rc;
    if (strncasecmp(url, "unix:", 5) == 0)
        rc = redis_unix(url, &t, err, errlen);
    else if (strncasecmp(url, "redis://", 8) == 0)
        rc = redis_url_tcp(url, &t, err, errlen);
    else if (strncasecmp(url, "redis+sentinel://", 17) == 0)
        rc = redis_sentinel(url, &t, err, errlen);
    else
        rc = cfg_fail(err, errlen,
                      "must start with redis://, redis+sentinel:// or unix://, got \"%s\"", url);
    if (rc < 0) {
        redis_target_free(&t);
        return -1;
    }
    *out = t;
    return 0;
}

static int set_redis_url(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    char msg[256];
    cr_redis_target t;
    if (config_parse_redis_url(v, &t, msg, sizeof msg) < 0)
        return cfg_fail(err, errlen, "%s: %s", env, msg);
    if (replace_str(&c->redis_url, v, err, errlen) < 0) {
        redis_target_free(&t);
        return -1;
    }
    redis_target_free(&c->redis);
    c->redis = t;
    return 0;
}

/* ---- the others ---- */

static int set_admin_token(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    if (has_space_or_ctl(v))
        return cfg_fail(err, errlen, "%s: must not contain whitespace", env);
    return replace_str(&c->admin_token, v, err, errlen);
}

static int set_ticket_secret(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n < TICKET_SECRET_MIN || n > sizeof c->ticket_secret)
        return cfg_fail(err, errlen, "%s: must be %d to %zu bytes long, got %zu", env,
                        TICKET_SECRET_MIN, sizeof c->ticket_secret, n);
    memcpy(c->ticket_secret, v, n);
    c->ticket_secret_len = n;
    c->ticket_secret_random = 0;
    return 0;
}

static int set_public_url(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    static const char *const schemes[] = {"http://", "https://", "ws://", "wss://"};
    int ok = 0;
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        ok |= strncmp(v, schemes[i], strlen(schemes[i])) == 0;
    CURLU *u = curl_url();
    if (!u)
        return cfg_fail(err, errlen, "out of memory");
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, v, CURLU_NON_SUPPORT_SCHEME);
    curl_url_cleanup(u);
    if (!ok || uc != CURLUE_OK || has_space_or_ctl(v))
        return cfg_fail(
            err, errlen,
            "%s: must be a URL starting with http://, https://, ws:// or wss://, got \"%s\"", env,
            v);
    if (replace_str(&c->public_url, v, err, errlen) < 0)
        return -1;
    size_t n = strlen(c->public_url); /* the websocket path is appended to it */
    while (n > 0 && c->public_url[n - 1] == '/')
        c->public_url[--n] = '\0';
    return 0;
}

static int set_positive(const char *env, const char *v, int64_t max, int64_t *out, char *err,
                        size_t errlen)
{
    if (parse_positive(v, max, out) < 0)
        return cfg_fail(err, errlen, "%s: must be a positive integer, got \"%s\"", env, v);
    return 0;
}

/* Ten years: stream ids are milliseconds since 1970, so a longer retention would trim from
 * before the epoch, and Redis expiries have limits of their own. */
#define MAX_PERIOD_S (10LL * 366 * 86400)

static int set_retention(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    return set_positive(env, v, MAX_PERIOD_S, &c->retention_s, err, errlen);
}

static int set_dedupe(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    return set_positive(env, v, MAX_PERIOD_S, &c->dedupe_window_s, err, errlen);
}

static int set_max_body(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (set_positive(env, v, INT32_MAX, &n, err, errlen) < 0)
        return -1;
    c->max_body = (size_t)n;
    return 0;
}

static int set_max_deliveries(cr_config *c, const char *env, const char *v, char *err,
                              size_t errlen)
{
    int64_t n;
    if (set_positive(env, v, INT32_MAX, &n, err, errlen) < 0)
        return -1;
    c->max_deliveries = (size_t)n;
    return 0;
}

static int set_max_buffered(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (set_positive(env, v, INT64_MAX / 2, &n, err, errlen) < 0)
        return -1;
    c->max_buffered = (size_t)n;
    return 0;
}

static int set_body_timeout(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (set_positive(env, v, 3600, &n, err, errlen) < 0)
        return -1;
    c->body_timeout_s = (unsigned)n;
    return 0;
}

/* At least 3 s: instances refresh their tabs every third of it. */
static int set_presence_ttl(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (parse_positive(v, 86400, &n) < 0 || n < 3)
        return cfg_fail(err, errlen, "%s: must be an integer from 3 to 86400, got \"%s\"", env, v);
    c->presence_ttl_s = (int)n;
    return 0;
}

static int set_drain_timeout(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (set_positive(env, v, 3600, &n, err, errlen) < 0)
        return -1;
    c->drain_timeout_s = (int)n;
    return 0;
}

static int set_demo(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
        return cfg_fail(err, errlen, "%s: must be 0 or 1, got \"%s\"", env, v);
    c->demo = v[0] == '1';
    return 0;
}

static int set_key_prefix(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    if (!*v || has_space_or_ctl(v) || strpbrk(v, "{}"))
        return cfg_fail(err, errlen,
                        "%s: must be non-empty, without whitespace or braces, got \"%s\"", env, v);
    return replace_str(&c->key_prefix, v, err, errlen);
}

static int set_workers(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (strcmp(v, "auto") == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = cpus > 0 && cpus <= 64 ? (int)cpus : 1;
        return 0;
    }
    if (parse_positive(v, 64, &n) < 0)
        return cfg_fail(err, errlen, "%s: must be \"auto\" or an integer from 1 to 64, got \"%s\"",
                        env, v);
    c->workers = (int)n;
    return 0;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* CIDRs separated by commas or spaces. */
/* A list separated by commas or spaces, each item checked by valid; what names a good one in
 * the error ("a CIDR such as 10.0.0.0/8"). On success *list (n items) replaces the old one. */
static int set_list(const char *env, const char *v, bool (*valid)(const char *), const char *what,
                    char ***out, size_t *out_n, char *err, size_t errlen)
{
    char **list = NULL, item[512];
    size_t n = 0;
    for (const char *p = v; *p;) {
        size_t len = strcspn(p, ", \t");
        if (len) {
            snprintf(item, sizeof item, "%.*s", (int)len, p);
            char **grown = realloc(list, (n + 1) * sizeof *list);
            if (len >= sizeof item || !valid(item) || !grown) {
                free_list(grown ? grown : list, n);
                return cfg_fail(err, errlen, "%s: \"%.*s\" is not %s", env, (int)len, p, what);
            }
            list = grown;
            if (!(list[n++] = strdup(item))) {
                free_list(list, n - 1);
                return cfg_fail(err, errlen, "out of memory");
            }
        }
        p += len + (p[len] != '\0');
    }
    free_list(*out, *out_n);
    *out = list;
    *out_n = n;
    return 0;
}

static int set_trusted_proxies(cr_config *c, const char *env, const char *v, char *err,
                               size_t errlen)
{
    return set_list(env, v, cidr_valid, "a CIDR such as 10.0.0.0/8", &c->trusted_proxies,
                    &c->n_trusted_proxies, err, errlen);
}

/* ---- TLS and logging: files are checked at start (tls.c), names here ---- */

static int set_tls_cert(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    (void)env;
    return replace_str(&c->tls_cert, v, err, errlen);
}

static int set_tls_key(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    (void)env;
    return replace_str(&c->tls_key, v, err, errlen);
}

static int set_log_level(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    int level = log_level_parse(v);
    if (level < 0)
        return cfg_fail(err, errlen, "%s: must be debug, info, warn or error, got \"%s\"", env, v);
    c->log_level = level;
    return 0;
}

static int set_max_websockets(cr_config *c, const char *env, const char *v, char *err,
                              size_t errlen)
{
    return set_positive(env, v, INT32_MAX, &c->max_websockets, err, errlen);
}

static int set_max_websockets_per_user(cr_config *c, const char *env, const char *v, char *err,
                                       size_t errlen)
{
    return set_positive(env, v, INT32_MAX, &c->max_websockets_per_user, err, errlen);
}

/* Whole requests per second: a fraction would be a Retry-After longer than anyone waits. */
static int set_rate(double *slot, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (set_positive(env, v, 100000000, &n, err, errlen) < 0)
        return -1;
    *slot = (double)n;
    return 0;
}

static int set_rate_limit(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    if (set_rate(&c->rate_limit, env, v, err, errlen) < 0)
        return -1;
    if (!c->rate_burst_set)
        c->rate_burst = 2 * c->rate_limit;
    return 0;
}

static int set_rate_burst(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    c->rate_burst_set = 1;
    return set_rate(&c->rate_burst, env, v, err, errlen);
}

static int set_seconds(int *slot, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (set_positive(env, v, 86400, &n, err, errlen) < 0)
        return -1;
    *slot = (int)n;
    return 0;
}

static int set_ws_ping(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    return set_seconds(&c->ws_ping_interval_s, env, v, err, errlen);
}

static int set_ws_idle(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    return set_seconds(&c->ws_idle_timeout_s, env, v, err, errlen);
}

static int set_ws_soft_s(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    return set_seconds(&c->ws_queue_soft_s, env, v, err, errlen);
}

static int set_bytes(size_t *slot, const char *env, const char *v, char *err, size_t errlen)
{
    int64_t n;
    if (set_positive(env, v, INT64_MAX / 2, &n, err, errlen) < 0)
        return -1;
    *slot = (size_t)n;
    return 0;
}

static int set_ws_hard(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    return set_bytes(&c->ws_queue_hard, env, v, err, errlen);
}

static int set_ws_soft(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    return set_bytes(&c->ws_queue_soft, env, v, err, errlen);
}

/* scheme://host[:port], as browsers send Origin: no path, no user, nothing after. */
static bool origin_valid(const char *o)
{
    const char *host = strncasecmp(o, "https://", 8) == 0  ? o + 8
                       : strncasecmp(o, "http://", 7) == 0 ? o + 7
                                                           : NULL;
    return host && *host && !strpbrk(host, "/?#@") && !has_space_or_ctl(o);
}

/* Origins separated by commas or spaces. */
static int set_allowed_origins(cr_config *c, const char *env, const char *v, char *err,
                               size_t errlen)
{
    return set_list(env, v, origin_valid, "an origin such as https://crm.example.com",
                    &c->allowed_origins, &c->n_allowed_origins, err, errlen);
}

static int set_durability(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "local") != 0 && strcmp(v, "replica") != 0)
        return cfg_fail(err, errlen, "%s: must be local or replica, got \"%s\"", env, v);
    c->durability_replica = strcmp(v, "replica") == 0;
    return 0;
}

/* both: for a rolling upgrade from a version that listens to one channel only */
static int set_feed(cr_config *c, const char *env, const char *v, char *err, size_t errlen)
{
    if (strcmp(v, "shards") != 0 && strcmp(v, "both") != 0)
        return cfg_fail(err, errlen, "%s: must be shards or both, got \"%s\"", env, v);
    c->feed_both = strcmp(v, "both") == 0;
    return 0;
}

static int set_replica_timeout(cr_config *c, const char *env, const char *v, char *err,
                               size_t errlen)
{
    int64_t ms;
    if (set_positive(env, v, 60000, &ms, err, errlen) < 0)
        return -1;
    c->replica_timeout_ms = (int)ms;
    return 0;
}

static const struct setting settings[] = {
    {"listen", set_listen},
    {"redis_url", set_redis_url},
    {"admin_token", set_admin_token},
    {"ticket_secret", set_ticket_secret},
    {"public_url", set_public_url},
    {"retention", set_retention},
    {"key_prefix", set_key_prefix},
    {"max_body", set_max_body},
    {"dedupe_window", set_dedupe},
    {"workers", set_workers},
    {"max_deliveries", set_max_deliveries},
    {"max_buffered", set_max_buffered},
    {"body_timeout", set_body_timeout},
    {"trusted_proxies", set_trusted_proxies},
    {"presence_ttl", set_presence_ttl},
    {"demo", set_demo},
    {"tls_cert", set_tls_cert},
    {"tls_key", set_tls_key},
    {"log_level", set_log_level},
    {"max_websockets", set_max_websockets},
    {"max_websockets_per_user", set_max_websockets_per_user},
    {"rate_limit", set_rate_limit},
    {"rate_burst", set_rate_burst},
    {"allowed_origins", set_allowed_origins},
    {"ws_ping_interval", set_ws_ping},
    {"ws_idle_timeout", set_ws_idle},
    {"ws_queue_hard_bytes", set_ws_hard},
    {"ws_queue_soft_bytes", set_ws_soft},
    {"ws_queue_soft_seconds", set_ws_soft_s},
    {"drain_timeout", set_drain_timeout},
    {"durability", set_durability},
    {"feed", set_feed},
    {"replica_timeout_ms", set_replica_timeout},
};

static void env_name(const char *name, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "CALLRELAY_%s", name);
    for (size_t i = 0; i < n && i < size; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
}

int config_set(cr_config *c, const char *name, const char *value, char *err, size_t errlen)
{
    if (strncasecmp(name, "CALLRELAY_", 10) == 0)
        name += 10;
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        if (strcasecmp(name, settings[i].name) != 0)
            continue;
        char env[64];
        env_name(settings[i].name, env, sizeof env);
        if (!*value)
            return cfg_fail(err, errlen, "%s: must not be empty", env);
        return settings[i].set(c, env, value, err, errlen);
    }
    return cfg_fail(err, errlen, "unknown setting \"%s\"", name);
}

int config_init(cr_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen_host = strdup("127.0.0.1");
    c->listen_port = 8080;
    c->key_prefix = strdup("cr:");
    c->retention_s = 1209600;
    c->max_body = 1048576;
    c->max_buffered = 64u << 20;
    c->body_timeout_s = 10;
    c->dedupe_window_s = 86400;
    c->max_deliveries = 10000;
    c->workers = 1;
    c->presence_ttl_s = 30;
    c->log_level = CR_LOG_INFO;
    c->max_websockets = 20000;
    c->max_websockets_per_user = 100;
    c->rate_limit = 1000;
    c->rate_burst = 2000;
    c->ws_ping_interval_s = 30;
    c->ws_idle_timeout_s = 75;
    c->ws_queue_hard = 64u << 20;
    c->ws_queue_soft = 16u << 20;
    c->ws_queue_soft_s = 30;
    c->drain_timeout_s = 25;
    c->replica_timeout_ms = 1000;
    c->ticket_secret_len = 32;
    c->ticket_secret_random = 1;
    if (!c->listen_host || !c->key_prefix ||
        set_redis_url(c, "CALLRELAY_REDIS_URL", DEFAULT_REDIS_URL, NULL, 0) < 0 ||
        RAND_bytes(c->ticket_secret, (int)c->ticket_secret_len) != 1) {
        config_free(c);
        return -1;
    }
    return 0;
}

/* ---- file ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* '#' starts a comment at the start of a line or after whitespace, so that a value such as
 * a token may still contain '#'. */
static void strip_comment(char *line)
{
    for (char *p = line; *p; p++) {
        if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

static int config_line(cr_config *c, char *line, char *err, size_t errlen)
{
    strip_comment(line);
    char *s = trim(line);
    if (!*s)
        return 0;
    char *eq = strchr(s, '=');
    if (!eq)
        return cfg_fail(err, errlen, "expected name = value");
    *eq = '\0';
    return config_set(c, trim(s), unquote(trim(eq + 1)), err, errlen);
}

int config_load_file(cr_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cfg_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    char msg[512];
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        if (config_line(c, line, msg, sizeof msg) < 0)
            rc = cfg_fail(err, errlen, "%s:%d: %s", path, lineno, msg);
    }
    if (rc == 0 && ferror(f))
        rc = cfg_fail(err, errlen, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

int config_load_env(cr_config *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++) {
        char env[64];
        env_name(settings[i].name, env, sizeof env);
        const char *v = getenv(env);
        /* An empty variable counts as unset: compose files often pass VAR= through. */
        if (v && *v && config_set(c, settings[i].name, v, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int config_check(const cr_config *c, char *err, size_t errlen)
{
    if (c->ws_ping_interval_s >= c->ws_idle_timeout_s)
        return cfg_fail(
            err, errlen,
            "CALLRELAY_WS_PING_INTERVAL (%d) must be below CALLRELAY_WS_IDLE_TIMEOUT (%d)",
            c->ws_ping_interval_s, c->ws_idle_timeout_s);
    if (c->ws_queue_soft > c->ws_queue_hard)
        return cfg_fail(err, errlen,
                        "CALLRELAY_WS_QUEUE_SOFT_BYTES (%zu) must not be above "
                        "CALLRELAY_WS_QUEUE_HARD_BYTES (%zu)",
                        c->ws_queue_soft, c->ws_queue_hard);
    return 0;
}

void config_free(cr_config *c)
{
    free(c->listen_host);
    free(c->redis_url);
    redis_target_free(&c->redis);
    free(c->admin_token);
    free(c->public_url);
    free(c->key_prefix);
    free_list(c->trusted_proxies, c->n_trusted_proxies);
    free(c->tls_cert);
    free(c->tls_key);
    free_list(c->allowed_origins, c->n_allowed_origins);
    memset(c, 0, sizeof *c);
}
