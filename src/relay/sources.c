/* SPDX-License-Identifier: MIT */
/*
 * sources.c: what the relay remembers per source address, to bound what one
 * source can make it do before anyone has authenticated (issue 5):
 *
 *   - a token bucket for REG_HELLO, the frame that costs the relay an RSA
 *     decryption and an RSA signature (WireGuard caps its handshake
 *     initiations per second the same way, INITIATIONS_PER_SECOND);
 *   - the number of its connections still registering, so one source
 *     cannot take every registration slot from everyone else.
 *
 * The table has a fixed size chosen at start-up (four slots per allowed
 * registering connection), so a flood from many addresses allocates
 * nothing.  A slot is found by a keyed hash and a short linear probe; a
 * source with no registering connection may be forgotten to make room for
 * another (forgetting it only refills its bucket, as time would), while one
 * with registering connections is pinned.  The hash key is random per
 * process, so nobody can aim many addresses at one probe window.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "srm/crypto.h"
#include "srm/err.h"
#include "relay.h"

/* Slots per allowed registering connection: pinned slots stay a quarter at most. */
#define SRC_SLOTS_PER_UNAUTH 4u
#define SRC_MIN_SLOTS        64u
/*
 * At most 2^18 slots (10 MiB of address space, touched only as used): past
 * that many registering sources at once, new ones are refused.
 */
#define SRC_MAX_SLOTS (1u << 18)
/* Slots looked at per lookup. */
#define SRC_PROBE 16u
#define MILLI     1000u

static uint64_t src_hash(const struct src_table *t, const uint8_t *addr, size_t n, uint8_t family);
static size_t src_key(const struct sockaddr *sa, uint8_t addr[16], uint8_t *family);
static void src_refill(const struct src_table *t, struct src_entry *e, uint64_t now_ms);

int sources_init(struct src_table *t, unsigned long max_unauth, unsigned long rate)
{
    size_t want = SRC_MIN_SLOTS, n = 1;

    memset(t, 0, sizeof(*t));
    if (max_unauth > SRC_MAX_SLOTS / SRC_SLOTS_PER_UNAUTH) {
        want = SRC_MAX_SLOTS;
    } else if (max_unauth * SRC_SLOTS_PER_UNAUTH > want) {
        want = max_unauth * SRC_SLOTS_PER_UNAUTH;
    }
    while (n < want) {
        n *= 2u;
    }
    t->e = calloc(n, sizeof(*t->e));
    if (t->e == NULL) {
        return SRM_ERR_ALLOC;
    }
    if (srm_random(&t->seed, sizeof(t->seed)) != 0) {
        free(t->e);
        t->e = NULL;
        return SRM_ERR_LIBCRYPTO;
    }
    t->n = n;
    t->rate = rate;
    t->cap = (uint64_t)rate * RELAY_REG_BURST_FACTOR * MILLI;
    return 0;
}

void sources_free(struct src_table *t)
{
    free(t->e);
    t->e = NULL;
    t->n = 0;
}

/* FNV-1a over seed, family and address, then a 64-bit finaliser (murmur3 fmix64). */
static uint64_t src_hash(const struct src_table *t, const uint8_t *addr, size_t n, uint8_t family)
{
    uint64_t h = 14695981039346656037ull ^ t->seed;
    size_t i;

    h = (h ^ family) * 1099511628211ull;
    for (i = 0; i < n; i++) {
        h = (h ^ addr[i]) * 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* The bytes that name a source; an IPv4-mapped IPv6 address is the IPv4 one. */
static size_t src_key(const struct sockaddr *sa, uint8_t addr[16], uint8_t *family)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const struct sockaddr_in *in4;
    const struct sockaddr_in6 *in6;

    memset(addr, 0, 16);
    *family = AF_UNSPEC;
    if (sa == NULL) {
        return 0;
    }
    switch (sa->sa_family) {
    case AF_INET:
        in4 = (const struct sockaddr_in *)(const void *)sa;
        memcpy(addr, &in4->sin_addr, 4);
        *family = AF_INET;
        return 4;
    case AF_INET6:
        in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (memcmp(in6->sin6_addr.s6_addr, mapped, sizeof(mapped)) == 0) {
            memcpy(addr, in6->sin6_addr.s6_addr + sizeof(mapped), 4);
            *family = AF_INET;
            return 4;
        }
        memcpy(addr, in6->sin6_addr.s6_addr, 16);
        *family = AF_INET6;
        return 16;
    default:
        return 0;
    }
}

struct src_entry *sources_get(struct src_table *t, const struct sockaddr *sa, uint64_t now_ms)
{
    uint8_t addr[16], family;
    size_t len = src_key(sa, addr, &family), i, idx;
    uint64_t h = src_hash(t, addr, len, family);
    struct src_entry *e, *victim = NULL;

    for (i = 0; i < SRC_PROBE; i++) {
        idx = (size_t)(h + i) & (t->n - 1u);
        e = &t->e[idx];
        if (e->used && e->family == family && memcmp(e->addr, addr, sizeof(addr)) == 0) {
            return e;
        }
        /* A free slot, else the unpinned source heard from longest ago. */
        if (!e->used) {
            if (victim == NULL || victim->used) {
                victim = e;
            }
        } else if (e->unauth == 0 &&
                   (victim == NULL || (victim->used && e->last_ms < victim->last_ms))) {
            victim = e;
        }
    }
    if (victim == NULL) {
        return NULL;
    }
    memset(victim, 0, sizeof(*victim));
    memcpy(victim->addr, addr, sizeof(addr));
    victim->family = family;
    victim->used = 1;
    victim->tokens = t->cap;
    victim->last_ms = now_ms;
    return victim;
}

static void src_refill(const struct src_table *t, struct src_entry *e, uint64_t now_ms)
{
    uint64_t dt;

    if (now_ms <= e->last_ms) {
        return;
    }
    dt = now_ms - e->last_ms;
    e->last_ms = now_ms;
    /* rate tokens per second = rate thousandths per millisecond; saturate at the cap. */
    if (dt > t->cap / (t->rate > 0 ? t->rate : 1u) || e->tokens + dt * t->rate >= t->cap) {
        e->tokens = t->cap;
    } else {
        e->tokens += dt * t->rate;
    }
}

int sources_take(struct src_table *t, struct src_entry *e, uint64_t now_ms)
{
    if (t->rate == 0) {
        return 1;
    }
    src_refill(t, e, now_ms);
    if (e->tokens < MILLI) {
        return 0;
    }
    e->tokens -= MILLI;
    return 1;
}

uint64_t relay_now_us(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t relay_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
