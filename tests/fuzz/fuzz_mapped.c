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

static void parse_with(const adapter *a, json_t *mapped, const char *body, size_t len)
{
    json_t *settings = json_pack("{so}", "mapped", mapped);
    adapter_error err;
    void *c = NULL;
    if (!settings || a->check_settings(settings, &err) != 0 || a->compile(settings, &c, &err)) {
        json_decref(settings);
        return;
    }
    adapter_request req = {
        .method = "POST", .subpath = "", .query = "", .body = body, .body_len = len};
    adapter_ctx ctx = {.integration = "fuzz", .compiled = c, .now = 1795456800};
    json_t *out = json_array();
    if (a->parse(&ctx, &req, out, &err) == ADAPTER_OK)
        check_out(out);
    else if (json_array_size(out) != 0)
        abort();
    json_decref(out);
    a->free_compiled(c);
    json_decref(settings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const adapter *a = adapter_find("mapped");
    const char *body = (const char *)data;
    parse_with(a, json_loads(json_mapping, 0, NULL), body, size);
    parse_with(a, json_loads(form_mapping, 0, NULL), body, size);
    json_t *own = json_loadb(body, size, JSON_DECODE_ANY, NULL);
    if (own)
        parse_with(a, own, body, size);
    return 0;
}
