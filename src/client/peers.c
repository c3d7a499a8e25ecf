/* SPDX-License-Identifier: MIT */
/*
 * peers.c: the session table, the outboxes and acknowledgements, in one
 * place for both UI modes.
 *
 * Per peer: its pinned key (loaded when first needed), its end-to-end
 * session, and an ordered outbox of {msg_id, text, queued|sent}.
 *
 *   send text   -> outbox; ESTABLISHED: seal DATA and SEND now (sent);
 *                  otherwise start a handshake unless one is in flight
 *   ESTABLISHED -> (re)send every message of the outbox in order: a new
 *                  session means the peer lost whatever the old one carried
 *   DATA        -> show it unless it is a duplicate (msg_id = epoch << 32 |
 *                  counter, PROTOCOL.md 6.4), SEND an ACK either way
 *   ACK         -> delivered: drop it from the outbox
 *   UNDELIVERABLE(offline) -> peer offline, handshake reset, outbox kept
 *   PRESENCE(online) with a non-empty outbox -> handshake again
 *   link lost   -> every session dropped (keys wiped), outbox requeued; on
 *                  the next WELCOME fresh handshakes for peers we owe
 *   a failed record -> one error line, session reset, and a fresh handshake
 *                  at once (even with an empty outbox) so the peer learns
 *                  and resends what it has not had acknowledged
 *   a RECORD while no session is established -> dropped unread (feeding it
 *                  to the session would also kill a handshake in flight);
 *                  starts a handshake if none is in flight
 *   no records are sealed while our HS_INIT or HS_RESP is out: the peer
 *   may already have dropped the old keys
 * Automatic restarts are bounded (CLIENT_MAX_HS_FAILURES) so two broken
 * ends cannot loop; a handshake or an acknowledgement that never comes is
 * retried after a timeout (peers_tick).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/sess.h"
#include "srm/wire.h"

#include "client.h"
#include "log.h"

static int peer_key(struct client *c, struct peer *p, int report);
static int peer_sess(struct client *c, struct peer *p);
static void peer_drop_sess(struct peer *p);
static void peer_requeue(struct peer *p);
static int peer_in_flight(const struct peer *p);
static int peer_start_hs(struct client *c, struct peer *p);
static void peer_pump(struct client *c, struct peer *p);
static int peer_send_one(struct client *c, struct peer *p, struct outmsg *om);
static void peer_event(struct client *c, struct peer *p, const struct srm_sess_event *ev);
static void peer_acked(struct client *c, struct peer *p, uint64_t msg_id);
static void peer_record_failed(struct client *c, struct peer *p, int err);
static int peer_can_seal(const struct peer *p);
static void outmsg_free(struct outmsg *om);
static void outmsg_preview(const struct outmsg *om, char *out, size_t n);

struct peer *peers_find(struct client *c, const char *name)
{
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        if (strcmp(p->name, name) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Find or add a peer (no key loaded yet).  NULL if the name is invalid or the table full. */
struct peer *peers_get(struct client *c, const char *name)
{
    struct peer *p = peers_find(c, name);

    if (p != NULL) {
        return p;
    }
    if (srm_name_check_str(name) != 0 || strcmp(name, c->name) == 0 ||
        c->npeers >= CLIENT_MAX_PEERS) {
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->tail = &p->head;
    p->next_msg_id = 1;
    p->presence = PEER_UNKNOWN;
    /* Keep the table sorted by name so lists print in a stable order. */
    {
        struct peer **pp = &c->peers;
        while (*pp != NULL && strcmp((*pp)->name, name) < 0) {
            pp = &(*pp)->next;
        }
        p->next = *pp;
        *pp = p;
    }
    c->npeers++;
    return p;
}

void peers_free_all(struct client *c)
{
    struct peer *p = c->peers;

    while (p != NULL) {
        struct peer *next = p->next;
        struct outmsg *om = p->head;
        while (om != NULL) {
            struct outmsg *n = om->next;
            outmsg_free(om);
            om = n;
        }
        srm_sess_free(p->sess);
        srm_key_free(p->pub);
        free(p);
        p = next;
    }
    c->peers = NULL;
    c->npeers = 0;
}

static void outmsg_free(struct outmsg *om)
{
    /* Message text is private: do not leave it in freed memory. */
    OPENSSL_clear_free(om, sizeof(*om) + om->len);
}

/* Load the peer's pinned key if not yet loaded.  report: say why it failed. */
static int peer_key(struct client *c, struct peer *p, int report)
{
    if (p->pub != NULL) {
        return 0;
    }
    if (client_load_public(c, p->name, &p->pub, !report) != 0) {
        p->pub = NULL;
        return -1;
    }
    return 0;
}

static int peer_sess(struct client *c, struct peer *p)
{
    int r;

    if (p->sess != NULL) {
        return 0;
    }
    if (peer_key(c, p, 1) != 0) {
        return -1;
    }
    r = srm_sess_new(c->name, c->self_key, p->name, p->pub, &p->sess);
    if (r != 0) {
        ui_error(c, "cannot set up a session with %s: %s", p->name, srm_strerror(r));
        p->sess = NULL;
        return -1;
    }
    return 0;
}

static void peer_drop_sess(struct peer *p)
{
    p->hs_pending = 0;
    if (p->sess != NULL) {
        srm_debug("session with %s dropped in state %s", p->name, srm_sess_state_name(p->sess));
        srm_sess_free(p->sess);
        p->sess = NULL;
    }
}

/* A new session will carry everything again: the old one's records are gone. */
static void peer_requeue(struct peer *p)
{
    for (struct outmsg *om = p->head; om != NULL; om = om->next) {
        om->state = OUTMSG_QUEUED;
    }
}

/* Our HS_INIT or HS_RESP is out and the handshake has not finished. */
static int peer_in_flight(const struct peer *p)
{
    return p->sess != NULL && p->hs_pending;
}

/* Records may be sealed: keys in use and no handshake of ours pending. */
static int peer_can_seal(const struct peer *p)
{
    return p->sess != NULL && !p->hs_pending && srm_sess_state(p->sess) == SRM_SESS_ESTABLISHED;
}

/*
 * 1. I -> R: HS_INIT in a fresh session: the old one's keys are wiped at
 * once (its records may have been lost; the peer may have restarted).
 */
static int peer_start_hs(struct client *c, struct peer *p)
{
    struct srm_buf out;
    uint32_t ref = 0;
    int r;

    if (!conn_is_online(c)) {
        return -1;
    }
    peer_drop_sess(p);
    if (peer_sess(c, p) != 0) {
        return -1;
    }
    peer_requeue(p);
    srm_buf_init_write(&out, c->payload_buf, SRM_SESS_MAX_PAYLOAD);
    r = srm_sess_start(p->sess, &out);
    if (r != 0) {
        srm_log_crypto_errors("HS_INIT");
        ui_error(c, "cannot start a session with %s: %s", p->name, srm_strerror(r));
        return -1;
    }
    if (conn_send_payload(c, p->name, out.data, out.len, &ref) != 0) {
        return -1;
    }
    p->start_ref = ref;
    p->hs_pending = 1;
    p->hs_start_ms = client_now_ms();
    srm_debug("session with %s: HS_INIT sent (ref %u), state %s", p->name, (unsigned)ref,
              srm_sess_state_name(p->sess));
    return 0;
}

/* Move the outbox forward as far as the session allows. */
static void peer_pump(struct client *c, struct peer *p)
{
    if (!conn_is_online(c) || p->nout == 0) {
        return;
    }
    if (peer_can_seal(p)) {
        for (struct outmsg *om = p->head; om != NULL; om = om->next) {
            if (om->state == OUTMSG_QUEUED && peer_send_one(c, p, om) != 0) {
                return;
            }
        }
        return;
    }
    if (p->presence == PEER_OFFLINE || peer_in_flight(p)) {
        return;
    }
    if (p->hs_failures >= CLIENT_MAX_HS_FAILURES) {
        srm_debug("session with %s: %d failures, not restarting on my own", p->name,
                  p->hs_failures);
        return;
    }
    (void)peer_start_hs(c, p);
}

static int peer_send_one(struct client *c, struct peer *p, struct outmsg *om)
{
    struct srm_buf out;
    int r;

    srm_buf_init_write(&out, c->payload_buf, SRM_SESS_MAX_PAYLOAD);
    r = srm_sess_seal_data(p->sess, om->id, (const uint8_t *)om->text, om->len, &out);
    if (r != 0) {
        srm_log_crypto_errors("seal DATA");
        ui_error(c, "cannot seal message %llu to %s: %s", (unsigned long long)om->id, p->name,
                 srm_strerror(r));
        /*
         * SRM_ERR_SEQ_EXHAUSTED and friends: the message stays queued for a
         * new session, started by the next message or presence change (not
         * here, so a persistent failure cannot loop).
         */
        peer_drop_sess(p);
        peer_requeue(p);
        return -1;
    }
    if (conn_send_payload(c, p->name, out.data, out.len, NULL) != 0) {
        return -1;
    }
    om->state = OUTMSG_SENT;
    om->sent_ms = client_now_ms();
    srm_debug("DATA msg_id %llu to %s (%zu bytes of text)", (unsigned long long)om->id, p->name,
              om->len);
    return 0;
}

/* Queue text for `to` and send it as soon as the session allows.  0 queued, -1 refused. */
int peers_send_text(struct client *c, const char *to, const char *text, size_t len)
{
    struct peer *p;
    struct outmsg *om;

    if (srm_name_check_str(to) != 0) {
        ui_error(c, "invalid name '%s': use 1-32 of a-z 0-9 _ -", to);
        return -1;
    }
    if (strcmp(to, c->name) == 0) {
        ui_error(c, "cannot send a message to yourself");
        return -1;
    }
    if (len > SRM_INNER_MAX_TEXT) {
        ui_error(c, "message to %s too long: %zu bytes, at most %u", to, len,
                 (unsigned)SRM_INNER_MAX_TEXT);
        return -1;
    }
    p = peers_get(c, to);
    if (p == NULL) {
        ui_error(c, "cannot add %s: too many peers", to);
        return -1;
    }
    if (peer_key(c, p, 1) != 0) {
        return -1;
    }
    if (p->nout >= CLIENT_OUTBOX_MAX) {
        ui_error(c, "outbox for %s is full (%d messages waiting): message not queued", to,
                 CLIENT_OUTBOX_MAX);
        return -1;
    }
    om = malloc(sizeof(*om) + len);
    if (om == NULL) {
        ui_error(c, "out of memory: message to %s not queued", to);
        return -1;
    }
    if (p->next_msg_id > UINT32_MAX) {
        ui_error(c, "message counter for %s used up: restart the client", to);
        OPENSSL_clear_free(om, sizeof(*om) + len);
        return -1;
    }
    om->next = NULL;
    om->sent_ms = 0;
    /* The epoch tells the receiver this process's ids from an earlier one's. */
    om->id = ((uint64_t)c->epoch << 32) | p->next_msg_id++;
    om->state = OUTMSG_QUEUED;
    om->len = len;
    memcpy(om->text, text, len);
    *p->tail = om;
    p->tail = &om->next;
    p->nout++;
    srm_debug("queued msg_id %llu to %s (%zu in outbox)", (unsigned long long)om->id, to, p->nout);
    /* The user tried again: allow automatic restarts again. */
    p->hs_failures = 0;
    if (!conn_is_online(c) && p->nout == 1) {
        ui_status(c, "not connected to the relay: messages to %s are queued (/queue)", p->name);
    } else if (p->presence == PEER_OFFLINE && p->nout == 1) {
        ui_status(c, "%s is offline; %zu message(s) queued (/queue)", p->name, p->nout);
    }
    peer_pump(c, p);
    return 0;
}

/*
 * A (new) link: whoever we still owe messages, or had a session with, and
 * is online gets a fresh handshake; the peer may not have noticed our
 * outage and would otherwise wait for an ACK we never sent.
 */
void peers_on_welcome(struct client *c)
{
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        if ((p->nout > 0 || p->resync) && p->presence == PEER_ONLINE) {
            p->hs_failures = 0;
            (void)peer_start_hs(c, p);
        }
        p->resync = 0;
    }
    ui_update_prompt(c);
}

void peers_on_presence(struct client *c, const char *name, int online)
{
    struct peer *p = peers_get(c, name);
    enum peer_presence prev;

    if (p == NULL) {
        srm_debug("PRESENCE for %s ignored (table full or bad name)", name);
        return;
    }
    prev = p->presence;
    srm_debug("PRESENCE %s %s (outbox %zu)", name, online ? "online" : "offline", p->nout);
    if (online) {
        p->presence = PEER_ONLINE;
        if (prev != PEER_ONLINE) {
            ui_status(c, "%s is online", name);
        }
        /*
         * Only when there is no session and no handshake: not when our
         * HS_INIT is already out (it was sent before this news arrived: a
         * second one would make the answer to the first look like a
         * failure), nor when a session is up or being answered (a cluster
         * may repeat "online" for a user it already announced).
         */
        if (p->nout > 0 && !peer_in_flight(p) &&
            (p->sess == NULL || srm_sess_state(p->sess) == SRM_SESS_IDLE ||
             srm_sess_state(p->sess) == SRM_SESS_FAILED)) {
            p->hs_failures = 0;
            (void)peer_start_hs(c, p);
        }
    } else {
        p->presence = PEER_OFFLINE;
        /* Its process (and so its half of the session) may be gone. */
        peer_drop_sess(p);
        peer_requeue(p);
        if (prev != PEER_OFFLINE) {
            ui_status(c, "%s went offline", name);
        }
    }
    ui_update_prompt(c);
}

/* A DELIVER payload from `from` (the relay vouches for the name only). */
void peers_on_deliver(struct client *c, const char *from, const uint8_t *payload, size_t n)
{
    struct peer *p = peers_get(c, from);
    struct srm_sess_event ev;
    struct srm_buf reply;
    uint8_t kind = n > 0 ? payload[0] : 0;
    int r;

    if (p == NULL) {
        srm_debug("DELIVER from %s ignored (table full or bad name)", from);
        return;
    }
    if (p->presence != PEER_ONLINE) {
        p->presence = PEER_ONLINE;
        ui_update_prompt(c);
    }
    if (p->pub == NULL && peer_key(c, p, 0) != 0) {
        /* Said once per peer: a stranger must not be able to flood the screen. */
        if (!p->key_reported) {
            ui_error(c, "message from %s ignored: no key %s/%s.pub (ask %s for it)", from,
                     c->keys_dir, from, from);
            p->key_reported = 1;
        }
        return;
    }
    if (peer_sess(c, p) != 0) {
        return;
    }
    srm_debug("payload from %s: e2e kind 0x%02x, %zu bytes, session %s", from,
              n > 0 ? payload[0] : 0, n, srm_sess_state_name(p->sess));
    if (kind == SRM_E2E_RECORD && srm_sess_state(p->sess) != SRM_SESS_ESTABLISHED) {
        /*
         * A record of a session we no longer have (we reconnected, reset or
         * restarted).  Unread: the library would also end a handshake in
         * flight.  The peer resends it once a new session is up.
         */
        srm_debug("record from %s dropped: session %s", from, srm_sess_state_name(p->sess));
        if (!p->hs_pending && p->hs_failures < CLIENT_MAX_HS_FAILURES) {
            p->hs_failures++;
            (void)peer_start_hs(c, p);
        }
        return;
    }
    memset(&ev, 0, sizeof(ev));
    srm_buf_init_write(&reply, c->payload_buf, SRM_SESS_MAX_PAYLOAD);
    r = srm_sess_recv(p->sess, payload, n, &reply, &ev);
    if (r != 0) {
        srm_log_crypto_errors("session");
        srm_debug("session with %s: %s failed: %s", from,
                  kind == SRM_E2E_RECORD ? "record" : "handshake message", srm_strerror(r));
        if (kind == SRM_E2E_RECORD) {
            peer_record_failed(c, p, r);
            return;
        }
        /* A handshake message failed: only the pending handshake is gone (PROTOCOL.md 6.2). */
        if (r == SRM_ERR_UNEXPECTED_MSG) {
            ui_error(c,
                     "ignored a handshake message from %s that answers no handshake of ours "
                     "(replayed, or late)",
                     from);
        } else {
            ui_error(c, "handshake with %s failed: %s", from, srm_strerror(r));
        }
        p->hs_pending = 0;
        p->hs_failures++;
        peer_requeue(p);
        if (p->hs_failures <= CLIENT_MAX_HS_FAILURES) {
            /*
             * A fresh handshake of ours also ends whatever half-done one the
             * peer is waiting in (it seals nothing meanwhile).
             */
            (void)peer_start_hs(c, p);
        }
        return;
    }
    if (reply.len > 0) {
        if (conn_send_payload(c, from, reply.data, reply.len, NULL) != 0) {
            return;
        }
        if (kind == SRM_E2E_HS_INIT) {
            /* We answer as responder: seal nothing until HS_FIN switches the keys. */
            p->hs_pending = 1;
            p->hs_start_ms = client_now_ms();
        }
        srm_debug("session with %s: reply sent, state %s", from, srm_sess_state_name(p->sess));
    }
    peer_event(c, p, &ev);
}

/*
 * A record failed (DESIGN.md 3a): the library ended the session and wiped
 * its keys.  Say so once, clearly, and start a fresh session at once so the
 * peer resends what we have not acknowledged; bounded against loops.
 */
static void peer_record_failed(struct client *c, struct peer *p, int err)
{
    switch (err) {
    case SRM_ERR_REPLAY:
        ui_error(c, "rejected a replayed or out-of-order record from %s (session reset)", p->name);
        break;
    case SRM_ERR_BAD_MAC:
        ui_error(c,
                 "rejected a tampered or forged record from %s: authentication failed "
                 "(session reset)",
                 p->name);
        break;
    default:
        ui_error(c, "rejected a bad record from %s: %s (session reset)", p->name,
                 srm_strerror(err));
        break;
    }
    p->hs_pending = 0;
    p->hs_failures++;
    peer_requeue(p);
    if (p->hs_failures <= CLIENT_MAX_HS_FAILURES) {
        (void)peer_start_hs(c, p);
    }
}

static void peer_event(struct client *c, struct peer *p, const struct srm_sess_event *ev)
{
    switch (ev->type) {
    case SRM_SESS_EV_ESTABLISHED: {
        uint8_t fp[SRM_HASH_LEN];
        char fps[SRM_FP_STR_LEN];

        if (srm_sess_peer_fingerprint(p->sess, fp) == 0) {
            srm_fingerprint_format(fp, fps);
        } else {
            snprintf(fps, sizeof(fps), "?");
        }
        srm_debug("session with %s established as %s, peer key %s", p->name,
                  srm_sess_is_initiator(p->sess) ? "initiator" : "responder", fps);
        ui_status(c, "session with %s established (%s)", p->name, fps);
        p->hs_failures = 0;
        p->hs_pending = 0;
        peer_requeue(p);
        peer_pump(c, p);
        break;
    }
    case SRM_SESS_EV_DATA: {
        struct srm_buf out;
        uint64_t id = ev->msg_id;

        uint32_t epoch = (uint32_t)(id >> 32);
        uint32_t ctr = (uint32_t)(id & 0xffffffffu);

        srm_debug("DATA msg_id %llu from %s (%zu bytes of text)", (unsigned long long)id, p->name,
                  ev->text_len);
        /*
         * PROTOCOL.md 6.4: within one sender epoch ids arrive in order, so
         * one counter per peer is all the memory duplicates need.
         */
        if (p->rx_seen && epoch == p->rx_epoch && ctr <= p->rx_high) {
            srm_debug("DATA msg_id %llu from %s: duplicate (highest %u), not shown",
                      (unsigned long long)id, p->name, (unsigned)p->rx_high);
        } else {
            if (p->rx_seen && epoch == p->rx_epoch && ctr != p->rx_high + 1u) {
                srm_debug("DATA from %s: counter %u after %u", p->name, (unsigned)ctr,
                          (unsigned)p->rx_high);
            }
            p->rx_seen = 1;
            p->rx_epoch = epoch;
            p->rx_high = ctr;
            /* Show it before the next library call invalidates the view. */
            ui_message(c, p->name, ev->text, ev->text_len);
        }
        if (!peer_can_seal(p)) {
            /* The sender resends after the handshake; the duplicate is acknowledged then. */
            break;
        }
        srm_buf_init_write(&out, c->payload_buf, SRM_SESS_MAX_PAYLOAD);
        if (srm_sess_seal_ack(p->sess, id, &out) != 0) {
            srm_log_crypto_errors("seal ACK");
            ui_error(c, "cannot acknowledge a message from %s", p->name);
            return;
        }
        (void)conn_send_payload(c, p->name, out.data, out.len, NULL);
        srm_debug("ACK msg_id %llu to %s", (unsigned long long)id, p->name);
        break;
    }
    case SRM_SESS_EV_ACK:
        peer_acked(c, p, ev->msg_id);
        break;
    case SRM_SESS_EV_NONE:
    default:
        break;
    }
}

static void peer_acked(struct client *c, struct peer *p, uint64_t msg_id)
{
    struct outmsg **pp = &p->head;

    while (*pp != NULL && (*pp)->id != msg_id) {
        pp = &(*pp)->next;
    }
    if (*pp == NULL) {
        /* A duplicate ACK for a message resent over a new session. */
        srm_debug("ACK msg_id %llu from %s: not in the outbox", (unsigned long long)msg_id,
                  p->name);
        return;
    }
    {
        struct outmsg *om = *pp;
        *pp = om->next;
        if (p->tail == &om->next) {
            p->tail = pp;
        }
        outmsg_free(om);
        p->nout--;
    }
    srm_debug("ACK msg_id %llu from %s: delivered (%zu left)", (unsigned long long)msg_id, p->name,
              p->nout);
    if (c->batch) {
        /* Scripts send many lines: one status line each would bury the errors. */
        batch_check_done(c);
    } else {
        ui_status(c, "delivered to %s", p->name);
    }
}

void peers_on_undeliverable(struct client *c, const char *to, uint32_t ref, uint8_t reason)
{
    struct peer *p = peers_find(c, to);

    if (p == NULL) {
        srm_debug("UNDELIVERABLE for unknown peer %s ignored", to);
        return;
    }
    /* Refs grow by one per SEND: older ones belong to an attempt already given up. */
    if (ref < p->start_ref) {
        srm_debug("UNDELIVERABLE to %s ref %u: stale (attempt began at ref %u)", to, (unsigned)ref,
                  (unsigned)p->start_ref);
        return;
    }
    srm_debug("UNDELIVERABLE to %s ref %u reason %u (outbox %zu)", to, (unsigned)ref,
              (unsigned)reason, p->nout);
    p->start_ref = c->next_ref;
    p->presence = PEER_OFFLINE;
    peer_drop_sess(p);
    peer_requeue(p);
    if (reason == SRM_REASON_UNKNOWN_USER) {
        ui_error(c, "the relay does not know %s (it has no %s.pub); %zu message(s) kept", to, to,
                 p->nout);
    } else {
        ui_status(c, "%s is offline; %zu message(s) queued", to, p->nout);
    }
    ui_update_prompt(c);
}

/* The current peer: --to or /to, else the only other user online, else NULL. */
const char *peers_current(struct client *c)
{
    const char *only = NULL;

    if (c->to[0] != '\0') {
        return c->to;
    }
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        if (p->presence == PEER_ONLINE) {
            if (only != NULL) {
                return NULL;
            }
            only = p->name;
        }
    }
    return only;
}

size_t peers_pending_total(const struct client *c)
{
    size_t n = 0;

    for (const struct peer *p = c->peers; p != NULL; p = p->next) {
        n += p->nout;
    }
    return n;
}

/* Batch exit: one error line per peer, then the messages themselves (at most 20 each). */
void peers_report_undelivered(struct client *c)
{
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        size_t shown = 0;

        if (p->nout == 0) {
            continue;
        }
        ui_error(c, "%zu message(s) to %s not delivered", p->nout, p->name);
        for (struct outmsg *om = p->head; om != NULL; om = om->next) {
            char pv[CLIENT_PREVIEW_LEN];

            srm_debug("not delivered: msg_id %llu to %s (%s)", (unsigned long long)om->id, p->name,
                      om->state == OUTMSG_SENT ? "sent" : "queued");
            if (shown++ == 20) {
                ui_print(c, "  ... and %zu more", p->nout - 20);
                break;
            }
            outmsg_preview(om, pv, sizeof(pv));
            ui_print(c, "  not delivered to %s: #%u %s", p->name, (unsigned)(om->id & 0xffffffffu),
                     pv);
        }
    }
}

/*
 * Our link is gone: every session is stale (records in flight in either
 * direction may be lost, the peer may restart before we are back), so its
 * keys are wiped now and everything unacknowledged waits for a fresh one.
 */
void peers_on_link_down(struct client *c)
{
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        p->resync = p->resync || p->sess != NULL;
        peer_drop_sess(p);
        peer_requeue(p);
    }
}

/*
 * Timeouts, from the keepalive tick: a handshake that never finishes (its
 * payload lost, or a replayed HS_INIT we answered) and a message never
 * acknowledged (a payload lost without the link noticing) each start a
 * fresh session, which resends the outbox in order.
 */
void peers_tick(struct client *c)
{
    uint64_t now = client_now_ms();

    for (struct peer *p = c->peers; p != NULL && conn_is_online(c); p = p->next) {
        if (p->hs_pending && now - p->hs_start_ms >= CLIENT_HS_TIMEOUT_MS) {
            srm_debug("session with %s: handshake not finished in %u ms", p->name,
                      (unsigned)CLIENT_HS_TIMEOUT_MS);
            p->hs_pending = 0;
            if (p->sess != NULL && srm_sess_state(p->sess) != SRM_SESS_ESTABLISHED) {
                peer_drop_sess(p);
            }
            if (p->nout > 0 && p->presence != PEER_OFFLINE) {
                p->hs_failures++;
                peer_requeue(p);
                peer_pump(c, p);
            }
            continue;
        }
        if (peer_can_seal(p) && p->head != NULL && p->head->state == OUTMSG_SENT &&
            now - p->head->sent_ms >= CLIENT_ACK_TIMEOUT_MS &&
            p->hs_failures < CLIENT_MAX_HS_FAILURES) {
            srm_debug("no ACK from %s for msg_id %llu in %u ms: new session", p->name,
                      (unsigned long long)p->head->id, (unsigned)CLIENT_ACK_TIMEOUT_MS);
            p->hs_failures++;
            (void)peer_start_hs(c, p);
        }
    }
}

/* /queue: what waits, per peer, oldest first. */
void peers_list_queue(struct client *c)
{
    size_t total = peers_pending_total(c);

    if (total == 0) {
        ui_print(c, "no messages pending");
        return;
    }
    ui_print(c, "%zu message(s) pending%s:", total,
             conn_is_online(c) ? "" : " (not connected to the relay)");
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        if (p->nout == 0) {
            continue;
        }
        ui_print(c, "%s (%s): %zu pending", p->name,
                 p->presence == PEER_ONLINE    ? "online"
                 : p->presence == PEER_OFFLINE ? "offline"
                                               : "presence unknown",
                 p->nout);
        for (struct outmsg *om = p->head; om != NULL; om = om->next) {
            char pv[CLIENT_PREVIEW_LEN];

            outmsg_preview(om, pv, sizeof(pv));
            ui_print(c, "  #%u %-11s %s", (unsigned)(om->id & 0xffffffffu),
                     om->state == OUTMSG_SENT ? "sent-unacked" : "queued", pv);
        }
    }
}

/*
 * /tamper: seal a fresh record in the live session and flip one bit of its
 * ciphertext, as an attacker on the path could.  The peer must refuse it
 * (its tag fails) and reset the session; nothing of it may be shown.
 */
int peers_tamper(struct client *c, const char *to)
{
    static const char text[] = "this tampered message must never be shown";
    struct peer *p = peers_find(c, to);
    struct srm_buf out;
    /* payload = kind (1) || seq (8) || iv (16) || ct || tag: the first ciphertext byte. */
    const size_t ct_off = 1u + 8u + 16u;
    int r;

    if (p == NULL || !peer_can_seal(p) || !conn_is_online(c)) {
        ui_error(c, "no session with %s to tamper with: send a message first", to);
        return -1;
    }
    srm_buf_init_write(&out, c->payload_buf, SRM_SESS_MAX_PAYLOAD);
    /* msg_id 0 is never used: if it were ever accepted, it would show. */
    r = srm_sess_seal_data(p->sess, 0, (const uint8_t *)text, sizeof(text) - 1u, &out);
    if (r != 0 || out.len <= ct_off) {
        ui_error(c, "cannot seal a record for %s: %s", to, srm_strerror(r));
        return -1;
    }
    c->payload_buf[ct_off] ^= 0x01u;
    if (conn_send_payload(c, to, out.data, out.len, NULL) != 0) {
        return -1;
    }
    ui_status(c, "sent %s a record with one ciphertext bit flipped (%zu bytes)", to, out.len);
    return 0;
}

/* The first 40 characters of a message, made safe to print, "..." if cut. */
static void outmsg_preview(const struct outmsg *om, char *out, size_t n)
{
    char clean[4u * 40u + 1u];
    /* 40 characters of up to 4 UTF-8 bytes each. */
    const size_t most = (size_t)4 * 40;
    size_t take = om->len < most ? om->len : most;
    size_t chars = 0;
    size_t i = 0;

    ui_sanitize((const uint8_t *)om->text, take, clean);
    /* Count UTF-8 lead bytes; ui_sanitize left only well-formed characters. */
    while (clean[i] != '\0') {
        if (((unsigned char)clean[i] & 0xc0u) != 0x80u) {
            if (chars == 40u) {
                break;
            }
            chars++;
        }
        i++;
    }
    snprintf(out, n, "%.*s%s", (int)i, clean, (clean[i] != '\0' || take < om->len) ? "..." : "");
    OPENSSL_cleanse(clean, sizeof(clean));
}
