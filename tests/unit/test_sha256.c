/* SPDX-License-Identifier: MIT */
/*
 * test_sha256.c: our SHA-256 and HMAC-SHA256 (src/lib/sha256.c) against the
 * FIPS 180-4 / NIST examples, RFC 4231, and OpenSSL's EVP_Digest and
 * EVP_MAC on pseudo-random inputs, for every block function this CPU runs
 * (the portable one always; SHA extensions when present, else that half is
 * reported as skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "srm/err.h"
#include "srm/sha256.h"

#define MAX_MSG 10000u
#define MAX_KEY 200u

struct kat {
    const char *msg; /* NULL: one million 'a' */
    const char *hex;
};

struct hmac_kat {
    uint8_t keybyte; /* 0: key is 0x01, 0x02, ... */
    size_t keylen;
    const char *msg; /* NULL: msglen bytes of msgbyte */
    uint8_t msgbyte;
    size_t msglen;
    const char *hex;
};

static const struct kat kats[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
     "qrs"
     "mnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {NULL, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
};

/* RFC 4231 test cases 1, 2, 3, 4, 6 and 7 (5 is a truncated tag). */
static const struct hmac_kat hmac_kats[] = {
    {0x0b, 20, "Hi There", 0, 0,
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {'J', 0, "what do ya want for nothing?", 0, 0,
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {0xaa, 20, NULL, 0xdd, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {0, 25, NULL, 0xcd, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {0xaa, 131,
     "This is a test using a larger than block-size key and a larger than block-size data. The key "
     "needs to be hashed before being used by the HMAC algorithm.",
     0, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static size_t impls(enum srm_sha256_impl out[2]);
static void unhex(const char *hex, uint8_t *out, size_t n);
static uint64_t rnd(uint64_t *s);
static void rnd_fill(uint64_t *s, uint8_t *p, size_t n);
static void ossl_sha256(const uint8_t *p, size_t n, uint8_t out[32]);
static void ossl_hmac(const uint8_t *key, size_t keylen, const uint8_t *p, size_t n,
                      uint8_t out[32]);
static void our_sha256_split(enum srm_sha256_impl impl, uint64_t *s, const uint8_t *p, size_t n,
                             uint8_t out[32]);

/* The block functions to test: portable always, SHA-NI if this CPU has it. */
static size_t impls(enum srm_sha256_impl out[2])
{
    size_t n = 0;

    out[n++] = SRM_SHA256_PORTABLE;
    if (srm_sha256_have_shani()) {
        out[n++] = SRM_SHA256_SHANI;
    } else {
        fprintf(stderr, "note: no SHA extensions on this CPU; SHA-NI half skipped\n");
    }
    return n;
}

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    size_t i;
    unsigned v;

    assert_int_equal(strlen(hex), 2 * n);
    for (i = 0; i < n; i++) {
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* xorshift64*: a fixed seed, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static void rnd_fill(uint64_t *s, uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = (uint8_t)(rnd(s) >> 56);
    }
}

static void ossl_sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
}

static void ossl_hmac(const uint8_t *key, size_t keylen, const uint8_t *p, size_t n,
                      uint8_t out[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    static const uint8_t zero = 0;
    size_t len = 0;

    assert_non_null(mac);
    ctx = EVP_MAC_CTX_new(mac);
    assert_non_null(ctx);
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    /* An empty key still needs a non-NULL pointer for EVP_MAC_init to set it. */
    assert_int_equal(EVP_MAC_init(ctx, keylen == 0 ? &zero : key, keylen, params), 1);
    assert_int_equal(EVP_MAC_update(ctx, p, n), 1);
    assert_int_equal(EVP_MAC_final(ctx, out, &len, 32), 1);
    assert_int_equal(len, 32);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

/* Our hash of p, fed in random pieces, some through srm_sha256_blocks. */
static void our_sha256_split(enum srm_sha256_impl impl, uint64_t *s, const uint8_t *p, size_t n,
                             uint8_t out[32])
{
    struct srm_sha256 st;
    size_t off = 0, take;

    assert_int_equal(srm_sha256_init_impl(&st, impl), 0);
    while (off < n) {
        take = (size_t)(rnd(s) % 300u);
        take = take < n - off ? take : n - off;
        if (take >= 64 && (rnd(s) & 1) != 0) {
            take -= take % 64;
            srm_sha256_blocks(&st, p + off, take / 64);
        } else {
            srm_sha256_update(&st, p + off, take);
        }
        off += take;
    }
    srm_sha256_final(&st, out);
}

static void test_nist_vectors(void **state)
{
    enum srm_sha256_impl im[2];
    size_t ni = impls(im), i, k, j;
    struct srm_sha256 st;
    uint8_t want[32], got[32], ossl[32];
    uint8_t *million;

    (void)state;
    million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    for (k = 0; k < ni; k++) {
        for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
            const uint8_t *msg = kats[i].msg != NULL ? (const uint8_t *)kats[i].msg : million;
            size_t n = kats[i].msg != NULL ? strlen(kats[i].msg) : 1000000;

            unhex(kats[i].hex, want, sizeof(want));
            /* In one piece ... */
            assert_int_equal(srm_sha256_init_impl(&st, im[k]), 0);
            srm_sha256_update(&st, msg, n);
            srm_sha256_final(&st, got);
            assert_memory_equal(got, want, 32);
            /* ... byte by byte for the short ones, and the vector itself checked against OpenSSL.
             */
            if (n < 1000) {
                assert_int_equal(srm_sha256_init_impl(&st, im[k]), 0);
                for (j = 0; j < n; j++) {
                    srm_sha256_update(&st, msg + j, 1);
                }
                srm_sha256_final(&st, got);
                assert_memory_equal(got, want, 32);
            }
            ossl_sha256(msg, n, ossl);
            assert_memory_equal(ossl, want, 32);
        }
    }
    free(million);
}

static void test_rfc4231(void **state)
{
    enum srm_sha256_impl im[2];
    size_t ni = impls(im), i, k, j;
    struct srm_hmac_key key;
    struct srm_hmac h;
    uint8_t keyb[131], msgb[50], want[32], got[32];

    (void)state;
    for (k = 0; k < ni; k++) {
        for (i = 0; i < sizeof(hmac_kats) / sizeof(hmac_kats[0]); i++) {
            const struct hmac_kat *t = &hmac_kats[i];
            const uint8_t *kp = keyb, *mp = msgb;
            size_t kl = t->keylen, ml = t->msglen;

            if (t->keybyte == 'J') {
                kp = (const uint8_t *)"Jefe";
                kl = 4;
            } else {
                for (j = 0; j < kl; j++) {
                    keyb[j] = t->keybyte != 0 ? t->keybyte : (uint8_t)(j + 1);
                }
            }
            if (t->msg != NULL) {
                mp = (const uint8_t *)t->msg;
                ml = strlen(t->msg);
            } else {
                memset(msgb, t->msgbyte, ml);
            }
            unhex(t->hex, want, sizeof(want));
            assert_int_equal(srm_hmac_key_init_impl(&key, kp, kl, im[k]), 0);
            srm_hmac_init(&h, &key);
            srm_hmac_update(&h, mp, ml);
            srm_hmac_final(&h, got);
            assert_memory_equal(got, want, 32);
            ossl_hmac(kp, kl, mp, ml, got);
            assert_memory_equal(got, want, 32);
            srm_hmac_key_wipe(&key);
        }
    }
}

/* Every length 0..300 (all padding boundaries) and 300 random ones up to 10000. */
static void test_sha256_vs_openssl(void **state)
{
    enum srm_sha256_impl im[2];
    size_t ni = impls(im), k, i, n;
    uint64_t s = 0x5eed5eed12345678ull;
    uint8_t *msg = malloc(MAX_MSG);
    uint8_t want[32], got[32];

    (void)state;
    assert_non_null(msg);
    for (i = 0; i < 601; i++) {
        n = i <= 300 ? i : (size_t)(rnd(&s) % (MAX_MSG + 1));
        rnd_fill(&s, msg, n);
        ossl_sha256(msg, n, want);
        for (k = 0; k < ni; k++) {
            our_sha256_split(im[k], &s, msg, n, got);
            assert_memory_equal(got, want, 32);
        }
    }
    free(msg);
}

/* Random keys of 0..200 bytes (both sides of the 64-byte block) and messages of 0..10000. */
static void test_hmac_vs_openssl(void **state)
{
    enum srm_sha256_impl im[2];
    size_t ni = impls(im), k, i, n, kl, off, take;
    uint64_t s = 0x0123456789abcdefull;
    uint8_t *msg = malloc(MAX_MSG);
    uint8_t key[MAX_KEY], want[32], got[32];
    struct srm_hmac_key hk;
    struct srm_hmac h;

    (void)state;
    assert_non_null(msg);
    for (i = 0; i < 400; i++) {
        kl = i <= MAX_KEY ? i : (size_t)(rnd(&s) % (MAX_KEY + 1));
        n = (size_t)(rnd(&s) % (MAX_MSG + 1));
        if (i % 4 == 0) {
            n %= 130;
        }
        rnd_fill(&s, key, kl);
        rnd_fill(&s, msg, n);
        ossl_hmac(key, kl, msg, n, want);
        for (k = 0; k < ni; k++) {
            assert_int_equal(srm_hmac_key_init_impl(&hk, key, kl, im[k]), 0);
            /* The same key state serves two HMACs: it is only read. */
            srm_hmac_init(&h, &hk);
            srm_hmac_update(&h, msg, n);
            srm_hmac_final(&h, got);
            assert_memory_equal(got, want, 32);
            srm_hmac_init(&h, &hk);
            for (off = 0; off < n; off += take) {
                take = (size_t)(rnd(&s) % 100u);
                take = take < n - off ? take : n - off;
                srm_hmac_update(&h, msg + off, take);
            }
            srm_hmac_final(&h, got);
            assert_memory_equal(got, want, 32);
            srm_hmac_key_wipe(&hk);
        }
    }
    free(msg);
}

/* srm_hmac_ctr and srm_hmac_ctr_xor against EVP_MAC block by block. */
static void test_ctr_vs_openssl(void **state)
{
    static const size_t lens[] = {0,  1,  31, 32,  33,  63,  64,   65,
                                  95, 96, 97, 127, 128, 129, 1000, 65536};
    enum srm_sha256_impl im[2];
    size_t ni = impls(im), k, i, j, n;
    uint64_t s = 0xfeedfacecafebeefull;
    uint8_t key[32], iv[16], blockmsg[20], want[32], got[32];
    uint8_t *pt = malloc(65536), *ks = malloc(65536), *ct = malloc(65536), *inplace = malloc(65536);
    struct srm_hmac_key hk;

    (void)state;
    assert_true(pt != NULL && ks != NULL && ct != NULL && inplace != NULL);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        n = lens[i];
        rnd_fill(&s, key, sizeof(key));
        rnd_fill(&s, iv, sizeof(iv));
        rnd_fill(&s, pt, n);
        /* Reference keystream: HMAC(key, iv || u32be(j)), first n bytes. */
        memcpy(blockmsg, iv, 16);
        for (j = 0; j * 32 < n; j++) {
            blockmsg[16] = (uint8_t)(j >> 24);
            blockmsg[17] = (uint8_t)(j >> 16);
            blockmsg[18] = (uint8_t)(j >> 8);
            blockmsg[19] = (uint8_t)j;
            ossl_hmac(key, sizeof(key), blockmsg, sizeof(blockmsg), want);
            memcpy(ks + j * 32, want, n - j * 32 < 32 ? n - j * 32 : 32);
        }
        for (k = 0; k < ni; k++) {
            assert_int_equal(srm_hmac_key_init_impl(&hk, key, sizeof(key), im[k]), 0);
            for (j = 0; j * 32 < n && j < 8; j++) {
                srm_hmac_ctr(&hk, iv, (uint32_t)j, got);
                assert_memory_equal(got, ks + j * 32, n - j * 32 < 32 ? n - j * 32 : 32);
            }
            assert_int_equal(srm_hmac_ctr_xor(&hk, iv, pt, ct, n), 0);
            for (j = 0; j < n; j++) {
                assert_int_equal(ct[j], pt[j] ^ ks[j]);
            }
            memcpy(inplace, pt, n);
            assert_int_equal(srm_hmac_ctr_xor(&hk, iv, inplace, inplace, n), 0);
            assert_memory_equal(inplace, ct, n);
            srm_hmac_key_wipe(&hk);
        }
    }
    /* A counter with the high bytes set. */
    memcpy(blockmsg, iv, 16);
    blockmsg[16] = 0xfe;
    blockmsg[17] = 0xdc;
    blockmsg[18] = 0xba;
    blockmsg[19] = 0x98;
    ossl_hmac(key, sizeof(key), blockmsg, sizeof(blockmsg), want);
    for (k = 0; k < ni; k++) {
        assert_int_equal(srm_hmac_key_init_impl(&hk, key, sizeof(key), im[k]), 0);
        srm_hmac_ctr(&hk, iv, 0xfedcba98u, got);
        assert_memory_equal(got, want, 32);
        srm_hmac_key_wipe(&hk);
    }
    free(pt);
    free(ks);
    free(ct);
    free(inplace);
}

static void test_bad_args(void **state)
{
    struct srm_sha256 st;
    struct srm_hmac_key hk;
    uint8_t key[32] = {1}, iv[16] = {0};
    size_t i;
    const uint8_t *zeros;

    (void)state;
    assert_int_equal(srm_sha256_init_impl(&st, (enum srm_sha256_impl)7), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_sha256_init_impl(NULL, SRM_SHA256_PORTABLE), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_sha256_init_impl(&st, SRM_SHA256_SHANI),
                     srm_sha256_have_shani() ? 0 : SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_hmac_key_init(&hk, NULL, 5), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_hmac_key_init(NULL, key, 5), SRM_ERR_INVALID_ARG);
    /* Over 2^32 keystream blocks is refused before any byte is touched. */
    assert_int_equal(srm_hmac_key_init(&hk, key, sizeof(key)), 0);
    assert_int_equal(srm_hmac_ctr_xor(&hk, iv, NULL, NULL, ((size_t)1 << 37) + 1),
                     SRM_ERR_TOO_LARGE);
    /* Wiping leaves no key byte behind. */
    srm_hmac_key_wipe(&hk);
    zeros = (const uint8_t *)&hk;
    for (i = 0; i < sizeof(hk); i++) {
        assert_int_equal(zeros[i], 0);
    }
}

/* The two block functions agree on many blocks at once (the multi-block path). */
static void test_impls_agree(void **state)
{
    uint64_t s = 42;
    uint8_t *msg = malloc(64 * 300);
    uint32_t a[8], b[8];
    struct srm_sha256 pa, pb;
    size_t nb;

    (void)state;
    assert_non_null(msg);
    if (!srm_sha256_have_shani()) {
        free(msg);
        skip();
    }
    rnd_fill(&s, msg, 64 * 300);
    for (nb = 0; nb <= 300; nb += 7) {
        assert_int_equal(srm_sha256_init_impl(&pa, SRM_SHA256_PORTABLE), 0);
        assert_int_equal(srm_sha256_init_impl(&pb, SRM_SHA256_SHANI), 0);
        srm_sha256_blocks(&pa, msg, nb);
        srm_sha256_blocks(&pb, msg, nb);
        memcpy(a, pa.h, sizeof(a));
        memcpy(b, pb.h, sizeof(b));
        assert_memory_equal(a, b, sizeof(a));
    }
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nist_vectors),      cmocka_unit_test(test_rfc4231),
        cmocka_unit_test(test_sha256_vs_openssl), cmocka_unit_test(test_hmac_vs_openssl),
        cmocka_unit_test(test_ctr_vs_openssl),    cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_impls_agree),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
