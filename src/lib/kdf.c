/* SPDX-License-Identifier: MIT */
/*
 * kdf.c: the two key schedules of DESIGN.md section 4, byte for byte.
 *
 *   PRK = HKDF-Extract(salt = Ni || Nr, IKM = Z)
 *   session: OKM = HKDF-Expand(PRK, "srm/1 session" || TH, 144)
 *            = k_enc_i2r || k_mac_i2r || k_enc_r2i || k_mac_r2i || session_id
 *   link:    OKM = HKDF-Expand(PRK, "srm/1 link" || TH, 88)
 *            = key_c2r || key_r2c || iv_c2r || iv_r2c || link_id
 *
 * HKDF itself is crypto.c's (one HKDF in the codebase).  PRK and OKM live on
 * the stack and are wiped on every path; the output struct is only filled
 * from a complete OKM and is wiped on failure.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/kdf.h"
#include "srm/wire.h"

/* Longest label ("srm/1 session") without its NUL. */
#define KDF_MAX_LABEL (sizeof(SRM_KDF_SESSION_LABEL) - 1u)

static int derive(const char *label, size_t labellen, const uint8_t z[SRM_X25519_LEN],
                  const uint8_t ni[SRM_NONCE_LEN], const uint8_t nr[SRM_NONCE_LEN],
                  const uint8_t th[SRM_HASH_LEN], uint8_t *okm, size_t okmlen);

int srm_kdf_session(const uint8_t z[SRM_X25519_LEN], const uint8_t ni[SRM_NONCE_LEN],
                    const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN],
                    struct srm_session_keys *out)
{
    int rc = SRM_ERR_INTERNAL;
    uint8_t okm[SRM_KDF_SESSION_OKM];
    struct srm_buf b;

    if (out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((rc = derive(SRM_KDF_SESSION_LABEL, sizeof(SRM_KDF_SESSION_LABEL) - 1u, z, ni, nr, th, okm,
                     sizeof(okm))) != 0) {
        goto out;
    }
    /* Split in the order of DESIGN.md section 4. */
    srm_buf_init_read(&b, okm, sizeof(okm));
    if (srm_buf_get_bytes(&b, out->k_enc_i2r, sizeof(out->k_enc_i2r)) != 0 ||
        srm_buf_get_bytes(&b, out->k_mac_i2r, sizeof(out->k_mac_i2r)) != 0 ||
        srm_buf_get_bytes(&b, out->k_enc_r2i, sizeof(out->k_enc_r2i)) != 0 ||
        srm_buf_get_bytes(&b, out->k_mac_r2i, sizeof(out->k_mac_r2i)) != 0 ||
        srm_buf_get_bytes(&b, out->session_id, sizeof(out->session_id)) != 0 ||
        srm_buf_expect_end(&b) != 0) {
        rc = SRM_ERR_INTERNAL;
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(okm, sizeof(okm));
    if (rc != 0) {
        srm_kdf_session_wipe(out);
    }
    return rc;
}

/* PRK = HKDF-Extract(Ni || Nr, Z); OKM = HKDF-Expand(PRK, label || TH, okmlen) */
static int derive(const char *label, size_t labellen, const uint8_t z[SRM_X25519_LEN],
                  const uint8_t ni[SRM_NONCE_LEN], const uint8_t nr[SRM_NONCE_LEN],
                  const uint8_t th[SRM_HASH_LEN], uint8_t *okm, size_t okmlen)
{
    int rc = SRM_ERR_INTERNAL;
    uint8_t salt[2 * SRM_NONCE_LEN];
    uint8_t info[KDF_MAX_LABEL + SRM_HASH_LEN];
    uint8_t prk[SRM_HASH_LEN];
    struct srm_buf w;

    if (z == NULL || ni == NULL || nr == NULL || th == NULL) {
        rc = SRM_ERR_INVALID_ARG;
        goto out;
    }
    srm_buf_init_write(&w, salt, sizeof(salt));
    if (srm_buf_put_bytes(&w, ni, SRM_NONCE_LEN) != 0 ||
        srm_buf_put_bytes(&w, nr, SRM_NONCE_LEN) != 0) {
        goto out;
    }
    srm_buf_init_write(&w, info, sizeof(info));
    if (srm_buf_put_bytes(&w, label, labellen) != 0 ||
        srm_buf_put_bytes(&w, th, SRM_HASH_LEN) != 0) {
        goto out;
    }
    if ((rc = srm_hkdf_extract(salt, sizeof(salt), z, SRM_X25519_LEN, prk)) != 0 ||
        (rc = srm_hkdf_expand(prk, sizeof(prk), info, w.len, okm, okmlen)) != 0) {
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(prk, sizeof(prk));
    if (rc != 0) {
        OPENSSL_cleanse(okm, okmlen);
    }
    return rc;
}

int srm_kdf_link(const uint8_t z[SRM_X25519_LEN], const uint8_t ni[SRM_NONCE_LEN],
                 const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN],
                 struct srm_link_keys *out)
{
    int rc = SRM_ERR_INTERNAL;
    uint8_t okm[SRM_KDF_LINK_OKM];
    struct srm_buf b;

    if (out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((rc = derive(SRM_KDF_LINK_LABEL, sizeof(SRM_KDF_LINK_LABEL) - 1u, z, ni, nr, th, okm,
                     sizeof(okm))) != 0) {
        goto out;
    }
    srm_buf_init_read(&b, okm, sizeof(okm));
    if (srm_buf_get_bytes(&b, out->key_c2r, sizeof(out->key_c2r)) != 0 ||
        srm_buf_get_bytes(&b, out->key_r2c, sizeof(out->key_r2c)) != 0 ||
        srm_buf_get_bytes(&b, out->iv_c2r, sizeof(out->iv_c2r)) != 0 ||
        srm_buf_get_bytes(&b, out->iv_r2c, sizeof(out->iv_r2c)) != 0 ||
        srm_buf_get_bytes(&b, out->link_id, sizeof(out->link_id)) != 0 ||
        srm_buf_expect_end(&b) != 0) {
        rc = SRM_ERR_INTERNAL;
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(okm, sizeof(okm));
    if (rc != 0) {
        srm_kdf_link_wipe(out);
    }
    return rc;
}

void srm_kdf_session_wipe(struct srm_session_keys *k)
{
    if (k != NULL) {
        OPENSSL_cleanse(k, sizeof(*k));
    }
}

void srm_kdf_link_wipe(struct srm_link_keys *k)
{
    if (k != NULL) {
        OPENSSL_cleanse(k, sizeof(*k));
    }
}
