/* sockread.h — how many bytes the process has read from a TCP socket so far. */
#ifndef CR_SOCKREAD_H
#define CR_SOCKREAD_H
#include <stdint.h>

/* Bytes received in order minus those still queued; 0 or -1. */
int sockread_consumed(int fd, uint64_t *out);

#endif
