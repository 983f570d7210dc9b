/* head_gate.h — every request head is checked (http_head.c) before libwebsockets reads it:
 * lws 4.1 drops a connection without an answer when a head overflows it, so a head that
 * fails gets its 400/414/431/408 here. A new connection is watched before it is adopted; a
 * keep-alive connection is watched again, lws's reading paused, after each answer. */
#ifndef CR_HEAD_GATE_H
#define CR_HEAD_GATE_H
#include <libwebsockets.h>
#include <stdbool.h>
#include <uv.h>

int head_gate_init(uv_loop_t *loop, struct lws_vhost *vhost, unsigned timeout_s);
/* A new connection: adopted into lws once its first head passed. */
void head_gate_accept(int fd);
/* The broker answered a request on wsi and keeps the connection: the next head is checked. */
void head_gate_answered(struct lws *wsi);
/* lws read bytes the gate never checked (a client that pipelines): close after the answer. */
bool head_gate_unchecked(struct lws *wsi);
/* Closes every connection still waiting for its head (the broker drains). */
void head_gate_stop(void);
/* LWS_CALLBACK_WSI_DESTROY. */
void head_gate_forget(struct lws *wsi);

#endif
