/* SPDX-License-Identifier: MIT */
/*
 * relay.c: the relay's listener, connections, routing and presence
 * (docs/PROTOCOL.md has the bytes of every message):
 *
 *   1. accept: a connection starts REGISTERING, with an absolute deadline
 *   2. client <-> relay: registration frames go through srm_reg_recv(); its
 *      replies (REG_CHALLENGE, or REG_ERROR and close) go out as they are
 *   3. relay -> client: WELCOME(others online) as the first link message,
 *      then PRESENCE(name, online) to every other online client
 *   4. client -> relay, inside link records:
 *        SEND(to, ref, payload) -> DELIVER(authenticated from, payload) to `to`,
 *                                  or UNDELIVERABLE(to, ref, reason) back
 *        WHO -> WHO_REPLY(every online name)      PING -> PONG
 *        BYE -> close                             anything else -> BYE(PROTOCOL), close
 *   5. disconnect: PRESENCE(name, offline) to every other online client
 *      (not when a newer registration under the same name replaced it)
 *
 * Lifecycle (STYLE.md 13, after tmux server_client_lost/unref): a
 * connection that fails is marked CONN_DEAD and unlinked at once, and freed
 * from the reap event in a later callback, never inside the callback that
 * found the error.  One that closes after a final message stops reading,
 * lets its output drain, and is freed then (or after RELAY_DRAIN_SECONDS).
 *
 * Hot path: no allocation per message.  Frames are opened in place in the
 * pulled-up input; the DELIVER plaintext is built in one scratch buffer per
 * relay and sealed straight into the recipient's output buffer, which
 * bufferevent writes once per loop turn however many frames it holds.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/link.h"
#include "srm/msg.h"
#include "srm/reg.h"
#include "srm/wire.h"
#include "log.h"
#include "relay.h"

/* Bytes of a name list message before the names: type u8 || count u16. */
#define LIST_HDR 3u
/* PRESENCE: type u8 || name (u8 length + 32) || status u8. */
#define PRESENCE_MAX (1u + 1u + SRM_WIRE_MAX_NAME + 1u)

struct relay {
    struct event_base *base;
    struct relay_config cfg;
    struct srm_key *key;
    struct users users;
    struct evconnlistener *listener;
    struct event *accept_timer; /* re-enables the listener after EMFILE */
    struct event *reap_ev;      /* frees dead connections in a later callback */
    struct event *stop_timer;   /* ends the loop once shutdown has flushed */
    struct name_table names;
    struct conn *conns; /* every connection, for shutdown and the cap */
    size_t nconns;
    struct conn *online_head, *online_tail;
    size_t nonline;
    struct conn *reap;                        /* ready to free */
    struct conn *offline_head, *offline_tail; /* offline PRESENCE still to send */
    int busy;                                 /* inside a broadcast: queue, do not recurse */
    int shutting_down;
    uint8_t *scratch; /* SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME, reused for every message */
    size_t scratch_cap;
    const char **list; /* SRM_WIRE_MAX_LIST name pointers for WELCOME / WHO_REPLY */
};

static int listen_on(struct relay *r);
static void format_addr(const struct sockaddr *sa, socklen_t salen, char *out, size_t n);
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg);
static void accept_error_cb(struct evconnlistener *l, void *arg);
static void accept_timer_cb(evutil_socket_t fd, short what, void *arg);
static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void handle_frame(struct conn *c, uint8_t *frame, const struct srm_frame *f);
static void reg_frame(struct conn *c, const struct srm_frame *f);
static void conn_online(struct conn *c);
static void link_frame(struct conn *c, uint8_t *body, size_t n);
static void route_send(struct conn *c, const struct srm_msg *m);
static void send_list(struct conn *c, uint8_t type, const struct conn *exclude);
static void send_undeliverable(struct conn *c, const char *to, uint32_t ref, uint8_t reason);
static void send_simple(struct conn *c, uint8_t type, uint64_t token, uint8_t reason);
static void conn_send(struct conn *c, const uint8_t *pt, size_t n);
static void broadcast_presence(struct relay *r, const struct conn *about, uint8_t status);
static void presence_loop(struct relay *r, const struct conn *about, uint8_t status);
static void announce_flush(struct relay *r);
static void violation(struct conn *c, const char *why, int err);
static void conn_unlink_online(struct conn *c, int announce);
static void conn_lost(struct conn *c, const char *reason);
static void conn_finish(struct conn *c, const char *reason);
static void drain_write_cb(struct bufferevent *bev, void *arg);
static void drain_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_reap(struct conn *c);
static void reap_cb(evutil_socket_t fd, short what, void *arg);
static void conn_free(struct conn *c);
static void stop_cb(evutil_socket_t fd, short what, void *arg);
static const char *who(const struct conn *c);

int relay_new(struct event_base *base, const struct relay_config *cfg, struct srm_key *key,
              struct relay **out)
{
    struct relay *r = calloc(1, sizeof(*r));
    int rc = -1;

    if (r == NULL) {
        srm_error("relay: out of memory");
        return -1;
    }
    r->base = base;
    r->cfg = *cfg;
    r->users.dir = r->cfg.keys_dir;
    srm_key_ref(key);
    r->key = key;
    r->scratch_cap = SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME;
    r->scratch = malloc(r->scratch_cap);
    r->list = calloc(SRM_WIRE_MAX_LIST, sizeof(*r->list));
    r->reap_ev = event_new(base, -1, 0, reap_cb, r);
    r->accept_timer = evtimer_new(base, accept_timer_cb, r);
    r->stop_timer = evtimer_new(base, stop_cb, r);
    if (r->scratch == NULL || r->list == NULL || r->reap_ev == NULL || r->accept_timer == NULL ||
        r->stop_timer == NULL || names_init(&r->names) != 0) {
        srm_error("relay: out of memory");
        goto out;
    }
    if (listen_on(r) != 0) {
        goto out;
    }
    *out = r;
    r = NULL;
    rc = 0;
out:
    relay_free(r);
    return rc;
}

/* Bind the first address HOST resolves to; SO_REUSEADDR so a restart takes the port back. */
static int listen_on(struct relay *r)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char port[8], addr[RELAY_ADDR_LEN], fp[SRM_FP_STR_LEN];
    int e, saved = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", (unsigned)r->cfg.port);
    e = getaddrinfo(r->cfg.host, port, &hints, &res);
    if (e != 0) {
        srm_error("cannot listen on %s:%s: %s (check --listen ADDRESS:PORT)", r->cfg.host, port,
                  gai_strerror(e));
        return -1;
    }
    for (ai = res; ai != NULL && r->listener == NULL; ai = ai->ai_next) {
        r->listener = evconnlistener_new_bind(r->base, accept_cb, r,
                                              LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE |
                                                  LEV_OPT_CLOSE_ON_EXEC,
                                              SOMAXCONN, ai->ai_addr, (int)ai->ai_addrlen);
        if (r->listener == NULL) {
            saved = errno;
        }
    }
    freeaddrinfo(res);
    if (r->listener == NULL) {
        srm_error("cannot listen on %s:%s: %s (is another relay running there?)", r->cfg.host, port,
                  strerror(saved));
        return -1;
    }
    evconnlistener_set_error_cb(r->listener, accept_error_cb);
    memset(&ss, 0, sizeof(ss));
    if (getsockname(evconnlistener_get_fd(r->listener), (struct sockaddr *)&ss, &sl) != 0) {
        sl = 0;
    }
    format_addr((struct sockaddr *)&ss, sl, addr, sizeof(addr));
    if (srm_key_fingerprint_str(r->key, fp, sizeof(fp)) != 0) {
        srm_error("cannot compute the fingerprint of the relay key");
        srm_log_crypto_errors("fingerprint");
        return -1;
    }
    srm_info("listening on %s, key %s", addr, fp);
    return 0;
}

static void format_addr(const struct sockaddr *sa, socklen_t salen, char *out, size_t n)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (salen == 0 || getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
                                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, n, "?");
    } else if (sa->sa_family == AF_INET6) {
        snprintf(out, n, "[%s]:%s", host, serv);
    } else {
        snprintf(out, n, "%s:%s", host, serv);
    }
}

/* 1. A new connection: REGISTERING, with an absolute deadline (a byte a second buys nothing). */
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct relay *r = arg;
    struct conn *c = NULL;
    struct timeval tv = {0, 0};
    char addr[RELAY_ADDR_LEN];
    int one = 1, rc;

    (void)l;
    format_addr(sa, (socklen_t)salen, addr, sizeof(addr));
    if (r->shutting_down) {
        evutil_closesocket(fd);
        return;
    }
    if (r->nconns >= r->cfg.max_conns) {
        srm_info("refused connection from %s: already %zu connections (--max-conns %lu)", addr,
                 r->nconns, r->cfg.max_conns);
        evutil_closesocket(fd);
        return;
    }
    /* Frames are already coalesced per loop turn: Nagle would only add delay. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        srm_debug("%s: TCP_NODELAY: %s", addr, strerror(errno));
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        srm_warn("out of memory: dropped the connection from %s", addr);
        evutil_closesocket(fd);
        return;
    }
    c->relay = r;
    c->state = CONN_REGISTERING;
    memcpy(c->addr, addr, sizeof(c->addr));
    c->bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        free(c);
        srm_warn("out of memory: dropped the connection from %s", addr);
        return;
    }
    /* Linked first, so that every later failure takes the one free path. */
    c->next = r->conns;
    if (r->conns != NULL) {
        r->conns->prev = c;
    }
    r->conns = c;
    r->nconns++;
    srm_info("connection from %s", addr);
    c->timer = evtimer_new(r->base, timer_cb, c);
    rc = srm_reg_new_relay(r->key, users_lookup, &r->users, &c->reg);
    if (c->timer == NULL || rc != 0) {
        conn_lost(c, "out of memory");
        return;
    }
    tv.tv_sec = (time_t)r->cfg.reg_timeout;
    if (evtimer_add(c->timer, &tv) != 0) {
        conn_lost(c, "cannot arm the registration deadline");
        return;
    }
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    /* Input never needs more than a frame and a read's worth; the cap makes that a rule. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, SRM_WIRE_MAX_INBUF);
    if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
        conn_lost(c, "cannot watch the socket");
        return;
    }
}

/* Out of descriptors: stop accepting for a while rather than spin on a readable listener. */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct relay *r = arg;
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {RELAY_ACCEPT_BACKOFF_SECONDS, 0};

    switch (e) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        srm_warn("cannot accept connections: %s: pausing accepts for %d s (raise the open file "
                 "limit, ulimit -n, or lower --max-conns)",
                 strerror(e), RELAY_ACCEPT_BACKOFF_SECONDS);
        evconnlistener_disable(l);
        if (evtimer_add(r->accept_timer, &tv) != 0) {
            evconnlistener_enable(l);
        }
        break;
    default:
        /* ECONNABORTED and the like: that one client is gone; keep listening. */
        srm_debug("accept: %s", strerror(e));
        break;
    }
}

static void accept_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;

    (void)fd;
    (void)what;
    if (!r->shutting_down) {
        evconnlistener_enable(r->listener);
    }
}

/*
 * Whole frames only: peek at the header, let the decoder judge the length
 * before anything is pulled up, pull up exactly one frame, handle it, drain.
 * Several frames per read are handled in this one call.
 */
static void read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t hdr[SRM_WIRE_FRAME_HDR];
    struct srm_frame f;
    size_t have, need, used;
    uint8_t *p;
    int rc;

    while (c->state != CONN_DEAD) {
        /* The length alone (4 bytes) is enough to refuse a frame: do not wait for the type. */
        have = evbuffer_get_length(in);
        if (have < SRM_WIRE_FRAME_HDR - 1u) {
            break;
        }
        if (have > sizeof(hdr)) {
            have = sizeof(hdr);
        }
        if (evbuffer_copyout(in, hdr, have) != (ev_ssize_t)have) {
            conn_lost(c, "cannot read the input buffer");
            break;
        }
        rc = srm_frame_decode(hdr, have, &f, &need);
        if (rc == 0) {
            need = SRM_WIRE_FRAME_HDR; /* a frame with an empty body */
        } else if (rc != SRM_ERR_MSG_INCOMPLETE) {
            violation(c, "bad frame header", rc);
            break;
        }
        if (evbuffer_get_length(in) < need) {
            break;
        }
        p = evbuffer_pullup(in, (ev_ssize_t)need);
        if (p == NULL) {
            conn_lost(c, "out of memory");
            break;
        }
        rc = srm_frame_decode(p, need, &f, &used);
        if (rc != 0 || used != need) {
            violation(c, "bad frame", rc != 0 ? rc : SRM_ERR_INTERNAL);
            break;
        }
        handle_frame(c, p, &f);
        /* c may be dead now, but its buffers live until the reap event. */
        if (evbuffer_drain(in, need) != 0) {
            conn_lost(c, "cannot drain the input buffer");
            break;
        }
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    size_t left = evbuffer_get_length(bufferevent_get_input(bev));
    char why[128];

    if (what & BEV_EVENT_EOF) {
        if (left > 0) {
            snprintf(why, sizeof(why), "closed by peer in the middle of a frame (%zu bytes)", left);
        } else {
            snprintf(why, sizeof(why), "closed by peer");
        }
    } else if (what & BEV_EVENT_ERROR) {
        snprintf(why, sizeof(why), "socket error: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    } else {
        return;
    }
    conn_lost(c, why);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    char why[96];

    (void)fd;
    (void)what;
    if (c->state == CONN_REGISTERING) {
        snprintf(why, sizeof(why), "registration not finished within %lu s (--reg-timeout)",
                 c->relay->cfg.reg_timeout);
        conn_lost(c, why);
    } else if (c->draining) {
        /* A client that never reads cannot hold its slot past the bound. */
        srm_debug("%s: output not drained within %d s", c->addr, RELAY_DRAIN_SECONDS);
        conn_reap(c);
    }
}

static void handle_frame(struct conn *c, uint8_t *frame, const struct srm_frame *f)
{
    srm_debug("%s: <- frame type 0x%02x, body %zu bytes", who(c), (unsigned)f->type, f->body_len);
    switch (c->state) {
    case CONN_REGISTERING:
        /* srm_reg_recv checks the type against its own state before parsing. */
        reg_frame(c, f);
        break;
    case CONN_ONLINE:
        if (f->type != SRM_FRAME_LINK) {
            violation(c, "plaintext frame after registration", SRM_ERR_UNEXPECTED_MSG);
            break;
        }
        /* The decoder accepted the header: the body follows it, ours to open in place. */
        link_frame(c, frame + SRM_WIRE_FRAME_HDR, f->body_len);
        break;
    case CONN_DEAD:
    default:
        break;
    }
}

/* 2. Registration frames: the library answers; the relay only moves bytes. */
static void reg_frame(struct conn *c, const struct srm_frame *f)
{
    struct relay *r = c->relay;
    struct srm_buf out;
    const char *claimed;
    char why[128];
    int rc;

    srm_buf_init_write(&out, r->scratch, r->scratch_cap);
    rc = srm_reg_recv(c->reg, f, &out);
    srm_debug("%s: registration state %s, %zu bytes to send", c->addr, srm_reg_state_name(c->reg),
              out.len);
    if (out.len > 0 && bufferevent_write(c->bev, out.data, out.len) != 0) {
        conn_lost(c, "out of memory");
        return;
    }
    if (rc != 0) {
        srm_log_crypto_errors(c->addr);
        claimed = srm_reg_name(c->reg);
        if (claimed != NULL && srm_name_check_str(claimed) == 0) {
            snprintf(why, sizeof(why), "registration as %s refused: %s", claimed, srm_strerror(rc));
        } else {
            snprintf(why, sizeof(why), "registration refused: %s", srm_strerror(rc));
        }
        /* The output holds REG_ERROR: let it reach the client, then close. */
        conn_finish(c, why);
        return;
    }
    if (srm_reg_is_done(c->reg)) {
        conn_online(c);
    }
}

/* 3. Registered: take the link, replace any older connection, WELCOME, PRESENCE. */
static void conn_online(struct conn *c)
{
    struct relay *r = c->relay;
    struct conn *old;
    const char *name;
    const uint8_t *fp;
    char fps[SRM_FP_STR_LEN];

    name = srm_reg_name(c->reg);
    fp = srm_reg_peer_fingerprint(c->reg);
    if (name == NULL || fp == NULL || srm_name_check_str(name) != 0 ||
        srm_reg_take_link(c->reg, &c->link) != 0) {
        conn_lost(c, "registration finished without a usable link");
        return;
    }
    snprintf(c->name, sizeof(c->name), "%s", name);
    srm_fingerprint_format(fp, fps);
    /* Nothing of the handshake is needed any more: wipe it now, not at disconnect. */
    srm_reg_free(c->reg);
    c->reg = NULL;
    evtimer_del(c->timer);

    old = names_find(&r->names, c->name, strlen(c->name));
    if (old != NULL) {
        /* Out of the table first, so closing it announces nothing: no offline/online flap. */
        names_remove(&r->names, old);
        send_simple(old, SRM_MSG_BYE, 0, SRM_REASON_REPLACED);
        conn_finish(old, "replaced by a newer registration under the same name");
    }
    c->state = CONN_ONLINE;
    names_insert(&r->names, c);
    c->oprev = r->online_tail;
    c->onext = NULL;
    if (r->online_tail != NULL) {
        r->online_tail->onext = c;
    } else {
        r->online_head = c;
    }
    r->online_tail = c;
    r->nonline++;
    srm_info("%s registered as %s, key %s%s", c->addr, c->name, fps,
             old != NULL ? " (replaces the older connection)" : "");

    send_list(c, SRM_MSG_WELCOME, c);
    if (old == NULL && c->state == CONN_ONLINE) {
        broadcast_presence(r, c, SRM_PRESENCE_ONLINE);
    }
}

/* 4. One link record from an online client. */
static void link_frame(struct conn *c, uint8_t *body, size_t n)
{
    const uint8_t *pt;
    size_t ptlen;
    struct srm_msg m;
    uint64_t seq = srm_link_dir_seq(c->link->rx);
    int rc;

    rc = srm_link_open_body(c->link, body, n, &pt, &ptlen);
    if (rc != 0) {
        srm_log_crypto_errors(c->name);
        violation(c, "link record did not open", rc);
        return;
    }
    rc = srm_msg_parse(pt, ptlen, &m);
    if (rc != 0) {
        violation(c, "link message did not parse", rc);
        return;
    }
    srm_debug("%s: <- link seq %llu %s, %zu bytes", c->name, (unsigned long long)seq,
              srm_msg_type_name(m.type), ptlen);
    switch (m.type) {
    case SRM_MSG_SEND:
        route_send(c, &m);
        break;
    case SRM_MSG_WHO:
        send_list(c, SRM_MSG_WHO_REPLY, NULL);
        break;
    case SRM_MSG_PING:
        send_simple(c, SRM_MSG_PONG, m.token, 0);
        break;
    case SRM_MSG_PONG:
        break;
    case SRM_MSG_BYE:
        srm_debug("%s: BYE reason %u", c->name, (unsigned)m.code);
        conn_lost(c, "said goodbye");
        break;
    default:
        /* WELCOME, DELIVER, UNDELIVERABLE, WHO_REPLY, PRESENCE, CONFIRM: relay -> client only. */
        violation(c, "message type a client may not send", SRM_ERR_UNEXPECTED_MSG);
        break;
    }
}

/* SEND -> DELIVER from the authenticated name, never from anything the sender wrote. */
static void route_send(struct conn *c, const struct srm_msg *m)
{
    struct relay *r = c->relay;
    struct conn *dst;
    struct srm_buf b;
    size_t tolen = strlen(m->name);
    int rc;

    srm_debug("%s: SEND to %s ref %u, payload kind 0x%02x, %zu bytes", c->name, m->name,
              (unsigned)m->ref, (unsigned)m->data[0], m->data_len);
    if (tolen == c->name_len && memcmp(m->name, c->name, tolen) == 0) {
        send_undeliverable(c, m->name, m->ref, SRM_REASON_UNKNOWN_USER);
        return;
    }
    dst = names_find(&r->names, m->name, tolen);
    if (dst == NULL) {
        send_undeliverable(c, m->name, m->ref, SRM_REASON_OFFLINE);
        return;
    }
    srm_buf_init_write(&b, r->scratch, SRM_LINK_MAX_PT);
    rc = srm_msg_put_deliver(&b, c->name, m->data, m->data_len);
    if (rc != 0) {
        violation(c, "SEND payload cannot be forwarded", rc);
        return;
    }
    conn_send(dst, b.data, b.len);
}

/*
 * WELCOME / WHO_REPLY: online names in registration order, but `exclude`.
 * Cut to what one link record and SRM_WIRE_MAX_LIST hold; PRESENCE keeps
 * clients up to date past that.
 */
static void send_list(struct conn *c, uint8_t type, const struct conn *exclude)
{
    struct relay *r = c->relay;
    struct conn *o;
    struct srm_buf b;
    size_t count = 0, size = LIST_HDR;
    int rc;

    for (o = r->online_head; o != NULL; o = o->onext) {
        if (o == exclude) {
            continue;
        }
        if (count == SRM_WIRE_MAX_LIST || 1u + o->name_len > SRM_LINK_MAX_PT - size) {
            srm_debug("%s: %s cut at %zu of %zu names", c->name, srm_msg_type_name(type), count,
                      r->nonline);
            break;
        }
        size += 1u + o->name_len;
        r->list[count++] = o->name;
    }
    srm_buf_init_write(&b, r->scratch, SRM_LINK_MAX_PT);
    rc = srm_msg_put_list(&b, type, r->list, count);
    if (rc != 0) {
        srm_warn("cannot build %s for %s: %s", srm_msg_type_name(type), c->name, srm_strerror(rc));
        conn_lost(c, "cannot build the list of online users");
        return;
    }
    srm_debug("%s: %s with %zu names", c->name, srm_msg_type_name(type), count);
    conn_send(c, b.data, b.len);
}

static void send_undeliverable(struct conn *c, const char *to, uint32_t ref, uint8_t reason)
{
    struct srm_buf b;

    srm_buf_init_write(&b, c->relay->scratch, SRM_LINK_MAX_PT);
    if (srm_msg_put_undeliverable(&b, to, ref, reason) != 0) {
        conn_lost(c, "cannot build UNDELIVERABLE");
        return;
    }
    srm_debug("%s: UNDELIVERABLE to %s ref %u reason %u", c->name, to, (unsigned)ref,
              (unsigned)reason);
    conn_send(c, b.data, b.len);
}

/* PONG(token) or BYE(reason). */
static void send_simple(struct conn *c, uint8_t type, uint64_t token, uint8_t reason)
{
    struct srm_buf b;
    int rc;

    srm_buf_init_write(&b, c->relay->scratch, SRM_LINK_MAX_PT);
    if (type == SRM_MSG_BYE) {
        rc = srm_msg_put_bye(&b, reason);
    } else {
        rc = srm_msg_put_ping(&b, type, token);
    }
    if (rc != 0) {
        conn_lost(c, "cannot build a message");
        return;
    }
    conn_send(c, b.data, b.len);
}

/*
 * Seal one link message straight into c's output buffer.  pt is not used
 * after the seal, so a conn_lost() here (which may broadcast) cannot
 * clobber it under us.
 */
static void conn_send(struct conn *c, const uint8_t *pt, size_t n)
{
    struct evbuffer *out;
    struct evbuffer_iovec v;
    struct srm_buf b;
    char why[96];
    uint64_t seq;
    int rc;

    if (c->state != CONN_ONLINE) {
        return;
    }
    out = bufferevent_get_output(c->bev);
    seq = srm_link_dir_seq(c->link->tx);
    if (evbuffer_reserve_space(out, (ev_ssize_t)(SRM_WIRE_FRAME_HDR + n + SRM_LINK_TAG_LEN), &v,
                               1) < 1) {
        conn_lost(c, "out of memory");
        return;
    }
    srm_buf_init_write(&b, v.iov_base, v.iov_len);
    rc = srm_link_seal_frame(c->link, pt, n, &b);
    if (rc != 0) {
        srm_log_crypto_errors(c->name);
        snprintf(why, sizeof(why), "cannot seal a link record: %s", srm_strerror(rc));
        conn_lost(c, why);
        return;
    }
    v.iov_len = b.len;
    if (evbuffer_commit_space(out, &v, 1) != 0) {
        conn_lost(c, "cannot queue output");
        return;
    }
    srm_debug("%s: -> link seq %llu %s, %zu bytes", c->name, (unsigned long long)seq,
              srm_msg_type_name(pt[0]), n);
    if (evbuffer_get_length(out) > SRM_WIRE_MAX_OUTBUF) {
        snprintf(why, sizeof(why), "slow consumer: over %u bytes waiting to be sent",
                 (unsigned)SRM_WIRE_MAX_OUTBUF);
        conn_lost(c, why);
    }
}

/* PRESENCE to every online client but `about`, then any offline announcements that caused. */
static void broadcast_presence(struct relay *r, const struct conn *about, uint8_t status)
{
    presence_loop(r, about, status);
    announce_flush(r);
}

/*
 * One PRESENCE to every online client but `about`.  A client dropped while
 * we iterate (output cap) is only queued for its own announcement (busy),
 * so the list we walk loses nothing but that client.
 */
static void presence_loop(struct relay *r, const struct conn *about, uint8_t status)
{
    struct conn *o, *next;
    struct srm_buf b;
    uint8_t msg[PRESENCE_MAX];

    /* Its own buffer, not the scratch: the caller may still be using that. */
    srm_buf_init_write(&b, msg, sizeof(msg));
    if (srm_msg_put_presence(&b, about->name, status) != 0) {
        srm_warn("cannot build PRESENCE for %s", about->name);
        return;
    }
    srm_debug("PRESENCE %s %s to the other online clients", about->name,
              status == SRM_PRESENCE_ONLINE ? "online" : "offline");
    r->busy++;
    for (o = r->online_head; o != NULL; o = next) {
        next = o->onext;
        if (o != about) {
            conn_send(o, b.data, b.len);
        }
    }
    r->busy--;
}

/*
 * 5. Offline announcements, by a loop rather than by recursion: a client
 * dropped by one announcement is queued and announced by this same loop.
 */
static void announce_flush(struct relay *r)
{
    struct conn *c;

    if (r->busy > 0) {
        return;
    }
    r->busy++;
    while ((c = r->offline_head) != NULL) {
        r->offline_head = c->anext;
        if (r->offline_head == NULL) {
            r->offline_tail = NULL;
        }
        c->anext = NULL;
        /* Not if a newer connection already took the name in the meantime. */
        if (!r->shutting_down && names_find(&r->names, c->name, c->name_len) == NULL) {
            presence_loop(r, c, SRM_PRESENCE_OFFLINE);
        }
    }
    r->busy--;
}

static void violation(struct conn *c, const char *why, int err)
{
    char reason[160];

    snprintf(reason, sizeof(reason), "protocol violation: %s: %s", why, srm_strerror(err));
    if (c->state == CONN_ONLINE) {
        send_simple(c, SRM_MSG_BYE, 0, SRM_REASON_PROTOCOL);
    }
    conn_finish(c, reason);
}

/*
 * Take c out of the name table and the online list; with announce, queue
 * its offline PRESENCE if it still owned its name (a replaced one does not).
 */
static void conn_unlink_online(struct conn *c, int announce)
{
    struct relay *r = c->relay;

    if (c->state != CONN_ONLINE) {
        return;
    }
    if (names_remove(&r->names, c) && announce) {
        c->anext = NULL;
        if (r->offline_tail != NULL) {
            r->offline_tail->anext = c;
        } else {
            r->offline_head = c;
        }
        r->offline_tail = c;
    }
    if (c->oprev != NULL) {
        c->oprev->onext = c->onext;
    } else {
        r->online_head = c->onext;
    }
    if (c->onext != NULL) {
        c->onext->oprev = c->oprev;
    } else {
        r->online_tail = c->oprev;
    }
    c->oprev = c->onext = NULL;
    r->nonline--;
}

/* The connection is over: DEAD and unlinked now, freed from the reap event. */
static void conn_lost(struct conn *c, const char *reason)
{
    if (c->state == CONN_DEAD) {
        return;
    }
    if (c->state == CONN_ONLINE) {
        srm_info("%s (%s) disconnected: %s", c->name, c->addr, reason);
    } else {
        srm_info("%s disconnected: %s", c->addr, reason);
    }
    conn_unlink_online(c, 1);
    c->state = CONN_DEAD;
    conn_reap(c);
    announce_flush(c->relay);
}

/* Close after a final message (REG_ERROR, BYE): stop reading, drain, then free. */
static void conn_finish(struct conn *c, const char *reason)
{
    struct timeval tv = {RELAY_DRAIN_SECONDS, 0};

    if (c->state == CONN_DEAD) {
        return;
    }
    if (c->state == CONN_ONLINE) {
        srm_info("%s (%s) disconnected: %s", c->name, c->addr, reason);
    } else {
        srm_info("%s disconnected: %s", c->addr, reason);
    }
    conn_unlink_online(c, 1);
    c->state = CONN_DEAD;
    c->draining = 1;
    bufferevent_disable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        conn_reap(c);
    } else {
        /* The write callback runs once the output is empty (low watermark 0). */
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
        bufferevent_setcb(c->bev, NULL, drain_write_cb, drain_event_cb, c);
        if (evtimer_add(c->timer, &tv) != 0) {
            conn_reap(c);
        }
    }
    announce_flush(c->relay);
}

static void drain_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_reap(arg);
}

static void drain_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    conn_reap(arg);
}

/* Queue c for freeing from the reap event, after the current callback has returned. */
static void conn_reap(struct conn *c)
{
    struct relay *r = c->relay;

    if (c->reaping) {
        return;
    }
    c->reaping = 1;
    c->state = CONN_DEAD;
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    c->qnext = r->reap;
    r->reap = c;
    event_active(r->reap_ev, EV_TIMEOUT, 1);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    struct conn *c;

    (void)fd;
    (void)what;
    while ((c = r->reap) != NULL) {
        r->reap = c->qnext;
        conn_free(c);
    }
    if (r->shutting_down && r->nconns == 0) {
        event_base_loopexit(r->base, NULL);
    }
}

/* Unlink from every list and free; the socket closes with the bufferevent. */
static void conn_free(struct conn *c)
{
    struct relay *r = c->relay;

    /*
     * Only relay_free() frees a conn that is still online; otherwise the
     * offline queue is already empty (announce_flush() runs before any
     * callback returns).
     */
    conn_unlink_online(c, 0);
    c->state = CONN_DEAD;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        r->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    r->nconns--;
    if (c->bev != NULL) {
        bufferevent_free(c->bev);
    }
    if (c->timer != NULL) {
        event_free(c->timer);
    }
    srm_reg_free(c->reg);
    srm_link_free(c->link);
    free(c);
}

void relay_shutdown(struct relay *r)
{
    struct conn *c, *next;
    struct timeval tv = {0, RELAY_SHUTDOWN_FLUSH_MS * 1000};

    if (r->shutting_down) {
        return;
    }
    r->shutting_down = 1;
    srm_info("shutting down: %zu connections, %zu online", r->nconns, r->nonline);
    evconnlistener_disable(r->listener);
    for (c = r->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == CONN_ONLINE) {
            send_simple(c, SRM_MSG_BYE, 0, SRM_REASON_SHUTDOWN);
            conn_finish(c, "relay shutting down");
        } else if (c->state == CONN_REGISTERING) {
            conn_lost(c, "relay shutting down");
        }
    }
    /* Whatever has not drained by then is dropped: shutdown must not hang on a client. */
    if (r->nconns == 0 || evtimer_add(r->stop_timer, &tv) != 0) {
        event_base_loopexit(r->base, NULL);
    }
}

void relay_stop(struct relay *r)
{
    event_base_loopexit(r->base, NULL);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;

    (void)fd;
    (void)what;
    event_base_loopexit(r->base, NULL);
}

void relay_free(struct relay *r)
{
    if (r == NULL) {
        return;
    }
    /* No announcements and no reaping while everything goes. */
    r->shutting_down = 1;
    r->busy++;
    r->reap = NULL;
    r->offline_head = r->offline_tail = NULL;
    while (r->conns != NULL) {
        conn_free(r->conns);
    }
    if (r->listener != NULL) {
        evconnlistener_free(r->listener);
    }
    if (r->accept_timer != NULL) {
        event_free(r->accept_timer);
    }
    if (r->reap_ev != NULL) {
        event_free(r->reap_ev);
    }
    if (r->stop_timer != NULL) {
        event_free(r->stop_timer);
    }
    names_free(&r->names);
    free(r->scratch);
    free(r->list);
    srm_key_free(r->key);
    free(r);
}

/* For log lines: the authenticated name once there is one, else the address. */
static const char *who(const struct conn *c)
{
    return c->name[0] != '\0' ? c->name : c->addr;
}
