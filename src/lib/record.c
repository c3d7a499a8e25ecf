/* SPDX-License-Identifier: MIT */
/*
 * record.c: the end-to-end message record of DESIGN.md section 3a.
 *
 *   seal: seq || iv || (pt XOR keystream) || tag, written straight into the
 *         caller's srm_buf (the ciphertext is produced in place, no copy).
 *   open: 1. length   2. seq == next expected   3. tag (constant time)
 *         4. decrypt   5. seq++  -- so a forged, replayed or reordered record
 *         never reaches the XOR and never changes the state.
 *
 * Speed: a 64 KiB record costs 2049 HMACs, so HMAC key set-up must not be
 * paid per call.  Each key's SHA-256 state after absorbing key ^ ipad and
 * key ^ opad (RFC 2104) is computed once in srm_record_new(); every HMAC then
 * copies those states into one scratch context (also allocated once) with
 * EVP_MD_CTX_copy_ex, so a keystream block is exactly two SHA-256
 * compressions.  tests/unit/test_record.c checks this HMAC against EVP_MAC.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/record.h"
#include "srm/wire.h"

#define HMAC_BLOCK   64u /* SHA-256 block size */
#define HMAC_LEN     32u
#define KS_INPUT_LEN (SRM_RECORD_IV_LEN + 4u) /* iv || u32be(i) */

/* One HMAC-SHA256 key as its two precomputed digest states. */
struct hmac_key {
    EVP_MD_CTX *inner; /* SHA-256 after absorbing key ^ ipad */
    EVP_MD_CTX *outer; /* SHA-256 after absorbing key ^ opad */
};

struct srm_record {
    struct hmac_key enc;
    struct hmac_key mac;
    EVP_MD_CTX *work; /* scratch for every HMAC; allocated once */
    uint8_t session_id[SRM_RECORD_SID_LEN];
    uint64_t seq;
};

static int hmac_key_init(struct hmac_key *k, const EVP_MD *md,
                         const uint8_t key[SRM_RECORD_KEY_LEN]);
static void hmac_key_free(struct hmac_key *k);
static int hmac_start(struct srm_record *r, const struct hmac_key *k);
static int hmac_update(struct srm_record *r, const uint8_t *p, size_t n);
static int hmac_finish(struct srm_record *r, const struct hmac_key *k, uint8_t out[HMAC_LEN]);
static int keystream_xor(struct srm_record *r, const uint8_t iv[SRM_RECORD_IV_LEN],
                         const uint8_t *in, uint8_t *out, size_t n);
static int compute_tag(struct srm_record *r, uint64_t seq, const uint8_t iv[SRM_RECORD_IV_LEN],
                       const uint8_t *ct, size_t n, uint8_t tag[SRM_RECORD_TAG_LEN]);

int srm_record_new(const uint8_t k_enc[SRM_RECORD_KEY_LEN], const uint8_t k_mac[SRM_RECORD_KEY_LEN],
                   const uint8_t session_id[SRM_RECORD_SID_LEN], struct srm_record **out)
{
    int rc = SRM_ERR_INTERNAL;
    struct srm_record *r = NULL;
    EVP_MD *md = NULL;

    if (out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (k_enc == NULL || k_mac == NULL || session_id == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        rc = SRM_ERR_ALLOC;
        goto out;
    }
    if ((md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        rc = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if ((rc = hmac_key_init(&r->enc, md, k_enc)) != 0 ||
        (rc = hmac_key_init(&r->mac, md, k_mac)) != 0) {
        goto out;
    }
    if ((r->work = EVP_MD_CTX_new()) == NULL) {
        rc = SRM_ERR_ALLOC;
        goto out;
    }
    memcpy(r->session_id, session_id, SRM_RECORD_SID_LEN);
    r->seq = 0;
    *out = r;
    r = NULL;
    rc = 0;
out:
    EVP_MD_free(md);
    srm_record_free(r);
    return rc;
}

/* Absorb key ^ ipad and key ^ opad once; the digest contexts keep the state. */
static int hmac_key_init(struct hmac_key *k, const EVP_MD *md,
                         const uint8_t key[SRM_RECORD_KEY_LEN])
{
    int rc = SRM_ERR_LIBCRYPTO;
    uint8_t pad[HMAC_BLOCK];
    size_t i;

    /* A 32-byte key is shorter than the block, so it is zero-padded, not hashed. */
    memset(pad, 0x36, sizeof(pad));
    for (i = 0; i < SRM_RECORD_KEY_LEN; i++) {
        pad[i] ^= key[i];
    }
    if ((k->inner = EVP_MD_CTX_new()) == NULL || (k->outer = EVP_MD_CTX_new()) == NULL) {
        rc = SRM_ERR_ALLOC;
        goto out;
    }
    if (EVP_DigestInit_ex2(k->inner, md, NULL) != 1 ||
        EVP_DigestUpdate(k->inner, pad, sizeof(pad)) != 1) {
        goto out;
    }
    for (i = 0; i < sizeof(pad); i++) {
        pad[i] ^= 0x36 ^ 0x5c;
    }
    if (EVP_DigestInit_ex2(k->outer, md, NULL) != 1 ||
        EVP_DigestUpdate(k->outer, pad, sizeof(pad)) != 1) {
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(pad, sizeof(pad));
    return rc;
}

void srm_record_free(struct srm_record *r)
{
    if (r == NULL) {
        return;
    }
    /* The digest providers clear their state when their contexts are freed. */
    hmac_key_free(&r->enc);
    hmac_key_free(&r->mac);
    EVP_MD_CTX_free(r->work);
    OPENSSL_clear_free(r, sizeof(*r));
}

static void hmac_key_free(struct hmac_key *k)
{
    EVP_MD_CTX_free(k->inner);
    EVP_MD_CTX_free(k->outer);
    k->inner = NULL;
    k->outer = NULL;
}

uint64_t srm_record_seq(const struct srm_record *r)
{
    return r == NULL ? 0 : r->seq;
}

void srm_record_set_seq(struct srm_record *r, uint64_t seq)
{
    if (r != NULL) {
        r->seq = seq;
    }
}

int srm_record_seal(struct srm_record *r, const uint8_t *pt, size_t n, struct srm_buf *out)
{
    uint8_t iv[SRM_RECORD_IV_LEN];
    int rc;

    if (RAND_bytes(iv, (int)sizeof(iv)) != 1) {
        return SRM_ERR_LIBCRYPTO;
    }
    rc = srm_record_seal_iv(r, iv, pt, n, out);
    OPENSSL_cleanse(iv, sizeof(iv));
    return rc;
}

int srm_record_seal_iv(struct srm_record *r, const uint8_t iv[SRM_RECORD_IV_LEN], const uint8_t *pt,
                       size_t n, struct srm_buf *out)
{
    int rc = SRM_ERR_INTERNAL;
    struct srm_buf w;
    uint8_t *rec = NULL, *ct = NULL, *tag = NULL;
    size_t total;

    if (r == NULL || iv == NULL || out == NULL || (pt == NULL && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    if (n > SRM_RECORD_MAX_PT) {
        return SRM_ERR_TOO_LARGE;
    }
    if (r->seq >= SRM_RECORD_SEQ_LIMIT) {
        return SRM_ERR_SEQ_EXHAUSTED;
    }
    total = SRM_RECORD_OVERHEAD + n;
    /* Reserve the whole record first, so a failure leaves out as it was. */
    if (srm_buf_reserve(out, total, &rec) != 0) {
        return SRM_ERR_NO_SPACE;
    }
    srm_buf_init_write(&w, rec, total);
    if (srm_buf_put_u64(&w, r->seq) != 0 || srm_buf_put_bytes(&w, iv, SRM_RECORD_IV_LEN) != 0 ||
        srm_buf_reserve(&w, n, &ct) != 0 || srm_buf_reserve(&w, SRM_RECORD_TAG_LEN, &tag) != 0) {
        rc = SRM_ERR_INTERNAL;
        goto out;
    }
    if ((rc = keystream_xor(r, iv, pt, ct, n)) != 0 ||
        (rc = compute_tag(r, r->seq, iv, ct, n, tag)) != 0) {
        goto out;
    }
    r->seq++;
    rc = 0;
out:
    if (rc != 0) {
        OPENSSL_cleanse(rec, total);
        out->len -= total;
    }
    return rc;
}

/* HMAC over a message given in pieces: start, update..., finish. */
static int hmac_start(struct srm_record *r, const struct hmac_key *k)
{
    return EVP_MD_CTX_copy_ex(r->work, k->inner) == 1 ? 0 : SRM_ERR_LIBCRYPTO;
}

static int hmac_update(struct srm_record *r, const uint8_t *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    return EVP_DigestUpdate(r->work, p, n) == 1 ? 0 : SRM_ERR_LIBCRYPTO;
}

static int hmac_finish(struct srm_record *r, const struct hmac_key *k, uint8_t out[HMAC_LEN])
{
    int rc = SRM_ERR_LIBCRYPTO;
    uint8_t ih[HMAC_LEN];
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(r->work, ih, &len) != 1 || len != HMAC_LEN) {
        goto out;
    }
    if (EVP_MD_CTX_copy_ex(r->work, k->outer) != 1 || EVP_DigestUpdate(r->work, ih, len) != 1 ||
        EVP_DigestFinal_ex(r->work, out, &len) != 1 || len != HMAC_LEN) {
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(ih, sizeof(ih));
    return rc;
}

/* out = in XOR (HMAC(k_enc, iv || u32be(0)) || HMAC(k_enc, iv || u32be(1)) || ...). */
static int keystream_xor(struct srm_record *r, const uint8_t iv[SRM_RECORD_IV_LEN],
                         const uint8_t *in, uint8_t *out, size_t n)
{
    int rc = 0;
    uint8_t block[KS_INPUT_LEN];
    uint8_t ks[HMAC_LEN];
    struct srm_buf w;
    size_t off, take, j;
    uint32_t i;

    memcpy(block, iv, SRM_RECORD_IV_LEN);
    /* n <= SRM_RECORD_MAX_PT, so the block counter stays far below 2^32. */
    for (off = 0, i = 0; off < n; off += take, i++) {
        srm_buf_init_write(&w, block + SRM_RECORD_IV_LEN, 4);
        if (srm_buf_put_u32(&w, i) != 0) {
            rc = SRM_ERR_INTERNAL;
            break;
        }
        if ((rc = hmac_start(r, &r->enc)) != 0 ||
            (rc = hmac_update(r, block, sizeof(block))) != 0 ||
            (rc = hmac_finish(r, &r->enc, ks)) != 0) {
            break;
        }
        take = n - off < HMAC_LEN ? n - off : HMAC_LEN;
        /* Byte by byte at the same index, so in == out (in place) is safe. */
        for (j = 0; j < take; j++) {
            out[off + j] = (uint8_t)(in[off + j] ^ ks[j]);
        }
    }
    OPENSSL_cleanse(ks, sizeof(ks));
    return rc;
}

/* tag = HMAC(k_mac, iv || ct || session_id || u64be(seq)) */
static int compute_tag(struct srm_record *r, uint64_t seq, const uint8_t iv[SRM_RECORD_IV_LEN],
                       const uint8_t *ct, size_t n, uint8_t tag[SRM_RECORD_TAG_LEN])
{
    int rc;
    uint8_t seqbe[SRM_RECORD_SEQ_LEN];
    struct srm_buf w;

    srm_buf_init_write(&w, seqbe, sizeof(seqbe));
    if (srm_buf_put_u64(&w, seq) != 0) {
        return SRM_ERR_INTERNAL;
    }
    if ((rc = hmac_start(r, &r->mac)) != 0 || (rc = hmac_update(r, iv, SRM_RECORD_IV_LEN)) != 0 ||
        (rc = hmac_update(r, ct, n)) != 0 ||
        (rc = hmac_update(r, r->session_id, SRM_RECORD_SID_LEN)) != 0 ||
        (rc = hmac_update(r, seqbe, sizeof(seqbe))) != 0 ||
        (rc = hmac_finish(r, &r->mac, tag)) != 0) {
        return rc;
    }
    return 0;
}

int srm_record_open(struct srm_record *r, const uint8_t *rec, size_t n, uint8_t *pt, size_t ptcap,
                    size_t *ptlen)
{
    int rc = SRM_ERR_INTERNAL;
    struct srm_buf b;
    uint64_t seq;
    const uint8_t *iv = NULL, *ct = NULL, *tag = NULL;
    uint8_t want[SRM_RECORD_TAG_LEN];
    size_t ctlen;

    if (r == NULL || ptlen == NULL || (rec == NULL && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    *ptlen = 0;
    /* 1. length */
    if (n < SRM_RECORD_OVERHEAD || n > SRM_RECORD_MAX) {
        return SRM_ERR_MALFORMED;
    }
    ctlen = n - SRM_RECORD_OVERHEAD;
    if (ctlen > ptcap || (pt == NULL && ctlen != 0)) {
        return SRM_ERR_NO_SPACE;
    }
    srm_buf_init_read(&b, rec, n);
    if (srm_buf_get_u64(&b, &seq) != 0 || srm_buf_get_view(&b, SRM_RECORD_IV_LEN, &iv) != 0 ||
        srm_buf_get_view(&b, ctlen, &ct) != 0 ||
        srm_buf_get_view(&b, SRM_RECORD_TAG_LEN, &tag) != 0 || srm_buf_expect_end(&b) != 0) {
        return SRM_ERR_MALFORMED;
    }
    /* 2. strictly the next sequence number; the counter never wraps. */
    if (r->seq >= SRM_RECORD_SEQ_LIMIT) {
        return SRM_ERR_SEQ_EXHAUSTED;
    }
    if (seq != r->seq) {
        return SRM_ERR_REPLAY;
    }
    /* 3. tag, in constant time, before touching the ciphertext */
    if ((rc = compute_tag(r, seq, iv, ct, ctlen, want)) != 0) {
        goto out;
    }
    if (CRYPTO_memcmp(want, tag, SRM_RECORD_TAG_LEN) != 0) {
        rc = SRM_ERR_BAD_MAC;
        goto out;
    }
    /* 4. decrypt */
    if ((rc = keystream_xor(r, iv, ct, pt, ctlen)) != 0) {
        OPENSSL_cleanse(pt, ctlen);
        goto out;
    }
    /* 5. commit */
    *ptlen = ctlen;
    r->seq++;
    rc = 0;
out:
    OPENSSL_cleanse(want, sizeof(want));
    return rc;
}
