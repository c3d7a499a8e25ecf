/* SPDX-License-Identifier: MIT */
/*
 * record.h: the end-to-end message record of DESIGN.md section 3a.
 *
 *   record = seq (u64be) || iv (16) || ct (n) || tag (32)     0 <= n <= 65536
 *   ks     = HMAC(k_enc, iv || u32be(0)) || HMAC(k_enc, iv || u32be(1)) || ...
 *   ct     = pt XOR ks
 *   tag    = HMAC(k_mac, iv || ct || session_id || u64be(seq))
 *
 * One struct srm_record holds one direction of one session: both HMAC keys
 * (their padded states computed once, not per block), the session ID and the
 * sequence counter.  Freeing it wipes every key byte.
 */
#ifndef SRM_RECORD_H
#define SRM_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/wire.h"

struct srm_record;

/* Set up one direction with seq 0.  0, SRM_ERR_ALLOC or SRM_ERR_LIBCRYPTO. */
SRM_MUST_USE int srm_record_new(const uint8_t k_enc[SRM_RECORD_KEY_LEN],
                                const uint8_t k_mac[SRM_RECORD_KEY_LEN],
                                const uint8_t session_id[SRM_RECORD_SID_LEN],
                                struct srm_record **out);
/* Wipe and free (NULL allowed). */
void srm_record_free(struct srm_record *r);
/* Next sequence number to seal or to accept. */
uint64_t srm_record_seq(const struct srm_record *r);
/* Set the next sequence number (known-answer tests only). */
void srm_record_set_seq(struct srm_record *r, uint64_t seq);

/*
 * Seal pt (n <= SRM_RECORD_MAX_PT) with a fresh random IV into out
 * (needs n + SRM_RECORD_OVERHEAD bytes of room); advances seq on success.
 * SRM_ERR_TOO_LARGE, SRM_ERR_NO_SPACE, SRM_ERR_SEQ_EXHAUSTED, SRM_ERR_LIBCRYPTO.
 */
SRM_MUST_USE int srm_record_seal(struct srm_record *r, const uint8_t *pt, size_t n,
                                 struct srm_buf *out);
/* Same with a caller-chosen IV (known-answer tests only). */
SRM_MUST_USE int srm_record_seal_iv(struct srm_record *r, const uint8_t iv[SRM_RECORD_IV_LEN],
                                    const uint8_t *pt, size_t n, struct srm_buf *out);
/*
 * Open rec (len n): checks the length, then that seq equals the next
 * expected (SRM_ERR_REPLAY), then the tag with CRYPTO_memcmp
 * (SRM_ERR_BAD_MAC), and only then decrypts into pt (room ptcap; *ptlen
 * receives n - 56).  On any failure nothing is written to pt and the state
 * is unchanged.  SRM_ERR_MALFORMED if n < 56 or n > SRM_RECORD_MAX.
 */
SRM_MUST_USE int srm_record_open(struct srm_record *r, const uint8_t *rec, size_t n, uint8_t *pt,
                                 size_t ptcap, size_t *ptlen);

#endif
