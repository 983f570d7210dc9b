/* frame.h — the frames the hub sends: the text once, with LWS_PRE bytes of headroom for
 * lws_write, reference-counted so that every tab that sends it shares one copy. */
#ifndef CR_FRAME_H
#define CR_FRAME_H
#include <jansson.h>
#include <libwebsockets.h>
#include <stddef.h>

typedef struct frame {
    int refs;
    unsigned n_events;
    size_t len;
    unsigned char buf[]; /* LWS_PRE headroom, then the text */
} frame;

frame *frame_new(size_t len);
void frame_unref(frame *f);
char *frame_text(frame *f);
/* Takes j. */
frame *frame_from_json(json_t *j);
/* {"id":ID, ...the stored JSON's fields}; out has room for json_len + id + 8. */
size_t event_text(char *out, const char *id, const char *json, size_t json_len);
/* {"op":"event","event":{...}} from a stored entry's id and JSON (an object). */
frame *frame_event(const char *id, const char *json, size_t json_len);

#endif
