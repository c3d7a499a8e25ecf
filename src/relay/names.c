/* SPDX-License-Identifier: MIT */
/*
 * names.c: the relay's table of online names (name -> connection).
 *
 * Every SEND looks its recipient up here, so the table is a hash table, not
 * a list: chained buckets threaded through the connections themselves
 * (conn->hnext), so that inserting a name allocates nothing.  The bucket
 * array doubles when the load passes one entry per bucket; a failed growth
 * only costs speed, never an entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srm/err.h"
#include "relay.h"

#define NAMES_INITIAL_BUCKETS 64u

static uint32_t name_hash(const char *name, size_t len);
static void names_grow(struct name_table *t);

int names_init(struct name_table *t)
{
    t->buckets = calloc(NAMES_INITIAL_BUCKETS, sizeof(struct conn *));
    if (t->buckets == NULL) {
        return SRM_ERR_ALLOC;
    }
    t->nbuckets = NAMES_INITIAL_BUCKETS;
    t->count = 0;
    return 0;
}

void names_free(struct name_table *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->nbuckets = 0;
    t->count = 0;
}

/*
 * FNV-1a: names are at most 32 bytes of [a-z0-9_-] chosen by registered
 * users, who cannot make the relay do more than walk their own chains.
 */
static uint32_t name_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (uint8_t)name[i];
        h *= 16777619u;
    }
    return h;
}

struct conn *names_find(const struct name_table *t, const char *name, size_t len)
{
    uint32_t h = name_hash(name, len);
    struct conn *c;

    for (c = t->buckets[h & (t->nbuckets - 1u)]; c != NULL; c = c->hnext) {
        if (c->hash == h && c->name_len == len && memcmp(c->name, name, len) == 0) {
            return c;
        }
    }
    return NULL;
}

static void names_grow(struct name_table *t)
{
    size_t n = t->nbuckets * 2u, i;
    struct conn **nb, *c, *next;

    if (n < t->nbuckets || n > SIZE_MAX / sizeof(struct conn *)) {
        return;
    }
    nb = calloc(n, sizeof(struct conn *));
    if (nb == NULL) {
        return; /* longer chains, still correct */
    }
    for (i = 0; i < t->nbuckets; i++) {
        for (c = t->buckets[i]; c != NULL; c = next) {
            next = c->hnext;
            c->hnext = nb[c->hash & (n - 1u)];
            nb[c->hash & (n - 1u)] = c;
        }
    }
    free(t->buckets);
    t->buckets = nb;
    t->nbuckets = n;
}

void names_insert(struct name_table *t, struct conn *c)
{
    size_t i;

    c->name_len = strlen(c->name);
    c->hash = name_hash(c->name, c->name_len);
    if (t->count >= t->nbuckets) {
        names_grow(t);
    }
    i = c->hash & (t->nbuckets - 1u);
    c->hnext = t->buckets[i];
    t->buckets[i] = c;
    t->count++;
}

int names_remove(struct name_table *t, struct conn *c)
{
    struct conn **pp;

    if (t->buckets == NULL) {
        return 0;
    }
    for (pp = &t->buckets[c->hash & (t->nbuckets - 1u)]; *pp != NULL; pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            c->hnext = NULL;
            t->count--;
            return 1;
        }
    }
    return 0;
}
