/* strmap.c — FNV-1a hashed, chained; small and sufficient for sessions and integrations. */
#include "strmap.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int strmap_init(strmap *m)
{
    m->nbuckets = 64;
    m->count = 0;
    m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
    return m->buckets ? 0 : -1;
}

static strmap_entry **slot(const strmap *m, const char *key)
{
    strmap_entry **e = &m->buckets[fnv1a(key) & (m->nbuckets - 1)];
    while (*e && strcmp((*e)->key, key) != 0)
        e = &(*e)->next;
    return e;
}

void *strmap_get(const strmap *m, const char *key)
{
    strmap_entry *e = *slot(m, key);
    return e ? e->value : NULL;
}

static void grow(strmap *m)
{
    size_t n = m->nbuckets * 2;
    strmap_entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* keep working with longer chains */
    for (size_t i = 0; i < m->nbuckets; i++) {
        strmap_entry *e = m->buckets[i];
        while (e) {
            strmap_entry *next = e->next;
            size_t j = fnv1a(e->key) & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

int strmap_put(strmap *m, const char *key, void *value)
{
    strmap_entry **e = slot(m, key);
    if (*e) {
        (*e)->value = value;
        return 0;
    }
    size_t len = strlen(key);
    strmap_entry *n = malloc(sizeof *n + len + 1);
    if (!n)
        return -1;
    memcpy(n->key, key, len + 1);
    n->value = value;
    n->next = NULL;
    *e = n;
    if (++m->count > m->nbuckets)
        grow(m);
    return 0;
}

void *strmap_del(strmap *m, const char *key)
{
    strmap_entry **e = slot(m, key);
    if (!*e)
        return NULL;
    strmap_entry *dead = *e;
    void *v = dead->value;
    *e = dead->next;
    free(dead);
    m->count--;
    return v;
}

void strmap_each(const strmap *m, void (*fn)(const char *, void *, void *), void *ud)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (strmap_entry *e = m->buckets[i]; e; e = e->next)
            fn(e->key, e->value, ud);
}

void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        strmap_entry *e = m->buckets[i];
        while (e) {
            strmap_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->count = m->nbuckets = 0;
}
