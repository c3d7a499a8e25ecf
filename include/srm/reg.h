/* SPDX-License-Identifier: MIT */
/*
 * reg.h: the registration handshake (client <-> relay), sans I/O.
 *
 *   1. client -> relay  REG_HELLO      version, name, eph_c, OAEP_relay(Nc)
 *   2. relay -> client  REG_CHALLENGE  version, eph_r, OAEP_client(Nr),
 *                                      PSS_relay("srm/1 register relay" || TH),
 *                                      link record r2c seq 0: CONFIRM(TH)
 *   3. client -> relay  REG_RESPONSE   PSS_client("srm/1 register client" || TH),
 *                                      link record c2r seq 0: CONFIRM(TH)
 *   4. relay -> client  link record r2c seq 1: WELCOME (sent by the relay program)
 *   any failure at the relay: REG_ERROR (one generic byte) and close.
 *
 * docs/PROTOCOL.md gives every byte and the transcript hash TH.  The caller
 * moves frames between the socket and srm_reg_recv(); replies are appended,
 * as whole frames, to the output buffer it passes.  Failure is sticky.
 */
#ifndef SRM_REG_H
#define SRM_REG_H

#include <stddef.h>
#include <stdint.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/link.h"

struct srm_reg;

/*
 * Relay side: look up the pinned public key of user `name`; on success store
 * a new reference (srm_key_ref) in *pub and return 0; SRM_ERR_UNKNOWN_USER if none.
 */
typedef int (*srm_reg_lookup_fn)(void *arg, const char *name, struct srm_key **pub);

/* Client side.  Takes references to both keys.  SRM_ERR_BAD_NAME, SRM_ERR_ALLOC. */
SRM_MUST_USE int srm_reg_new_client(const char *name, struct srm_key *client_priv,
                                    struct srm_key *relay_pub, struct srm_reg **out);
/* Relay side.  Takes a reference to the relay key. */
SRM_MUST_USE int srm_reg_new_relay(struct srm_key *relay_priv, srm_reg_lookup_fn lookup, void *arg,
                                   struct srm_reg **out);
/* Wipe every secret and free (NULL allowed). */
void srm_reg_free(struct srm_reg *r);

/* Client: append the REG_HELLO frame to out.  SRM_ERR_BAD_STATE if called twice. */
SRM_MUST_USE int srm_reg_start(struct srm_reg *r, struct srm_buf *out);
/*
 * Feed one received frame.  Checks that the frame type is the one the state
 * allows before parsing anything (SRM_ERR_UNEXPECTED_MSG otherwise).  Appends
 * any reply frame to out.  On failure the state becomes failed, every secret
 * is wiped, and (relay side) a generic REG_ERROR frame is appended to out for
 * the caller to send before closing.  Client side errors include
 * SRM_ERR_KEY_MISMATCH (relay not signing with the pinned key) and
 * SRM_ERR_PEER_REFUSED (REG_ERROR received).
 */
SRM_MUST_USE int srm_reg_recv(struct srm_reg *r, const struct srm_frame *f, struct srm_buf *out);
/* 1 once the handshake succeeded: client after RESPONSE is produced, relay after it is checked. */
int srm_reg_is_done(const struct srm_reg *r);
/* Hand the link keys (both directions) to the caller; only once, only when done. */
SRM_MUST_USE int srm_reg_take_link(struct srm_reg *r, struct srm_link **out);
/* The client's name (relay side: authenticated only once done). */
const char *srm_reg_name(const struct srm_reg *r);
/* The peer's public key fingerprint (relay: client's; client: relay's); valid once done. */
const uint8_t *srm_reg_peer_fingerprint(const struct srm_reg *r);
/* Test hook: 1 if any ephemeral private key, nonce, shared secret or unsent key is still held. */
int srm_reg_holds_handshake_secrets(const struct srm_reg *r);
/* Human-readable name of the current state, for debug logs. */
const char *srm_reg_state_name(const struct srm_reg *r);

#endif
