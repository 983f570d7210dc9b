/* api_admin.c — provisioning with the admin token: integrations and their tokens. */
#include "api.h"
#include "integrations.h"
#include "settings_check.h"
#include "log.h"
#include "result.h"
#include "store_integrations.h"
#include "token.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct admin_op {
    char name[NAME_MAX_LEN + 1];
    char token[TOKEN_LEN + 1]; /* "" unless a new token is issued */
    char *record;
} admin_op;

static void admin_op_free(void *p)
{
    admin_op *op = p;
    free(op->record);
    free(op);
}

static json_t *admin_body(http_req *r, char name[NAME_MAX_LEN + 1])
{
    return api_named_body(r, true, "name", name_integration_valid, "[a-z0-9][a-z0-9_-]{0,63}",
                          name);
}

static bool check_adapter(http_req *r, const json_t *v)
{
    if (json_is_string(v) && adapter_find(json_string_value(v)))
        return true;
    char known[256] = "";
    for (const adapter *const *a = adapter_all(); *a; a++) {
        strncat(known, known[0] ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, (*a)->name, sizeof known - strlen(known) - 1);
    }
    http_reply_error(r, 400, RC_INVALID_FIELD, "adapter", "adapter: must be one of %s", known);
    return false;
}

static bool check_settings(http_req *r, const adapter *a, const json_t *settings)
{
    char field[128], msg[256];
    if (settings_check(a, settings, field, sizeof field, msg, sizeof msg) == 0)
        return true;
    http_reply_error(r, 400, RC_INVALID_FIELD, field, "%s", msg);
    return false;
}

/* A new adapter checks the settings it would get, given or kept. */
static bool check_update_settings(http_req *r, const integration *in, const json_t *dialect,
                                  const json_t *settings)
{
    const json_t *s = settings ? settings : in->settings;
    if (!s || (!settings && !dialect))
        return true;
    return check_settings(r, dialect ? adapter_find(json_string_value(dialect)) : in->adapter, s);
}

static void on_put(store_outcome o, bool done, void *ud)
{
    http_req *r = ud;
    admin_op *op = r->state;
    bool create = strcmp(r->path, "/v1/integration/create") == 0;
    if (o.status != STORE_OK) {
        api_reply_store_outcome(r, o);
    } else if (!done) {
        if (create)
            http_reply_error(r, 409, RC_EXISTS, "name", "integration %s already exists", op->name);
        else
            http_reply_error(r, 404, RC_NOT_FOUND, "name", "no integration %s", op->name);
    } else {
        integrations_apply(op->name, op->record);
        json_t *extra = json_pack("{s:s}", "integration", op->name);
        if (op->token[0])
            json_object_set_new(extra, "token", json_string(op->token));
        log_info(create ? "integration created" : "integration updated", "{s:s,s:s}", "integration",
                 op->name, "request_id", r->request_id);
        http_reply_ok(r, extra);
    }
    http_req_release(r);
}

static void put(http_req *r, admin_op *op, json_t *record, bool create)
{
    op->record = json_dumps(record, JSON_COMPACT);
    json_decref(record);
    r->state = op;
    r->free_state = admin_op_free;
    api_store_wait(r, op->record ? store_integration_put(op->name, op->record, create, on_put, r)
                                 : -1);
}

static void now_text(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void api_integration_create(http_req *r)
{
    char name[NAME_MAX_LEN + 1], hash[TOKEN_HASH_LEN + 1], created[32], epoch[TOKEN_HASH_LEN + 1];
    json_t *body = admin_body(r, name);
    if (!body)
        return;
    json_t *settings = json_object_get(body, "settings");
    json_t *dialect = json_object_get(body, "adapter");
    if (check_adapter(r, dialect) &&
        (!settings || check_settings(r, adapter_find(json_string_value(dialect)), settings))) {
        admin_op *op = calloc(1, sizeof *op);
        if (!op || token_generate(op->token) != 0) {
            free(op);
            http_reply_error(r, 500, RC_INTERNAL, NULL, "could not generate a token");
        } else {
            strcpy(op->name, name);
            token_hash(op->token, hash);
            token_hash(op->token + TOKEN_LEN / 2, epoch);
            epoch[16] = 0;
            now_text(created, sizeof created);
            json_t *rec =
                json_pack("{s:O,s:o,s:s,s:s,s:s}", "adapter", json_object_get(body, "adapter"),
                          "settings", settings ? json_deep_copy(settings) : json_object(),
                          "token_sha256", hash, "created", created, "epoch", epoch);
            put(r, op, rec, true);
        }
    }
    json_decref(body);
}

void api_integration_update(http_req *r)
{
    char name[NAME_MAX_LEN + 1], hash[TOKEN_HASH_LEN + 1];
    json_t *body = admin_body(r, name);
    if (!body)
        return;
    const integration *in = integrations_by_name(name);
    json_t *dialect = json_object_get(body, "adapter"),
           *settings = json_object_get(body, "settings");
    json_t *rotate = json_object_get(body, "rotate_token");
    if (!in) {
        http_reply_error(r, 404, RC_NOT_FOUND, "name", "no integration %s", name);
    } else if ((!dialect || check_adapter(r, dialect)) &&
               check_update_settings(r, in, dialect, settings)) {
        admin_op *op = calloc(1, sizeof *op);
        json_t *rec = json_deep_copy(in->record);
        if (!op || !rec) {
            free(op);
            json_decref(rec);
            http_reply_error(r, 500, RC_INTERNAL, NULL, "out of memory");
            json_decref(body);
            return;
        }
        strcpy(op->name, name);
        if (dialect)
            json_object_set(rec, "adapter", dialect);
        if (settings)
            json_object_set_new(rec, "settings", json_deep_copy(settings));
        if (json_is_true(rotate) && token_generate(op->token) == 0) {
            token_hash(op->token, hash);
            json_object_set_new(rec, "token_sha256", json_string(hash));
        }
        put(r, op, rec, false);
    }
    json_decref(body);
}

static void on_deleted(store_outcome o, bool found, void *ud)
{
    http_req *r = ud;
    const char *name = r->state;
    if (o.status != STORE_OK) {
        api_reply_store_outcome(r, o);
    } else if (!found) {
        http_reply_error(r, 404, RC_NOT_FOUND, "name", "no integration %s", name);
    } else {
        integrations_apply(name, NULL);
        log_info("integration deleted", "{s:s,s:s}", "integration", name, "request_id",
                 r->request_id);
        http_reply_ok(r, json_pack("{s:s}", "integration", name));
    }
    http_req_release(r);
}

void api_integration_delete(http_req *r)
{
    char name[NAME_MAX_LEN + 1];
    json_t *body = admin_body(r, name);
    if (!body)
        return;
    r->state = strdup(name);
    r->free_state = free;
    api_store_wait(r, r->state ? store_integration_delete(name, on_deleted, r) : -1);
    json_decref(body);
}

static void on_listed(store_outcome o, const store_integration *v, size_t n, void *ud)
{
    http_req *r = ud;
    if (o.status != STORE_OK) {
        api_reply_store_outcome(r, o);
        http_req_release(r);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_loads(v[i].record, 0, NULL);
        if (!rec)
            continue;
        json_object_del(rec, "token_sha256");
        json_object_del(rec, "epoch");
        json_object_set_new(rec, "name", json_string(v[i].name));
        json_array_append_new(list, rec);
    }
    http_reply_ok(r, json_pack("{s:o}", "integrations", list));
    http_req_release(r);
}

void api_integration_list(http_req *r)
{
    if (!api_require_admin(r, NULL) || !api_require_store(r))
        return;
    api_store_wait(r, store_integrations_list(on_listed, r));
}
