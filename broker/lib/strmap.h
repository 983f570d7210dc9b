/* strmap.h — a string-keyed hash map of pointers (chained, grows by doubling). */
#ifndef CR_STRMAP_H
#define CR_STRMAP_H
#include <stddef.h>

typedef struct strmap_entry {
    struct strmap_entry *next;
    void *value;
    char key[]; /* NUL-terminated copy */
} strmap_entry;

typedef struct strmap {
    strmap_entry **buckets;
    size_t nbuckets;
    size_t count;
} strmap;

int strmap_init(strmap *m);
void *strmap_get(const strmap *m, const char *key);
/* Sets key to value (replacing). Returns 0, or -1 on allocation failure. */
int strmap_put(strmap *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *strmap_del(strmap *m, const char *key);
/* Calls fn for every entry; fn must not modify the map. */
void strmap_each(const strmap *m, void (*fn)(const char *key, void *value, void *ud), void *ud);
void strmap_free(strmap *m);

#endif
