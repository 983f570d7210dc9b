/* utf8.h — text made safe for a JSON string: jansson refuses text that is not UTF-8, and a
 * message may quote a PBX's bytes or be cut by a buffer in the middle of a character. Pure. */
#ifndef CR_UTF8_H
#define CR_UTF8_H

/* Replaces, in place, every byte that does not belong to a well-formed UTF-8 sequence
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) with '?'. Returns s. */
char *utf8_repair(char *s);

#endif
