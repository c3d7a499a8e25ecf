/* SPDX-License-Identifier: MIT */
/*
 * test_link.c: the AES-256-GCM link record (DESIGN.md 3b).
 *
 * Known answers from tests/vectors/link_record.json (independent Python
 * implementation), sealed both out of place and in place; every byte
 * flipped, dropped / reordered / replayed records and truncation at every
 * length all fail with the plaintext wiped and the counter unchanged (the
 * genuine next record still opens); size and counter limits; and the frame
 * helpers with a client and a relay built from link_keys.json.
 *
 * Differential: link.c drives the GCM provider through prebuilt parameter
 * arrays (nonce as the whole "fixed IV", tag set before the ciphertext), so
 * every vector and a few thousand random records are also sealed and opened
 * with the plain EVP sequence (fresh key + nonce per record, tag through
 * EVP_CIPHER_CTX_ctrl) and must agree byte for byte in both directions,
 * including after failed opens and seal/open on one direction object.
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

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/gcm.h"
#include "srm/kdf.h"
#include "srm/link.h"
#include "srm/wire.h"
#include "vectors.h"

static void ref_seal(const uint8_t *k, const uint8_t *iv, const uint8_t *l, uint64_t seq,
                     const uint8_t *pt, size_t n, uint8_t *rec);
static int ref_open(const uint8_t *k, const uint8_t *iv, const uint8_t *l, uint64_t seq,
                    const uint8_t *rec, size_t n, uint8_t *pt);

static const uint8_t key[32] = {0x41, 0x42, 0x43};
static const uint8_t iv4[4] = {0xa0, 0xa1, 0xa2, 0xa3};
static const uint8_t lid[16] = {0x51, 0x52, 0x53};
/* The implementation the running group forced (use_evp / use_own). */
static enum srm_link_impl want_impl = SRM_LINK_IMPL_EVP;

struct pair {
    struct srm_link_dir *tx;
    struct srm_link_dir *rx;
};

static void pair_new(struct pair *p)
{
    assert_int_equal(srm_link_dir_new(key, iv4, lid, &p->tx), 0);
    assert_int_equal(srm_link_dir_new(key, iv4, lid, &p->rx), 0);
    /* The group really runs on the implementation it names. */
    assert_int_equal(srm_link_dir_impl(p->tx), want_impl);
    assert_int_equal(srm_link_dir_impl(p->rx), want_impl);
}

static void pair_free(struct pair *p)
{
    srm_link_dir_free(p->tx);
    srm_link_dir_free(p->rx);
}

static uint8_t *seal(struct srm_link_dir *d, const void *pt, size_t n, size_t *recn)
{
    uint8_t *rec = malloc(n + SRM_LINK_TAG_LEN);

    assert_non_null(rec);
    assert_int_equal(srm_link_dir_seal(d, pt, n, rec), 0);
    *recn = n + SRM_LINK_TAG_LEN;
    return rec;
}

static void open_ok(struct srm_link_dir *d, const uint8_t *rec, size_t n, const void *pt)
{
    uint8_t *out = malloc(n);
    uint64_t seq = srm_link_dir_seq(d);

    assert_non_null(out);
    assert_int_equal(srm_link_dir_open(d, rec, n, out), 0);
    if (n > SRM_LINK_TAG_LEN) {
        assert_memory_equal(out, pt, n - SRM_LINK_TAG_LEN);
    }
    assert_true(srm_link_dir_seq(d) == seq + 1);
    free(out);
}

/* Fails with err; the plaintext area is all zero (wiped or never written) and seq unchanged. */
static void open_fails(struct srm_link_dir *d, const uint8_t *rec, size_t n, int err)
{
    uint8_t out[300];
    size_t i, ctlen = n > SRM_LINK_TAG_LEN ? n - SRM_LINK_TAG_LEN : 0;
    uint64_t seq = srm_link_dir_seq(d);

    assert_true(ctlen <= sizeof(out));
    memset(out, 0xa5, sizeof(out));
    assert_int_equal(srm_link_dir_open(d, rec, n, out), err);
    if (err == SRM_ERR_BAD_MAC) {
        for (i = 0; i < ctlen; i++) {
            assert_int_equal(out[i], 0);
        }
    } else {
        for (i = 0; i < ctlen; i++) {
            assert_int_equal(out[i], 0xa5);
        }
    }
    for (i = ctlen; i < sizeof(out); i++) {
        assert_int_equal(out[i], 0xa5);
    }
    assert_true(srm_link_dir_seq(d) == seq);
}

static void test_vectors(void **state)
{
    cJSON *root = tu_load_vectors("link_record.json");
    const cJSON *v;
    int count = 0, have[6] = {0}, big_seq = 0, seq0 = 0, k;
    static const size_t sizes[6] = {0, 1, 31, 32, 33, 65536};

    (void)state;
    assert_true(cJSON_IsArray(root));
    cJSON_ArrayForEach(v, root)
    {
        size_t nk, ni, nl, np, nr, j;
        uint8_t *kk = tu_hex_field(v, "key", &nk), *iv = tu_hex_field(v, "iv", &ni);
        uint8_t *l = tu_hex_field(v, "link_id", &nl), *pt = tu_hex_field(v, "plaintext", &np);
        uint8_t *rec = tu_hex_field(v, "record", &nr);
        uint64_t seq = tu_seq_field(v);
        struct srm_link_dir *tx = NULL, *rx = NULL;
        uint8_t *out = malloc(nr), *dec = malloc(nr);

        assert_non_null(out);
        assert_non_null(dec);
        assert_int_equal(nk, 32);
        assert_int_equal(ni, 4);
        assert_int_equal(nl, 16);
        assert_int_equal(nr, np + SRM_LINK_TAG_LEN);
        assert_int_equal(srm_link_dir_new(kk, iv, l, &tx), 0);
        assert_int_equal(srm_link_dir_new(kk, iv, l, &rx), 0);
        assert_int_equal(srm_link_dir_impl(tx), want_impl);
        srm_link_dir_set_seq(tx, seq);
        srm_link_dir_set_seq(rx, seq);

        /* out of place */
        assert_int_equal(srm_link_dir_seal(tx, pt, np, out), 0);
        assert_memory_equal(out, rec, nr);
        assert_true(srm_link_dir_seq(tx) == seq + 1);
        assert_int_equal(srm_link_dir_open(rx, rec, nr, dec), 0);
        if (np != 0) {
            assert_memory_equal(dec, pt, np);
        }
        assert_true(srm_link_dir_seq(rx) == seq + 1);

        /* in place, same counter again */
        srm_link_dir_set_seq(tx, seq);
        srm_link_dir_set_seq(rx, seq);
        if (np != 0) {
            memcpy(out, pt, np);
        }
        assert_int_equal(srm_link_dir_seal(tx, out, np, out), 0);
        assert_memory_equal(out, rec, nr);
        assert_int_equal(srm_link_dir_open(rx, out, nr, out), 0);
        if (np != 0) {
            assert_memory_equal(out, pt, np);
        }

        for (j = 0; j < 6; j++) {
            have[j] |= np == sizes[j];
        }
        big_seq |= seq > 0xffffffffull;
        seq0 |= seq == 0;
        count++;
        srm_link_dir_free(tx);
        srm_link_dir_free(rx);
        free(kk);
        free(iv);
        free(l);
        free(pt);
        free(rec);
        free(out);
        free(dec);
    }
    assert_true(count >= 8);
    for (k = 0; k < 6; k++) {
        assert_true(have[k]);
    }
    assert_true(big_seq);
    assert_true(seq0);
    cJSON_Delete(root);
}

static void test_tamper_every_byte(void **state)
{
    struct pair p;
    uint8_t pt[100];
    uint8_t *rec, *bad;
    size_t n, i;
    int bit;

    (void)state;
    memset(pt, 'y', sizeof(pt));
    pair_new(&p);
    rec = seal(p.tx, pt, sizeof(pt), &n);
    bad = malloc(n);
    assert_non_null(bad);
    for (i = 0; i < n; i++) {
        for (bit = 0; bit < 8; bit += 7) {
            memcpy(bad, rec, n);
            bad[i] ^= (uint8_t)(1u << bit);
            open_fails(p.rx, bad, n, SRM_ERR_BAD_MAC);
        }
    }
    open_ok(p.rx, rec, n, pt);
    free(rec);
    free(bad);
    pair_free(&p);
}

/*
 * The counter is implicit, so a replay cannot even be built by sealing the
 * same seq twice; what the receiver can see is a record at the wrong
 * position: dropped, reordered or repeated.  All fail the tag.
 */
static void test_drop_reorder_replay(void **state)
{
    struct pair p;
    uint8_t *r0, *r1, *r2;
    size_t n0, n1, n2;

    (void)state;
    pair_new(&p);
    r0 = seal(p.tx, "zero", 4, &n0);
    r1 = seal(p.tx, "one", 3, &n1);
    r2 = seal(p.tx, "two", 3, &n2);
    /* record 0 dropped or delayed */
    open_fails(p.rx, r1, n1, SRM_ERR_BAD_MAC);
    open_fails(p.rx, r2, n2, SRM_ERR_BAD_MAC);
    open_ok(p.rx, r0, n0, "zero");
    /* replayed */
    open_fails(p.rx, r0, n0, SRM_ERR_BAD_MAC);
    /* reordered */
    open_fails(p.rx, r2, n2, SRM_ERR_BAD_MAC);
    open_ok(p.rx, r1, n1, "one");
    open_fails(p.rx, r1, n1, SRM_ERR_BAD_MAC);
    open_ok(p.rx, r2, n2, "two");
    assert_true(srm_link_dir_seq(p.rx) == 3);
    free(r0);
    free(r1);
    free(r2);
    pair_free(&p);
}

static void test_truncation(void **state)
{
    struct pair p;
    uint8_t pt[40];
    uint8_t *rec, *longer;
    size_t n, len;

    (void)state;
    memset(pt, 0x3c, sizeof(pt));
    pair_new(&p);
    rec = seal(p.tx, pt, sizeof(pt), &n);
    for (len = 0; len < n; len++) {
        open_fails(p.rx, rec, len, len < SRM_LINK_TAG_LEN ? SRM_ERR_MALFORMED : SRM_ERR_BAD_MAC);
    }
    longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, rec, n);
    longer[n] = 0;
    open_fails(p.rx, longer, n + 1, SRM_ERR_BAD_MAC);
    open_ok(p.rx, rec, n, pt);
    free(rec);
    free(longer);
    pair_free(&p);
}

static void test_wrong_key_iv_linkid(void **state)
{
    struct srm_link_dir *tx = NULL, *bad_key = NULL, *bad_iv = NULL, *bad_lid = NULL;
    uint8_t k2[32], iv2[4], lid2[16];
    uint8_t *rec;
    size_t n;

    (void)state;
    memcpy(k2, key, 32);
    k2[5] ^= 1;
    memcpy(iv2, iv4, 4);
    iv2[3] ^= 1;
    memcpy(lid2, lid, 16);
    lid2[15] ^= 0x80;
    assert_int_equal(srm_link_dir_new(key, iv4, lid, &tx), 0);
    assert_int_equal(srm_link_dir_new(k2, iv4, lid, &bad_key), 0);
    assert_int_equal(srm_link_dir_new(key, iv2, lid, &bad_iv), 0);
    assert_int_equal(srm_link_dir_new(key, iv4, lid2, &bad_lid), 0);
    rec = seal(tx, "payload", 7, &n);
    open_fails(bad_key, rec, n, SRM_ERR_BAD_MAC);
    open_fails(bad_iv, rec, n, SRM_ERR_BAD_MAC);
    open_fails(bad_lid, rec, n, SRM_ERR_BAD_MAC);
    free(rec);
    srm_link_dir_free(tx);
    srm_link_dir_free(bad_key);
    srm_link_dir_free(bad_iv);
    srm_link_dir_free(bad_lid);
}

static void test_limits(void **state)
{
    struct pair p;
    uint8_t *big = calloc(1, SRM_WIRE_MAX_FRAME + 1u);
    uint8_t small[32];
    size_t n;
    uint8_t *rec;

    (void)state;
    assert_non_null(big);
    pair_new(&p);
    /* the largest record fits a maximum frame exactly */
    assert_int_equal(srm_link_dir_seal(p.tx, big, SRM_LINK_MAX_PT, big), 0);
    assert_int_equal(srm_link_dir_open(p.rx, big, SRM_LINK_MAX_PT + SRM_LINK_TAG_LEN, big), 0);
    assert_int_equal(big[0], 0);
    assert_int_equal(big[SRM_LINK_MAX_PT - 1], 0);
    assert_int_equal(srm_link_dir_seal(p.tx, big, SRM_LINK_MAX_PT + 1u, big), SRM_ERR_TOO_LARGE);
    assert_int_equal(srm_link_dir_open(p.rx, big, SRM_LINK_MAX_PT + SRM_LINK_TAG_LEN + 1u, big),
                     SRM_ERR_MALFORMED);
    assert_true(srm_link_dir_seq(p.tx) == 1);
    assert_true(srm_link_dir_seq(p.rx) == 1);

    /* the counter never wraps */
    srm_link_dir_set_seq(p.tx, UINT64_MAX - 1u);
    srm_link_dir_set_seq(p.rx, UINT64_MAX - 1u);
    rec = seal(p.tx, "end", 3, &n);
    assert_true(srm_link_dir_seq(p.tx) == UINT64_MAX);
    assert_int_equal(srm_link_dir_seal(p.tx, (const uint8_t *)"x", 1, small),
                     SRM_ERR_SEQ_EXHAUSTED);
    open_ok(p.rx, rec, n, "end");
    open_fails(p.rx, rec, n, SRM_ERR_SEQ_EXHAUSTED);

    /* arguments */
    assert_int_equal(srm_link_dir_seal(NULL, (const uint8_t *)"x", 1, small), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_link_dir_open(NULL, small, 17, small), SRM_ERR_INVALID_ARG);
    srm_link_dir_free(NULL);
    free(rec);
    free(big);
    pair_free(&p);
}

static void load_link_keys(struct srm_link_keys *k)
{
    cJSON *root = tu_load_vectors("link_keys.json");
    const cJSON *v = cJSON_GetArrayItem(root, 0);

    assert_non_null(v);
    tu_hex_exact(v, "key_c2r", k->key_c2r, sizeof(k->key_c2r));
    tu_hex_exact(v, "key_r2c", k->key_r2c, sizeof(k->key_r2c));
    tu_hex_exact(v, "iv_c2r", k->iv_c2r, sizeof(k->iv_c2r));
    tu_hex_exact(v, "iv_r2c", k->iv_r2c, sizeof(k->iv_r2c));
    tu_hex_exact(v, "link_id", k->link_id, sizeof(k->link_id));
    cJSON_Delete(root);
}

/* Check the frame at mem (framelen bytes): header, then open its body with rx. */
static void frame_check(struct srm_link *rx, uint8_t *mem, size_t framelen, const char *msg)
{
    struct srm_buf r;
    uint32_t len;
    uint8_t type;
    const uint8_t *pt = NULL;
    size_t ptlen = 0, n = strlen(msg);

    srm_buf_init_read(&r, mem, framelen);
    assert_int_equal(srm_buf_get_u32(&r, &len), 0);
    assert_int_equal(srm_buf_get_u8(&r, &type), 0);
    assert_int_equal(len, 1 + n + SRM_LINK_TAG_LEN);
    assert_int_equal(framelen, SRM_WIRE_FRAME_HDR + n + SRM_LINK_TAG_LEN);
    assert_int_equal(type, SRM_FRAME_LINK);
    assert_int_equal(srm_link_open_body(rx, mem + 5, framelen - 5, &pt, &ptlen), 0);
    assert_int_equal(ptlen, n);
    assert_ptr_equal(pt, mem + 5);
    assert_memory_equal(pt, msg, n);
}

static void test_link_roles_and_frames(void **state)
{
    struct srm_link_keys k;
    struct srm_link *client = NULL, *relay = NULL;
    uint8_t mem[256] = {0}, before[256] = {0}; /* whole buffers are compared below */
    struct srm_buf w;
    const uint8_t *pt = (const uint8_t *)"junk";
    size_t ptlen = 7, start;

    (void)state;
    load_link_keys(&k);
    assert_int_equal(srm_link_new(&k, SRM_LINK_CLIENT, &client), 0);
    assert_int_equal(srm_link_new(&k, SRM_LINK_RELAY, &relay), 0);
    assert_int_equal(srm_link_dir_impl(client->tx), want_impl);
    assert_int_equal(srm_link_dir_impl(relay->rx), want_impl);

    /* client -> relay */
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_link_seal_frame(client, (const uint8_t *)"hello relay", 11, &w), 0);
    frame_check(relay, mem, w.len, "hello relay");
    /* relay -> client, twice, in one buffer */
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_link_seal_frame(relay, (const uint8_t *)"hi", 2, &w), 0);
    start = w.len;
    assert_int_equal(srm_link_seal_frame(relay, (const uint8_t *)"", 0, &w), 0);
    frame_check(client, mem, start, "hi");
    frame_check(client, mem + start, w.len - start, "");
    assert_true(srm_link_dir_seq(client->rx) == 2);
    assert_true(srm_link_dir_seq(client->tx) == 1);

    /* a client cannot open its own frames: the directions have distinct keys */
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_link_seal_frame(client, (const uint8_t *)"echo", 4, &w), 0);
    srm_link_dir_set_seq(client->rx, 1);
    memcpy(before, mem, w.len);
    assert_int_equal(srm_link_open_body(client, before + 5, w.len - 5, &pt, &ptlen),
                     SRM_ERR_BAD_MAC);
    assert_null(pt);
    assert_int_equal(ptlen, 0);
    /* opened in place, so the failed body was wiped */
    for (start = 5; start < w.len - SRM_LINK_TAG_LEN; start++) {
        assert_int_equal(before[start], 0);
    }
    assert_int_equal(srm_link_open_body(client, mem + 5, 15, &pt, &ptlen), SRM_ERR_MALFORMED);
    frame_check(relay, mem, w.len, "echo");

    /* no room: out unchanged, nothing consumed */
    srm_buf_init_write(&w, mem, 5 + 10 + 16 + 3);
    assert_int_equal(srm_buf_put_bytes(&w, "abc", 3), 0);
    memcpy(before, mem, sizeof(before));
    assert_int_equal(srm_link_seal_frame(client, (const uint8_t *)"0123456789x", 11, &w),
                     SRM_ERR_NO_SPACE);
    assert_int_equal(w.len, 3);
    assert_memory_equal(mem, before, sizeof(before));
    assert_true(srm_link_dir_seq(client->tx) == 2);
    assert_int_equal(srm_link_seal_frame(client, (const uint8_t *)"0123456789", 10, &w), 0);
    assert_int_equal(w.len, w.cap);
    frame_check(relay, mem + 3, w.len - 3, "0123456789");
    assert_int_equal(srm_link_seal_frame(client, mem, SRM_LINK_MAX_PT + 1u, &w), SRM_ERR_TOO_LARGE);

    srm_link_free(client);
    client = relay; /* must be cleared on failure */
    assert_int_equal(srm_link_new(&k, (enum srm_link_role)7, &client), SRM_ERR_INVALID_ARG);
    assert_null(client);
    srm_link_free(relay);
    srm_link_free(NULL);
    srm_kdf_link_wipe(&k);
}

/* ---- differential: the plain EVP sequence, one fresh context per record ---- */

static void ref_nonce_aad(const uint8_t *iv, const uint8_t *l, uint64_t seq, uint8_t nonce[12],
                          uint8_t aad[24])
{
    int i;

    memcpy(nonce, iv, 4);
    memcpy(aad, l, 16);
    for (i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
        aad[16 + i] = nonce[4 + i];
    }
}

static void ref_seal(const uint8_t *k, const uint8_t *iv, const uint8_t *l, uint64_t seq,
                     const uint8_t *pt, size_t n, uint8_t *rec)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t nonce[12], aad[24], fin[32];
    int outl = 0;

    assert_non_null(c);
    ref_nonce_aad(iv, l, seq, nonce, aad);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL), 1);
    assert_int_equal(EVP_EncryptInit_ex(c, NULL, NULL, k, nonce), 1);
    assert_int_equal(EVP_EncryptUpdate(c, NULL, &outl, aad, 24), 1);
    if (n != 0) {
        assert_int_equal(EVP_EncryptUpdate(c, rec, &outl, pt, (int)n), 1);
        assert_int_equal(outl, (int)n);
    }
    assert_int_equal(EVP_EncryptFinal_ex(c, fin, &outl), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, rec + n), 1);
    EVP_CIPHER_CTX_free(c);
}

/* 1 if rec (n >= 16) authenticates, with the plaintext in pt; 0 if not. */
static int ref_open(const uint8_t *k, const uint8_t *iv, const uint8_t *l, uint64_t seq,
                    const uint8_t *rec, size_t n, uint8_t *pt)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t nonce[12], aad[24], fin[32], tag[16];
    int outl = 0, ok;

    assert_non_null(c);
    assert_true(n >= 16);
    memcpy(tag, rec + (n - 16), 16);
    ref_nonce_aad(iv, l, seq, nonce, aad);
    assert_int_equal(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL), 1);
    assert_int_equal(EVP_DecryptInit_ex(c, NULL, NULL, k, nonce), 1);
    assert_int_equal(EVP_DecryptUpdate(c, NULL, &outl, aad, 24), 1);
    if (n > 16) {
        assert_int_equal(EVP_DecryptUpdate(c, pt, &outl, rec, (int)(n - 16)), 1);
    }
    assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag), 1);
    ok = EVP_DecryptFinal_ex(c, fin, &outl) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

/* Every vector through the reference path too: the vectors check the reference, it checks us. */
static void test_differential_vectors(void **state)
{
    cJSON *root = tu_load_vectors("link_record.json");
    const cJSON *v;
    int count = 0;

    (void)state;
    cJSON_ArrayForEach(v, root)
    {
        size_t nk, ni, nl, np, nr;
        uint8_t *kk = tu_hex_field(v, "key", &nk), *iv = tu_hex_field(v, "iv", &ni);
        uint8_t *l = tu_hex_field(v, "link_id", &nl), *pt = tu_hex_field(v, "plaintext", &np);
        uint8_t *rec = tu_hex_field(v, "record", &nr);
        uint8_t *ref = malloc(nr), *dec = malloc(nr);

        assert_non_null(ref);
        assert_non_null(dec);
        assert_int_equal(nr, np + SRM_LINK_TAG_LEN);
        ref_seal(kk, iv, l, tu_seq_field(v), pt, np, ref);
        assert_memory_equal(ref, rec, nr);
        assert_int_equal(ref_open(kk, iv, l, tu_seq_field(v), rec, nr, dec), 1);
        if (np != 0) {
            assert_memory_equal(dec, pt, np);
        }
        count++;
        free(kk);
        free(iv);
        free(l);
        free(pt);
        free(rec);
        free(ref);
        free(dec);
    }
    assert_true(count >= 8);
    cJSON_Delete(root);
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

static void test_differential_random(void **state)
{
    /* Start counters where the big-endian seq carries across bytes and words. */
    static const uint64_t starts[] = {
        0, 250, 0xfff0, 0xfffffff0ull, 0x00fffffffffffff8ull, UINT64_MAX - 400u};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    uint8_t k[32], iv[4], l[16];
    uint8_t *pt = malloc(5000), *rec = malloc(5000 + 16), *ref = malloc(5000 + 16),
            *dec = malloc(5000 + 16);
    size_t s, r, n;

    (void)state;
    assert_non_null(pt);
    assert_non_null(rec);
    assert_non_null(ref);
    assert_non_null(dec);
    for (s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
        struct srm_link_dir *tx = NULL, *rx = NULL;
        uint64_t seq = starts[s];

        xs_fill(&rng, k, sizeof(k));
        xs_fill(&rng, iv, sizeof(iv));
        xs_fill(&rng, l, sizeof(l));
        assert_int_equal(srm_link_dir_new(k, iv, l, &tx), 0);
        assert_int_equal(srm_link_dir_new(k, iv, l, &rx), 0);
        srm_link_dir_set_seq(tx, seq);
        srm_link_dir_set_seq(rx, seq);
        for (r = 0; r < 300; r++, seq++) {
            /* mostly small records, the relay's case; sometimes up to 5000 bytes */
            n = (size_t)(xs_next(&rng) % (r % 10 == 9 ? 5000u : 300u));
            xs_fill(&rng, pt, n);
            assert_true(srm_link_dir_seq(tx) == seq);
            ref_seal(k, iv, l, seq, pt, n, ref);
            assert_int_equal(srm_link_dir_seal(tx, pt, n, rec), 0);
            assert_memory_equal(rec, ref, n + 16);
            /* the reference accepts ours, and a forged copy is refused by both */
            assert_int_equal(ref_open(k, iv, l, seq, rec, n + 16, dec), 1);
            if (r % 7 == 3) {
                rec[xs_next(&rng) % (n + 16)] ^= (uint8_t)(1u << (xs_next(&rng) % 8));
                assert_int_equal(ref_open(k, iv, l, seq, rec, n + 16, dec), 0);
                assert_int_equal(srm_link_dir_open(rx, rec, n + 16, dec), SRM_ERR_BAD_MAC);
                memcpy(rec, ref, n + 16);
            }
            /* the genuine record still opens after a failure, in place or not */
            if (r % 2 == 0) {
                assert_int_equal(srm_link_dir_open(rx, rec, n + 16, dec), 0);
                if (n != 0) {
                    assert_memory_equal(dec, pt, n);
                }
            } else {
                assert_int_equal(srm_link_dir_open(rx, rec, n + 16, rec), 0);
                if (n != 0) {
                    assert_memory_equal(rec, pt, n);
                }
            }
            /* one direction object used both ways: its scratch must not leak between them */
            if (r % 11 == 5) {
                uint64_t tseq = srm_link_dir_seq(tx);

                srm_link_dir_set_seq(tx, seq);
                assert_int_equal(srm_link_dir_open(tx, ref, n + 16, dec), 0);
                assert_true(srm_link_dir_seq(tx) == tseq);
            }
        }
        srm_link_dir_free(tx);
        srm_link_dir_free(rx);
    }
    free(pt);
    free(rec);
    free(ref);
    free(dec);
}

/* Group setups: every test runs once per AES-GCM implementation of link.c. */
static int use_evp(void **state)
{
    (void)state;
    want_impl = SRM_LINK_IMPL_EVP;
    return srm_link_set_impl(SRM_LINK_IMPL_EVP);
}

static int use_own(void **state)
{
    (void)state;
    want_impl = SRM_LINK_IMPL_OWN;
    return srm_link_set_impl(SRM_LINK_IMPL_OWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_drop_reorder_replay),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_wrong_key_iv_linkid),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_link_roles_and_frames),
        cmocka_unit_test(test_differential_vectors),
        cmocka_unit_test(test_differential_random),
    };

    int rc = cmocka_run_group_tests_name("link records on OpenSSL EVP", tests, use_evp, NULL);

    if (srm_gcm_supported()) {
        rc |= cmocka_run_group_tests_name("link records on our AES-GCM (AES-NI)", tests, use_own,
                                          NULL);
    } else {
        printf("[  SKIPPED ] link records on our AES-GCM: this CPU has no AES-NI or PCLMULQDQ, "
               "so link.c uses EVP only\n");
    }
    return rc;
}
