/* fuzz_form.c — libFuzzer: arbitrary bodies through form_parse. Nothing may crash, leak or
 * read out of bounds; what it accepts is an object of strings or arrays of strings. */
#include <stdint.h>
#include <stdlib.h>

#include "form.h"

static void check_shape(const json_t *obj)
{
    const char *name;
    json_t *v;
    if (!json_is_object(obj))
        abort();
    json_object_foreach((json_t *)obj, name, v)
    {
        if (json_is_string(v))
            continue;
        if (!json_is_array(v) || json_array_size(v) < 2)
            abort();
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!json_is_string(json_array_get(v, i)))
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    json_t *obj = form_parse((const char *)data, size, err, sizeof err);
    if (obj)
        check_shape(obj);
    json_decref(obj);
    return 0;
}
