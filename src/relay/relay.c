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
 * Hot path: no allocation per message, two system calls per batch.  One
 * recv(2) per readable socket into the relay's one read buffer, where the
 * frames are opened in place (only the start of a frame the read cut is
 * copied aside until the rest arrives); the DELIVER plaintext is built in
 * one scratch buffer per relay and sealed straight into the recipient's
 * output buffer (one flat buffer, taken from a small pool while there is
 * something to send); every output buffer filled during a loop turn is
 * written with one send(2) at the end of that turn (flush_cb), however many
 * frames it holds, and only a socket that is full is watched for writing.
 * Registration replies and WELCOME leave at once instead (conn_flush_now).
 * (Not bufferevents: libevent 2.1 asks FIONREAD before every read, reads at
 * most 4096 bytes at a time, and adds and deletes the write event around
 * every write: three to five system calls per message where two do; nor
 * evbuffers for output: a chain allocated and freed per frame.)
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

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
#include "cluster.h"
#include "relay.h"

/* Bytes of a name list message before the names: type u8 || count u16. */
#define LIST_HDR 3u
/* PRESENCE: type u8 || name (u8 length + 32) || status u8. */
#define PRESENCE_MAX (1u + 1u + SRM_WIRE_MAX_NAME + 1u)

/* Why a connection was refused at accept: each kind gets its own log line per second. */
enum refuse_kind {
    REFUSE_CONNS = 0,
    REFUSE_UNAUTH = 1,
    REFUSE_SOURCE = 2,
    REFUSE_KINDS = 3,
};

struct relay {
    struct event_base *base;
    struct relay_config cfg;
    struct srm_key *key;
    struct users users;
    struct evconnlistener *listener;
    struct event *accept_timer; /* re-enables the listener after EMFILE */
    struct event *reap_ev;      /* frees dead connections in a later callback */
    struct event *stop_timer;   /* ends the loop once shutdown has flushed */
    struct event *flush_ev;     /* writes the queued output at the end of the loop turn */
    struct conn *flush_head, *flush_tail;
    uint8_t *rbuf; /* RELAY_MAX_INBUF + RELAY_READ_MAX: one read, opened in place */
    size_t rbuf_cap;
    uint8_t *opool[RELAY_OUT_POOL]; /* free output buffers of RELAY_OUT_MIN bytes */
    size_t nopool;
    struct name_table names;
    struct conn *conns; /* every connection, for shutdown and the cap */
    size_t nconns;
    size_t nunauth;        /* connections still registering (--max-unauth) */
    struct src_table srcs; /* per source address: REG_HELLO bucket, registering count */
    /* Per refusal kind: the last "refused" info line, and refusals since that went to --debug. */
    uint64_t refuse_log_ms[REFUSE_KINDS];
    unsigned long refused_quiet[REFUSE_KINDS];
    struct conn *online_head, *online_tail;
    size_t nonline;
    struct conn *reap;                        /* ready to free */
    struct conn *offline_head, *offline_tail; /* offline PRESENCE still to send */
    int busy;                                 /* inside a broadcast: queue, do not recurse */
    uint64_t reads;                           /* reads that brought bytes: --busy-poll's signal */
    int shutting_down;
    uint8_t *scratch; /* SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME, reused for every message */
    size_t scratch_cap;
    const char **list;       /* SRM_WIRE_MAX_LIST name pointers for WELCOME / WHO_REPLY */
    struct cluster *cluster; /* --cluster only (cluster.h); NULL: a single relay */
    int cluster_failed;      /* the NATS connection failed for good: exit 1 */
};

static int listen_on(struct relay *r);
static void format_addr(const struct sockaddr *sa, socklen_t salen, char *out, size_t n);
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg);
static struct conn *conn_new(struct relay *r, evutil_socket_t fd, const struct sockaddr *sa,
                             int salen);
static void accept_error_cb(struct evconnlistener *l, void *arg);
static void accept_timer_cb(evutil_socket_t fd, short what, void *arg);
static void read_cb(evutil_socket_t fd, short what, void *arg);
static size_t conn_frames(struct conn *c, uint8_t *buf, size_t n);
static void write_cb(evutil_socket_t fd, short what, void *arg);
static void flush_cb(evutil_socket_t fd, short what, void *arg);
static void conn_flush(struct conn *c);
static void flush_queue(struct conn *c);
static void flush_unqueue(struct conn *c);
static void conn_flush_now(struct conn *c);
static int conn_queue_out(struct conn *c, const uint8_t *p, size_t n);
static int run_batching(struct relay *r);
static uint8_t *out_reserve(struct conn *c, size_t n);
static void out_release(struct conn *c);
static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void keepalive_tick(struct conn *c);
static void keepalive_arm(struct conn *c, uint64_t now, uint64_t due);
static void refuse_log(struct relay *r, enum refuse_kind kind, const char *addr, const char *why);
static int reg_rate_ok(struct conn *c, const struct srm_frame *f);
static void unauth_release(struct conn *c);
static void handle_frame(struct conn *c, uint8_t *frame, const struct srm_frame *f);
static void reg_frame(struct conn *c, const struct srm_frame *f);
static void conn_online(struct conn *c);
static void conn_enter_online(struct conn *c, const char *fps);
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
static void conn_mark_dead(struct conn *c, const char *reason);
static void conn_lost(struct conn *c, const char *reason);
static void conn_finish(struct conn *c, const char *reason);
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
    r->flush_ev = event_new(base, -1, 0, flush_cb, r);
    r->rbuf_cap = RELAY_MAX_INBUF + RELAY_READ_MAX;
    r->rbuf = malloc(r->rbuf_cap);
    r->accept_timer = evtimer_new(base, accept_timer_cb, r);
    r->stop_timer = evtimer_new(base, stop_cb, r);
    if (r->scratch == NULL || r->list == NULL || r->reap_ev == NULL || r->flush_ev == NULL ||
        r->rbuf == NULL || r->accept_timer == NULL || r->stop_timer == NULL ||
        names_init(&r->names) != 0 ||
        sources_init(&r->srcs, r->cfg.max_unauth, r->cfg.reg_rate) != 0) {
        srm_error("relay: out of memory");
        goto out;
    }
    if (!r->cfg.no_listen && listen_on(r) != 0) {
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
    /* Numeric forms only, so the sizes are bounded and "[host]:port" fits in 64. */
    char host[INET6_ADDRSTRLEN], serv[8];

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
    (void)l;
    relay_adopt(arg, fd, sa, salen);
}

void relay_adopt(struct relay *r, evutil_socket_t fd, const struct sockaddr *sa, int salen)
{
    (void)conn_new(r, fd, sa, salen);
}

/* The new connection, or NULL if it was refused or failed (then it is closed or being reaped). */
static struct conn *conn_new(struct relay *r, evutil_socket_t fd, const struct sockaddr *sa,
                             int salen)
{
    struct conn *c = NULL;
    struct src_entry *src;
    struct timeval tv = {0, 0};
    char addr[RELAY_ADDR_LEN], why[128];
    enum refuse_kind kind = REFUSE_CONNS;
    int one = 1, rc;

    format_addr(sa, (socklen_t)salen, addr, sizeof(addr));
    if (r->shutting_down) {
        evutil_closesocket(fd);
        return NULL;
    }
    /* Every refusal costs a close and no allocation: a flood buys nothing. */
    src = sources_get(&r->srcs, sa, relay_now_ms());
    if (r->nconns >= r->cfg.max_conns) {
        snprintf(why, sizeof(why), "already %zu connections (--max-conns %lu)", r->nconns,
                 r->cfg.max_conns);
    } else if (r->nunauth >= r->cfg.max_unauth) {
        kind = REFUSE_UNAUTH;
        snprintf(why, sizeof(why), "already %zu connections registering (--max-unauth %lu)",
                 r->nunauth, r->cfg.max_unauth);
    } else if (src == NULL) {
        kind = REFUSE_SOURCE;
        snprintf(why, sizeof(why), "too many sources registering at once");
    } else if (src->unauth >= r->cfg.max_unauth_source) {
        kind = REFUSE_SOURCE;
        snprintf(why, sizeof(why),
                 "already %lu connections registering from that address "
                 "(--max-unauth-source %lu)",
                 (unsigned long)src->unauth, r->cfg.max_unauth_source);
    } else {
        why[0] = '\0';
    }
    if (why[0] != '\0' || src == NULL) { /* src == NULL always set why: for the analyser */
        refuse_log(r, kind, addr, why);
        evutil_closesocket(fd);
        return NULL;
    }
    /* Frames are already coalesced per loop turn: Nagle would only add delay. */
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
        srm_debug("%s: TCP_NODELAY: %s", addr, strerror(errno));
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || evutil_make_socket_nonblocking(fd) != 0) {
        srm_warn("cannot take the connection from %s: %s", addr,
                 c == NULL ? "out of memory" : strerror(errno));
        evutil_closesocket(fd);
        free(c);
        return NULL;
    }
    c->relay = r;
    c->state = CONN_REGISTERING;
    c->fd = fd; /* closed by conn_free from here on */
    memcpy(c->addr, addr, sizeof(c->addr));
    /* Linked first, so that every later failure takes the one free path. */
    c->next = r->conns;
    if (r->conns != NULL) {
        r->conns->prev = c;
    }
    r->conns = c;
    r->nconns++;
    /* Counted against the limits until it leaves REGISTERING (unauth_release). */
    c->src = src;
    src->unauth++;
    r->nunauth++;
    srm_info("connection from %s", addr);
    c->timer = evtimer_new(r->base, timer_cb, c);
    c->rev = event_new(r->base, fd, EV_READ | EV_PERSIST, read_cb, c);
    c->wev = event_new(r->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
    rc = srm_reg_new_relay(r->key, users_lookup, &r->users, &c->reg);
    if (c->timer == NULL || c->rev == NULL || c->wev == NULL || rc != 0) {
        conn_lost(c, "out of memory");
        return NULL;
    }
    tv.tv_sec = (time_t)r->cfg.reg_timeout;
    if (evtimer_add(c->timer, &tv) != 0) {
        conn_lost(c, "cannot arm the registration deadline");
        return NULL;
    }
    if (event_add(c->rev, NULL) != 0) {
        conn_lost(c, "cannot watch the socket");
        return NULL;
    }
    return c;
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
 * One recv(2) per readable socket, into the relay's read buffer after the
 * start of a frame the last read cut (c->part); the frames are handled in
 * place there (conn_frames), and only what is left of an unfinished frame
 * is copied aside for the next read.  So a connection holds at most one
 * unfinished frame of input, a registering one at most one registration
 * frame (conn_frames refuses a longer header at once), and the buffer,
 * the largest frame plus one read, always has room.
 */
static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct relay *r = c->relay;
    size_t have = c->part_len, used;
    ssize_t n;
    char why[128];

    (void)what;
    if (have > 0) {
        memcpy(r->rbuf, c->part, have);
    }
    n = recv(fd, r->rbuf + have, r->rbuf_cap - have, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;
        }
        snprintf(why, sizeof(why), "socket error: %s", strerror(errno));
        conn_lost(c, why);
        return;
    }
    if (n == 0) {
        if (have > 0) {
            snprintf(why, sizeof(why), "closed by peer in the middle of a frame (%zu bytes)", have);
        } else {
            snprintf(why, sizeof(why), "closed by peer");
        }
        conn_lost(c, why);
        return;
    }
    /* Anything at all proves the peer alive (keepalive); one clock read per read, not per frame. */
    c->last_rx_ms = relay_now_ms();
    r->reads++;
    free(c->part);
    c->part = NULL;
    c->part_len = 0;
    have += (size_t)n;
    used = conn_frames(c, r->rbuf, have);
    /* c may be dead now; it is freed from the reap event, not here. */
    if (c->state == CONN_DEAD || used == have) {
        return;
    }
    c->part = malloc(have - used);
    if (c->part == NULL) {
        conn_lost(c, "out of memory");
        return;
    }
    memcpy(c->part, r->rbuf + used, have - used);
    c->part_len = have - used;
}

/*
 * Handle the whole frames at the start of buf[0..n) in place; returns the
 * bytes they took.  The length alone (4 bytes) is enough to refuse a
 * frame, so a bad or oversized header is refused before its body is
 * waited for.
 */
static size_t conn_frames(struct conn *c, uint8_t *buf, size_t n)
{
    struct srm_frame f;
    size_t need, done = 0;
    int rc;

    while (c->state != CONN_DEAD && n - done >= SRM_WIRE_FRAME_HDR - 1u) {
        /* 0: a whole frame of `need` bytes; incomplete: `need` is its size once known. */
        rc = srm_frame_decode(buf + done, n - done, &f, &need);
        if (rc != 0 && rc != SRM_ERR_MSG_INCOMPLETE) {
            violation(c, "bad frame header", rc);
            break;
        }
        /* Larger than any registration frame: refuse now rather than wait for it. */
        if (c->state == CONN_REGISTERING &&
            need - (SRM_WIRE_FRAME_HDR - 1u) > RELAY_REG_MAX_FRAME) {
            violation(c, "registration frame too long", SRM_ERR_TOO_LARGE);
            break;
        }
        if (rc != 0) {
            break;
        }
        handle_frame(c, buf + done, &f);
        done += need;
    }
    return done;
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
    } else if (c->state == CONN_ONLINE) {
        keepalive_tick(c);
    } else if (c->draining) {
        /* A client that never reads cannot hold its slot past the bound. */
        srm_debug("%s: output not drained within %d s", c->addr, RELAY_DRAIN_SECONDS);
        conn_reap(c);
    }
}

/*
 * Keepalive (issue 4): a registered connection that has sent nothing for
 * --keepalive seconds gets a PING (again every --keepalive seconds); one
 * that has sent nothing for --idle-timeout seconds is dead or stuck (a
 * half-open TCP connection, a stopped process) and is dropped, so presence
 * says offline within that bound.  The timer is not re-armed per frame:
 * when it fires it looks at last_rx_ms and sleeps until the next deadline.
 */
static void keepalive_tick(struct conn *c)
{
    struct relay *r = c->relay;
    uint64_t now = relay_now_ms(), ka = (uint64_t)r->cfg.keepalive * 1000u;
    uint64_t dead = c->last_rx_ms + (uint64_t)r->cfg.idle_timeout * 1000u;
    uint64_t ping = (c->ping_ms > c->last_rx_ms ? c->ping_ms : c->last_rx_ms) + ka;
    char why[96];

    if (now >= dead) {
        snprintf(why, sizeof(why),
                 "nothing received for %lu s (--idle-timeout): peer dead or stuck",
                 r->cfg.idle_timeout);
        /* If it is only stuck, it finds out why once it reads again. */
        send_simple(c, SRM_MSG_BYE, 0, SRM_REASON_TIMEOUT);
        conn_finish(c, why);
        return;
    }
    if (now >= ping) {
        c->ping_ms = now;
        ping = now + ka;
        srm_debug("%s: idle, keepalive PING %llu", c->name,
                  (unsigned long long)(c->ping_token + 1u));
        send_simple(c, SRM_MSG_PING, ++c->ping_token, 0);
        if (c->state != CONN_ONLINE) {
            return; /* the PING itself went over the output cap */
        }
    }
    keepalive_arm(c, now, ping < dead ? ping : dead);
}

static void keepalive_arm(struct conn *c, uint64_t now, uint64_t due)
{
    uint64_t ms = due > now ? due - now : 1u;
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)((ms % 1000u) * 1000u)};

    if (evtimer_add(c->timer, &tv) != 0) {
        conn_lost(c, "cannot arm the keepalive timer");
    }
}

/*
 * One info line per kind per RELAY_REFUSE_LOG_MS, so a flood of refusals
 * cannot flood the log; the next line counts the ones left out.
 */
static void refuse_log(struct relay *r, enum refuse_kind kind, const char *addr, const char *why)
{
    uint64_t now = relay_now_ms();

    if (r->refuse_log_ms[kind] != 0 && now - r->refuse_log_ms[kind] < RELAY_REFUSE_LOG_MS) {
        r->refused_quiet[kind]++;
        srm_debug("refused connection from %s: %s", addr, why);
        return;
    }
    if (r->refused_quiet[kind] > 0) {
        srm_info("refused connection from %s: %s (and %lu more like it before)", addr, why,
                 r->refused_quiet[kind]);
    } else {
        srm_info("refused connection from %s: %s", addr, why);
    }
    r->refuse_log_ms[kind] = now;
    r->refused_quiet[kind] = 0;
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

    if (!reg_rate_ok(c, f)) {
        return;
    }
    srm_buf_init_write(&out, r->scratch, r->scratch_cap);
    rc = srm_reg_recv(c->reg, f, &out);
    srm_debug("%s: registration state %s, %zu bytes to send", c->addr, srm_reg_state_name(c->reg),
              out.len);
    if (out.len > 0 && conn_queue_out(c, out.data, out.len) != 0) {
        conn_lost(c, "out of memory");
        return;
    }
    /*
     * Registration replies leave now, not at the end of the loop turn: a
     * REG_HELLO costs two RSA private operations, and a client must not
     * wait for every other registration this turn brought.
     */
    conn_flush_now(c);
    if (c->state == CONN_DEAD) {
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

/*
 * The first REG_HELLO costs the relay an RSA decryption and a signature:
 * charge it to the source's token bucket (--reg-rate).  Without a token the
 * connection is closed with no answer, nothing of the frame parsed: a
 * REG_ERROR would tell an honest client (say, one of many behind one NAT
 * reconnecting after a relay restart) that it is refused for good, while a
 * closed connection is passing trouble that it retries with backoff.  Any
 * later frame is checked by srm_reg_recv's state.
 */
static int reg_rate_ok(struct conn *c, const struct srm_frame *f)
{
    struct relay *r = c->relay;
    char why[128];

    if (f->type != SRM_FRAME_REG_HELLO || c->hello_seen || c->src == NULL) {
        return 1;
    }
    c->hello_seen = 1;
    if (sources_take(&r->srcs, c->src, relay_now_ms())) {
        return 1;
    }
    snprintf(why, sizeof(why),
             "registration refused: rate limit of %lu REG_HELLO/s from one "
             "address (--reg-rate)",
             r->cfg.reg_rate);
    conn_lost(c, why);
    return 0;
}

/* Leave REGISTERING: give back the slot counted against --max-unauth and the source. */
static void unauth_release(struct conn *c)
{
    struct relay *r = c->relay;

    if (c->src == NULL) {
        return;
    }
    c->src->unauth--;
    c->src = NULL;
    r->nunauth--;
}

/* 3. Registered: take the link, replace any older connection, WELCOME, PRESENCE. */
static void conn_online(struct conn *c)
{
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
    conn_enter_online(c, fps);
}

/* The link is up under c->name: replace any older connection, then WELCOME and PRESENCE. */
static void conn_enter_online(struct conn *c, const char *fps)
{
    struct relay *r = c->relay;
    struct conn *old;

    evtimer_del(c->timer);
    unauth_release(c);

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
    if (r->cfg.keepalive > 0) {
        c->last_rx_ms = relay_now_ms();
        keepalive_arm(c, c->last_rx_ms, c->last_rx_ms + (uint64_t)r->cfg.keepalive * 1000u);
    }
    srm_info("%s registered as %s, key %s%s", c->addr, c->name, fps,
             old != NULL ? " (replaces the older connection)" : "");

    if (r->cluster != NULL && cluster_user_online(r->cluster, c->name)) {
        /*
         * Before WELCOME, so that the list of other nodes' users no longer
         * holds c.  It was online on another node: no PRESENCE, as for `old`.
         */
        old = c;
    }
    send_list(c, SRM_MSG_WELCOME, c);
    conn_flush_now(c); /* as the registration replies: the others' PRESENCE can wait */
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
    if (dst == NULL && r->cluster != NULL) {
        /* Another node may hold it: the answer (or UNDELIVERABLE) comes later. */
        cluster_route(r->cluster, c->name, m->name, m->ref, m->data, m->data_len);
        return;
    }
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
    if (r->cluster != NULL && count < SRM_WIRE_MAX_LIST) {
        /* Users on the other nodes of the cluster, after ours. */
        count += cluster_list(r->cluster, r->list + count, SRM_WIRE_MAX_LIST - count,
                              SRM_LINK_MAX_PT - size);
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
    const size_t room = SRM_WIRE_FRAME_HDR + n + SRM_LINK_TAG_LEN;
    struct srm_buf b;
    uint8_t *dst;
    char why[96];
    uint64_t seq;
    int rc;

    if (c->state != CONN_ONLINE) {
        return;
    }
    seq = srm_link_dir_seq(c->link->tx);
    if ((dst = out_reserve(c, room)) == NULL) {
        conn_lost(c, "out of memory");
        return;
    }
    srm_buf_init_write(&b, dst, room);
    rc = srm_link_seal_frame(c->link, pt, n, &b);
    if (rc != 0) {
        srm_log_crypto_errors(c->name);
        snprintf(why, sizeof(why), "cannot seal a link record: %s", srm_strerror(rc));
        conn_lost(c, why);
        return;
    }
    c->olen += b.len;
    flush_queue(c);
    srm_debug("%s: -> link seq %llu %s, %zu bytes", c->name, (unsigned long long)seq,
              srm_msg_type_name(pt[0]), n);
    /*
     * Output cap (--max-output): a client that stops reading cannot make the
     * relay's memory grow.  It is dropped; what it had not acknowledged end
     * to end its peers send again once it is back.
     */
    if (c->olen > c->relay->cfg.max_output) {
        snprintf(why, sizeof(why), "slow reader: over %lu bytes waiting to be sent (--max-output)",
                 c->relay->cfg.max_output);
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
    int owned;

    if (c->state != CONN_ONLINE) {
        return;
    }
    owned = names_remove(&r->names, c);
    if (owned && r->cluster != NULL) {
        /* It owned its name here (not displaced): the other nodes learn it left. */
        cluster_user_offline(r->cluster, c->name);
    }
    if (owned && announce) {
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

/* Log why, give back the registration slot, leave the name table, and mark DEAD. */
static void conn_mark_dead(struct conn *c, const char *reason)
{
    if (c->state == CONN_ONLINE) {
        srm_info("%s (%s) disconnected: %s", c->name, c->addr, reason);
    } else {
        srm_info("%s disconnected: %s", c->addr, reason);
    }
    unauth_release(c);
    conn_unlink_online(c, 1);
    c->state = CONN_DEAD;
}

/* The connection is over: DEAD and unlinked now, freed from the reap event. */
static void conn_lost(struct conn *c, const char *reason)
{
    if (c->state == CONN_DEAD) {
        return;
    }
    conn_mark_dead(c, reason);
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
    conn_mark_dead(c, reason);
    event_del(c->rev);
    if (c->olen == 0) {
        conn_reap(c);
    } else {
        /* conn_flush reaps it once its output is out; timer_cb after RELAY_DRAIN_SECONDS. */
        c->draining = 1;
        flush_queue(c);
        if (evtimer_add(c->timer, &tv) != 0) {
            conn_reap(c);
        }
    }
    announce_flush(c->relay);
}

/* Registration replies: plain frames, queued as they are. */
static int conn_queue_out(struct conn *c, const uint8_t *p, size_t n)
{
    uint8_t *dst = out_reserve(c, n);

    if (dst == NULL) {
        return -1;
    }
    memcpy(dst, p, n);
    c->olen += n;
    flush_queue(c);
    return 0;
}

/*
 * Room for n more bytes behind c's output, or NULL if out of memory.  The
 * buffer comes from the relay's pool when c has none; what was written
 * already is moved out of the way before the buffer grows.  n is at most one
 * frame and olen at most --max-output plus one frame (conn_send drops the
 * connection past it), so the sizes cannot overflow.
 */
static uint8_t *out_reserve(struct conn *c, size_t n)
{
    struct relay *r = c->relay;
    size_t cap;
    uint8_t *p;

    if (c->obuf == NULL) {
        c->ooff = c->olen = 0;
        if (r->nopool > 0 && n <= RELAY_OUT_MIN) {
            c->obuf = r->opool[--r->nopool];
            c->ocap = RELAY_OUT_MIN;
        } else {
            c->ocap = 0;
        }
    }
    if (c->ooff > 0 && c->ocap - c->ooff - c->olen < n) {
        memmove(c->obuf, c->obuf + c->ooff, c->olen);
        c->ooff = 0;
    }
    if (c->ocap - c->olen < n) {
        for (cap = c->ocap > 0 ? c->ocap : RELAY_OUT_MIN; cap - c->olen < n; cap *= 2) {
        }
        if ((p = realloc(c->obuf, cap)) == NULL) {
            return NULL;
        }
        c->obuf = p;
        c->ocap = cap;
    }
    return c->obuf + c->ooff + c->olen;
}

/* c's output is all written (or dropped): its buffer goes back to the pool, or is freed. */
static void out_release(struct conn *c)
{
    struct relay *r = c->relay;

    if (c->obuf != NULL && c->ocap == RELAY_OUT_MIN && r->nopool < RELAY_OUT_POOL) {
        r->opool[r->nopool++] = c->obuf;
    } else {
        free(c->obuf);
    }
    c->obuf = NULL;
    c->ooff = c->olen = c->ocap = 0;
}

/*
 * Output was queued for c: write it at the end of this loop turn.  The
 * flush event, made active now, runs after every callback already active
 * in this turn (libevent runs an active queue in order), so all the frames
 * one turn brings for c leave in one write.  A socket already waiting for
 * room (wpending) is written by write_cb.
 */
static void flush_queue(struct conn *c)
{
    struct relay *r = c->relay;

    if (c->flushq || c->wpending || c->reaping) {
        return;
    }
    c->flushq = 1;
    c->fnext = NULL;
    c->fprev = r->flush_tail;
    if (r->flush_tail != NULL) {
        r->flush_tail->fnext = c;
    } else {
        r->flush_head = c;
        event_active(r->flush_ev, EV_TIMEOUT, 1);
    }
    r->flush_tail = c;
}

static void flush_unqueue(struct conn *c)
{
    struct relay *r = c->relay;

    if (!c->flushq) {
        return;
    }
    if (c->fprev != NULL) {
        c->fprev->fnext = c->fnext;
    } else {
        r->flush_head = c->fnext;
    }
    if (c->fnext != NULL) {
        c->fnext->fprev = c->fprev;
    } else {
        r->flush_tail = c->fprev;
    }
    c->fprev = c->fnext = NULL;
    c->flushq = 0;
}

/* Write c's output at once, ahead of the end of the loop turn. */
static void conn_flush_now(struct conn *c)
{
    if (c->flushq) {
        flush_unqueue(c);
        conn_flush(c);
    }
}

/* End of the loop turn: write every output queued in it (and any queued meanwhile). */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct relay *r = arg;
    struct conn *c;

    (void)fd;
    (void)what;
    while ((c = r->flush_head) != NULL) {
        flush_unqueue(c);
        conn_flush(c);
    }
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_flush(arg);
}

/*
 * Write c's output with send(2) for as long as the socket takes all of it;
 * what it does not take waits for write_cb (the write event is watched only
 * then).  A closing connection is reaped once its output is out, or when
 * the socket fails.
 */
static void conn_flush(struct conn *c)
{
    ssize_t n;
    char why[96];

    if (c->reaping) {
        return;
    }
    while (c->olen > 0) {
        n = send(c->fd, c->obuf + c->ooff, c->olen, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(why, sizeof(why), "socket error: %s", strerror(errno));
            if (c->draining) {
                srm_debug("%s: while draining: %s", who(c), why);
                conn_reap(c);
            } else {
                conn_lost(c, why);
            }
            return;
        }
        if (n > 0) {
            c->ooff += (size_t)n;
            c->olen -= (size_t)n;
        }
        if (c->olen > 0) {
            /* The socket is full: go on when it has room. */
            if (!c->wpending) {
                if (event_add(c->wev, NULL) != 0) {
                    conn_lost(c, "cannot watch the socket");
                    conn_reap(c);
                    return;
                }
                c->wpending = 1;
            }
            return;
        }
    }
    out_release(c);
    if (c->wpending) {
        event_del(c->wev);
        c->wpending = 0;
    }
    if (c->draining) {
        conn_reap(c);
    }
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
    c->draining = 0;
    if (c->rev != NULL) {
        event_del(c->rev);
    }
    if (c->wev != NULL) {
        event_del(c->wev);
    }
    c->wpending = 0;
    flush_unqueue(c);
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

/* Unlink from every list, free, and close the socket. */
static void conn_free(struct conn *c)
{
    struct relay *r = c->relay;

    /*
     * Only relay_free() frees a conn that is still online; otherwise the
     * offline queue is already empty (announce_flush() runs before any
     * callback returns).
     */
    unauth_release(c);
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
    flush_unqueue(c);
    if (c->rev != NULL) {
        event_free(c->rev);
    }
    if (c->wev != NULL) {
        event_free(c->wev);
    }
    out_release(c);
    free(c->part);
    evutil_closesocket(c->fd);
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
    struct timeval tv = {0, (suseconds_t)RELAY_SHUTDOWN_FLUSH_MS * 1000};

    if (r->shutting_down) {
        return;
    }
    r->shutting_down = 1;
    srm_info("shutting down: %zu connections, %zu online", r->nconns, r->nonline);
    if (r->listener != NULL) {
        evconnlistener_disable(r->listener);
    }
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

int relay_adopt_registered(struct relay *r, evutil_socket_t fd, const char *name,
                           struct srm_link **link)
{
    struct conn *c;

    if (srm_name_check_str(name) != 0 || strlen(name) > SRM_WIRE_MAX_NAME) {
        evutil_closesocket(fd);
        return -1;
    }
    c = conn_new(r, fd, NULL, 0);
    if (c == NULL) {
        return -1;
    }
    srm_reg_free(c->reg);
    c->reg = NULL;
    c->link = *link;
    *link = NULL;
    snprintf(c->name, sizeof(c->name), "%s", name);
    conn_enter_online(c, "(test)");
    return c->state == CONN_ONLINE ? 0 : -1;
}

/*
 * --batch-wait (on by default, 50 us): under load, pause briefly after a
 * loop turn that read something, so that the next turn finds more frames on
 * each socket.  Per forwarded batch the relay pays a recv(2) (which on
 * loopback also sends the ACK and runs the sender's TCP for it) and a
 * send(2) (which runs the receiver's TCP); a relay that comes back to each
 * socket as soon as it can pays them for one or two frames at a time when
 * clients write one message per system call, and spends most of its time in
 * the kernel (docs/BENCHMARKS.md 3c: 6.7 against 3.9 us per message).  The
 * pause is only taken while input arrives at RELAY_BATCH_READS_PER_MS reads
 * a millisecond or more, so a lightly used relay answers at once; the frames
 * read in a turn are written at the end of that turn, before the pause, so
 * it delays only input that arrives during it, by at most batch_wait_us
 * (the timer slack is set to 1 us for that).  A pause is a sleep: it costs
 * one nanosleep(2), no CPU.
 */
static int run_batching(struct relay *r)
{
    const struct timespec pause = {0, (long)r->cfg.batch_wait_us * 1000L};
    uint64_t seen, win_start = relay_now_us(), win_reads = r->reads, now;
    int loaded = 0, was;

    (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
    while (!event_base_got_exit(r->base) && !event_base_got_break(r->base)) {
        seen = r->reads;
        if (event_base_loop(r->base, EVLOOP_ONCE) < 0) {
            return -1;
        }
        now = relay_now_us();
        if (now - win_start >= 1000u) {
            was = loaded;
            loaded = (r->reads - win_reads) * 1000u >=
                     (uint64_t)RELAY_BATCH_READS_PER_MS * (now - win_start);
            if (loaded != was) {
                srm_debug("input at %llu reads in %llu us: batching %s",
                          (unsigned long long)(r->reads - win_reads),
                          (unsigned long long)(now - win_start), loaded ? "on" : "off");
            }
            win_start = now;
            win_reads = r->reads;
        }
        if (loaded && r->reads != seen) {
            (void)nanosleep(&pause, NULL);
        }
    }
    return 0;
}

/*
 * --busy-poll: after input, keep polling (epoll_wait with no timeout, timers
 * and all) until busy_poll_us have passed without any, and only then sleep.
 * Sleeping costs each message a wake-up of an idle CPU, which on a VM is
 * tens of microseconds typically and milliseconds at the tail (the host
 * must schedule the virtual CPU again); polling trades CPU time for that.
 * Off (0) by default: an idle or lightly used relay should not burn a core.
 */
int relay_run(struct relay *r)
{
    uint64_t last, seen;

    if (r->cfg.busy_poll_us == 0 && r->cfg.batch_wait_us == 0) {
        return event_base_dispatch(r->base) < 0 ? -1 : 0;
    }
    if (r->cfg.busy_poll_us == 0) {
        return run_batching(r);
    }
    while (!event_base_got_exit(r->base) && !event_base_got_break(r->base)) {
        if (event_base_loop(r->base, EVLOOP_ONCE) < 0) {
            return -1;
        }
        seen = r->reads;
        last = relay_now_us();
        while (!event_base_got_exit(r->base) && !event_base_got_break(r->base) &&
               relay_now_us() - last < r->cfg.busy_poll_us) {
            if (event_base_loop(r->base, EVLOOP_NONBLOCK) < 0) {
                return -1;
            }
            if (r->reads != seen) {
                seen = r->reads;
                last = relay_now_us();
            }
        }
    }
    return 0;
}

size_t relay_count(const struct relay *r, size_t *unauth)
{
    if (unauth != NULL) {
        *unauth = r->nunauth;
    }
    return r->nconns;
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
    /* Nothing else is freed meanwhile (shutting_down, busy), so next stays valid. */
    for (struct conn *c = r->conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_free(c);
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
    if (r->flush_ev != NULL) {
        event_free(r->flush_ev);
    }
    free(r->rbuf);
    while (r->nopool > 0) {
        free(r->opool[--r->nopool]);
    }
    if (r->stop_timer != NULL) {
        event_free(r->stop_timer);
    }
    /* After the connections: their last OFF went out through it. */
    cluster_free(r->cluster);
    names_free(&r->names);
    sources_free(&r->srcs);
    users_free(&r->users);
    free(r->scratch);
    free(r->list);
    srm_key_free(r->key);
    free(r);
}

/*
 * Cluster glue (cluster.h, docs/CLUSTER.md): how the cluster reaches the
 * local connections.  The cluster calls these from its own loop callbacks,
 * never from inside another relay callback, so the scratch buffer is free.
 */
static int cluster_deliver_cb(void *arg, const char *to, const char *from, const uint8_t *payload,
                              size_t n)
{
    struct relay *r = arg;
    struct conn *dst = names_find(&r->names, to, strlen(to));
    struct srm_buf b;

    if (dst == NULL || dst->state != CONN_ONLINE) {
        return -1;
    }
    srm_buf_init_write(&b, r->scratch, SRM_LINK_MAX_PT);
    if (srm_msg_put_deliver(&b, from, payload, n) != 0) {
        return -1;
    }
    conn_send(dst, b.data, b.len);
    return 0;
}

/* PRESENCE of a user on another node to every local client. */
static void cluster_presence_cb(void *arg, const char *name, int online)
{
    struct relay *r = arg;
    struct conn *o, *next;
    struct srm_buf b;
    uint8_t msg[PRESENCE_MAX];

    if (r->shutting_down || names_find(&r->names, name, strlen(name)) != NULL) {
        return;
    }
    srm_buf_init_write(&b, msg, sizeof(msg));
    if (srm_msg_put_presence(&b, name, online ? SRM_PRESENCE_ONLINE : SRM_PRESENCE_OFFLINE) != 0) {
        return;
    }
    srm_debug("PRESENCE %s %s (another node) to the local clients", name,
              online ? "online" : "offline");
    r->busy++;
    for (o = r->online_head; o != NULL; o = next) {
        next = o->onext;
        conn_send(o, b.data, b.len);
    }
    r->busy--;
    announce_flush(r);
}

/* A newer registration on another node: as a local replacement, no offline announcement. */
static void cluster_displace_cb(void *arg, const char *name)
{
    struct relay *r = arg;
    struct conn *old = names_find(&r->names, name, strlen(name));

    if (old == NULL) {
        return;
    }
    names_remove(&r->names, old);
    send_simple(old, SRM_MSG_BYE, 0, SRM_REASON_REPLACED);
    conn_finish(old, "replaced by a newer registration on another cluster node");
}

static void cluster_undeliverable_cb(void *arg, const char *from, const char *to, uint32_t ref,
                                     uint8_t reason)
{
    struct relay *r = arg;
    struct conn *c = names_find(&r->names, from, strlen(from));

    if (c != NULL && c->state == CONN_ONLINE) {
        send_undeliverable(c, to, ref, reason);
    }
}

/* No retry left for NATS: stop as a shutdown does, so the clients move to another node. */
static void cluster_fatal_cb(void *arg, const char *why)
{
    struct relay *r = arg;

    srm_error("%s", why);
    r->cluster_failed = 1;
    relay_shutdown(r);
}

int relay_join_cluster(struct relay *r, const struct cluster_config *cfg)
{
    static const struct cluster_ops ops = {
        .deliver = cluster_deliver_cb,
        .presence = cluster_presence_cb,
        .displace = cluster_displace_cb,
        .undeliverable = cluster_undeliverable_cb,
        .fatal = cluster_fatal_cb,
    };

    return cluster_new(r->base, cfg, &ops, r, &r->cluster);
}

int relay_cluster_failed(const struct relay *r)
{
    return r->cluster_failed;
}

/* For log lines: the authenticated name once there is one, else the address. */
static const char *who(const struct conn *c)
{
    return c->name[0] != '\0' ? c->name : c->addr;
}
