/* presence.h — this instance's share of who is online: every user with a registered tab here
 * is a member of the integration's presence set, with an expiry this instance pushes forward
 * while it lives (a killed instance's members lapse after CALLRELAY_PRESENCE_TTL). */
#ifndef CR_PRESENCE_H
#define CR_PRESENCE_H
#include "config.h"
#include <stdint.h>
#include <uv.h>

int presence_start(uv_loop_t *loop, const cr_config *cfg);
/* A tab of the user registered here, or stopped being registered (unregister, close). */
void presence_join(const char *integration, const char *ext);
void presence_leave(const char *integration, const char *ext);
/* Shutting down: this instance's members are removed and no longer refreshed. */
void presence_drain(void);
/* Closes the timer (the loop can end); presence_free, after the loop, frees the rest. */
void presence_stop(void);
void presence_free(void);
/* The random id of this process in the presence set. */
const char *presence_instance(void);
/* Unix ms, the clock that presence expiries are in. */
int64_t presence_now_ms(void);

#endif
