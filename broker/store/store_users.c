/* store_users.c — the calls on a user's stream, cursor and existence: builds each command
 * or script call and turns its reply into domain values before the caller sees it. */
#include "store_users.h"
#include "store.h"
#include "store_reply.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void retention_text(char out[32])
{
    snprintf(out, 32, "%lld", (long long)store_config()->retention_s * 1000);
}

/* ---- entries ---- */

/* {id, {"e", json}} */
static bool entry_parse(const redisReply *e, store_entry *out)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
        e->element[1]->elements != 2)
        return false;
    const redisReply *json = e->element[1]->element[1];
    if (json->type != REDIS_REPLY_STRING || json->len < 2 || json->str[0] != '{' ||
        !streamid_parse(e->element[0]->str, &out->id))
        return false;
    out->id_text = e->element[0]->str;
    out->json = json->str;
    out->json_len = json->len;
    return true;
}

/* The valid entries of an XRANGE reply; *all tells whether every one was. NULL when out of
 * memory. */
static store_entry *entries_parse(const redisReply *list, size_t *n, bool *all)
{
    store_entry *v = malloc((list->elements ? list->elements : 1) * sizeof *v);
    *n = 0;
    *all = true;
    for (size_t i = 0; v && i < list->elements; i++) {
        if (entry_parse(list->element[i], &v[*n]))
            (*n)++;
        else
            *all = false;
    }
    return v;
}

static void on_entries(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_entries e = {.outcome = store_outcome_of(r, r && r->type == REDIS_REPLY_ARRAY)};
    store_entry *v = NULL;
    if (e.outcome.status == STORE_OK) {
        bool all;
        v = entries_parse(r, &e.n, &all);
        if (!v)
            e.outcome = (store_outcome){STORE_FAILED, "out of memory"};
        e.v = v;
        e.read = r->elements;
    }
    ((store_entries_cb)c->cb)(&e, c->ud);
    free(v);
    free(c);
}

int store_stream_read_after(const char *integration, const char *ext, streamid after, int count,
                            store_entries_cb cb, void *ud)
{
    char start[STREAMID_MAX_LEN + 2], n[16];
    start[0] = '(';
    streamid_format(after, start + 1);
    snprintf(n, sizeof n, "%d", count);
    char *key = store_key_stream(integration, ext);
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", n};
    int rc = store_call_run(-1, on_entries, (void (*)(void))cb, ud, 0, 6, argv);
    free(key);
    return rc;
}

/* ---- page ---- */

static bool page_valid(const redisReply *r, streamid *top)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements == 6 &&
           r->element[0]->type == REDIS_REPLY_STRING && streamid_parse(r->element[0]->str, top) &&
           r->element[2]->type == REDIS_REPLY_ARRAY && r->element[3]->type == REDIS_REPLY_STRING &&
           r->element[4]->type == REDIS_REPLY_INTEGER && r->element[5]->type == REDIS_REPLY_ARRAY;
}

/* {call_id, HGETALL reply} each; *ok is false when one is malformed. */
static call_fields *calls_parse(const redisReply *list, bool *ok)
{
    size_t n = list->elements;
    call_fields *v = calloc(n ? n : 1, sizeof *v);
    *ok = v != NULL;
    for (size_t i = 0; *ok && i < n; i++) {
        const redisReply *c = list->element[i];
        *ok = c->type == REDIS_REPLY_ARRAY && c->elements == 2 &&
              c->element[0]->type == REDIS_REPLY_STRING;
        if (*ok) {
            v[i].call_id = c->element[0]->str;
            v[i].v = store_reply_call_fields(c->element[1], &v[i].n);
            *ok = v[i].v != NULL;
        }
    }
    return v;
}

static void calls_free(call_fields *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free((void *)v[i].v);
    free(v);
}

static void on_page(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_page p = {0};
    store_entry *v = NULL;
    call_fields *calls = NULL;
    bool all = page_valid(r, &p.top), calls_ok = false;
    size_t n_calls = 0;
    if (all) {
        v = entries_parse(r->element[2], &p.n, &all);
        calls = calls_parse(r->element[5], &calls_ok);
        n_calls = r->element[5]->elements;
        all = all && v && calls_ok;
    }
    p.outcome = store_outcome_of(r, all);
    if (all) {
        p.v = v;
        p.top_text = r->element[0]->str;
        p.beyond = strcmp(r->element[3]->str, "beyond") == 0;
        p.gap = r->element[4]->integer != 0;
        p.calls = calls;
        p.n_calls = n_calls;
    }
    ((store_page_cb)c->cb)(&p, c->ud);
    free(v);
    calls_free(calls, n_calls);
    free(c);
}

int store_page_read(const char *integration, const char *ext, const char *commit, const char *from,
                    int limit, bool with_calls, store_page_cb cb, void *ud)
{
    char lim[16], retention[32];
    snprintf(lim, sizeof lim, "%d", limit);
    retention_text(retention);
    char *stream = store_key_stream(integration, ext);
    char *cursor = store_key_cursor(integration, ext);
    char *calls = store_key_user_calls(integration, ext);
    char *call_prefix = with_calls ? store_key_call(integration, "") : strdup("");
    const char *args[] = {stream, cursor, calls, commit, from, lim, retention, call_prefix};
    int rc = store_call_run(SCRIPT_PAGE, on_page, (void (*)(void))cb, ud, 3, 8, args);
    free(stream);
    free(cursor);
    free(calls);
    free(call_prefix);
    return rc;
}

/* ---- ack ---- */

static void on_ack(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_outcome o = store_outcome_of(r, r && r->type == REDIS_REPLY_INTEGER);
    store_ack_result a = o.status == STORE_OK && r->integer < 0 ? STORE_ACK_BEYOND : STORE_ACK_DONE;
    ((store_ack_cb)c->cb)(o, a, c->ud);
    free(c);
}

int store_ack(const char *integration, const char *ext, streamid id, store_ack_cb cb, void *ud)
{
    char text[STREAMID_MAX_LEN], retention[32];
    streamid_format(id, text);
    retention_text(retention);
    char *cursor = store_key_cursor(integration, ext);
    char *stream = store_key_stream(integration, ext);
    const char *args[] = {cursor, stream, text, retention};
    int rc = store_call_run(SCRIPT_ACK, on_ack, (void (*)(void))cb, ud, 2, 4, args);
    free(cursor);
    free(stream);
    return rc;
}

/* ---- session open ---- */

static void on_session_open(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_outcome o = store_outcome_of(r, r && r->type == REDIS_REPLY_INTEGER);
    store_session_result s = STORE_SESSION_OPEN;
    if (o.status == STORE_OK && r->integer == 0)
        s = STORE_SESSION_NO_USER;
    else if (o.status == STORE_OK && r->integer == 2)
        s = STORE_SESSION_TICKET_USED;
    ((store_session_cb)c->cb)(o, s, c->ud);
    free(c);
}

int store_session_open(const char *integration, const char *ext, const char *ticket_sig,
                       long long ticket_expires, store_session_cb cb, void *ud)
{
    char *users = store_key_users(integration);
    char *ticket = ticket_sig[0] ? store_key_ticket(integration, ticket_sig) : NULL;
    char expires[24];
    snprintf(expires, sizeof expires, "%lld", ticket_expires);
    const char *with[] = {users, ticket, ext, expires};
    const char *without[] = {users, ext};
    int rc = -1;
    if (!ticket_sig[0] || ticket)
        rc = store_call_run(SCRIPT_SESSION_OPEN, on_session_open, (void (*)(void))cb, ud,
                            ticket ? 2 : 1, ticket ? 4 : 2, ticket ? with : without);
    free(users);
    free(ticket);
    return rc;
}

/* ---- users: a hash of extension -> {"name"} ---- */

static void on_put(redisReply *r, void *ud)
{
    store_call *c = ud;
    ((store_done_cb)c->cb)(store_outcome_of(r, r && r->type != REDIS_REPLY_ERROR), c->ud);
    free(c);
}

int store_user_put(const char *integration, const char *ext, const char *name, store_done_cb cb,
                   void *ud)
{
    json_t *stored = json_pack("{s:s}", "name", name);
    char *value = stored ? json_dumps(stored, JSON_COMPACT) : NULL;
    char *key = store_key_users(integration);
    const char *argv[] = {"HSET", key, ext, value};
    int rc = store_call_run(-1, on_put, (void (*)(void))cb, ud, 0, 4, argv);
    free(key);
    free(value);
    json_decref(stored);
    return rc;
}

static void on_found(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_outcome o = store_outcome_of(r, r && r->type == REDIS_REPLY_INTEGER);
    ((store_found_cb)c->cb)(o, o.status == STORE_OK && r->integer != 0, c->ud);
    free(c);
}

int store_user_delete(const char *integration, const char *ext, store_found_cb cb, void *ud)
{
    char *users = store_key_users(integration);
    char *stream = store_key_stream(integration, ext);
    char *cursor = store_key_cursor(integration, ext);
    char *calls = store_key_user_calls(integration, ext);
    const char *args[] = {users, stream, cursor, calls, ext};
    int rc = store_call_run(SCRIPT_USER_DELETE, on_found, (void (*)(void))cb, ud, 4, 5, args);
    free(users);
    free(stream);
    free(cursor);
    free(calls);
    return rc;
}

int store_user_exists(const char *integration, const char *ext, store_found_cb cb, void *ud)
{
    char *key = store_key_users(integration);
    const char *argv[] = {"HEXISTS", key, ext};
    int rc = store_call_run(-1, on_found, (void (*)(void))cb, ud, 0, 3, argv);
    free(key);
    return rc;
}

static int by_extension(const void *a, const void *b)
{
    return strcmp(((const store_user *)a)->extension, ((const store_user *)b)->extension);
}

/* HGETALL's reply, as users; their names live in the decoded values, freed by the caller. */
static store_user *users_parse(const redisReply *r, json_t **values, size_t n)
{
    store_user *u = calloc(n ? n : 1, sizeof *u);
    for (size_t i = 0; u && i < n; i++) {
        values[i] = json_loads(r->element[2 * i + 1]->str, 0, NULL);
        const char *name = json_string_value(json_object_get(values[i], "name"));
        u[i] = (store_user){r->element[2 * i]->str, name ? name : ""};
    }
    if (u)
        qsort(u, n, sizeof *u, by_extension);
    return u;
}

static void on_users(redisReply *r, void *ud)
{
    store_call *c = ud;
    store_outcome o = store_outcome_of(r, r && r->type == REDIS_REPLY_ARRAY);
    size_t n = o.status == STORE_OK ? r->elements / 2 : 0;
    json_t **values = calloc(n ? n : 1, sizeof *values);
    store_user *u = o.status == STORE_OK && values ? users_parse(r, values, n) : NULL;
    ((store_users_cb)c->cb)(o, u, u ? n : 0, c->ud);
    for (size_t i = 0; values && i < n; i++)
        json_decref(values[i]);
    free(values);
    free(u);
    free(c);
}

int store_users_list(const char *integration, store_users_cb cb, void *ud)
{
    char *key = store_key_users(integration);
    const char *argv[] = {"HGETALL", key};
    int rc = store_call_run(-1, on_users, (void (*)(void))cb, ud, 0, 2, argv);
    free(key);
    return rc;
}
