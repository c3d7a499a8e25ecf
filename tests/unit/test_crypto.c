/* SPDX-License-Identifier: MIT */
/*
 * test_crypto.c: the crypto wrappers against the RFCs' own vectors (RFC 4231
 * HMAC-SHA256, RFC 5869 HKDF, RFC 7748 X25519), RSA-PSS and RSA-OAEP round
 * trips and their failures, key loading policy (permissions, formats, key
 * types and sizes), fingerprints and the error-queue drain.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/wire.h"

/* A fixed 2048-bit test key (made with `openssl genpkey`; used for nothing else). */
static const char fixed_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCFYzFIhgroU4hm\n"
    "BIgyAoZazrJehZIeE28x2PXlBS15kzIWy9r8KQISC+879rtj4m/zS1z8IDBsZTZG\n"
    "hE4icEYo/G1t4Om8MWxUuAypAGwNfZsO6Wz+MvTBewkJUnFmWbeTMOghiK4YMVZr\n"
    "8v6ioWK78pYht5KoaRbo2THR1c4FiXpOTAMshtTuAN07NqwCv45BpoKNz8ocknZS\n"
    "0LzlikuZ6xGhnil9dZ5jHfenKZ5Qbm3XqZH7lOR2pvwd2vd06Okrc6KKm23pQ6id\n"
    "IUSqZ9ZoZOWuHyljeJpa2nB3NheYe4m26vBpXH/d6ipnvcLVa18g304pl8pNdpyt\n"
    "NykZqZGRAgMBAAECggEAAeNsrKD7rWx10lJq+nDFVcqmdS69SeRW6xjuCcIOEdIc\n"
    "99xG11IuDaL6PgJFJsHLWZGaAVaEEvvHlf3cZJHL93tz4eXozzWQqd4hbUDUlsgO\n"
    "Anr45FwksYrILufqM7OOVRTQm31tsAleRqjV9KfV39DsUdHBT3Wt6aneAgFNsW+6\n"
    "plGFaFcH0lGbNDqPPKj6D8yK1ZlOyhR6wHUJbA+BvZOpWfibStXq/Ys6ndVxUmXf\n"
    "0pIi+qz3ps0Y7/RQDlQLeWLE1vu3J6s+QlWHHfVWLyxOCj+BonkdK9hPgiExu3ov\n"
    "Q0n19OJ1lhwazDUWUQ0wX5O6F+e23xSFzQtyazveoQKBgQC60sSHbjVw3z/Ok7Qj\n"
    "e665+H1H+/4z0xkqDgg51OTNsey/ud5G5LyKZ/FiXoMWuwAjjtIVTqc6GkSbuKCl\n"
    "B2vXWMvRGf4FKw9iun8KVlnf6hXZoP42kI7Ziqa5t7vW2ROjUcsNoCvuI3aHVWDi\n"
    "Ose7kFwxdiDBbp1Cgel2dZMPMQKBgQC2xyt4rXydF+5abAu+L0ykaCxQNRsHfvq7\n"
    "iGPELAieUhxhWsRh4S36LRbYR6+KTPcruXqtuE63Ky9aJ97en78sBQwEe+30zZ1d\n"
    "pQZdcVT0ge7mX7gC60Ni+mNQ0BSHcFObAf25nQOr8E5yt54bqffmm60o6JAwBXR8\n"
    "PmB8zenQYQKBgCR0RAz5IExqA5VXlOrnk2yOZEPLlAqgwmRGYKyIMi1A7qVqq0jC\n"
    "EVggeCVts76Xtqs5jxzBQDhCL+kC2bXaAN0AYqTmoX54rIPjSC7IMrlSf/j7RR94\n"
    "jac9OtM6WtjNett/dlOuUWQiX1qA+mqqdZbP0G2GU1XrM5xqpReMUanBAoGAdcVX\n"
    "6WY/ySlGV9UOq/jmNXk6NGRDikzzWirDvf9xfjICP2iw6TCi43RyJ+Ho5gA5s17M\n"
    "AWukrLmSxVCzdlcQY1jNKYaBCSADqfdPZp5D01h1itNaSec1gG092TB6SdrCxDpA\n"
    "Nn1JhFxO7/QIWGLobRsaNCXF4mthZzz6BvDXG4ECgYEAj23rIi4yWfXMcaNTMoQ7\n"
    "D+248iJ6wVDN4tGE0PQBPSSps828CRtI/38XZ4CFMem07kHJYL2FtRZSun7w0dY7\n"
    "ooIQv0FnQfyVLSo+dfcJDioYxh/dPaw5IXkRzPciMvJb8nEQTDX5fmrfCU9TBOAw\n"
    "tePXlHvPwkx276LDcHdoccM=\n"
    "-----END PRIVATE KEY-----\n";
static const char fixed_pub_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAhWMxSIYK6FOIZgSIMgKG\n"
    "Ws6yXoWSHhNvMdj15QUteZMyFsva/CkCEgvvO/a7Y+Jv80tc/CAwbGU2RoROInBG\n"
    "KPxtbeDpvDFsVLgMqQBsDX2bDuls/jL0wXsJCVJxZlm3kzDoIYiuGDFWa/L+oqFi\n"
    "u/KWIbeSqGkW6Nkx0dXOBYl6TkwDLIbU7gDdOzasAr+OQaaCjc/KHJJ2UtC85YpL\n"
    "mesRoZ4pfXWeYx33pymeUG5t16mR+5Tkdqb8Hdr3dOjpK3Oiiptt6UOonSFEqmfW\n"
    "aGTlrh8pY3iaWtpwdzYXmHuJturwaVx/3eoqZ73C1WtfIN9OKZfKTXacrTcpGamR\n"
    "kQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
/*
 * Its fingerprint by the openssl CLI route: pkey -pubin -outform DER | dgst -sha256 -binary |
 * base64.
 */
static const char fixed_fp_str[] = "SHA256:TmkL94prWG/qL0/gbZh/gG/WHNQ5nQRnFDiv2j9QGzk";
/* An EC P-256 key: well-formed PEM, wrong key type. */
static const char ec_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0KVQkOEjkMtYbxol\n"
    "VERW2iQ15OLH3aOWNXbH7r2yuVShRANCAAR17p8uc9uIL39adjUvwiEXGa03o96C\n"
    "xTL6H17WRQLyO5LpAqWL7NOXNrFWEIf77uT66t6Z6i+xdQ2C+aHKC7Ls\n"
    "-----END PRIVATE KEY-----\n";

/* Keys made once for the whole file: RSA key generation is slow under ASan. */
struct fixture {
    struct srm_key *k1;    /* generated, 2048-bit */
    struct srm_key *k2;    /* generated, 2048-bit, a different key */
    struct srm_key *fixed; /* fixed_key_pem */
    char dir[64];          /* a private temporary directory for key files */
};

static size_t unhex(const char *hex, uint8_t *out, size_t cap);
static void write_file(const char *path, const void *data, size_t n, mode_t mode);

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2, i;
    unsigned int v;

    assert_true(strlen(hex) % 2 == 0);
    assert_true(n <= cap);
    for (i = 0; i < n; i++) {
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* Create path with exactly mode (fchmod, so the umask does not matter). */
static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    int fd;

    (void)unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static int group_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return -1;
    }
    if (srm_key_generate(2048, &f->k1) != 0 || srm_key_generate(2048, &f->k2) != 0 ||
        srm_key_from_pem(fixed_key_pem, strlen(fixed_key_pem), 1, &f->fixed) != 0) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/srm-test-crypto-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    srm_key_free(f->k1);
    srm_key_free(f->k2);
    srm_key_free(f->fixed);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", f->dir);
    }
    free(f);
    return 0;
}

/* RFC 4231 section 4: HMAC-SHA-256 test cases 1 to 7. */
static void test_hmac_rfc4231(void **state)
{
    static const char tc7_data[] =
        "This is a test using a larger than block-size key and a larger than block-size data. The "
        "key needs to be hashed before being used by the HMAC algorithm.";
    struct {
        const char *key_hex; /* NULL: use key_fill */
        uint8_t key_fill;
        size_t key_len;
        const char *data_str;
        uint8_t data_fill;
        size_t data_len;
        const char *mac_hex;
        size_t cmp_len;
    } tc[] = {
        {NULL, 0x0b, 20, "Hi There", 0, 8,
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32},
        {"4a656665", 0, 4, "what do ya want for nothing?", 0, 28,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32},
        {NULL, 0xaa, 20, NULL, 0xdd, 50,
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32},
        {"0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 25, NULL, 0xcd, 50,
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32},
        /* Case 5 is a truncation test: only the first 128 bits are given. */
        {NULL, 0x0c, 20, "Test With Truncation", 0, 20, "a3b6167473100ee06e0c796c2955552b", 16},
        {NULL, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 54,
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32},
        {NULL, 0xaa, 131, tc7_data, 0, sizeof(tc7_data) - 1,
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32},
    };
    uint8_t key[131], data[256], want[32], got[SRM_HASH_LEN];
    size_t i;

    (void)state;
    assert_int_equal(sizeof(tc7_data) - 1, 152);
    for (i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
        if (tc[i].key_hex != NULL) {
            assert_int_equal(unhex(tc[i].key_hex, key, sizeof(key)), tc[i].key_len);
        } else {
            memset(key, tc[i].key_fill, tc[i].key_len);
        }
        if (tc[i].data_str != NULL) {
            assert_int_equal(strlen(tc[i].data_str), tc[i].data_len);
            memcpy(data, tc[i].data_str, tc[i].data_len);
        } else {
            memset(data, tc[i].data_fill, tc[i].data_len);
        }
        assert_int_equal(unhex(tc[i].mac_hex, want, sizeof(want)), tc[i].cmp_len);
        memset(got, 0, sizeof(got));
        assert_int_equal(srm_hmac_sha256(key, tc[i].key_len, data, tc[i].data_len, got), 0);
        assert_memory_equal(got, want, (int)tc[i].cmp_len);
        /* A one-bit change of the key changes the MAC. */
        key[0] ^= 1;
        assert_int_equal(srm_hmac_sha256(key, tc[i].key_len, data, tc[i].data_len, got), 0);
        assert_memory_not_equal(got, want, (int)tc[i].cmp_len);
    }
    /* Empty key and message are allowed (NULL pointers with length 0). */
    assert_int_equal(srm_hmac_sha256(NULL, 0, NULL, 0, got), 0);
    /* HMAC-SHA256("", "") */
    unhex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", want, sizeof(want));
    assert_memory_equal(got, want, 32);
    assert_int_equal(srm_hmac_sha256(NULL, 3, data, 1, got), SRM_ERR_INVALID_ARG);
}

/* RFC 5869 appendix A: test cases 1 to 3 (SHA-256), PRK and OKM. */
static void test_hkdf_rfc5869(void **state)
{
    struct {
        const char *ikm, *salt, *info, *prk, *okm;
    } tc[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
         "f0f1f2f3f4f5f6f7f8f9", "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
         "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
         "404142434445464748494a4b4c4d4e4f",
         "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
         "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
         "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
         "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
         "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
         "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
         "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
         "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
         "cc30c58179ec3e87c14c01d5c1f3434f1d87"},
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
         "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
    };
    uint8_t ikm[128], salt[128], info[128], prk_want[32], okm_want[128], prk[SRM_HASH_LEN],
        okm[128];
    size_t i, ikm_n, salt_n, info_n, okm_n;

    (void)state;
    for (i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
        ikm_n = unhex(tc[i].ikm, ikm, sizeof(ikm));
        salt_n = unhex(tc[i].salt, salt, sizeof(salt));
        info_n = unhex(tc[i].info, info, sizeof(info));
        assert_int_equal(unhex(tc[i].prk, prk_want, sizeof(prk_want)), 32);
        okm_n = unhex(tc[i].okm, okm_want, sizeof(okm_want));
        assert_int_equal(srm_hkdf_extract(salt_n ? salt : NULL, salt_n, ikm, ikm_n, prk), 0);
        assert_memory_equal(prk, prk_want, 32);
        memset(okm, 0, sizeof(okm));
        assert_int_equal(srm_hkdf_expand(prk, 32, info_n ? info : NULL, info_n, okm, okm_n), 0);
        assert_memory_equal(okm, okm_want, (int)okm_n);
        /* The bytes past L are not touched. */
        assert_int_equal(okm[okm_n], 0);
    }
    /* An empty salt is the same as HashLen zero bytes (RFC 5869 section 2.2). */
    memset(salt, 0, 32);
    assert_int_equal(srm_hkdf_extract(salt, 32, ikm, ikm_n, okm), 0);
    assert_memory_equal(okm, prk, 32);
    /* L over 255 * HashLen is refused; so is an empty request. */
    {
        uint8_t *big = malloc(255 * 32 + 1);

        assert_non_null(big);
        assert_int_equal(srm_hkdf_expand(prk, 32, NULL, 0, big, 255 * 32), 0);
        assert_int_equal(srm_hkdf_expand(prk, 32, NULL, 0, big, 255 * 32 + 1), SRM_ERR_TOO_LARGE);
        free(big);
    }
    assert_int_equal(srm_hkdf_expand(prk, 32, NULL, 0, okm, 0), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_hkdf_expand(NULL, 32, NULL, 0, okm, 32), SRM_ERR_INVALID_ARG);
}

static void test_sha256(void **state)
{
    uint8_t got[SRM_HASH_LEN], want[32];

    (void)state;
    assert_int_equal(srm_sha256((const uint8_t *)"abc", 3, got), 0);
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, sizeof(want));
    assert_memory_equal(got, want, 32);
    assert_int_equal(srm_sha256(NULL, 0, got), 0);
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, sizeof(want));
    assert_memory_equal(got, want, 32);
}

/* RFC 7748 section 5.2 (two scalar multiplications) and section 6.1 (Alice and Bob). */
static void test_x25519_rfc7748(void **state)
{
    struct {
        const char *scalar, *u, *out;
    } tc[] = {
        {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
        /* This u has its top bit set, which X25519 must ignore. */
        {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    };
    uint8_t a[32], b[32], apub[32], bpub[32], want[32], k[32], base[32] = {9};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
        unhex(tc[i].scalar, a, sizeof(a));
        unhex(tc[i].u, b, sizeof(b));
        unhex(tc[i].out, want, sizeof(want));
        assert_int_equal(srm_x25519_derive(a, b, k), 0);
        assert_memory_equal(k, want, 32);
    }

    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, sizeof(a));
    unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, sizeof(b));
    unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, sizeof(want));
    /* Public keys are X25519(priv, 9). */
    assert_int_equal(srm_x25519_derive(a, base, apub), 0);
    unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", k, sizeof(k));
    assert_memory_equal(apub, k, 32);
    assert_int_equal(srm_x25519_derive(b, base, bpub), 0);
    unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", k, sizeof(k));
    assert_memory_equal(bpub, k, 32);
    assert_int_equal(srm_x25519_derive(a, bpub, k), 0);
    assert_memory_equal(k, want, 32);
    assert_int_equal(srm_x25519_derive(b, apub, k), 0);
    assert_memory_equal(k, want, 32);
}

/* Low-order points give an all-zero secret: refused, and the output is left as it was. */
static void test_x25519_low_order(void **state)
{
    static const char *const points[] = {
        "0000000000000000000000000000000000000000000000000000000000000000", /* 0 */
        "0100000000000000000000000000000000000000000000000000000000000000", /* 1 */
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", /* order 8 */
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", /* order 8 */
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p - 1 */
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", /* p (= 0) */
    };
    uint8_t priv[32], pub[32], peer[32], z[32], before[32];
    size_t i;

    (void)state;
    assert_int_equal(srm_x25519_keygen(priv, pub), 0);
    for (i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        unhex(points[i], peer, sizeof(peer));
        memset(z, 0xa5, sizeof(z));
        memcpy(before, z, sizeof(z));
        assert_int_equal(srm_x25519_derive(priv, peer, z), SRM_ERR_BAD_KEY);
        assert_memory_equal(z, before, 32);
        /* The peer's bad point leaves nothing in the error queue. */
        assert_int_equal(ERR_peek_error(), 0);
    }
}

static void test_x25519_keygen_agree(void **state)
{
    uint8_t a[32], apub[32], b[32], bpub[32], za[32], zb[32];

    (void)state;
    assert_int_equal(srm_x25519_keygen(a, apub), 0);
    assert_int_equal(srm_x25519_keygen(b, bpub), 0);
    assert_memory_not_equal(a, b, 32);
    assert_memory_not_equal(apub, bpub, 32);
    assert_int_equal(srm_x25519_derive(a, bpub, za), 0);
    assert_int_equal(srm_x25519_derive(b, apub, zb), 0);
    assert_memory_equal(za, zb, 32);
}

static void test_pss(void **state)
{
    struct fixture *f = *state;
    uint8_t msg[] = "transcript hash stand-in";
    uint8_t sig[SRM_RSA_MAX_BYTES], sig2[SRM_RSA_MAX_BYTES];
    size_t siglen = 0, siglen2 = 0, i;
    struct srm_key *pub = NULL;
    char *pem = NULL;
    size_t pemlen = 0;

    (void)state;
    assert_int_equal(srm_pss_sign(f->k1, msg, sizeof(msg), sig, &siglen), 0);
    assert_int_equal(siglen, 256);
    assert_int_equal(srm_pss_verify(f->k1, msg, sizeof(msg), sig, siglen), 0);
    /* PSS is randomised: two signatures differ and both verify. */
    assert_int_equal(srm_pss_sign(f->k1, msg, sizeof(msg), sig2, &siglen2), 0);
    assert_memory_not_equal(sig, sig2, (int)siglen);
    assert_int_equal(srm_pss_verify(f->k1, msg, sizeof(msg), sig2, siglen2), 0);

    /* Verify through the public half alone, as a peer would. */
    assert_int_equal(srm_key_to_pem(f->k1, 0, &pem, &pemlen), 0);
    assert_int_equal(srm_key_from_pem(pem, pemlen, 0, &pub), 0);
    assert_false(srm_key_is_private(pub));
    assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig, siglen), 0);
    /* A public key cannot sign. */
    assert_int_equal(srm_pss_sign(pub, msg, sizeof(msg), sig2, &siglen2), SRM_ERR_INVALID_ARG);

    /* Any flipped bit in the message or the signature is a bad signature. */
    for (i = 0; i < sizeof(msg) * 8; i += 7) {
        msg[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig, siglen), SRM_ERR_BAD_SIGNATURE);
        msg[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    for (i = 0; i < siglen * 8; i += 61) {
        sig[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig, siglen), SRM_ERR_BAD_SIGNATURE);
        sig[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* Truncated, empty, over-long and all-ones (out of range) signatures. */
    assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig, siglen - 1), SRM_ERR_BAD_SIGNATURE);
    assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig, 0), SRM_ERR_BAD_SIGNATURE);
    assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig, siglen + 1), SRM_ERR_BAD_SIGNATURE);
    memset(sig2, 0xff, siglen);
    assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig2, siglen), SRM_ERR_BAD_SIGNATURE);
    /* Bad signatures leave nothing in the OpenSSL error queue. */
    assert_int_equal(ERR_peek_error(), 0);
    /* A signature by another key. */
    assert_int_equal(srm_pss_verify(f->k2, msg, sizeof(msg), sig, siglen), SRM_ERR_BAD_SIGNATURE);
    assert_int_equal(srm_pss_sign(f->k2, msg, sizeof(msg), sig2, &siglen2), 0);
    assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig2, siglen2), SRM_ERR_BAD_SIGNATURE);
    /* The original still verifies: failures changed nothing. */
    assert_int_equal(srm_pss_verify(pub, msg, sizeof(msg), sig, siglen), 0);
    /* An empty message can be signed. */
    assert_int_equal(srm_pss_sign(f->k1, NULL, 0, sig, &siglen), 0);
    assert_int_equal(srm_pss_verify(pub, NULL, 0, sig, siglen), 0);

    srm_key_free(pub);
    free(pem);
}

static void test_oaep(void **state)
{
    struct fixture *f = *state;
    uint8_t pt[SRM_NONCE_LEN], out[SRM_RSA_MAX_BYTES], ct[SRM_RSA_MAX_BYTES];
    uint8_t big[256];
    size_t ctlen = 0, outlen = 0, i;

    (void)state;
    assert_int_equal(srm_random(pt, sizeof(pt)), 0);
    assert_int_equal(srm_oaep_encrypt(f->k1, pt, sizeof(pt), ct, &ctlen), 0);
    assert_int_equal(ctlen, srm_key_size(f->k1));
    assert_int_equal(srm_oaep_decrypt(f->k1, ct, ctlen, out, sizeof(out), &outlen), 0);
    assert_int_equal(outlen, sizeof(pt));
    assert_memory_equal(out, pt, sizeof(pt));
    /* Exactly enough room is enough. */
    assert_int_equal(srm_oaep_decrypt(f->k1, ct, ctlen, out, sizeof(pt), &outlen), 0);
    assert_memory_equal(out, pt, sizeof(pt));

    /* Tampered ciphertext: SRM_ERR_DECRYPT, output wiped, error queue empty. */
    for (i = 0; i < ctlen * 8; i += 97) {
        ct[i / 8] ^= (uint8_t)(1u << (i % 8));
        memset(out, 0x5a, sizeof(out));
        outlen = 99;
        assert_int_equal(srm_oaep_decrypt(f->k1, ct, ctlen, out, sizeof(out), &outlen),
                         SRM_ERR_DECRYPT);
        assert_int_equal(outlen, 0);
        assert_int_equal(out[0], 0);
        assert_int_equal(out[sizeof(out) - 1], 0);
        assert_int_equal(ERR_peek_error(), 0);
        ct[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* Truncated, empty, or too little room, or the wrong key: the same answer. */
    assert_int_equal(srm_oaep_decrypt(f->k1, ct, ctlen - 1, out, sizeof(out), &outlen),
                     SRM_ERR_DECRYPT);
    assert_int_equal(srm_oaep_decrypt(f->k1, ct, 0, out, sizeof(out), &outlen), SRM_ERR_DECRYPT);
    assert_int_equal(srm_oaep_decrypt(f->k1, ct, ctlen, out, sizeof(pt) - 1, &outlen),
                     SRM_ERR_DECRYPT);
    assert_int_equal(srm_oaep_decrypt(f->k2, ct, ctlen, out, sizeof(out), &outlen),
                     SRM_ERR_DECRYPT);
    assert_int_equal(ERR_peek_error(), 0);
    /* And the untouched ciphertext still decrypts. */
    assert_int_equal(srm_oaep_decrypt(f->k1, ct, ctlen, out, sizeof(out), &outlen), 0);
    assert_memory_equal(out, pt, sizeof(pt));

    /* The largest message for a 2048-bit key with SHA-256 is 256 - 66 = 190 bytes. */
    memset(big, 0x42, sizeof(big));
    assert_int_equal(srm_oaep_encrypt(f->k1, big, 190, ct, &ctlen), 0);
    assert_int_equal(srm_oaep_decrypt(f->k1, ct, ctlen, out, sizeof(out), &outlen), 0);
    assert_int_equal(outlen, 190);
    assert_memory_equal(out, big, 190);
    assert_int_equal(srm_oaep_encrypt(f->k1, big, 191, ct, &ctlen), SRM_ERR_TOO_LARGE);
    /* An empty message is allowed. */
    assert_int_equal(srm_oaep_encrypt(f->k1, NULL, 0, ct, &ctlen), 0);
    assert_int_equal(srm_oaep_decrypt(f->k1, ct, ctlen, out, sizeof(out), &outlen), 0);
    assert_int_equal(outlen, 0);
}

static void test_key_files(void **state)
{
    struct fixture *f = *state;
    char path[128], link[128];
    struct srm_key *k = NULL;
    char *pem = NULL;
    size_t pemlen = 0;
    static const mode_t bad_modes[] = {0640, 0604, 0644, 0660, 0606, 0400 | 0040, 0600 | 0001};
    size_t i;
    EVP_PKEY *small = NULL;
    BIO *bio = NULL;
    char *mem = NULL;
    long memlen;

    /* 0600 (and 0400): loads, is private, has the right fingerprint. */
    snprintf(path, sizeof(path), "%s/alice.key", f->dir);
    write_file(path, fixed_key_pem, strlen(fixed_key_pem), 0600);
    assert_int_equal(srm_key_load_private(path, &k), 0);
    assert_true(srm_key_is_private(k));
    assert_true(srm_key_equal(k, f->fixed));
    srm_key_free(k);
    k = NULL;
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(srm_key_load_private(path, &k), 0);
    srm_key_free(k);
    k = NULL;

    /* Any access for group or others: refused before reading. */
    for (i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
        assert_int_equal(chmod(path, bad_modes[i]), 0);
        assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_KEY_PERMS);
        assert_null(k);
    }
    /* The public loader does not care about modes. */
    snprintf(path, sizeof(path), "%s/alice.pub", f->dir);
    write_file(path, fixed_pub_pem, strlen(fixed_pub_pem), 0644);
    assert_int_equal(srm_key_load_public(path, &k), 0);
    assert_false(srm_key_is_private(k));
    assert_true(srm_key_equal(k, f->fixed));
    srm_key_free(k);
    k = NULL;
    /* A private key file is not a public key file, and the reverse. */
    assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_KEY_PERMS);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_KEY_FORMAT);

    /* Missing: SRM_ERR_IO with errno kept. */
    snprintf(path, sizeof(path), "%s/nobody.key", f->dir);
    errno = 0;
    assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_IO);
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_int_equal(srm_key_load_public(path, &k), SRM_ERR_IO);
    assert_int_equal(errno, ENOENT);
    /* A directory is not a key. */
    errno = 0;
    assert_int_equal(srm_key_load_private(f->dir, &k), SRM_ERR_IO);
    assert_int_equal(errno, EISDIR);

    /* A symbolic link to a good private key is not followed. */
    snprintf(path, sizeof(path), "%s/alice.key", f->dir);
    assert_int_equal(chmod(path, 0600), 0);
    snprintf(link, sizeof(link), "%s/link.key", f->dir);
    assert_int_equal(symlink(path, link), 0);
    errno = 0;
    assert_int_equal(srm_key_load_private(link, &k), SRM_ERR_IO);
    assert_int_equal(errno, ELOOP);

    /* Garbage, empty, and truncated PEM: not a key. */
    snprintf(path, sizeof(path), "%s/garbage.key", f->dir);
    write_file(path, "this is not a key\n", 18, 0600);
    assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_KEY_FORMAT);
    write_file(path, "", 0, 0600);
    assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_KEY_FORMAT);
    write_file(path, fixed_key_pem, strlen(fixed_key_pem) / 2, 0600);
    assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_KEY_FORMAT);
    assert_null(k);
    ERR_clear_error();

    /* An EC P-256 key: well-formed but not RSA. */
    snprintf(path, sizeof(path), "%s/ec.key", f->dir);
    write_file(path, ec_key_pem, strlen(ec_key_pem), 0600);
    assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_BAD_KEY);
    assert_null(k);

    /* A 1024-bit RSA key: too small. */
    small = EVP_RSA_gen(1024);
    assert_non_null(small);
    bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, small, NULL, NULL, 0, NULL, NULL), 1);
    memlen = BIO_get_mem_data(bio, &mem);
    assert_true(memlen > 0);
    snprintf(path, sizeof(path), "%s/small.key", f->dir);
    write_file(path, mem, (size_t)memlen, 0600);
    assert_int_equal(srm_key_load_private(path, &k), SRM_ERR_BAD_KEY);
    assert_int_equal(srm_key_from_pem(mem, (size_t)memlen, 1, &k), SRM_ERR_BAD_KEY);
    assert_null(k);
    BIO_free(bio);
    EVP_PKEY_free(small);
    /* srm_key_generate refuses to make one. */
    assert_int_equal(srm_key_generate(1024, &k), SRM_ERR_INVALID_ARG);

    /* What srm_key_to_pem writes loads back as the same key (keygen.sh writes these). */
    assert_int_equal(srm_key_to_pem(f->k1, 1, &pem, &pemlen), 0);
    assert_int_equal(strlen(pem), pemlen);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    snprintf(path, sizeof(path), "%s/k1.key", f->dir);
    write_file(path, pem, pemlen, 0600);
    assert_int_equal(srm_key_load_private(path, &k), 0);
    assert_true(srm_key_equal(k, f->k1));
    assert_false(srm_key_equal(k, f->k2));
    srm_key_free(k);
    k = NULL;
    free(pem);
    assert_int_equal(srm_key_to_pem(f->k1, 0, &pem, &pemlen), 0);
    assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
    assert_null(strstr(pem, "PRIVATE"));
    free(pem);
    pem = NULL;
    /* A public key has no private PEM. */
    assert_int_equal(srm_key_from_pem(fixed_pub_pem, strlen(fixed_pub_pem), 0, &k), 0);
    assert_int_equal(srm_key_to_pem(k, 1, &pem, &pemlen), SRM_ERR_INVALID_ARG);
    assert_null(pem);
    srm_key_free(k);
    k = NULL;
    /* A public PEM is not a private key and the reverse. */
    assert_int_equal(srm_key_from_pem(fixed_pub_pem, strlen(fixed_pub_pem), 1, &k),
                     SRM_ERR_KEY_FORMAT);
    assert_int_equal(srm_key_from_pem(fixed_key_pem, strlen(fixed_key_pem), 0, &k),
                     SRM_ERR_KEY_FORMAT);
    assert_null(k);
    ERR_clear_error();
}

static void test_fingerprint(void **state)
{
    struct fixture *f = *state;
    char s[SRM_FP_STR_LEN];
    uint8_t fp[SRM_HASH_LEN], fp2[SRM_HASH_LEN];
    struct srm_key *pub = NULL;

    assert_int_equal(srm_key_fingerprint_str(f->fixed, s, sizeof(s)), 0);
    assert_string_equal(s, fixed_fp_str);
    assert_int_equal(strlen(s), 7 + 43);
    assert_int_equal(srm_key_fingerprint_str(f->fixed, s, SRM_FP_STR_LEN - 1), SRM_ERR_NO_SPACE);

    /* The public half has the same fingerprint; format() gives the same string. */
    assert_int_equal(srm_key_from_pem(fixed_pub_pem, strlen(fixed_pub_pem), 0, &pub), 0);
    assert_int_equal(srm_key_fingerprint(pub, fp), 0);
    assert_int_equal(srm_key_fingerprint(f->fixed, fp2), 0);
    assert_memory_equal(fp, fp2, SRM_HASH_LEN);
    srm_fingerprint_format(fp, s);
    assert_string_equal(s, fixed_fp_str);
    assert_true(srm_key_equal(pub, f->fixed));
    assert_false(srm_key_equal(pub, f->k1));
    assert_false(srm_key_equal(pub, NULL));

    /* Sizes. */
    assert_int_equal(srm_key_bits(pub), 2048);
    assert_int_equal(srm_key_size(pub), 256);

    /* References: the key survives until the last free. */
    srm_key_ref(pub);
    srm_key_free(pub);
    assert_int_equal(srm_key_bits(pub), 2048);
    srm_key_free(pub);
    srm_key_free(NULL);
}

static void test_misc(void **state)
{
    uint8_t a[64], b[64];
    char line[512], tiny[8];
    struct srm_key *k = NULL;
    int n;

    (void)state;
    assert_int_equal(srm_random(a, sizeof(a)), 0);
    assert_int_equal(srm_random(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(srm_random(NULL, 0), 0);
    assert_true(srm_ct_equal(a, a, sizeof(a)));
    assert_false(srm_ct_equal(a, b, sizeof(a)));
    memcpy(b, a, sizeof(a));
    b[63] ^= 0x80;
    assert_false(srm_ct_equal(a, b, sizeof(a)));
    assert_true(srm_ct_equal(a, b, 63));
    srm_wipe(a, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_memory_equal(a, b, sizeof(a));
    srm_wipe(NULL, 0);

    /* The error queue drains into one line, truncated safely, and is then empty. */
    ERR_clear_error();
    assert_int_equal(srm_crypto_drain_errors(line, sizeof(line)), 0);
    assert_string_equal(line, "");
    assert_int_equal(srm_key_from_pem("garbage", 7, 1, &k), SRM_ERR_KEY_FORMAT);
    n = srm_crypto_drain_errors(line, sizeof(line));
    assert_true(n >= 1);
    assert_true(strlen(line) > 0);
    assert_int_equal(ERR_peek_error(), 0);
    assert_int_equal(srm_key_from_pem("garbage", 7, 1, &k), SRM_ERR_KEY_FORMAT);
    memset(tiny, 'x', sizeof(tiny));
    assert_true(srm_crypto_drain_errors(tiny, sizeof(tiny)) >= 1);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_int_equal(srm_key_from_pem("garbage", 7, 1, &k), SRM_ERR_KEY_FORMAT);
    assert_true(srm_crypto_drain_errors(NULL, 0) >= 1);
    assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_x25519_rfc7748),
        cmocka_unit_test(test_x25519_low_order),
        cmocka_unit_test(test_x25519_keygen_agree),
        cmocka_unit_test(test_pss),
        cmocka_unit_test(test_oaep),
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_misc),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
