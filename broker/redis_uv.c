/* redis_uv.c — hiredis async adapter on a uv_poll_t. */
#include "redis_uv.h"
#include <stdlib.h>

typedef struct redis_uv {
    redisAsyncContext *ac;
    uv_poll_t poll;
    int events;
} redis_uv;

static void on_poll(uv_poll_t *h, int status, int events)
{
    redis_uv *p = h->data;
    /* On an error libuv gives no events: let hiredis try both directions it asked for, so
     * a refused or reset socket reaches its error path instead of hanging. */
    int ev = status < 0 ? p->events : events;
    if (p->ac && (ev & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void update(redis_uv *p, int add, int del)
{
    int was = p->events;
    p->events = (p->events | add) & ~del;
    if (p->events == was)
        return;
    if (p->events)
        uv_poll_start(&p->poll, p->events, on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void add_read(void *d) { update(d, UV_READABLE, 0); }
static void del_read(void *d) { update(d, 0, UV_READABLE); }
static void add_write(void *d) { update(d, UV_WRITABLE, 0); }
static void del_write(void *d) { update(d, 0, UV_WRITABLE); }

static void on_close(uv_handle_t *h) { free(h->data); }

static void cleanup(void *d)
{
    redis_uv *p = d;
    p->ac = NULL;
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_close);
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
    p->ac = ac;
    p->poll.data = p;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = p;
    return 0;
}
