/* store_reply.c — what a Redis reply came to, for the store's domain calls. */
#include "store_reply.h"
#include <stdlib.h>

store_outcome store_outcome_of(const redisReply *r, bool well_formed)
{
    if (!r)
        return (store_outcome){STORE_UNAVAILABLE, NULL};
    if (!well_formed)
        return (store_outcome){STORE_FAILED,
                               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"};
    return (store_outcome){STORE_OK, NULL};
}

call_field *store_reply_call_fields(const redisReply *r, size_t *n)
{
    *n = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2)
        return NULL;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING)
            return NULL;
    call_field *v = malloc((r->elements ? r->elements / 2 : 1) * sizeof *v);
    for (size_t i = 0; v && i < r->elements / 2; i++)
        v[i] = (call_field){r->element[2 * i]->str, r->element[2 * i + 1]->str};
    if (v)
        *n = r->elements / 2;
    return v;
}
