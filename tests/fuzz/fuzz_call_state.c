/* fuzz_call_state.c — libFuzzer: arbitrary bytes as a call's hash ("name\tvalue" lines), the
 * way the first register answer and GET /v1/calls read it. The answer is an object with the
 * call id, or NULL without fields; nothing may crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "call_state.h"

#define FIELDS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    call_field f[FIELDS_MAX];
    size_t n = 0;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *line = text, *next; line && n < FIELDS_MAX; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *tab = strchr(line, '\t');
        if (tab) {
            *tab = '\0';
            f[n++] = (call_field){line, tab + 1};
        }
    }
    json_t *j = call_state_json("c-1", f, n);
    if ((n == 0) != (j == NULL) || (j && !json_is_object(json_object_get(j, "users"))))
        abort();
    json_decref(j);
    free(text);
    return 0;
}
