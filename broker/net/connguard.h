/* connguard.h — watches the bytes libwebsockets reads from each client connection (see
 * connscan.h for what and why): a request head lws could not hold is answered here, with a
 * status and a JSON body, and a websocket client's unmasked frame is reported to the hub. */
#ifndef CR_CONNGUARD_H
#define CR_CONNGUARD_H
#include <stdbool.h>
#include <uv.h>

/* on_unmasked is called from inside the read that brought an unmasked frame of a connection
 * whose owner was set; true: it sent its close frame, and lws is told the read failed. */
int connguard_init(uv_loop_t *loop, bool (*on_unmasked)(void *owner));
/* A connection just accepted, before lws reads from it. */
int connguard_watch(int fd);
void connguard_forget(int fd);
/* The websocket session of fd, handed to on_unmasked. */
void connguard_set_owner(int fd, void *owner);
/* http.c wrote a final answer on fd; true: close after it (a refused head waits behind). */
bool connguard_answered(int fd);
/* An unmasked client frame was read from fd. */
bool connguard_unmasked(int fd);
/* Closes the connections still being drained after a refusal; frees everything. */
void connguard_stop(void);

#endif
