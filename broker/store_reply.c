/* store_reply.c — what a Redis reply came to, for the store's domain calls. */
#include "store_reply.h"
#include <stddef.h>

store_outcome store_outcome_of(const redisReply *r, bool well_formed)
{
    if (!r)
        return (store_outcome){STORE_UNAVAILABLE, NULL};
    if (!well_formed)
        return (store_outcome){STORE_FAILED,
                               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply"};
    return (store_outcome){STORE_OK, NULL};
}
