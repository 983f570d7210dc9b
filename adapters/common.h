/* common.h — what the dialects share: the error they report, a header by name, and the answer
 * most PBXs get (the broker's JSON summary; they read only its status). */
#ifndef CR_ADAPTERS_COMMON_H
#define CR_ADAPTERS_COMMON_H
#include "adapter.h"

/* Fills e (field as given) and returns -1. */
int adapter_fail(adapter_error *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with the field "path.name" (either may be empty). */
int adapter_fail_at(adapter_error *e, const char *path, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Any request header by name, case-insensitive; NULL when absent. */
const char *adapter_header(const adapter_request *req, const char *name);
/* 200, application/json: {"result":{"code":0,"message":"ok"},"accepted":N,"duplicates":N,
 * "ignored":N,"stale":N}. */
int adapter_answer_summary(const adapter_counts *c, adapter_answer *out);
/* Frees what an adapter_http holds and zeroes it. */
void adapter_http_clear(adapter_http *h);

#endif
