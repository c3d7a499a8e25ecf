/* SPDX-License-Identifier: MIT */
/*
 * kdf.h: the two key schedules of DESIGN.md section 4 (fixed byte for byte).
 *
 *   PRK = HKDF-Extract(salt = Ni || Nr, IKM = Z)
 *   session: OKM = HKDF-Expand(PRK, "srm/1 session" || TH, 144)
 *   link:    OKM = HKDF-Expand(PRK, "srm/1 link" || TH, 88)
 *
 * PRK and OKM are wiped before return; the caller wipes the output struct
 * with srm_kdf_*_wipe() once the keys are installed.
 */
#ifndef SRM_KDF_H
#define SRM_KDF_H

#include <stdint.h>

#include "srm/err.h"
#include "srm/wire.h"

#define SRM_KDF_SESSION_LABEL "srm/1 session"
#define SRM_KDF_LINK_LABEL    "srm/1 link"
#define SRM_KDF_SESSION_OKM   144u
#define SRM_KDF_LINK_OKM      88u

struct srm_session_keys {
    uint8_t k_enc_i2r[SRM_RECORD_KEY_LEN];
    uint8_t k_mac_i2r[SRM_RECORD_KEY_LEN];
    uint8_t k_enc_r2i[SRM_RECORD_KEY_LEN];
    uint8_t k_mac_r2i[SRM_RECORD_KEY_LEN];
    uint8_t session_id[SRM_RECORD_SID_LEN];
};

struct srm_link_keys {
    uint8_t key_c2r[SRM_LINK_KEY_LEN];
    uint8_t key_r2c[SRM_LINK_KEY_LEN];
    uint8_t iv_c2r[SRM_LINK_IV_LEN];
    uint8_t iv_r2c[SRM_LINK_IV_LEN];
    uint8_t link_id[SRM_LINK_ID_LEN];
};

/* 0 or SRM_ERR_LIBCRYPTO (out is wiped on failure). */
SRM_MUST_USE int srm_kdf_session(const uint8_t z[SRM_X25519_LEN], const uint8_t ni[SRM_NONCE_LEN],
                                 const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN],
                                 struct srm_session_keys *out);
SRM_MUST_USE int srm_kdf_link(const uint8_t z[SRM_X25519_LEN], const uint8_t ni[SRM_NONCE_LEN],
                              const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN],
                              struct srm_link_keys *out);
void srm_kdf_session_wipe(struct srm_session_keys *k);
void srm_kdf_link_wipe(struct srm_link_keys *k);

#endif
