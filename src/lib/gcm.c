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
 * byte-swapped on load, multiplied with four PCLMULQDQs by H premultiplied
 * by x^-1 (so the 256-bit product needs no one-bit shift) and reduced modulo
 * x^128 + x^7 + x^2 + x + 1 with two more (see reduce()).
 * Four blocks share one reduction (Y = (Y ^ X1)H^4 ^ X2 H^3 ^ X3 H^2 ^ X4 H,
 * the reduction being linear), and the counter blocks are encrypted eight
 * at a time so the AES units are not waiting on one chain.
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

/*
 * The round keys and H powers in g, read where they are used.  The empty asm
 * hides where the pointer came from, so the compiler does not hoist all 15
 * round keys out of the loops into registers it does not have and spill
 * them to the stack (store traffic per call, and a copy of the key there):
 * each AES pass loads each round key once from g, which is as cheap.
 */
GCM_INL const uint8_t (*key_rk(const struct srm_gcm *g))[16]
{
    const uint8_t(*rk)[16] = g->rk;

    __asm__("" : "+r"(rk));
    return rk;
}

GCM_INL __m128i rkey(const uint8_t (*rk)[16], int r)
{
    return _mm_loadu_si128((const __m128i *)(const void *)rk[r]);
}

/* H^k, k = 1..4, in the twisted form of srm_gcm_init (see reduce()). */
GCM_INL __m128i hpow(const struct srm_gcm *g, size_t k)
{
    const uint8_t(*h)[16] = g->h;

    __asm__("" : "+r"(h));
    return _mm_loadu_si128((const __m128i *)(const void *)h[k - 1]);
}

GCM_INL __m128i aes_block(const struct srm_gcm *g, __m128i x)
{
    const uint8_t(*rk)[16] = key_rk(g);
    int r;

    x = _mm_xor_si128(x, rkey(rk, 0));
    for (r = 1; r < 14; r++) {
        x = _mm_aesenc_si128(x, rkey(rk, r));
    }
    return _mm_aesenclast_si128(x, rkey(rk, 14));
}

/*
 * nb independent blocks (4 or 8, a constant once inlined, so x[] stays in
 * registers), round by round: each round key is loaded once for all of
 * them, and the AES units (two on AMD's cores, each with a latency of
 * several cycles) always have independent work.  Eight blocks take about
 * as long as one: the latency of one block is what the units need to
 * issue eight.
 */
GCM_INL void aes_blocks(const struct srm_gcm *g, __m128i *x, int nb)
{
    const uint8_t(*rk)[16] = key_rk(g);
    __m128i k = rkey(rk, 0);
    int r, i;

    for (i = 0; i < nb; i++) {
        x[i] = _mm_xor_si128(x[i], k);
    }
    for (r = 1; r < 14; r++) {
        k = rkey(rk, r);
        for (i = 0; i < nb; i++) {
            x[i] = _mm_aesenc_si128(x[i], k);
        }
    }
    k = rkey(rk, 14);
    for (i = 0; i < nb; i++) {
        x[i] = _mm_aesenclast_si128(x[i], k);
    }
}

/* The unreduced 256-bit products of GHASH blocks, summed: a0b0, a0b1 ^ a1b0, a1b1. */
struct acc {
    __m128i lo, mid, hi;
};

GCM_INL void acc_mul(struct acc *a, __m128i x, __m128i h)
{
    a->lo = _mm_xor_si128(a->lo, _mm_clmulepi64_si128(x, h, 0x00));
    a->hi = _mm_xor_si128(a->hi, _mm_clmulepi64_si128(x, h, 0x11));
    a->mid = _mm_xor_si128(
        a->mid, _mm_xor_si128(_mm_clmulepi64_si128(x, h, 0x10), _mm_clmulepi64_si128(x, h, 0x01)));
    /*
     * Summed block by block: without this GCC computes every block's four
     * products first and runs out of the 16 XMM registers (spills in the
     * loop; the CPU reorders anyway, the order here only saves registers).
     */
    __asm__("" : "+x"(a->lo), "+x"(a->mid), "+x"(a->hi));
}

/*
 * The sum of products reduced to 128 bits.  In the byte-reversed domain the
 * product of two bit-reflected operands comes out one bit short; instead of
 * shifting every product, srm_gcm_init stores H (and its powers) multiplied
 * by x^-1 once ("twisted", H<<1 with the carry folded back by
 * 0xc2000000...01), and the product is then exactly what the reduction
 * below expects: the two-fold reduction by multiplication with
 * 0xc200000000000000 of Gueron's AES-GCM-SIV/POLYVAL paper (RFC 8452,
 * appendix A relates GHASH to POLYVAL this way), two PCLMULQDQs in place
 * of the shift-and-XOR cascade.
 */
GCM_INL __m128i reduce(const struct acc *a)
{
    const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ull, 1);
    __m128i lo = _mm_xor_si128(a->lo, _mm_slli_si128(a->mid, 8));
    __m128i hi = _mm_xor_si128(a->hi, _mm_srli_si128(a->mid, 8));

    lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x10));
    lo = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, poly, 0x10));
    return _mm_xor_si128(hi, lo);
}

GCM_INL __m128i gf_mul(__m128i a, __m128i b)
{
    struct acc s = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};

    acc_mul(&s, a, b);
    return reduce(&s);
}

/*
 * GHASH over m <= 4 blocks x[0..m), as on the wire, with one reduction:
 * Y = (Y ^ X0)H^m ^ X1 H^(m-1) ^ ... ^ X(m-1) H (the reduction is linear).
 * The loop runs to 4 whatever m is, so that x[] is indexed by constants
 * once unrolled and stays in registers.
 */
GCM_INL __m128i ghash_blocks(const struct srm_gcm *g, __m128i y, const __m128i *x, size_t m)
{
    struct acc s = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
    size_t i;

    for (i = 0; i < 4; i++) {
        if (i < m) {
            acc_mul(&s, _mm_xor_si128(y, bswap128(x[i])), hpow(g, m - i));
            y = _mm_setzero_si128();
        }
    }
    return reduce(&s);
}

/*
 * The r = 1..15 bytes at p, zero-padded to a block, read in pieces of 8, 4,
 * 2 and 1 bytes: no read past p + r, no stack buffer, no call.  The
 * branches depend on the length only, which is public.
 */
GCM_INL __m128i load_partial(const uint8_t *p, size_t r)
{
    const uint8_t *q = p + (r & 8);
    const size_t m = r & 7;
    uint64_t w = 0, lo, u64;
    uint32_t u32;
    uint16_t u16;

    if (m & 1) {
        w = q[m - 1];
    }
    if (m & 2) {
        memcpy(&u16, q + (m & 4), 2);
        w = (w << 16) | u16;
    }
    if (m & 4) {
        memcpy(&u32, q, 4);
        w = (w << 32) | u32;
    }
    if (r & 8) {
        memcpy(&u64, p, 8);
        lo = u64;
    } else {
        lo = w;
        w = 0;
    }
    return _mm_set_epi64x((long long)w, (long long)lo);
}

/* The first r = 1..15 bytes of x to p, the same way. */
GCM_INL void store_partial(uint8_t *p, __m128i x, size_t r)
{
    uint64_t w = (uint64_t)_mm_cvtsi128_si64(x);
    uint32_t u32;
    uint16_t u16;

    if (r & 8) {
        memcpy(p, &w, 8);
        p += 8;
        w = (uint64_t)_mm_extract_epi64(x, 1);
    }
    if (r & 4) {
        u32 = (uint32_t)w;
        memcpy(p, &u32, 4);
        p += 4;
        w >>= 32;
    }
    if (r & 2) {
        u16 = (uint16_t)w;
        memcpy(p, &u16, 2);
        p += 2;
        w >>= 16;
    }
    if (r & 1) {
        *p = (uint8_t)w;
    }
}

/* GHASH over p[0..n), zero-padded to a whole block: four blocks per reduction. */
GCM_INL __m128i ghash_bytes(const struct srm_gcm *g, __m128i y, const uint8_t *p, size_t n)
{
    __m128i x[4];
    size_t i, f;

    while (n >= 64) {
        for (i = 0; i < 4; i++) {
            x[i] = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
        }
        y = ghash_blocks(g, y, x, 4);
        p += 64;
        n -= 64;
    }
    if (n > 0) {
        /* 1..3 blocks and a partial one, or 1..3 whole blocks: one reduction. */
        f = n / 16;
        for (i = 0; i < 4; i++) {
            if (i < f) {
                x[i] = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
            } else if (i == f && n % 16 != 0) {
                x[i] = load_partial(p + 16 * i, n % 16);
            }
        }
        y = ghash_blocks(g, y, x, f + (n % 16 != 0));
    }
    return y;
}

/* Counter block inc32^k(J0), from the byte-reversed J0 (its counter in lane 0). */
GCM_INL __m128i ctr_block(__m128i j0_rev, uint32_t k)
{
    return bswap128(_mm_add_epi32(j0_rev, _mm_set_epi32(0, 0, 0, (int)k)));
}

/*
 * out = in ^ keystream over whole 64-byte pieces (n a multiple of 64),
 * counter blocks inc32^k(J0), inc32^(k+1)(J0), ...; with `mac` set, GHASH
 * over out (sealing), else the caller hashed `in` first.  Eight blocks per
 * AES pass, then at most one pass of four.  The ciphertext is hashed after
 * each pass; the CPU overlaps that GHASH with the AES of the next pass, as
 * they depend on nothing in common.
 */
/* One AES pass over nb (8 or 4, a constant where inlined) whole blocks: out = in ^ keystream. */
GCM_INL void ctr_pass(const struct srm_gcm *g, __m128i *c, const uint8_t *in, uint8_t *out, int nb)
{
    const __m128i one = _mm_set_epi32(0, 0, 0, 1);
    __m128i x[8];
    int i;

    for (i = 0; i < nb; i++) {
        x[i] = bswap128(*c);
        *c = _mm_add_epi32(*c, one);
    }
    aes_blocks(g, x, nb);
    for (i = 0; i < nb; i++) {
        x[i] = _mm_xor_si128(x[i],
                             _mm_loadu_si128((const __m128i *)(const void *)(in + 16 * (size_t)i)));
        _mm_storeu_si128((__m128i *)(void *)(out + 16 * (size_t)i), x[i]);
    }
}

GCM_INL __m128i ctr_bulk(const struct srm_gcm *g, __m128i j0_rev, uint32_t k, const uint8_t *in,
                         size_t n, uint8_t *out, __m128i y, int mac)
{
    /* the next counter, byte-reversed */
    __m128i c = _mm_add_epi32(j0_rev, _mm_set_epi32(0, 0, 0, (int)k));

    while (n >= 128) {
        ctr_pass(g, &c, in, out, 8);
        if (mac) {
            y = ghash_bytes(g, y, out, 128);
        }
        in += 128;
        out += 128;
        n -= 128;
    }
    if (n >= 64) {
        ctr_pass(g, &c, in, out, 4);
        if (mac) {
            y = ghash_bytes(g, y, out, 64);
        }
    }
    return y;
}

/*
 * The same for the last n = 1..63 bytes of a record (f = 0..3 whole blocks,
 * then r = 0..15 bytes), counter blocks from inc32^k(J0), in one AES pass of
 * four blocks, or of one if n <= 16.  seal and open run it before
 * ctr_bulk: a pass this short is all latency (each AES round waits for the
 * one before), and first it overlaps with the AAD's GHASH or ctr_bulk's
 * passes instead of adding its latency at the end.  No GHASH here: seal
 * hashes this ciphertext after ctr_bulk's, in order.  The keystream goes to
 * no buffer (the partial block is read and written in pieces), so there is
 * no OPENSSL_cleanse per record (register spills aside, as anywhere here).
 */
GCM_INL void ctr_tail(const struct srm_gcm *g, __m128i j0_rev, uint32_t k, const uint8_t *in,
                      size_t n, uint8_t *out)
{
    __m128i x[4];
    const size_t f = n / 16, r = n % 16;
    size_t i;

    if (n > 16) {
        for (i = 0; i < 4; i++) {
            x[i] = ctr_block(j0_rev, k + (uint32_t)i);
        }
        aes_blocks(g, x, 4);
    } else {
        x[0] = aes_block(g, ctr_block(j0_rev, k));
    }
    for (i = 0; i < 4; i++) { /* unrolled: x[] stays in registers */
        if (i < f) {
            x[i] = _mm_xor_si128(
                x[i], _mm_loadu_si128((const __m128i *)(const void *)(in + 16 * (size_t)i)));
            _mm_storeu_si128((__m128i *)(void *)(out + 16 * (size_t)i), x[i]);
        } else if (i == f && r != 0) {
            store_partial(out + 16 * i, _mm_xor_si128(x[i], load_partial(in + 16 * i, r)), r);
        }
    }
}

/* ctr_tail over the last n % 64 bytes, then ctr_bulk over the rest; GHASH over ct if mac. */
GCM_INL __m128i ctr_xor(const struct srm_gcm *g, __m128i j0_rev, const uint8_t *in, size_t n,
                        uint8_t *out, __m128i y, int mac)
{
    const size_t bulk = n - n % 64;
    /* n <= SRM_GCM_MAX_LEN: the block count fits the 32-bit counter. */
    const uint32_t k_tail = 1u + (uint32_t)(bulk / 16);

    if (n > bulk) {
        ctr_tail(g, j0_rev, k_tail, in + bulk, n - bulk, out + bulk);
    }
    y = ctr_bulk(g, j0_rev, 1, in, bulk, out, y, mac);
    if (mac && n > bulk) {
        y = ghash_bytes(g, y, out + bulk, n - bulk);
    }
    return y;
}

/* The tag: AES_K(J0) ^ GHASH(... || [len(A)]_64 || [len(C)]_64), given AES_K(J0). */
GCM_INL __m128i finish(const struct srm_gcm *g, __m128i ek_j0, __m128i y, size_t aadlen, size_t n)
{
    /* [len(A)]_64 || [len(C)]_64 in bits, byte-reversed: len(C) in the low half. */
    const uint64_t abits = (uint64_t)aadlen * 8u, cbits = (uint64_t)n * 8u;
    __m128i lens = _mm_set_epi64x((long long)abits, (long long)cbits);

    y = gf_mul(_mm_xor_si128(y, lens), hpow(g, 1));
    return _mm_xor_si128(ek_j0, bswap128(y));
}

/* H (byte-reversed) times x^-1: shifted left one bit, the carry folded back. */
GCM_INL __m128i twist(__m128i h)
{
    const __m128i poly = _mm_set_epi64x((long long)0xc200000000000000ull, 1);
    __m128i carry = _mm_srai_epi32(_mm_shuffle_epi32(h, 0xff), 31); /* all ones if bit 127 */
    __m128i sh = _mm_or_si128(_mm_slli_epi64(h, 1), _mm_slli_si128(_mm_srli_epi64(h, 63), 8));

    return _mm_xor_si128(sh, _mm_and_si128(carry, poly));
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
    for (i = 0; i < 15; i++) {
        _mm_storeu_si128((__m128i *)(void *)g->rk[i], rk[i]);
    }
    h[0] = twist(bswap128(aes_block(g, _mm_setzero_si128())));
    for (i = 1; i < 4; i++) {
        h[i] = gf_mul(h[i - 1], h[0]);
    }
    for (i = 0; i < 4; i++) {
        _mm_storeu_si128((__m128i *)(void *)g->h[i], h[i]);
    }
    return 0;
}

GCM_INL __m128i load_j0(const uint8_t nonce[SRM_GCM_NONCE_LEN])
{
    uint64_t lo;
    uint32_t hi;

    memcpy(&lo, nonce, 8);
    memcpy(&hi, nonce + 8, 4);
    /* nonce || 00 00 00 01, as the bytes lie in memory (little-endian lanes). */
    return _mm_set_epi64x((long long)(((uint64_t)1 << 56) | hi), (long long)lo);
}

GCM_FN int srm_gcm_seal(const struct srm_gcm *g, const uint8_t nonce[SRM_GCM_NONCE_LEN],
                        const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t n, uint8_t *ct,
                        uint8_t tag[SRM_GCM_TAG_LEN])
{
    __m128i j0, ek_j0, y;

    if (g == NULL || nonce == NULL || tag == NULL || (aad == NULL && aadlen != 0) ||
        ((pt == NULL || ct == NULL) && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((uint64_t)n > SRM_GCM_MAX_LEN || (uint64_t)aadlen > SRM_GCM_MAX_LEN) {
        return SRM_ERR_TOO_LARGE;
    }
    j0 = load_j0(nonce);
    /* First, so that its AES runs while the AAD is hashed, not after the last block. */
    ek_j0 = aes_block(g, j0);
    y = ghash_bytes(g, _mm_setzero_si128(), aad, aadlen);
    y = ctr_xor(g, bswap128(j0), pt, n, ct, y, 1);
    _mm_storeu_si128((__m128i *)(void *)tag, finish(g, ek_j0, y, aadlen, n));
    return 0;
}

GCM_FN int srm_gcm_open(const struct srm_gcm *g, const uint8_t nonce[SRM_GCM_NONCE_LEN],
                        const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t n,
                        const uint8_t tag[SRM_GCM_TAG_LEN], uint8_t *pt)
{
    __m128i j0, ek_j0, y;
    uint8_t want[SRM_GCM_TAG_LEN];
    int ok;

    if (g == NULL || nonce == NULL || tag == NULL || (aad == NULL && aadlen != 0) ||
        ((pt == NULL || ct == NULL) && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((uint64_t)n > SRM_GCM_MAX_LEN || (uint64_t)aadlen > SRM_GCM_MAX_LEN) {
        return SRM_ERR_TOO_LARGE;
    }
    j0 = load_j0(nonce);
    ek_j0 = aes_block(g, j0);
    y = ghash_bytes(g, _mm_setzero_si128(), aad, aadlen);
    y = ghash_bytes(g, y, ct, n);
    _mm_storeu_si128((__m128i *)(void *)want, finish(g, ek_j0, y, aadlen, n));
    ok = CRYPTO_memcmp(want, tag, sizeof(want)) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    if (!ok) {
        return SRM_ERR_BAD_MAC;
    }
    /*
     * Two passes, GHASH then CTR, so that no plaintext is written before the
     * tag matched.  (Decrypting into a stack buffer alongside the GHASH and
     * copying it out after the check measured no faster for 16..300 bytes:
     * the CPU predicts the check and starts this pass's AES early anyway.)
     */
    (void)ctr_xor(g, bswap128(j0), ct, n, pt, _mm_setzero_si128(), 0);
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
