/* SPDX-License-Identifier: MIT */
/*
 * test_record.c: the end-to-end message record (DESIGN.md 3a).
 *
 * Known answers from tests/vectors/record.json (written by an independent
 * Python implementation), a differential test of record.c's precomputed-pad
 * HMAC against OpenSSL's EVP_MAC, and the failure cases: every byte
 * tampered, replay, reorder, loss, truncation at every length, sequence
 * exhaustion and size limits, each followed by a check that the state did
 * not move (the next valid record still opens).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/record.h"
#include "srm/wire.h"
#include "vectors.h"

static void ref_hmac(const uint8_t *key, const uint8_t *msg, size_t n, uint8_t out[32]);

static const uint8_t k_enc[32] = {0x11, 0x12, 0x13};
static const uint8_t k_mac[32] = {0x21, 0x22, 0x23};
static const uint8_t sid[16] = {0x31, 0x32, 0x33};

/* A sender and a receiver for the same direction. */
struct pair {
    struct srm_record *tx;
    struct srm_record *rx;
};

static void pair_new(struct pair *p)
{
    assert_int_equal(srm_record_new(k_enc, k_mac, sid, &p->tx), 0);
    assert_int_equal(srm_record_new(k_enc, k_mac, sid, &p->rx), 0);
}

static void pair_free(struct pair *p)
{
    srm_record_free(p->tx);
    srm_record_free(p->rx);
}

/* Seal pt into a malloc'd record of *n bytes. */
static uint8_t *seal(struct srm_record *r, const uint8_t *pt, size_t ptn, size_t *n)
{
    uint8_t *mem = malloc(ptn + SRM_RECORD_OVERHEAD);
    struct srm_buf w;

    assert_non_null(mem);
    srm_buf_init_write(&w, mem, ptn + SRM_RECORD_OVERHEAD);
    assert_int_equal(srm_record_seal(r, pt, ptn, &w), 0);
    assert_int_equal(w.len, ptn + SRM_RECORD_OVERHEAD);
    *n = w.len;
    return mem;
}

/* Open rec and require success with plaintext pt. */
static void open_ok(struct srm_record *r, const uint8_t *rec, size_t n, const uint8_t *pt,
                    size_t ptn)
{
    uint8_t *out = malloc(ptn + 1);
    size_t outn = 999;
    uint64_t seq = srm_record_seq(r);

    assert_non_null(out);
    assert_int_equal(srm_record_open(r, rec, n, out, ptn + 1, &outn), 0);
    assert_int_equal(outn, ptn);
    if (ptn != 0) {
        assert_memory_equal(out, pt, ptn);
    }
    assert_true(srm_record_seq(r) == seq + 1);
    free(out);
}

/* Open rec and require error err, no byte written to pt and seq unchanged. */
static void open_fails(struct srm_record *r, const uint8_t *rec, size_t n, int err)
{
    uint8_t out[256];
    uint8_t fill[256];
    size_t outn = 999;
    uint64_t seq = srm_record_seq(r);

    memset(out, 0xa5, sizeof(out));
    memset(fill, 0xa5, sizeof(fill));
    assert_int_equal(srm_record_open(r, rec, n, out, sizeof(out), &outn), err);
    assert_memory_equal(out, fill, sizeof(out));
    assert_true(srm_record_seq(r) == seq);
}

static void test_vectors(void **state)
{
    cJSON *root = tu_load_vectors("record.json");
    const cJSON *v;
    int count = 0, have[6] = {0}, big_seq = 0, seq0 = 0;
    static const size_t sizes[6] = {0, 1, 31, 32, 33, 65536};

    (void)state;
    assert_true(cJSON_IsArray(root));
    cJSON_ArrayForEach(v, root)
    {
        size_t ne, nm, ns, ni, np, nr, k;
        uint8_t *enc = tu_hex_field(v, "enc_key", &ne), *mac = tu_hex_field(v, "mac_key", &nm);
        uint8_t *s = tu_hex_field(v, "session_id", &ns), *iv = tu_hex_field(v, "iv", &ni);
        uint8_t *pt = tu_hex_field(v, "plaintext", &np), *rec = tu_hex_field(v, "record", &nr);
        uint64_t seq = tu_seq_field(v);
        struct srm_record *tx = NULL, *rx = NULL;
        uint8_t *out = malloc(nr + 1), *dec = malloc(np + 1);
        struct srm_buf w;
        size_t decn = 0;

        assert_non_null(out);
        assert_non_null(dec);
        assert_int_equal(ne, 32);
        assert_int_equal(nm, 32);
        assert_int_equal(ns, 16);
        assert_int_equal(ni, 16);
        assert_int_equal(nr, np + SRM_RECORD_OVERHEAD);
        assert_int_equal(srm_record_new(enc, mac, s, &tx), 0);
        assert_int_equal(srm_record_new(enc, mac, s, &rx), 0);
        srm_record_set_seq(tx, seq);
        srm_record_set_seq(rx, seq);

        /* seal reproduces the record byte for byte */
        srm_buf_init_write(&w, out, nr + 1);
        assert_int_equal(srm_record_seal_iv(tx, iv, pt, np, &w), 0);
        assert_int_equal(w.len, nr);
        assert_memory_equal(out, rec, nr);
        assert_true(srm_record_seq(tx) == seq + 1);

        /* and open gives the plaintext back */
        assert_int_equal(srm_record_open(rx, rec, nr, dec, np, &decn), 0);
        assert_int_equal(decn, np);
        if (np != 0) {
            assert_memory_equal(dec, pt, np);
        }
        assert_true(srm_record_seq(rx) == seq + 1);

        for (k = 0; k < 6; k++) {
            have[k] |= np == sizes[k];
        }
        big_seq |= seq > 0xffffffffull;
        seq0 |= seq == 0;
        count++;
        srm_record_free(tx);
        srm_record_free(rx);
        free(enc);
        free(mac);
        free(s);
        free(iv);
        free(pt);
        free(rec);
        free(out);
        free(dec);
    }
    /* The file itself covers what DESIGN.md section 9 asks for. */
    assert_true(count >= 8);
    for (int k = 0; k < 6; k++) {
        assert_true(have[k]);
    }
    assert_true(big_seq);
    assert_true(seq0);
    cJSON_Delete(root);
}

/*
 * record.c computes HMAC from precomputed ipad/opad states; check it against
 * EVP_MAC through the public API on random keys and lengths: every keystream
 * block and the tag (whose input length is 40 + n, so n = 0..130 crosses
 * several SHA-256 block boundaries).
 */
static void test_hmac_differential(void **state)
{
    size_t lens[131 + 24];
    size_t nlens = 0, li;

    (void)state;
    for (li = 0; li <= 130; li++) {
        lens[nlens++] = li;
    }
    while (nlens < sizeof(lens) / sizeof(lens[0])) {
        uint32_t rnd;

        assert_int_equal(RAND_bytes((uint8_t *)&rnd, sizeof(rnd)), 1);
        lens[nlens++] = rnd % (SRM_RECORD_MAX_PT + 1u);
    }
    lens[nlens - 1] = SRM_RECORD_MAX_PT;
    for (li = 0; li < nlens; li++) {
        size_t n = lens[li], off, j, macn;
        uint8_t ke[32], km[32], s[16], iv[16], want[32], ctr[20], seqbe[8];
        uint8_t *pt = malloc(n + 1), *rec = malloc(n + SRM_RECORD_OVERHEAD);
        uint8_t *macin = malloc(n + 40);
        uint64_t seq;
        struct srm_record *r = NULL;
        struct srm_buf w;
        uint32_t i;

        assert_non_null(pt);
        assert_non_null(rec);
        assert_non_null(macin);
        assert_int_equal(RAND_bytes(ke, 32), 1);
        assert_int_equal(RAND_bytes(km, 32), 1);
        assert_int_equal(RAND_bytes(s, 16), 1);
        assert_int_equal(RAND_bytes(iv, 16), 1);
        assert_int_equal(RAND_bytes((uint8_t *)&seq, sizeof(seq)), 1);
        seq %= SRM_RECORD_SEQ_LIMIT;
        assert_int_equal(RAND_bytes(pt, (int)n + 1), 1);
        assert_int_equal(srm_record_new(ke, km, s, &r), 0);
        srm_record_set_seq(r, seq);
        srm_buf_init_write(&w, rec, n + SRM_RECORD_OVERHEAD);
        assert_int_equal(srm_record_seal_iv(r, iv, pt, n, &w), 0);

        /* keystream block i == HMAC(k_enc, iv || u32be(i)) */
        memcpy(ctr, iv, 16);
        for (off = 0, i = 0; off < n; off += 32, i++) {
            ctr[16] = (uint8_t)(i >> 24);
            ctr[17] = (uint8_t)(i >> 16);
            ctr[18] = (uint8_t)(i >> 8);
            ctr[19] = (uint8_t)i;
            ref_hmac(ke, ctr, sizeof(ctr), want);
            for (j = 0; j < 32 && off + j < n; j++) {
                assert_int_equal(rec[24 + off + j] ^ pt[off + j], want[j]);
            }
        }
        /* tag == HMAC(k_mac, iv || ct || session_id || u64be(seq)) */
        for (j = 0; j < 8; j++) {
            seqbe[j] = (uint8_t)(seq >> (56 - 8 * j));
        }
        assert_memory_equal(rec, seqbe, 8);
        assert_memory_equal(rec + 8, iv, 16);
        memcpy(macin, iv, 16);
        memcpy(macin + 16, rec + 24, n);
        memcpy(macin + 16 + n, s, 16);
        memcpy(macin + 32 + n, seqbe, 8);
        macn = n + 40;
        ref_hmac(km, macin, macn, want);
        assert_memory_equal(rec + 24 + n, want, 32);
        /* and crypto.c's one-shot HMAC agrees with both */
        if (li % 16 == 0) {
            uint8_t got[32];

            assert_int_equal(srm_hmac_sha256(km, 32, macin, macn, got), 0);
            assert_memory_equal(got, want, 32);
        }
        srm_record_free(r);
        free(pt);
        free(rec);
        free(macin);
    }
}

static void test_roundtrip_random_iv(void **state)
{
    struct pair p;
    const uint8_t msg[] = "hello, bob";
    uint8_t *a, *b;
    size_t na, nb;

    (void)state;
    pair_new(&p);
    a = seal(p.tx, msg, sizeof(msg), &na);
    b = seal(p.tx, msg, sizeof(msg), &nb);
    /* fresh IVs: the same text never gives the same bytes */
    assert_memory_not_equal(a + 8, b + 8, 16);
    assert_memory_not_equal(a + 24, b + 24, sizeof(msg));
    open_ok(p.rx, a, na, msg, sizeof(msg));
    open_ok(p.rx, b, nb, msg, sizeof(msg));
    assert_true(srm_record_seq(p.rx) == 2);
    free(a);
    free(b);
    pair_free(&p);
}

static void test_tamper_every_byte(void **state)
{
    struct pair p;
    uint8_t pt[100];
    uint8_t *rec, *bad;
    size_t n, i;
    int bit;

    (void)state;
    memset(pt, 'x', sizeof(pt));
    pair_new(&p);
    rec = seal(p.tx, pt, sizeof(pt), &n);
    bad = malloc(n);
    assert_non_null(bad);
    for (i = 0; i < n; i++) {
        for (bit = 0; bit < 8; bit += 7) {
            memcpy(bad, rec, n);
            bad[i] ^= (uint8_t)(1u << bit);
            /* the first 8 bytes are seq: caught before the tag is even computed */
            open_fails(p.rx, bad, n, i < 8 ? SRM_ERR_REPLAY : SRM_ERR_BAD_MAC);
        }
    }
    /* nothing moved: the genuine record still opens */
    open_ok(p.rx, rec, n, pt, sizeof(pt));
    free(rec);
    free(bad);
    pair_free(&p);
}

static void test_replay_reorder_loss(void **state)
{
    struct pair p;
    uint8_t *r0, *r1, *r2;
    size_t n0, n1, n2;

    (void)state;
    pair_new(&p);
    r0 = seal(p.tx, (const uint8_t *)"zero", 4, &n0);
    r1 = seal(p.tx, (const uint8_t *)"one", 3, &n1);
    r2 = seal(p.tx, (const uint8_t *)"two", 3, &n2);
    /* reordered / lost record 0 */
    open_fails(p.rx, r1, n1, SRM_ERR_REPLAY);
    open_fails(p.rx, r2, n2, SRM_ERR_REPLAY);
    open_ok(p.rx, r0, n0, (const uint8_t *)"zero", 4);
    /* replay */
    open_fails(p.rx, r0, n0, SRM_ERR_REPLAY);
    /* lost record 1 */
    open_fails(p.rx, r2, n2, SRM_ERR_REPLAY);
    open_ok(p.rx, r1, n1, (const uint8_t *)"one", 3);
    open_fails(p.rx, r1, n1, SRM_ERR_REPLAY);
    open_fails(p.rx, r0, n0, SRM_ERR_REPLAY);
    open_ok(p.rx, r2, n2, (const uint8_t *)"two", 3);
    free(r0);
    free(r1);
    free(r2);
    pair_free(&p);
}

static void test_truncation(void **state)
{
    struct pair p;
    uint8_t pt[70];
    uint8_t *rec, *longer;
    size_t n, len;

    (void)state;
    memset(pt, 0x5a, sizeof(pt));
    pair_new(&p);
    rec = seal(p.tx, pt, sizeof(pt), &n);
    for (len = 0; len < n; len++) {
        /* below the fixed overhead it does not parse; above, the tag moves */
        open_fails(p.rx, len == 0 ? NULL : rec, len,
                   len < SRM_RECORD_OVERHEAD ? SRM_ERR_MALFORMED : SRM_ERR_BAD_MAC);
    }
    /* one byte too many is a forgery too */
    longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, rec, n);
    longer[n] = 0;
    open_fails(p.rx, longer, n + 1, SRM_ERR_BAD_MAC);
    open_ok(p.rx, rec, n, pt, sizeof(pt));
    free(rec);
    free(longer);
    pair_free(&p);
}

static void test_wrong_keys_and_session(void **state)
{
    struct srm_record *tx = NULL, *other_sid = NULL, *other_mac = NULL, *other_enc = NULL;
    uint8_t sid2[16], mac2[32], enc2[32], out[16];
    uint8_t *rec;
    size_t n, outn;

    (void)state;
    memcpy(sid2, sid, 16);
    sid2[15] ^= 1;
    memcpy(mac2, k_mac, 32);
    mac2[0] ^= 1;
    memcpy(enc2, k_enc, 32);
    enc2[31] ^= 1;
    assert_int_equal(srm_record_new(k_enc, k_mac, sid, &tx), 0);
    assert_int_equal(srm_record_new(k_enc, k_mac, sid2, &other_sid), 0);
    assert_int_equal(srm_record_new(k_enc, mac2, sid, &other_mac), 0);
    assert_int_equal(srm_record_new(enc2, k_mac, sid, &other_enc), 0);
    rec = seal(tx, (const uint8_t *)"secret", 6, &n);
    open_fails(other_sid, rec, n, SRM_ERR_BAD_MAC);
    open_fails(other_mac, rec, n, SRM_ERR_BAD_MAC);
    /* the tag does not cover k_enc: a wrong k_enc decrypts to garbage */
    assert_int_equal(srm_record_open(other_enc, rec, n, out, sizeof(out), &outn), 0);
    assert_int_equal(outn, 6);
    assert_memory_not_equal(out, "secret", 6);
    free(rec);
    srm_record_free(tx);
    srm_record_free(other_sid);
    srm_record_free(other_mac);
    srm_record_free(other_enc);
}

static void test_seq_exhaustion(void **state)
{
    struct pair p;
    uint8_t mem[64];
    struct srm_buf w;
    uint8_t *rec;
    size_t n;

    (void)state;
    pair_new(&p);
    srm_record_set_seq(p.tx, SRM_RECORD_SEQ_LIMIT - 1u);
    srm_record_set_seq(p.rx, SRM_RECORD_SEQ_LIMIT - 1u);
    rec = seal(p.tx, (const uint8_t *)"last", 4, &n);
    assert_true(srm_record_seq(p.tx) == SRM_RECORD_SEQ_LIMIT);
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_record_seal(p.tx, (const uint8_t *)"x", 1, &w), SRM_ERR_SEQ_EXHAUSTED);
    assert_int_equal(w.len, 0);
    assert_true(srm_record_seq(p.tx) == SRM_RECORD_SEQ_LIMIT);
    open_ok(p.rx, rec, n, (const uint8_t *)"last", 4);
    /* the receiver refuses to go further as well: the counter never wraps */
    open_fails(p.rx, rec, n, SRM_ERR_SEQ_EXHAUSTED);
    srm_record_set_seq(p.tx, UINT64_MAX);
    assert_int_equal(srm_record_seal(p.tx, NULL, 0, &w), SRM_ERR_SEQ_EXHAUSTED);
    free(rec);
    pair_free(&p);
}

static void test_sizes_and_space(void **state)
{
    struct pair p;
    uint8_t *big = calloc(1, SRM_RECORD_MAX_PT + 1u + SRM_RECORD_OVERHEAD);
    uint8_t *rec;
    uint8_t small[SRM_RECORD_OVERHEAD + 9];
    struct srm_buf w;
    size_t n, outn;
    uint8_t out[8];
    struct srm_record *tmp = NULL;

    (void)state;
    assert_non_null(big);
    pair_new(&p);
    /* 65536 is fine, 65537 is not */
    rec = seal(p.tx, big, SRM_RECORD_MAX_PT, &n);
    assert_int_equal(n, SRM_RECORD_MAX);
    open_ok(p.rx, rec, n, big, SRM_RECORD_MAX_PT);
    srm_buf_init_write(&w, big, SRM_RECORD_MAX_PT + 1u + SRM_RECORD_OVERHEAD);
    assert_int_equal(srm_record_seal(p.tx, rec, SRM_RECORD_MAX_PT + 1u, &w), SRM_ERR_TOO_LARGE);
    assert_int_equal(w.len, 0);
    open_fails(p.rx, big, SRM_RECORD_MAX + 1u, SRM_ERR_MALFORMED);

    /* one byte short of room: NO_SPACE, buffer and seq untouched */
    srm_buf_init_write(&w, small, sizeof(small));
    assert_int_equal(srm_buf_put_u8(&w, 0x77), 0);
    assert_int_equal(srm_record_seal(p.tx, (const uint8_t *)"123456789", 9, &w), SRM_ERR_NO_SPACE);
    assert_int_equal(w.len, 1);
    assert_true(srm_record_seq(p.tx) == 1);
    assert_int_equal(srm_record_seal(p.tx, (const uint8_t *)"12345678", 8, &w), 0);
    assert_int_equal(w.len, sizeof(small));
    assert_int_equal(small[0], 0x77);

    /* plaintext buffer too small on open: refused, state unchanged */
    assert_int_equal(srm_record_open(p.rx, small + 1, sizeof(small) - 1, out, 7, &outn),
                     SRM_ERR_NO_SPACE);
    assert_true(srm_record_seq(p.rx) == 1);
    open_ok(p.rx, small + 1, sizeof(small) - 1, (const uint8_t *)"12345678", 8);

    /* arguments */
    tmp = p.tx; /* must be cleared on failure */
    assert_int_equal(srm_record_new(NULL, k_mac, sid, &tmp), SRM_ERR_INVALID_ARG);
    assert_null(tmp);
    assert_int_equal(srm_record_open(NULL, small, sizeof(small), out, 8, &outn),
                     SRM_ERR_INVALID_ARG);
    srm_record_free(NULL);
    free(rec);
    free(big);
    pair_free(&p);
}

static void test_in_place_open(void **state)
{
    struct pair p;
    uint8_t pt[77];
    uint8_t *rec;
    size_t n, outn;

    (void)state;
    memset(pt, 0xc3, sizeof(pt));
    pair_new(&p);
    rec = seal(p.tx, pt, sizeof(pt), &n);
    /* decrypting over the ciphertext itself */
    assert_int_equal(srm_record_open(p.rx, rec, n, rec + 24, sizeof(pt), &outn), 0);
    assert_int_equal(outn, sizeof(pt));
    assert_memory_equal(rec + 24, pt, sizeof(pt));
    free(rec);
    pair_free(&p);
}

static void ref_hmac(const uint8_t *key, const uint8_t *msg, size_t n, uint8_t out[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    size_t outl = 0;

    assert_non_null(mac);
    ctx = EVP_MAC_CTX_new(mac);
    assert_non_null(ctx);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_MAC_init(ctx, key, 32, params), 1);
    assert_int_equal(EVP_MAC_update(ctx, msg, n), 1);
    assert_int_equal(EVP_MAC_final(ctx, out, &outl, 32), 1);
    assert_int_equal(outl, 32);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_hmac_differential),
        cmocka_unit_test(test_roundtrip_random_iv),
        cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_replay_reorder_loss),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_wrong_keys_and_session),
        cmocka_unit_test(test_seq_exhaustion),
        cmocka_unit_test(test_sizes_and_space),
        cmocka_unit_test(test_in_place_open),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
