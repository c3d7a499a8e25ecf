/* SPDX-License-Identifier: MIT */
/*
 * reg.c: the registration handshake between a client and the relay, both
 * sides, sans I/O (docs/PROTOCOL.md, "Registration").
 *
 *   1. client -> relay  REG_HELLO      u8 version || string8 name || eph_c (32) ||
 *                                      string16 OAEP(relay_pub, Nc)
 *   2. relay -> client  REG_CHALLENGE  u8 version || eph_r (32) || string16 OAEP(client_pub, Nr) ||
 *                                      string16 PSS(relay, "srm/1 register relay" || TH) ||
 *                                      link record r2c seq 0 of CONFIRM(TH) (49)
 *   3. client -> relay  REG_RESPONSE   string16 PSS(client, "srm/1 register client" || TH) ||
 *                                      link record c2r seq 0 of CONFIRM(TH) (49)
 *   4. relay -> client  WELCOME as link record r2c seq 1 (sent by the relay program)
 *   any failure at the relay: REG_ERROR, body u8 0, and the caller closes.
 *
 * Each received frame's type is checked against the state before its body
 * is parsed; every failure wipes the secrets and is sticky.  The relay never
 * tells apart why it failed: OAEP failure in particular is hidden by carrying
 * on with a random Nc, so the only observable outcome is the same REG_ERROR.
 */
#include <stdlib.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/frame.h"
#include "srm/kdf.h"
#include "srm/link.h"
#include "srm/reg.h"
#include "srm/wire.h"
#include "transcript.h"

enum reg_state {
    REG_CLIENT_NEW,        /* client: HELLO not sent yet */
    REG_CLIENT_HELLO_SENT, /* client: waiting for CHALLENGE */
    REG_RELAY_WAIT_HELLO,  /* relay: waiting for HELLO */
    REG_RELAY_CHAL_SENT,   /* relay: waiting for RESPONSE */
    REG_DONE,              /* both: succeeded */
    REG_FAILED,            /* both: sticky */
};

/* A sealed CONFIRM link message: 33 bytes of plaintext + the GCM tag. */
#define CONFIRM_REC_LEN (SRM_CONFIRM_LEN + SRM_LINK_TAG_LEN)
#define HELLO_MAX       (1u + 1u + SRM_WIRE_MAX_NAME + SRM_X25519_LEN + 2u + SRM_RSA_MAX_BYTES)
#define CHAL_MAX                                                                                   \
    (1u + SRM_X25519_LEN + 2u + SRM_RSA_MAX_BYTES + 2u + SRM_RSA_MAX_BYTES + CONFIRM_REC_LEN)
#define RESP_MAX (2u + SRM_RSA_MAX_BYTES + CONFIRM_REC_LEN)

struct srm_reg {
    int is_relay;
    enum reg_state st;
    char name[SRM_WIRE_MAX_NAME + 1];
    struct srm_key *own;  /* client: its private key; relay: the relay private key */
    struct srm_key *peer; /* client: pinned relay.pub; relay: the user's pinned key */
    srm_reg_lookup_fn lookup;
    void *lookup_arg;
    uint8_t fp_own[SRM_HASH_LEN];
    uint8_t fp_peer[SRM_HASH_LEN];
    /* Handshake secrets: wiped as soon as the link keys are installed. */
    uint8_t eph_priv[SRM_X25519_LEN];
    uint8_t eph_pub[SRM_X25519_LEN];
    uint8_t nonce[SRM_NONCE_LEN]; /* client: Nc */
    /* Public handshake state kept for the last step. */
    uint8_t th[SRM_HASH_LEN];
    struct srm_link *link; /* installed keys, until the caller takes them */
};

SRM_MUST_USE static int fail(struct srm_reg *r, int err, struct srm_buf *out);
static void wipe_handshake(struct srm_reg *r);
SRM_MUST_USE static int relay_hello(struct srm_reg *r, const struct srm_frame *f,
                                    struct srm_buf *out);
SRM_MUST_USE static int relay_response(struct srm_reg *r, const struct srm_frame *f);
SRM_MUST_USE static int client_challenge(struct srm_reg *r, const struct srm_frame *f,
                                         struct srm_buf *out);
SRM_MUST_USE static int seal_confirm(struct srm_link *l, const uint8_t th[SRM_HASH_LEN],
                                     uint8_t rec[CONFIRM_REC_LEN]);
SRM_MUST_USE static int open_confirm(struct srm_link *l, const uint8_t th[SRM_HASH_LEN],
                                     const uint8_t *rec);
SRM_MUST_USE static int install_link(const uint8_t z[SRM_X25519_LEN],
                                     const uint8_t nc[SRM_NONCE_LEN],
                                     const uint8_t nr[SRM_NONCE_LEN],
                                     const uint8_t th[SRM_HASH_LEN], enum srm_link_role role,
                                     struct srm_link **out);
SRM_MUST_USE static int send_step(struct srm_reg *r, struct srm_buf *out, uint8_t type,
                                  const char *label, struct srm_buf *body, struct srm_link **link,
                                  enum reg_state next);

static struct srm_reg *reg_alloc(void)
{
    return calloc(1, sizeof(struct srm_reg));
}

int srm_reg_new_client(const char *name, struct srm_key *client_priv, struct srm_key *relay_pub,
                       struct srm_reg **out)
{
    struct srm_reg *r = NULL;
    int err = SRM_ERR_INTERNAL;

    *out = NULL;
    if (client_priv == NULL || relay_pub == NULL || !srm_key_is_private(client_priv)) {
        return SRM_ERR_INVALID_ARG;
    }
    if (name == NULL || srm_name_check_str(name) != 0) {
        return SRM_ERR_BAD_NAME;
    }
    if ((r = reg_alloc()) == NULL) {
        return SRM_ERR_ALLOC;
    }
    r->st = REG_CLIENT_NEW;
    memcpy(r->name, name, strlen(name) + 1);
    srm_key_ref(client_priv);
    r->own = client_priv;
    srm_key_ref(relay_pub);
    r->peer = relay_pub;
    if ((err = srm_key_fingerprint(client_priv, r->fp_own)) != 0 ||
        (err = srm_key_fingerprint(relay_pub, r->fp_peer)) != 0) {
        goto out;
    }
    *out = r;
    r = NULL;
    err = 0;
out:
    srm_reg_free(r);
    return err;
}

int srm_reg_new_relay(struct srm_key *relay_priv, srm_reg_lookup_fn lookup, void *arg,
                      struct srm_reg **out)
{
    struct srm_reg *r = NULL;
    int err = SRM_ERR_INTERNAL;

    *out = NULL;
    if (relay_priv == NULL || lookup == NULL || !srm_key_is_private(relay_priv)) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((r = reg_alloc()) == NULL) {
        return SRM_ERR_ALLOC;
    }
    r->is_relay = 1;
    r->st = REG_RELAY_WAIT_HELLO;
    srm_key_ref(relay_priv);
    r->own = relay_priv;
    r->lookup = lookup;
    r->lookup_arg = arg;
    if ((err = srm_key_fingerprint(relay_priv, r->fp_own)) != 0) {
        goto out;
    }
    *out = r;
    r = NULL;
    err = 0;
out:
    srm_reg_free(r);
    return err;
}

void srm_reg_free(struct srm_reg *r)
{
    if (r == NULL) {
        return;
    }
    wipe_handshake(r);
    srm_link_free(r->link);
    srm_key_free(r->own);
    srm_key_free(r->peer);
    srm_wipe(r, sizeof(*r));
    free(r);
}

/* Every handshake secret: ephemeral private key and our nonce. */
static void wipe_handshake(struct srm_reg *r)
{
    srm_wipe(r->eph_priv, sizeof(r->eph_priv));
    srm_wipe(r->nonce, sizeof(r->nonce));
}

/* Failure is sticky; the relay owes the client one generic REG_ERROR. */
static int fail(struct srm_reg *r, int err, struct srm_buf *out)
{
    static const uint8_t generic = 0;
    int e;

    wipe_handshake(r);
    srm_link_free(r->link);
    r->link = NULL;
    r->st = REG_FAILED;
    if (r->is_relay && out != NULL) {
        /* Nothing better to do if it does not fit: the caller closes anyway. */
        e = srm_frame_encode(out, SRM_FRAME_REG_ERROR, &generic, 1);
        (void)e;
    }
    return err;
}

/* 1. client -> relay: hello */
int srm_reg_start(struct srm_reg *r, struct srm_buf *out)
{
    uint8_t body[HELLO_MAX];
    uint8_t enc[SRM_RSA_MAX_BYTES];
    size_t enclen = 0;
    struct srm_buf b;
    int err = SRM_ERR_INTERNAL;

    if (r == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if (r->is_relay || r->st != REG_CLIENT_NEW) {
        return SRM_ERR_BAD_STATE;
    }
    if (srm_key_size(r->peer) > sizeof(enc)) {
        return fail(r, SRM_ERR_BAD_KEY, NULL);
    }
    if ((err = srm_x25519_keygen(r->eph_priv, r->eph_pub)) != 0 ||
        (err = srm_random(r->nonce, sizeof(r->nonce))) != 0 ||
        (err = srm_oaep_encrypt(r->peer, r->nonce, sizeof(r->nonce), enc, &enclen)) != 0) {
        goto out;
    }
    srm_buf_init_write(&b, body, sizeof(body));
    if (srm_buf_put_u8(&b, SRM_WIRE_VERSION) != 0 || srm_buf_put_name(&b, r->name) != 0 ||
        srm_buf_put_bytes(&b, r->eph_pub, sizeof(r->eph_pub)) != 0 ||
        srm_buf_put_string16(&b, enc, enclen) != 0) {
        err = SRM_ERR_INTERNAL;
        goto out;
    }
    if ((err = srm_frame_encode(out, SRM_FRAME_REG_HELLO, body, b.len)) != 0) {
        goto out;
    }
    r->st = REG_CLIENT_HELLO_SENT;
    err = 0;
out:
    if (err != 0) {
        err = fail(r, err, NULL);
    }
    return err;
}

int srm_reg_recv(struct srm_reg *r, const struct srm_frame *f, struct srm_buf *out)
{
    int err;

    if (r == NULL || f == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    /* Deny by default: the frame type must be the one this state allows. */
    switch (r->st) {
    case REG_RELAY_WAIT_HELLO:
        if (f->type != SRM_FRAME_REG_HELLO) {
            return fail(r, SRM_ERR_UNEXPECTED_MSG, out);
        }
        err = relay_hello(r, f, out);
        break;
    case REG_RELAY_CHAL_SENT:
        if (f->type != SRM_FRAME_REG_RESPONSE) {
            return fail(r, SRM_ERR_UNEXPECTED_MSG, out);
        }
        err = relay_response(r, f);
        break;
    case REG_CLIENT_HELLO_SENT:
        if (f->type == SRM_FRAME_REG_ERROR) {
            return fail(r, SRM_ERR_PEER_REFUSED, out);
        }
        if (f->type != SRM_FRAME_REG_CHALLENGE) {
            return fail(r, SRM_ERR_UNEXPECTED_MSG, out);
        }
        err = client_challenge(r, f, out);
        break;
    case REG_DONE:
        /* The client may still be refused after its RESPONSE (bad signature, confirm). */
        if (!r->is_relay && f->type == SRM_FRAME_REG_ERROR) {
            return fail(r, SRM_ERR_PEER_REFUSED, out);
        }
        return SRM_ERR_BAD_STATE;
    case REG_CLIENT_NEW:
    case REG_FAILED:
    default:
        return SRM_ERR_BAD_STATE;
    }
    if (err != 0) {
        return fail(r, err, out);
    }
    return 0;
}

/* 1. client -> relay: hello, as the relay checks it; 2. relay -> client: challenge */
static int relay_hello(struct srm_reg *r, const struct srm_frame *f, struct srm_buf *out)
{
    uint8_t body[CHAL_MAX];
    uint8_t dec[SRM_RSA_MAX_BYTES] = {0};
    uint8_t nc[SRM_NONCE_LEN], nc_rand[SRM_NONCE_LEN], nr[SRM_NONCE_LEN];
    uint8_t eph_c[SRM_X25519_LEN], z[SRM_X25519_LEN];
    uint8_t enc_nr[SRM_RSA_MAX_BYTES];
    size_t declen = 0, enclen = 0, namelen = 0, enc_nc_len = 0, i;
    const uint8_t *namep = NULL, *enc_nc = NULL;
    struct srm_key *client_pub = NULL;
    struct srm_link *link = NULL;
    struct srm_buf b;
    uint8_t version = 0, ok;
    int err = SRM_ERR_INTERNAL, dr;

    /* Parse the whole body before acting on any of it. */
    srm_buf_init_read(&b, f->body, f->body_len);
    if (srm_buf_get_u8(&b, &version) != 0 || srm_buf_get_string8(&b, 255, &namep, &namelen) != 0 ||
        srm_buf_get_bytes(&b, eph_c, sizeof(eph_c)) != 0 ||
        srm_buf_get_string16(&b, SRM_RSA_MAX_BYTES, &enc_nc, &enc_nc_len) != 0) {
        err = SRM_ERR_MALFORMED;
        goto out;
    }
    if ((err = srm_buf_expect_end(&b)) != 0) {
        goto out;
    }
    if (version != SRM_WIRE_VERSION) {
        err = SRM_ERR_BAD_VERSION;
        goto out;
    }
    if ((err = srm_name_check(namep, namelen)) != 0) {
        goto out;
    }
    memcpy(r->name, namep, namelen);
    r->name[namelen] = '\0';
    if (r->lookup(r->lookup_arg, r->name, &client_pub) != 0) {
        err = SRM_ERR_UNKNOWN_USER;
        goto out;
    }
    if (client_pub == NULL || srm_key_size(client_pub) > sizeof(enc_nr)) {
        err = SRM_ERR_BAD_KEY;
        goto out;
    }
    r->peer = client_pub;
    client_pub = NULL;
    if ((err = srm_key_fingerprint(r->peer, r->fp_peer)) != 0) {
        goto out;
    }
    if (enc_nc_len != srm_key_size(r->own)) {
        err = SRM_ERR_MALFORMED;
        goto out;
    }
    /*
     * No oracle: whatever OAEP says, carry on with a 32-byte Nc.  The random
     * stand-in is drawn every time and chosen with a mask, so neither the
     * path nor the timing shows whether decryption succeeded; a bad Nc makes
     * the client's confirm fail later with the same generic REG_ERROR.
     */
    if ((err = srm_random(nc_rand, sizeof(nc_rand))) != 0) {
        goto out;
    }
    dr = srm_oaep_decrypt(r->own, enc_nc, enc_nc_len, dec, sizeof(dec), &declen);
    ok = (uint8_t)((dr == 0) & (declen == SRM_NONCE_LEN));
    for (i = 0; i < SRM_NONCE_LEN; i++) {
        uint8_t m = (uint8_t)(0u - ok);
        nc[i] = (uint8_t)((dec[i] & m) | (nc_rand[i] & (uint8_t)~m));
    }
    /* 2. relay -> client: challenge */
    if ((err = srm_x25519_keygen(r->eph_priv, r->eph_pub)) != 0 ||
        (err = srm_x25519_derive(r->eph_priv, eph_c, z)) != 0 ||
        (err = srm_random(nr, sizeof(nr))) != 0 ||
        (err = srm_oaep_encrypt(r->peer, nr, sizeof(nr), enc_nr, &enclen)) != 0 ||
        (err = srm_transcript_reg(SRM_WIRE_VERSION, r->name, r->fp_peer, r->fp_own, nc, nr, eph_c,
                                  r->eph_pub, r->th)) != 0 ||
        (err = install_link(z, nc, nr, r->th, SRM_LINK_RELAY, &link)) != 0) {
        goto out;
    }
    srm_buf_init_write(&b, body, sizeof(body));
    if (srm_buf_put_u8(&b, SRM_WIRE_VERSION) != 0 ||
        srm_buf_put_bytes(&b, r->eph_pub, sizeof(r->eph_pub)) != 0 ||
        srm_buf_put_string16(&b, enc_nr, enclen) != 0) {
        err = SRM_ERR_INTERNAL;
        goto out;
    }
    /* ... || sig || CONFIRM record */
    err = send_step(r, out, SRM_FRAME_REG_CHALLENGE, SRM_SIG_REG_RELAY, &b, &link,
                    REG_RELAY_CHAL_SENT);
out:
    /* The keys are installed (or abandoned): no handshake secret outlives this call. */
    wipe_handshake(r);
    srm_wipe(dec, sizeof(dec));
    srm_wipe(nc, sizeof(nc));
    srm_wipe(nc_rand, sizeof(nc_rand));
    srm_wipe(nr, sizeof(nr));
    srm_wipe(z, sizeof(z));
    srm_link_free(link);
    srm_key_free(client_pub);
    return err;
}

/* 3. client -> relay: response, as the relay checks it */
static int relay_response(struct srm_reg *r, const struct srm_frame *f)
{
    const uint8_t *sig = NULL, *rec = NULL;
    size_t siglen = 0;
    struct srm_buf b;
    int err;

    srm_buf_init_read(&b, f->body, f->body_len);
    if (srm_buf_get_string16(&b, SRM_RSA_MAX_BYTES, &sig, &siglen) != 0 ||
        srm_buf_get_view(&b, CONFIRM_REC_LEN, &rec) != 0) {
        return SRM_ERR_MALFORMED;
    }
    if ((err = srm_buf_expect_end(&b)) != 0) {
        return err;
    }
    /* Only the key pinned for this name may sign; the label names the client's role. */
    if ((err = srm_transcript_verify(r->peer, SRM_SIG_REG_CLIENT, r->th, sig, siglen)) != 0) {
        return err;
    }
    if ((err = open_confirm(r->link, r->th, rec)) != 0) {
        return err;
    }
    r->st = REG_DONE;
    return 0;
}

/* 2. relay -> client: challenge, as the client checks it; 3. client -> relay: response */
static int client_challenge(struct srm_reg *r, const struct srm_frame *f, struct srm_buf *out)
{
    uint8_t body[RESP_MAX];
    uint8_t eph_r[SRM_X25519_LEN], z[SRM_X25519_LEN];
    uint8_t nr[SRM_RSA_MAX_BYTES];
    const uint8_t *enc_nr = NULL, *sig_r = NULL, *rec_r = NULL;
    size_t enc_nr_len = 0, sig_r_len = 0, nrlen = 0;
    struct srm_link *link = NULL;
    struct srm_buf b;
    uint8_t version = 0;
    int err = SRM_ERR_INTERNAL;

    srm_buf_init_read(&b, f->body, f->body_len);
    if (srm_buf_get_u8(&b, &version) != 0 || srm_buf_get_bytes(&b, eph_r, sizeof(eph_r)) != 0 ||
        srm_buf_get_string16(&b, SRM_RSA_MAX_BYTES, &enc_nr, &enc_nr_len) != 0 ||
        srm_buf_get_string16(&b, SRM_RSA_MAX_BYTES, &sig_r, &sig_r_len) != 0 ||
        srm_buf_get_view(&b, CONFIRM_REC_LEN, &rec_r) != 0) {
        err = SRM_ERR_MALFORMED;
        goto out;
    }
    if ((err = srm_buf_expect_end(&b)) != 0) {
        goto out;
    }
    if (version != SRM_WIRE_VERSION) {
        err = SRM_ERR_BAD_VERSION;
        goto out;
    }
    if ((err = srm_oaep_decrypt(r->own, enc_nr, enc_nr_len, nr, sizeof(nr), &nrlen)) != 0) {
        goto out;
    }
    if (nrlen != SRM_NONCE_LEN) {
        err = SRM_ERR_DECRYPT;
        goto out;
    }
    if ((err = srm_x25519_derive(r->eph_priv, eph_r, z)) != 0 ||
        (err = srm_transcript_reg(SRM_WIRE_VERSION, r->name, r->fp_own, r->fp_peer, r->nonce, nr,
                                  r->eph_pub, eph_r, r->th)) != 0) {
        goto out;
    }
    /* Only the pinned relay.pub may sign: anything else is not our relay. */
    switch (srm_transcript_verify(r->peer, SRM_SIG_REG_RELAY, r->th, sig_r, sig_r_len)) {
    case 0:
        break;
    case SRM_ERR_BAD_SIGNATURE:
        err = SRM_ERR_KEY_MISMATCH;
        goto out;
    default:
        err = SRM_ERR_LIBCRYPTO;
        goto out;
    }
    if ((err = install_link(z, r->nonce, nr, r->th, SRM_LINK_CLIENT, &link)) != 0 ||
        (err = open_confirm(link, r->th, rec_r)) != 0) {
        goto out;
    }
    /* 3. client -> relay: response = sig || CONFIRM record */
    srm_buf_init_write(&b, body, sizeof(body));
    err = send_step(r, out, SRM_FRAME_REG_RESPONSE, SRM_SIG_REG_CLIENT, &b, &link, REG_DONE);
out:
    wipe_handshake(r);
    srm_wipe(nr, sizeof(nr));
    srm_wipe(z, sizeof(z));
    srm_link_free(link);
    return err;
}

/*
 * The end of steps 2 and 3, the same for both sides: append our signature
 * over TH (under our role's label) and CONFIRM(TH) sealed as the first record
 * of the new link to body, frame it as type and, only once it is written,
 * keep the link (taken from *link) and move to state next.
 */
static int send_step(struct srm_reg *r, struct srm_buf *out, uint8_t type, const char *label,
                     struct srm_buf *body, struct srm_link **link, enum reg_state next)
{
    uint8_t sig[SRM_RSA_MAX_BYTES], rec[CONFIRM_REC_LEN];
    size_t siglen = 0;
    int err;

    if ((err = srm_transcript_sign(r->own, label, r->th, sig, &siglen)) != 0 ||
        (err = seal_confirm(*link, r->th, rec)) != 0) {
        return err;
    }
    if (srm_buf_put_string16(body, sig, siglen) != 0 ||
        srm_buf_put_bytes(body, rec, sizeof(rec)) != 0) {
        return SRM_ERR_INTERNAL;
    }
    if ((err = srm_frame_encode(out, type, body->data, body->len)) != 0) {
        return err;
    }
    r->link = *link;
    *link = NULL;
    r->st = next;
    return 0;
}

/* Key schedule of DESIGN.md 4 with the client as initiator; OKM wiped here. */
static int install_link(const uint8_t z[SRM_X25519_LEN], const uint8_t nc[SRM_NONCE_LEN],
                        const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN],
                        enum srm_link_role role, struct srm_link **out)
{
    struct srm_link_keys k;
    int err;

    if ((err = srm_kdf_link(z, nc, nr, th, &k)) == 0) {
        err = srm_link_new(&k, role, out);
    }
    srm_kdf_link_wipe(&k);
    return err;
}

/* Seal CONFIRM(TH) as the first (seq 0) record of our sending direction. */
static int seal_confirm(struct srm_link *l, const uint8_t th[SRM_HASH_LEN],
                        uint8_t rec[CONFIRM_REC_LEN])
{
    uint8_t pt[SRM_CONFIRM_LEN];

    if (srm_link_dir_seq(l->tx) != 0) {
        return SRM_ERR_INTERNAL;
    }
    srm_transcript_confirm(th, pt);
    return srm_link_dir_seal(l->tx, pt, sizeof(pt), rec);
}

/* Open the peer's seq 0 record; it must be exactly CONFIRM(TH). */
static int open_confirm(struct srm_link *l, const uint8_t th[SRM_HASH_LEN], const uint8_t *rec)
{
    uint8_t pt[SRM_CONFIRM_LEN];
    int err;

    if (srm_link_dir_seq(l->rx) != 0) {
        return SRM_ERR_INTERNAL;
    }
    if ((err = srm_link_dir_open(l->rx, rec, CONFIRM_REC_LEN, pt)) != 0) {
        return err;
    }
    if (!srm_transcript_confirm_ok(th, pt, sizeof(pt))) {
        return SRM_ERR_BAD_MAC;
    }
    return 0;
}

int srm_reg_is_done(const struct srm_reg *r)
{
    /* Stays 1 after the caller took the link: done describes the handshake. */
    return r != NULL && r->st == REG_DONE;
}

int srm_reg_take_link(struct srm_reg *r, struct srm_link **out)
{
    if (r == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (r->st != REG_DONE || r->link == NULL) {
        return SRM_ERR_BAD_STATE;
    }
    *out = r->link;
    r->link = NULL;
    return 0;
}

const char *srm_reg_name(const struct srm_reg *r)
{
    return r == NULL ? "" : r->name;
}

const uint8_t *srm_reg_peer_fingerprint(const struct srm_reg *r)
{
    return r == NULL ? NULL : r->fp_peer;
}

int srm_reg_holds_handshake_secrets(const struct srm_reg *r)
{
    uint8_t acc = 0;
    size_t i;

    if (r == NULL) {
        return 0;
    }
    /* Look at the bytes themselves, so the hook cannot lie about a forgotten wipe. */
    for (i = 0; i < SRM_X25519_LEN; i++) {
        acc |= r->eph_priv[i];
    }
    for (i = 0; i < SRM_NONCE_LEN; i++) {
        acc |= r->nonce[i];
    }
    return acc != 0;
}

const char *srm_reg_state_name(const struct srm_reg *r)
{
    if (r == NULL) {
        return "none";
    }
    switch (r->st) {
    case REG_CLIENT_NEW:
        return "client-new";
    case REG_CLIENT_HELLO_SENT:
        return "hello-sent";
    case REG_RELAY_WAIT_HELLO:
        return "wait-hello";
    case REG_RELAY_CHAL_SENT:
        return "challenge-sent";
    case REG_DONE:
        return "done";
    case REG_FAILED:
        return "failed";
    default:
        return "?";
    }
}
