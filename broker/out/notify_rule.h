/* notify_rule.h — an integration's outbound notification rules (settings.notify, API.md
 * "Integration settings"): checked when the integration is saved, compiled once, matched
 * against each event at ingest, and rendered into an HTTP request at each attempt. Pure: no
 * loop, no Redis, no clock (times are given). */
#ifndef CR_NOTIFY_RULE_H
#define CR_NOTIFY_RULE_H
#include "field_error.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_RULES_MAX 32
#define NOTIFY_RULE_ID_MAX 64
#define NOTIFY_ENDPOINT_MAX 300 /* "scheme://host:port" */

/* Defaults (API.md "Outbound notifications"). */
#define NOTIFY_DEFAULT_MAX_ATTEMPTS 12
#define NOTIFY_DEFAULT_MAX_AGE_S 86400
#define NOTIFY_DEFAULT_BASE_MS 1000
#define NOTIFY_DEFAULT_MAX_DELAY_MS 600000
#define NOTIFY_DEFAULT_TIMEOUT_MS 10000
/* A claimed notification is leased for its rule's timeout_ms plus this. */
#define NOTIFY_LEASE_MARGIN_MS 10000

typedef struct notify_rule notify_rule;

typedef struct notify_rules {
    size_t n;
    notify_rule **v;
} notify_rules;

/* What a compiled rule tells its scheduler (the rest stays inside notify_rule.c). */
typedef struct notify_rule_info {
    const char *id;
    const char *endpoint; /* "https://crm.example:443": the circuit breaker's unit */
    double rate_per_s;    /* 0: unlimited */
    unsigned max_attempts;
    int64_t max_age_ms;
    int64_t base_ms, max_delay_ms;
    long timeout_ms;
} notify_rule_info;

/* settings: the integration's whole settings object (rules may need notify_secret). NULL or
 * absent "notify": no rules, 0. Otherwise 0, or -1 with err naming the field, such as
 * "settings.notify[1].url", and what is wrong with it. */
int notify_rules_check(const json_t *settings, field_error *err);
/* After notify_rules_check passed. NULL when there are no rules; *oom set when allocation
 * failed. */
notify_rules *notify_rules_compile(const json_t *settings, bool *oom);
void notify_rules_free(notify_rules *rs);

notify_rule_info notify_rule_get_info(const notify_rule *r);
const notify_rule *notify_rules_find(const notify_rules *rs, const char *id);

/* ev: an event as an adapter produced it (adapter.h; kind and its object, e.g. call.state,
 * call.campaign). Whether the rule's "on" filter takes it. */
bool notify_rule_matches(const notify_rule *r, const json_t *ev);

typedef struct notify_request {
    char *method;
    char *url;
    char **headers; /* "Name: value", n_headers of them, webhook-id first */
    size_t n_headers;
    char *body; /* NULL: none */
    size_t body_len;
} notify_request;

/* The request of one attempt. event: the stored copy as a client receives it (with id, user,
 * integration, ...); settings: the integration's (company_id, notify_secret); msg_id: the
 * notification's stable webhook-id; now_s: the attempt's time (webhook-timestamp). Returns 0, or
 * -1 with err filled (out of memory, or a signature that cannot be made). */
int notify_render(const notify_rule *r, const json_t *event, const json_t *settings,
                  const char *msg_id, int64_t now_s, notify_request *out, field_error *err);
void notify_request_free(notify_request *q);

/* Full jitter: a delay in [0, min(max_delay_ms, base_ms * 2^(attempts - 1))], attempts >= 1
 * being the attempts made so far; random: any 64-bit random number. */
int64_t notify_retry_delay_ms(const notify_rule_info *info, unsigned attempts, uint64_t random);

#endif
