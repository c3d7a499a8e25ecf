/* SPDX-License-Identifier: MIT */
/*
 * test_wycheproof.c: the primitives against Project Wycheproof's vectors in
 * $SRM_WYCHEPROOF_DIR (see its README.md).  srm's policy: `valid` must pass,
 * `invalid` must fail, and `acceptable` X25519 cases (low-order and twist
 * points) are recorded as accepted or rejected; any of them whose shared
 * secret is all zero must be rejected, and any accepted one must give the
 * listed secret.  Groups with parameters srm does not use (other AES key or
 * IV sizes, other PSS salt lengths, OAEP labels) are skipped and counted.
 *
 * Prints one line per file:
 *   wycheproof: FILE: N passed, M failed, K acceptable (A accepted, R rejected), S skipped
 * and for aes_gcm_test.json a second one for our own AES-256-GCM
 * (src/lib/gcm.c), which must give EVP's verdict and bytes on every case run:
 *   wycheproof: aes_gcm_test.json: srm_gcm: N passed / M failed
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
#include <openssl/err.h>
#include <openssl/evp.h>

#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/gcm.h"
#include "srm/wire.h"
#include "vectors.h"

enum wp_result {
    WP_VALID,
    WP_INVALID,
    WP_ACCEPTABLE,
};

struct tally {
    const char *file;
    int passed;     /* valid accepted, or invalid rejected */
    int failed;     /* the wrong way round */
    int acceptable; /* acceptable cases seen ... */
    int accepted;   /* ... of which our function accepted */
    int rejected;   /* ... and rejected */
    int skipped;    /* parameters srm does not use */
};

/* A hex field decoded; always non-NULL (a 1-byte allocation when empty). */
struct bytes {
    uint8_t *p;
    size_t n;
};

static const char *str_field(const cJSON *obj, const char *name);
static int int_field(const cJSON *obj, const char *name);
static struct bytes hex_field(const cJSON *obj, const char *name);
static void bytes_free(struct bytes *b);
static enum wp_result result_of(const cJSON *test);
static void count(struct tally *t, const cJSON *test, int ok);
static void report(const struct tally *t);
static int gcm_open(const struct bytes *key, const struct bytes *iv, const struct bytes *aad,
                    const struct bytes *ct, const struct bytes *tag, uint8_t *pt);
static int gcm_seal(const struct bytes *key, const struct bytes *iv, const struct bytes *aad,
                    const struct bytes *msg, uint8_t *ct, uint8_t tag[16]);
static int our_gcm(int tc_id, const struct bytes *key, const struct bytes *iv,
                   const struct bytes *aad, const struct bytes *msg, const struct bytes *ct,
                   const struct bytes *tag, int valid);
static void run_pss(const char *file);
static void run_oaep(const char *file);

static const char *str_field(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        fail_msg("field %s missing or not a string", name);
    }
    return item->valuestring;
}

static int int_field(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (!cJSON_IsNumber(item)) {
        fail_msg("field %s missing or not a number", name);
    }
    return item->valueint;
}

static struct bytes hex_field(const cJSON *obj, const char *name)
{
    const char *hex = str_field(obj, name);
    size_t len = strlen(hex), i;
    struct bytes b;
    unsigned int v;

    assert_true(len % 2 == 0);
    b.n = len / 2;
    b.p = malloc(b.n > 0 ? b.n : 1);
    assert_non_null(b.p);
    for (i = 0; i < b.n; i++) {
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        b.p[i] = (uint8_t)v;
    }
    return b;
}

static void bytes_free(struct bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

static enum wp_result result_of(const cJSON *test)
{
    const char *r = str_field(test, "result");

    if (strcmp(r, "valid") == 0) {
        return WP_VALID;
    }
    if (strcmp(r, "invalid") == 0) {
        return WP_INVALID;
    }
    if (strcmp(r, "acceptable") == 0) {
        return WP_ACCEPTABLE;
    }
    fail_msg("unknown result %s", r);
    return WP_INVALID;
}

/* ok: our code accepted the case (and, where there is an output, produced the listed one). */
static void count(struct tally *t, const cJSON *test, int ok)
{
    switch (result_of(test)) {
    case WP_VALID:
    case WP_INVALID:
        if (ok == (result_of(test) == WP_VALID)) {
            t->passed++;
        } else {
            t->failed++;
            fprintf(stderr, "wycheproof: %s: tcId %d (%s, %s) went the wrong way\n", t->file,
                    int_field(test, "tcId"), str_field(test, "result"), str_field(test, "comment"));
        }
        break;
    case WP_ACCEPTABLE:
        t->acceptable++;
        if (ok) {
            t->accepted++;
        } else {
            t->rejected++;
        }
        break;
    }
}

static void report(const struct tally *t)
{
    printf("wycheproof: %s: %d passed, %d failed, %d acceptable (%d accepted, %d rejected), %d "
           "skipped\n",
           t->file, t->passed, t->failed, t->acceptable, t->accepted, t->rejected, t->skipped);
    fflush(stdout);
    assert_int_equal(t->failed, 0);
    assert_true(t->passed > 0);
}

/* AES-256-GCM with a 12-byte IV and 16-byte tag, through EVP as the link record uses it. */
static int gcm_open(const struct bytes *key, const struct bytes *iv, const struct bytes *aad,
                    const struct bytes *ct, const struct bytes *tag, uint8_t *pt)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = 0, outl = 0, finl = 0;

    assert_non_null(ctx);
    if (key->n != 32 || iv->n != 12 || tag->n != 16 || ct->n > INT32_MAX || aad->n > INT32_MAX) {
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->p, iv->p) != 1) {
        goto out;
    }
    if (aad->n > 0 && EVP_DecryptUpdate(ctx, NULL, &outl, aad->p, (int)aad->n) != 1) {
        goto out;
    }
    if (EVP_DecryptUpdate(ctx, pt, &outl, ct->p, (int)ct->n) != 1) {
        goto out;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag->p) != 1) {
        goto out;
    }
    /* 1 authentic, anything else not. */
    switch (EVP_DecryptFinal_ex(ctx, pt + outl, &finl)) {
    case 1:
        ok = (size_t)(outl + finl) == ct->n;
        break;
    default:
        ok = 0;
        break;
    }
out:
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static int gcm_seal(const struct bytes *key, const struct bytes *iv, const struct bytes *aad,
                    const struct bytes *msg, uint8_t *ct, uint8_t tag[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int ok = 0, outl = 0, finl = 0;

    assert_non_null(ctx);
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key->p, iv->p) != 1) {
        goto out;
    }
    if (aad->n > 0 && EVP_EncryptUpdate(ctx, NULL, &outl, aad->p, (int)aad->n) != 1) {
        goto out;
    }
    if (EVP_EncryptUpdate(ctx, ct, &outl, msg->p, (int)msg->n) != 1) {
        goto out;
    }
    if (EVP_EncryptFinal_ex(ctx, ct + outl, &finl) != 1) {
        goto out;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1) {
        goto out;
    }
    ok = (size_t)(outl + finl) == msg->n;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/*
 * The same case through srm_gcm: 1 if it opens to msg (and, for a valid
 * case, seals back to ct and tag), the test gcm_open/gcm_seal apply to EVP.
 * A refusal must be SRM_ERR_BAD_MAC with the output buffer untouched.
 */
static int our_gcm(int tc_id, const struct bytes *key, const struct bytes *iv,
                   const struct bytes *aad, const struct bytes *msg, const struct bytes *ct,
                   const struct bytes *tag, int valid)
{
    struct srm_gcm g;
    uint8_t *out = malloc(ct->n + msg->n + 1);
    uint8_t tag2[SRM_GCM_TAG_LEN];
    size_t i;
    int r, ok = 0;

    assert_non_null(out);
    if (key->n != SRM_GCM_KEY_LEN || iv->n != SRM_GCM_NONCE_LEN || tag->n != SRM_GCM_TAG_LEN) {
        free(out);
        return 0;
    }
    assert_int_equal(srm_gcm_init(&g, key->p), 0);
    memset(out, 0xa5, ct->n + msg->n + 1);
    r = srm_gcm_open(&g, iv->p, aad->p, aad->n, ct->p, ct->n, tag->p, out);
    if (r != 0) {
        if (r != SRM_ERR_BAD_MAC) {
            fail_msg("aes_gcm: tcId %d: srm_gcm_open returned %d", tc_id, r);
        }
        for (i = 0; i < ct->n + msg->n + 1; i++) {
            if (out[i] != 0xa5) {
                fail_msg("aes_gcm: tcId %d: srm_gcm_open refused but wrote byte %zu", tc_id, i);
            }
        }
        goto out;
    }
    ok = ct->n == msg->n && memcmp(out, msg->p, msg->n) == 0;
    if (ok && valid) {
        ok = srm_gcm_seal(&g, iv->p, aad->p, aad->n, msg->p, msg->n, out, tag2) == 0 &&
             memcmp(out, ct->p, ct->n) == 0 && memcmp(tag2, tag->p, SRM_GCM_TAG_LEN) == 0;
    }
out:
    srm_gcm_wipe(&g);
    free(out);
    return ok;
}

static void test_aes_gcm(void **state)
{
    struct tally t = {.file = "aes_gcm_test.json"};
    cJSON *root = tu_load_json("SRM_WYCHEPROOF_DIR", t.file);
    const cJSON *group, *test;
    const int have_gcm = srm_gcm_supported();
    int srm_passed = 0, srm_failed = 0;

    (void)state;
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(root, "testGroups"))
    {
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests");

        /* The link record is AES-256-GCM with a 96-bit nonce and a 128-bit tag only. */
        if (int_field(group, "keySize") != 256 || int_field(group, "ivSize") != 96 ||
            int_field(group, "tagSize") != 128) {
            t.skipped += cJSON_GetArraySize(tests);
            continue;
        }
        cJSON_ArrayForEach(test, tests)
        {
            struct bytes key = hex_field(test, "key"), iv = hex_field(test, "iv"),
                         aad = hex_field(test, "aad"), msg = hex_field(test, "msg"),
                         ct = hex_field(test, "ct"), tag = hex_field(test, "tag");
            uint8_t *out = malloc(ct.n + msg.n + 1);
            uint8_t tag2[16];
            int ok;

            assert_non_null(out);
            ok = gcm_open(&key, &iv, &aad, &ct, &tag, out) && ct.n == msg.n &&
                 memcmp(out, msg.p, msg.n) == 0;
            /* A valid case must also come out of encryption byte for byte. */
            if (ok && result_of(test) == WP_VALID) {
                ok = gcm_seal(&key, &iv, &aad, &msg, out, tag2) && memcmp(out, ct.p, ct.n) == 0 &&
                     memcmp(tag2, tag.p, 16) == 0;
            }
            count(&t, test, ok);
            /* srm_gcm must agree with EVP, and with Wycheproof's verdict. */
            if (have_gcm) {
                enum wp_result want = result_of(test);
                int ours = our_gcm(int_field(test, "tcId"), &key, &iv, &aad, &msg, &ct, &tag,
                                   want == WP_VALID);

                if (ours == ok && (want == WP_ACCEPTABLE || ours == (want == WP_VALID))) {
                    srm_passed++;
                } else {
                    srm_failed++;
                    fprintf(stderr,
                            "wycheproof: %s: srm_gcm: tcId %d (%s, %s): srm_gcm %s, EVP %s\n",
                            t.file, int_field(test, "tcId"), str_field(test, "result"),
                            str_field(test, "comment"), ours ? "accepted" : "rejected",
                            ok ? "accepted" : "rejected");
                }
            }
            free(out);
            bytes_free(&key);
            bytes_free(&iv);
            bytes_free(&aad);
            bytes_free(&msg);
            bytes_free(&ct);
            bytes_free(&tag);
        }
    }
    cJSON_Delete(root);
    report(&t);
    if (have_gcm) {
        printf("wycheproof: %s: srm_gcm: %d passed / %d failed\n", t.file, srm_passed, srm_failed);
    } else {
        printf("wycheproof: %s: srm_gcm: skipped (no AES-NI/PCLMULQDQ on this CPU)\n", t.file);
    }
    fflush(stdout);
    assert_int_equal(srm_failed, 0);
    assert_true(!have_gcm || srm_passed > 0);
}

static void test_hkdf(void **state)
{
    struct tally t = {.file = "hkdf_sha256_test.json"};
    cJSON *root = tu_load_json("SRM_WYCHEPROOF_DIR", t.file);
    const cJSON *group, *test;

    (void)state;
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(root, "testGroups"))
    {
        cJSON_ArrayForEach(test, cJSON_GetObjectItemCaseSensitive(group, "tests"))
        {
            struct bytes ikm = hex_field(test, "ikm"), salt = hex_field(test, "salt"),
                         info = hex_field(test, "info"), okm = hex_field(test, "okm");
            int size = int_field(test, "size");
            uint8_t prk[SRM_HASH_LEN];
            uint8_t *out;
            int ok;

            assert_true(size >= 0);
            out = malloc((size_t)size + 1);
            assert_non_null(out);
            ok = srm_hkdf_extract(salt.p, salt.n, ikm.p, ikm.n, prk) == 0 &&
                 srm_hkdf_expand(prk, sizeof(prk), info.p, info.n, out, (size_t)size) == 0 &&
                 okm.n == (size_t)size && memcmp(out, okm.p, okm.n) == 0;
            count(&t, test, ok);
            free(out);
            bytes_free(&ikm);
            bytes_free(&salt);
            bytes_free(&info);
            bytes_free(&okm);
        }
    }
    cJSON_Delete(root);
    report(&t);
}

static void test_hmac(void **state)
{
    struct tally t = {.file = "hmac_sha256_test.json"};
    cJSON *root = tu_load_json("SRM_WYCHEPROOF_DIR", t.file);
    const cJSON *group, *test;

    (void)state;
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(root, "testGroups"))
    {
        int tag_bits = int_field(group, "tagSize");
        size_t tag_len = (size_t)tag_bits / 8;

        assert_true(tag_bits % 8 == 0 && tag_len <= SRM_HASH_LEN && tag_len > 0);
        cJSON_ArrayForEach(test, cJSON_GetObjectItemCaseSensitive(group, "tests"))
        {
            struct bytes key = hex_field(test, "key"), msg = hex_field(test, "msg"),
                         tag = hex_field(test, "tag");
            uint8_t mac[SRM_HASH_LEN];
            int ok;

            /* The tag is the first tagSize bits of the MAC, compared in constant time. */
            ok = srm_hmac_sha256(key.p, key.n, msg.p, msg.n, mac) == 0 && tag.n == tag_len &&
                 srm_ct_equal(mac, tag.p, tag_len);
            count(&t, test, ok);
            bytes_free(&key);
            bytes_free(&msg);
            bytes_free(&tag);
        }
    }
    cJSON_Delete(root);
    report(&t);
}

static void run_oaep(const char *file)
{
    struct tally t = {.file = file};
    cJSON *root = tu_load_json("SRM_WYCHEPROOF_DIR", t.file);
    const cJSON *group, *test;

    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(root, "testGroups"))
    {
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests");
        const char *pem;
        struct srm_key *k = NULL;

        if (strcmp(str_field(group, "sha"), "SHA-256") != 0 ||
            strcmp(str_field(group, "mgf"), "MGF1") != 0 ||
            strcmp(str_field(group, "mgfSha"), "SHA-256") != 0) {
            t.skipped += cJSON_GetArraySize(tests);
            continue;
        }
        pem = str_field(group, "privateKeyPem");
        assert_int_equal(srm_key_from_pem(pem, strlen(pem), 1, &k), 0);
        assert_int_equal(srm_key_bits(k), int_field(group, "keySize"));
        cJSON_ArrayForEach(test, tests)
        {
            struct bytes msg = hex_field(test, "msg"), ct = hex_field(test, "ct"),
                         label = hex_field(test, "label");
            uint8_t pt[SRM_RSA_MAX_BYTES];
            size_t ptlen = 0;
            int r, ok;

            r = srm_oaep_decrypt(k, ct.p, ct.n, pt, sizeof(pt), &ptlen);
            /* Whatever the cause, one error code and an empty error queue: no oracle. */
            if (r != 0 && (r != SRM_ERR_DECRYPT || ERR_peek_error() != 0)) {
                fail_msg("%s: tcId %d: decrypt returned %d or left errors queued", t.file,
                         int_field(test, "tcId"), r);
            }
            ok = r == 0 && ptlen == msg.n && memcmp(pt, msg.p, msg.n) == 0;
            if (label.n != 0) {
                /*
                 * srm always uses the empty label, so a ciphertext made with
                 * another label is skipped as a vector, but must not decrypt.
                 */
                t.skipped++;
                if (ok) {
                    t.failed++;
                    fprintf(stderr, "wycheproof: %s: tcId %d: decrypted despite a label\n", t.file,
                            int_field(test, "tcId"));
                }
            } else {
                count(&t, test, ok);
            }
            bytes_free(&msg);
            bytes_free(&ct);
            bytes_free(&label);
        }
        srm_key_free(k);
    }
    cJSON_Delete(root);
    report(&t);
}

static void test_oaep_2048(void **state)
{
    (void)state;
    run_oaep("rsa_oaep_2048_sha256_mgf1sha256_test.json");
}

static void test_oaep_3072(void **state)
{
    (void)state;
    run_oaep("rsa_oaep_3072_sha256_mgf1sha256_test.json");
}

static void run_pss(const char *file)
{
    struct tally t = {.file = file};
    cJSON *root = tu_load_json("SRM_WYCHEPROOF_DIR", t.file);
    const cJSON *group, *test;

    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(root, "testGroups"))
    {
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests");
        const char *pem;
        struct srm_key *k = NULL;

        /* srm signs with SHA-256, MGF1-SHA-256 and a 32-byte salt only. */
        if (strcmp(str_field(group, "sha"), "SHA-256") != 0 ||
            strcmp(str_field(group, "mgf"), "MGF1") != 0 ||
            strcmp(str_field(group, "mgfSha"), "SHA-256") != 0 || int_field(group, "sLen") != 32) {
            t.skipped += cJSON_GetArraySize(tests);
            continue;
        }
        pem = str_field(group, "publicKeyPem");
        assert_int_equal(srm_key_from_pem(pem, strlen(pem), 0, &k), 0);
        assert_int_equal(srm_key_bits(k), int_field(group, "keySize"));
        cJSON_ArrayForEach(test, tests)
        {
            struct bytes msg = hex_field(test, "msg"), sig = hex_field(test, "sig");
            int r;

            r = srm_pss_verify(k, msg.p, msg.n, sig.p, sig.n);
            /* A bad signature is SRM_ERR_BAD_SIGNATURE, never a libcrypto failure. */
            if (r != 0 && (r != SRM_ERR_BAD_SIGNATURE || ERR_peek_error() != 0)) {
                fail_msg("%s: tcId %d: verify returned %d or left errors queued", t.file,
                         int_field(test, "tcId"), r);
            }
            count(&t, test, r == 0);
            bytes_free(&msg);
            bytes_free(&sig);
        }
        srm_key_free(k);
    }
    cJSON_Delete(root);
    report(&t);
}

static void test_pss_2048(void **state)
{
    (void)state;
    run_pss("rsa_pss_2048_sha256_mgf1_32_test.json");
}

static void test_pss_3072(void **state)
{
    (void)state;
    run_pss("rsa_pss_3072_sha256_mgf1_32_test.json");
}

static void test_x25519(void **state)
{
    static const uint8_t zero[SRM_X25519_LEN] = {0};
    struct tally t = {.file = "x25519_test.json"};
    cJSON *root = tu_load_json("SRM_WYCHEPROOF_DIR", t.file);
    const cJSON *group, *test;

    (void)state;
    cJSON_ArrayForEach(group, cJSON_GetObjectItemCaseSensitive(root, "testGroups"))
    {
        const cJSON *tests = cJSON_GetObjectItemCaseSensitive(group, "tests");

        if (strcmp(str_field(group, "curve"), "curve25519") != 0) {
            t.skipped += cJSON_GetArraySize(tests);
            continue;
        }
        cJSON_ArrayForEach(test, tests)
        {
            struct bytes pub = hex_field(test, "public"), priv = hex_field(test, "private"),
                         shared = hex_field(test, "shared");
            uint8_t z[SRM_X25519_LEN];
            int r, ok, zero_secret;

            assert_int_equal(pub.n, SRM_X25519_LEN);
            assert_int_equal(priv.n, SRM_X25519_LEN);
            assert_int_equal(shared.n, SRM_X25519_LEN);
            zero_secret = memcmp(shared.p, zero, SRM_X25519_LEN) == 0;
            r = srm_x25519_derive(priv.p, pub.p, z);
            if (r != 0 && r != SRM_ERR_BAD_KEY) {
                fail_msg("x25519: tcId %d: derive returned %d", int_field(test, "tcId"), r);
            }
            ok = r == 0;
            /* Whatever the verdict, an accepted case must give the listed secret. */
            if (ok && memcmp(z, shared.p, SRM_X25519_LEN) != 0) {
                t.failed++;
                fprintf(stderr, "wycheproof: x25519: tcId %d: wrong shared secret\n",
                        int_field(test, "tcId"));
            }
            /* srm's policy: an all-zero secret (low-order point) is always refused ... */
            if (zero_secret && ok) {
                t.failed++;
                fprintf(stderr, "wycheproof: x25519: tcId %d: zero secret accepted\n",
                        int_field(test, "tcId"));
            }
            /* ... and nothing else is. */
            if (!zero_secret && !ok) {
                t.failed++;
                fprintf(stderr, "wycheproof: x25519: tcId %d (%s): rejected a non-zero secret\n",
                        int_field(test, "tcId"), str_field(test, "result"));
            }
            count(&t, test, ok);
            bytes_free(&pub);
            bytes_free(&priv);
            bytes_free(&shared);
        }
    }
    cJSON_Delete(root);
    report(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes_gcm),   cmocka_unit_test(test_hkdf),
        cmocka_unit_test(test_hmac),      cmocka_unit_test(test_oaep_2048),
        cmocka_unit_test(test_oaep_3072), cmocka_unit_test(test_pss_2048),
        cmocka_unit_test(test_pss_3072),  cmocka_unit_test(test_x25519),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
