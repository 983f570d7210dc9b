/* store_presence.c — the calls on the presence set: members "EXT\tINSTANCE" scored by their
 * expiry; builds each command and turns its reply into domain values. */
#include "store_presence.h"
#include "online.h"
#include "store.h"
#include "store_reply.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_done(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_outcome o = store_outcome_of(r, r && r->type != REDIS_REPLY_ERROR);
    if (c->cb)
        ((store_done_cb)c->cb)(o, c->ud);
    free(c);
}

static void ignore(redisReply *r, void *ud)
{
    (void)r;
    (void)ud;
}

/* argv[0..head) as given, then per extension: [score,] "EXT\tINSTANCE". */
typedef struct members {
    const char **argv;
    size_t *lens;
    char *text;
    int argc;
} members;

static int members_build(members *m, const char *const *head, int nhead, const char *score,
                         const char *instance, const char *const *exts, size_t n)
{
    int per = score ? 2 : 1;
    size_t bytes = 0, il = strlen(instance);
    for (size_t i = 0; i < n; i++)
        bytes += strlen(exts[i]) + il + 2;
    m->argc = nhead + per * (int)n;
    m->argv = malloc((size_t)m->argc * sizeof *m->argv);
    m->lens = malloc((size_t)m->argc * sizeof *m->lens);
    m->text = malloc(bytes ? bytes : 1);
    if (!m->argv || !m->lens || !m->text)
        return -1;
    for (int i = 0; i < nhead; i++)
        m->argv[i] = head[i];
    char *p = m->text;
    for (size_t i = 0; i < n; i++) {
        int a = nhead + per * (int)i;
        if (score)
            m->argv[a++] = score;
        m->argv[a] = p;
        p += sprintf(p, "%s\t%s", exts[i], instance) + 1;
    }
    for (int i = 0; i < m->argc; i++)
        m->lens[i] = strlen(m->argv[i]);
    return 0;
}

static void members_free(members *m)
{
    free(m->argv);
    free(m->lens);
    free(m->text);
}

/* cb runs once, for the first command; the others' replies are ignored. */
static int send_members(const members *m, store_done_cb cb, void *ud, const char **after,
                        int nafter)
{
    store_call *c = malloc(sizeof *c);
    if (c)
        *c = (store_call){(void (*)(void))cb, ud};
    if (!c || store_command(on_done, c, m->argc, m->argv, m->lens) != 0) {
        free(c);
        return -1;
    }
    if (after) {
        size_t lens[4];
        for (int i = 0; i < nafter; i++)
            lens[i] = strlen(after[i]);
        store_command(ignore, NULL, nafter, after, lens);
    }
    return 0;
}

int store_presence_put(const char *integration, const char *instance, const char *const *exts,
                       size_t n, int64_t expires_ms, store_done_cb cb, void *ud)
{
    char score[32], retention[32];
    snprintf(score, sizeof score, "%lld", (long long)expires_ms);
    snprintf(retention, sizeof retention, "%lld", (long long)store_config()->retention_s * 1000);
    char *key = store_key_online(integration);
    const char *head[] = {"ZADD", key};
    const char *expire[] = {"PEXPIRE", key, retention};
    members m = {0};
    int rc = key && n ? members_build(&m, head, 2, score, instance, exts, n) : -1;
    if (!rc)
        rc = send_members(&m, cb, ud, expire, 3);
    members_free(&m);
    free(key);
    return rc;
}

int store_presence_remove(const char *integration, const char *instance, const char *const *exts,
                          size_t n, store_done_cb cb, void *ud)
{
    char *key = store_key_online(integration);
    const char *head[] = {"ZREM", key};
    members m = {0};
    int rc = key && n ? members_build(&m, head, 2, NULL, instance, exts, n) : -1;
    if (!rc)
        rc = send_members(&m, cb, ud, NULL, 0);
    members_free(&m);
    free(key);
    return rc;
}

int store_presence_prune(const char *integration, int64_t now_ms, store_done_cb cb, void *ud)
{
    char until[32];
    snprintf(until, sizeof until, "(%lld", (long long)now_ms);
    char *key = store_key_online(integration);
    const char *argv[] = {"ZREMRANGEBYSCORE", key, "-inf", until};
    int rc = store_call_run(-1, on_done, (void (*)(void))cb, ud, 0, 4, argv);
    free(key);
    return rc;
}

static void on_online(redisReply *r, void *ud)
{
    store_call *c = ud;
    bool valid = r && r->type == REDIS_REPLY_ARRAY;
    for (size_t i = 0; valid && i < r->elements; i++)
        valid = r->element[i]->type == REDIS_REPLY_STRING;
    store_outcome o = store_outcome_of(r, valid);
    size_t n = 0;
    char **exts = NULL;
    if (o.status == STORE_OK) {
        exts = malloc((r->elements ? r->elements : 1) * sizeof *exts);
        if (!exts)
            o = (store_outcome){STORE_FAILED, "out of memory"};
        for (size_t i = 0; exts && i < r->elements; i++)
            exts[i] = r->element[i]->str;
        n = exts ? online_extensions(exts, r->elements) : 0;
    }
    ((store_online_cb)c->cb)(o, (const char *const *)exts, n, c->ud);
    free(exts);
    free(c);
}

int store_presence_online(const char *integration, int64_t now_ms, store_online_cb cb, void *ud)
{
    char after[32];
    snprintf(after, sizeof after, "(%lld", (long long)now_ms);
    char *key = store_key_online(integration);
    const char *argv[] = {"ZRANGEBYSCORE", key, after, "+inf"};
    int rc = store_call_run(-1, on_online, (void (*)(void))cb, ud, 0, 4, argv);
    free(key);
    return rc;
}
