/* SPDX-License-Identifier: MIT */
/*
 * gcm.h: AES-256-GCM (NIST SP 800-38D) with a 96-bit nonce and a 128-bit
 * tag, on x86-64 AES-NI and PCLMULQDQ, below OpenSSL's EVP interface.
 *
 * Why it exists (docs/BENCHMARKS.md section 1b): the relay opens and seals
 * one link record per forwarded message, and through OpenSSL 3.0's EVP
 * interface the parameter lookups and dispatch around a 256-byte record
 * cost more than the AES and GHASH work itself.  link.c uses this when
 * srm_gcm_supported() says so and EVP otherwise; both must produce the same
 * bytes (tests/unit/test_gcm.c and tests/fuzz/fuzz_gcm.c check it against
 * EVP, tests/unit/test_wycheproof.c against Wycheproof's vectors).
 *
 * Only what the link record needs: one key size, one nonce size, one tag
 * size.  open checks the tag before it writes any plaintext, so a forged
 * record never leaves plaintext behind.
 */
#ifndef SRM_GCM_H
#define SRM_GCM_H

#include <stddef.h>
#include <stdint.h>

#include "srm/err.h"

#define SRM_GCM_KEY_LEN   32u
#define SRM_GCM_NONCE_LEN 12u
#define SRM_GCM_TAG_LEN   16u
/* Longest plaintext GCM allows with a 96-bit nonce: 2^32 - 2 blocks. */
#define SRM_GCM_MAX_LEN ((((uint64_t)1) << 36) - 32u)

/*
 * The expanded key: 15 AES-256 round keys and H^1..H^4 (GHASH's key and its
 * powers, for four blocks per reduction, in gcm.c's own representation:
 * byte-reversed and premultiplied by x^-1).  Plain bytes, so it can live
 * anywhere; wipe it with srm_gcm_wipe().
 */
struct srm_gcm {
    uint8_t rk[15][16];
    uint8_t h[4][16];
};

/* 1 if this CPU has AES-NI, PCLMULQDQ, SSSE3 and SSE4.1 (0 on other architectures). */
int srm_gcm_supported(void);

/* Expand key.  SRM_ERR_BAD_STATE if !srm_gcm_supported(), SRM_ERR_INVALID_ARG on NULL. */
SRM_MUST_USE int srm_gcm_init(struct srm_gcm *g, const uint8_t key[SRM_GCM_KEY_LEN]);

/* OPENSSL_cleanse the expanded key. */
void srm_gcm_wipe(struct srm_gcm *g);

/*
 * ct = AES-256-GCM(pt) under nonce and aad, tag = its 16-byte tag.
 * ct may equal pt (in place); no other overlap.  aad may be NULL if
 * aadlen == 0, pt and ct if n == 0.  SRM_ERR_TOO_LARGE past
 * SRM_GCM_MAX_LEN (n or aadlen), SRM_ERR_INVALID_ARG on NULL pointers,
 * SRM_ERR_BAD_STATE where srm_gcm_supported() is 0.
 */
SRM_MUST_USE int srm_gcm_seal(const struct srm_gcm *g, const uint8_t nonce[SRM_GCM_NONCE_LEN],
                              const uint8_t *aad, size_t aadlen, const uint8_t *pt, size_t n,
                              uint8_t *ct, uint8_t tag[SRM_GCM_TAG_LEN]);

/*
 * The reverse: the tag over aad and ct is checked first (CRYPTO_memcmp);
 * only if it matches is pt written.  0, or SRM_ERR_BAD_MAC with pt
 * untouched.  pt may equal ct.
 */
SRM_MUST_USE int srm_gcm_open(const struct srm_gcm *g, const uint8_t nonce[SRM_GCM_NONCE_LEN],
                              const uint8_t *aad, size_t aadlen, const uint8_t *ct, size_t n,
                              const uint8_t tag[SRM_GCM_TAG_LEN], uint8_t *pt);

#endif
