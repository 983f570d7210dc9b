/* api_users.c — users of an integration (by extension) and websocket channels for them. */
#include "api.h"
#include "names.h"
#include "result.h"
#include "store.h"
#include "ticket.h"
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICKET_TTL 60

static json_t *read_extension(http_req *r, char ext[NAME_MAX_LEN + 1])
{
    return api_named_body(r, false, "extension", name_extension_valid,
                          "1-64 of A-Z a-z 0-9 _ . + -", ext);
}

static void on_created(redisReply *reply, void *ud)
{
    http_req *r = ud;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        api_reply_store_failure(r, reply);
    else
        http_reply_ok(r, json_pack("{s:O}", "user", (json_t *)r->state));
    http_req_release(r);
}

void api_users_create(http_req *r)
{
    char ext[NAME_MAX_LEN + 1];
    json_t *body = read_extension(r, ext);
    if (!body)
        return;
    json_t *jn = json_object_get(body, "name");
    if (jn && !json_is_string(jn)) {
        http_reply_error(r, 400, RC_INVALID_FIELD, "name", "name: must be a string");
        json_decref(body);
        return;
    }
    json_t *user =
        json_pack("{s:s,s:s}", "extension", ext, "name", jn ? json_string_value(jn) : "");
    r->state = user;
    r->free_state = (void (*)(void *))json_decref;
    json_t *stored = json_pack("{s:O}", "name", json_object_get(user, "name"));
    char *value = stored ? json_dumps(stored, JSON_COMPACT) : NULL;
    char *key = store_key_users(r->integration);
    const char *argv[] = {"HSET", key, ext, value};
    api_redis(r, -1, on_created, 0, 4, argv);
    free(key);
    free(value);
    json_decref(stored);
    json_decref(body);
}

static void on_deleted(redisReply *reply, void *ud)
{
    http_req *r = ud;
    if (!reply || reply->type != REDIS_REPLY_INTEGER)
        api_reply_store_failure(r, reply);
    else if (reply->integer == 0)
        http_reply_error(r, 404, RC_NOT_FOUND, "extension", "no such user");
    else
        http_reply_ok(r, NULL);
    http_req_release(r);
}

void api_users_delete(http_req *r)
{
    char ext[NAME_MAX_LEN + 1];
    json_t *body = read_extension(r, ext);
    if (!body)
        return;
    char *users = store_key_users(r->integration);
    char *stream = store_key_stream(r->integration, ext);
    char *cursor = store_key_cursor(r->integration, ext);
    const char *args[] = {users, stream, cursor, ext};
    api_redis(r, SCRIPT_USER_DELETE, on_deleted, 3, 4, args);
    free(users);
    free(stream);
    free(cursor);
    json_decref(body);
}

static int by_extension(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "extension"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "extension"));
    return strcmp(x, y);
}

static void on_listed(redisReply *reply, void *ud)
{
    http_req *r = ud;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        api_reply_store_failure(r, reply);
        http_req_release(r);
        return;
    }
    size_t n = reply->elements / 2;
    json_t **items = calloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; items && i < n; i++) {
        json_t *v = json_loads(reply->element[2 * i + 1]->str, 0, NULL);
        const char *name = json_string_value(json_object_get(v, "name"));
        items[i] = json_pack("{s:s,s:s}", "extension", reply->element[2 * i]->str, "name",
                             name ? name : "");
        json_decref(v);
    }
    json_t *list = json_array();
    if (items) {
        qsort(items, n, sizeof *items, by_extension);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, items[i]);
    }
    free(items);
    http_reply_ok(r, json_pack("{s:o}", "users", list));
    http_req_release(r);
}

void api_users_list(http_req *r)
{
    if (!api_require_integration(r, NULL) || !api_require_store(r))
        return;
    char *key = store_key_users(r->integration);
    const char *argv[] = {"HGETALL", key};
    api_redis(r, -1, on_listed, 0, 2, argv);
    free(key);
}

/* ---- channel ---- */

static void channel_url(http_req *r, const char *ticket, char *out, size_t size)
{
    const char *base = http_config()->public_url;
    if (!base) {
        snprintf(out, size, "ws://%s/v1/ws?ticket=%s", r->host[0] ? r->host : "127.0.0.1", ticket);
        return;
    }
    const char *scheme = "ws";
    const char *rest = base;
    if (strncmp(base, "https://", 8) == 0 || strncmp(base, "wss://", 6) == 0)
        scheme = "wss";
    const char *sep = strstr(base, "://");
    if (sep)
        rest = sep + 3;
    size_t len = strlen(rest);
    while (len && rest[len - 1] == '/')
        len--;
    snprintf(out, size, "%s://%.*s/v1/ws?ticket=%s", scheme, (int)len, rest, ticket);
}

static void on_user_checked(redisReply *reply, void *ud)
{
    http_req *r = ud;
    const char *ext = r->state;
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
        api_reply_store_failure(r, reply);
    } else if (reply->integer == 0) {
        http_reply_error(r, 404, RC_NOT_FOUND, "extension", "no user %s in integration %s", ext,
                         r->integration);
    } else {
        const cr_config *c = http_config();
        char ticket[TICKET_MAX_LEN], url[TICKET_MAX_LEN + 512];
        ticket_sign(c->ticket_secret, c->ticket_secret_len, r->integration, ext,
                    (int64_t)time(NULL) + TICKET_TTL, ticket, sizeof ticket);
        channel_url(r, ticket, url, sizeof url);
        http_reply_ok(r, json_pack("{s:s,s:i}", "url", url, "expires_in", TICKET_TTL));
    }
    http_req_release(r);
}

void api_channel(http_req *r)
{
    char ext[NAME_MAX_LEN + 1];
    json_t *body = read_extension(r, ext);
    if (!body)
        return;
    r->state = strdup(ext);
    r->free_state = free;
    char *key = store_key_users(r->integration);
    const char *argv[] = {"HEXISTS", key, ext};
    if (r->state)
        api_redis(r, -1, on_user_checked, 0, 3, argv);
    else
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    free(key);
    json_decref(body);
}
