/* held.c — a growing array of frame references and their ids. */
#include "held.h"
#include <stdlib.h>

void held_drop(held_list *h)
{
    for (unsigned i = 0; i < h->n; i++)
        frame_unref(h->f[i]);
    h->n = 0;
}

void held_free(held_list *h)
{
    held_drop(h);
    free(h->f);
    free(h->id);
    h->f = NULL;
    h->id = NULL;
    h->cap = 0;
}

/* Every held event is in the stream too: when more come than can be held, all are dropped
 * and the stream is read again instead. */
void held_add(held_list *h, streamid id, frame *f)
{
    if (h->lost)
        return;
    if (h->n == h->cap) {
        unsigned cap = h->cap ? h->cap * 2 : 16;
        frame **nf = cap <= HELD_MAX ? realloc(h->f, cap * sizeof *nf) : NULL;
        if (nf)
            h->f = nf;
        streamid *ni = nf ? realloc(h->id, cap * sizeof *ni) : NULL;
        if (!ni) {
            held_drop(h);
            h->lost = true;
            return;
        }
        h->id = ni;
        h->cap = cap;
    }
    f->refs++;
    h->f[h->n] = f;
    h->id[h->n++] = id;
}

/* Drops what the pages of a paging run will bring anyway: ids up to top. */
void held_prune(held_list *h, streamid top)
{
    unsigned k = 0;
    for (unsigned i = 0; i < h->n; i++) {
        if (streamid_cmp(h->id[i], top) <= 0) {
            frame_unref(h->f[i]);
            continue;
        }
        h->f[k] = h->f[i];
        h->id[k++] = h->id[i];
    }
    h->n = k;
}
