/* SPDX-License-Identifier: MIT */
/*
 * sess.c: one end-to-end session between two clients, sans I/O: the
 * SIGMA-style signed X25519 handshake, then message records
 * (docs/PROTOCOL.md, "Session").  Every message is a payload the relay
 * carries in SEND/DELIVER without being able to read or forge it.
 *
 *   1. I -> R  HS_INIT  0x01 || u8 version || string8 name_i || string8 name_r || Ni || eph_i
 *   2. R -> I  HS_RESP  0x02 || u8 version || Nr || eph_r ||
 *                       string16 PSS(R, "srm/1 session responder" || TH) ||
 *                       record r2i seq 0 of CONFIRM(TH) (89)
 *   3. I -> R  HS_FIN   0x03 || string16 PSS(I, "srm/1 session initiator" || TH) ||
 *                       record i2r seq 0 of CONFIRM(TH) (89)
 *   then       RECORD   0x04 || record of DATA(msg_id, text) or ACK(msg_id), seq from 1
 *
 * The keys in use and a pending handshake are held apart, so a session stays
 * usable while a re-key runs and a bad or replayed handshake message fails
 * only the pending handshake.  A bad RECORD ends the whole session.  When
 * both sides start at once, the side with the smaller name stays initiator.
 */
#include <stdlib.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/kdf.h"
#include "srm/record.h"
#include "srm/sess.h"
#include "srm/wire.h"
#include "transcript.h"

enum hs_phase {
    HS_NONE,      /* no handshake pending */
    HS_INIT_SENT, /* we are initiator, waiting for HS_RESP */
    HS_RESP_SENT, /* we are responder, waiting for HS_FIN */
};

/* A pending handshake: wiped as a whole when it ends, either way. */
struct hs {
    enum hs_phase phase;
    uint8_t eph_priv[SRM_X25519_LEN]; /* initiator only, until HS_RESP */
    uint8_t eph_pub[SRM_X25519_LEN];
    uint8_t ni[SRM_NONCE_LEN];
    uint8_t th[SRM_HASH_LEN];   /* responder: the transcript HS_FIN must confirm */
    struct srm_record *tx, *rx; /* responder: the new keys, installed at HS_FIN */
};

struct srm_sess {
    char self[SRM_WIRE_MAX_NAME + 1];
    char peer[SRM_WIRE_MAX_NAME + 1];
    struct srm_key *priv;
    struct srm_key *peer_pub;
    uint8_t fp_self[SRM_HASH_LEN];
    uint8_t fp_peer[SRM_HASH_LEN];
    int established;
    int failed;
    int initiator;
    struct srm_record *tx, *rx;
    /*
     * Initiator after a re-key: the responder seals with the old keys until
     * it has our HS_FIN, so its records already in flight still open here;
     * dropped at the first record under the new keys.
     */
    struct srm_record *prev_rx;
    struct hs hs;
    uint8_t *pt; /* plaintext of the last record opened; EV_DATA's text views it */
};

/* HS_RESP and HS_FIN carry the confirm record: 33 bytes of plaintext sealed. */
#define CONFIRM_REC_LEN (SRM_RECORD_OVERHEAD + SRM_CONFIRM_LEN)
#define INIT_LEN_MAX    (2u + 2u * (1u + SRM_WIRE_MAX_NAME) + SRM_NONCE_LEN + SRM_X25519_LEN)
#define RESP_LEN_MAX                                                                               \
    (2u + SRM_NONCE_LEN + SRM_X25519_LEN + 2u + SRM_RSA_MAX_BYTES + CONFIRM_REC_LEN)
#define FIN_LEN_MAX (1u + 2u + SRM_RSA_MAX_BYTES + CONFIRM_REC_LEN)
#define INNER_HDR   (1u + 8u)

static void hs_wipe(struct hs *h);
static void keys_wipe(struct srm_sess *s);
SRM_MUST_USE static int fail_hs(struct srm_sess *s, int err);
SRM_MUST_USE static int fail_all(struct srm_sess *s, int err);
SRM_MUST_USE static int on_init(struct srm_sess *s, struct srm_buf *in, struct srm_buf *reply);
SRM_MUST_USE static int on_resp(struct srm_sess *s, struct srm_buf *in, struct srm_buf *reply,
                                struct srm_sess_event *ev);
SRM_MUST_USE static int on_fin(struct srm_sess *s, struct srm_buf *in, struct srm_sess_event *ev);
SRM_MUST_USE static int on_record(struct srm_sess *s, struct srm_buf *in,
                                  struct srm_sess_event *ev);
SRM_MUST_USE static int make_keys(const uint8_t z[SRM_X25519_LEN], const uint8_t ni[SRM_NONCE_LEN],
                                  const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN],
                                  int initiator, struct srm_record **tx, struct srm_record **rx);
SRM_MUST_USE static int seal_confirm(struct srm_record *tx, const uint8_t th[SRM_HASH_LEN],
                                     uint8_t rec[CONFIRM_REC_LEN]);
SRM_MUST_USE static int open_confirm(struct srm_record *rx, const uint8_t th[SRM_HASH_LEN],
                                     const uint8_t *rec);
static void install(struct srm_sess *s, struct srm_record *tx, struct srm_record *rx,
                    int initiator);
SRM_MUST_USE static int seal_inner(struct srm_sess *s, const uint8_t *pt, size_t n,
                                   struct srm_buf *out);

int srm_sess_new(const char *self, struct srm_key *self_priv, const char *peer,
                 struct srm_key *peer_pub, struct srm_sess **out)
{
    struct srm_sess *s = NULL;
    int err = SRM_ERR_INTERNAL;

    if (out == NULL || self_priv == NULL || peer_pub == NULL || !srm_key_is_private(self_priv)) {
        return SRM_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (self == NULL || peer == NULL || srm_name_check_str(self) != 0 ||
        srm_name_check_str(peer) != 0) {
        return SRM_ERR_BAD_NAME;
    }
    if (strcmp(self, peer) == 0) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return SRM_ERR_ALLOC;
    }
    memcpy(s->self, self, strlen(self) + 1);
    memcpy(s->peer, peer, strlen(peer) + 1);
    srm_key_ref(self_priv);
    s->priv = self_priv;
    srm_key_ref(peer_pub);
    s->peer_pub = peer_pub;
    if ((s->pt = malloc(SRM_RECORD_MAX_PT)) == NULL) {
        err = SRM_ERR_ALLOC;
        goto out;
    }
    if ((err = srm_key_fingerprint(self_priv, s->fp_self)) != 0 ||
        (err = srm_key_fingerprint(peer_pub, s->fp_peer)) != 0) {
        goto out;
    }
    *out = s;
    s = NULL;
    err = 0;
out:
    srm_sess_free(s);
    return err;
}

void srm_sess_free(struct srm_sess *s)
{
    if (s == NULL) {
        return;
    }
    keys_wipe(s);
    if (s->pt != NULL) {
        srm_wipe(s->pt, SRM_RECORD_MAX_PT);
        free(s->pt);
    }
    srm_key_free(s->priv);
    srm_key_free(s->peer_pub);
    srm_wipe(s, sizeof(*s));
    free(s);
}

/* The pending handshake: ephemeral private key, nonce, and keys not yet in use. */
static void hs_wipe(struct hs *h)
{
    srm_record_free(h->tx);
    srm_record_free(h->rx);
    srm_wipe(h, sizeof(*h));
    h->tx = NULL;
    h->rx = NULL;
    h->phase = HS_NONE;
}

/* Everything secret: the pending handshake, the keys in use, the last plaintext. */
static void keys_wipe(struct srm_sess *s)
{
    hs_wipe(&s->hs);
    srm_record_free(s->tx);
    srm_record_free(s->rx);
    srm_record_free(s->prev_rx);
    s->tx = NULL;
    s->rx = NULL;
    s->prev_rx = NULL;
    s->established = 0;
    if (s->pt != NULL) {
        srm_wipe(s->pt, SRM_RECORD_MAX_PT);
    }
}

/* A handshake message failed: only the pending handshake goes; keys in use stay. */
static int fail_hs(struct srm_sess *s, int err)
{
    hs_wipe(&s->hs);
    if (!s->established) {
        s->failed = 1;
    }
    return err;
}

/* A record failed (DESIGN.md 3a): the session ends and every key is wiped. */
static int fail_all(struct srm_sess *s, int err)
{
    keys_wipe(s);
    s->failed = 1;
    return err;
}

enum srm_sess_state srm_sess_state(const struct srm_sess *s)
{
    if (s == NULL) {
        return SRM_SESS_FAILED;
    }
    if (s->established) {
        return SRM_SESS_ESTABLISHED;
    }
    switch (s->hs.phase) {
    case HS_INIT_SENT:
        return SRM_SESS_INIT_SENT;
    case HS_RESP_SENT:
        return SRM_SESS_RESP_SENT;
    case HS_NONE:
    default:
        return s->failed ? SRM_SESS_FAILED : SRM_SESS_IDLE;
    }
}

const char *srm_sess_state_name(const struct srm_sess *s)
{
    switch (srm_sess_state(s)) {
    case SRM_SESS_IDLE:
        return "idle";
    case SRM_SESS_INIT_SENT:
        return "init-sent";
    case SRM_SESS_RESP_SENT:
        return "resp-sent";
    case SRM_SESS_ESTABLISHED:
        return (s->hs.phase == HS_NONE) ? "established" : "established+rekey";
    case SRM_SESS_FAILED:
        return "failed";
    default:
        return "?";
    }
}

int srm_sess_is_initiator(const struct srm_sess *s)
{
    return s != NULL && s->initiator;
}

/* 1. I -> R: HS_INIT */
int srm_sess_start(struct srm_sess *s, struct srm_buf *out)
{
    uint8_t body[INIT_LEN_MAX];
    struct srm_buf b;
    int err = SRM_ERR_INTERNAL;

    if (s == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    /* Any earlier attempt is abandoned; keys in use keep working until the new ones arrive. */
    hs_wipe(&s->hs);
    s->failed = 0;
    if ((err = srm_x25519_keygen(s->hs.eph_priv, s->hs.eph_pub)) != 0 ||
        (err = srm_random(s->hs.ni, sizeof(s->hs.ni))) != 0) {
        goto out;
    }
    srm_buf_init_write(&b, body, sizeof(body));
    if (srm_buf_put_u8(&b, SRM_E2E_HS_INIT) != 0 || srm_buf_put_u8(&b, SRM_WIRE_VERSION) != 0 ||
        srm_buf_put_name(&b, s->self) != 0 || srm_buf_put_name(&b, s->peer) != 0 ||
        srm_buf_put_bytes(&b, s->hs.ni, sizeof(s->hs.ni)) != 0 ||
        srm_buf_put_bytes(&b, s->hs.eph_pub, sizeof(s->hs.eph_pub)) != 0) {
        err = SRM_ERR_INTERNAL;
        goto out;
    }
    if ((err = srm_buf_put_bytes(out, body, b.len)) != 0) {
        goto out;
    }
    s->hs.phase = HS_INIT_SENT;
    s->initiator = 1;
    err = 0;
out:
    if (err != 0) {
        err = fail_hs(s, err);
    }
    return err;
}

int srm_sess_recv(struct srm_sess *s, const uint8_t *payload, size_t n, struct srm_buf *reply,
                  struct srm_sess_event *ev)
{
    struct srm_buf in;
    uint8_t kind = 0;
    int err;

    if (ev != NULL) {
        memset(ev, 0, sizeof(*ev));
    }
    if (s == NULL || (payload == NULL && n != 0) || reply == NULL || ev == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    srm_buf_init_read(&in, payload, n);
    if (srm_buf_get_u8(&in, &kind) != 0) {
        return fail_hs(s, SRM_ERR_MALFORMED);
    }
    /* Deny by default: each kind is accepted only in the phase that expects it. */
    switch (kind) {
    case SRM_E2E_HS_INIT:
        /* Any phase: a peer that restarted must be able to start again. */
        if ((err = on_init(s, &in, reply)) != 0) {
            return fail_hs(s, err);
        }
        return 0;
    case SRM_E2E_HS_RESP:
        if (s->hs.phase != HS_INIT_SENT) {
            return fail_hs(s, SRM_ERR_UNEXPECTED_MSG);
        }
        if ((err = on_resp(s, &in, reply, ev)) != 0) {
            return fail_hs(s, err);
        }
        return 0;
    case SRM_E2E_HS_FIN:
        if (s->hs.phase != HS_RESP_SENT) {
            return fail_hs(s, SRM_ERR_UNEXPECTED_MSG);
        }
        if ((err = on_fin(s, &in, ev)) != 0) {
            return fail_hs(s, err);
        }
        return 0;
    case SRM_E2E_RECORD:
        if (!s->established) {
            /*
             * Unauthenticated and of no session we hold: dropped unread
             * (PROTOCOL.md 6.4); it must not end a handshake in flight.
             */
            memset(ev, 0, sizeof(*ev));
            return SRM_ERR_UNEXPECTED_MSG;
        }
        if ((err = on_record(s, &in, ev)) != 0) {
            memset(ev, 0, sizeof(*ev));
            return fail_all(s, err);
        }
        return 0;
    default:
        return fail_hs(s, SRM_ERR_UNKNOWN_TYPE);
    }
}

/* 1. I -> R: HS_INIT, as the responder checks it; 2. R -> I: HS_RESP */
static int on_init(struct srm_sess *s, struct srm_buf *in, struct srm_buf *reply)
{
    char name_i[SRM_WIRE_MAX_NAME + 1], name_r[SRM_WIRE_MAX_NAME + 1];
    uint8_t ni[SRM_NONCE_LEN], eph_i[SRM_X25519_LEN];
    uint8_t eph_priv[SRM_X25519_LEN], eph_pub[SRM_X25519_LEN], nr[SRM_NONCE_LEN];
    uint8_t z[SRM_X25519_LEN], th[SRM_HASH_LEN];
    uint8_t sig[SRM_RSA_MAX_BYTES], rec[CONFIRM_REC_LEN], body[RESP_LEN_MAX];
    struct srm_record *tx = NULL, *rx = NULL;
    size_t siglen = 0;
    struct srm_buf b;
    uint8_t version = 0;
    int err = SRM_ERR_INTERNAL;

    if (srm_buf_get_u8(in, &version) != 0) {
        return SRM_ERR_MALFORMED;
    }
    if ((err = srm_buf_get_name(in, name_i)) != 0 || (err = srm_buf_get_name(in, name_r)) != 0) {
        return err == SRM_ERR_BAD_NAME ? err : SRM_ERR_MALFORMED;
    }
    if (srm_buf_get_bytes(in, ni, sizeof(ni)) != 0 ||
        srm_buf_get_bytes(in, eph_i, sizeof(eph_i)) != 0) {
        return SRM_ERR_MALFORMED;
    }
    if ((err = srm_buf_expect_end(in)) != 0) {
        return err;
    }
    if (version != SRM_WIRE_VERSION) {
        return SRM_ERR_BAD_VERSION;
    }
    /* The relay vouches for the sender's name only; the message must name exactly us two. */
    if (strcmp(name_i, s->peer) != 0 || strcmp(name_r, s->self) != 0) {
        return SRM_ERR_WRONG_PEER;
    }
    /* Simultaneous start: the smaller name stays initiator and ignores the other's HS_INIT. */
    if (s->hs.phase == HS_INIT_SENT && strcmp(s->self, s->peer) < 0) {
        return 0;
    }
    /* 2. R -> I: HS_RESP (work on locals; the pending state is replaced only on success) */
    if ((err = srm_x25519_keygen(eph_priv, eph_pub)) != 0 ||
        (err = srm_random(nr, sizeof(nr))) != 0 ||
        (err = srm_x25519_derive(eph_priv, eph_i, z)) != 0 ||
        (err = srm_transcript_sess(SRM_WIRE_VERSION, s->peer, s->self, s->fp_peer, s->fp_self, ni,
                                   nr, eph_i, eph_pub, th)) != 0 ||
        (err = srm_transcript_sign(s->priv, SRM_SIG_SESS_RESPONDER, th, sig, &siglen)) != 0 ||
        (err = make_keys(z, ni, nr, th, 0, &tx, &rx)) != 0 ||
        (err = seal_confirm(tx, th, rec)) != 0) {
        goto out;
    }
    srm_buf_init_write(&b, body, sizeof(body));
    if (srm_buf_put_u8(&b, SRM_E2E_HS_RESP) != 0 || srm_buf_put_u8(&b, SRM_WIRE_VERSION) != 0 ||
        srm_buf_put_bytes(&b, nr, sizeof(nr)) != 0 ||
        srm_buf_put_bytes(&b, eph_pub, sizeof(eph_pub)) != 0 ||
        srm_buf_put_string16(&b, sig, siglen) != 0 ||
        srm_buf_put_bytes(&b, rec, sizeof(rec)) != 0) {
        err = SRM_ERR_INTERNAL;
        goto out;
    }
    if ((err = srm_buf_put_bytes(reply, body, b.len)) != 0) {
        goto out;
    }
    /* Our own attempt, if any, is dropped: its ephemeral is wiped here. */
    hs_wipe(&s->hs);
    s->hs.phase = HS_RESP_SENT;
    memcpy(s->hs.th, th, sizeof(th));
    s->hs.tx = tx;
    s->hs.rx = rx;
    tx = NULL;
    rx = NULL;
    s->initiator = 0;
    err = 0;
out:
    srm_wipe(eph_priv, sizeof(eph_priv));
    srm_wipe(nr, sizeof(nr));
    srm_wipe(z, sizeof(z));
    srm_record_free(tx);
    srm_record_free(rx);
    return err;
}

/* 2. R -> I: HS_RESP, as the initiator checks it; 3. I -> R: HS_FIN */
static int on_resp(struct srm_sess *s, struct srm_buf *in, struct srm_buf *reply,
                   struct srm_sess_event *ev)
{
    uint8_t nr[SRM_NONCE_LEN], eph_r[SRM_X25519_LEN], z[SRM_X25519_LEN], th[SRM_HASH_LEN];
    uint8_t sig[SRM_RSA_MAX_BYTES], rec[CONFIRM_REC_LEN], body[FIN_LEN_MAX];
    const uint8_t *sig_r = NULL, *rec_r = NULL;
    struct srm_record *tx = NULL, *rx = NULL;
    size_t sig_r_len = 0, siglen = 0;
    struct srm_buf b;
    uint8_t version = 0;
    int err = SRM_ERR_INTERNAL;

    if (srm_buf_get_u8(in, &version) != 0 || srm_buf_get_bytes(in, nr, sizeof(nr)) != 0 ||
        srm_buf_get_bytes(in, eph_r, sizeof(eph_r)) != 0 ||
        srm_buf_get_string16(in, SRM_RSA_MAX_BYTES, &sig_r, &sig_r_len) != 0 ||
        srm_buf_get_view(in, CONFIRM_REC_LEN, &rec_r) != 0) {
        err = SRM_ERR_MALFORMED;
        goto out;
    }
    if ((err = srm_buf_expect_end(in)) != 0) {
        goto out;
    }
    if (version != SRM_WIRE_VERSION) {
        err = SRM_ERR_BAD_VERSION;
        goto out;
    }
    if ((err = srm_x25519_derive(s->hs.eph_priv, eph_r, z)) != 0 ||
        (err = srm_transcript_sess(SRM_WIRE_VERSION, s->self, s->peer, s->fp_self, s->fp_peer,
                                   s->hs.ni, nr, s->hs.eph_pub, eph_r, th)) != 0) {
        goto out;
    }
    /* Only the pinned key of the intended peer may sign, and only in the responder role. */
    if ((err = srm_transcript_verify(s->peer_pub, SRM_SIG_SESS_RESPONDER, th, sig_r, sig_r_len)) !=
            0 ||
        (err = make_keys(z, s->hs.ni, nr, th, 1, &tx, &rx)) != 0 ||
        (err = open_confirm(rx, th, rec_r)) != 0) {
        goto out;
    }
    /* 3. I -> R: HS_FIN */
    if ((err = srm_transcript_sign(s->priv, SRM_SIG_SESS_INITIATOR, th, sig, &siglen)) != 0 ||
        (err = seal_confirm(tx, th, rec)) != 0) {
        goto out;
    }
    srm_buf_init_write(&b, body, sizeof(body));
    if (srm_buf_put_u8(&b, SRM_E2E_HS_FIN) != 0 || srm_buf_put_string16(&b, sig, siglen) != 0 ||
        srm_buf_put_bytes(&b, rec, sizeof(rec)) != 0) {
        err = SRM_ERR_INTERNAL;
        goto out;
    }
    if ((err = srm_buf_put_bytes(reply, body, b.len)) != 0) {
        goto out;
    }
    install(s, tx, rx, 1);
    tx = NULL;
    rx = NULL;
    ev->type = SRM_SESS_EV_ESTABLISHED;
    err = 0;
out:
    srm_wipe(z, sizeof(z));
    srm_record_free(tx);
    srm_record_free(rx);
    return err;
}

/* 3. I -> R: HS_FIN, as the responder checks it */
static int on_fin(struct srm_sess *s, struct srm_buf *in, struct srm_sess_event *ev)
{
    const uint8_t *sig = NULL, *rec = NULL;
    size_t siglen = 0;
    int err;

    if (srm_buf_get_string16(in, SRM_RSA_MAX_BYTES, &sig, &siglen) != 0 ||
        srm_buf_get_view(in, CONFIRM_REC_LEN, &rec) != 0) {
        return SRM_ERR_MALFORMED;
    }
    if ((err = srm_buf_expect_end(in)) != 0) {
        return err;
    }
    if ((err = srm_transcript_verify(s->peer_pub, SRM_SIG_SESS_INITIATOR, s->hs.th, sig, siglen)) !=
            0 ||
        (err = open_confirm(s->hs.rx, s->hs.th, rec)) != 0) {
        return err;
    }
    install(s, s->hs.tx, s->hs.rx, 0);
    ev->type = SRM_SESS_EV_ESTABLISHED;
    return 0;
}

/* Key schedule of DESIGN.md 4; OKM wiped here.  Initiator sends i2r, receives r2i. */
static int make_keys(const uint8_t z[SRM_X25519_LEN], const uint8_t ni[SRM_NONCE_LEN],
                     const uint8_t nr[SRM_NONCE_LEN], const uint8_t th[SRM_HASH_LEN], int initiator,
                     struct srm_record **tx, struct srm_record **rx)
{
    struct srm_session_keys k;
    struct srm_record *i2r = NULL, *r2i = NULL;
    int err;

    if ((err = srm_kdf_session(z, ni, nr, th, &k)) != 0 ||
        (err = srm_record_new(k.k_enc_i2r, k.k_mac_i2r, k.session_id, &i2r)) != 0 ||
        (err = srm_record_new(k.k_enc_r2i, k.k_mac_r2i, k.session_id, &r2i)) != 0) {
        goto out;
    }
    *tx = initiator ? i2r : r2i;
    *rx = initiator ? r2i : i2r;
    i2r = NULL;
    r2i = NULL;
    err = 0;
out:
    srm_kdf_session_wipe(&k);
    srm_record_free(i2r);
    srm_record_free(r2i);
    return err;
}

/* CONFIRM(TH) as record seq 0 of our sending direction, so data records start at 1. */
static int seal_confirm(struct srm_record *tx, const uint8_t th[SRM_HASH_LEN],
                        uint8_t rec[CONFIRM_REC_LEN])
{
    uint8_t pt[SRM_CONFIRM_LEN];
    struct srm_buf b;
    int err;

    if (srm_record_seq(tx) != 0) {
        return SRM_ERR_INTERNAL;
    }
    srm_transcript_confirm(th, pt);
    srm_buf_init_write(&b, rec, CONFIRM_REC_LEN);
    if ((err = srm_record_seal(tx, pt, sizeof(pt), &b)) != 0) {
        return err;
    }
    return b.len == CONFIRM_REC_LEN ? 0 : SRM_ERR_INTERNAL;
}

/* The peer's seq 0 record must be exactly CONFIRM(TH). */
static int open_confirm(struct srm_record *rx, const uint8_t th[SRM_HASH_LEN], const uint8_t *rec)
{
    uint8_t pt[SRM_CONFIRM_LEN];
    size_t ptlen = 0;
    int err;

    if ((err = srm_record_open(rx, rec, CONFIRM_REC_LEN, pt, sizeof(pt), &ptlen)) != 0) {
        return err;
    }
    if (!srm_transcript_confirm_ok(th, pt, ptlen)) {
        return SRM_ERR_BAD_MAC;
    }
    return 0;
}

/* New keys replace the old (wiped); the pending handshake ends. */
static void install(struct srm_sess *s, struct srm_record *tx, struct srm_record *rx, int initiator)
{
    /* hs may own tx/rx (responder): detach before wiping it. */
    if (s->hs.tx == tx) {
        s->hs.tx = NULL;
    }
    if (s->hs.rx == rx) {
        s->hs.rx = NULL;
    }
    hs_wipe(&s->hs);
    srm_record_free(s->prev_rx);
    s->prev_rx = NULL;
    if (initiator && s->established) {
        s->prev_rx = s->rx;
    } else {
        srm_record_free(s->rx);
    }
    srm_record_free(s->tx);
    s->tx = tx;
    s->rx = rx;
    s->established = 1;
    s->failed = 0;
    s->initiator = initiator;
}

/* RECORD: 0x04 || record; plaintext DATA or ACK */
static int on_record(struct srm_sess *s, struct srm_buf *in, struct srm_sess_event *ev)
{
    const uint8_t *rec = NULL, *text = NULL;
    size_t n = 0, ptlen = 0, text_len = 0;
    struct srm_buf pt;
    uint64_t msg_id = 0;
    uint8_t type = 0;
    int err;

    srm_buf_get_rest(in, &rec, &n);
    err = srm_record_open(s->rx, rec, n, s->pt, SRM_RECORD_MAX_PT, &ptlen);
    if (err != 0 && s->prev_rx != NULL) {
        /* The peer may not have seen our HS_FIN yet; a failed open changes nothing. */
        err = srm_record_open(s->prev_rx, rec, n, s->pt, SRM_RECORD_MAX_PT, &ptlen);
    } else if (err == 0 && s->prev_rx != NULL) {
        /* The peer has switched: records under the old keys can no longer be genuine. */
        srm_record_free(s->prev_rx);
        s->prev_rx = NULL;
    }
    if (err != 0) {
        return err;
    }
    srm_buf_init_read(&pt, s->pt, ptlen);
    if (srm_buf_get_u8(&pt, &type) != 0 || srm_buf_get_u64(&pt, &msg_id) != 0) {
        return SRM_ERR_MALFORMED;
    }
    switch (type) {
    case SRM_INNER_DATA:
        srm_buf_get_rest(&pt, &text, &text_len);
        ev->type = SRM_SESS_EV_DATA;
        ev->msg_id = msg_id;
        ev->text = text;
        ev->text_len = text_len;
        return 0;
    case SRM_INNER_ACK:
        if ((err = srm_buf_expect_end(&pt)) != 0) {
            return err;
        }
        ev->type = SRM_SESS_EV_ACK;
        ev->msg_id = msg_id;
        return 0;
    case SRM_INNER_CONFIRM:
        /* Confirmation belongs to seq 0 of the handshake only. */
        return SRM_ERR_UNEXPECTED_MSG;
    default:
        return SRM_ERR_UNKNOWN_TYPE;
    }
}

int srm_sess_seal_data(struct srm_sess *s, uint64_t msg_id, const uint8_t *text, size_t n,
                       struct srm_buf *out)
{
    uint8_t *pt = NULL;
    struct srm_buf b;
    int err = SRM_ERR_INTERNAL;

    if (s == NULL || out == NULL || (text == NULL && n != 0)) {
        return SRM_ERR_INVALID_ARG;
    }
    if (!s->established) {
        return SRM_ERR_BAD_STATE;
    }
    if (n > SRM_INNER_MAX_TEXT) {
        return SRM_ERR_TOO_LARGE;
    }
    if ((pt = malloc(INNER_HDR + n)) == NULL) {
        return SRM_ERR_ALLOC;
    }
    srm_buf_init_write(&b, pt, INNER_HDR + n);
    if (srm_buf_put_u8(&b, SRM_INNER_DATA) != 0 || srm_buf_put_u64(&b, msg_id) != 0 ||
        srm_buf_put_bytes(&b, text, n) != 0) {
        goto out;
    }
    err = seal_inner(s, pt, b.len, out);
out:
    srm_wipe(pt, INNER_HDR + n);
    free(pt);
    return err;
}

int srm_sess_seal_ack(struct srm_sess *s, uint64_t msg_id, struct srm_buf *out)
{
    uint8_t pt[INNER_HDR];
    struct srm_buf b;

    if (s == NULL || out == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    if (!s->established) {
        return SRM_ERR_BAD_STATE;
    }
    srm_buf_init_write(&b, pt, sizeof(pt));
    if (srm_buf_put_u8(&b, SRM_INNER_ACK) != 0 || srm_buf_put_u64(&b, msg_id) != 0) {
        return SRM_ERR_INTERNAL;
    }
    return seal_inner(s, pt, b.len, out);
}

/* Append 0x04 || record, all or nothing. */
static int seal_inner(struct srm_sess *s, const uint8_t *pt, size_t n, struct srm_buf *out)
{
    size_t save = out->len;
    int err;

    if (SRM_RECORD_OVERHEAD + n >= srm_buf_avail(out)) {
        return SRM_ERR_NO_SPACE;
    }
    if ((err = srm_buf_put_u8(out, SRM_E2E_RECORD)) != 0 ||
        (err = srm_record_seal(s->tx, pt, n, out)) != 0) {
        out->len = save;
        return err;
    }
    return 0;
}

const char *srm_sess_peer(const struct srm_sess *s)
{
    return s == NULL ? "" : s->peer;
}

int srm_sess_peer_fingerprint(const struct srm_sess *s, uint8_t fp[SRM_HASH_LEN])
{
    if (s == NULL || fp == NULL) {
        return SRM_ERR_INVALID_ARG;
    }
    memcpy(fp, s->fp_peer, SRM_HASH_LEN);
    return 0;
}

int srm_sess_holds_handshake_secrets(const struct srm_sess *s)
{
    uint8_t acc = 0;
    size_t i;

    if (s == NULL) {
        return 0;
    }
    /* Read the bytes themselves, so a forgotten wipe shows. */
    for (i = 0; i < SRM_X25519_LEN; i++) {
        acc |= s->hs.eph_priv[i];
    }
    return acc != 0;
}
