/* feed_shard.h — wake-ups travel on FEED_SHARDS pub/sub channels, one per shard of the users
 * (PREFIX "ev:" N). An instance listens only to the shards of the users it has tabs for, so
 * what it receives grows with its own tabs, not with every instance's events. The shard of a
 * user is computed here and, identically, by ingest.lua. The state of one shard's
 * subscription is pure code too: the pub/sub connection sends what it says. */
#ifndef CR_FEED_SHARD_H
#define CR_FEED_SHARD_H
#include <stdbool.h>

#define FEED_SHARDS 1024u

/* h = h * 131 + byte over "INTEGRATION\tEXTENSION", modulo 2147483647, then modulo FEED_SHARDS:
 * small enough for Lua's doubles to compute exactly. */
unsigned feed_shard(const char *integration, const char *extension);

typedef enum { FEED_NONE, FEED_SUBSCRIBE, FEED_UNSUBSCRIBE } feed_cmd;

/* refs: users with tabs in the shard. A SUBSCRIBE is not sent while an UNSUBSCRIBE of the
 * same channel is unanswered, so that at most one command of each kind is on its way and the
 * last answer says what Redis has (hiredis 0.14 would cope, it counts pending subscribes; the
 * wait costs one round trip in a rare case). */
typedef struct feed_slot {
    unsigned refs;
    unsigned outstanding; /* SUBSCRIBE and UNSUBSCRIBE sent, not answered */
    bool last_sub;        /* the last of them was a SUBSCRIBE */
    bool active;          /* Redis has the subscription: events for the shard reach us */
    bool resub;           /* wanted again while an UNSUBSCRIBE is unanswered */
} feed_slot;

/* A user with tabs joins or leaves the shard; connected: the pub/sub connection is up. */
feed_cmd feed_ref(feed_slot *f, bool connected);
feed_cmd feed_unref(feed_slot *f, bool connected);
/* An answer to one of the shard's commands. Returns true when the shard became active; *then
 * is a command to send now. */
bool feed_answered(feed_slot *f, bool subscribe, feed_cmd *then);
/* The connection was lost: nothing is subscribed, nothing is outstanding. */
void feed_lost(feed_slot *f);
/* The connection is (re)established: whether the shard is subscribed in the first SUBSCRIBE
 * (counted as sent). */
bool feed_reconnect(feed_slot *f);

#endif
