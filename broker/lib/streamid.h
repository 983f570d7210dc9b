/* streamid.h — Redis stream ids ("<ms>-<seq>"), compared as numbers. */
#ifndef CR_STREAMID_H
#define CR_STREAMID_H
#include <stdbool.h>
#include <stdint.h>

typedef struct streamid {
    uint64_t ms, seq;
} streamid;

#define STREAMID_MAX_LEN 42

/* Parses the whole string; false on anything else. */
bool streamid_parse(const char *s, streamid *out);
int streamid_cmp(streamid a, streamid b);
bool streamid_is_zero(streamid a);
/* The canonical form (no leading zeros), whatever form was parsed. */
void streamid_format(streamid id, char out[STREAMID_MAX_LEN]);

#endif
