/* SPDX-License-Identifier: MIT */
/*
 * crypto.h: thin wrappers over OpenSSL 3 EVP for the primitives of
 * DESIGN.md section 2.  Every function checks every libcrypto return value;
 * on SRM_ERR_LIBCRYPTO the OpenSSL error queue still holds the detail, which
 * the caller may drain with srm_crypto_drain_errors() into its debug log.
 */
#ifndef SRM_CRYPTO_H
#define SRM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "srm/err.h"
#include "srm/wire.h"

/* An RSA identity key (public, or private with its public half). Opaque. */
struct srm_key;

/*
 * Load a PKCS#8 (or traditional) PEM RSA private key.  Refuses, before
 * reading it, a file whose mode grants any access to group or others
 * (SRM_ERR_KEY_PERMS); SRM_ERR_IO if missing/unreadable (errno set),
 * SRM_ERR_KEY_FORMAT if not PEM, SRM_ERR_BAD_KEY if not RSA or under
 * SRM_RSA_MIN_BITS or over SRM_RSA_MAX_BITS.
 */
SRM_MUST_USE int srm_key_load_private(const char *path, struct srm_key **out);
/* Load an SPKI PEM RSA public key; errors as above (no permission check). */
SRM_MUST_USE int srm_key_load_public(const char *path, struct srm_key **out);
/* Parse a PEM private or public key held in memory (tests, fuzzers). */
SRM_MUST_USE int srm_key_from_pem(const char *pem, size_t n, int is_private, struct srm_key **out);
/* Generate a fresh RSA key (tests, benchmarks); bits >= SRM_RSA_MIN_BITS. */
SRM_MUST_USE int srm_key_generate(int bits, struct srm_key **out);
/* Write the key as PEM: private (PKCS#8) if is_private, else SPKI; *pem malloc'd, NUL-ended. */
SRM_MUST_USE int srm_key_to_pem(const struct srm_key *k, int is_private, char **pem, size_t *n);
/* Free (NULL allowed). */
void srm_key_free(struct srm_key *k);
/* Take a reference (keys are shared between a config and many handshakes). */
void srm_key_ref(struct srm_key *k);
/* Modulus size in bits / bytes (bytes = signature and OAEP block length). */
int srm_key_bits(const struct srm_key *k);
size_t srm_key_size(const struct srm_key *k);
/* 1 if the key holds a private half. */
int srm_key_is_private(const struct srm_key *k);
/* SHA-256 of the DER SubjectPublicKeyInfo. */
SRM_MUST_USE int srm_key_fingerprint(const struct srm_key *k, uint8_t out[SRM_HASH_LEN]);
/* "SHA256:" + unpadded base64 of the fingerprint, as ssh prints; out >= SRM_FP_STR_LEN. */
#define SRM_FP_STR_LEN 52
SRM_MUST_USE int srm_key_fingerprint_str(const struct srm_key *k, char *out, size_t outlen);
/* Format an already computed fingerprint the same way. */
void srm_fingerprint_format(const uint8_t fp[SRM_HASH_LEN], char out[SRM_FP_STR_LEN]);
/* 1 if a and b are the same public key (compares fingerprints), 0 otherwise. */
int srm_key_equal(const struct srm_key *a, const struct srm_key *b);

/*
 * RSA-PSS (SHA-256, MGF1-SHA-256, salt 32) over msg.  sig must have room for
 * srm_key_size(priv) bytes; *siglen receives the length.
 */
SRM_MUST_USE int srm_pss_sign(const struct srm_key *priv, const uint8_t *msg, size_t n,
                              uint8_t *sig, size_t *siglen);
/* 0 if valid, SRM_ERR_BAD_SIGNATURE if not (any reason), SRM_ERR_LIBCRYPTO on setup failure. */
SRM_MUST_USE int srm_pss_verify(const struct srm_key *pub, const uint8_t *msg, size_t n,
                                const uint8_t *sig, size_t siglen);

/* RSA-OAEP (SHA-256, MGF1-SHA-256, empty label). ct must hold srm_key_size(pub) bytes. */
SRM_MUST_USE int srm_oaep_encrypt(const struct srm_key *pub, const uint8_t *pt, size_t n,
                                  uint8_t *ct, size_t *ctlen);
/*
 * Decrypt into pt (room: ptcap).  Every failure, whatever its cause, returns
 * SRM_ERR_DECRYPT and clears the OpenSSL error queue, so callers cannot leak
 * an oracle by accident.
 */
SRM_MUST_USE int srm_oaep_decrypt(const struct srm_key *priv, const uint8_t *ct, size_t ctlen,
                                  uint8_t *pt, size_t ptcap, size_t *ptlen);

/* X25519: a fresh ephemeral key pair. */
SRM_MUST_USE int srm_x25519_keygen(uint8_t priv[SRM_X25519_LEN], uint8_t pub[SRM_X25519_LEN]);
/* Shared secret; SRM_ERR_BAD_KEY if the result is all zero (low-order peer point). */
SRM_MUST_USE int srm_x25519_derive(const uint8_t priv[SRM_X25519_LEN],
                                   const uint8_t peer[SRM_X25519_LEN], uint8_t z[SRM_X25519_LEN]);

/* HKDF-SHA256 (RFC 5869). */
SRM_MUST_USE int srm_hkdf_extract(const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
                                  size_t ikmlen, uint8_t prk[SRM_HASH_LEN]);
SRM_MUST_USE int srm_hkdf_expand(const uint8_t *prk, size_t prklen, const uint8_t *info,
                                 size_t infolen, uint8_t *okm, size_t okmlen);
/* One-shot HMAC-SHA256 and SHA-256. */
SRM_MUST_USE int srm_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t n,
                                 uint8_t out[SRM_HASH_LEN]);
SRM_MUST_USE int srm_sha256(const uint8_t *msg, size_t n, uint8_t out[SRM_HASH_LEN]);
/* RAND_bytes. */
SRM_MUST_USE int srm_random(void *p, size_t n);
/* OPENSSL_cleanse. */
void srm_wipe(void *p, size_t n);
/* Constant-time equality: 1 if equal (CRYPTO_memcmp). */
int srm_ct_equal(const void *a, const void *b, size_t n);
/*
 * Move every queued OpenSSL error into out as one line ("; "-separated),
 * truncated to outlen; clears the queue.  Returns the number of errors.
 */
int srm_crypto_drain_errors(char *out, size_t outlen);

#endif
