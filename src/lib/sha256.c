/* SPDX-License-Identifier: MIT */
/*
 * sha256.c: SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) of our own, for
 * the record layer's keystream and tag (DESIGN.md 3a).
 *
 * Why not EVP: a keystream block is HMAC over 20 bytes, i.e. two SHA-256
 * compressions of about 0.1 us each with SHA extensions; EVP_MAC_CTX_dup or
 * EVP_MD_CTX_copy_ex per block costs more than the compressions themselves
 * (docs/BENCHMARKS.md, "record routes").  Here a keystream block is two
 * calls of the block function on precomputed states and fixed padded
 * blocks, and two blocks at a time are interleaved on the SHA unit.
 *
 * What guards it: tests/unit/test_sha256.c (NIST vectors, RFC 4231, and
 * differential tests against EVP_Digest / EVP_MAC for both block functions)
 * and tests/fuzz/fuzz_sha256.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "srm/err.h"
#include "srm/sha256.h"

#include "sha256_impl.h"

#define BLOCK       SRM_SHA256_BLOCK_LEN
#define DIGEST      SRM_SHA256_LEN
#define CTR_MSG_LEN (SRM_HMAC_CTR_IV_LEN + 4u) /* iv || u32be(ctr) */
/* Largest srm_hmac_ctr_xor length: 2^32 counter values of 32 bytes. */
#define CTR_XOR_MAX ((uint64_t)1 << 37)

const uint32_t srm_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 section 5.3.3. */
static const uint32_t sha256_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t rotr(uint32_t x, unsigned n);
static uint32_t get_be32(const uint8_t *p);
static void put_be32(uint8_t *p, uint32_t v);
static void put_digest(const uint32_t h[8], uint8_t out[DIGEST]);
static void compress(enum srm_sha256_impl impl, uint32_t h[8], const uint8_t *p, size_t nblocks);
static void compress_x2(enum srm_sha256_impl impl, uint32_t ha[8], const uint8_t *pa,
                        uint32_t hb[8], const uint8_t *pb);
static void start(struct srm_sha256 *st, enum srm_sha256_impl impl);
static void pad_block_init(uint8_t blk[BLOCK], size_t msglen, uint64_t totlen);
static void ctr_pair(const struct srm_hmac_key *k, uint8_t in_a[BLOCK], uint8_t in_b[BLOCK],
                     uint8_t out_a[BLOCK], uint8_t out_b[BLOCK], uint8_t ks[2 * DIGEST]);

/* ---- block functions ---- */

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* FIPS 180-4 section 6.2.2, with the schedule kept in a 16-word ring. */
void srm_sha256_blocks_portable(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    uint32_t w[16];
    uint32_t a, b, c, d, e, f, g, hh, t1, t2, s0, s1;
    size_t blk;
    unsigned t;

    for (blk = 0; blk < nblocks; blk++, p += BLOCK) {
        a = h[0];
        b = h[1];
        c = h[2];
        d = h[3];
        e = h[4];
        f = h[5];
        g = h[6];
        hh = h[7];
        for (t = 0; t < 64; t++) {
            if (t < 16) {
                w[t] = get_be32(p + (size_t)4 * t);
            } else {
                s0 = rotr(w[(t - 15) & 15], 7) ^ rotr(w[(t - 15) & 15], 18) ^
                     (w[(t - 15) & 15] >> 3);
                s1 =
                    rotr(w[(t - 2) & 15], 17) ^ rotr(w[(t - 2) & 15], 19) ^ (w[(t - 2) & 15] >> 10);
                w[t & 15] += s0 + w[(t - 7) & 15] + s1;
            }
            t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                 srm_sha256_k[t] + w[t & 15];
            t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }
    OPENSSL_cleanse(w, sizeof(w));
}

static void compress(enum srm_sha256_impl impl, uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    if (impl == SRM_SHA256_SHANI) {
        srm_sha256_blocks_shani(h, p, nblocks);
    } else {
        srm_sha256_blocks_portable(h, p, nblocks);
    }
}

static void compress_x2(enum srm_sha256_impl impl, uint32_t ha[8], const uint8_t *pa,
                        uint32_t hb[8], const uint8_t *pb)
{
    if (impl == SRM_SHA256_SHANI) {
        srm_sha256_x2_shani(ha, pa, hb, pb);
    } else {
        srm_sha256_blocks_portable(ha, pa, 1);
        srm_sha256_blocks_portable(hb, pb, 1);
    }
}

/* ---- SHA-256 ---- */

int srm_sha256_have_shani(void)
{
    return srm_sha256_shani_supported();
}

void srm_sha256_init(struct srm_sha256 *st)
{
    start(st, srm_sha256_shani_supported() ? SRM_SHA256_SHANI : SRM_SHA256_PORTABLE);
}

int srm_sha256_init_impl(struct srm_sha256 *st, enum srm_sha256_impl impl)
{
    if (st == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    switch (impl) {
    case SRM_SHA256_AUTO:
        srm_sha256_init(st);
        return 0;
    case SRM_SHA256_SHANI:
        if (!srm_sha256_shani_supported()) {
            return SRM_ERR_INVALID_ARG;
        }
        start(st, impl);
        return 0;
    case SRM_SHA256_PORTABLE:
        start(st, impl);
        return 0;
    default:
        return SRM_ERR_INVALID_ARG;
    }
}

/* impl is resolved (PORTABLE or SHANI) and runs on this CPU. */
static void start(struct srm_sha256 *st, enum srm_sha256_impl impl)
{
    memset(st, 0, sizeof(*st));
    memcpy(st->h, sha256_iv, sizeof(st->h));
    st->impl = impl;
}

void srm_sha256_blocks(struct srm_sha256 *st, const uint8_t *p, size_t nblocks)
{
    if (st->buflen != 0) {
        srm_sha256_update(st, p, nblocks * BLOCK);
        return;
    }
    compress(st->impl, st->h, p, nblocks);
    st->nbytes += (uint64_t)nblocks * BLOCK;
}

void srm_sha256_update(struct srm_sha256 *st, const uint8_t *p, size_t n)
{
    size_t take, whole;

    if (n == 0) {
        return;
    }
    st->nbytes += n;
    if (st->buflen != 0) {
        take = BLOCK - st->buflen < n ? BLOCK - st->buflen : n;
        memcpy(st->buf + st->buflen, p, take);
        st->buflen += take;
        p += take;
        n -= take;
        if (st->buflen < BLOCK) {
            return;
        }
        compress(st->impl, st->h, st->buf, 1);
        st->buflen = 0;
    }
    whole = n / BLOCK;
    if (whole != 0) {
        compress(st->impl, st->h, p, whole);
        p += whole * BLOCK;
        n -= whole * BLOCK;
    }
    if (n != 0) {
        memcpy(st->buf, p, n);
        st->buflen = n;
    }
}

/* Write h as the big-endian digest. */
static void put_digest(const uint32_t h[8], uint8_t out[DIGEST])
{
    unsigned i;

    for (i = 0; i < 8; i++) {
        put_be32(out + (size_t)4 * i, h[i]);
    }
}

void srm_sha256_final(struct srm_sha256 *st, uint8_t out[SRM_SHA256_LEN])
{
    uint64_t bits = st->nbytes * 8u;
    unsigned i;

    /* 0x80, zeros to 56 mod 64, then the bit length as u64be. */
    st->buf[st->buflen++] = 0x80;
    if (st->buflen > BLOCK - 8) {
        memset(st->buf + st->buflen, 0, BLOCK - st->buflen);
        compress(st->impl, st->h, st->buf, 1);
        st->buflen = 0;
    }
    memset(st->buf + st->buflen, 0, BLOCK - 8 - st->buflen);
    for (i = 0; i < 8; i++) {
        st->buf[BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
    }
    compress(st->impl, st->h, st->buf, 1);
    put_digest(st->h, out);
    OPENSSL_cleanse(st, sizeof(*st));
}

/* ---- HMAC ---- */

int srm_hmac_key_init(struct srm_hmac_key *k, const uint8_t *key, size_t keylen)
{
    return srm_hmac_key_init_impl(k, key, keylen, SRM_SHA256_AUTO);
}

int srm_hmac_key_init_impl(struct srm_hmac_key *k, const uint8_t *key, size_t keylen,
                           enum srm_sha256_impl impl)
{
    int rc = SRM_ERR_INVALID_ARG;
    struct srm_sha256 kh;
    uint8_t pad[BLOCK];
    uint8_t hashed[DIGEST];
    size_t i;

    if (k == NULL || (key == NULL && keylen != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    memset(pad, 0, sizeof(pad));
    /* RFC 2104: a key longer than the block is replaced by its hash. */
    if (keylen > BLOCK) {
        if ((rc = srm_sha256_init_impl(&kh, impl)) != 0) {
            goto out;
        }
        srm_sha256_update(&kh, key, keylen);
        srm_sha256_final(&kh, hashed);
        memcpy(pad, hashed, DIGEST);
    } else if (keylen != 0) {
        memcpy(pad, key, keylen);
    }
    if ((rc = srm_sha256_init_impl(&k->inner, impl)) != 0 ||
        (rc = srm_sha256_init_impl(&k->outer, impl)) != 0) {
        goto out;
    }
    for (i = 0; i < BLOCK; i++) {
        pad[i] ^= 0x36;
    }
    srm_sha256_blocks(&k->inner, pad, 1);
    for (i = 0; i < BLOCK; i++) {
        pad[i] ^= 0x36 ^ 0x5c;
    }
    srm_sha256_blocks(&k->outer, pad, 1);
    rc = 0;
out:
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(hashed, sizeof(hashed));
    return rc;
}

void srm_hmac_key_wipe(struct srm_hmac_key *k)
{
    if (k != NULL) {
        OPENSSL_cleanse(k, sizeof(*k));
    }
}

/*
 * The one padded block of a message of msglen (< 56) bytes that follows
 * one block already absorbed: bytes [0, msglen) are the caller's, then
 * 0x80, zeros, and the bit length of the whole hashed input, totlen bytes.
 */
static void pad_block_init(uint8_t blk[BLOCK], size_t msglen, uint64_t totlen)
{
    uint64_t bits = totlen * 8u;
    unsigned i;

    memset(blk + msglen, 0, BLOCK - msglen);
    blk[msglen] = 0x80;
    for (i = 0; i < 8; i++) {
        blk[BLOCK - 1 - i] = (uint8_t)(bits >> (8 * i));
    }
}

void srm_hmac_ctr(const struct srm_hmac_key *k, const uint8_t iv[SRM_HMAC_CTR_IV_LEN], uint32_t ctr,
                  uint8_t out[SRM_SHA256_LEN])
{
    uint8_t in[BLOCK], ob[BLOCK];
    uint32_t h[8];

    memcpy(in, iv, SRM_HMAC_CTR_IV_LEN);
    put_be32(in + SRM_HMAC_CTR_IV_LEN, ctr);
    pad_block_init(in, CTR_MSG_LEN, BLOCK + CTR_MSG_LEN);
    pad_block_init(ob, DIGEST, BLOCK + DIGEST);
    memcpy(h, k->inner.h, sizeof(h));
    compress(k->inner.impl, h, in, 1);
    put_digest(h, ob);
    memcpy(h, k->outer.h, sizeof(h));
    compress(k->outer.impl, h, ob, 1);
    put_digest(h, out);
    OPENSSL_cleanse(h, sizeof(h));
    OPENSSL_cleanse(ob, sizeof(ob));
}

/*
 * Two keystream blocks at once: in_a and in_b are padded inner blocks with
 * their counters set, out_a and out_b padded outer blocks (their first 32
 * bytes are overwritten); ks receives both HMACs.
 */
static void ctr_pair(const struct srm_hmac_key *k, uint8_t in_a[BLOCK], uint8_t in_b[BLOCK],
                     uint8_t out_a[BLOCK], uint8_t out_b[BLOCK], uint8_t ks[2 * DIGEST])
{
    uint32_t ha[8], hb[8];

    memcpy(ha, k->inner.h, sizeof(ha));
    memcpy(hb, k->inner.h, sizeof(hb));
    compress_x2(k->inner.impl, ha, in_a, hb, in_b);
    put_digest(ha, out_a);
    put_digest(hb, out_b);
    memcpy(ha, k->outer.h, sizeof(ha));
    memcpy(hb, k->outer.h, sizeof(hb));
    compress_x2(k->outer.impl, ha, out_a, hb, out_b);
    put_digest(ha, ks);
    put_digest(hb, ks + DIGEST);
}

int srm_hmac_ctr_xor(const struct srm_hmac_key *k, const uint8_t iv[SRM_HMAC_CTR_IV_LEN],
                     const uint8_t *in, uint8_t *out, size_t n)
{
    uint8_t in_a[BLOCK], in_b[BLOCK], out_a[BLOCK], out_b[BLOCK];
    uint8_t ks[2 * DIGEST];
    size_t off, take, j;
    uint32_t ctr;

    if ((uint64_t)n > CTR_XOR_MAX) {
        return SRM_ERR_TOO_LARGE;
    }
    /* The padded blocks are built once; per pair only the counters change. */
    memcpy(in_a, iv, SRM_HMAC_CTR_IV_LEN);
    pad_block_init(in_a, CTR_MSG_LEN, BLOCK + CTR_MSG_LEN);
    memcpy(in_b, in_a, BLOCK);
    pad_block_init(out_a, DIGEST, BLOCK + DIGEST);
    memcpy(out_b, out_a, BLOCK);
    for (off = 0, ctr = 0; off < n; off += take, ctr += 2) {
        put_be32(in_a + SRM_HMAC_CTR_IV_LEN, ctr);
        put_be32(in_b + SRM_HMAC_CTR_IV_LEN, ctr + 1u);
        if (n - off > DIGEST) {
            ctr_pair(k, in_a, in_b, out_a, out_b, ks);
        } else {
            srm_hmac_ctr(k, iv, ctr, ks);
        }
        take = n - off < sizeof(ks) ? n - off : sizeof(ks);
        /* Byte by byte at the same index, so in == out (in place) is safe. */
        for (j = 0; j < take; j++) {
            out[off + j] = (uint8_t)(in[off + j] ^ ks[j]);
        }
    }
    OPENSSL_cleanse(ks, sizeof(ks));
    OPENSSL_cleanse(out_a, sizeof(out_a));
    OPENSSL_cleanse(out_b, sizeof(out_b));
    return 0;
}

void srm_hmac_init(struct srm_hmac *h, const struct srm_hmac_key *k)
{
    h->sha = k->inner;
    h->key = k;
}

void srm_hmac_update(struct srm_hmac *h, const uint8_t *p, size_t n)
{
    srm_sha256_update(&h->sha, p, n);
}

void srm_hmac_final(struct srm_hmac *h, uint8_t out[SRM_SHA256_LEN])
{
    struct srm_sha256 o = h->key->outer;
    uint8_t ih[DIGEST];

    srm_sha256_final(&h->sha, ih);
    srm_sha256_update(&o, ih, sizeof(ih));
    srm_sha256_final(&o, out);
    OPENSSL_cleanse(ih, sizeof(ih));
    OPENSSL_cleanse(h, sizeof(*h));
}
