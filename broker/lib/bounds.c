/* bounds.c — token bucket, outgoing queue bound, Origin allow list (see bounds.h). */
#include "bounds.h"
#include <strings.h>

int64_t bucket_take(token_bucket *b, double rate, double burst, int64_t now_ms)
{
    if (b->last_ms == 0 || now_ms < b->last_ms)
        b->tokens = b->last_ms == 0 ? burst : b->tokens;
    else
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_ms = now_ms;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    double need = (1.0 - b->tokens) / rate;
    int64_t wait_s = (int64_t)need;
    wait_s += (double)wait_s < need; /* rounded up, at least 1 */
    return wait_s < 1 ? 1 : wait_s;
}

queue_verdict queue_bound(size_t bytes, int64_t now_ms, int64_t *over_since, size_t hard,
                          size_t soft, int64_t soft_ms)
{
    if (bytes > hard)
        return QUEUE_HARD;
    if (bytes <= soft) {
        *over_since = 0;
        return QUEUE_OK;
    }
    if (*over_since == 0)
        *over_since = now_ms;
    return now_ms - *over_since >= soft_ms ? QUEUE_SOFT : QUEUE_OK;
}

bool origin_allowed(char *const *list, size_t n, const char *origin)
{
    if (n == 0 || !origin)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(list[i], origin) == 0)
            return true;
    return false;
}
