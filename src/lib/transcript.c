/* SPDX-License-Identifier: MIT */
/*
 * transcript.c: the transcript hashes of the registration and session
 * handshakes, the RSA-PSS signatures over them and the key-confirmation
 * plaintext (docs/PROTOCOL.md, "Transcript hashes").  Every variable-length
 * field is length-prefixed, so no two different transcripts can hash the
 * same byte string, and each hash starts with its own label so a registration
 * transcript can never be taken for a session one.
 */
#include <string.h>

#include "srm/buf.h"
#include "transcript.h"

/* Longest label we sign or hash: the session responder label. */
#define SIGNED_MAX (sizeof(SRM_SIG_SESS_RESPONDER) + SRM_HASH_LEN)
/* Longest transcript: label, version, two names, two fingerprints, two nonces, two ephemerals. */
#define TH_MAX                                                                                     \
    (1u + 32u + 1u + 2u * (1u + SRM_WIRE_MAX_NAME) + 2u * SRM_HASH_LEN + 2u * SRM_NONCE_LEN +      \
     2u * SRM_X25519_LEN)

static int put_fixed(struct srm_buf *b, const uint8_t *fp_a, const uint8_t *fp_b,
                     const uint8_t *n_a, const uint8_t *n_b, const uint8_t *e_a,
                     const uint8_t *e_b);
static int signed_msg(const char *label, const uint8_t th[SRM_HASH_LEN], uint8_t *out, size_t *n);

int srm_transcript_reg(uint8_t version, const char *name, const uint8_t fp_c[SRM_HASH_LEN],
                       const uint8_t fp_r[SRM_HASH_LEN], const uint8_t nc[SRM_NONCE_LEN],
                       const uint8_t nr[SRM_NONCE_LEN], const uint8_t eph_c[SRM_X25519_LEN],
                       const uint8_t eph_r[SRM_X25519_LEN], uint8_t th[SRM_HASH_LEN])
{
    uint8_t mem[TH_MAX];
    struct srm_buf b;
    int r;

    srm_buf_init_write(&b, mem, sizeof(mem));
    if ((r = srm_buf_put_string8(&b, SRM_TH_REG_LABEL, strlen(SRM_TH_REG_LABEL))) != 0 ||
        (r = srm_buf_put_u8(&b, version)) != 0 || (r = srm_buf_put_name(&b, name)) != 0 ||
        (r = put_fixed(&b, fp_c, fp_r, nc, nr, eph_c, eph_r)) != 0) {
        goto out;
    }
    r = srm_sha256(mem, b.len, th);
out:
    /* The nonces are secret until the handshake ends. */
    srm_wipe(mem, sizeof(mem));
    return r;
}

int srm_transcript_sess(uint8_t version, const char *name_i, const char *name_r,
                        const uint8_t fp_i[SRM_HASH_LEN], const uint8_t fp_r[SRM_HASH_LEN],
                        const uint8_t ni[SRM_NONCE_LEN], const uint8_t nr[SRM_NONCE_LEN],
                        const uint8_t eph_i[SRM_X25519_LEN], const uint8_t eph_r[SRM_X25519_LEN],
                        uint8_t th[SRM_HASH_LEN])
{
    uint8_t mem[TH_MAX];
    struct srm_buf b;
    int r;

    srm_buf_init_write(&b, mem, sizeof(mem));
    if ((r = srm_buf_put_string8(&b, SRM_TH_SESS_LABEL, strlen(SRM_TH_SESS_LABEL))) != 0 ||
        (r = srm_buf_put_u8(&b, version)) != 0 || (r = srm_buf_put_name(&b, name_i)) != 0 ||
        (r = srm_buf_put_name(&b, name_r)) != 0 ||
        (r = put_fixed(&b, fp_i, fp_r, ni, nr, eph_i, eph_r)) != 0) {
        goto out;
    }
    r = srm_sha256(mem, b.len, th);
out:
    srm_wipe(mem, sizeof(mem));
    return r;
}

/* The fixed-size tail shared by both transcripts, in the order both use. */
static int put_fixed(struct srm_buf *b, const uint8_t *fp_a, const uint8_t *fp_b,
                     const uint8_t *n_a, const uint8_t *n_b, const uint8_t *e_a, const uint8_t *e_b)
{
    int r;

    if ((r = srm_buf_put_bytes(b, fp_a, SRM_HASH_LEN)) != 0 ||
        (r = srm_buf_put_bytes(b, fp_b, SRM_HASH_LEN)) != 0 ||
        (r = srm_buf_put_bytes(b, n_a, SRM_NONCE_LEN)) != 0 ||
        (r = srm_buf_put_bytes(b, n_b, SRM_NONCE_LEN)) != 0 ||
        (r = srm_buf_put_bytes(b, e_a, SRM_X25519_LEN)) != 0 ||
        (r = srm_buf_put_bytes(b, e_b, SRM_X25519_LEN)) != 0) {
        return r;
    }
    return 0;
}

int srm_transcript_sign(const struct srm_key *priv, const char *label,
                        const uint8_t th[SRM_HASH_LEN], uint8_t *sig, size_t *siglen)
{
    uint8_t msg[SIGNED_MAX];
    size_t n;
    int r;

    if ((r = signed_msg(label, th, msg, &n)) != 0) {
        return r;
    }
    return srm_pss_sign(priv, msg, n, sig, siglen);
}

int srm_transcript_verify(const struct srm_key *pub, const char *label,
                          const uint8_t th[SRM_HASH_LEN], const uint8_t *sig, size_t siglen)
{
    uint8_t msg[SIGNED_MAX];
    size_t n;
    int r;

    if ((r = signed_msg(label, th, msg, &n)) != 0) {
        return r;
    }
    return srm_pss_verify(pub, msg, n, sig, siglen);
}

/* label || th: the label names the role, so no signature can be replayed in another role. */
static int signed_msg(const char *label, const uint8_t th[SRM_HASH_LEN], uint8_t *out, size_t *n)
{
    struct srm_buf b;

    srm_buf_init_write(&b, out, SIGNED_MAX);
    if (srm_buf_put_bytes(&b, label, strlen(label)) != 0 ||
        srm_buf_put_bytes(&b, th, SRM_HASH_LEN) != 0) {
        return SRM_ERR_INTERNAL;
    }
    *n = b.len;
    return 0;
}

void srm_transcript_confirm(const uint8_t th[SRM_HASH_LEN], uint8_t out[SRM_CONFIRM_LEN])
{
    out[0] = SRM_MSG_CONFIRM;
    memcpy(out + 1, th, SRM_HASH_LEN);
}

int srm_transcript_confirm_ok(const uint8_t th[SRM_HASH_LEN], const uint8_t *p, size_t n)
{
    uint8_t want[SRM_CONFIRM_LEN];

    if (n != SRM_CONFIRM_LEN) {
        return 0;
    }
    srm_transcript_confirm(th, want);
    return srm_ct_equal(want, p, SRM_CONFIRM_LEN);
}
