/* fuzz_mapped.c — libFuzzer: arbitrary bodies through the mapped adapter, read by the Kamailio
 * mapping (JSON) and by a form mapping; and the same bytes as a mapping of its own, which must
 * be refused or compiled and then parse its own text. Nothing may crash, leak or break the
 * event contract. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapter.h"
#include "event.h"
#include "event_check.h"

static const char json_mapping[] =
    "{\"body\":\"json\",\"fields\":{"
    "\"kind\":{\"pointer\":\"/event\",\"map\":{\"recording\":\"record\",\"keepalive\":"
    "\"ignore\",\"menu\":\"ivr\"},\"default\":\"call\"},"
    "\"state\":{\"pointer\":\"/event\",\"map\":{\"invite\":\"appeared\",\"ringing\":\"ignore\","
    "\"answered\":\"connected\",\"ended\":\"disconnected\",\"failed\":\"disconnected\"}},"
    "\"call_id\":{\"pointer\":\"/call_id\"},"
    "\"users\":[{\"pointer\":\"/from/user\"},{\"pointer\":\"/to/user\"},{\"pointer\":\"/l/0\"}],"
    "\"from.number\":{\"pointer\":\"/from/user\"},\"to.extension\":{\"pointer\":\"/to/user\"},"
    "\"disconnect.code\":{\"pointer\":\"/sip_code\",\"map\":{\"486\":17,\"487\":16},"
    "\"default\":31},\"disconnect.text\":{\"pointer\":\"/reason\"},"
    "\"record.status\":{\"pointer\":\"/ok\",\"map\":{\"true\":\"available\"},\"default\":"
    "\"failed\"},\"record.duration_s\":{\"pointer\":\"/d\"},"
    "\"ts\":{\"pointer\":\"/ts\"},\"order.key\":{\"pointer\":\"/call_id\"},"
    "\"order.seq\":{\"pointer\":\"/seq\"},\"key\":{\"pointer\":\"/key\"}}}";

static const char form_mapping[] =
    "{\"body\":\"form\",\"fields\":{\"call_id\":{\"field\":\"id\"},\"users\":{\"field\":\"ext\"},"
    "\"state\":{\"field\":\"st\",\"map\":{\"RING\":\"appeared\"},\"default\":\"connected\"},"
    "\"ts\":{\"field\":\"t\",\"unit\":\"ms\"},\"line\":{\"field\":\"line\"},"
    "\"direction\":{\"field\":\"dir\"}}}";

static void check_out(const json_t *out)
{
    size_t i;
    json_t *ev;
    json_array_foreach(out, i, ev)
    {
        event_prepared p;
        adapter_error e;
        if (event_check(ev, "", &e) != 0)
            abort();
        if (event_prepare(ev, "fuzz", "mapped", 1795456800123LL, &p) != 0)
            abort();
        event_prepared_free(&p);
    }
}

static void parse_compiled(const adapter *a, const void *c, const char *body, size_t len)
{
    adapter_request req = {
        .method = "POST", .subpath = "", .query = "", .body = body, .body_len = len};
    adapter_ctx ctx = {.integration = "fuzz", .compiled = c, .now = 1795456800};
    adapter_error err;
    json_t *out = json_array();
    if (a->parse(&ctx, &req, out, &err) == ADAPTER_OK)
        check_out(out);
    else if (json_array_size(out) != 0)
        abort();
    json_decref(out);
}

/* A mapping: refused, or compiled (check_settings and compile agree) and used once. */
static void *compile_mapping(const adapter *a, json_t *mapped)
{
    json_t *settings = json_pack("{so}", "mapped", mapped);
    adapter_error err;
    void *c = NULL;
    int checked = settings ? a->check_settings(settings, &err) : -1;
    if (checked == 0 && a->compile(settings, &c, &err) != 0)
        abort();
    json_decref(settings);
    return c;
}

/* The fixed mappings are compiled once, as the broker does per integration. */
static void *compiled_json, *compiled_form;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const adapter *a = adapter_find("mapped");
    compiled_json = compile_mapping(a, json_loads(json_mapping, 0, NULL));
    compiled_form = compile_mapping(a, json_loads(form_mapping, 0, NULL));
    if (!compiled_json || !compiled_form)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const adapter *a = adapter_find("mapped");
    const char *body = (const char *)data;
    parse_compiled(a, compiled_json, body, size);
    parse_compiled(a, compiled_form, body, size);
    json_t *own = json_loadb(body, size, JSON_DECODE_ANY, NULL);
    void *c = own ? compile_mapping(a, own) : NULL;
    if (c) {
        parse_compiled(a, c, body, size);
        a->free_compiled(c);
    }
    return 0;
}
