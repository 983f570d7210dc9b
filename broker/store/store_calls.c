/* store_calls.c — reads a call's hash and hands its fields on. */
#include "store_calls.h"
#include "store.h"
#include "store_reply.h"
#include <stdlib.h>
#include <string.h>

typedef struct state_call {
    store_call_state_cb cb;
    void *ud;
    char call_id[];
} state_call;

static void on_state(redisReply *r, void *ud)
{
    state_call *c = ud;
    call_fields call = {.call_id = c->call_id};
    call_field *v = store_reply_call_fields(r, &call.n);
    store_outcome o = store_outcome_of(r, v != NULL);
    call.v = v;
    c->cb(o, &call, c->ud);
    free(v);
    free(c);
}

int store_call_state(const char *integration, const char *call_id, store_call_state_cb cb, void *ud)
{
    size_t idl = strlen(call_id);
    state_call *c = malloc(sizeof *c + idl + 1);
    char *key = store_key_call(integration, call_id);
    int rc = -1;
    if (c && key) {
        *c = (state_call){cb, ud};
        memcpy(c->call_id, call_id, idl + 1);
        const char *argv[] = {"HGETALL", key};
        size_t lens[] = {7, strlen(key)};
        rc = store_command(on_state, c, 2, argv, lens);
    }
    if (rc)
        free(c);
    free(key);
    return rc;
}
