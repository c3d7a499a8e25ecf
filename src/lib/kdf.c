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

/* Longest label ("srm/1 session") without its NUL, and longest OKM (the session's). */
#define KDF_MAX_LABEL (sizeof(SRM_KDF_SESSION_LABEL) - 1u)
#define KDF_MAX_OKM   SRM_KDF_SESSION_OKM

/* One slice of the OKM and where it goes, in the order of DESIGN.md section 4. */
struct okm_part {
    uint8_t *dst;
    size_t len;
};

static int derive(const char *label, size_t labellen, const uint8_t z[SRM_X25519_LEN],
                  const uint8_t ni[SRM_NONCE_LEN], const uint8_t nr[SRM_NONCE_LEN],
                  const uint8_t th[SRM_HASH_LEN], size_t okmlen, const struct okm_part *parts,
                  size_t nparts);

int srm_kdf_session(const uint8_t z[SRM_X25519_LEN], const uint8_t ni[SRM_NONCE_LEN],
                    const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN],
                    struct srm_session_keys *out)
{
    int rc = SRM_ERR_INTERNAL;

    if (out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    const struct okm_part parts[] = {
        {out->k_enc_i2r, sizeof(out->k_enc_i2r)},   {out->k_mac_i2r, sizeof(out->k_mac_i2r)},
        {out->k_enc_r2i, sizeof(out->k_enc_r2i)},   {out->k_mac_r2i, sizeof(out->k_mac_r2i)},
        {out->session_id, sizeof(out->session_id)},
    };

    rc = derive(SRM_KDF_SESSION_LABEL, sizeof(SRM_KDF_SESSION_LABEL) - 1u, z, ni, nr, th,
                SRM_KDF_SESSION_OKM, parts, sizeof(parts) / sizeof(parts[0]));
    if (rc != 0) {
        srm_kdf_session_wipe(out);
    }
    return rc;
}

/*
 * PRK = HKDF-Extract(Ni || Nr, Z); OKM = HKDF-Expand(PRK, label || TH, okmlen),
 * split into parts, which must take exactly okmlen bytes.  PRK and OKM are
 * wiped on every path; the parts are only written from a complete OKM.
 */
static int derive(const char *label, size_t labellen, const uint8_t z[SRM_X25519_LEN],
                  const uint8_t ni[SRM_NONCE_LEN], const uint8_t nr[SRM_NONCE_LEN],
                  const uint8_t th[SRM_HASH_LEN], size_t okmlen, const struct okm_part *parts,
                  size_t nparts)
{
    int rc = SRM_ERR_INTERNAL;
    uint8_t salt[2 * SRM_NONCE_LEN];
    uint8_t info[KDF_MAX_LABEL + SRM_HASH_LEN];
    uint8_t prk[SRM_HASH_LEN];
    uint8_t okm[KDF_MAX_OKM];
    struct srm_buf w;
    struct srm_buf b;
    size_t i;

    if (z == NULL || ni == NULL || nr == NULL || th == NULL) {
        rc = SRM_ERR_INVALID_ARG;
        goto out;
    }
    if (okmlen > sizeof(okm)) {
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
    srm_buf_init_read(&b, okm, okmlen);
    for (i = 0; i < nparts; i++) {
        if (srm_buf_get_bytes(&b, parts[i].dst, parts[i].len) != 0) {
            rc = SRM_ERR_INTERNAL;
            goto out;
        }
    }
    if (srm_buf_expect_end(&b) != 0) {
        rc = SRM_ERR_INTERNAL;
        goto out;
    }
    rc = 0;
out:
    /* Registration nonces travel under RSA-OAEP: this copy is secret too. */
    OPENSSL_cleanse(salt, sizeof(salt));
    OPENSSL_cleanse(prk, sizeof(prk));
    OPENSSL_cleanse(okm, sizeof(okm));
    return rc;
}

int srm_kdf_link(const uint8_t z[SRM_X25519_LEN], const uint8_t ni[SRM_NONCE_LEN],
                 const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN],
                 struct srm_link_keys *out)
{
    int rc = SRM_ERR_INTERNAL;

    if (out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    const struct okm_part parts[] = {
        {out->key_c2r, sizeof(out->key_c2r)}, {out->key_r2c, sizeof(out->key_r2c)},
        {out->iv_c2r, sizeof(out->iv_c2r)},   {out->iv_r2c, sizeof(out->iv_r2c)},
        {out->link_id, sizeof(out->link_id)},
    };

    rc = derive(SRM_KDF_LINK_LABEL, sizeof(SRM_KDF_LINK_LABEL) - 1u, z, ni, nr, th,
                SRM_KDF_LINK_OKM, parts, sizeof(parts) / sizeof(parts[0]));
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
