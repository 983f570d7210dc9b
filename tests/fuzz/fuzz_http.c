/* fuzz_http.c — libFuzzer: arbitrary bytes as a request head (http_head_scan), as a
 * Content-Length value, as a path (http_hook_path) and as webhook headers (the head
 * authentication decision). Nothing may crash or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"

static void fuzz_head(const char *data, size_t size)
{
    http_head h;
    enum http_head_verdict v = http_head_scan(data, size, &h);
    if (v == HEAD_OK && (h.head_len == 0 || h.head_len > size || h.head_len > HTTP_HEAD_MAX))
        abort();
    if (v == HEAD_BAD && (!h.message || (h.status != 400 && h.status != 414 && h.status != 431)))
        abort();
}

static void fuzz_text(const char *text)
{
    uint64_t n;
    http_content_length_parse(text, strlen(text), &n);
    char integ[NAME_MAX_LEN + 1], adapter[NAME_MAX_LEN + 1];
    const char *sub;
    if (http_hook_path(text, integ, adapter, &sub) && (!*integ || !*adapter))
        abort();
    hook_head hh = {.integration_known = true,
                    .adapter_matches = true,
                    .source_allowed = true,
                    .signs = true,
                    .id = text,
                    .timestamp = text,
                    .signature = text,
                    .now = 1795456800};
    head_refusal why;
    http_hook_head_ok(&hh, &why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_head(text, size);
    fuzz_text(text);
    free(text);
    return 0;
}
