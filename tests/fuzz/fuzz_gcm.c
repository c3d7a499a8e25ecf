/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gcm.c: differential fuzz target for src/lib/gcm.c.  For arbitrary
 * key, nonce, AAD and plaintext, srm_gcm_seal must give the same ciphertext
 * and tag as OpenSSL's EVP_aes_256_gcm; srm_gcm_open must give the
 * plaintext back (in place and not); and with one input-chosen bit of the
 * ciphertext or tag flipped, open must fail with SRM_ERR_BAD_MAC and leave
 * the output untouched.  Any difference aborts.  Without AES-NI and
 * PCLMULQDQ (srm_gcm_supported() == 0) there is nothing to test.
 *
 * Input: key (32 bytes), nonce (12), AAD length (1 byte, cut to what is
 * left), AAD, then the plaintext.  The bit to flip is chosen by the first
 * four key bytes, modulo the bits of ciphertext and tag.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "srm/err.h"
#include "srm/gcm.h"

#define PATTERN 0xa5u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok);
static void evp_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
                     const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[16]);
static int untouched(const uint8_t *p, size_t n);

static void check(int ok)
{
    if (!ok) {
        abort();
    }
}

static void evp_seal(const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aadlen,
                     const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[16])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;

    check(ctx != NULL && n <= INT32_MAX);
    check(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1);
    if (aadlen > 0) {
        check(EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aadlen) == 1);
    }
    outl = 0;
    if (n > 0) {
        check(EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)n) == 1);
    }
    check(EVP_EncryptFinal_ex(ctx, ct + outl, &finl) == 1);
    check((size_t)outl + (size_t)finl == n);
    check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1);
    EVP_CIPHER_CTX_free(ctx);
}

static int untouched(const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] != PATTERN) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *key, *nonce, *aad, *pt;
    uint8_t tag[16], ref_tag[16];
    uint8_t *ct = NULL, *ref = NULL, *out = NULL;
    struct srm_gcm g;
    size_t aadlen, n, bit;

    if (!srm_gcm_supported() || size < SRM_GCM_KEY_LEN + SRM_GCM_NONCE_LEN + 1) {
        return 0;
    }
    key = data;
    nonce = key + SRM_GCM_KEY_LEN;
    aadlen = nonce[SRM_GCM_NONCE_LEN];
    aad = nonce + SRM_GCM_NONCE_LEN + 1;
    size -= SRM_GCM_KEY_LEN + SRM_GCM_NONCE_LEN + 1;
    aadlen = aadlen < size ? aadlen : size;
    pt = aad + aadlen;
    n = size - aadlen;

    ct = malloc(n + 1);
    ref = malloc(n + 1);
    out = malloc(n + 1);
    check(ct != NULL && ref != NULL && out != NULL);
    evp_seal(key, nonce, aad, aadlen, pt, n, ref, ref_tag);
    check(srm_gcm_init(&g, key) == 0);
    check(srm_gcm_seal(&g, nonce, aad, aadlen, pt, n, ct, tag) == 0);
    check(memcmp(ct, ref, n) == 0 && memcmp(tag, ref_tag, 16) == 0);

    /* Open, not in place and in place. */
    memset(out, PATTERN, n + 1);
    check(srm_gcm_open(&g, nonce, aad, aadlen, ct, n, tag, out) == 0);
    check(memcmp(out, pt, n) == 0 && out[n] == PATTERN);
    memcpy(out, ct, n);
    check(srm_gcm_open(&g, nonce, aad, aadlen, out, n, tag, out) == 0);
    check(memcmp(out, pt, n) == 0);

    /* One flipped bit of ciphertext or tag: refused, nothing written. */
    bit = ((size_t)key[0] | (size_t)key[1] << 8 | (size_t)key[2] << 16 | (size_t)key[3] << 24) %
          ((n + 16) * 8);
    if (bit < n * 8) {
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    } else {
        tag[bit / 8 - n] ^= (uint8_t)(1u << (bit % 8));
    }
    memset(out, PATTERN, n + 1);
    check(srm_gcm_open(&g, nonce, aad, aadlen, ct, n, tag, out) == SRM_ERR_BAD_MAC);
    check(untouched(out, n + 1));
    /* In place: the forged ciphertext stays as it was. */
    memcpy(out, ct, n);
    check(srm_gcm_open(&g, nonce, aad, aadlen, out, n, tag, out) == SRM_ERR_BAD_MAC);
    check(memcmp(out, ct, n) == 0);

    srm_gcm_wipe(&g);
    free(ct);
    free(ref);
    free(out);
    return 0;
}
