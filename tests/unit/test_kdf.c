/* SPDX-License-Identifier: MIT */
/*
 * test_kdf.c: the key schedules of DESIGN.md section 4.
 *
 * Known answers from tests/vectors/session_keys.json and link_keys.json
 * (independent Python implementation), a cross-check of one derivation
 * against OpenSSL's own EVP_KDF "HKDF" (so that a bug shared by crypto.c's
 * HKDF and the test vectors would still show), the properties the vectors
 * were chosen to show (nonce order and label matter), and wiping on failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "srm/err.h"
#include "srm/kdf.h"
#include "srm/wire.h"
#include "vectors.h"

struct kdf_in {
    uint8_t z[32], ni[32], nr[32], th[32];
};

static void read_inputs(const cJSON *v, struct kdf_in *in);
static void evp_hkdf(const struct kdf_in *in, const char *label, uint8_t *okm, size_t n);

static void test_session_vectors(void **state)
{
    cJSON *root = tu_load_vectors("session_keys.json");
    const cJSON *v;
    int count = 0;

    (void)state;
    assert_true(cJSON_IsArray(root));
    cJSON_ArrayForEach(v, root)
    {
        struct kdf_in in;
        struct srm_session_keys want, got;

        read_inputs(v, &in);
        tu_hex_exact(v, "k_enc_i2r", want.k_enc_i2r, 32);
        tu_hex_exact(v, "k_mac_i2r", want.k_mac_i2r, 32);
        tu_hex_exact(v, "k_enc_r2i", want.k_enc_r2i, 32);
        tu_hex_exact(v, "k_mac_r2i", want.k_mac_r2i, 32);
        tu_hex_exact(v, "session_id", want.session_id, 16);
        memset(&got, 0xee, sizeof(got));
        assert_int_equal(srm_kdf_session(in.z, in.ni, in.nr, in.th, &got), 0);
        assert_memory_equal(got.k_enc_i2r, want.k_enc_i2r, 32);
        assert_memory_equal(got.k_mac_i2r, want.k_mac_i2r, 32);
        assert_memory_equal(got.k_enc_r2i, want.k_enc_r2i, 32);
        assert_memory_equal(got.k_mac_r2i, want.k_mac_r2i, 32);
        assert_memory_equal(got.session_id, want.session_id, 16);
        srm_kdf_session_wipe(&got);
        count++;
    }
    assert_true(count >= 4);
    cJSON_Delete(root);
}

static void test_link_vectors(void **state)
{
    cJSON *root = tu_load_vectors("link_keys.json");
    const cJSON *v;
    int count = 0;

    (void)state;
    assert_true(cJSON_IsArray(root));
    cJSON_ArrayForEach(v, root)
    {
        struct kdf_in in;
        struct srm_link_keys want, got;

        read_inputs(v, &in);
        tu_hex_exact(v, "key_c2r", want.key_c2r, 32);
        tu_hex_exact(v, "key_r2c", want.key_r2c, 32);
        tu_hex_exact(v, "iv_c2r", want.iv_c2r, 4);
        tu_hex_exact(v, "iv_r2c", want.iv_r2c, 4);
        tu_hex_exact(v, "link_id", want.link_id, 16);
        memset(&got, 0xee, sizeof(got));
        assert_int_equal(srm_kdf_link(in.z, in.ni, in.nr, in.th, &got), 0);
        assert_memory_equal(got.key_c2r, want.key_c2r, 32);
        assert_memory_equal(got.key_r2c, want.key_r2c, 32);
        assert_memory_equal(got.iv_c2r, want.iv_c2r, 4);
        assert_memory_equal(got.iv_r2c, want.iv_r2c, 4);
        assert_memory_equal(got.link_id, want.link_id, 16);
        srm_kdf_link_wipe(&got);
        count++;
    }
    assert_true(count >= 4);
    cJSON_Delete(root);
}

/* The OKM is split in the order of DESIGN.md 4; check against EVP_KDF "HKDF" directly. */
static void test_against_evp_kdf(void **state)
{
    struct kdf_in in;
    uint8_t okm[SRM_KDF_SESSION_OKM];
    struct srm_session_keys s;
    struct srm_link_keys l;
    size_t i;

    (void)state;
    for (i = 0; i < 32; i++) {
        in.z[i] = (uint8_t)i;
        in.ni[i] = (uint8_t)(0x40 + i);
        in.nr[i] = (uint8_t)(0x80 + i);
        in.th[i] = (uint8_t)(0xc0 + i);
    }
    assert_int_equal(srm_kdf_session(in.z, in.ni, in.nr, in.th, &s), 0);
    evp_hkdf(&in, SRM_KDF_SESSION_LABEL, okm, SRM_KDF_SESSION_OKM);
    assert_memory_equal(s.k_enc_i2r, okm, 32);
    assert_memory_equal(s.k_mac_i2r, okm + 32, 32);
    assert_memory_equal(s.k_enc_r2i, okm + 64, 32);
    assert_memory_equal(s.k_mac_r2i, okm + 96, 32);
    assert_memory_equal(s.session_id, okm + 128, 16);

    assert_int_equal(srm_kdf_link(in.z, in.ni, in.nr, in.th, &l), 0);
    evp_hkdf(&in, SRM_KDF_LINK_LABEL, okm, SRM_KDF_LINK_OKM);
    assert_memory_equal(l.key_c2r, okm, 32);
    assert_memory_equal(l.key_r2c, okm + 32, 32);
    assert_memory_equal(l.iv_c2r, okm + 64, 4);
    assert_memory_equal(l.iv_r2c, okm + 68, 4);
    assert_memory_equal(l.link_id, okm + 72, 16);

    /* the label separates the layers */
    assert_memory_not_equal(s.k_enc_i2r, l.key_c2r, 32);
    srm_kdf_session_wipe(&s);
    srm_kdf_link_wipe(&l);
}

/* Swapping Ni and Nr, or changing one byte of Z or TH, changes every key. */
static void test_inputs_bind(void **state)
{
    struct kdf_in in;
    struct srm_session_keys a, b;
    int which;

    (void)state;
    memset(&in, 0x17, sizeof(in));
    in.ni[0] = 1;
    in.nr[0] = 2;
    assert_int_equal(srm_kdf_session(in.z, in.ni, in.nr, in.th, &a), 0);
    for (which = 0; which < 3; which++) {
        struct kdf_in m = in;

        if (which == 0) {
            memcpy(m.ni, in.nr, 32);
            memcpy(m.nr, in.ni, 32);
        } else if (which == 1) {
            m.z[31] ^= 1;
        } else {
            m.th[0] ^= 0x80;
        }
        assert_int_equal(srm_kdf_session(m.z, m.ni, m.nr, m.th, &b), 0);
        assert_memory_not_equal(a.k_enc_i2r, b.k_enc_i2r, 32);
        assert_memory_not_equal(a.k_mac_r2i, b.k_mac_r2i, 32);
        assert_memory_not_equal(a.session_id, b.session_id, 16);
    }
    srm_kdf_session_wipe(&a);
    srm_kdf_session_wipe(&b);
}

static void test_failure_wipes_and_wipe(void **state)
{
    struct kdf_in in;
    struct srm_session_keys s;
    struct srm_link_keys l;
    uint8_t zero[sizeof(s) > sizeof(l) ? sizeof(s) : sizeof(l)];

    (void)state;
    memset(&in, 0x22, sizeof(in));
    memset(zero, 0, sizeof(zero));
    memset(&s, 0xee, sizeof(s));
    memset(&l, 0xee, sizeof(l));
    assert_int_equal(srm_kdf_session(NULL, in.ni, in.nr, in.th, &s), SRM_ERR_INVALID_ARG);
    assert_memory_equal(&s, zero, sizeof(s));
    assert_int_equal(srm_kdf_link(in.z, in.ni, NULL, in.th, &l), SRM_ERR_INVALID_ARG);
    assert_memory_equal(&l, zero, sizeof(l));
    assert_int_equal(srm_kdf_session(in.z, in.ni, in.nr, in.th, NULL), SRM_ERR_INVALID_ARG);

    assert_int_equal(srm_kdf_link(in.z, in.ni, in.nr, in.th, &l), 0);
    assert_memory_not_equal(&l, zero, sizeof(l));
    srm_kdf_link_wipe(&l);
    assert_memory_equal(&l, zero, sizeof(l));
    assert_int_equal(srm_kdf_session(in.z, in.ni, in.nr, in.th, &s), 0);
    srm_kdf_session_wipe(&s);
    assert_memory_equal(&s, zero, sizeof(s));
    srm_kdf_session_wipe(NULL);
    srm_kdf_link_wipe(NULL);
}

static void evp_hkdf(const struct kdf_in *in, const char *label, uint8_t *okm, size_t n)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = NULL;
    uint8_t salt[64], info[64];
    size_t labellen = strlen(label);
    OSSL_PARAM p[5];

    assert_non_null(kdf);
    ctx = EVP_KDF_CTX_new(kdf);
    assert_non_null(ctx);
    memcpy(salt, in->ni, 32);
    memcpy(salt + 32, in->nr, 32);
    assert_true(labellen + 32 <= sizeof(info));
    memcpy(info, label, labellen);
    memcpy(info + labellen, in->th, 32);
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)in->z, 32);
    p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, labellen + 32);
    p[4] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(ctx, okm, n, p), 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}

static void read_inputs(const cJSON *v, struct kdf_in *in)
{
    tu_hex_exact(v, "z", in->z, 32);
    tu_hex_exact(v, "ni", in->ni, 32);
    tu_hex_exact(v, "nr", in->nr, 32);
    tu_hex_exact(v, "th", in->th, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_vectors),        cmocka_unit_test(test_link_vectors),
        cmocka_unit_test(test_against_evp_kdf),        cmocka_unit_test(test_inputs_bind),
        cmocka_unit_test(test_failure_wipes_and_wipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
