/* SPDX-License-Identifier: MIT */
/*
 * sess.h: one end-to-end session with one peer, sans I/O: the SIGMA-style
 * signed ephemeral X25519 handshake, then message records.
 *
 *   1. I -> R  HS_INIT  version, name_i, name_r, Ni, eph_i
 *   2. R -> I  HS_RESP  version, Nr, eph_r, PSS_r("srm/1 session responder" || TH),
 *                       record r2c seq 0: CONFIRM(TH)
 *   3. I -> R  HS_FIN   PSS_i("srm/1 session initiator" || TH),
 *                       record i2r seq 0: CONFIRM(TH)
 *   then       RECORD   records carrying DATA(msg_id, text) and ACK(msg_id)
 *
 * Each is an end-to-end payload (first byte enum srm_e2e_kind) that the
 * client puts in SEND and the relay forwards in DELIVER.  When both sides
 * send HS_INIT at once, the lexically smaller name stays the initiator and
 * the other side answers as responder.  docs/PROTOCOL.md has every byte.
 */
#ifndef SRM_SESS_H
#define SRM_SESS_H

#include <stddef.h>
#include <stdint.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/wire.h"

struct srm_sess;

enum srm_sess_state {
    SRM_SESS_IDLE = 0,        /* nothing sent or received yet */
    SRM_SESS_INIT_SENT = 1,   /* initiator waiting for HS_RESP */
    SRM_SESS_RESP_SENT = 2,   /* responder waiting for HS_FIN */
    SRM_SESS_ESTABLISHED = 3, /* records may flow */
    SRM_SESS_FAILED = 4,      /* sticky until srm_sess_start() starts afresh */
};

enum srm_sess_event_type {
    SRM_SESS_EV_NONE = 0,
    SRM_SESS_EV_ESTABLISHED = 1, /* keys installed; handshake secrets wiped */
    SRM_SESS_EV_DATA = 2,        /* msg_id, text */
    SRM_SESS_EV_ACK = 3,         /* msg_id */
};

struct srm_sess_event {
    enum srm_sess_event_type type;
    uint64_t msg_id;
    const uint8_t *text; /* view into the session's own buffer, valid until the next call */
    size_t text_len;
};

/* Takes references to both keys.  Names are checked (SRM_ERR_BAD_NAME); self != peer. */
SRM_MUST_USE int srm_sess_new(const char *self, struct srm_key *self_priv, const char *peer,
                              struct srm_key *peer_pub, struct srm_sess **out);
/* Wipe every key and secret and free (NULL allowed). */
void srm_sess_free(struct srm_sess *s);
enum srm_sess_state srm_sess_state(const struct srm_sess *s);
/* "idle", "init-sent", ... for logs. */
const char *srm_sess_state_name(const struct srm_sess *s);
/* 1 if this side is (or was last) the initiator. */
int srm_sess_is_initiator(const struct srm_sess *s);

/*
 * Start (or restart) a handshake as initiator and append an HS_INIT payload
 * to out.  An established session keeps its keys until the new handshake
 * completes (then they are replaced and wiped).
 */
SRM_MUST_USE int srm_sess_start(struct srm_sess *s, struct srm_buf *out);
/*
 * Feed one payload received from the peer (the relay vouches only for the
 * sender's name).  May append a reply payload to reply (HS_RESP, HS_FIN) and
 * sets *ev.  A RECORD that fails any check returns an error and ends the
 * session (FAILED, keys wiped); nothing from it is ever returned as data.
 * A RECORD that arrives before any session is established is dropped unread
 * (SRM_ERR_UNEXPECTED_MSG) and changes nothing, not even a pending handshake.
 * A handshake message that fails a check, or does not belong to a pending
 * handshake, returns an error and fails only the pending handshake: an
 * established session stays established (so a replayed HS_INIT cannot break
 * it).  An HS_INIT received in any state starts a new responder handshake,
 * except in INIT_SENT when this side's name is the smaller, where it is
 * ignored (returns 0, SRM_SESS_EV_NONE).
 */
SRM_MUST_USE int srm_sess_recv(struct srm_sess *s, const uint8_t *payload, size_t n,
                               struct srm_buf *reply, struct srm_sess_event *ev);
/* Append a RECORD payload carrying DATA(msg_id, text); only when ESTABLISHED. */
SRM_MUST_USE int srm_sess_seal_data(struct srm_sess *s, uint64_t msg_id, const uint8_t *text,
                                    size_t n, struct srm_buf *out);
/* Append a RECORD payload carrying ACK(msg_id); only when ESTABLISHED. */
SRM_MUST_USE int srm_sess_seal_ack(struct srm_sess *s, uint64_t msg_id, struct srm_buf *out);
/* The peer's name and key fingerprint. */
const char *srm_sess_peer(const struct srm_sess *s);
SRM_MUST_USE int srm_sess_peer_fingerprint(const struct srm_sess *s, uint8_t fp[SRM_HASH_LEN]);
/* Test hook: 1 if any ephemeral private key, shared secret or handshake key is still held. */
int srm_sess_holds_handshake_secrets(const struct srm_sess *s);

/* Largest payload srm_sess_* can append: a record of the largest text. */
#define SRM_SESS_MAX_PAYLOAD (1u + SRM_RECORD_MAX)

#endif
