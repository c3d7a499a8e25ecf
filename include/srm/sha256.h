/* SPDX-License-Identifier: MIT */
/*
 * sha256.h: our own SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), used
 * only where the record layer needs speed that the generic OpenSSL
 * interfaces cannot give (docs/BENCHMARKS.md has the measurements).
 *
 * The block function is x86-64 SHA extensions when the CPU has them, a
 * portable C one otherwise; the choice is made at init and kept in the
 * state, so there is no global.  tests/unit/test_sha256.c and
 * tests/fuzz/fuzz_sha256.c check both block functions against OpenSSL's
 * EVP_Digest and EVP_MAC.  Everything else in libsrm uses OpenSSL.
 *
 * The structs are public so that callers can keep them inline (no
 * allocation per call); treat their fields as private.
 */
#ifndef SRM_SHA256_H
#define SRM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "srm/err.h"

#define SRM_SHA256_LEN       32u
#define SRM_SHA256_BLOCK_LEN 64u
#define SRM_HMAC_CTR_IV_LEN  16u /* the prefix of srm_hmac_ctr's message */

/* Which block function a state uses (AUTO: the fastest this CPU runs). */
enum srm_sha256_impl {
    SRM_SHA256_AUTO = 0,
    SRM_SHA256_PORTABLE = 1,
    SRM_SHA256_SHANI = 2,
};

struct srm_sha256 {
    uint32_t h[8];
    uint64_t nbytes; /* bytes absorbed so far, buffered ones included */
    uint8_t buf[SRM_SHA256_BLOCK_LEN];
    size_t buflen;
    enum srm_sha256_impl impl; /* resolved: PORTABLE or SHANI */
};

/* One HMAC-SHA256 key as its two precomputed states. */
struct srm_hmac_key {
    struct srm_sha256 inner; /* after absorbing key ^ ipad */
    struct srm_sha256 outer; /* after absorbing key ^ opad */
};

/* One HMAC in progress (streaming). */
struct srm_hmac {
    struct srm_sha256 sha;
    const struct srm_hmac_key *key;
};

/* 1 if this CPU (and this build) can run the SHA-extensions block function. */
int srm_sha256_have_shani(void);

/* Start a hash with the best block function. */
void srm_sha256_init(struct srm_sha256 *st);
/* Same with a chosen block function (tests): 0, or SRM_ERR_INVALID_ARG if unknown or unsupported.
 */
SRM_MUST_USE int srm_sha256_init_impl(struct srm_sha256 *st, enum srm_sha256_impl impl);
/* Compress nblocks whole 64-byte blocks (any buffered partial block is honoured). */
void srm_sha256_blocks(struct srm_sha256 *st, const uint8_t *p, size_t nblocks);
/* Absorb n bytes (p may be NULL if n is 0). */
void srm_sha256_update(struct srm_sha256 *st, const uint8_t *p, size_t n);
/* Pad, write the digest and wipe st. */
void srm_sha256_final(struct srm_sha256 *st, uint8_t out[SRM_SHA256_LEN]);

/*
 * Precompute k's inner and outer states (keys longer than 64 bytes are
 * hashed first, as RFC 2104 says).  0 or SRM_ERR_INVALID_ARG.
 */
SRM_MUST_USE int srm_hmac_key_init(struct srm_hmac_key *k, const uint8_t *key, size_t keylen);
/* Same with a chosen block function (tests). */
SRM_MUST_USE int srm_hmac_key_init_impl(struct srm_hmac_key *k, const uint8_t *key, size_t keylen,
                                        enum srm_sha256_impl impl);
/* Wipe k (OPENSSL_cleanse). */
void srm_hmac_key_wipe(struct srm_hmac_key *k);

/*
 * HMAC(k, iv || u32be(ctr)): a 20-byte message, so exactly two compressions
 * (inner: one padded block; outer: one block over the inner hash).
 */
void srm_hmac_ctr(const struct srm_hmac_key *k, const uint8_t iv[SRM_HMAC_CTR_IV_LEN], uint32_t ctr,
                  uint8_t out[SRM_SHA256_LEN]);
/*
 * out = in XOR (HMAC(k, iv || u32be(0)) || HMAC(k, iv || u32be(1)) || ...),
 * n bytes; in == out is allowed.  n must be below 2^37 (the counter is 32
 * bits); 0 or SRM_ERR_TOO_LARGE.
 */
SRM_MUST_USE int srm_hmac_ctr_xor(const struct srm_hmac_key *k,
                                  const uint8_t iv[SRM_HMAC_CTR_IV_LEN], const uint8_t *in,
                                  uint8_t *out, size_t n);

/* Streaming HMAC: k must outlive h.  final wipes h. */
void srm_hmac_init(struct srm_hmac *h, const struct srm_hmac_key *k);
void srm_hmac_update(struct srm_hmac *h, const uint8_t *p, size_t n);
void srm_hmac_final(struct srm_hmac *h, uint8_t out[SRM_SHA256_LEN]);

#endif
