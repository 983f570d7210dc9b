/* api_notifications.c — an integration's outbound notifications: GET /v1/notifications,
 * GET /v1/notifications/ID, POST /v1/notifications/retry (API.md "Outbound notifications"). */
#include "api.h"
#include "event.h"
#include "form.h"
#include "result.h"
#include "rfc3339.h"
#include "store_notifications.h"
#include <stdlib.h>
#include <string.h>

#define ONE_PREFIX "/v1/notifications/"
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define RETRY_IDS_MAX 1000
#define ID_MAX 64

static bool id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 5 || n > ID_MAX || strncmp(s, "ntf_", 4) != 0)
        return false;
    return strspn(s + 4, "0123456789_") == n - 4;
}

static json_t *ts_field(const char *ms)
{
    char buf[32];
    if (!ms || !*ms)
        return json_null();
    event_format_ts(strtoll(ms, NULL, 10), buf, sizeof buf);
    return json_string(buf);
}

static const char *field(const redisReply *flat, const char *name)
{
    for (size_t i = 0; i + 1 < flat->elements; i += 2)
        if (strcmp(flat->element[i]->str, name) == 0)
            return flat->element[i + 1]->str;
    return NULL;
}

/* One entry of notify_list.lua's reply as the API shows it. */
static json_t *notification_json(const redisReply *e)
{
    const redisReply *flat = e->element[1], *log = e->element[2];
    const char *status = field(flat, "st");
    json_t *attempts = json_array();
    for (size_t i = 0; i < log->elements; i++)
        json_array_append_new(attempts, json_loads(log->element[i]->str, 0, NULL));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:o,s:o,s:o}", "id", e->element[0]->str,
                     "rule", field(flat, "r"), "status", status, "event_id", field(flat, "eid"),
                     "call_id", field(flat, "c"), "user", field(flat, "u"), "endpoint",
                     field(flat, "ep"), "created", ts_field(field(flat, "t0")), "attempts_count",
                     (json_int_t)strtoll(field(flat, "att"), NULL, 10), "next_attempt",
                     strcmp(status, "pending") == 0 ? ts_field(field(flat, "nx")) : json_null(),
                     "finished", ts_field(field(flat, "done")), "attempts", attempts);
}

static bool well_formed(const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 3 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
        e->element[2]->type != REDIS_REPLY_ARRAY)
        return false;
    for (size_t i = 0; i < e->element[1]->elements; i++)
        if (e->element[1]->element[i]->type != REDIS_REPLY_STRING)
            return false;
    for (size_t i = 0; i < e->element[2]->elements; i++)
        if (e->element[2]->element[i]->type != REDIS_REPLY_STRING)
            return false;
    static const char *const needed[] = {"r", "st", "eid", "c", "u", "ep", "t0", "att", "nx"};
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++)
        if (!field(e->element[1], needed[i]))
            return false;
    return true;
}

static json_t *list_json(const redisReply *list)
{
    json_t *out = json_array();
    for (size_t i = 0; out && i < list->elements; i++) {
        json_t *n = well_formed(list->element[i]) ? notification_json(list->element[i]) : NULL;
        if (!n) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, n);
    }
    return out;
}

/* one: the answer is the list's single notification, or 404. */
static void reply_list(http_req *r, store_outcome o, const redisReply *list, bool one)
{
    json_t *j = o.status == STORE_OK ? list_json(list) : NULL;
    if (o.status != STORE_OK)
        api_reply_store_outcome(r, o);
    else if (!j)
        http_reply_error(r, 500, RC_INTERNAL, NULL, "a notification record is unreadable");
    else if (one && !json_array_size(j))
        http_reply_error(r, 404, RC_NOTIFICATION_NOT_FOUND, "id", "notification not found: %s",
                         r->path + strlen(ONE_PREFIX));
    else if (one)
        http_reply_ok(r, json_pack("{s:O}", "notification", json_array_get(j, 0)));
    else
        http_reply_ok(r, json_pack("{s:O}", "notifications", j));
    json_decref(j);
    http_req_release(r);
}

static void on_list(store_outcome o, const redisReply *list, void *ud)
{
    reply_list(ud, o, list, false);
}

static void on_one(store_outcome o, const redisReply *list, void *ud)
{
    reply_list(ud, o, list, true);
}

/* status and limit from the query; answers 400 itself and returns -1 when they are bad. */
static int list_params(http_req *r, const char **status, unsigned *limit)
{
    char err[128];
    json_t *q = form_parse(r->query, strlen(r->query), err, sizeof err);
    if (!q) {
        http_reply_error(r, 400, RC_BAD_REQUEST, NULL, "query: %s", err);
        return -1;
    }
    const char *st = json_string_value(json_object_get(q, "status"));
    const char *lim = json_string_value(json_object_get(q, "limit"));
    static const char *const statuses[] = {"pending", "dead", "delivered"};
    *status = NULL;
    for (int i = 0; i < 3; i++)
        if (!st || strcmp(st, statuses[i]) == 0)
            *status = statuses[st ? i : 0];
    char *end = NULL;
    long n = lim ? strtol(lim, &end, 10) : LIST_DEFAULT;
    bool bad_limit = lim && (!*lim || *end || n < 1 || n > LIST_MAX);
    json_decref(q);
    if (!*status) {
        http_reply_error(r, 400, RC_INVALID_FIELD, "status",
                         "status: one of pending, dead, delivered");
        return -1;
    }
    if (bad_limit) {
        http_reply_error(r, 400, RC_INVALID_FIELD, "limit", "limit: an integer 1-%d", LIST_MAX);
        return -1;
    }
    *limit = (unsigned)n;
    return 0;
}

void api_notifications_list(http_req *r)
{
    const char *status;
    unsigned limit;
    if (!api_require_integration(r, NULL) || !api_require_store(r) ||
        list_params(r, &status, &limit) != 0)
        return;
    api_store_wait(r, store_notify_list(r->integration, status, limit, on_list, r));
}

void api_notification_get(http_req *r)
{
    if (!api_require_integration(r, NULL) || !api_require_store(r))
        return;
    const char *id = r->path + strlen(ONE_PREFIX);
    if (!id_valid(id)) {
        http_reply_error(r, 400, RC_INVALID_FIELD, "id",
                         "id: a notification id (\"ntf_\" and digits) after " ONE_PREFIX);
        return;
    }
    api_store_wait(r, store_notify_get(r->integration, id, on_one, r));
}

static void on_retried(store_outcome o, long long n, void *ud)
{
    http_req *r = ud;
    if (o.status != STORE_OK)
        api_reply_store_outcome(r, o);
    else
        http_reply_ok(r, json_pack("{s:I}", "queued", (json_int_t)n));
    http_req_release(r);
}

/* {"ids": [...]}: the ids, checked; NULL after answering 400. */
static const char **retry_ids(http_req *r, const json_t *ids, size_t *n)
{
    *n = json_array_size(ids);
    if (!json_is_array(ids) || !*n || *n > RETRY_IDS_MAX) {
        http_reply_error(r, 400, RC_INVALID_FIELD, "ids", "ids: a list of 1-%d notification ids",
                         RETRY_IDS_MAX);
        return NULL;
    }
    const char **v = malloc(*n * sizeof *v);
    for (size_t i = 0; v && i < *n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        if (!id || !id_valid(id)) {
            char f[32];
            snprintf(f, sizeof f, "ids[%zu]", i);
            http_reply_error(r, 400, RC_INVALID_FIELD, f, "%s: not a notification id", f);
            free(v);
            return NULL;
        }
        v[i] = id;
    }
    if (!v)
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    return v;
}

static void retry_dead_since(http_req *r, const json_t *body)
{
    const char *status = json_string_value(json_object_get(body, "status"));
    const char *since = json_string_value(json_object_get(body, "since"));
    int64_t ms;
    if (!status || strcmp(status, "dead") != 0) {
        http_reply_error(r, 400, RC_INVALID_FIELD, "status",
                         "status: \"dead\" (or give \"ids\" instead)");
        return;
    }
    if (!since || rfc3339_parse(since, &ms) != 0) {
        http_reply_error(r, 400, RC_INVALID_FIELD, "since",
                         "since: an RFC 3339 time such as 2026-11-28T10:00:00Z");
        return;
    }
    api_store_wait(r, store_notify_retry_dead(r->integration, (long long)ms, on_retried, r));
}

void api_notifications_retry(http_req *r)
{
    json_t *body = http_body_object(r);
    if (!body)
        return;
    if (api_require_integration(r, body) && api_require_store(r)) {
        const json_t *ids = json_object_get(body, "ids");
        size_t n = 0;
        const char **v = ids ? retry_ids(r, ids, &n) : NULL;
        if (v)
            api_store_wait(r, store_notify_retry_ids(r->integration, v, n, on_retried, r));
        else if (!ids)
            retry_dead_since(r, body);
        free(v);
    }
    json_decref(body);
}
