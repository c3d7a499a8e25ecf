/* SPDX-License-Identifier: MIT */
/*
 * users.c: who may register at this relay.
 *
 * A user is a file DIR/NAME.pub holding an RSA public key, NAME being a
 * valid user name other than "relay".  The key is looked up when NAME
 * registers, not at start-up, so users can be added (or removed) without a
 * restart.
 *
 * Parsing the PEM file was about a fifth of the relay's work per
 * registration (OpenSSL builds a decoder context per call; BENCHMARKS.md),
 * so parsed keys are cached, keyed by the file's identity (device, inode)
 * and re-validated on every lookup by stat(): size, mtime and ctime (with
 * nanoseconds) must be those seen when the key was parsed, or the file is
 * read again.  So adding NAME.pub, replacing it (new inode, or rewritten in
 * place: new mtime/ctime) or removing it (stat fails) takes effect at the
 * next registration, as before.  Names hard-linked to one file share one
 * parsed key.  A file replaced between our stat() and our read is caught at
 * the next lookup, whose stat() no longer matches.
 *
 * File times come from a coarse clock (one tick is milliseconds), so two
 * writes of the same size within one tick would look alike.  As git does
 * for "racily clean" files, a key is only cached once its file's mtime and
 * ctime are at least CACHE_SETTLE_S old when we parse it: any later write
 * then necessarily carries a later time.  Younger files are parsed on
 * every lookup until they settle.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "log.h"
#include "net.h"
#include "relay.h"

#define PUB_EXT           ".pub"
#define CACHE_MIN_BUCKETS 64u
#define CACHE_SETTLE_S    1

/* One parsed key file, as stat() saw it when it was parsed. */
struct key_entry {
    struct key_entry *next;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
    struct srm_key *key; /* one reference held by the cache */
};

struct users_cache {
    struct key_entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

static int cache_get(struct users *u, const char *path, const struct stat *st,
                     struct srm_key **pub);
static size_t file_hash(dev_t dev, ino_t ino);
static int same_file_state(const struct key_entry *e, const struct stat *st);
static int settled(const struct stat *st);
static void cache_put(struct users *u, const struct stat *st, struct srm_key *key);
static void cache_grow(struct users_cache *c);

int users_lookup(void *arg, const char *name, struct srm_key **pub)
{
    struct users *u = arg;
    struct stat st;
    char path[4096];
    int r;

    /* The name becomes part of a path: only a checked name may reach it. */
    if (srm_name_check_str(name) != 0 || strcmp(name, "relay") == 0) {
        srm_debug("lookup: refused name (not a user name)");
        return SRM_ERR_UNKNOWN_USER;
    }
    if (srm_net_key_path(path, sizeof(path), u->dir, name, "pub") != 0) {
        return SRM_ERR_UNKNOWN_USER;
    }
    if (stat(path, &st) != 0) {
        srm_debug("lookup: %s: no such user (%s)", name, strerror(errno));
        return SRM_ERR_UNKNOWN_USER;
    }
    r = cache_get(u, path, &st, pub);
    switch (r) {
    case 0:
        return 0;
    case SRM_ERR_IO:
        srm_debug("lookup: %s: no such user (%s)", name, strerror(errno));
        return SRM_ERR_UNKNOWN_USER;
    default:
        /* A broken key file is the operator's problem: say so, refuse the user. */
        srm_warn("%s is not a usable public key (%s): user %s cannot register until it is "
                 "replaced",
                 path, srm_strerror(r), name);
        srm_log_crypto_errors("lookup");
        return SRM_ERR_UNKNOWN_USER;
    }
}

/* The cached key if the file is unchanged, else parse it (and cache it if that worked). */
static int cache_get(struct users *u, const char *path, const struct stat *st, struct srm_key **pub)
{
    struct key_entry *e;
    struct srm_key *key = NULL;
    int r;

    if (u->cache != NULL) {
        for (e = u->cache->buckets[file_hash(st->st_dev, st->st_ino) & (u->cache->nbuckets - 1u)];
             e != NULL; e = e->next) {
            if (e->dev == st->st_dev && e->ino == st->st_ino && same_file_state(e, st)) {
                srm_debug("lookup: %s: parsed key from the cache", path);
                srm_key_ref(e->key);
                *pub = e->key;
                return 0;
            }
        }
    }
    if ((r = srm_key_load_public(path, &key)) != 0) {
        return r;
    }
    /* Only a regular file's identity means anything to the next stat(). */
    if (S_ISREG(st->st_mode) && settled(st)) {
        cache_put(u, st, key);
    }
    *pub = key;
    return 0;
}

static size_t file_hash(dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)ino * 0x9e3779b97f4a7c15ull) ^ (uint64_t)dev;

    return (size_t)(h ^ (h >> 29));
}

static int same_file_state(const struct key_entry *e, const struct stat *st)
{
    return e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
           e->mtime.tv_nsec == st->st_mtim.tv_nsec && e->ctime.tv_sec == st->st_ctim.tv_sec &&
           e->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* 1 if the file's mtime and ctime are CACHE_SETTLE_S or more in the past. */
static int settled(const struct stat *st)
{
    struct timespec now;
    time_t newest =
        st->st_mtim.tv_sec > st->st_ctim.tv_sec ? st->st_mtim.tv_sec : st->st_ctim.tv_sec;

    if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
        return 0;
    }
    /* Whole seconds: a time in the same or the previous second is too young. */
    return now.tv_sec - newest > CACHE_SETTLE_S;
}

/*
 * Remember key (taking a reference) for the file st describes, replacing a
 * stale entry for the same file.  Out of memory only means no caching.
 */
static void cache_put(struct users *u, const struct stat *st, struct srm_key *key)
{
    struct users_cache *c = u->cache;
    struct key_entry *e, **slot;

    if (c == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL ||
            (c->buckets = calloc(CACHE_MIN_BUCKETS, sizeof(struct key_entry *))) == NULL) {
            free(c);
            return;
        }
        c->nbuckets = CACHE_MIN_BUCKETS;
        u->cache = c;
    }
    slot = &c->buckets[file_hash(st->st_dev, st->st_ino) & (c->nbuckets - 1u)];
    for (e = *slot; e != NULL; e = e->next) {
        if (e->dev == st->st_dev && e->ino == st->st_ino) {
            break;
        }
    }
    if (e == NULL) {
        if ((e = calloc(1, sizeof(*e))) == NULL) {
            return;
        }
        e->dev = st->st_dev;
        e->ino = st->st_ino;
        e->next = *slot;
        *slot = e;
        c->count++;
    } else {
        srm_key_free(e->key);
    }
    e->size = st->st_size;
    e->mtime = st->st_mtim;
    e->ctime = st->st_ctim;
    srm_key_ref(key);
    e->key = key;
    if (c->count > c->nbuckets) {
        cache_grow(c);
    }
}

/* Double the buckets; if that fails the chains just get longer. */
static void cache_grow(struct users_cache *c)
{
    struct key_entry **nb, *e, *next;
    size_t n = c->nbuckets * 2u, i, h;

    if ((nb = calloc(n, sizeof(struct key_entry *))) == NULL) {
        return;
    }
    for (i = 0; i < c->nbuckets; i++) {
        for (e = c->buckets[i]; e != NULL; e = next) {
            next = e->next;
            h = file_hash(e->dev, e->ino) & (n - 1u);
            e->next = nb[h];
            nb[h] = e;
        }
    }
    free(c->buckets);
    c->buckets = nb;
    c->nbuckets = n;
}

void users_free(struct users *u)
{
    struct users_cache *c;
    struct key_entry *e, *next;
    size_t i;

    if (u == NULL || (c = u->cache) == NULL) {
        return;
    }
    for (i = 0; i < c->nbuckets; i++) {
        for (e = c->buckets[i]; e != NULL; e = next) {
            next = e->next;
            srm_key_free(e->key);
            free(e);
        }
    }
    free(c->buckets);
    free(c);
    u->cache = NULL;
}

long users_count(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char name[SRM_WIRE_MAX_NAME + 1];
    size_t n, ext = strlen(PUB_EXT);
    long count = 0;

    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        n = strlen(e->d_name);
        if (n <= ext || strcmp(e->d_name + (n - ext), PUB_EXT) != 0 ||
            n - ext > SRM_WIRE_MAX_NAME) {
            continue;
        }
        memcpy(name, e->d_name, n - ext);
        name[n - ext] = '\0';
        if (srm_name_check_str(name) == 0 && strcmp(name, "relay") != 0) {
            count++;
        }
    }
    closedir(d);
    return count;
}
