/* redis_uv.c — hiredis async adapter on libuv.
 *
 * Two differences from hiredis 0.14's own adapter. A poll error is handed to hiredis as
 * readiness, so that a refused or reset socket reaches its error path instead of hanging.
 * And a connected context's writes go out from a uv_idle callback instead of a poll for
 * writability: libuv's uv_poll_start removes and re-adds the descriptor in epoll on every
 * change, which cost two system calls per command batch. The poll watches writability only
 * while connecting or when the socket buffer is full. */
#include "redis_uv.h"
#include <stdbool.h>
#include <stdlib.h>

typedef struct redis_uv {
    redisAsyncContext *ac;
    uv_poll_t poll;
    uv_idle_t idle;
    int events;
    bool flushing; /* inside the idle callback: a new write request means the socket is full */
    int open_handles;
} redis_uv;

static void on_poll(uv_poll_t *h, int status, int events)
{
    redis_uv *p = h->data;
    int ev = status < 0 ? p->events : events;
    if (p->ac && (ev & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void set_events(redis_uv *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    if (events)
        uv_poll_start(&p->poll, events, on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void on_idle(uv_idle_t *h)
{
    redis_uv *p = h->data;
    uv_idle_stop(&p->idle);
    p->flushing = true;
    if (p->ac)
        redisAsyncHandleWrite(p->ac);
    p->flushing = false;
}

static void add_read(void *d)
{
    redis_uv *p = d;
    set_events(p, p->events | UV_READABLE);
}

static void del_read(void *d)
{
    redis_uv *p = d;
    set_events(p, p->events & ~UV_READABLE);
}

static void add_write(void *d)
{
    redis_uv *p = d;
    if (!(p->ac->c.flags & REDIS_CONNECTED) || p->flushing)
        set_events(p, p->events | UV_WRITABLE);
    else if (!(p->events & UV_WRITABLE))
        uv_idle_start(&p->idle, on_idle);
}

static void del_write(void *d)
{
    redis_uv *p = d;
    uv_idle_stop(&p->idle);
    set_events(p, p->events & ~UV_WRITABLE);
}

static void on_close(uv_handle_t *h)
{
    redis_uv *p = h->data;
    if (--p->open_handles == 0)
        free(p);
}

static void cleanup(void *d)
{
    redis_uv *p = d;
    p->ac = NULL;
    uv_idle_stop(&p->idle);
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_close);
    uv_close((uv_handle_t *)&p->idle, on_close);
}

int redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data)
        return -1;
    redis_uv *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return -1;
    }
    uv_idle_init(loop, &p->idle);
    p->open_handles = 2;
    p->ac = ac;
    p->poll.data = p->idle.data = p;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return 0;
}
