/* SPDX-License-Identifier: MIT */
/*
 * test_gcm.c: our AES-256-GCM (src/lib/gcm.c, include/srm/gcm.h) against
 * the AES-256 test cases of the GCM specification (McGrew and Viega, "The
 * Galois/Counter Mode of Operation", test cases 13 to 16) and against
 * OpenSSL's EVP_aes_256_gcm on pseudo-random keys, nonces, AAD and
 * plaintexts: every length 0..300, random ones up to 70000, nonces ending
 * in 0xff bytes, in place and not, at unaligned addresses.  Forged records
 * (any bit of tag, ciphertext, AAD or nonce changed, truncated, extended)
 * must be refused with SRM_ERR_BAD_MAC and leave the output untouched.
 * Without AES-NI and PCLMULQDQ every test is reported as skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "srm/err.h"
#include "srm/gcm.h"

#define MAX_PT    70000u
#define MAX_AAD   2048u
#define GUARD     32u   /* bytes past every output that must stay untouched */
#define PATTERN   0xa5u /* what output buffers are filled with first */
#define BIG_BLOCK ((size_t)65536u * 16u)

struct kat {
    const char *key, *iv, *aad, *pt, *ct, *tag;
};

/*
 * GCM spec, appendix B, test cases 13-16 (AES-256, 96-bit IV).  Each is
 * also checked against EVP below.
 */
static const char tc15_pt[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                              "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
static const char tc15_ct[] = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                              "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
static const char tc16_pt[] = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                              "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char tc16_ct[] = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                              "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
#define ZERO_KEY "0000000000000000000000000000000000000000000000000000000000000000"
#define SPEC_KEY "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define ZERO_IV  "000000000000000000000000"
#define SPEC_IV  "cafebabefacedbaddecaf888"
#define TC16_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"

static const struct kat kats[] = {
    /* 13: empty plaintext, no AAD */
    {ZERO_KEY, ZERO_IV, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    /* 14: one zero block */
    {ZERO_KEY, ZERO_IV, "", "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    /* 15: four blocks, no AAD */
    {SPEC_KEY, SPEC_IV, "", tc15_pt, tc15_ct, "b094dac5d93471bdec1a502270e3cc6c"},
    /* 16: 60 bytes, 20 bytes of AAD */
    {SPEC_KEY, SPEC_IV, TC16_AAD, tc16_pt, tc16_ct, "76fc6ece0f4e1768cddf8853bb2d551b"},
};

static int need_gcm(void);
static size_t unhex(const char *hex, uint8_t *out, size_t cap);
static uint64_t xs_next(uint64_t *s);
static void xs_fill(uint64_t *s, uint8_t *p, size_t n);
static void evp_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
                     const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[16]);
static int guard_ok(const uint8_t *p, size_t n);
static void check_one(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
                      size_t aadlen, const uint8_t *pt, size_t n, size_t align);
static void expect_forged(const struct srm_gcm *g, const uint8_t *nonce, const uint8_t *aad,
                          size_t aadlen, const uint8_t *ct, size_t n, const uint8_t *tag,
                          const char *what, size_t idx);

/* Every test starts here: without the instructions there is nothing to test. */
static int need_gcm(void)
{
    if (!srm_gcm_supported()) {
        print_message("skipped: this CPU lacks AES-NI, PCLMULQDQ, SSSE3 or SSE4.1, so "
                      "srm_gcm_supported() is 0 and link.c uses EVP\n");
        return 0;
    }
    return 1;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t len = strlen(hex), i;
    unsigned int v;

    assert_true(len % 2 == 0 && len / 2 <= cap);
    for (i = 0; i < len / 2; i++) {
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return len / 2;
}

static uint64_t xs_next(uint64_t *s)
{
    /* xorshift64: deterministic, so a failure is reproducible */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void xs_fill(uint64_t *s, uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = (uint8_t)xs_next(s);
    }
}

/* The reference: EVP_aes_256_gcm, a fresh context each time. */
static void evp_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
                     const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;

    assert_non_null(ctx);
    assert_true(n <= INT32_MAX && aadlen <= INT32_MAX);
    assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL), 1);
    assert_int_equal(EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce), 1);
    if (aadlen > 0) {
        assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aadlen), 1);
    }
    outl = 0;
    if (n > 0) {
        assert_int_equal(EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)n), 1);
    }
    assert_int_equal(EVP_EncryptFinal_ex(ctx, ct + outl, &finl), 1);
    assert_int_equal((size_t)outl + (size_t)finl, n);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag), 1);
    EVP_CIPHER_CTX_free(ctx);
}

/* 1 if the GUARD bytes after p[n] still hold PATTERN. */
static int guard_ok(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = n; i < n + GUARD; i++) {
        if (p[i] != PATTERN) {
            return 0;
        }
    }
    return 1;
}

/*
 * One record both ways: seal must equal EVP byte for byte, open must give
 * pt back, both out of place (outputs at offset align) and in place, and
 * nothing past n may be written.  On failure the case is printed.
 */
static void check_one(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
                      size_t aadlen, const uint8_t *pt, size_t n, size_t align)
{
    static const char *const what[] = {
        "",
        "seal, not in place",
        "open, not in place",
        "seal in place",
        "open in place",
        "struct srm_gcm changed by seal/open",
    };
    struct srm_gcm g, gcopy;
    uint8_t ref_tag[16], tag[16];
    uint8_t *ref = malloc(n + 1), *buf = malloc(n + GUARD + 16), *out = malloc(n + GUARD + 16);
    uint8_t *ct, *io;
    size_t i;
    int bad = 0;

    assert_true(ref != NULL && buf != NULL && out != NULL);
    ct = out + align;
    io = buf + align;
    evp_seal(key, nonce, aad, aadlen, pt, n, ref, ref_tag);
    assert_int_equal(srm_gcm_init(&g, key), 0);
    memcpy(&gcopy, &g, sizeof(g));

    /* Out of place (NULL where the header allows it). */
    memset(out, PATTERN, n + GUARD + 16);
    if (srm_gcm_seal(&g, nonce, aadlen > 0 ? aad : NULL, aadlen, n > 0 ? pt : NULL, n,
                     n > 0 ? ct : NULL, tag) != 0 ||
        memcmp(ct, ref, n) != 0 || memcmp(tag, ref_tag, 16) != 0 || !guard_ok(ct, n)) {
        bad = 1;
    }
    if (!bad) {
        memset(buf, PATTERN, n + GUARD + 16);
        if (srm_gcm_open(&g, nonce, aad, aadlen, ct, n, tag, io) != 0 || memcmp(io, pt, n) != 0 ||
            !guard_ok(io, n)) {
            bad = 2;
        }
    }
    /* In place: ct == pt, then pt == ct. */
    if (!bad) {
        memset(buf, PATTERN, n + GUARD + 16);
        memcpy(io, pt, n);
        if (srm_gcm_seal(&g, nonce, aad, aadlen, io, n, io, tag) != 0 || memcmp(io, ref, n) != 0 ||
            memcmp(tag, ref_tag, 16) != 0 || !guard_ok(io, n)) {
            bad = 3;
        } else if (srm_gcm_open(&g, nonce, aad, aadlen, io, n, tag, io) != 0 ||
                   memcmp(io, pt, n) != 0 || !guard_ok(io, n)) {
            bad = 4;
        }
    }
    /* The expanded key is only read. */
    if (!bad && memcmp(&g, &gcopy, sizeof(g)) != 0) {
        bad = 5;
    }
    if (bad) {
        char kh[65], nh[25];

        for (i = 0; i < 32; i++) {
            snprintf(kh + 2 * i, 3, "%02x", key[i]);
        }
        for (i = 0; i < 12; i++) {
            snprintf(nh + 2 * i, 3, "%02x", nonce[i]);
        }
        fail_msg("gcm mismatch (%s): key %s nonce %s aadlen %zu n %zu align %zu", what[bad], kh, nh,
                 aadlen, n, align);
    }
    srm_gcm_wipe(&g);
    srm_gcm_wipe(&gcopy);
    free(ref);
    free(buf);
    free(out);
}

/* open of a forged record: SRM_ERR_BAD_MAC and the output untouched, also in place. */
static void expect_forged(const struct srm_gcm *g, const uint8_t *nonce, const uint8_t *aad,
                          size_t aadlen, const uint8_t *ct, size_t n, const uint8_t *tag,
                          const char *what, size_t idx)
{
    uint8_t *out = malloc(n + GUARD), *inplace = malloc(n + 1);
    size_t i;
    int r;

    assert_true(out != NULL && inplace != NULL);
    memset(out, PATTERN, n + GUARD);
    r = srm_gcm_open(g, nonce, aad, aadlen, ct, n, tag, out);
    for (i = 0; i < n + GUARD; i++) {
        if (out[i] != PATTERN) {
            fail_msg("forgery (%s, index %zu, aadlen %zu, n %zu): output byte %zu written", what,
                     idx, aadlen, n, i);
        }
    }
    if (r != SRM_ERR_BAD_MAC) {
        fail_msg("forgery (%s, index %zu, aadlen %zu, n %zu): open returned %d", what, idx, aadlen,
                 n, r);
    }
    if (n > 0) {
        memcpy(inplace, ct, n);
        r = srm_gcm_open(g, nonce, aad, aadlen, inplace, n, tag, inplace);
        if (r != SRM_ERR_BAD_MAC || memcmp(inplace, ct, n) != 0) {
            fail_msg("forgery in place (%s, index %zu, aadlen %zu, n %zu): open returned %d or "
                     "changed the buffer",
                     what, idx, aadlen, n, r);
        }
    }
    free(out);
    free(inplace);
}

static void test_spec_vectors(void **state)
{
    uint8_t key[32], iv[12], aad[32], pt[64], ct[64], tag[16], got[64], gtag[16];
    size_t i, kl, ivl, al, n, cl;
    struct srm_gcm g;

    (void)state;
    if (!need_gcm()) {
        skip();
    }
    for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
        kl = unhex(kats[i].key, key, sizeof(key));
        ivl = unhex(kats[i].iv, iv, sizeof(iv));
        al = unhex(kats[i].aad, aad, sizeof(aad));
        n = unhex(kats[i].pt, pt, sizeof(pt));
        cl = unhex(kats[i].ct, ct, sizeof(ct));
        assert_int_equal(unhex(kats[i].tag, tag, sizeof(tag)), 16);
        assert_true(kl == 32 && ivl == 12 && cl == n);
        /* The published vector is what EVP computes ... */
        evp_seal(key, iv, aad, al, pt, n, got, gtag);
        assert_memory_equal(got, ct, n);
        assert_memory_equal(gtag, tag, 16);
        /* ... and what we compute. */
        assert_int_equal(srm_gcm_init(&g, key), 0);
        memset(got, 0, sizeof(got));
        assert_int_equal(srm_gcm_seal(&g, iv, aad, al, pt, n, got, gtag), 0);
        assert_memory_equal(got, ct, n);
        assert_memory_equal(gtag, tag, 16);
        memset(got, 0, sizeof(got));
        assert_int_equal(srm_gcm_open(&g, iv, aad, al, ct, n, tag, got), 0);
        assert_memory_equal(got, pt, n);
        srm_gcm_wipe(&g);
        check_one(key, iv, aad, al, pt, n, i % 16);
    }
}

/* Every length 0..300, then 300 random lengths up to 70000; AAD 0..80 with the block edges. */
static void test_vs_evp(void **state)
{
    static const size_t aad_edges[] = {0, 15, 16, 17, 32, 33, 64, 1, 31, 48, 63, 65, 79, 80};
    uint64_t rng = 0x243f6a8885a308d3ull;
    uint8_t key[32], nonce[12];
    uint8_t *aad = malloc(MAX_AAD), *pt = malloc(MAX_PT + 1);
    size_t i, n, aadlen;

    (void)state;
    assert_true(aad != NULL && pt != NULL);
    if (!need_gcm()) {
        free(aad);
        free(pt);
        skip();
    }
    for (i = 0; i < 601; i++) {
        n = i <= 300 ? i : (size_t)(xs_next(&rng) % (MAX_PT + 1));
        if (i % 3 == 0) {
            aadlen = aad_edges[(i / 3) % (sizeof(aad_edges) / sizeof(aad_edges[0]))];
        } else if (i % 97 == 5) {
            aadlen = (size_t)(xs_next(&rng) % MAX_AAD); /* now and then a long one */
        } else {
            aadlen = (size_t)(xs_next(&rng) % 81u);
        }
        xs_fill(&rng, key, sizeof(key));
        xs_fill(&rng, nonce, sizeof(nonce));
        xs_fill(&rng, aad, aadlen);
        xs_fill(&rng, pt, n);
        check_one(key, nonce, aad, aadlen, pt, n, (size_t)(xs_next(&rng) % 16u));
    }
    free(aad);
    free(pt);
}

/* Several records under one expanded key (the relay's case), interleaved with another key. */
static void test_key_reuse(void **state)
{
    uint64_t rng = 0x13198a2e03707344ull;
    uint8_t k1[32], k2[32], nonce[12], aad[40], pt[600], ct[600], ref[600], tag[16], rtag[16];
    struct srm_gcm g1, g2;
    size_t r, n;

    (void)state;
    if (!need_gcm()) {
        skip();
    }
    xs_fill(&rng, k1, sizeof(k1));
    xs_fill(&rng, k2, sizeof(k2));
    assert_int_equal(srm_gcm_init(&g1, k1), 0);
    assert_int_equal(srm_gcm_init(&g2, k2), 0);
    for (r = 0; r < 200; r++) {
        n = (size_t)(xs_next(&rng) % sizeof(pt));
        xs_fill(&rng, nonce, sizeof(nonce));
        xs_fill(&rng, aad, sizeof(aad));
        xs_fill(&rng, pt, n);
        evp_seal(r % 2 ? k2 : k1, nonce, aad, sizeof(aad), pt, n, ref, rtag);
        assert_int_equal(srm_gcm_seal(r % 2 ? &g2 : &g1, nonce, aad, sizeof(aad), pt, n, ct, tag),
                         0);
        assert_memory_equal(ct, ref, n);
        assert_memory_equal(tag, rtag, 16);
        /* The other key must not open it. */
        expect_forged(r % 2 ? &g1 : &g2, nonce, aad, sizeof(aad), ct, n, tag, "wrong key", r);
    }
    srm_gcm_wipe(&g1);
    srm_gcm_wipe(&g2);
}

/*
 * Nonces ending in 0xff bytes: the 32-bit block counter (1 for the tag,
 * then 2, 3, ...) must never carry into the nonce.  Lengths cross the 4-block
 * (64-byte) steps, the counter's low byte (block 255, 4 KiB) and its second
 * byte (block 65535, 1 MiB).
 */
static void test_counter_edges(void **state)
{
    static const size_t lens[] = {
        1,    15,   16,   17,   31,   32,   33,   47,   48,   49,   63,    64,   65,
        79,   80,   81,   95,   96,   97,   111,  112,  113,  127,  128,   129,  191,
        192,  193,  255,  256,  257,  4047, 4048, 4063, 4064, 4065, 4079,  4080, 4081,
        4095, 4096, 4097, 4111, 4112, 4113, 4160, 8191, 8192, 8193, 12345,
    };
    static const size_t big_lens[] = {BIG_BLOCK - 48, BIG_BLOCK - 17, BIG_BLOCK, BIG_BLOCK + 33,
                                      BIG_BLOCK + 100};
    uint64_t rng = 0xa4093822299f31d0ull;
    uint8_t key[32], nonce[12], aad[33];
    uint8_t *pt = malloc(BIG_BLOCK + 101);
    size_t v, i, aadlen;

    (void)state;
    assert_non_null(pt);
    if (!need_gcm()) {
        free(pt);
        skip();
    }
    xs_fill(&rng, pt, BIG_BLOCK + 101);
    for (v = 0; v < 6; v++) {
        xs_fill(&rng, key, sizeof(key));
        xs_fill(&rng, nonce, sizeof(nonce));
        xs_fill(&rng, aad, sizeof(aad));
        switch (v) {
        case 0: /* all ones */
            memset(nonce, 0xff, sizeof(nonce));
            break;
        case 1: /* the last byte */
            nonce[11] = 0xff;
            break;
        case 2: /* the last four */
            memset(nonce + 8, 0xff, 4);
            break;
        case 3: /* the last eight */
            memset(nonce + 4, 0xff, 8);
            break;
        case 4: /* 0xff then a zero byte: a carry would show as a change there */
            memset(nonce + 8, 0xff, 4);
            nonce[7] = 0;
            break;
        default: /* all zero */
            memset(nonce, 0, sizeof(nonce));
            break;
        }
        for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            aadlen = i % 3 == 0 ? 0 : (i % 3 == 1 ? 16 : 33);
            check_one(key, nonce, aad, aadlen, pt, lens[i], (i + v) % 16);
        }
        if (v < 2) {
            for (i = 0; i < sizeof(big_lens) / sizeof(big_lens[0]); i++) {
                check_one(key, nonce, aad, i % 2 ? 17 : 0, pt, big_lens[i], i);
            }
        }
    }
    free(pt);
}

/* Any change to tag, ciphertext, AAD, nonce or length is refused, with nothing written. */
static void test_forgery(void **state)
{
    static const size_t ns[] = {0, 1, 15, 16, 17, 64, 100};
    static const size_t aads[] = {0, 20, 17, 0, 20, 64, 5};
    uint64_t rng = 0x082efa98ec4e6c89ull;
    uint8_t key[32], nonce[12], n2[12], aad[65], ct[101], tag[16], t2[16], c2[101], a2[65];
    struct srm_gcm g;
    size_t r, b, n, al;

    (void)state;
    if (!need_gcm()) {
        skip();
    }
    for (r = 0; r < sizeof(ns) / sizeof(ns[0]); r++) {
        uint8_t pt[101];

        n = ns[r];
        al = aads[r];
        xs_fill(&rng, key, sizeof(key));
        xs_fill(&rng, nonce, sizeof(nonce));
        xs_fill(&rng, aad, sizeof(aad));
        xs_fill(&rng, pt, sizeof(pt));
        check_one(key, nonce, aad, al, pt, n, r);
        assert_int_equal(srm_gcm_init(&g, key), 0);
        assert_int_equal(srm_gcm_seal(&g, nonce, aad, al, pt, n, ct, tag), 0);

        for (b = 0; b < 128; b++) {
            memcpy(t2, tag, 16);
            t2[b / 8] ^= (uint8_t)(1u << (b % 8));
            expect_forged(&g, nonce, aad, al, ct, n, t2, "tag bit", b);
        }
        for (b = 0; b < n * 8; b++) {
            memcpy(c2, ct, n);
            c2[b / 8] ^= (uint8_t)(1u << (b % 8));
            expect_forged(&g, nonce, aad, al, c2, n, tag, "ciphertext bit", b);
        }
        for (b = 0; b < al * 8; b++) {
            memcpy(a2, aad, al);
            a2[b / 8] ^= (uint8_t)(1u << (b % 8));
            expect_forged(&g, nonce, a2, al, ct, n, tag, "aad bit", b);
        }
        for (b = 0; b < 96; b++) {
            memcpy(n2, nonce, 12);
            n2[b / 8] ^= (uint8_t)(1u << (b % 8));
            expect_forged(&g, n2, aad, al, ct, n, tag, "nonce bit", b);
        }
        /* Truncated and extended ciphertext and AAD; all-zero tag. */
        for (b = 1; b <= n && b <= 17; b++) {
            expect_forged(&g, nonce, aad, al, ct, n - b, tag, "ciphertext truncated by", b);
        }
        for (b = 1; b <= al && b <= 17; b++) {
            expect_forged(&g, nonce, aad, al - b, ct, n, tag, "aad truncated by", b);
        }
        memcpy(c2, ct, n);
        c2[n] = 0;
        expect_forged(&g, nonce, aad, al, c2, n + 1, tag, "ciphertext extended by", 1);
        memcpy(a2, aad, al);
        a2[al] = 0;
        expect_forged(&g, nonce, a2, al + 1, ct, n, tag, "aad extended by", 1);
        /* AAD and ciphertext swapped (same total bytes, different split). */
        if (n > 0 && al == 0) {
            expect_forged(&g, nonce, ct, n, ct, 0, tag, "ciphertext moved to aad", n);
        }
        memset(t2, 0, 16);
        expect_forged(&g, nonce, aad, al, ct, n, t2, "zero tag", 0);
        /* The genuine record still opens after all that. */
        memset(c2, 0, sizeof(c2));
        assert_int_equal(srm_gcm_open(&g, nonce, aad, al, ct, n, tag, c2), 0);
        assert_memory_equal(c2, pt, n);
        srm_gcm_wipe(&g);
    }
}

static void test_args(void **state)
{
    uint8_t key[32] = {1}, nonce[12] = {2}, aad[16] = {3}, buf[32] = {4}, out[32], tag[16] = {0};
    const size_t too_big = (size_t)SRM_GCM_MAX_LEN + 1u;
    struct srm_gcm g;
    const uint8_t *z;
    size_t i;

    (void)state;
    if (!srm_gcm_supported()) {
        /* Without the instructions, init refuses instead of leaving a useless key. */
        assert_int_equal(srm_gcm_init(&g, key), SRM_ERR_BAD_STATE);
    }
    if (!need_gcm()) {
        skip();
    }
    assert_int_equal(srm_gcm_init(NULL, key), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_init(&g, NULL), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_init(&g, key), 0);

    /* seal */
    assert_int_equal(srm_gcm_seal(NULL, nonce, aad, 16, buf, 32, out, tag), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_seal(&g, NULL, aad, 16, buf, 32, out, tag), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_seal(&g, nonce, NULL, 16, buf, 32, out, tag), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_seal(&g, nonce, aad, 16, NULL, 32, out, tag), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_seal(&g, nonce, aad, 16, buf, 32, NULL, tag), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_seal(&g, nonce, aad, 16, buf, 32, out, NULL), SRM_ERR_INVALID_ARG);
    /* NULL is fine where the length is 0. */
    assert_int_equal(srm_gcm_seal(&g, nonce, NULL, 0, NULL, 0, NULL, tag), 0);

    /* open; the output must stay as it was */
    memset(out, PATTERN, sizeof(out));
    assert_int_equal(srm_gcm_open(NULL, nonce, aad, 16, buf, 32, tag, out), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_open(&g, NULL, aad, 16, buf, 32, tag, out), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_open(&g, nonce, NULL, 16, buf, 32, tag, out), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_open(&g, nonce, aad, 16, NULL, 32, tag, out), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_open(&g, nonce, aad, 16, buf, 32, NULL, out), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_gcm_open(&g, nonce, aad, 16, buf, 32, tag, NULL), SRM_ERR_INVALID_ARG);
    for (i = 0; i < sizeof(out); i++) {
        assert_int_equal(out[i], PATTERN);
    }
    /* The empty record sealed above (tag) opens with NULL pointers. */
    assert_int_equal(srm_gcm_open(&g, nonce, NULL, 0, NULL, 0, tag, NULL), 0);

    /*
     * Past SRM_GCM_MAX_LEN: refused before any byte is read or written (the
     * buffers are 32 bytes, so any access would be out of bounds under ASan).
     */
    assert_int_equal(srm_gcm_seal(&g, nonce, aad, 16, buf, too_big, out, tag), SRM_ERR_TOO_LARGE);
    assert_int_equal(srm_gcm_seal(&g, nonce, aad, 16, buf, SIZE_MAX, out, tag), SRM_ERR_TOO_LARGE);
    assert_int_equal(srm_gcm_seal(&g, nonce, aad, 16, buf, too_big, buf, tag), SRM_ERR_TOO_LARGE);
    memset(out, PATTERN, sizeof(out));
    assert_int_equal(srm_gcm_open(&g, nonce, aad, 16, buf, too_big, tag, out), SRM_ERR_TOO_LARGE);
    assert_int_equal(srm_gcm_open(&g, nonce, aad, 16, buf, SIZE_MAX, tag, out), SRM_ERR_TOO_LARGE);
    for (i = 0; i < sizeof(out); i++) {
        assert_int_equal(out[i], PATTERN);
    }

    /* Wiping leaves no key byte behind. */
    srm_gcm_wipe(&g);
    z = (const uint8_t *)&g;
    for (i = 0; i < sizeof(g); i++) {
        assert_int_equal(z[i], 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_vectors), cmocka_unit_test(test_vs_evp),
        cmocka_unit_test(test_key_reuse),    cmocka_unit_test(test_counter_edges),
        cmocka_unit_test(test_forgery),      cmocka_unit_test(test_args),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
