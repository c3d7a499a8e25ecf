/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sha256.c: differential fuzz target for src/lib/sha256.c.  For
 * arbitrary input and every block function this CPU runs, our SHA-256
 * (whole and split at an input-chosen point), our HMAC (key taken from the
 * input, 0..200 bytes) and our record keystream (srm_hmac_ctr_xor) must
 * equal OpenSSL's EVP_Digest and EVP_MAC results; any difference aborts.
 *
 * Input: byte 0 = key length (mod 201), byte 1 = split point selector,
 * then key bytes, then the message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "srm/sha256.h"

#define MAX_KEY 200u
#define MAX_KS  4096u /* keystream bytes checked per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok);
static void ossl_hmac(const uint8_t *key, size_t keylen, const uint8_t *p, size_t n,
                      uint8_t out[32]);
static void run_impl(enum srm_sha256_impl impl, const uint8_t *key, size_t keylen,
                     const uint8_t *msg, size_t n, size_t split, const uint8_t want_sha[32],
                     const uint8_t want_mac[32]);
static void run_keystream(enum srm_sha256_impl impl, const uint8_t *msg, size_t n);

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void ossl_hmac(const uint8_t *key, size_t keylen, const uint8_t *p, size_t n,
                      uint8_t out[32])
{
    static const uint8_t zero = 0;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    size_t len = 0;

    check(mac != NULL);
    ctx = EVP_MAC_CTX_new(mac);
    check(ctx != NULL);
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    check(EVP_MAC_init(ctx, keylen == 0 ? &zero : key, keylen, params) == 1);
    check(EVP_MAC_update(ctx, p, n) == 1);
    check(EVP_MAC_final(ctx, out, &len, 32) == 1 && len == 32);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

static void run_impl(enum srm_sha256_impl impl, const uint8_t *key, size_t keylen,
                     const uint8_t *msg, size_t n, size_t split, const uint8_t want_sha[32],
                     const uint8_t want_mac[32])
{
    struct srm_sha256 st;
    struct srm_hmac_key hk;
    struct srm_hmac h;
    uint8_t got[32];

    check(srm_sha256_init_impl(&st, impl) == 0);
    srm_sha256_update(&st, msg, n);
    srm_sha256_final(&st, got);
    check(memcmp(got, want_sha, 32) == 0);

    /* Split: a first part, whole blocks through srm_sha256_blocks, the rest. */
    check(srm_sha256_init_impl(&st, impl) == 0);
    srm_sha256_update(&st, msg, split);
    srm_sha256_blocks(&st, msg + split, (n - split) / 64);
    srm_sha256_update(&st, msg + split + (n - split) / 64 * 64, (n - split) % 64);
    srm_sha256_final(&st, got);
    check(memcmp(got, want_sha, 32) == 0);

    check(srm_hmac_key_init_impl(&hk, key, keylen, impl) == 0);
    srm_hmac_init(&h, &hk);
    srm_hmac_update(&h, msg, split);
    srm_hmac_update(&h, msg + split, n - split);
    srm_hmac_final(&h, got);
    check(memcmp(got, want_mac, 32) == 0);
    srm_hmac_key_wipe(&hk);
}

/* Key = the first 32 message bytes (zero-padded), iv = the next 16, keystream over the rest. */
static void run_keystream(enum srm_sha256_impl impl, const uint8_t *msg, size_t n)
{
    uint8_t key[32] = {0}, iv[16] = {0}, blk[20], want[32];
    uint8_t *out = NULL;
    struct srm_hmac_key hk;
    const uint8_t *pt;
    size_t ptlen, j, b, take;

    memcpy(key, msg, n < 32 ? n : 32);
    if (n > 32) {
        memcpy(iv, msg + 32, n - 32 < 16 ? n - 32 : 16);
    }
    pt = n > 48 ? msg + 48 : msg;
    ptlen = n > 48 ? n - 48 : 0;
    ptlen = ptlen < MAX_KS ? ptlen : MAX_KS;
    out = malloc(ptlen + 1);
    check(out != NULL);
    check(srm_hmac_key_init_impl(&hk, key, sizeof(key), impl) == 0);
    check(srm_hmac_ctr_xor(&hk, iv, pt, out, ptlen) == 0);
    memcpy(blk, iv, 16);
    for (j = 0; j * 32 < ptlen; j++) {
        blk[16] = (uint8_t)(j >> 24);
        blk[17] = (uint8_t)(j >> 16);
        blk[18] = (uint8_t)(j >> 8);
        blk[19] = (uint8_t)j;
        ossl_hmac(key, sizeof(key), blk, sizeof(blk), want);
        take = ptlen - j * 32 < 32 ? ptlen - j * 32 : 32;
        for (b = 0; b < take; b++) {
            check((uint8_t)(out[j * 32 + b] ^ pt[j * 32 + b]) == want[b]);
        }
    }
    srm_hmac_key_wipe(&hk);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum srm_sha256_impl impls[2] = {SRM_SHA256_PORTABLE, SRM_SHA256_SHANI};
    size_t nimpl = srm_sha256_have_shani() ? 2 : 1;
    uint8_t want_sha[32], want_mac[32];
    const uint8_t *key, *msg;
    size_t keylen, n, split, i;
    unsigned int len = 0;

    if (size < 2) {
        return 0;
    }
    keylen = data[0] % (MAX_KEY + 1);
    keylen = keylen < size - 2 ? keylen : size - 2;
    key = data + 2;
    msg = key + keylen;
    n = size - 2 - keylen;
    split = n == 0 ? 0 : (size_t)data[1] * 37u % (n + 1);

    check(EVP_Digest(msg, n, want_sha, &len, EVP_sha256(), NULL) == 1 && len == 32);
    ossl_hmac(key, keylen, msg, n, want_mac);
    for (i = 0; i < nimpl; i++) {
        run_impl(impls[i], key, keylen, msg, n, split, want_sha, want_mac);
        run_keystream(impls[i], msg, n);
    }
    return 0;
}
