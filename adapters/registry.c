/* registry.c — the one table of PBX dialects. Adding a dialect adds its line here. */
#include <string.h>

#include "adapter.h"

extern const adapter adapter_native, adapter_mango, adapter_twilio, adapter_asterisk,
    adapter_freeswitch, adapter_mapped, adapter_zaas;

/* clang-format off */
static const adapter *const adapters[] = {
    &adapter_native,
    &adapter_mango,
    &adapter_twilio,
    &adapter_asterisk,
    &adapter_freeswitch,
    &adapter_mapped,
    &adapter_zaas,
    NULL,
};
/* clang-format on */

const adapter *adapter_find(const char *name)
{
    for (size_t i = 0; name && adapters[i]; i++)
        if (strcmp(adapters[i]->name, name) == 0)
            return adapters[i];
    return NULL;
}

const adapter *const *adapter_all(void) { return adapters; }
