/* bounds.h — the pure parts of the limits that keep one tenant or tab from hurting the others:
 * a token bucket (requests per second per integration), the bound of a tab's outgoing queue
 * (a hard limit in bytes, and a soft one that may only be exceeded for a while, as Redis
 * bounds its clients' output buffers), and the Origin allow list of browser websockets. */
#ifndef CR_BOUNDS_H
#define CR_BOUNDS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct token_bucket {
    double tokens;
    int64_t last_ms; /* 0: never used, full */
} token_bucket;

/* Takes one token at now_ms (> 0) from a bucket refilled at rate per second up to burst.
 * Returns 0 when taken, else the whole seconds (>= 1) until a token is there. */
int64_t bucket_take(token_bucket *b, double rate, double burst, int64_t now_ms);

typedef enum { QUEUE_OK, QUEUE_HARD, QUEUE_SOFT } queue_verdict;

/* bytes queued at now_ms (> 0): over hard is QUEUE_HARD at once; over soft continuously for
 * soft_ms is QUEUE_SOFT. *over_since is when it went over soft (0: it is not over). */
queue_verdict queue_bound(size_t bytes, int64_t now_ms, int64_t *over_since, size_t hard,
                          size_t soft, int64_t soft_ms);

/* An upgrade without Origin (not a browser) and an empty list allow any; else the Origin must
 * be one of the list's, compared without regard to case. */
bool origin_allowed(char *const *list, size_t n, const char *origin);

#endif
