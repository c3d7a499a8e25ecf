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
 * Speed: a 64 KiB record costs 2049 HMACs, so nothing may be paid per
 * HMAC but the SHA-256 compressions.  Each key's SHA-256 state after
 * absorbing key ^ ipad and key ^ opad (RFC 2104) is computed once in
 * srm_record_new() (struct srm_hmac_key, include/srm/sha256.h); a keystream
 * block is then exactly two compressions of fixed padded blocks, two blocks
 * at a time interleaved on the SHA unit, and the tag is one streamed HMAC.
 * No allocation per call.  Why our own SHA-256 and not EVP here:
 * docs/BENCHMARKS.md (record routes); tests/unit/test_sha256.c and
 * tests/fuzz/fuzz_sha256.c check it against OpenSSL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/record.h"
#include "srm/sha256.h"
#include "srm/wire.h"

struct srm_record {
    struct srm_hmac_key enc; /* k_enc's padded states */
    struct srm_hmac_key mac; /* k_mac's padded states */
    uint8_t session_id[SRM_RECORD_SID_LEN];
    uint64_t seq;
};

static int compute_tag(const struct srm_record *r, uint64_t seq,
                       const uint8_t iv[SRM_RECORD_IV_LEN], const uint8_t *ct, size_t n,
                       uint8_t tag[SRM_RECORD_TAG_LEN]);

int srm_record_new(const uint8_t k_enc[SRM_RECORD_KEY_LEN], const uint8_t k_mac[SRM_RECORD_KEY_LEN],
                   const uint8_t session_id[SRM_RECORD_SID_LEN], struct srm_record **out)
{
    int rc = SRM_ERR_INTERNAL;
    struct srm_record *r = NULL;

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
    /* A 32-byte key is shorter than the block, so it is zero-padded, not hashed. */
    if ((rc = srm_hmac_key_init(&r->enc, k_enc, SRM_RECORD_KEY_LEN)) != 0 ||
        (rc = srm_hmac_key_init(&r->mac, k_mac, SRM_RECORD_KEY_LEN)) != 0) {
        goto out;
    }
    memcpy(r->session_id, session_id, SRM_RECORD_SID_LEN);
    r->seq = 0;
    *out = r;
    r = NULL;
    rc = 0;
out:
    srm_record_free(r);
    return rc;
}

void srm_record_free(struct srm_record *r)
{
    if (r == NULL) {
        return;
    }
    /* The key states are inside r: one wipe covers every key byte. */
    OPENSSL_clear_free(r, sizeof(*r));
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
    /* n <= SRM_RECORD_MAX_PT, far below the keystream's 2^37-byte limit. */
    if ((rc = srm_hmac_ctr_xor(&r->enc, iv, pt, ct, n)) != 0 ||
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

/* tag = HMAC(k_mac, iv || ct || session_id || u64be(seq)) */
static int compute_tag(const struct srm_record *r, uint64_t seq,
                       const uint8_t iv[SRM_RECORD_IV_LEN], const uint8_t *ct, size_t n,
                       uint8_t tag[SRM_RECORD_TAG_LEN])
{
    uint8_t seqbe[SRM_RECORD_SEQ_LEN];
    struct srm_buf w;
    struct srm_hmac h;

    srm_buf_init_write(&w, seqbe, sizeof(seqbe));
    if (srm_buf_put_u64(&w, seq) != 0) {
        return SRM_ERR_INTERNAL;
    }
    srm_hmac_init(&h, &r->mac);
    srm_hmac_update(&h, iv, SRM_RECORD_IV_LEN);
    srm_hmac_update(&h, ct, n);
    srm_hmac_update(&h, r->session_id, SRM_RECORD_SID_LEN);
    srm_hmac_update(&h, seqbe, sizeof(seqbe));
    srm_hmac_final(&h, tag);
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
    if ((rc = srm_hmac_ctr_xor(&r->enc, iv, ct, pt, ctlen)) != 0) {
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
