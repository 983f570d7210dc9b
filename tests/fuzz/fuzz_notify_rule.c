/* fuzz_notify_rule.c — libFuzzer: arbitrary settings text through notify_rules_check; what
 * passes must compile and render against fixed events without a crash or a leak, and the request
 * must keep what the check promised: a URL that parses to the rule's endpoint, a JSON body that
 * parses, no CR or LF in a header, webhook-id first. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "notify_rule.h"

static const char *const events[] = {
    "{\"id\":\"1700000000000-0\",\"kind\":\"call\",\"integration\":\"acme\",\"user\":\"101\","
    "\"call_id\":\"c{1}&%\",\"ts\":\"2026-11-23T18:00:00.123Z\",\"source\":\"native\",\"call\":{"
    "\"state\":\"connected\",\"direction\":\"outbound\",\"from\":{\"extension\":\"101\"},\"to\":{"
    "\"number\":\"+55 41 98844-5566\"},\"crm_contact_id\":\"c 1&2\\r\\nX: y\",\"campaign\":"
    "\"\\\"q\\\" \\\\ \\u00e9 \\u2028\",\"disconnect\":{\"code\":16,\"text\":\"a\\nb\"}}}",
    "{\"id\":\"1-1\",\"kind\":\"record\",\"integration\":\"acme\",\"user\":\"7\",\"call_id\":"
    "\"c\",\"ts\":\"2026-11-23T18:00:00.123Z\",\"source\":\"mango\",\"record\":{\"status\":"
    "\"available\",\"url\":\"https://rec/1.mp3?a=b#c\",\"duration_s\":1.5}}",
};

static void endpoint_of(const char *url, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        abort(); /* the rendered URL does not parse */
    for (char *p = host; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    snprintf(out, size, "%s://%s:%s", scheme, host, port);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

static void check_request(const notify_rule *r, const notify_request *q)
{
    notify_rule_info info = notify_rule_get_info(r);
    char ep[NOTIFY_ENDPOINT_MAX + 64];
    endpoint_of(q->url, ep, sizeof ep);
    if (strcmp(ep, info.endpoint) != 0)
        abort();
    if (q->n_headers < 2 || strncmp(q->headers[0], "webhook-id: ", 12) != 0)
        abort();
    bool json = false;
    for (size_t k = 0; k < q->n_headers; k++) {
        if (strpbrk(q->headers[k], "\r\n"))
            abort();
        if (strncasecmp(q->headers[k], "Content-Type:", 13) == 0)
            json = strcasestr(q->headers[k], "json") != NULL;
    }
    if (q->body && json) {
        json_t *j = json_loadb(q->body, q->body_len, JSON_DECODE_ANY, NULL);
        if (!j)
            abort();
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *settings = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    field_error err;
    if (!settings || notify_rules_check(settings, &err) != 0) {
        json_decref(settings);
        return 0;
    }
    bool oom = false;
    notify_rules *rs = notify_rules_compile(settings, &oom);
    for (size_t e = 0; rs && e < sizeof events / sizeof *events; e++) {
        json_t *ev = json_loads(events[e], 0, NULL);
        for (size_t k = 0; ev && k < rs->n; k++) {
            (void)notify_rule_matches(rs->v[k], ev);
            notify_request q;
            if (notify_render(rs->v[k], ev, settings, "ntf_1", 1700000000, &q, &err) != 0)
                abort();
            check_request(rs->v[k], &q);
            notify_request_free(&q);
            notify_rule_info info = notify_rule_get_info(rs->v[k]);
            int64_t d = notify_retry_delay_ms(&info, (unsigned)size, (uint64_t)size * 2654435761u);
            if (d < 0 || d > info.max_delay_ms)
                abort();
        }
        json_decref(ev);
    }
    notify_rules_free(rs);
    json_decref(settings);
    return 0;
}
