/* SPDX-License-Identifier: MIT */
/*
 * crypto.c: thin wrappers over the OpenSSL 3 EVP interfaces for the
 * primitives of DESIGN.md section 2 (RSA keys, RSA-PSS, RSA-OAEP, X25519,
 * HKDF-SHA256, HMAC-SHA256, SHA-256, randomness).
 *
 * Every libcrypto return value is checked.  Setup failures return
 * SRM_ERR_LIBCRYPTO and leave the OpenSSL error queue for the caller to
 * drain; failures caused by untrusted input (a bad signature, a bad
 * ciphertext, a low-order X25519 point) clear the queue and return their
 * own code, so that one peer's garbage never shows up as another
 * operation's error.  Secrets are wiped on every path.
 *
 * The only I/O here is reading a key file, which srm_key_load_* does on
 * behalf of the programs so the permission check lives in one place.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/wire.h"

/* A PEM RSA key of SRM_RSA_MAX_BITS is under 7 KiB; anything far larger is not a key. */
#define SRM_CRYPTO_MAX_KEY_FILE ((size_t)64 * 1024u)
/* HKDF-Expand can produce at most 255 blocks of the hash length (RFC 5869). */
#define SRM_CRYPTO_HKDF_MAX_OKM ((size_t)255 * SRM_HASH_LEN)
/* RSA-OAEP with SHA-256: the message is at most k - 2 * hLen - 2 bytes (RFC 8017 7.1.1). */
#define SRM_CRYPTO_OAEP_OVERHEAD (2u * SRM_HASH_LEN + 2u)
/* "SHA256:" prefix of a printed fingerprint. */
#define SRM_CRYPTO_FP_PREFIX     "SHA256:"
#define SRM_CRYPTO_FP_PREFIX_LEN 7u

struct srm_key {
    atomic_int refs; /* a relay may share keys between threads */
    int is_private;
    EVP_PKEY *pk;
    uint8_t fp[SRM_HASH_LEN]; /* SHA-256 of the DER SPKI, computed once */
};

static int no_password_cb(char *buf, int size, int rwflag, void *u);
static int read_key_file(const char *path, int flags, int check_perms, uint8_t **data, size_t *len);
static int parse_pem(const uint8_t *pem, size_t n, int is_private, struct srm_key **out);
static int key_wrap(EVP_PKEY **pk, int is_private, struct srm_key **out);
static int spki_sha256(EVP_PKEY *pk, uint8_t out[SRM_HASH_LEN]);
static int pss_setup(EVP_PKEY_CTX *pctx);
static int oaep_setup(EVP_PKEY_CTX *pctx);
static int hkdf_run(int mode, const uint8_t *salt, size_t saltlen, const uint8_t *key,
                    size_t keylen, const uint8_t *info, size_t infolen, uint8_t *out,
                    size_t outlen);
static void append_str(char *out, size_t outlen, size_t *used, const char *s);

/*
 * A password callback that refuses: without it OpenSSL would prompt on the
 * terminal for an encrypted key, which a relay under systemd must never do.
 */
static int no_password_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int srm_key_load_private(const char *path, struct srm_key **out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int r;

    /* O_NOFOLLOW: the mode we check must be the mode of the file we read. */
    r = read_key_file(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 1, &data, &len);
    if (r != 0) {
        return r;
    }
    r = parse_pem(data, len, 1, out);
    OPENSSL_clear_free(data, len);
    return r;
}

int srm_key_load_public(const char *path, struct srm_key **out)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int r;

    r = read_key_file(path, O_RDONLY | O_CLOEXEC, 0, &data, &len);
    if (r != 0) {
        return r;
    }
    r = parse_pem(data, len, 0, out);
    OPENSSL_clear_free(data, len);
    return r;
}

/*
 * Read the whole file into a fresh buffer (wiped by the caller).  On
 * SRM_ERR_IO errno still says why, for the caller's error line.
 */
static int read_key_file(const char *path, int flags, int check_perms, uint8_t **data, size_t *len)
{
    int r = SRM_ERR_INTERNAL;
    int fd = -1;
    int saved_errno = 0;
    struct stat st;
    uint8_t *buf = NULL;
    size_t cap = 0, used = 0;
    ssize_t got;

    *data = NULL;
    *len = 0;
    if (path == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((fd = open(path, flags)) < 0) {
        saved_errno = errno;
        r = SRM_ERR_IO;
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        saved_errno = errno;
        r = SRM_ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        saved_errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        r = SRM_ERR_IO;
        goto out;
    }
    /* Like ssh: a private key anyone else may read is refused, before reading it.
     */
    if (check_perms && (st.st_mode & 077) != 0) {
        r = SRM_ERR_KEY_PERMS;
        goto out;
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > SRM_CRYPTO_MAX_KEY_FILE) {
        r = SRM_ERR_KEY_FORMAT;
        goto out;
    }
    /* One byte over the cap lets us notice a file that grew since fstat. */
    cap = SRM_CRYPTO_MAX_KEY_FILE + 1u;
    if ((buf = OPENSSL_malloc(cap)) == NULL) {
        r = SRM_ERR_ALLOC;
        goto out;
    }
    for (;;) {
        got = read(fd, buf + used, cap - used);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            saved_errno = errno;
            r = SRM_ERR_IO;
            goto out;
        }
        if (got == 0) {
            break;
        }
        used += (size_t)got;
        if (used == cap) {
            r = SRM_ERR_KEY_FORMAT;
            goto out;
        }
    }
    *data = buf;
    *len = used;
    buf = NULL;
    r = 0;
out:
    if (buf != NULL) {
        OPENSSL_clear_free(buf, cap);
    }
    if (fd >= 0) {
        (void)close(fd);
    }
    if (r == SRM_ERR_IO) {
        errno = saved_errno;
    }
    return r;
}

int srm_key_from_pem(const char *pem, size_t n, int is_private, struct srm_key **out)
{
    if (pem == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    return parse_pem((const uint8_t *)pem, n, is_private, out);
}

static int parse_pem(const uint8_t *pem, size_t n, int is_private, struct srm_key **out)
{
    int r = SRM_ERR_INTERNAL;
    BIO *bio = NULL;
    EVP_PKEY *pk = NULL;

    *out = NULL;
    if (n > (size_t)INT_MAX) {
        return SRM_ERR_KEY_FORMAT;
    }
    if ((bio = BIO_new_mem_buf(pem, (int)n)) == NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if (is_private) {
        pk = PEM_read_bio_PrivateKey(bio, NULL, no_password_cb, NULL);
    } else {
        pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    }
    if (pk == NULL) {
        /* The queue says why ("no start line", ...); left for the caller's debug log. */
        r = SRM_ERR_KEY_FORMAT;
        goto out;
    }
    r = key_wrap(&pk, is_private, out);
out:
    EVP_PKEY_free(pk);
    BIO_free(bio);
    return r;
}

/* Check policy (RSA, size) and take ownership of *pk into a new srm_key. */
static int key_wrap(EVP_PKEY **pk, int is_private, struct srm_key **out)
{
    int r = SRM_ERR_INTERNAL;
    struct srm_key *k = NULL;
    int bits;

    *out = NULL;
    /* "RSA" only: an RSA-PSS-restricted key or any other type is refused. */
    if (EVP_PKEY_is_a(*pk, "RSA") != 1) {
        r = SRM_ERR_BAD_KEY;
        goto out;
    }
    bits = EVP_PKEY_get_bits(*pk);
    if (bits < SRM_RSA_MIN_BITS || bits > SRM_RSA_MAX_BITS) {
        r = SRM_ERR_BAD_KEY;
        goto out;
    }
    if ((k = calloc(1, sizeof(*k))) == NULL) {
        r = SRM_ERR_ALLOC;
        goto out;
    }
    if ((r = spki_sha256(*pk, k->fp)) != 0) {
        goto out;
    }
    atomic_init(&k->refs, 1);
    k->is_private = is_private ? 1 : 0;
    k->pk = *pk;
    *pk = NULL;
    *out = k;
    k = NULL;
    r = 0;
out:
    free(k);
    return r;
}

static int spki_sha256(EVP_PKEY *pk, uint8_t out[SRM_HASH_LEN])
{
    int r = SRM_ERR_INTERNAL;
    unsigned char *der = NULL;
    int len;

    if ((len = i2d_PUBKEY(pk, &der)) <= 0) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    r = srm_sha256(der, (size_t)len, out);
out:
    OPENSSL_free(der);
    return r;
}

int srm_key_generate(int bits, struct srm_key **out)
{
    EVP_PKEY *pk = NULL;
    int r;

    if (out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (bits < SRM_RSA_MIN_BITS || bits > SRM_RSA_MAX_BITS) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((pk = EVP_RSA_gen((unsigned int)bits)) == NULL) {
        return SRM_ERR_LIBCRYPTO;
    }
    r = key_wrap(&pk, 1, out);
    EVP_PKEY_free(pk);
    return r;
}

int srm_key_to_pem(const struct srm_key *k, int is_private, char **pem, size_t *n)
{
    int r = SRM_ERR_INTERNAL;
    BIO *bio = NULL;
    char *mem = NULL;
    char *copy = NULL;
    long len;

    if (k == NULL || pem == NULL || n == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    *pem = NULL;
    *n = 0;
    if (is_private && !k->is_private) {
        return SRM_ERR_INVALID_ARG;
    }
    /* The private PEM goes through secure memory, which is wiped when freed. */
    if ((bio = BIO_new(is_private ? BIO_s_secmem() : BIO_s_mem())) == NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if (is_private) {
        /* PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3. */
        if (PEM_write_bio_PrivateKey(bio, k->pk, NULL, NULL, 0, NULL, NULL) != 1) {
            r = SRM_ERR_LIBCRYPTO;
            goto out;
        }
    } else if (PEM_write_bio_PUBKEY(bio, k->pk) != 1) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    len = BIO_get_mem_data(bio, &mem);
    if (len <= 0 || mem == NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    /* malloc, not OPENSSL_malloc: the header promises the caller can free() it.
     */
    if ((copy = malloc((size_t)len + 1u)) == NULL) {
        r = SRM_ERR_ALLOC;
        goto out;
    }
    memcpy(copy, mem, (size_t)len);
    copy[len] = '\0';
    *pem = copy;
    *n = (size_t)len;
    copy = NULL;
    r = 0;
out:
    BIO_free(bio);
    return r;
}

void srm_key_free(struct srm_key *k)
{
    if (k == NULL) {
        return;
    }
    /* acq_rel: whoever frees last sees every other holder's use of the key. */
    if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) > 1) {
        return;
    }
    EVP_PKEY_free(k->pk);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

void srm_key_ref(struct srm_key *k)
{
    if (k != NULL) {
        atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
    }
}

int srm_key_bits(const struct srm_key *k)
{
    return k != NULL ? EVP_PKEY_get_bits(k->pk) : 0;
}

size_t srm_key_size(const struct srm_key *k)
{
    int sz;

    if (k == NULL) {
        return 0;
    }
    sz = EVP_PKEY_get_size(k->pk);
    return sz > 0 ? (size_t)sz : 0;
}

int srm_key_is_private(const struct srm_key *k)
{
    return k != NULL && k->is_private;
}

int srm_key_fingerprint(const struct srm_key *k, uint8_t out[SRM_HASH_LEN])
{
    if (k == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    memcpy(out, k->fp, SRM_HASH_LEN);
    return 0;
}

int srm_key_fingerprint_str(const struct srm_key *k, char *out, size_t outlen)
{
    if (k == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if (outlen < SRM_FP_STR_LEN) {
        return SRM_ERR_NO_SPACE;
    }
    srm_fingerprint_format(k->fp, out);
    return 0;
}

void srm_fingerprint_format(const uint8_t fp[SRM_HASH_LEN], char out[SRM_FP_STR_LEN])
{
    /* base64 of 32 bytes is 44 characters (one '=') plus the NUL EVP_EncodeBlock adds. */
    unsigned char b64[4u * ((SRM_HASH_LEN + 2u) / 3u) + 1u];
    int len;

    len = EVP_EncodeBlock(b64, fp, (int)SRM_HASH_LEN);
    /* ssh prints the base64 without its '=' padding. */
    while (len > 0 && b64[len - 1] == '=') {
        len--;
    }
    memcpy(out, SRM_CRYPTO_FP_PREFIX, SRM_CRYPTO_FP_PREFIX_LEN);
    memcpy(out + SRM_CRYPTO_FP_PREFIX_LEN, b64, (size_t)len);
    out[SRM_CRYPTO_FP_PREFIX_LEN + (size_t)len] = '\0';
}

int srm_key_equal(const struct srm_key *a, const struct srm_key *b)
{
    if (a == NULL || b == NULL) {
        return 0;
    }
    return CRYPTO_memcmp(a->fp, b->fp, SRM_HASH_LEN) == 0;
}

/* PSS parameters of DESIGN.md section 2: SHA-256 (set by the caller), MGF1-SHA-256, salt 32. */
static int pss_setup(EVP_PKEY_CTX *pctx)
{
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0) {
        return SRM_ERR_LIBCRYPTO;
    }
    if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)SRM_HASH_LEN) <= 0) {
        return SRM_ERR_LIBCRYPTO;
    }
    if (EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
        return SRM_ERR_LIBCRYPTO;
    }
    return 0;
}

int srm_pss_sign(const struct srm_key *priv, const uint8_t *msg, size_t n, uint8_t *sig,
                 size_t *siglen)
{
    int r = SRM_ERR_INTERNAL;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL; /* owned by md */
    size_t len;

    if (priv == NULL || sig == NULL || siglen == NULL || (msg == NULL && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    *siglen = 0;
    if (!priv->is_private) {
        return SRM_ERR_INVALID_ARG;
    }
    len = srm_key_size(priv);
    if ((md = EVP_MD_CTX_new()) == NULL) {
        r = SRM_ERR_ALLOC;
        goto out;
    }
    if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, priv->pk) != 1) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if ((r = pss_setup(pctx)) != 0) {
        goto out;
    }
    if (EVP_DigestSign(md, sig, &len, msg, n) != 1) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    *siglen = len;
    r = 0;
out:
    EVP_MD_CTX_free(md);
    return r;
}

int srm_pss_verify(const struct srm_key *pub, const uint8_t *msg, size_t n, const uint8_t *sig,
                   size_t siglen)
{
    int r = SRM_ERR_INTERNAL;
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL; /* owned by md */

    if (pub == NULL || (msg == NULL && n != 0) || (sig == NULL && siglen != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((md = EVP_MD_CTX_new()) == NULL) {
        r = SRM_ERR_ALLOC;
        goto out;
    }
    if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pub->pk) != 1) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if ((r = pss_setup(pctx)) != 0) {
        goto out;
    }
    /* 1 valid, 0 invalid, < 0 malformed: never `if (!verify)`, which takes -1 as true. */
    switch (EVP_DigestVerify(md, sig, siglen, msg, n)) {
    case 1:
        r = 0;
        break;
    case 0:
    default:
        /* 0: invalid; < 0: malformed (wrong length, out of range): both just a bad signature. */
        ERR_clear_error();
        r = SRM_ERR_BAD_SIGNATURE;
        break;
    }
out:
    EVP_MD_CTX_free(md);
    return r;
}

/* OAEP parameters of DESIGN.md section 2: SHA-256, MGF1-SHA-256, empty label (the default). */
static int oaep_setup(EVP_PKEY_CTX *pctx)
{
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0) {
        return SRM_ERR_LIBCRYPTO;
    }
    if (EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0) {
        return SRM_ERR_LIBCRYPTO;
    }
    if (EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0) {
        return SRM_ERR_LIBCRYPTO;
    }
    return 0;
}

int srm_oaep_encrypt(const struct srm_key *pub, const uint8_t *pt, size_t n, uint8_t *ct,
                     size_t *ctlen)
{
    int r = SRM_ERR_INTERNAL;
    EVP_PKEY_CTX *pctx = NULL;
    size_t k, len;

    if (pub == NULL || ct == NULL || ctlen == NULL || (pt == NULL && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    *ctlen = 0;
    k = srm_key_size(pub);
    if (k < SRM_CRYPTO_OAEP_OVERHEAD || n > k - SRM_CRYPTO_OAEP_OVERHEAD) {
        return SRM_ERR_TOO_LARGE;
    }
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub->pk, NULL)) == NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if (EVP_PKEY_encrypt_init(pctx) != 1) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if ((r = oaep_setup(pctx)) != 0) {
        goto out;
    }
    len = k;
    if (EVP_PKEY_encrypt(pctx, ct, &len, pt, n) != 1) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    *ctlen = len;
    r = 0;
out:
    EVP_PKEY_CTX_free(pctx);
    return r;
}

int srm_oaep_decrypt(const struct srm_key *priv, const uint8_t *ct, size_t ctlen, uint8_t *pt,
                     size_t ptcap, size_t *ptlen)
{
    int r = SRM_ERR_DECRYPT;
    EVP_PKEY_CTX *pctx = NULL;
    /* Decrypt into a block of the key's size, so ptcap never changes what OpenSSL sees. */
    uint8_t tmp[SRM_RSA_MAX_BYTES];
    size_t len = sizeof(tmp);

    if (ptlen != NULL) {
        *ptlen = 0;
    }
    if (priv == NULL || !priv->is_private || ct == NULL || pt == NULL || ptlen == NULL) {
        goto out;
    }
    if (ctlen != srm_key_size(priv)) {
        goto out;
    }
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv->pk, NULL)) == NULL) {
        goto out;
    }
    if (EVP_PKEY_decrypt_init(pctx) != 1 || oaep_setup(pctx) != 0) {
        goto out;
    }
    if (EVP_PKEY_decrypt(pctx, tmp, &len, ct, ctlen) != 1) {
        goto out;
    }
    if (len > ptcap) {
        goto out;
    }
    memcpy(pt, tmp, len);
    *ptlen = len;
    r = 0;
out:
    if (r != 0) {
        /* One answer for every failure and nothing left in the queue: no padding oracle. */
        ERR_clear_error();
        if (pt != NULL) {
            OPENSSL_cleanse(pt, ptcap);
        }
    }
    OPENSSL_cleanse(tmp, sizeof(tmp));
    EVP_PKEY_CTX_free(pctx);
    return r;
}

int srm_x25519_keygen(uint8_t priv[SRM_X25519_LEN], uint8_t pub[SRM_X25519_LEN])
{
    int r = SRM_ERR_INTERNAL;
    EVP_PKEY *pk = NULL;
    size_t len;

    if (priv == NULL || pub == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    len = SRM_X25519_LEN;
    if (EVP_PKEY_get_raw_private_key(pk, priv, &len) != 1 || len != SRM_X25519_LEN) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    len = SRM_X25519_LEN;
    if (EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1 || len != SRM_X25519_LEN) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    r = 0;
out:
    if (r != 0) {
        OPENSSL_cleanse(priv, SRM_X25519_LEN);
    }
    EVP_PKEY_free(pk);
    return r;
}

int srm_x25519_derive(const uint8_t priv[SRM_X25519_LEN], const uint8_t peer[SRM_X25519_LEN],
                      uint8_t z[SRM_X25519_LEN])
{
    int r = SRM_ERR_INTERNAL;
    EVP_PKEY *mine = NULL, *theirs = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t tmp[SRM_X25519_LEN];
    size_t len = sizeof(tmp);
    uint8_t acc = 0;
    size_t i;

    if (priv == NULL || peer == NULL || z == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((mine = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, SRM_X25519_LEN)) ==
            NULL ||
        (theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, SRM_X25519_LEN)) ==
            NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if ((pctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) == NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if (EVP_PKEY_derive_init(pctx) != 1 || EVP_PKEY_derive_set_peer(pctx, theirs) != 1) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    /*
     * OpenSSL itself fails the derivation when the result is all zero (a
     * low-order peer point); that is the only way a well-formed 32-byte
     * input can fail here, so it is the peer's fault, not libcrypto's.
     */
    if (EVP_PKEY_derive(pctx, tmp, &len) != 1 || len != SRM_X25519_LEN) {
        ERR_clear_error();
        r = SRM_ERR_BAD_KEY;
        goto out;
    }
    /* And check it ourselves, in constant time, rather than rely on that. */
    for (i = 0; i < sizeof(tmp); i++) {
        acc |= tmp[i];
    }
    if (acc == 0) {
        r = SRM_ERR_BAD_KEY;
        goto out;
    }
    memcpy(z, tmp, SRM_X25519_LEN);
    r = 0;
out:
    OPENSSL_cleanse(tmp, sizeof(tmp));
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(theirs);
    EVP_PKEY_free(mine);
    return r;
}

/* One HKDF step through EVP_KDF "HKDF" in EXTRACT_ONLY or EXPAND_ONLY mode. */
static int hkdf_run(int mode, const uint8_t *salt, size_t saltlen, const uint8_t *key,
                    size_t keylen, const uint8_t *info, size_t infolen, uint8_t *out, size_t outlen)
{
    int r = SRM_ERR_INTERNAL;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    OSSL_PARAM params[6];
    size_t np = 0;
    /* OpenSSL takes a NULL octet string as "not given"; an empty one must still be given. */
    uint8_t empty = 0;
    char digest[] = "SHA256";

    params[np++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[np++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[np++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_KEY, key != NULL ? (void *)(uintptr_t)key : &empty, keylen);
    if (saltlen != 0) {
        params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                         (void *)(uintptr_t)salt, saltlen);
    }
    if (infolen != 0) {
        params[np++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                         (void *)(uintptr_t)info, infolen);
    }
    params[np] = OSSL_PARAM_construct_end();

    if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if ((kctx = EVP_KDF_CTX_new(kdf)) == NULL) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if (EVP_KDF_derive(kctx, out, outlen, params) != 1) {
        r = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    r = 0;
out:
    /* EVP_KDF_CTX_free wipes the copies of the key it holds. */
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return r;
}

int srm_hkdf_extract(const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen,
                     uint8_t prk[SRM_HASH_LEN])
{
    if ((salt == NULL && saltlen != 0) || (ikm == NULL && ikmlen != 0) || prk == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    /* An empty salt means HashLen zero bytes (RFC 5869 2.2), which is also HMAC's view of it. */
    return hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, saltlen, ikm, ikmlen, NULL, 0, prk,
                    SRM_HASH_LEN);
}

int srm_hkdf_expand(const uint8_t *prk, size_t prklen, const uint8_t *info, size_t infolen,
                    uint8_t *okm, size_t okmlen)
{
    if (prk == NULL || prklen == 0 || (info == NULL && infolen != 0) || okm == NULL ||
        okmlen == 0) {
        return SRM_ERR_INVALID_ARG;
    }
    if (okmlen > SRM_CRYPTO_HKDF_MAX_OKM) {
        return SRM_ERR_TOO_LARGE;
    }
    return hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, prklen, info, infolen, okm,
                    okmlen);
}

int srm_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t n,
                    uint8_t out[SRM_HASH_LEN])
{
    /* A NULL key means "keep the old key" to EVP_MAC_init: pass a real, empty one. */
    uint8_t empty = 0;
    size_t outlen = 0;

    if ((key == NULL && keylen != 0) || (msg == NULL && n != 0) || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key != NULL ? key : &empty, keylen,
                  msg != NULL ? msg : &empty, n, out, SRM_HASH_LEN, &outlen) == NULL ||
        outlen != SRM_HASH_LEN) {
        return SRM_ERR_LIBCRYPTO;
    }
    return 0;
}

int srm_sha256(const uint8_t *msg, size_t n, uint8_t out[SRM_HASH_LEN])
{
    unsigned int len = 0;
    uint8_t empty = 0;

    if ((msg == NULL && n != 0) || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if (EVP_Digest(msg != NULL ? msg : &empty, n, out, &len, EVP_sha256(), NULL) != 1 ||
        len != SRM_HASH_LEN) {
        return SRM_ERR_LIBCRYPTO;
    }
    return 0;
}

int srm_random(void *p, size_t n)
{
    uint8_t *q = p;
    size_t chunk;

    if (p == NULL && n != 0) {
        return SRM_ERR_INVALID_ARG;
    }
    /* RAND_bytes takes an int length. */
    while (n > 0) {
        chunk = n > (size_t)INT_MAX ? (size_t)INT_MAX : n;
        if (RAND_bytes(q, (int)chunk) != 1) {
            return SRM_ERR_LIBCRYPTO;
        }
        q += chunk;
        n -= chunk;
    }
    return 0;
}

void srm_wipe(void *p, size_t n)
{
    if (p != NULL && n != 0) {
        OPENSSL_cleanse(p, n);
    }
}

int srm_ct_equal(const void *a, const void *b, size_t n)
{
    if (n == 0) {
        return 1;
    }
    return CRYPTO_memcmp(a, b, n) == 0;
}

int srm_crypto_drain_errors(char *out, size_t outlen)
{
    unsigned long e;
    const char *data = NULL;
    int flags = 0;
    int count = 0;
    size_t used = 0;
    char line[256];

    if (out != NULL && outlen > 0) {
        out[0] = '\0';
    }
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        if (count > 0) {
            append_str(out, outlen, &used, "; ");
        }
        ERR_error_string_n(e, line, sizeof(line));
        append_str(out, outlen, &used, line);
        if ((flags & ERR_TXT_STRING) != 0 && data != NULL && data[0] != '\0') {
            append_str(out, outlen, &used, " (");
            append_str(out, outlen, &used, data);
            append_str(out, outlen, &used, ")");
        }
        if (count < INT_MAX) {
            count++;
        }
    }
    return count;
}

/* Append s to out (capacity outlen, NUL kept), silently truncating. */
static void append_str(char *out, size_t outlen, size_t *used, const char *s)
{
    size_t n;

    if (out == NULL || outlen == 0 || *used >= outlen - 1u) {
        return;
    }
    n = strlen(s);
    if (n > outlen - 1u - *used) {
        n = outlen - 1u - *used;
    }
    memcpy(out + *used, s, n);
    *used += n;
    out[*used] = '\0';
}
