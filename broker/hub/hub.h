/* hub.h — websocket sessions: tickets or tokens at the upgrade, register/ack/ping/unregister,
 * paged replay, and fan-out of live events from the pub/sub feed to every registered tab. */
#ifndef CR_HUB_H
#define CR_HUB_H
#include "config.h"
#include <libwebsockets.h>
#include <stdbool.h>
#include <jansson.h>
#include <stddef.h>
#include <uv.h>

int hub_init(uv_loop_t *loop, const cr_config *cfg);
void hub_free(void);

/* A websocket upgrade refused: what the answer says (extra: fields added to its JSON body,
 * owned by the caller, may be NULL). */
typedef struct hub_refusal {
    int status, code;
    const char *message; /* static */
    json_t *extra;
} hub_refusal;

/* lws callbacks for the websocket side; slot is the connection's session pointer. hub_filter
 * returns 0 (upgrade) or -1 with *no filled for the HTTP layer to answer. */
int hub_filter(struct lws *wsi, void **slot, hub_refusal *no);
/* unmasked: the client sent an unmasked frame with its upgrade (the connection guard saw it). */
int hub_established(struct lws *wsi, void **slot, bool unmasked);
int hub_receive(struct lws *wsi, void **slot, const void *in, size_t len);
int hub_writeable(struct lws *wsi, void **slot);
void hub_closed(struct lws *wsi, void **slot);
/* A pong from the client: it is alive (CALLRELAY_WS_IDLE_TIMEOUT). */
void hub_pong(struct lws *wsi, void **slot);
/* connguard's on_unmasked: owner is the session of a connection that sent an unmasked frame. */
bool hub_on_unmasked(void *owner);

/* From the store: the payload of one wake-up message; the pub/sub feed is back. */
void hub_on_wakeup(const char *payload, size_t len);
void hub_on_pubsub_ready(void);
/* The feed of a shard is on: its tabs that were let in may read their first page. */
void hub_on_feed_ready(unsigned shard);
/* The command connection is back: users whose resync failed read their streams again. */
void hub_on_store_connected(void);
/* Shutting down: refuse new websockets and close every one with 1001 (going away). */
void hub_close_all(void);

#endif
