/* SPDX-License-Identifier: MIT */
/*
 * link.c: the `link` section of srm_bench: the client<->relay link record
 * (DESIGN.md 3b, src/lib/link.c), which the relay opens and seals once per
 * forwarded message.
 *
 * Measured in alternating short rounds (best of rounds), at 256 B and 4 KiB:
 *
 *   link.c          srm_link_dir_seal / srm_link_dir_open
 *   evp_init_ex2    the earlier link.c: per record EVP_{En,De}cryptInit_ex2
 *                   with only the nonce, the tag through EVP_CIPHER_CTX_ctrl
 *   evp_init_ex     the same with EVP_CipherInit_ex(ctx, NULL, NULL, NULL,
 *                   nonce, -1) for the nonce
 *
 * and, as the ceiling, raw AES-256-GCM through EVP on 16 KiB buffers (the
 * per-call costs spread over 16 KiB), as MB/s and as ns per 256 bytes.
 * Every route is first checked to produce the bytes of srm_link_dir_seal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "srm/err.h"
#include "srm/link.h"
#include "bench.h"

#define LINK_SIZES  2
#define CEIL_SIZE   16384u
#define LINK_ROUTES 3

enum link_route {
    LR_LINK_C,
    LR_INIT_EX2,
    LR_INIT_EX,
};

/* One route at one size: a sealing and an opening direction. */
struct lk {
    enum link_route route;
    size_t n;
    struct srm_link_dir *tx, *rx; /* LR_LINK_C */
    EVP_CIPHER_CTX *enc, *dec;    /* the EVP routes: keyed once */
    uint64_t seq_tx, seq_rx;
    uint8_t *pt, *rec, *sealed, *out;
};

static const char *const lr_names[LINK_ROUTES] = {"link.c", "evp_init_ex2", "evp_init_ex"};

static const uint8_t lk_key[32] = {0x11, 0x22, 0x33, 0x44};
static const uint8_t lk_iv[4] = {0xa0, 0xa1, 0xa2, 0xa3};
static const uint8_t lk_lid[16] = {0x51, 0x52, 0x53};

static int lk_setup(struct lk *c, enum link_route route, size_t n);
static void lk_free(struct lk *c);
static void lk_nonce_aad(uint64_t seq, uint8_t nonce[12], uint8_t aad[24]);
static int lk_evp_seal(struct lk *c, uint64_t seq, const uint8_t *pt, uint8_t *out);
static int lk_evp_open(struct lk *c, uint64_t seq, const uint8_t *rec, uint8_t *pt);
static int lk_seal_once(struct lk *c);
static int lk_open_once(struct lk *c);
static int lk_time(int (*op)(struct lk *), struct lk *c, double seconds, double *per_s);
static int ceil_once(EVP_CIPHER_CTX *ctx, uint8_t *buf, uint64_t seq);

int section_link(const struct opts *o, struct json *j)
{
    static const size_t sizes[LINK_SIZES] = {256, 4096};
    const int rounds = o->quick ? 3 : 7;
    const double slice = o->quick ? 0.05 : 0.15;
    struct lk c[LINK_ROUTES][LINK_SIZES];
    double seal[LINK_ROUTES][LINK_SIZES] = {{0}}, open_[LINK_ROUTES][LINK_SIZES] = {{0}};
    double ceil_mb = 0, v, t0, t;
    EVP_CIPHER_CTX *cctx = NULL;
    EVP_CIPHER *cipher = NULL;
    uint8_t *cbuf = NULL;
    unsigned long ops;
    uint64_t cseq = 0;
    int rc = SRM_ERR_INTERNAL, r;
    size_t i, s;

    memset(c, 0, sizeof(c));
    for (i = 0; i < LINK_ROUTES; i++) {
        for (s = 0; s < LINK_SIZES; s++) {
            if ((rc = lk_setup(&c[i][s], (enum link_route)i, sizes[s])) != 0) {
                fprintf(stderr, "error: link route %s disagrees with srm_link_dir_seal\n",
                        lr_names[i]);
                goto out;
            }
        }
    }
    rc = SRM_ERR_LIBCRYPTO;
    if ((cbuf = calloc(1, CEIL_SIZE + 16)) == NULL || (cctx = EVP_CIPHER_CTX_new()) == NULL ||
        (cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
        EVP_EncryptInit_ex2(cctx, cipher, lk_key, NULL, NULL) != 1) {
        goto out;
    }
    printf("link: %d rounds of %.0f ms slices (best of rounds)\n", rounds, slice * 1e3);
    fflush(stdout);
    for (r = 0; r < rounds; r++) {
        t0 = now();
        ops = 0;
        do {
            if ((rc = ceil_once(cctx, cbuf, cseq++)) != 0) {
                goto out;
            }
            ops++;
            t = now() - t0;
        } while (t < slice);
        v = (double)ops * CEIL_SIZE / t / 1e6;
        ceil_mb = v > ceil_mb ? v : ceil_mb;
        for (i = 0; i < LINK_ROUTES; i++) {
            for (s = 0; s < LINK_SIZES; s++) {
                if ((rc = lk_time(lk_seal_once, &c[i][s], slice, &v)) != 0) {
                    goto out;
                }
                seal[i][s] = v > seal[i][s] ? v : seal[i][s];
                if ((rc = lk_time(lk_open_once, &c[i][s], slice, &v)) != 0) {
                    goto out;
                }
                open_[i][s] = v > open_[i][s] ? v : open_[i][s];
            }
        }
    }

    printf("\n  AES-256-GCM ceiling (EVP, 16 KiB buffers)  %8.1f MB/s = %.0f ns per 256 B\n\n",
           ceil_mb, 256.0 / ceil_mb * 1e3);
    printf("  %-14s %6s  %12s  %12s  %9s  %9s\n", "route", "size", "seal rec/s", "open rec/s",
           "seal ns", "open ns");
    for (i = 0; i < LINK_ROUTES; i++) {
        for (s = 0; s < LINK_SIZES; s++) {
            printf("  %-14s %6zu  %12.0f  %12.0f  %9.0f  %9.0f\n", lr_names[i], sizes[s],
                   seal[i][s], open_[i][s], 1e9 / seal[i][s], 1e9 / open_[i][s]);
        }
    }
    printf("\n");
    if (j->f != NULL) {
        json_member(j, "link_ceiling");
        fprintf(j->f, "{\"aes_gcm_mb_s_16k\": %.1f, \"ns_per_256\": %.1f, \"rounds\": %d}", ceil_mb,
                256.0 / ceil_mb * 1e3, rounds);
        json_member(j, "link");
        fprintf(j->f, "[");
        for (i = 0; i < LINK_ROUTES; i++) {
            for (s = 0; s < LINK_SIZES; s++) {
                fprintf(j->f,
                        "%s\n    {\"route\": \"%s\", \"size\": %zu, \"seal_per_s\": %.0f, "
                        "\"open_per_s\": %.0f, \"seal_mb_s\": %.1f, \"open_mb_s\": %.1f}",
                        i + s ? "," : "", lr_names[i], sizes[s], seal[i][s], open_[i][s],
                        seal[i][s] * (double)sizes[s] / 1e6, open_[i][s] * (double)sizes[s] / 1e6);
            }
        }
        fprintf(j->f, "\n  ]");
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "error: link benchmark failed: %s\n", srm_strerror(rc));
    }
    for (i = 0; i < LINK_ROUTES; i++) {
        for (s = 0; s < LINK_SIZES; s++) {
            lk_free(&c[i][s]);
        }
    }
    EVP_CIPHER_CTX_free(cctx);
    EVP_CIPHER_free(cipher);
    free(cbuf);
    return rc;
}

/* Keyed contexts, buffers, and one record sealed at seq 0 that must equal link.c's. */
static int lk_setup(struct lk *c, enum link_route route, size_t n)
{
    struct srm_link_dir *ref = NULL;
    EVP_CIPHER *cipher = NULL;
    int rc = SRM_ERR_ALLOC;
    size_t i;

    c->route = route;
    c->n = n;
    if ((c->pt = malloc(n)) == NULL || (c->rec = malloc(n + 16)) == NULL ||
        (c->sealed = malloc(n + 16)) == NULL || (c->out = malloc(n + 16)) == NULL) {
        goto out;
    }
    for (i = 0; i < n; i++) {
        c->pt[i] = (uint8_t)(i * 7 + 3);
    }
    if ((rc = srm_link_dir_new(lk_key, lk_iv, lk_lid, &ref)) != 0 ||
        (rc = srm_link_dir_seal(ref, c->pt, n, c->sealed)) != 0) {
        goto out;
    }
    if (route == LR_LINK_C) {
        if ((rc = srm_link_dir_new(lk_key, lk_iv, lk_lid, &c->tx)) != 0 ||
            (rc = srm_link_dir_new(lk_key, lk_iv, lk_lid, &c->rx)) != 0 ||
            (rc = srm_link_dir_seal(c->tx, c->pt, n, c->rec)) != 0) {
            goto out;
        }
    } else {
        rc = SRM_ERR_LIBCRYPTO;
        if ((cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
            (c->enc = EVP_CIPHER_CTX_new()) == NULL || (c->dec = EVP_CIPHER_CTX_new()) == NULL ||
            EVP_EncryptInit_ex2(c->enc, cipher, lk_key, NULL, NULL) != 1 ||
            EVP_DecryptInit_ex2(c->dec, cipher, lk_key, NULL, NULL) != 1) {
            goto out;
        }
        if ((rc = lk_evp_seal(c, 0, c->pt, c->rec)) != 0) {
            goto out;
        }
    }
    rc = memcmp(c->rec, c->sealed, n + 16) == 0 ? 0 : SRM_ERR_INTERNAL;
out:
    srm_link_dir_free(ref);
    EVP_CIPHER_free(cipher);
    return rc;
}

static void lk_free(struct lk *c)
{
    srm_link_dir_free(c->tx);
    srm_link_dir_free(c->rx);
    EVP_CIPHER_CTX_free(c->enc);
    EVP_CIPHER_CTX_free(c->dec);
    free(c->pt);
    free(c->rec);
    free(c->sealed);
    free(c->out);
    memset(c, 0, sizeof(*c));
}

static void lk_nonce_aad(uint64_t seq, uint8_t nonce[12], uint8_t aad[24])
{
    int i;

    memcpy(nonce, lk_iv, 4);
    memcpy(aad, lk_lid, 16);
    for (i = 0; i < 8; i++) {
        nonce[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
        aad[16 + i] = nonce[4 + i];
    }
}

static int lk_evp_seal(struct lk *c, uint64_t seq, const uint8_t *pt, uint8_t *out)
{
    uint8_t nonce[12], aad[24], fin[32];
    int outl = 0, ok;

    lk_nonce_aad(seq, nonce, aad);
    ok = c->route == LR_INIT_EX2 ? EVP_EncryptInit_ex2(c->enc, NULL, NULL, nonce, NULL)
                                 : EVP_CipherInit_ex(c->enc, NULL, NULL, NULL, nonce, -1);
    if (ok != 1 || EVP_EncryptUpdate(c->enc, NULL, &outl, aad, 24) != 1 ||
        EVP_EncryptUpdate(c->enc, out, &outl, pt, (int)c->n) != 1 ||
        EVP_EncryptFinal_ex(c->enc, fin, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c->enc, EVP_CTRL_AEAD_GET_TAG, 16, out + c->n) != 1) {
        return SRM_ERR_LIBCRYPTO;
    }
    return 0;
}

static int lk_evp_open(struct lk *c, uint64_t seq, const uint8_t *rec, uint8_t *pt)
{
    uint8_t nonce[12], aad[24], fin[32], tag[16];
    int outl = 0, ok;

    memcpy(tag, rec + c->n, 16);
    lk_nonce_aad(seq, nonce, aad);
    ok = c->route == LR_INIT_EX2 ? EVP_DecryptInit_ex2(c->dec, NULL, NULL, nonce, NULL)
                                 : EVP_CipherInit_ex(c->dec, NULL, NULL, NULL, nonce, -1);
    if (ok != 1 || EVP_DecryptUpdate(c->dec, NULL, &outl, aad, 24) != 1 ||
        EVP_DecryptUpdate(c->dec, pt, &outl, rec, (int)c->n) != 1 ||
        EVP_CIPHER_CTX_ctrl(c->dec, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1) {
        return SRM_ERR_LIBCRYPTO;
    }
    switch (EVP_DecryptFinal_ex(c->dec, fin, &outl)) {
    case 1:
        return 0;
    default:
        return SRM_ERR_BAD_MAC;
    }
}

/* Seal the next record (the counter runs on, as on a live link). */
static int lk_seal_once(struct lk *c)
{
    if (c->route == LR_LINK_C) {
        return srm_link_dir_seal(c->tx, c->pt, c->n, c->out);
    }
    return lk_evp_seal(c, ++c->seq_tx, c->pt, c->out);
}

/* Open the seq-0 record again each time (rewinding the counter is free). */
static int lk_open_once(struct lk *c)
{
    if (c->route == LR_LINK_C) {
        srm_link_dir_set_seq(c->rx, 0);
        return srm_link_dir_open(c->rx, c->rec, c->n + 16, c->out);
    }
    return lk_evp_open(c, c->seq_rx, c->rec, c->out);
}

static int lk_time(int (*op)(struct lk *), struct lk *c, double seconds, double *per_s)
{
    double t0 = now(), t;
    unsigned long ops = 0;
    int rc, k;

    do {
        for (k = 0; k < 16; k++) {
            if ((rc = op(c)) != 0) {
                return rc;
            }
        }
        ops += 16;
        t = now() - t0;
    } while (t < seconds);
    *per_s = (double)ops / t;
    return 0;
}

/* Raw AES-256-GCM over one 16 KiB buffer in place, nonce set the cheapest way. */
static int ceil_once(EVP_CIPHER_CTX *ctx, uint8_t *buf, uint64_t seq)
{
    uint8_t nonce[12], aad[24], fin[32];
    int outl = 0;

    lk_nonce_aad(seq, nonce, aad);
    if (EVP_EncryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)CEIL_SIZE) != 1 ||
        EVP_EncryptFinal_ex(ctx, fin, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, buf + CEIL_SIZE) != 1) {
        return SRM_ERR_LIBCRYPTO;
    }
    return 0;
}
