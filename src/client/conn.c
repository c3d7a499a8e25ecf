/* SPDX-License-Identifier: MIT */
/*
 * conn.c: the client's connection to the relay: TCP connect (each --relay
 * entry in order, each of its addresses in turn), registration, and the
 * dispatch of link messages.
 *
 *   1. client -> relay  REG_HELLO                   (srm_reg_start)
 *   2. relay -> client  REG_CHALLENGE               (srm_reg_recv appends
 * REG_RESPONSE)
 *   3. client -> relay  REG_RESPONSE; the link keys are taken
 *   4. relay -> client  link: WELCOME (names online), or REG_ERROR if refused
 *   then link messages: DELIVER, UNDELIVERABLE, PRESENCE, WHO_REPLY, PING,
 *   PONG and BYE from the relay; SEND, WHO, PONG and BYE from us.
 *
 * Everything that must survive a lost connection (sessions, outboxes)
 * lives in struct client, not here.  A lost link is passing trouble: the
 * conn is marked dead, and a timer (full jitter over a ceiling doubling
 * from 0.2 s to 30 s) frees it in a later loop turn and calls conn_start()
 * again, trying the --relay entries in order.  Only a relay key that is not
 * the pinned one, a refused registration or a newer client under our name
 * are fatal (exit 1, no retry).
 *
 * Keepalive: once online, a timer sends PING when nothing has come from the
 * relay for --keepalive seconds and declares the link dead after
 * --dead-after seconds of silence (a half-open TCP connection never says so
 * itself).  The same timer drives the per-peer timeouts (peers_tick).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/link.h"
#include "srm/msg.h"
#include "srm/reg.h"
#include "srm/wire.h"

#include "client.h"
#include "log.h"

static int conn_try_next(struct conn *conn);
static int conn_resolve(struct conn *conn);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_connected(struct conn *conn);
static void conn_read_cb(struct bufferevent *bev, void *arg);
static int conn_frame(struct conn *conn, const struct srm_frame *f);
static int conn_reg_frame(struct conn *conn, const struct srm_frame *f);
static int conn_link_frame(struct conn *conn, const struct srm_frame *f);
static int conn_message(struct conn *conn, const struct srm_msg *m);
static int conn_send_msg(struct client *c, const uint8_t *pt, size_t n);
static void conn_lost(struct conn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_drained_cb(struct bufferevent *bev, void *arg);
static void bye_timeout_cb(evutil_socket_t fd, short what, void *arg);
static const char *reason_name(uint8_t reason);
static void conn_schedule_reconnect(struct client *c, const char *why, int loud);
static void reconnect_cb(evutil_socket_t fd, short what, void *arg);
static int conn_start_keepalive(struct conn *conn);
static void keepalive_cb(evutil_socket_t fd, short what, void *arg);
static void conn_fatal(struct conn *conn);

/*
 * Open a connection to the first relay that accepts TCP, register and wait
 * for WELCOME.  If none accepts, a retry is scheduled.  Returns -1 only if
 * nothing could even be attempted (out of memory).
 */
int conn_start(struct client *c)
{
    struct conn *conn = calloc(1, sizeof(*conn));

    if (conn == NULL) {
        srm_error("out of memory");
        return -1;
    }
    conn->c = c;
    conn->state = CONN_CONNECTING;
    conn->relay_idx = 0;
    c->conn = conn;
    /* A relay that does not resolve is skipped like one that refuses. */
    (void)conn_resolve(conn);
    return conn_try_next(conn);
}

/* Resolve the current relay entry into conn->ai_list; 0 or -1 (last_error set). */
static int conn_resolve(struct conn *conn)
{
    struct relay_addr *ra = &conn->c->relays[conn->relay_idx];
    struct evutil_addrinfo hints;
    char port[8];
    int e;

    if (conn->ai_list != NULL) {
        evutil_freeaddrinfo(conn->ai_list);
        conn->ai_list = NULL;
        conn->ai_next = NULL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    snprintf(port, sizeof(port), "%u", (unsigned)ra->port);
    /* Blocking lookup: numeric addresses are the common case and this runs once per relay. */
    e = evutil_getaddrinfo(ra->host, port, &hints, &conn->ai_list);
    if (e != 0) {
        snprintf(conn->last_error, sizeof(conn->last_error), "%s:%u: %s", ra->host,
                 (unsigned)ra->port, evutil_gai_strerror(e));
        srm_debug("resolve %s:%u failed: %s", ra->host, (unsigned)ra->port, evutil_gai_strerror(e));
        conn->ai_list = NULL;
        return -1;
    }
    conn->ai_next = conn->ai_list;
    return 0;
}

/*
 * Start a connect to the next address (of this relay, then of the next
 * relays).  0 if one is in progress or, when every relay has been tried, a
 * retry is scheduled (or the exit requested).
 */
static int conn_try_next(struct conn *conn)
{
    struct client *c = conn->c;
    struct timeval tv = {CLIENT_CONNECT_TIMEOUT, 0};

    if (conn->bev != NULL) {
        bufferevent_free(conn->bev);
        conn->bev = NULL;
    }
    for (;;) {
        struct relay_addr *ra;
        struct evutil_addrinfo *ai;
        char addr[128];

        while (conn->ai_next == NULL) {
            if (conn->relay_idx + 1 >= c->nrelays) {
                /* Every relay tried: passing trouble, try again later. */
                conn->state = CONN_DEAD;
                conn_schedule_reconnect(c, conn->last_error, 0);
                return 0;
            }
            conn->relay_idx++;
            (void)conn_resolve(conn);
        }
        ra = &c->relays[conn->relay_idx];
        ai = conn->ai_next;
        conn->ai_next = ai->ai_next;
        if (evutil_inet_ntop(ai->ai_family,
                             ai->ai_family == AF_INET6
                                 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                 : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr,
                             addr, sizeof(addr)) == NULL) {
            snprintf(addr, sizeof(addr), "?");
        }
        srm_debug("connecting to relay %s:%u (%s)", ra->host, (unsigned)ra->port, addr);
        conn->bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (conn->bev == NULL) {
            snprintf(conn->last_error, sizeof(conn->last_error), "%s:%u: out of memory", ra->host,
                     (unsigned)ra->port);
            continue;
        }
        bufferevent_setcb(conn->bev, conn_read_cb, NULL, conn_event_cb, conn);
        /* The write timeout bounds the TCP connect; the read timeout bounds registration. */
        bufferevent_set_timeouts(conn->bev, &tv, &tv);
        /* Never buffer more than two whole frames from the relay. */
        bufferevent_setwatermark(conn->bev, EV_READ, 0, SRM_WIRE_MAX_INBUF);
        if (bufferevent_socket_connect(conn->bev, ai->ai_addr, (int)ai->ai_addrlen) != 0) {
            snprintf(conn->last_error, sizeof(conn->last_error), "%s:%u: %s", ra->host,
                     (unsigned)ra->port, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
            srm_debug("connect to %s failed at once: %s", addr, conn->last_error);
            bufferevent_free(conn->bev);
            conn->bev = NULL;
            continue;
        }
        conn->state = CONN_CONNECTING;
        return 0;
    }
}

void conn_free(struct conn *conn)
{
    if (conn == NULL) {
        return;
    }
    if (conn->bev != NULL) {
        bufferevent_free(conn->bev);
    }
    if (conn->ai_list != NULL) {
        evutil_freeaddrinfo(conn->ai_list);
    }
    if (conn->ka_timer != NULL) {
        event_free(conn->ka_timer);
    }
    srm_reg_free(conn->reg);
    srm_link_free(conn->link);
    free(conn);
}

int conn_is_online(const struct client *c)
{
    return c->conn != NULL && c->conn->state == CONN_ONLINE;
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *conn = arg;
    struct client *c = conn->c;
    struct relay_addr *ra = &c->relays[conn->relay_idx];

    (void)bev;
    if (conn->state == CONN_CONNECTING) {
        if (what & BEV_EVENT_CONNECTED) {
            conn_connected(conn);
            return;
        }
        snprintf(conn->last_error, sizeof(conn->last_error), "%s:%u: %s", ra->host,
                 (unsigned)ra->port,
                 (what & BEV_EVENT_TIMEOUT) ? "connection timed out"
                                            : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        srm_debug("connect failed: %s", conn->last_error);
        /* 1. failed before any byte: try the next address or relay. */
        (void)conn_try_next(conn);
        return;
    }
    if (conn->state == CONN_CLOSING) {
        /* The relay closed after our BYE: that is what we asked for. */
        event_base_loopbreak(c->base);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        conn_lost(conn, "no answer from the relay during registration");
    } else if (what & BEV_EVENT_EOF) {
        conn_lost(conn, "closed by the relay");
    } else {
        conn_lost(conn, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
}

/* TCP is up: 1. client -> relay: REG_HELLO. */
static void conn_connected(struct conn *conn)
{
    struct client *c = conn->c;
    struct relay_addr *ra = &c->relays[conn->relay_idx];
    struct timeval rtv = {CLIENT_CONNECT_TIMEOUT, 0};
    struct srm_buf out;
    int r;

    srm_debug("connected to relay %s:%u", ra->host, (unsigned)ra->port);
    /* The connect is done: keep only the registration (read) timeout. */
    bufferevent_set_timeouts(conn->bev, &rtv, NULL);
    if (conn->ai_list != NULL) {
        evutil_freeaddrinfo(conn->ai_list);
        conn->ai_list = NULL;
        conn->ai_next = NULL;
    }
    srm_reg_free(conn->reg);
    conn->reg = NULL;
    r = srm_reg_new_client(c->name, c->self_key, c->relay_pub, &conn->reg);
    if (r != 0) {
        ui_error(c, "cannot start registration: %s", srm_strerror(r));
        conn_fatal(conn);
        return;
    }
    srm_buf_init_write(&out, c->frame_buf, SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME);
    r = srm_reg_start(conn->reg, &out);
    if (r != 0) {
        srm_log_crypto_errors("REG_HELLO");
        ui_error(c, "cannot start registration: %s", srm_strerror(r));
        conn_fatal(conn);
        return;
    }
    srm_debug("reg: send REG_HELLO (%zu bytes), state %s", out.len, srm_reg_state_name(conn->reg));
    if (bufferevent_write(conn->bev, out.data, out.len) != 0 ||
        bufferevent_enable(conn->bev, EV_READ | EV_WRITE) != 0) {
        conn_lost(conn, "cannot write to the socket");
        return;
    }
    conn->state = CONN_REGISTERING;
}

/*
 * Read every whole frame buffered.  The 5-byte header is peeked first so a
 * bad length is refused before anything big is pulled up or waited for.
 */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *conn = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    /* Any byte from the relay shows the link is alive. */
    conn->last_rx_ms = client_now_ms();
    while (conn->state != CONN_DEAD && conn->state != CONN_CLOSING) {
        uint8_t hdr[SRM_WIRE_FRAME_HDR];
        struct srm_frame f;
        size_t have = evbuffer_get_length(in);
        size_t need = 0;
        ev_ssize_t got;
        int r;

        if (have < SRM_WIRE_FRAME_HDR) {
            return;
        }
        got = evbuffer_copyout(in, hdr, sizeof(hdr));
        if (got != (ev_ssize_t)sizeof(hdr)) {
            conn_lost(conn, "cannot read the input buffer");
            return;
        }
        r = srm_frame_decode(hdr, sizeof(hdr), &f, &need);
        if (r == SRM_ERR_MSG_INCOMPLETE && need > have) {
            return;
        }
        if (r != 0 && r != SRM_ERR_MSG_INCOMPLETE) {
            srm_debug("bad frame header from the relay: %s", srm_strerror(r));
            conn_lost(conn, "protocol error: %s", srm_strerror(r));
            return;
        }
        if (r == 0) {
            need = sizeof(hdr);
        }
        if (need > SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME - 1u) {
            conn_lost(conn, "protocol error: frame too large");
            return;
        }
        /* Copy the whole frame out: link records are opened in place in our own buffer. */
        if (evbuffer_remove(in, conn->c->in_buf, need) != (int)need) {
            conn_lost(conn, "cannot read the input buffer");
            return;
        }
        r = srm_frame_decode(conn->c->in_buf, need, &f, &need);
        if (r != 0) {
            conn_lost(conn, "protocol error: %s", srm_strerror(r));
            return;
        }
        srm_debug("recv frame type 0x%02x, %zu bytes", f.type, f.body_len);
        if (conn_frame(conn, &f) != 0) {
            return;
        }
    }
}

static int conn_frame(struct conn *conn, const struct srm_frame *f)
{
    if (conn->state == CONN_REGISTERING) {
        return conn_reg_frame(conn, f);
    }
    return conn_link_frame(conn, f);
}

/* 2. relay -> client: REG_CHALLENGE; 3. client -> relay: REG_RESPONSE. */
static int conn_reg_frame(struct conn *conn, const struct srm_frame *f)
{
    struct client *c = conn->c;
    struct srm_buf out;
    int r;

    srm_buf_init_write(&out, c->frame_buf, SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME);
    r = srm_reg_recv(conn->reg, f, &out);
    if (r != 0) {
        srm_log_crypto_errors("registration");
        srm_debug("reg: failed in state %s: %s", srm_reg_state_name(conn->reg), srm_strerror(r));
        switch (r) {
        case SRM_ERR_KEY_MISMATCH:
            /* Fatal: retrying would only ask the same impostor again. */
            ui_error(c,
                     "the relay's signature did not verify with the pinned %s: the relay is "
                     "not the one you pinned, or the handshake was altered in transit "
                     "(compare its fingerprint with /fingerprint relay; not retrying)",
                     c->relay_pub_path);
            conn_fatal(conn);
            return -1;
        case SRM_ERR_PEER_REFUSED:
            ui_error(c,
                     "relay refused registration as %s: it may not know your key "
                     "(does the relay have %s.pub, matching your %s.key?); not retrying",
                     c->name, c->name, c->name);
            conn_fatal(conn);
            return -1;
        default:
            /* A garbled or cut registration: passing trouble. */
            conn_lost(conn, "registration failed: %s", srm_strerror(r));
            return -1;
        }
    }
    if (out.len > 0) {
        srm_debug("reg: send %zu bytes, state %s", out.len, srm_reg_state_name(conn->reg));
        if (bufferevent_write(conn->bev, out.data, out.len) != 0) {
            conn_lost(conn, "cannot write to the socket");
            return -1;
        }
    }
    if (srm_reg_is_done(conn->reg)) {
        char fp[SRM_FP_STR_LEN];

        r = srm_reg_take_link(conn->reg, &conn->link);
        if (r != 0) {
            conn_lost(conn, "registration failed: %s", srm_strerror(r));
            return -1;
        }
        srm_fingerprint_format(srm_reg_peer_fingerprint(conn->reg), fp);
        srm_debug("reg: done, relay key %s; waiting for WELCOME", fp);
        srm_reg_free(conn->reg);
        conn->reg = NULL;
        conn->state = CONN_WAIT_WELCOME;
    }
    return 0;
}

/* 4. and after: every frame is a link record holding one link message. */
static int conn_link_frame(struct conn *conn, const struct srm_frame *f)
{
    struct client *c = conn->c;
    struct srm_msg m;
    const uint8_t *pt = NULL;
    size_t ptlen = 0;
    uint64_t seq;
    int r;

    if (f->type == SRM_FRAME_REG_ERROR && conn->state == CONN_WAIT_WELCOME) {
        srm_debug("reg: REG_ERROR after REG_RESPONSE");
        ui_error(c,
                 "relay refused registration as %s: it did not accept your "
                 "signature (does the relay have %s.pub, matching your %s.key?); not retrying",
                 c->name, c->name, c->name);
        conn_fatal(conn);
        return -1;
    }
    if (f->type != SRM_FRAME_LINK) {
        srm_debug("unexpected frame type 0x%02x after registration", f->type);
        conn_lost(conn, "protocol error: unexpected frame type");
        return -1;
    }
    seq = srm_link_dir_seq(conn->link->rx);
    /* f->body points into our own in_buf, which we may overwrite in place. */
    r = srm_link_open_body(conn->link, (uint8_t *)(uintptr_t)f->body, f->body_len, &pt, &ptlen);
    if (r != 0) {
        srm_log_crypto_errors("link open");
        srm_debug("link record r2c seq %llu failed: %s", (unsigned long long)seq, srm_strerror(r));
        conn_lost(conn, "link record failed to open: %s", srm_strerror(r));
        return -1;
    }
    r = srm_msg_parse(pt, ptlen, &m);
    if (r != 0) {
        srm_debug("link message (%zu bytes) does not parse: %s", ptlen, srm_strerror(r));
        conn_lost(conn, "protocol error: %s", srm_strerror(r));
        return -1;
    }
    srm_debug("recv link r2c seq %llu: %s (%zu bytes)", (unsigned long long)seq,
              srm_msg_type_name(m.type), ptlen);
    return conn_message(conn, &m);
}

static int conn_message(struct conn *conn, const struct srm_msg *m)
{
    struct client *c = conn->c;
    char name[SRM_WIRE_MAX_NAME + 1];
    size_t off = 0;

    if (conn->state == CONN_WAIT_WELCOME) {
        size_t n = 0;

        if (m->type != SRM_MSG_WELCOME) {
            conn_lost(conn, "protocol error: expected WELCOME, got %s", srm_msg_type_name(m->type));
            return -1;
        }
        /* Registered: no more registration deadline. */
        bufferevent_set_timeouts(conn->bev, NULL, NULL);
        /* Tell batch mode when a backlog has drained (it pauses input meanwhile). */
        bufferevent_setwatermark(conn->bev, EV_WRITE, BATCH_RESUME_OUTBUF, 0);
        bufferevent_setcb(conn->bev, conn_read_cb, conn_drained_cb, conn_event_cb, conn);
        conn->state = CONN_ONLINE;
        conn->online_ms = client_now_ms();
        if (conn_start_keepalive(conn) != 0) {
            ui_error(c, "cannot start the keepalive timer");
            conn_fatal(conn);
            return -1;
        }
        /* Presence starts afresh from the relay's list. */
        for (struct peer *p = c->peers; p != NULL; p = p->next) {
            p->presence = PEER_OFFLINE;
        }
        while (srm_msg_list_next(m, &off, name)) {
            if (strcmp(name, c->name) != 0) {
                struct peer *p = peers_get(c, name);
                if (p != NULL) {
                    p->presence = PEER_ONLINE;
                    n++;
                }
            }
        }
        srm_debug("WELCOME: %zu other user(s) online", n);
        if (c->ever_online) {
            /* The second and last status line of an outage. */
            ui_status(c, "reconnected to the relay %s:%u (%zu other user(s) online)",
                      c->relays[conn->relay_idx].host, (unsigned)c->relays[conn->relay_idx].port,
                      n);
        } else {
            ui_status(c, "connected to the relay %s:%u as %s (%s)", c->relays[conn->relay_idx].host,
                      (unsigned)c->relays[conn->relay_idx].port, c->name, c->self_fp);
        }
        if (!c->ever_online && n > 0) {
            char list[1024];
            size_t used = 0;
            list[0] = '\0';
            for (struct peer *p = c->peers; p != NULL && used + 40 < sizeof(list); p = p->next) {
                if (p->presence == PEER_ONLINE) {
                    int w = snprintf(list + used, sizeof(list) - used, "%s%s", used > 0 ? ", " : "",
                                     p->name);
                    if (w > 0) {
                        used += (size_t)w;
                    }
                }
            }
            ui_status(c, "online: %s", list);
        } else if (!c->ever_online) {
            ui_status(c, "nobody else is online");
        }
        c->ever_online = 1;
        c->outage = 0;
        peers_on_welcome(c);
        if (c->batch) {
            if (batch_start(c) != 0) {
                client_exit(c, 1);
                return -1;
            }
        } else if (ui_start(c) != 0) {
            client_exit(c, 1);
            return -1;
        }
        return 0;
    }

    switch (m->type) {
    case SRM_MSG_DELIVER:
        peers_on_deliver(c, m->name, m->data, m->data_len);
        break;
    case SRM_MSG_UNDELIVERABLE:
        peers_on_undeliverable(c, m->name, m->ref, m->code);
        break;
    case SRM_MSG_PRESENCE:
        if (strcmp(m->name, c->name) != 0) {
            peers_on_presence(c, m->name, m->code == SRM_PRESENCE_ONLINE);
        }
        break;
    case SRM_MSG_WHO_REPLY: {
        char list[2048];
        size_t used = 0;
        list[0] = '\0';
        while (srm_msg_list_next(m, &off, name)) {
            if (used + SRM_WIRE_MAX_NAME + 8 >= sizeof(list)) {
                snprintf(list + used, sizeof(list) - used, ", ...");
                break;
            }
            int w = snprintf(list + used, sizeof(list) - used, "%s%s", used > 0 ? ", " : "", name);
            if (w > 0) {
                used += (size_t)w;
            }
        }
        ui_status(c, "online (%u): %s", (unsigned)m->count, list);
        if (c->who_pending > 0) {
            c->who_pending--;
        }
        batch_check_done(c);
        break;
    }
    case SRM_MSG_PING: {
        struct srm_buf b;
        srm_buf_init_write(&b, c->pt_buf, SRM_LINK_MAX_PT);
        if (srm_msg_put_ping(&b, SRM_MSG_PONG, m->token) != 0 ||
            conn_send_msg(c, b.data, b.len) != 0) {
            return -1;
        }
        break;
    }
    case SRM_MSG_PONG:
        break;
    case SRM_MSG_BYE:
        srm_debug("BYE from the relay: %s", reason_name(m->code));
        if (m->code == SRM_REASON_REPLACED) {
            ui_error(c, "another client registered as %s; this one stops (not retrying)", c->name);
            conn_fatal(conn);
            return -1;
        }
        conn_lost(conn, "%s",
                  m->code == SRM_REASON_NONE ? "closed by the relay" : reason_name(m->code));
        return -1;
    default:
        conn_lost(conn, "protocol error: unexpected %s from the relay", srm_msg_type_name(m->type));
        return -1;
    }
    return conn->state == CONN_DEAD ? -1 : 0;
}

/* Seal one link message and queue it on the socket. */
static int conn_send_msg(struct client *c, const uint8_t *pt, size_t n)
{
    struct conn *conn = c->conn;
    struct srm_buf out;
    uint64_t seq;
    int r;

    if (conn == NULL || (conn->state != CONN_ONLINE && conn->state != CONN_CLOSING)) {
        return -1;
    }
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) > SRM_WIRE_MAX_OUTBUF) {
        conn_lost(conn, "the relay is not reading what we send");
        return -1;
    }
    seq = srm_link_dir_seq(conn->link->tx);
    srm_buf_init_write(&out, c->frame_buf, SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME);
    r = srm_link_seal_frame(conn->link, pt, n, &out);
    if (r != 0) {
        srm_log_crypto_errors("link seal");
        conn_lost(conn, "cannot seal a link record: %s", srm_strerror(r));
        return -1;
    }
    srm_debug("send link c2r seq %llu: %s (%zu bytes, frame %zu)", (unsigned long long)seq,
              n > 0 ? srm_msg_type_name(pt[0]) : "?", n, out.len);
    if (bufferevent_write(conn->bev, out.data, out.len) != 0) {
        conn_lost(conn, "cannot write to the socket");
        return -1;
    }
    return 0;
}

/* SEND(to, ref, payload); *ref receives the reference the relay echoes in UNDELIVERABLE. */
int conn_send_payload(struct client *c, const char *to, const uint8_t *payload, size_t n,
                      uint32_t *ref)
{
    struct srm_buf b;
    uint32_t myref;
    int r;

    if (!conn_is_online(c)) {
        return -1;
    }
    myref = c->next_ref++;
    if (c->next_ref == 0) {
        c->next_ref = 1;
    }
    srm_buf_init_write(&b, c->pt_buf, SRM_LINK_MAX_PT);
    r = srm_msg_put_send(&b, to, myref, payload, n);
    if (r != 0) {
        ui_error(c, "cannot build a message to %s: %s", to, srm_strerror(r));
        return -1;
    }
    srm_debug("SEND to %s ref %u: e2e kind 0x%02x, %zu bytes", to, (unsigned)myref,
              n > 0 ? payload[0] : 0, n);
    if (conn_send_msg(c, b.data, b.len) != 0) {
        return -1;
    }
    if (ref != NULL) {
        *ref = myref;
    }
    /* Kept for /replay, which shows that the peer refuses a record seen before. */
    if (n > 0 && payload[0] == SRM_E2E_RECORD && payload != c->last_rec && c->last_rec != NULL &&
        n <= SRM_SESS_MAX_PAYLOAD) {
        memcpy(c->last_rec, payload, n);
        c->last_rec_len = n;
        snprintf(c->last_rec_to, sizeof(c->last_rec_to), "%s", to);
    }
    return 0;
}

int conn_send_who(struct client *c)
{
    struct srm_buf b;

    if (!conn_is_online(c)) {
        ui_error(c, "not connected to the relay yet");
        return -1;
    }
    srm_buf_init_write(&b, c->pt_buf, SRM_LINK_MAX_PT);
    if (srm_msg_put_who(&b) != 0 || conn_send_msg(c, b.data, b.len) != 0) {
        return -1;
    }
    /* Batch mode waits for the answer before leaving. */
    c->who_pending++;
    return 0;
}

/* Say BYE and let it leave: the loop ends once the output is flushed or after a moment. */
void conn_send_bye(struct client *c)
{
    struct conn *conn = c->conn;
    struct srm_buf b;
    struct timeval tv = {CLIENT_BYE_FLUSH_MS / 1000,
                         (suseconds_t)(CLIENT_BYE_FLUSH_MS % 1000) * 1000};

    srm_buf_init_write(&b, c->pt_buf, SRM_LINK_MAX_PT);
    if (srm_msg_put_bye(&b, SRM_REASON_NONE) != 0 || conn_send_msg(c, b.data, b.len) != 0) {
        event_base_loopbreak(c->base);
        return;
    }
    conn->state = CONN_CLOSING;
    srm_debug("BYE sent; flushing");
    /* Called back only once everything has left. */
    bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
    bufferevent_disable(conn->bev, EV_READ);
    bufferevent_setcb(conn->bev, NULL, conn_write_cb, conn_event_cb, conn);
    if (evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
        event_base_loopbreak(c->base);
        return;
    }
    c->bye_timer = evtimer_new(c->base, bye_timeout_cb, c);
    if (c->bye_timer == NULL || evtimer_add(c->bye_timer, &tv) != 0) {
        event_base_loopbreak(c->base);
    }
}

static void conn_drained_cb(struct bufferevent *bev, void *arg)
{
    struct conn *conn = arg;

    (void)bev;
    batch_resume(conn->c);
}

size_t conn_output_pending(const struct client *c)
{
    if (c->conn == NULL || c->conn->bev == NULL) {
        return 0;
    }
    return evbuffer_get_length(bufferevent_get_output(c->conn->bev));
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *conn = arg;

    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        event_base_loopbreak(conn->c->base);
    }
}

static void bye_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;

    (void)fd;
    (void)what;
    srm_debug("BYE not flushed in time; leaving anyway");
    event_base_loopbreak(c->base);
}

/*
 * The link is gone (passing trouble): the conn is dead from now on and
 * freed by the reconnect timer in a later loop turn; unacknowledged
 * messages wait for the next link and a fresh session.
 */
static void conn_lost(struct conn *conn, const char *fmt, ...)
{
    struct client *c = conn->c;
    enum conn_state was = conn->state;
    char why[256];
    va_list ap;

    if (conn->state == CONN_DEAD) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    srm_debug("link lost in state %d: %s", (int)conn->state, why);
    conn->state = CONN_DEAD;
    if (conn->bev != NULL) {
        bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
    }
    if (conn->ka_timer != NULL) {
        event_del(conn->ka_timer);
    }
    if (c->exiting) {
        event_base_loopbreak(c->base);
        return;
    }
    if (was == CONN_ONLINE) {
        peers_on_link_down(c);
        /* A link that stayed up a while starts the backoff again from the bottom. */
        if (client_now_ms() - conn->online_ms >= CLIENT_STABLE_MS) {
            c->backoff_ms = CLIENT_BACKOFF_MIN_MS;
        }
    }
    /*
     * A record that failed to open, or a relay that saw one of ours fail, is
     * an integrity failure (an attacker on the path, or a bug): say it
     * loudly, but it is still passing trouble and the link is rebuilt.
     */
    conn_schedule_reconnect(
        c, why, strncmp(why, "protocol error", 14) == 0 || strncmp(why, "link record", 11) == 0);
}

/* A fatal error (already reported): no retry, exit 1. */
static void conn_fatal(struct conn *conn)
{
    conn->state = CONN_DEAD;
    if (conn->bev != NULL) {
        bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
    }
    if (conn->ka_timer != NULL) {
        event_del(conn->ka_timer);
    }
    client_exit(conn->c, 1);
}

/*
 * Try again after a random delay in [0, ceiling] (full jitter: 200 clients
 * that lost the same relay do not come back in one burst), then double the
 * ceiling up to 30 s.  One status line per outage.
 */
static void conn_schedule_reconnect(struct client *c, const char *why, int loud)
{
    uint64_t ceiling = c->backoff_ms;
    uint64_t delay = 0;
    uint32_t rnd = 0;
    struct timeval tv;

    if (c->exiting) {
        event_base_loopbreak(c->base);
        return;
    }
    if (c->batch && !c->ever_online && client_now_ms() - c->start_ms >= c->wait_secs * 1000u) {
        /* A script must not wait forever for a relay that is not there. */
        if (c->nrelays == 1) {
            ui_error(c, "cannot connect to the relay at %s (is it running? see --relay)", why);
        } else {
            ui_error(c, "cannot connect to any of the %zu relays (last: %s)", c->nrelays, why);
        }
        client_exit(c, 1);
        return;
    }
    if (!c->outage) {
        c->outage = 1;
        if (c->ever_online && loud) {
            ui_error(c,
                     "connection to the relay lost (%s): the link failed its checks; "
                     "reconnecting",
                     why);
        } else if (c->ever_online) {
            ui_status(c, "connection to the relay lost (%s); reconnecting", why);
        } else {
            ui_status(c, "cannot connect to the relay yet (%s); retrying", why);
        }
    }
    if (ceiling < CLIENT_BACKOFF_MIN_MS) {
        ceiling = CLIENT_BACKOFF_MIN_MS;
    }
    if (srm_random(&rnd, sizeof(rnd)) != 0) {
        rnd = 0x80000000u;
    }
    delay = (uint64_t)((double)ceiling * ((double)rnd / 4294967295.0));
    c->backoff_ms = ceiling * 2u > CLIENT_BACKOFF_MAX_MS ? CLIENT_BACKOFF_MAX_MS : ceiling * 2u;
    srm_debug("reconnecting in %llu ms (ceiling %llu ms): %s", (unsigned long long)delay,
              (unsigned long long)ceiling, why);
    if (c->reconnect_timer == NULL) {
        c->reconnect_timer = evtimer_new(c->base, reconnect_cb, c);
    }
    tv.tv_sec = (time_t)(delay / 1000u);
    tv.tv_usec = (suseconds_t)((delay % 1000u) * 1000u);
    if (c->reconnect_timer == NULL || evtimer_add(c->reconnect_timer, &tv) != 0) {
        ui_error(c, "cannot start the reconnect timer");
        client_exit(c, 1);
    }
}

/* A later loop turn: nothing of the old conn is on the stack any more. */
static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;

    (void)fd;
    (void)what;
    if (c->exiting) {
        return;
    }
    conn_free(c->conn);
    c->conn = NULL;
    if (conn_start(c) != 0) {
        client_exit(c, 1);
    }
}

static int conn_start_keepalive(struct conn *conn)
{
    struct client *c = conn->c;
    uint64_t period = c->keepalive_ms < c->dead_ms ? c->keepalive_ms : c->dead_ms;
    struct timeval tv;

    /* A few ticks per bound keep the detection close to it. */
    period /= 4u;
    if (period < 50u) {
        period = 50u;
    } else if (period > 1000u) {
        period = 1000u;
    }
    conn->last_rx_ms = client_now_ms();
    conn->last_ping_ms = conn->last_rx_ms;
    conn->ka_timer = event_new(c->base, -1, EV_PERSIST, keepalive_cb, conn);
    tv.tv_sec = (time_t)(period / 1000u);
    tv.tv_usec = (suseconds_t)((period % 1000u) * 1000u);
    if (conn->ka_timer == NULL || event_add(conn->ka_timer, &tv) != 0) {
        return -1;
    }
    return 0;
}

static void keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *conn = arg;
    struct client *c = conn->c;
    uint64_t now = client_now_ms();
    uint64_t idle = now - conn->last_rx_ms;

    (void)fd;
    (void)what;
    if (conn->state != CONN_ONLINE) {
        return;
    }
    if (idle >= c->dead_ms) {
        conn_lost(conn, "nothing from the relay for %.1f s", (double)idle / 1000.0);
        return;
    }
    if (idle >= c->keepalive_ms && now - conn->last_ping_ms >= c->keepalive_ms) {
        struct srm_buf b;

        conn->last_ping_ms = now;
        srm_buf_init_write(&b, c->pt_buf, SRM_LINK_MAX_PT);
        if (srm_msg_put_ping(&b, SRM_MSG_PING, ++conn->ping_token) != 0 ||
            conn_send_msg(c, b.data, b.len) != 0) {
            return;
        }
        srm_debug("keepalive: PING %llu after %llu ms of silence",
                  (unsigned long long)conn->ping_token, (unsigned long long)idle);
    }
    peers_tick(c);
}

static const char *reason_name(uint8_t reason)
{
    switch (reason) {
    case SRM_REASON_NONE:
        return "no reason given";
    case SRM_REASON_OFFLINE:
        return "offline";
    case SRM_REASON_PROTOCOL:
        return "protocol error";
    case SRM_REASON_REPLACED:
        return "replaced by a newer client";
    case SRM_REASON_SHUTDOWN:
        return "relay shutting down";
    case SRM_REASON_TIMEOUT:
        return "timed out";
    case SRM_REASON_OVERLOAD:
        return "relay overloaded";
    case SRM_REASON_UNKNOWN_USER:
        return "unknown user";
    default:
        return "unknown reason";
    }
}
