/* integrations.h — every instance keeps all integrations in memory, so that a token check
 * costs no Redis round trip. The cache is loaded when the command connection comes up and
 * refreshed from the control channel whenever any instance changes an integration. */
#ifndef CR_INTEGRATIONS_H
#define CR_INTEGRATIONS_H
#include "adapter.h"
#include "names.h"
#include "notify_rule.h"
#include "token.h"
#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

typedef struct integration {
    char name[NAME_MAX_LEN + 1];
    const adapter *adapter;
    json_t *settings;
    void *compiled;       /* the adapter's compiled settings, freed with the integration */
    notify_rules *notify; /* settings.notify compiled; NULL: none */
    char token_hash[TOKEN_HASH_LEN + 1];
    json_t *record; /* as stored: adapter, settings, token_sha256, created */
} integration;

int integrations_init(uv_loop_t *loop);
/* Before the loop ends: stops the reload timer and answers whoever waits for a reload. */
void integrations_stop(void);
void integrations_free(void);
/* Load every integration (HGETALL). Called on each (re)connect. */
void integrations_load_all(void);
/* A control message: reload that one integration (HGET), or drop it if gone. */
void integrations_reload(const char *name);
/* Replace the cached record of name with record_json; NULL removes it. */
void integrations_apply(const char *name, const char *record_json);
bool integrations_loaded(void);
/* Reloads every integration, then calls cb(ud) (also when Redis could not answer). Used when a
 * request names an integration this instance does not know yet: another instance or worker
 * may have created it a moment ago, before its control message arrived. Reloads are spaced
 * (see integrations.c). Returns -1, without calling cb, when Redis is not connected. */
int integrations_refresh(void (*cb)(void *ud), void *ud);
const integration *integrations_by_name(const char *name);
const integration *integrations_by_token(const char *token);
/* The context an adapter's hooks get for a request to in. */
adapter_ctx integrations_adapter_ctx(const integration *in, int64_t now);

#endif
