/* store_commands.c — command_begin.lua and command_end.lua. */
#include "store_commands.h"
#include "store.h"
#include "store_reply.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *element(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL;
}

static bool read_seen(const redisReply *r, command_seen *s)
{
    const char *kind = r && r->type == REDIS_REPLY_ARRAY ? element(r, 0) : NULL;
    if (!kind)
        return false;
    *s = (command_seen){0};
    if (strcmp(kind, "new") == 0) {
        s->kind = CMD_NEW;
    } else if (strcmp(kind, "done") == 0 && element(r, 1) && element(r, 2)) {
        s->kind = CMD_DONE;
        s->status = atoi(element(r, 1));
        s->answer = element(r, 2);
    } else if (strcmp(kind, "pending") == 0 && element(r, 1)) {
        s->kind = CMD_PENDING;
        s->ms = atoll(element(r, 1));
    } else if (strcmp(kind, "conflict") == 0 && element(r, 1)) {
        s->kind = CMD_CONFLICT;
        s->op = element(r, 1);
    } else {
        return false;
    }
    return true;
}

static void on_begin(redisReply *r, void *ud)
{
    store_call *c = ud;
    command_seen s;
    bool ok = read_seen(r, &s);
    ((store_command_begin_cb)c->cb)(store_outcome_of(r, ok), ok ? &s : NULL, c->ud);
    free(c);
}

int store_command_begin(const char *integration, const char *command_id, const char *op,
                        const char *fingerprint, const char *user, const char *call_id,
                        long lease_ms, store_command_begin_cb cb, void *ud)
{
    char lease[24], retention[24];
    snprintf(lease, sizeof lease, "%ld", lease_ms);
    snprintf(retention, sizeof retention, "%lld", (long long)store_config()->retention_s * 1000);
    const char *argv[] = {store_config()->key_prefix,
                          integration,
                          command_id,
                          op,
                          fingerprint,
                          user,
                          call_id,
                          lease,
                          retention};
    return store_call_run(SCRIPT_COMMAND_BEGIN, on_begin, (void (*)(void))cb, ud, 0, 9, argv);
}

static void on_end(redisReply *r, void *ud)
{
    store_call *c = ud;
    bool ok = r && r->type == REDIS_REPLY_INTEGER;
    ((store_done_cb)c->cb)(store_outcome_of(r, ok), c->ud);
    free(c);
}

int store_command_end(const char *integration, const char *command_id, bool reached, int status,
                      const char *answer, const char *call_id, store_done_cb cb, void *ud)
{
    char st[8];
    snprintf(st, sizeof st, "%d", status);
    const char *argv[] = {store_config()->key_prefix,  integration, command_id,
                          reached ? "done" : "forget", st,          answer,
                          call_id ? call_id : ""};
    return store_call_run(SCRIPT_COMMAND_END, on_end, (void (*)(void))cb, ud, 0, 7, argv);
}
