/* json_text.h — the compact JSON text of a jansson value, byte for byte what
 * json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) writes. jansson decodes every character of
 * every string as UTF-8 while dumping, about 70 instructions a byte; an event's text is
 * written on every webhook, so this writes runs of plain bytes at once. Pure. */
#ifndef CR_JSON_TEXT_H
#define CR_JSON_TEXT_H
#include <jansson.h>
#include <stddef.h>

/* malloc'd and NUL-terminated, its length in *len; NULL where jansson fails too (a string
 * that is not UTF-8, nesting deeper than jansson parses: a cycle) or out of memory. */
char *json_text(const json_t *v, size_t *len);

#endif
