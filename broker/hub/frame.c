/* frame.c — reference-counted outgoing frames. */
#include "frame.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

frame *frame_new(size_t len)
{
    frame *f = malloc(sizeof *f + LWS_PRE + len + 1);
    if (!f)
        return NULL;
    f->refs = 1;
    f->n_events = 0;
    f->len = len;
    return f;
}

void frame_unref(frame *f)
{
    if (f && --f->refs == 0)
        free(f);
}

char *frame_text(frame *f) { return (char *)f->buf + LWS_PRE; }

frame *frame_from_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    frame *f = frame_new(len);
    if (f)
        memcpy(frame_text(f), text, len);
    free(text);
    return f;
}

/* The stored JSON starts with '{'; the id is spliced in front of its first key. */
size_t event_text(char *out, const char *id, const char *json, size_t json_len)
{
    size_t n = (size_t)sprintf(out, "{\"id\":\"%s\",", id);
    memcpy(out + n, json + 1, json_len - 1);
    return n + json_len - 1;
}

frame *frame_event(const char *id, const char *json, size_t json_len)
{
    const char head[] = "{\"op\":\"event\",\"event\":";
    size_t idl = strlen(id);
    frame *f = frame_new(sizeof head - 1 + 10 + idl + json_len + 1);
    if (!f)
        return NULL;
    char *p = frame_text(f);
    memcpy(p, head, sizeof head - 1);
    size_t n = sizeof head - 1;
    n += event_text(p + n, id, json, json_len);
    p[n++] = '}';
    f->len = n;
    f->n_events = 1;
    return f;
}
