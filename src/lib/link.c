/* SPDX-License-Identifier: MIT */
/*
 * link.c: the client<->relay link record of DESIGN.md section 3b.
 *
 *   link_record = AES-256-GCM(key_dir, nonce = iv_dir || u64be(seq),
 *                             aad = link_id || u64be(seq), pt) || tag(16)
 *
 * The sequence number is never sent: each side counts per direction, so a
 * replayed, dropped, reordered or forged record simply fails the tag and the
 * link ends.  The relay opens and seals every message, so the AES key
 * schedule is run once per direction in srm_link_dir_new() and each record
 * only sets the nonce on the already keyed EVP_CIPHER_CTX.
 *
 * A direction keeps one keyed context for sealing and one for opening: a
 * struct srm_link_dir does not know which way it will be used (tests use
 * both), and switching one context between encrypt and decrypt would re-run
 * the initialisation we are avoiding.
 *
 * Per record, OpenSSL 3.0's generic calls cost more than the AES-GCM work
 * on a small record (docs/BENCHMARKS.md, section "link"): EVP_*Init_ex2 with
 * only a nonce asks the provider for the IV length through a parameter
 * lookup on every call, and EVP_CIPHER_CTX_ctrl translates each tag request
 * into a parameter array.  So each record talks to the provider directly
 * through OSSL_PARAM arrays (built on the stack: a few stores, where a copy
 * in struct srm_link_dir would cost every client ~300 bytes per direction):
 *
 *   seal: set_params{nonce}  update(aad)  update(pt)  final  get_params{tag}
 *   open: set_params{tag, nonce}  update(aad)  update(ct)  final
 *
 * The nonce goes in as OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED with length -1,
 * which the GCM provider defines as "set the whole IV" (the
 * EVP_CTRL_GCM_SET_IV_FIXED, -1 case; with -1 no random part is drawn).  The
 * expected tag may be set before the ciphertext: GCM keeps it until final.
 * The bytes are exactly those of the plain EVP sequence; test_link compares
 * both on every vector and on random records.
 *
 * Even so, OpenSSL's parameter lookups and dispatch cost more than the AES
 * and GHASH of a 256-byte record, so where the CPU has AES-NI and PCLMULQDQ
 * a direction uses our own AES-256-GCM instead (gcm.h: one expanded key
 * serves both ways, no EVP context at all); srm_link_set_impl() forces
 * either, and test_link runs every test on both.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/gcm.h"
#include "srm/kdf.h"
#include "srm/link.h"
#include "srm/wire.h"

#define NONCE_LEN (SRM_LINK_IV_LEN + 8u) /* iv_dir || u64be(seq) = 12 */
#define AAD_LEN   (SRM_LINK_ID_LEN + 8u) /* link_id || u64be(seq) */
/* The nonce counter must never repeat: refuse once it would wrap. */
#define LINK_SEQ_LIMIT UINT64_MAX

struct srm_link_dir {
    struct srm_gcm *gcm; /* ours (SRM_LINK_IMPL_OWN), or NULL: */
    EVP_CIPHER_CTX *enc; /* keyed once, for sealing */
    EVP_CIPHER_CTX *dec; /* keyed once, for opening */
    uint64_t seq;
    /* Prefilled once; per record only the u64be(seq) tails are written. */
    uint8_t nonce[NONCE_LEN]; /* iv_dir fixed, u64be(seq) written per record */
    uint8_t aad[AAD_LEN];     /* link_id fixed, u64be(seq) written per record */
};

static void put_seq(struct srm_link_dir *d);
static OSSL_PARAM nonce_param(struct srm_link_dir *d);
static int dir_key_evp(struct srm_link_dir *d, const uint8_t key[SRM_LINK_KEY_LEN]);

static enum srm_link_impl link_impl = SRM_LINK_IMPL_AUTO;

int srm_link_set_impl(enum srm_link_impl impl)
{
    switch (impl) {
    case SRM_LINK_IMPL_OWN:
        if (!srm_gcm_supported()) {
            return SRM_ERR_BAD_STATE;
        }
        break;
    case SRM_LINK_IMPL_AUTO:
    case SRM_LINK_IMPL_EVP:
        break;
    default:
        return SRM_ERR_INVALID_ARG;
    }
    link_impl = impl;
    return 0;
}

enum srm_link_impl srm_link_dir_impl(const struct srm_link_dir *d)
{
    return d != NULL && d->gcm != NULL ? SRM_LINK_IMPL_OWN : SRM_LINK_IMPL_EVP;
}

int srm_link_dir_new(const uint8_t key[SRM_LINK_KEY_LEN], const uint8_t iv[SRM_LINK_IV_LEN],
                     const uint8_t link_id[SRM_LINK_ID_LEN], struct srm_link_dir **out)
{
    int rc = SRM_ERR_INTERNAL;
    struct srm_link_dir *d = NULL;

    if (out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (key == NULL || iv == NULL || link_id == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL) {
        rc = SRM_ERR_ALLOC;
        goto out;
    }
    if (link_impl == SRM_LINK_IMPL_OWN ||
        (link_impl == SRM_LINK_IMPL_AUTO && srm_gcm_supported())) {
        if ((d->gcm = calloc(1, sizeof(*d->gcm))) == NULL) {
            rc = SRM_ERR_ALLOC;
            goto out;
        }
        rc = srm_gcm_init(d->gcm, key);
    } else {
        rc = dir_key_evp(d, key);
    }
    if (rc != 0) {
        goto out;
    }
    memcpy(d->nonce, iv, SRM_LINK_IV_LEN);
    memcpy(d->aad, link_id, SRM_LINK_ID_LEN);
    d->seq = 0;
    *out = d;
    d = NULL;
out:
    srm_link_dir_free(d);
    return rc;
}

/* One keyed context each way; the nonce is set per record. */
static int dir_key_evp(struct srm_link_dir *d, const uint8_t key[SRM_LINK_KEY_LEN])
{
    int rc = SRM_ERR_LIBCRYPTO;
    EVP_CIPHER *cipher = NULL;
    size_t ivlen = NONCE_LEN;
    OSSL_PARAM params[2];

    if ((d->enc = EVP_CIPHER_CTX_new()) == NULL || (d->dec = EVP_CIPHER_CTX_new()) == NULL) {
        return SRM_ERR_ALLOC;
    }
    if ((cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL) {
        return SRM_ERR_LIBCRYPTO;
    }
    params[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_EncryptInit_ex2(d->enc, cipher, key, NULL, params) == 1 &&
        EVP_DecryptInit_ex2(d->dec, cipher, key, NULL, params) == 1) {
        rc = 0;
    }
    EVP_CIPHER_free(cipher);
    return rc;
}

void srm_link_dir_free(struct srm_link_dir *d)
{
    if (d == NULL) {
        return;
    }
    /* EVP_CIPHER_CTX_free clears the key schedule; ours is wiped here. */
    srm_gcm_wipe(d->gcm);
    free(d->gcm);
    EVP_CIPHER_CTX_free(d->enc);
    EVP_CIPHER_CTX_free(d->dec);
    OPENSSL_clear_free(d, sizeof(*d));
}

uint64_t srm_link_dir_seq(const struct srm_link_dir *d)
{
    return d == NULL ? 0 : d->seq;
}

void srm_link_dir_set_seq(struct srm_link_dir *d, uint64_t seq)
{
    if (d != NULL) {
        d->seq = seq;
    }
}

/* nonce = iv_dir || u64be(seq), aad = link_id || u64be(seq): only the seq part changes. */
static void put_seq(struct srm_link_dir *d)
{
    size_t i;

    /* Our own fixed-size arrays, not untrusted input: plain big-endian stores. */
    for (i = 0; i < 8; i++) {
        d->nonce[SRM_LINK_IV_LEN + i] = (uint8_t)(d->seq >> (56 - 8 * i));
        d->aad[SRM_LINK_ID_LEN + i] = d->nonce[SRM_LINK_IV_LEN + i];
    }
}

/*
 * (size_t)-1: the whole 12-byte IV (see the comment at the top), no random
 * part.  The OSSL_PARAM_* initialiser macros, not OSSL_PARAM_construct_*():
 * those are calls into libcrypto, about 150 instructions per record.
 */
static OSSL_PARAM nonce_param(struct srm_link_dir *d)
{
    return (OSSL_PARAM)OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, d->nonce,
                                               (size_t)-1);
}

int srm_link_dir_seal(struct srm_link_dir *d, const uint8_t *pt, size_t n, uint8_t *out)
{
    int rc = SRM_ERR_LIBCRYPTO;
    uint8_t fin[EVP_MAX_BLOCK_LENGTH];
    OSSL_PARAM set_nonce[2], get_tag[2];
    int outl = 0;

    if (d == NULL || out == NULL || (pt == NULL && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    if (n > SRM_LINK_MAX_PT) {
        return SRM_ERR_TOO_LARGE;
    }
    if (d->seq >= LINK_SEQ_LIMIT) {
        return SRM_ERR_SEQ_EXHAUSTED;
    }
    put_seq(d);
    if (d->gcm != NULL) {
        /* The tag goes straight behind the ciphertext. */
        rc = srm_gcm_seal(d->gcm, d->nonce, d->aad, sizeof(d->aad), pt, n, out, out + n);
        if (rc == 0) {
            d->seq++;
        }
        goto out;
    }
    set_nonce[0] = nonce_param(d);
    set_nonce[1] = (OSSL_PARAM)OSSL_PARAM_END;
    /* The tag goes straight behind the ciphertext. */
    get_tag[0] =
        (OSSL_PARAM)OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out + n, SRM_LINK_TAG_LEN);
    get_tag[1] = (OSSL_PARAM)OSSL_PARAM_END;
    if (EVP_CIPHER_CTX_set_params(d->enc, set_nonce) != 1 ||
        EVP_EncryptUpdate(d->enc, NULL, &outl, d->aad, (int)sizeof(d->aad)) != 1) {
        goto out;
    }
    /* GCM is a stream mode: all n bytes come out of Update, out == pt allowed. */
    if (n != 0 && (EVP_EncryptUpdate(d->enc, out, &outl, pt, (int)n) != 1 || outl != (int)n)) {
        goto out;
    }
    if (EVP_EncryptFinal_ex(d->enc, fin, &outl) != 1 || outl != 0 ||
        EVP_CIPHER_CTX_get_params(d->enc, get_tag) != 1) {
        goto out;
    }
    d->seq++;
    rc = 0;
out:
    if (rc != 0) {
        OPENSSL_cleanse(out, n + SRM_LINK_TAG_LEN);
    }
    return rc;
}

int srm_link_dir_open(struct srm_link_dir *d, const uint8_t *rec, size_t n, uint8_t *pt)
{
    int rc = SRM_ERR_LIBCRYPTO;
    uint8_t fin[EVP_MAX_BLOCK_LENGTH], tag[SRM_LINK_TAG_LEN];
    OSSL_PARAM set_tag_nonce[3];
    const uint8_t *ct = NULL;
    struct srm_buf b;
    size_t ctlen = 0;
    int outl = 0;

    if (d == NULL || rec == NULL || (pt == NULL && n > SRM_LINK_TAG_LEN)) {
        return SRM_ERR_INVALID_ARG;
    }
    if (n < SRM_LINK_TAG_LEN || n - SRM_LINK_TAG_LEN > SRM_LINK_MAX_PT) {
        return SRM_ERR_MALFORMED;
    }
    ctlen = n - SRM_LINK_TAG_LEN;
    srm_buf_init_read(&b, rec, n);
    /* The tag is copied out because pt may overwrite rec. */
    if (srm_buf_get_view(&b, ctlen, &ct) != 0 || srm_buf_get_bytes(&b, tag, sizeof(tag)) != 0 ||
        srm_buf_expect_end(&b) != 0) {
        return SRM_ERR_MALFORMED;
    }
    if (d->seq >= LINK_SEQ_LIMIT) {
        return SRM_ERR_SEQ_EXHAUSTED;
    }
    put_seq(d);
    if (d->gcm != NULL) {
        /* It checks the tag before it writes pt; pt is still wiped on failure, as below. */
        rc = srm_gcm_open(d->gcm, d->nonce, d->aad, sizeof(d->aad), ct, ctlen, tag, pt);
        if (rc == 0) {
            d->seq++;
        }
        goto out;
    }
    /* Expected tag and nonce in one call; GCM keeps the tag and checks it in final. */
    set_tag_nonce[0] =
        (OSSL_PARAM)OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, sizeof(tag));
    set_tag_nonce[1] = nonce_param(d);
    set_tag_nonce[2] = (OSSL_PARAM)OSSL_PARAM_END;
    if (EVP_CIPHER_CTX_set_params(d->dec, set_tag_nonce) != 1 ||
        EVP_DecryptUpdate(d->dec, NULL, &outl, d->aad, (int)sizeof(d->aad)) != 1) {
        goto out;
    }
    if (ctlen != 0 &&
        (EVP_DecryptUpdate(d->dec, pt, &outl, ct, (int)ctlen) != 1 || outl != (int)ctlen)) {
        goto out;
    }
    switch (EVP_DecryptFinal_ex(d->dec, fin, &outl)) {
    case 1:
        break;
    default:
        /* 0 is a wrong tag; anything else we treat the same way: reject. */
        rc = SRM_ERR_BAD_MAC;
        goto out;
    }
    d->seq++;
    rc = 0;
out:
    if (rc != 0 && ctlen != 0) {
        /* Unauthenticated plaintext must never be seen. */
        OPENSSL_cleanse(pt, ctlen);
    }
    return rc;
}

int srm_link_new(const struct srm_link_keys *k, enum srm_link_role role, struct srm_link **out)
{
    int rc = SRM_ERR_INTERNAL;
    struct srm_link *l = NULL;
    const uint8_t *tx_key, *tx_iv, *rx_key, *rx_iv;

    if (out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (k == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    switch (role) {
    case SRM_LINK_CLIENT:
        tx_key = k->key_c2r;
        tx_iv = k->iv_c2r;
        rx_key = k->key_r2c;
        rx_iv = k->iv_r2c;
        break;
    case SRM_LINK_RELAY:
        tx_key = k->key_r2c;
        tx_iv = k->iv_r2c;
        rx_key = k->key_c2r;
        rx_iv = k->iv_c2r;
        break;
    default:
        return SRM_ERR_INVALID_ARG;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL) {
        rc = SRM_ERR_ALLOC;
        goto out;
    }
    if ((rc = srm_link_dir_new(tx_key, tx_iv, k->link_id, &l->tx)) != 0 ||
        (rc = srm_link_dir_new(rx_key, rx_iv, k->link_id, &l->rx)) != 0) {
        goto out;
    }
    *out = l;
    l = NULL;
    rc = 0;
out:
    srm_link_free(l);
    return rc;
}

void srm_link_free(struct srm_link *l)
{
    if (l == NULL) {
        return;
    }
    srm_link_dir_free(l->tx);
    srm_link_dir_free(l->rx);
    free(l);
}

int srm_link_seal_frame(struct srm_link *l, const uint8_t *pt, size_t n, struct srm_buf *out)
{
    int rc = SRM_ERR_INTERNAL;
    struct srm_buf w;
    uint8_t *frame = NULL, *rec = NULL;
    size_t total;

    if (l == NULL || l->tx == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if (n > SRM_LINK_MAX_PT) {
        return SRM_ERR_TOO_LARGE;
    }
    total = SRM_WIRE_FRAME_HDR + n + SRM_LINK_TAG_LEN;
    /* Reserve the whole frame first, so a failure leaves out as it was. */
    if (srm_buf_reserve(out, total, &frame) != 0) {
        return SRM_ERR_NO_SPACE;
    }
    srm_buf_init_write(&w, frame, total);
    /* len counts type + body */
    if (srm_buf_put_u32(&w, (uint32_t)(1u + n + SRM_LINK_TAG_LEN)) != 0 ||
        srm_buf_put_u8(&w, SRM_FRAME_LINK) != 0 ||
        srm_buf_reserve(&w, n + SRM_LINK_TAG_LEN, &rec) != 0) {
        rc = SRM_ERR_INTERNAL;
        goto out;
    }
    if ((rc = srm_link_dir_seal(l->tx, pt, n, rec)) != 0) {
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        OPENSSL_cleanse(frame, total);
        out->len -= total;
    }
    return rc;
}

int srm_link_open_body(struct srm_link *l, uint8_t *body, size_t n, const uint8_t **pt,
                       size_t *ptlen)
{
    int rc;

    if (l == NULL || l->rx == NULL || body == NULL || pt == NULL || ptlen == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    *pt = NULL;
    *ptlen = 0;
    if ((rc = srm_link_dir_open(l->rx, body, n, body)) != 0) {
        return rc;
    }
    *pt = body;
    *ptlen = n - SRM_LINK_TAG_LEN;
    return 0;
}
