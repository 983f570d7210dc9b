/* held.h — live events held back in id order: while a tab pages, while a user's stream is
 * read again. Every held event is in the stream too: when more come than HELD_MAX, all are
 * dropped and marked lost, and the holder reads the stream instead. */
#ifndef CR_HELD_H
#define CR_HELD_H
#include "frame.h"
#include "streamid.h"
#include <stdbool.h>

#define HELD_MAX 4096

/* Live events held back: while a tab pages, or while a user's stream is read again. */
typedef struct held_list {
    frame **f;
    streamid *id;
    unsigned n, cap;
    bool lost; /* more came than could be held: what was held was dropped */
} held_list;

void held_add(held_list *h, streamid id, frame *f);
/* Drops what has an id up to top. */
void held_prune(held_list *h, streamid top);
void held_drop(held_list *h);
void held_free(held_list *h);

#endif
