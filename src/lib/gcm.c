/* SPDX-License-Identifier: MIT */
/*
 * gcm.c: AES-256-GCM on x86-64 AES-NI and PCLMULQDQ (see gcm.h), written
 * from NIST SP 800-38D, FIPS 197 and Intel's white papers on the AES
 * instructions and on carry-less multiplication for GCM.
 *
 *   J0  = nonce || 0^31 || 1            (96-bit nonce)
 *   C_i = P_i ^ AES_K(inc32^i(J0))      i = 1, 2, ... (last block cut short)
 *   S   = GHASH_H(A || 0-pad || C || 0-pad || [len(A)]_64 || [len(C)]_64)
 *   T   = AES_K(J0) ^ S                 with H = AES_K(0^128)
 *
 * GHASH runs in the byte-reversed domain of Intel's paper: each block is
 * byte-swapped on load, multiplied with four PCLMULQDQs, the 256-bit product
 * shifted left by one bit and reduced modulo x^128 + x^7 + x^2 + x + 1.
 * Four blocks share one reduction (Y = (Y ^ X1)H^4 ^ X2 H^3 ^ X3 H^2 ^ X4 H,
 * the reduction being linear), and the counter blocks are encrypted four at
 * a time so the AES unit is not waiting on one chain.
 *
 * Compiled with a target attribute per function, as sha256_shani.c, so the
 * build needs no -m flags and the binary runs on any x86-64; link.c calls
 * in only after srm_gcm_supported().  Constant time: table-free AES (the
 * instructions) and carry-less multiplication, no branch on secret data;
 * the tag is compared with CRYPTO_memcmp before any plaintext is written.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "srm/err.h"
#include "srm/gcm.h"

void srm_gcm_wipe(struct srm_gcm *g)
{
    if (g != NULL) {
        OPENSSL_cleanse(g, sizeof(*g));
    }
}

#if defined(__x86_64__)

#include <cpuid.h>
#include <immintrin.h>

#define GCM_ATTR "aes,pclmul,sse4.1,ssse3"
#define GCM_FN   __attribute__((target(GCM_ATTR)))
#define GCM_INL  __attribute__((target(GCM_ATTR), always_inline)) static inline

#define CPUID_PCLMUL (1u << 1)  /* leaf 1, ECX */
#define CPUID_SSSE3  (1u << 9)  /* leaf 1, ECX */
#define CPUID_SSE41  (1u << 19) /* leaf 1, ECX */
#define CPUID_AES    (1u << 25) /* leaf 1, ECX */

/* CPUID can cost a VM exit: asked once, the answer kept (-1: not asked yet). */
static int gcm_cpu = -1;

int srm_gcm_supported(void)
{
    unsigned int a = 0, b = 0, c = 0, d = 0;
    const unsigned int need = CPUID_PCLMUL | CPUID_SSSE3 | CPUID_SSE41 | CPUID_AES;
    int v = __atomic_load_n(&gcm_cpu, __ATOMIC_RELAXED);

    if (v < 0) {
        v = __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & need) == need;
        __atomic_store_n(&gcm_cpu, v, __ATOMIC_RELAXED);
    }
    return v;
}

GCM_INL __m128i bswap128(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* Prefix XOR of the four 32-bit words: w0, w0^w1, w0^w1^w2, w0^w1^w2^w3. */
GCM_INL __m128i key_mix(__m128i k)
{
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, _mm_slli_si128(k, 4));
}

/*
 * FIPS 197 5.2 for Nk = 8.  AESKEYGENASSIST gives SubWord of words 1 and 3
 * of its input, and RotWord(SubWord(.)) ^ rcon of them: round keys 2, 4, ...
 * take RotWord(SubWord(last word)) ^ rcon (lane 3, shuffle 0xff), round keys
 * 3, 5, ... SubWord(last word) alone (lane 2, shuffle 0xaa).
 */
#define EXPAND_EVEN(i, rcon)                                                                       \
    rk[i] = _mm_xor_si128(key_mix(rk[(i)-2]),                                                      \
                          _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i)-1], rcon), 0xff))
#define EXPAND_ODD(i)                                                                              \
    rk[i] = _mm_xor_si128(key_mix(rk[(i)-2]),                                                      \
                          _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[(i)-1], 0), 0xaa))

GCM_INL void expand_key(__m128i rk[15], const uint8_t key[32])
{
    rk[0] = _mm_loadu_si128((const __m128i *)(const void *)key);
    rk[1] = _mm_loadu_si128((const __m128i *)(const void *)(key + 16));
    EXPAND_EVEN(2, 0x01);
    EXPAND_ODD(3);
    EXPAND_EVEN(4, 0x02);
    EXPAND_ODD(5);
    EXPAND_EVEN(6, 0x04);
    EXPAND_ODD(7);
    EXPAND_EVEN(8, 0x08);
    EXPAND_ODD(9);
    EXPAND_EVEN(10, 0x10);
    EXPAND_ODD(11);
    EXPAND_EVEN(12, 0x20);
    EXPAND_ODD(13);
    EXPAND_EVEN(14, 0x40);
}

GCM_INL __m128i aes_block(const __m128i rk[15], __m128i x)
{
    int r;

    x = _mm_xor_si128(x, rk[0]);
    for (r = 1; r < 14; r++) {
        x = _mm_aesenc_si128(x, rk[r]);
    }
    return _mm_aesenclast_si128(x, rk[14]);
}

/* Four independent blocks, round by round, so the AES unit's latency overlaps. */
GCM_INL void aes_block4(const __m128i rk[15], __m128i x[4])
{
    int r, i;

    for (i = 0; i < 4; i++) {
        x[i] = _mm_xor_si128(x[i], rk[0]);
    }
    for (r = 1; r < 14; r++) {
        for (i = 0; i < 4; i++) {
            x[i] = _mm_aesenc_si128(x[i], rk[r]);
        }
    }
    for (i = 0; i < 4; i++) {
        x[i] = _mm_aesenclast_si128(x[i], rk[14]);
    }
}

/* The unreduced 256-bit carry-less product a * b, added into (*lo, *hi). */
GCM_INL void clmul_acc(__m128i a, __m128i b, __m128i *lo, __m128i *hi)
{
    __m128i l = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i h = _mm_clmulepi64_si128(a, b, 0x11);
    __m128i m = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10), _mm_clmulepi64_si128(a, b, 0x01));

    *lo = _mm_xor_si128(*lo, _mm_xor_si128(l, _mm_slli_si128(m, 8)));
    *hi = _mm_xor_si128(*hi, _mm_xor_si128(h, _mm_srli_si128(m, 8)));
}

/*
 * (hi || lo) shifted left by one bit (the bit-reflected operands leave the
 * product one bit short), then reduced modulo the GCM polynomial: the
 * shift-and-XOR form of Intel's paper (algorithm 5).
 */
GCM_INL __m128i reduce(__m128i lo, __m128i hi)
{
    __m128i c_lo = _mm_srli_epi32(lo, 31), c_hi = _mm_srli_epi32(hi, 31);
    __m128i t, u, v;

    lo = _mm_slli_epi32(lo, 1);
    hi = _mm_slli_epi32(hi, 1);
    hi = _mm_or_si128(hi, _mm_srli_si128(c_lo, 12));
    hi = _mm_or_si128(hi, _mm_slli_si128(c_hi, 4));
    lo = _mm_or_si128(lo, _mm_slli_si128(c_lo, 4));

    t = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi32(lo, 31), _mm_slli_epi32(lo, 30)),
                      _mm_slli_epi32(lo, 25));
    u = _mm_srli_si128(t, 4);
    lo = _mm_xor_si128(lo, _mm_slli_si128(t, 12));
    v = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi32(lo, 1), _mm_srli_epi32(lo, 2)),
                      _mm_srli_epi32(lo, 7));
    v = _mm_xor_si128(v, u);
    lo = _mm_xor_si128(lo, v);
    return _mm_xor_si128(hi, lo);
}

GCM_INL __m128i gf_mul(__m128i a, __m128i b)
{
    __m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();

    clmul_acc(a, b, &lo, &hi);
    return reduce(lo, hi);
}

/* The GHASH state and its key powers (byte-reversed), loaded once per call. */
struct ghash {
    __m128i y;
    __m128i h[4]; /* h[k] = H^(k+1) */
};

/* Y = (Y ^ X) * H for one block (p: 16 bytes, already byte-ordered as on the wire). */
GCM_INL void ghash1(struct ghash *s, __m128i x)
{
    s->y = gf_mul(_mm_xor_si128(s->y, bswap128(x)), s->h[0]);
}

/* Four blocks, one reduction: Y = (Y ^ X1)H^4 ^ X2 H^3 ^ X3 H^2 ^ X4 H. */
GCM_INL void ghash4(struct ghash *s, const __m128i x[4])
{
    __m128i lo = _mm_setzero_si128(), hi = _mm_setzero_si128();

    clmul_acc(_mm_xor_si128(s->y, bswap128(x[0])), s->h[3], &lo, &hi);
    clmul_acc(bswap128(x[1]), s->h[2], &lo, &hi);
    clmul_acc(bswap128(x[2]), s->h[1], &lo, &hi);
    clmul_acc(bswap128(x[3]), s->h[0], &lo, &hi);
    s->y = reduce(lo, hi);
}

/* GHASH over p[0..n), zero-padded to a whole block. */
GCM_INL void ghash_bytes(struct ghash *s, const uint8_t *p, size_t n)
{
    __m128i x[4];
    uint8_t last[16];
    size_t i;

    while (n >= 64) {
        for (i = 0; i < 4; i++) {
            x[i] = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        }
        ghash4(s, x);
        p += 64;
        n -= 64;
    }
    while (n >= 16) {
        ghash1(s, _mm_loadu_si128((const __m128i *)(const void *)p));
        p += 16;
        n -= 16;
    }
    if (n > 0) {
        memset(last, 0, sizeof(last));
        memcpy(last, p, n);
        ghash1(s, _mm_loadu_si128((const __m128i *)(const void *)last));
    }
}

/*
 * Round keys and GHASH powers out of g, into locals the compiler keeps in
 * registers as far as 16 XMM registers go (the rest spill to the stack, as
 * in any implementation, OpenSSL's assembly included; the key material
 * itself lives in g for the link's lifetime and is wiped with it).
 */
GCM_INL void load(const struct srm_gcm *g, __m128i rk[15], struct ghash *s)
{
    int i;

    for (i = 0; i < 15; i++) {
        rk[i] = _mm_loadu_si128((const __m128i *)(const void *)g->rk[i]);
    }
    for (i = 0; i < 4; i++) {
        s->h[i] = _mm_loadu_si128((const __m128i *)(const void *)g->h[i]);
    }
    s->y = _mm_setzero_si128();
}

/* Counter block inc32^k(J0), from the byte-reversed J0 (its counter in lane 0). */
GCM_INL __m128i ctr_block(__m128i j0_rev, uint32_t k)
{
    return bswap128(_mm_add_epi32(j0_rev, _mm_set_epi32(0, 0, 0, (int)k)));
}

/*
 * out = in ^ keystream, blocks inc32^1(J0), inc32^2(J0), ...; with `mac`
 * set, GHASH over `out` (sealing), else the caller hashed `in` first.
 */
GCM_INL void ctr_xor(const __m128i rk[15], __m128i j0_rev, const uint8_t *in, size_t n,
                     uint8_t *out, struct ghash *mac)
{
    __m128i x[4], d;
    uint8_t last[16];
    uint32_t k = 1;
    size_t i;

    while (n >= 64) {
        for (i = 0; i < 4; i++) {
            x[i] = ctr_block(j0_rev, k + (uint32_t)i);
        }
        aes_block4(rk, x);
        for (i = 0; i < 4; i++) {
            d = _mm_loadu_si128((const __m128i *)(const void *)(in + 16 * i));
            x[i] = _mm_xor_si128(x[i], d);
            _mm_storeu_si128((__m128i *)(void *)(out + 16 * i), x[i]);
        }
        if (mac != NULL) {
            ghash4(mac, x);
        }
        k += 4;
        in += 64;
        out += 64;
        n -= 64;
    }
    while (n >= 16) {
        x[0] = aes_block(rk, ctr_block(j0_rev, k));
        x[0] = _mm_xor_si128(x[0], _mm_loadu_si128((const __m128i *)(const void *)in));
        _mm_storeu_si128((__m128i *)(void *)out, x[0]);
        if (mac != NULL) {
            ghash1(mac, x[0]);
        }
        k++;
        in += 16;
        out += 16;
        n -= 16;
    }
    if (n > 0) {
        memset(last, 0, sizeof(last));
        memcpy(last, in, n);
        x[0] = aes_block(rk, ctr_block(j0_rev, k));
        x[0] = _mm_xor_si128(x[0], _mm_loadu_si128((const __m128i *)(const void *)last));
        _mm_storeu_si128((__m128i *)(void *)last, x[0]);
        memcpy(out, last, n);
        if (mac != NULL) {
            /* GHASH pads the last block with zeros, not with keystream. */
            memset(last + n, 0, sizeof(last) - n);
            ghash1(mac, _mm_loadu_si128((const __m128i *)(const void *)last));
        }
        OPENSSL_cleanse(last, sizeof(last));
    }
}

/* The tag: AES_K(J0) ^ GHASH(... || [len(A)]_64 || [len(C)]_64). */
GCM_INL __m128i finish(const __m128i rk[15], __m128i j0, struct ghash *s, size_t aadlen, size_t n)
{
    /* [len(A)]_64 || [len(C)]_64 in bits, byte-reversed: len(C) in the low half. */
    const uint64_t abits = (uint64_t)aadlen * 8u, cbits = (uint64_t)n * 8u;
    __m128i lens = _mm_set_epi64x((long long)abits, (long long)cbits);

    s->y = gf_mul(_mm_xor_si128(s->y, lens), s->h[0]);
    return _mm_xor_si128(aes_block(rk, j0), bswap128(s->y));
}

GCM_FN int srm_gcm_init(struct srm_gcm *g, const uint8_t key[SRM_GCM_KEY_LEN])
{
    __m128i rk[15], h[4];
    int i;

    if (g == NULL || key == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if (!srm_gcm_supported()) {
        return SRM_ERR_BAD_STATE;
    }
    expand_key(rk, key);
    h[0] = bswap128(aes_block(rk, _mm_setzero_si128()));
    for (i = 1; i < 4; i++) {
        h[i] = gf_mul(h[i - 1], h[0]);
    }
    for (i = 0; i < 15; i++) {
        _mm_storeu_si128((__m128i *)(void *)g->rk[i], rk[i]);
    }
    for (i = 0; i < 4; i++) {
        _mm_storeu_si128((__m128i *)(void *)g->h[i], h[i]);
    }
    return 0;
}

GCM_INL __m128i load_j0(const uint8_t nonce[SRM_GCM_NONCE_LEN])
{
    uint8_t b[16];

    memcpy(b, nonce, SRM_GCM_NONCE_LEN);
    b[12] = 0;
    b[13] = 0;
    b[14] = 0;
    b[15] = 1;
    return _mm_loadu_si128((const __m128i *)(const void *)b);
}

GCM_FN int srm_gcm_seal(const struct srm_gcm *g, const uint8_t nonce[SRM_GCM_NONCE_LEN],
                        const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t n, uint8_t *ct,
                        uint8_t tag[SRM_GCM_TAG_LEN])
{
    __m128i rk[15], j0;
    struct ghash s;

    if (g == NULL || nonce == NULL || tag == NULL || (aad == NULL && aadlen != 0) ||
        ((pt == NULL || ct == NULL) && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((uint64_t)n > SRM_GCM_MAX_LEN || (uint64_t)aadlen > SRM_GCM_MAX_LEN) {
        return SRM_ERR_TOO_LARGE;
    }
    load(g, rk, &s);
    j0 = load_j0(nonce);
    ghash_bytes(&s, aad, aadlen);
    ctr_xor(rk, bswap128(j0), pt, n, ct, &s);
    _mm_storeu_si128((__m128i *)(void *)tag, finish(rk, j0, &s, aadlen, n));
    return 0;
}

GCM_FN int srm_gcm_open(const struct srm_gcm *g, const uint8_t nonce[SRM_GCM_NONCE_LEN],
                        const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t n,
                        const uint8_t tag[SRM_GCM_TAG_LEN], uint8_t *pt)
{
    __m128i rk[15], j0;
    struct ghash s;
    uint8_t want[SRM_GCM_TAG_LEN];
    int ok;

    if (g == NULL || nonce == NULL || tag == NULL || (aad == NULL && aadlen != 0) ||
        ((pt == NULL || ct == NULL) && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((uint64_t)n > SRM_GCM_MAX_LEN || (uint64_t)aadlen > SRM_GCM_MAX_LEN) {
        return SRM_ERR_TOO_LARGE;
    }
    load(g, rk, &s);
    j0 = load_j0(nonce);
    ghash_bytes(&s, aad, aadlen);
    ghash_bytes(&s, ct, n);
    _mm_storeu_si128((__m128i *)(void *)want, finish(rk, j0, &s, aadlen, n));
    ok = CRYPTO_memcmp(want, tag, sizeof(want)) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    if (!ok) {
        return SRM_ERR_BAD_MAC;
    }
    ctr_xor(rk, bswap128(j0), ct, n, pt, NULL);
    return 0;
}

#else /* not x86-64: link.c stays on EVP */

int srm_gcm_supported(void)
{
    return 0;
}

int srm_gcm_init(struct srm_gcm *g, const uint8_t key[SRM_GCM_KEY_LEN])
{
    if (g == NULL || key == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    memset(g, 0, sizeof(*g)); /* nothing usable is left behind */
    return SRM_ERR_BAD_STATE;
}

int srm_gcm_seal(const struct srm_gcm *g, const uint8_t nonce[SRM_GCM_NONCE_LEN],
                 const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t n, uint8_t *ct,
                 uint8_t tag[SRM_GCM_TAG_LEN])
{
    (void)g;
    (void)nonce;
    (void)aad;
    (void)aadlen;
    (void)pt;
    (void)n;
    (void)ct;
    (void)tag;
    return SRM_ERR_BAD_STATE;
}

int srm_gcm_open(const struct srm_gcm *g, const uint8_t nonce[SRM_GCM_NONCE_LEN],
                 const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t n,
                 const uint8_t tag[SRM_GCM_TAG_LEN], uint8_t *pt)
{
    (void)g;
    (void)nonce;
    (void)aad;
    (void)aadlen;
    (void)ct;
    (void)n;
    (void)tag;
    (void)pt;
    return SRM_ERR_BAD_STATE;
}

#endif
