/* SPDX-License-Identifier: MIT */
/*
 * sha256_shani.c: the SHA-256 block function on x86-64 SHA extensions
 * (SHA256RNDS2 does two rounds, SHA256MSG1/MSG2 extend the message
 * schedule), written from FIPS 180-4 and Intel's description of the
 * instructions.  Compiled with a target attribute per function, so the rest
 * of the build needs no -m flags; sha256.c calls it only after
 * srm_sha256_shani_supported() said yes.  On other architectures this file
 * reports "not supported", so the portable block function is used.
 *
 * Register layout the instructions want: s0 = (A, B, E, F) and
 * s1 = (C, D, G, H), A in the highest 32-bit lane.
 */
#include <stddef.h>
#include <stdint.h>

#include "sha256_impl.h"

#if defined(__x86_64__)

#include <immintrin.h>
#if defined(__clang__)
#include <cpuid.h>
#endif

#define SHANI_FN   __attribute__((target("sha,sse4.1,ssse3")))
#define SHANI_INL  __attribute__((target("sha,sse4.1,ssse3"), always_inline)) static inline
#define CPUID_SHA  (1u << 29) /* leaf 7, EBX */
#define CPUID_SSE3 (1u << 9)  /* leaf 1, ECX: SSSE3 */
#define CPUID_SSE4 (1u << 19) /* leaf 1, ECX: SSE4.1 */

SHANI_INL void state_load(const uint32_t h[8], __m128i *s0, __m128i *s1);
SHANI_INL void state_store(uint32_t h[8], __m128i s0, __m128i s1);
SHANI_INL __m128i load_msg(const uint8_t *p);
SHANI_INL void rounds4(__m128i *s0, __m128i *s1, __m128i w, unsigned g);
SHANI_INL __m128i schedule(__m128i m0, __m128i m1, __m128i m2, __m128i m3);
SHANI_INL void compress(__m128i *s0, __m128i *s1, const uint8_t *p);

int srm_sha256_shani_supported(void)
{
#if defined(__clang__)
    /* clang 14's __builtin_cpu_supports does not know "sha"; ask CPUID. */
    unsigned int a = 0, b = 0, c = 0, d = 0;

    if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & CPUID_SSE3) == 0 || (c & CPUID_SSE4) == 0) {
        return 0;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) {
        return 0;
    }
    return (b & CPUID_SHA) != 0;
#else
    /* libgcc caches CPUID at start-up, so this costs a load, not a VM exit. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") &&
           __builtin_cpu_supports("ssse3");
#endif
}

/* h = (a..h) in memory -> s0 = ABEF, s1 = CDGH. */
SHANI_INL void state_load(const uint32_t h[8], __m128i *s0, __m128i *s1)
{
    __m128i abcd = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
    __m128i efgh = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
    __m128i cdab = _mm_shuffle_epi32(abcd, 0xB1);
    __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1B);

    *s0 = _mm_alignr_epi8(cdab, hgfe, 8);
    *s1 = _mm_blend_epi16(hgfe, cdab, 0xF0);
}

/* The inverse of state_load. */
SHANI_INL void state_store(uint32_t h[8], __m128i s0, __m128i s1)
{
    __m128i feba = _mm_shuffle_epi32(s0, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(s1, 0xB1);

    _mm_storeu_si128((__m128i *)(void *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)(void *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}

/* Four big-endian message words, W[t] in lane 0. */
SHANI_INL __m128i load_msg(const uint8_t *p)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);

    return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), bswap);
}

/* Rounds 4g .. 4g+3 with message words w = W[4g .. 4g+3]. */
SHANI_INL void rounds4(__m128i *s0, __m128i *s1, __m128i w, unsigned g)
{
    __m128i wk = _mm_add_epi32(
        w, _mm_loadu_si128((const __m128i *)(const void *)&srm_sha256_k[(size_t)4 * g]));

    *s1 = _mm_sha256rnds2_epu32(*s1, *s0, wk);
    *s0 = _mm_sha256rnds2_epu32(*s0, *s1, _mm_shuffle_epi32(wk, 0x0E));
}

/*
 * W[t..t+3] from m0 = W[t-16..], m1 = W[t-12..], m2 = W[t-8..], m3 = W[t-4..]:
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].  MSG1 adds s0, the
 * alignr supplies W[t-7..t-4], MSG2 adds s1 (it chains the last two lanes).
 */
SHANI_INL __m128i schedule(__m128i m0, __m128i m1, __m128i m2, __m128i m3)
{
    __m128i x = _mm_add_epi32(_mm_sha256msg1_epu32(m0, m1), _mm_alignr_epi8(m3, m2, 4));

    return _mm_sha256msg2_epu32(x, m3);
}

/* One block: the 64 rounds, then the feed-forward. */
SHANI_INL void compress(__m128i *s0, __m128i *s1, const uint8_t *p)
{
    __m128i save0 = *s0, save1 = *s1;
    __m128i m0 = load_msg(p), m1 = load_msg(p + 16), m2 = load_msg(p + 32), m3 = load_msg(p + 48);
    unsigned g;

    rounds4(s0, s1, m0, 0);
    rounds4(s0, s1, m1, 1);
    rounds4(s0, s1, m2, 2);
    rounds4(s0, s1, m3, 3);
    for (g = 4; g < 16; g += 4) {
        m0 = schedule(m0, m1, m2, m3);
        rounds4(s0, s1, m0, g);
        m1 = schedule(m1, m2, m3, m0);
        rounds4(s0, s1, m1, g + 1);
        m2 = schedule(m2, m3, m0, m1);
        rounds4(s0, s1, m2, g + 2);
        m3 = schedule(m3, m0, m1, m2);
        rounds4(s0, s1, m3, g + 3);
    }
    *s0 = _mm_add_epi32(*s0, save0);
    *s1 = _mm_add_epi32(*s1, save1);
}

SHANI_FN void srm_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    __m128i s0, s1;
    size_t i;

    state_load(h, &s0, &s1);
    for (i = 0; i < nblocks; i++) {
        compress(&s0, &s1, p + i * 64);
    }
    state_store(h, s0, s1);
}

/*
 * Two independent blocks, round groups interleaved: each SHA256RNDS2 waits
 * for the previous one of its own chain, so a second chain fills the gaps.
 */
SHANI_FN void srm_sha256_x2_shani(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8],
                                  const uint8_t *pb)
{
    __m128i a0, a1, b0, b1, sa0, sa1, sb0, sb1;
    __m128i ma0, ma1, ma2, ma3, mb0, mb1, mb2, mb3;
    unsigned g;

    state_load(ha, &a0, &a1);
    state_load(hb, &b0, &b1);
    sa0 = a0;
    sa1 = a1;
    sb0 = b0;
    sb1 = b1;
    ma0 = load_msg(pa);
    mb0 = load_msg(pb);
    ma1 = load_msg(pa + 16);
    mb1 = load_msg(pb + 16);
    ma2 = load_msg(pa + 32);
    mb2 = load_msg(pb + 32);
    ma3 = load_msg(pa + 48);
    mb3 = load_msg(pb + 48);
    rounds4(&a0, &a1, ma0, 0);
    rounds4(&b0, &b1, mb0, 0);
    rounds4(&a0, &a1, ma1, 1);
    rounds4(&b0, &b1, mb1, 1);
    rounds4(&a0, &a1, ma2, 2);
    rounds4(&b0, &b1, mb2, 2);
    rounds4(&a0, &a1, ma3, 3);
    rounds4(&b0, &b1, mb3, 3);
    for (g = 4; g < 16; g += 4) {
        ma0 = schedule(ma0, ma1, ma2, ma3);
        mb0 = schedule(mb0, mb1, mb2, mb3);
        rounds4(&a0, &a1, ma0, g);
        rounds4(&b0, &b1, mb0, g);
        ma1 = schedule(ma1, ma2, ma3, ma0);
        mb1 = schedule(mb1, mb2, mb3, mb0);
        rounds4(&a0, &a1, ma1, g + 1);
        rounds4(&b0, &b1, mb1, g + 1);
        ma2 = schedule(ma2, ma3, ma0, ma1);
        mb2 = schedule(mb2, mb3, mb0, mb1);
        rounds4(&a0, &a1, ma2, g + 2);
        rounds4(&b0, &b1, mb2, g + 2);
        ma3 = schedule(ma3, ma0, ma1, ma2);
        mb3 = schedule(mb3, mb0, mb1, mb2);
        rounds4(&a0, &a1, ma3, g + 3);
        rounds4(&b0, &b1, mb3, g + 3);
    }
    state_store(ha, _mm_add_epi32(a0, sa0), _mm_add_epi32(a1, sa1));
    state_store(hb, _mm_add_epi32(b0, sb0), _mm_add_epi32(b1, sb1));
}

#else /* not x86-64: the portable block function is the only one */

int srm_sha256_shani_supported(void)
{
    return 0;
}

void srm_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    srm_sha256_blocks_portable(h, p, nblocks);
}

void srm_sha256_x2_shani(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8], const uint8_t *pb)
{
    srm_sha256_blocks_portable(ha, pa, 1);
    srm_sha256_blocks_portable(hb, pb, 1);
}

#endif
