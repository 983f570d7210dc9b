/* api_users.c — users of an integration (by extension) and websocket channels for them. */
#include "api.h"
#include "feed_shard.h"
#include "names.h"
#include "result.h"
#include "store_users.h"
#include "ticket.h"
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

static void on_created(store_outcome o, void *ud)
{
    http_req *r = ud;
    if (o.status != STORE_OK)
        api_reply_store_outcome(r, o);
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
    const char *name = json_string_value(json_object_get(user, "name"));
    api_store_wait(r, name ? store_user_put(r->integration, ext, name, on_created, r) : -1);
    json_decref(body);
}

static void on_deleted(store_outcome o, bool found, void *ud)
{
    http_req *r = ud;
    if (o.status != STORE_OK)
        api_reply_store_outcome(r, o);
    else if (!found)
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
    api_store_wait(r, store_user_delete(r->integration, ext, on_deleted, r));
    json_decref(body);
}

static void on_listed(store_outcome o, const store_user *users, size_t n, void *ud)
{
    http_req *r = ud;
    if (o.status != STORE_OK) {
        api_reply_store_outcome(r, o);
        http_req_release(r);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            list, json_pack("{s:s,s:s}", "extension", users[i].extension, "name", users[i].name));
    http_reply_ok(r, json_pack("{s:o}", "users", list));
    http_req_release(r);
}

void api_users_list(http_req *r)
{
    if (!api_require_integration(r, NULL) || !api_require_store(r))
        return;
    api_store_wait(r, store_users_list(r->integration, on_listed, r));
}

/* ---- channel ---- */

/* shard=: the user's shard of the feed, for a load balancer that hashes on it (haproxy.cfg's
 * "balance url_param shard"): every tab of a shard meets on one instance, which then is the
 * only one listening to that shard's events. The broker itself ignores it. */
static void channel_url(http_req *r, const char *ticket, const char *ext, char *out, size_t size)
{
    const char *base = http_config()->public_url;
    unsigned shard = feed_shard(r->integration, ext);
    if (!base) {
        snprintf(out, size, "%s://%s/v1/ws?ticket=%s&shard=%u",
                 http_config()->tls_cert ? "wss" : "ws", r->host[0] ? r->host : "127.0.0.1", ticket,
                 shard);
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
    snprintf(out, size, "%s://%.*s/v1/ws?ticket=%s&shard=%u", scheme, (int)len, rest, ticket,
             shard);
}

static void on_user_checked(store_outcome o, bool found, void *ud)
{
    http_req *r = ud;
    const char *ext = r->state;
    if (o.status != STORE_OK) {
        api_reply_store_outcome(r, o);
    } else if (!found) {
        http_reply_error(r, 404, RC_NOT_FOUND, "extension", "no user %s in integration %s", ext,
                         r->integration);
    } else {
        const cr_config *c = http_config();
        char ticket[TICKET_MAX_LEN], url[TICKET_MAX_LEN + 512];
        ticket_sign(c->ticket_secret, c->ticket_secret_len, r->integration, ext,
                    (int64_t)time(NULL) + TICKET_TTL, ticket, sizeof ticket);
        channel_url(r, ticket, ext, url, sizeof url);
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
    if (r->state)
        api_store_wait(r, store_user_exists(r->integration, ext, on_user_checked, r));
    else
        http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
    json_decref(body);
}
