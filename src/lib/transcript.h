/* SPDX-License-Identifier: MIT */
/*
 * transcript.h (private to libsrm): the transcript hashes TH of the two
 * handshakes, the signatures over them and the key-confirmation plaintext.
 * docs/PROTOCOL.md gives the exact byte strings; reg.c and sess.c use them.
 *
 *   registration: TH = SHA-256(string8("srm/1 register") || u8 version ||
 *                   string8(name) || fp_client || fp_relay || Nc || Nr || eph_c || eph_r)
 *   session:      TH = SHA-256(string8("srm/1 session") || u8 version ||
 *                   string8(name_i) || string8(name_r) || fp_i || fp_r || Ni || Nr ||
 *                   eph_i || eph_r)
 *   signature:    RSA-PSS(priv, label || TH)      (label ASCII, no NUL, no prefix)
 *   confirm:      0x01 || TH                      (33 bytes)
 */
#ifndef SRM_TRANSCRIPT_H
#define SRM_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/wire.h"

#define SRM_TH_REG_LABEL       "srm/1 register"
#define SRM_TH_SESS_LABEL      "srm/1 session"
#define SRM_SIG_REG_RELAY      "srm/1 register relay"
#define SRM_SIG_REG_CLIENT     "srm/1 register client"
#define SRM_SIG_SESS_RESPONDER "srm/1 session responder"
#define SRM_SIG_SESS_INITIATOR "srm/1 session initiator"
#define SRM_CONFIRM_LEN        (1u + SRM_HASH_LEN)

/* Registration TH.  0, SRM_ERR_BAD_NAME, SRM_ERR_LIBCRYPTO. */
SRM_MUST_USE int
srm_transcript_reg(uint8_t version, const char *name, const uint8_t fp_c[SRM_HASH_LEN],
                   const uint8_t fp_r[SRM_HASH_LEN], const uint8_t nc[SRM_NONCE_LEN],
                   const uint8_t nr[SRM_NONCE_LEN], const uint8_t eph_c[SRM_X25519_LEN],
                   const uint8_t eph_r[SRM_X25519_LEN], uint8_t th[SRM_HASH_LEN]);
/* Session TH.  0, SRM_ERR_BAD_NAME, SRM_ERR_LIBCRYPTO. */
SRM_MUST_USE int srm_transcript_sess(uint8_t version, const char *name_i, const char *name_r,
                                     const uint8_t fp_i[SRM_HASH_LEN],
                                     const uint8_t fp_r[SRM_HASH_LEN],
                                     const uint8_t ni[SRM_NONCE_LEN],
                                     const uint8_t nr[SRM_NONCE_LEN],
                                     const uint8_t eph_i[SRM_X25519_LEN],
                                     const uint8_t eph_r[SRM_X25519_LEN], uint8_t th[SRM_HASH_LEN]);
/* PSS signature over label || th; sig needs srm_key_size(priv) bytes. */
SRM_MUST_USE int srm_transcript_sign(const struct srm_key *priv, const char *label,
                                     const uint8_t th[SRM_HASH_LEN], uint8_t *sig, size_t *siglen);
/* 0 if sig is a valid PSS signature by pub over label || th; SRM_ERR_BAD_SIGNATURE if not. */
SRM_MUST_USE int srm_transcript_verify(const struct srm_key *pub, const char *label,
                                       const uint8_t th[SRM_HASH_LEN], const uint8_t *sig,
                                       size_t siglen);
/* The key-confirmation plaintext 0x01 || th. */
void srm_transcript_confirm(const uint8_t th[SRM_HASH_LEN], uint8_t out[SRM_CONFIRM_LEN]);
/* 1 if p[0..n) is exactly the confirmation of th (constant time in the contents). */
int srm_transcript_confirm_ok(const uint8_t th[SRM_HASH_LEN], const uint8_t *p, size_t n);

#endif
