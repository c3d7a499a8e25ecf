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
 *   DATA        -> show it, SEND an ACK
 *   ACK         -> delivered: drop it from the outbox
 *   UNDELIVERABLE(offline) -> peer offline, handshake reset, outbox kept
 *   PRESENCE(online) with a non-empty outbox -> handshake again
 *   a failed record or handshake -> one error line; new handshake if the
 *                  outbox is not empty (bounded, so two broken ends cannot
 * loop)
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
static void outmsg_free(struct outmsg *om);

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

static int peer_in_flight(const struct peer *p)
{
    if (p->sess == NULL) {
        return 0;
    }
    switch (srm_sess_state(p->sess)) {
    case SRM_SESS_INIT_SENT:
    case SRM_SESS_RESP_SENT:
        return 1;
    default:
        return 0;
    }
}

/* 1. I -> R: HS_INIT (a fresh handshake; any earlier keys are wiped). */
static int peer_start_hs(struct client *c, struct peer *p)
{
    struct srm_buf out;
    uint32_t ref = 0;
    int r;

    if (!conn_is_online(c)) {
        return -1;
    }
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
    if (p->sess != NULL && srm_sess_state(p->sess) == SRM_SESS_ESTABLISHED) {
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
    om->next = NULL;
    om->id = p->next_msg_id++;
    om->state = OUTMSG_QUEUED;
    om->len = len;
    memcpy(om->text, text, len);
    *p->tail = om;
    p->tail = &om->next;
    p->nout++;
    srm_debug("queued msg_id %llu to %s (%zu in outbox)", (unsigned long long)om->id, to, p->nout);
    /* The user tried again: allow automatic restarts again. */
    p->hs_failures = 0;
    if (p->presence == PEER_OFFLINE && p->nout == 1) {
        ui_status(c, "%s is offline; %zu message(s) queued", p->name, p->nout);
    }
    peer_pump(c, p);
    return 0;
}

/* A (new) link: whoever we still owe messages and is online gets a fresh handshake. */
void peers_on_welcome(struct client *c)
{
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        if (p->nout > 0 && p->presence == PEER_ONLINE) {
            p->hs_failures = 0;
            (void)peer_start_hs(c, p);
        }
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
        if (p->nout > 0) {
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
    int was_failed;
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
    memset(&ev, 0, sizeof(ev));
    srm_buf_init_write(&reply, c->payload_buf, SRM_SESS_MAX_PAYLOAD);
    was_failed = srm_sess_state(p->sess) == SRM_SESS_FAILED;
    r = srm_sess_recv(p->sess, payload, n, &reply, &ev);
    if (r != 0) {
        srm_log_crypto_errors("session");
        srm_debug("session with %s failed: %s", from, srm_strerror(r));
        if (was_failed) {
            /* Records still in flight from the failed session: said once already. */
            return;
        }
        ui_error(c, "session with %s failed: %s", from, srm_strerror(r));
        p->hs_failures++;
        peer_requeue(p);
        peer_pump(c, p);
        return;
    }
    if (reply.len > 0) {
        if (conn_send_payload(c, from, reply.data, reply.len, NULL) != 0) {
            return;
        }
        srm_debug("session with %s: reply sent, state %s", from, srm_sess_state_name(p->sess));
    }
    peer_event(c, p, &ev);
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
        peer_requeue(p);
        peer_pump(c, p);
        break;
    }
    case SRM_SESS_EV_DATA: {
        struct srm_buf out;
        uint64_t id = ev->msg_id;

        srm_debug("DATA msg_id %llu from %s (%zu bytes of text)", (unsigned long long)id, p->name,
                  ev->text_len);
        /* Show it before the next library call invalidates the view. */
        ui_message(c, p->name, ev->text, ev->text_len);
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

void peers_report_undelivered(struct client *c)
{
    for (struct peer *p = c->peers; p != NULL; p = p->next) {
        if (p->nout == 0) {
            continue;
        }
        for (struct outmsg *om = p->head; om != NULL; om = om->next) {
            srm_debug("not delivered: msg_id %llu to %s (%s)", (unsigned long long)om->id, p->name,
                      om->state == OUTMSG_SENT ? "sent" : "queued");
        }
        ui_error(c, "%zu message(s) to %s not delivered", p->nout, p->name);
    }
}
