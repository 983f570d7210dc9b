/* redis_uv.h — our hiredis event adapter for libuv. Unlike hiredis 0.14's own, a poll error
 * is handed to hiredis as readiness so that it sees the failure and calls back. */
#ifndef CR_REDIS_UV_H
#define CR_REDIS_UV_H
#include <hiredis/async.h>
#include <uv.h>

int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
