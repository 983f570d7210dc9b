/* command_check.c — command requests checked field by field. */
#include "command_check.h"
#include "digest.h"
#include "names.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool command_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > COMMAND_ID_MAX)
        return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '/')
            return false;
    json_t *utf8 = json_string(s); /* NULL unless valid UTF-8 */
    json_decref(utf8);
    return utf8 != NULL;
}

bool command_number_valid(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 64)
        return false;
    return strspn(s, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+*#._@:-") == n;
}

typedef struct field_rule {
    const char *name;
    bool required;
    bool (*valid)(const char *);
    const char *rule;
} field_rule;

static const char ID_RULE[] = "1-200 characters, no controls or '/'";
static const char NUMBER_RULE[] = "a number: 1-64 of 0-9 A-Z a-z + * # . _ @ : -";
static const char EXT_RULE[] = "an extension: 1-64 of A-Z a-z 0-9 _ . + -";

static const field_rule callback_rules[] = {
    {"extension", true, name_extension_valid, EXT_RULE},
    {"to_number", true, command_number_valid, NUMBER_RULE},
    {"line_number", false, command_number_valid, NUMBER_RULE},
    {NULL, false, NULL, NULL},
};
static const field_rule route_rules[] = {
    {"call_id", true, command_id_valid, ID_RULE},
    {"to_extension", true, name_extension_valid, EXT_RULE},
    {"extension", false, name_extension_valid, EXT_RULE},
    {NULL, false, NULL, NULL},
};
static const field_rule transfer_rules[] = {
    {"call_id", true, command_id_valid, ID_RULE},
    {"to_number", true, command_number_valid, NUMBER_RULE},
    {"extension", false, name_extension_valid, EXT_RULE},
    {NULL, false, NULL, NULL},
};
static const field_rule hangup_rules[] = {
    {"call_id", true, command_id_valid, ID_RULE},
    {NULL, false, NULL, NULL},
};

static const field_rule *rules_of(const char *op)
{
    if (strcmp(op, "callback") == 0)
        return callback_rules;
    if (strcmp(op, "route") == 0)
        return route_rules;
    if (strcmp(op, "transfer") == 0)
        return transfer_rules;
    if (strcmp(op, "hangup") == 0)
        return hangup_rules;
    return NULL;
}

static int refuse(field_error *e, const char *field, const char *msg)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->message, sizeof e->message, "%s: %s", field, msg);
    return -1;
}

/* Copies one string field into cmd after checking it; a number is accepted as its digits. */
static int copy_field(const json_t *body, const field_rule *f, json_t *cmd, field_error *err)
{
    const json_t *v = json_object_get(body, f->name);
    char num[32];
    const char *s = json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        s = num;
    }
    if (!v || json_is_null(v))
        return f->required ? refuse(err, f->name, "required") : 0;
    if (!s || !f->valid(s))
        return refuse(err, f->name, f->rule);
    return json_object_set_new(cmd, f->name, json_string(s));
}

static int copy_method(const json_t *body, json_t *cmd, field_error *err)
{
    const json_t *v = json_object_get(body, "method");
    const char *m = v ? json_string_value(v) : "blind";
    if (!m || (strcmp(m, "blind") != 0 && strcmp(m, "hold") != 0))
        return refuse(err, "method", "\"blind\" or \"hold\"");
    return json_object_set_new(cmd, "method", json_string(m));
}

json_t *command_from_body(const char *op, const json_t *body, const char *fresh_id,
                          field_error *err)
{
    *err = (field_error){{0}, {0}};
    const field_rule *rules = rules_of(op);
    json_t *cmd = json_pack("{s:s}", "op", op);
    if (!rules || !cmd) {
        refuse(err, "op", "unknown command");
        json_decref(cmd);
        return NULL;
    }
    const field_rule id = {"command_id", false, command_id_valid, ID_RULE};
    int rc = copy_field(body, &id, cmd, err);
    for (const field_rule *f = rules; rc == 0 && f->name; f++)
        rc = copy_field(body, f, cmd, err);
    if (rc == 0 && strcmp(op, "transfer") == 0)
        rc = copy_method(body, cmd, err);
    if (rc == 0 && !json_object_get(cmd, "command_id"))
        rc = json_object_set_new(cmd, "command_id", json_string(fresh_id));
    if (rc != 0) {
        if (!err->message[0])
            refuse(err, "", "out of memory");
        json_decref(cmd);
        return NULL;
    }
    return cmd;
}

void command_fingerprint(const json_t *command, char out[65])
{
    char *text = json_dumps(command, JSON_COMPACT | JSON_SORT_KEYS);
    digest_sha256_hex(text ? text : "", text ? strlen(text) : 0, out);
    free(text);
}
