/* wakeup.c — splits a wake-up message into its lines and checks each field; pure. */
#include "wakeup.h"
#include <string.h>

static int take(const char **p, const char *end, char *dst, size_t size)
{
    const char *tab = memchr(*p, '\t', (size_t)(end - *p));
    if (!tab || (size_t)(tab - *p) >= size)
        return -1;
    memcpy(dst, *p, (size_t)(tab - *p));
    dst[tab - *p] = '\0';
    *p = tab + 1;
    return 0;
}

static int parse_line(const char *p, const char *end, wakeup_line *w)
{
    char id[STREAMID_MAX_LEN];
    if (take(&p, end, w->integration, sizeof w->integration) ||
        take(&p, end, w->extension, sizeof w->extension) || take(&p, end, id, sizeof id))
        return -1;
    if (!name_integration_valid(w->integration) || !name_extension_valid(w->extension) ||
        !streamid_parse(id, &w->id) || end - p < 2 || *p != '{')
        return -1;
    streamid_format(w->id, w->id_text);
    w->json = p;
    w->json_len = (size_t)(end - p);
    return 0;
}

size_t wakeup_each(const char *payload, size_t len, void (*fn)(const wakeup_line *w, void *ud),
                   void *ud)
{
    const char *p = payload, *end = payload + len;
    size_t skipped = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        wakeup_line w;
        if (stop > p && parse_line(p, stop, &w) == 0)
            fn(&w, ud);
        else if (stop > p)
            skipped++;
        p = stop + 1;
    }
    return skipped;
}
