/* settings_check.c — the settings every integration may have (API.md, "Integration
 * settings"); a dialect's own are checked by its adapter. Pure. */
#include "settings_check.h"
#include "cidr.h"
#include "names.h"
#include "notify_rule.h"
#include <stdio.h>
#include <string.h>

static int bad(char *field, size_t fsize, char *msg, size_t msize, const char *f, const char *m)
{
    snprintf(field, fsize, "settings%s%s", *f ? "." : "", f);
    snprintf(msg, msize, "%s: %s", field, m);
    return -1;
}

static bool is_whsec(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strncmp(s, "whsec_", 6) == 0 && strlen(s) > 6;
}

static int adapter_settings_valid(const adapter *a, const json_t *settings, char *field,
                                  size_t fsize, char *msg, size_t msize)
{
    adapter_error err = {{0}, {0}};
    if (!a || !a->check_settings || a->check_settings(settings, &err) == 0)
        return 0;
    return bad(field, fsize, msg, msize, err.field, err.message[0] ? err.message : "invalid");
}

/* notify_rules_check names the whole field ("settings.notify[1].url"). */
static int notify_rules_valid(const json_t *settings, char *field, size_t fsize, char *msg,
                              size_t msize)
{
    field_error err = {{0}, {0}};
    if (notify_rules_check(settings, &err) == 0)
        return 0;
    snprintf(field, fsize, "%s", err.field);
    snprintf(msg, msize, "%s: %s", err.field, err.message);
    return -1;
}

static bool cidr_list(const json_t *v)
{
    size_t i;
    const json_t *c;
    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i,
                       c) if (!json_is_string(c) || !cidr_valid(json_string_value(c))) return false;
    return true;
}

/* The Finaz endpoints' own key and source networks (Finaz calls from its own addresses). */
static int finaz_check(const json_t *f, char *field, size_t fsize, char *msg, size_t msize)
{
    const json_t *v;
    if (!json_is_object(f))
        return bad(field, fsize, msg, msize, "finaz", "must be an object");
    if ((v = json_object_get(f, "chave")) &&
        (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 256))
        return bad(field, fsize, msg, msize, "finaz.chave", "must be a string of 1-256 bytes");
    if ((v = json_object_get(f, "allowed_networks")) && !cidr_list(v))
        return bad(field, fsize, msg, msize, "finaz.allowed_networks", "must be a list of CIDRs");
    return 0;
}

int settings_check(const adapter *a, const json_t *settings, char *field, size_t fsize, char *msg,
                   size_t msize)
{
    if (!json_is_object(settings))
        return bad(field, fsize, msg, msize, "", "must be an object");
    const json_t *v;
    if ((v = json_object_get(settings, "notify_secret")) && !is_whsec(v))
        return bad(field, fsize, msg, msize, "notify_secret", "must be \"whsec_\" + base64");
    if ((v = json_object_get(settings, "allowed_networks"))) {
        if (!json_is_array(v))
            return bad(field, fsize, msg, msize, "allowed_networks", "must be a list of CIDRs");
        size_t i;
        const json_t *c;
        json_array_foreach(v, i, c) if (!json_is_string(c) ||
                                        !cidr_valid(json_string_value(
                                            c))) return bad(field, fsize, msg, msize,
                                                            "allowed_networks", "not a CIDR");
    }
    if ((v = json_object_get(settings, "fallback_extension")) &&
        (!json_is_string(v) || !name_extension_valid(json_string_value(v))))
        return bad(field, fsize, msg, msize, "fallback_extension", "must be an extension");
    if ((v = json_object_get(settings, "company_id")) && !json_is_string(v) && !json_is_integer(v))
        return bad(field, fsize, msg, msize, "company_id", "must be a string");
    if ((v = json_object_get(settings, "command_timeout_ms")) &&
        (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 60000))
        return bad(field, fsize, msg, msize, "command_timeout_ms",
                   "must be an integer from 100 to 60000");
    if ((v = json_object_get(settings, "finaz")) && finaz_check(v, field, fsize, msg, msize) < 0)
        return -1;
    if (notify_rules_valid(settings, field, fsize, msg, msize) < 0)
        return -1;
    return adapter_settings_valid(a, settings, field, fsize, msg, msize);
}
