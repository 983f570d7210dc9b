/* wakeup.h — the pub/sub wake-up messages ingest.lua publishes: lines
 * "integration\textension\tid\tjson\n", one per stored entry, in id order. */
#ifndef CR_WAKEUP_H
#define CR_WAKEUP_H
#include "names.h"
#include "streamid.h"
#include <stddef.h>

typedef struct wakeup_line {
    char integration[NAME_MAX_LEN + 1], extension[NAME_MAX_LEN + 1];
    char id_text[STREAMID_MAX_LEN]; /* canonical form of id */
    streamid id;
    const char *json; /* points into the payload; starts with '{' */
    size_t json_len;
} wakeup_line;

/* Calls fn for every well-formed line of payload, in order; skips the others. Returns the
 * number of lines skipped. */
size_t wakeup_each(const char *payload, size_t len, void (*fn)(const wakeup_line *w, void *ud),
                   void *ud);

#endif
