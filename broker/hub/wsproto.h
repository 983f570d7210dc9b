/* wsproto.h — the client's websocket frames (register, ack, ping, unregister) parsed and
 * checked; pure, so that the hub only acts on frames that are well-formed. */
#ifndef CR_WSPROTO_H
#define CR_WSPROTO_H
#include "streamid.h"
#include <stdbool.h>
#include <stddef.h>

#define WS_PAGE_MAX 1000
#define WS_PAGE_DEFAULT 100

enum ws_op { WS_OP_REGISTER, WS_OP_ACK, WS_OP_PING, WS_OP_UNREGISTER };

typedef struct ws_frame {
    enum ws_op op;
    int limit;       /* register */
    bool has_since;  /* register */
    streamid id;     /* register: since; ack: the id */
    char error[200]; /* why it was refused */
} ws_frame;

/* Returns 0, or the result code of the refusal (3100 malformed, 3101 bad field, 3109
 * unknown op) with f->error set. */
int ws_frame_parse(const char *text, size_t len, ws_frame *f);

#endif
