/* feed_shard.c — see feed_shard.h. */
#include "feed_shard.h"
#include <stdint.h>

#define FEED_MOD 2147483647u

/* below 2^39 before the modulo: exact in Lua's doubles too */
static uint64_t mix(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h * 131u + (unsigned char)*s) % FEED_MOD;
    return h;
}

unsigned feed_shard(const char *integration, const char *extension)
{
    uint64_t h = mix(0, integration);
    h = (h * 131u + '\t') % FEED_MOD;
    return (unsigned)(mix(h, extension) % FEED_SHARDS);
}

static feed_cmd send_sub(feed_slot *f)
{
    f->outstanding++;
    f->last_sub = true;
    return FEED_SUBSCRIBE;
}

feed_cmd feed_ref(feed_slot *f, bool connected)
{
    if (f->refs++ > 0 || !connected)
        return FEED_NONE;
    if (f->outstanding) { /* an UNSUBSCRIBE is on its way */
        f->resub = true;
        return FEED_NONE;
    }
    return send_sub(f);
}

feed_cmd feed_unref(feed_slot *f, bool connected)
{
    if (!f->refs || --f->refs > 0)
        return FEED_NONE;
    if (f->resub) { /* the UNSUBSCRIBE on its way does it */
        f->resub = false;
        return FEED_NONE;
    }
    if (!connected || !(f->active || (f->outstanding && f->last_sub)))
        return FEED_NONE;
    f->outstanding++;
    f->last_sub = false;
    f->active = false;
    return FEED_UNSUBSCRIBE;
}

bool feed_answered(feed_slot *f, bool subscribe, feed_cmd *then)
{
    *then = FEED_NONE;
    if (!f->outstanding)
        return false; /* from a connection before the last reconnect */
    f->outstanding--;
    if (f->outstanding)
        return false;
    if (subscribe && f->last_sub) {
        f->active = true;
        return true;
    }
    if (!subscribe && f->resub) {
        f->resub = false;
        *then = send_sub(f);
    }
    return false;
}

void feed_lost(feed_slot *f)
{
    f->outstanding = 0;
    f->active = f->last_sub = f->resub = false;
}

bool feed_reconnect(feed_slot *f)
{
    feed_lost(f);
    if (!f->refs)
        return false;
    send_sub(f);
    return true;
}
