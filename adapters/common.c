/* common.c — see common.h. */
#include "common.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int vfail(adapter_error *e, const char *fmt, va_list ap)
{
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    return -1;
}

int adapter_fail(adapter_error *e, const char *field, const char *fmt, ...)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vfail(e, fmt, ap);
    va_end(ap);
    return -1;
}

int adapter_fail_at(adapter_error *e, const char *path, const char *name, const char *fmt, ...)
{
    if (*path && *name)
        snprintf(e->field, sizeof e->field, "%s.%s", path, name);
    else
        snprintf(e->field, sizeof e->field, "%s", *path ? path : name);
    va_list ap;
    va_start(ap, fmt);
    vfail(e, fmt, ap);
    va_end(ap);
    return -1;
}

const char *adapter_header(const adapter_request *req, const char *name)
{
    return req->header ? req->header(req, name) : NULL;
}

int adapter_answer_summary(const adapter_counts *c, adapter_answer *out)
{
    char body[192];
    int n = snprintf(body, sizeof body,
                     "{\"result\":{\"code\":0,\"message\":\"ok\"},\"accepted\":%u,"
                     "\"duplicates\":%u,\"ignored\":%u,\"stale\":%u}",
                     c->accepted, c->duplicates, c->ignored, c->stale);
    *out = (adapter_answer){.status = 200, .content_type = "application/json"};
    out->body = strndup(body, (size_t)n);
    out->body_len = (size_t)n;
    return out->body ? 0 : -1;
}

void adapter_http_clear(adapter_http *h)
{
    free(h->url);
    free(h->headers);
    free(h->body);
    *h = (adapter_http){0};
}
