/* online.c — the presence set's members as the sorted list of extensions online. */
#include "online.h"
#include <stdlib.h>
#include <string.h>

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t online_extensions(char **members, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        char *tab = strchr(members[i], '\t');
        if (!tab || tab == members[i])
            continue;
        *tab = '\0';
        members[kept++] = members[i];
    }
    if (kept > 1)
        qsort(members, kept, sizeof *members, by_text);
    size_t distinct = 0;
    for (size_t i = 0; i < kept; i++)
        if (!distinct || strcmp(members[distinct - 1], members[i]) != 0)
            members[distinct++] = members[i];
    return distinct;
}
