/* fuzz_wakeup.c — libFuzzer: arbitrary bytes as a pub/sub wake-up message. Every line handed
 * on must be well-formed; nothing may crash or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wakeup.h"

static void check(const wakeup_line *w, void *ud)
{
    const uint8_t *end = ud;
    streamid again;
    if (!name_integration_valid(w->integration) || !name_extension_valid(w->extension) ||
        !streamid_parse(w->id_text, &again) || streamid_cmp(again, w->id) != 0 || w->json_len < 2 ||
        w->json[0] != '{' || (const uint8_t *)w->json + w->json_len > end ||
        memchr(w->json, '\n', w->json_len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so that a read past the end is caught */
    char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    wakeup_each(copy, size, check, (void *)(copy + size));
    free(copy);
    return 0;
}
