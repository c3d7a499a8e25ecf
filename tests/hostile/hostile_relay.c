/* SPDX-License-Identifier: MIT */
/*
 * hostile_relay.c: a relay for tests that speaks the real protocol to every
 * client but attacks the end-to-end layer once, then behaves honestly.
 *
 *   1. client -> relay: registration through srm_reg_new_relay / srm_reg_recv
 *      (the same library state machine as the real relay), WELCOME, PRESENCE
 *   2. client -> relay: SEND(to, ref, payload) -> DELIVER(from, payload)
 *      to `to`, UNDELIVERABLE if `to` is offline; WHO, PING, BYE as usual
 *   3. once, on the victim's Nth DATA record (or its first HS_INIT for the
 *      handshake attacks), --attack MODE does one of:
 *        tamper-seq|tamper-iv|tamper-ct|tamper-tag  flip one bit of that field
 *        truncate   cut the last 8 bytes off the record
 *        replay     deliver the record twice
 *        reorder    hold it back and deliver it after the victim's next payload
 *        drop       never deliver it
 *        reflect    also deliver it back to its sender as if from the recipient
 *        swap-eph   replace eph_i in the victim's first HS_INIT with a fresh key
 *        misbind    also deliver the victim's first HS_INIT as if from --as NAME
 *        replay-hs  first run (no --hs-file yet): record the victim's first
 *                   HS_INIT there; later runs: deliver that old HS_INIT to
 *                   the same recipient just before the victim's Nth DATA record
 *        none       honest throughout
 *      and prints "hostile: attack MODE applied ..." on stderr.
 *
 * The routing is deliberately simple (a fixed table, no rate limits, no
 * registration deadline): it exists to show that the clients, not the
 * relay, defend the end-to-end layer.
 *
 * --keylog FILE appends, for each client that registers, one line
 *   NAME LINK_KEY_C2R LINK_KEY_R2C IV_C2R IV_R2C LINK_ID   (lowercase hex)
 * so that tests/integration/test_no_key_in_logs.py can search the logs for
 * derived keys.  srm_reg builds the link inside srm_reg_recv() and keeps the
 * keys hidden, so this program is linked with --wrap=srm_link_new (see
 * tests/CMakeLists.txt): the library's own call passes through
 * __wrap_srm_link_new() below, which copies the keys out.  Neither the
 * library nor the real relay or client can export them.  Before a line is
 * written, the copied keys must open both CONFIRM records of that client's
 * registration (r2c in the CHALLENGE sent, c2r in the RESPONSE received).
 *
 * Usage:
 *   hostile_relay --listen ADDR:PORT --keys DIR --attack MODE [--victim NAME]
 *                 [--nth N] [--as NAME] [--hs-file PATH] [--keylog FILE] [--debug]
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/kdf.h"
#include "srm/link.h"
#include "srm/msg.h"
#include "srm/reg.h"
#include "srm/wire.h"

#define MAX_CONNS    32
#define HOLD_SECONDS 3
/* Bound on a recorded HS_INIT (it is 2 + 2 + two names + 64 bytes). */
#define HS_FILE_MAX 4096u
/* A message record payload: kind (1) || seq (8) || iv (16) || ct || tag (32). */
#define REC_SEQ_OFF 1u
#define REC_IV_OFF  (REC_SEQ_OFF + SRM_RECORD_SEQ_LEN)
#define REC_CT_OFF  (REC_IV_OFF + SRM_RECORD_IV_LEN)
/* An ACK's ciphertext is exactly 9 bytes (type || msg_id); a DATA with text is longer. */
#define ACK_CT_LEN 9u
/* The sealed CONFIRM (type || TH, then the GCM tag) that ends CHALLENGE and RESPONSE. */
#define CONFIRM_REC_LEN (1u + SRM_HASH_LEN + SRM_LINK_TAG_LEN)

enum attack {
    ATK_NONE,
    ATK_TAMPER_SEQ,
    ATK_TAMPER_IV,
    ATK_TAMPER_CT,
    ATK_TAMPER_TAG,
    ATK_TRUNCATE,
    ATK_REPLAY,
    ATK_REORDER,
    ATK_DROP,
    ATK_REFLECT,
    ATK_SWAP_EPH,
    ATK_MISBIND,
    ATK_REPLAY_HS,
};

struct conn {
    struct hostile *h;
    struct bufferevent *bev;
    struct srm_reg *reg;
    struct srm_link *link;
    char name[SRM_WIRE_MAX_NAME + 1];
    int online;
    int dead;
    struct srm_link_keys keys; /* --keylog: this link's keys, until written */
    int have_keys;
    int r2c_ok; /* keys.key_r2c opened our CONFIRM */
    int c2r_ok; /* keys.key_c2r opened the client's CONFIRM */
};

struct held {
    uint8_t *payload;
    size_t len;
    char from[SRM_WIRE_MAX_NAME + 1];
    char to[SRM_WIRE_MAX_NAME + 1];
};

struct hostile {
    struct event_base *base;
    struct srm_key *key;
    const char *keys_dir;
    enum attack attack;
    const char *mode;
    char victim[SRM_WIRE_MAX_NAME + 1];
    char as[SRM_WIRE_MAX_NAME + 1];
    const char *hs_file;
    const char *keylog;
    unsigned long nth;
    unsigned long seen; /* victim's DATA records so far */
    int applied;
    int debug;
    uint8_t *old_hs; /* replay-hs: HS_INIT from an earlier run */
    size_t old_hs_len;
    struct held held; /* reorder */
    struct event *hold_timer;
    struct conn *conns[MAX_CONNS];
    uint8_t scratch[SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME];
};

static int parse_args(struct hostile *h, int argc, char **argv, char *host, size_t hostlen,
                      uint16_t *port);
static int lookup_cb(void *arg, const char *name, struct srm_key **pub);
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg);
static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void reg_frame(struct conn *c, const struct srm_frame *f);
static void keys_take(struct conn *c, int rc, const struct srm_buf *out, const struct srm_frame *f);
static int confirm_opens(const uint8_t key[SRM_LINK_KEY_LEN], const uint8_t iv[SRM_LINK_IV_LEN],
                         const uint8_t link_id[SRM_LINK_ID_LEN], const uint8_t *p, size_t n);
static void conn_online(struct conn *c);
static void keylog_write(struct conn *c);
static void hex(char *dst, const uint8_t *p, size_t n);
static void link_frame(struct conn *c, uint8_t *body, size_t n);
static void on_send(struct conn *c, const struct srm_msg *m);
static int is_data_record(const uint8_t *p, size_t n);
static void attack_record(struct conn *c, const struct srm_msg *m);
static void attack_hs_init(struct conn *c, const struct srm_msg *m);
static void deliver(struct hostile *h, const char *from, const char *to, const uint8_t *p,
                    size_t n);
static void release_held(struct hostile *h);
static void hold_timer_cb(evutil_socket_t fd, short what, void *arg);
static void applied(struct hostile *h, const char *detail);
static struct conn *find_online(struct hostile *h, const char *name);
static void conn_send(struct conn *c, const uint8_t *pt, size_t n);
static void send_list(struct conn *c, uint8_t type, const struct conn *exclude);
static void presence(struct hostile *h, const struct conn *about, uint8_t status);
static void conn_close(struct conn *c, const char *why);
static void free_cb(evutil_socket_t fd, short what, void *arg);
static int save_file(const char *path, const uint8_t *p, size_t n);
static int load_file(const char *path, uint8_t **p, size_t *n);
static void dbg(const struct hostile *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The linker's names for the wrapped library function and the original. */
int __wrap_srm_link_new(const struct srm_link_keys *k, enum srm_link_role role,
                        struct srm_link **out);
int __real_srm_link_new(const struct srm_link_keys *k, enum srm_link_role role,
                        struct srm_link **out);

/*
 * The keys of the link srm_reg_recv() built last (relay role only).  A file
 * static because the wrapper has no context argument; the event loop is
 * single-threaded, so it always belongs to the connection in reg_frame().
 */
static struct srm_link_keys captured_keys;
static int captured;

static const struct {
    const char *name;
    enum attack attack;
} modes[] = {
    {"none", ATK_NONE},           {"tamper-seq", ATK_TAMPER_SEQ}, {"tamper-iv", ATK_TAMPER_IV},
    {"tamper-ct", ATK_TAMPER_CT}, {"tamper-tag", ATK_TAMPER_TAG}, {"truncate", ATK_TRUNCATE},
    {"replay", ATK_REPLAY},       {"reorder", ATK_REORDER},       {"drop", ATK_DROP},
    {"reflect", ATK_REFLECT},     {"swap-eph", ATK_SWAP_EPH},     {"misbind", ATK_MISBIND},
    {"replay-hs", ATK_REPLAY_HS},
};

int main(int argc, char **argv)
{
    static struct hostile h;
    struct evconnlistener *l = NULL;
    struct sockaddr_in sin;
    char host[64], path[4096];
    uint16_t port = 0;
    int rc = 1;

    signal(SIGPIPE, SIG_IGN);
    if (parse_args(&h, argc, argv, host, sizeof(host), &port) != 0) {
        return 2;
    }
    snprintf(path, sizeof(path), "%s/relay.key", h.keys_dir);
    if (srm_key_load_private(path, &h.key) != 0) {
        fprintf(stderr, "error: hostile: cannot load %s\n", path);
        return 1;
    }
    if (h.attack == ATK_REPLAY_HS && load_file(h.hs_file, &h.old_hs, &h.old_hs_len) == 0) {
        fprintf(stderr, "hostile: loaded an HS_INIT of %zu bytes from an earlier run\n",
                h.old_hs_len);
    }
    h.base = event_base_new();
    if (h.base == NULL) {
        goto out;
    }
    h.hold_timer = evtimer_new(h.base, hold_timer_cb, &h);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (h.hold_timer == NULL || evutil_inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        fprintf(stderr, "error: hostile: bad listen address %s\n", host);
        goto out;
    }
    l = evconnlistener_new_bind(h.base, accept_cb, &h, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
                                64, (struct sockaddr *)&sin, sizeof(sin));
    if (l == NULL) {
        fprintf(stderr, "error: hostile: cannot listen on %s:%u: %s\n", host, (unsigned)port,
                strerror(errno));
        goto out;
    }
    fprintf(stderr, "hostile: listening on %s:%u, attack %s on %s\n", host, (unsigned)port, h.mode,
            h.victim);
    event_base_dispatch(h.base);
    rc = 0;
out:
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (h.conns[i] != NULL) {
            bufferevent_free(h.conns[i]->bev);
            srm_reg_free(h.conns[i]->reg);
            srm_link_free(h.conns[i]->link);
            srm_kdf_link_wipe(&h.conns[i]->keys);
            free(h.conns[i]);
        }
    }
    if (l != NULL) {
        evconnlistener_free(l);
    }
    if (h.hold_timer != NULL) {
        event_free(h.hold_timer);
    }
    if (h.base != NULL) {
        event_base_free(h.base);
    }
    free(h.held.payload);
    free(h.old_hs);
    srm_key_free(h.key);
    return rc;
}

static int parse_args(struct hostile *h, int argc, char **argv, char *host, size_t hostlen,
                      uint16_t *port)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},  {"keys", required_argument, NULL, 'k'},
        {"attack", required_argument, NULL, 'a'},  {"victim", required_argument, NULL, 'v'},
        {"nth", required_argument, NULL, 'n'},     {"as", required_argument, NULL, 's'},
        {"hs-file", required_argument, NULL, 'f'}, {"keylog", required_argument, NULL, 'K'},
        {"debug", no_argument, NULL, 'd'},         {NULL, 0, NULL, 0},
    };
    const char *listen = "127.0.0.1:7447", *colon;
    char *end;
    unsigned long v;
    int o;

    h->keys_dir = "keys";
    h->mode = "none";
    h->nth = 2;
    snprintf(h->victim, sizeof(h->victim), "alice");
    snprintf(h->as, sizeof(h->as), "carol");
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
            listen = optarg;
            break;
        case 'k':
            h->keys_dir = optarg;
            break;
        case 'a':
            h->mode = optarg;
            break;
        case 'v':
            snprintf(h->victim, sizeof(h->victim), "%s", optarg);
            break;
        case 'n':
            h->nth = strtoul(optarg, &end, 10);
            if (*end != '\0' || h->nth == 0) {
                fprintf(stderr, "error: hostile: --nth needs a number >= 1\n");
                return -1;
            }
            break;
        case 's':
            snprintf(h->as, sizeof(h->as), "%s", optarg);
            break;
        case 'f':
            h->hs_file = optarg;
            break;
        case 'K':
            h->keylog = optarg;
            break;
        case 'd':
            h->debug = 1;
            break;
        default:
            return -1;
        }
    }
    h->attack = (enum attack) - 1;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(modes[i].name, h->mode) == 0) {
            h->attack = modes[i].attack;
        }
    }
    if ((int)h->attack == -1) {
        fprintf(stderr, "error: hostile: unknown --attack %s\n", h->mode);
        return -1;
    }
    if (h->attack == ATK_REPLAY_HS && h->hs_file == NULL) {
        fprintf(stderr, "error: hostile: replay-hs needs --hs-file PATH\n");
        return -1;
    }
    colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= hostlen) {
        fprintf(stderr, "error: hostile: --listen ADDR:PORT\n");
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    v = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || v == 0 || v > 65535) {
        fprintf(stderr, "error: hostile: bad port in %s\n", listen);
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

static int lookup_cb(void *arg, const char *name, struct srm_key **pub)
{
    const struct hostile *h = arg;
    char path[4096];

    if (srm_name_check_str(name) != 0 || strcmp(name, "relay") == 0) {
        return SRM_ERR_UNKNOWN_USER;
    }
    snprintf(path, sizeof(path), "%s/%s.pub", h->keys_dir, name);
    return srm_key_load_public(path, pub) == 0 ? 0 : SRM_ERR_UNKNOWN_USER;
}

/* 1. A new connection: registration through the library's relay state machine. */
static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct hostile *h = arg;
    struct conn *c;
    size_t i;

    (void)l;
    (void)sa;
    (void)salen;
    for (i = 0; i < MAX_CONNS && h->conns[i] != NULL; i++) {
    }
    c = i < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->h = h;
    c->bev = bufferevent_socket_new(h->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL || srm_reg_new_relay(h->key, lookup_cb, h, &c->reg) != 0) {
        if (c->bev != NULL) {
            bufferevent_free(c->bev);
        } else {
            evutil_closesocket(fd);
        }
        free(c);
        return;
    }
    h->conns[i] = c;
    bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
    if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
        conn_close(c, "cannot watch the socket");
    }
}

/* Whole frames only: peek at the header, pull up one frame, handle it, drain. */
static void read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    uint8_t hdr[SRM_WIRE_FRAME_HDR];
    struct srm_frame f;
    size_t need, used;
    uint8_t *p;
    int rc;

    while (!c->dead && evbuffer_get_length(in) >= SRM_WIRE_FRAME_HDR) {
        if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr)) {
            conn_close(c, "cannot read input");
            return;
        }
        rc = srm_frame_decode(hdr, sizeof(hdr), &f, &need);
        if (rc == 0) {
            need = SRM_WIRE_FRAME_HDR;
        } else if (rc != SRM_ERR_MSG_INCOMPLETE) {
            conn_close(c, "bad frame header");
            return;
        }
        if (evbuffer_get_length(in) < need) {
            return;
        }
        p = evbuffer_pullup(in, (ev_ssize_t)need);
        if (p == NULL || srm_frame_decode(p, need, &f, &used) != 0 || used != need) {
            conn_close(c, "bad frame");
            return;
        }
        if (!c->online) {
            reg_frame(c, &f);
        } else if (f.type == SRM_FRAME_LINK) {
            link_frame(c, p + SRM_WIRE_FRAME_HDR, f.body_len);
        } else {
            conn_close(c, "plaintext frame after registration");
        }
        if (evbuffer_drain(in, need) != 0) {
            conn_close(c, "cannot drain input");
        }
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        conn_close(arg, "closed by peer");
    }
}

static void reg_frame(struct conn *c, const struct srm_frame *f)
{
    struct hostile *h = c->h;
    struct srm_buf out;
    int rc;

    srm_buf_init_write(&out, h->scratch, sizeof(h->scratch));
    rc = srm_reg_recv(c->reg, f, &out);
    keys_take(c, rc, &out, f);
    if (out.len > 0) {
        (void)bufferevent_write(c->bev, out.data, out.len);
    }
    if (rc != 0) {
        conn_close(c, "registration refused");
        return;
    }
    if (srm_reg_is_done(c->reg)) {
        conn_online(c);
    }
}

/*
 * --keylog: take the keys srm_reg_recv() just built (on REG_HELLO) and check
 * each direction against the CONFIRM record sealed under it: ours ends the
 * CHALLENGE in out, the client's ends the RESPONSE in f.
 */
static void keys_take(struct conn *c, int rc, const struct srm_buf *out, const struct srm_frame *f)
{
    struct srm_link_keys *k = &c->keys;

    if (captured) {
        *k = captured_keys;
        srm_kdf_link_wipe(&captured_keys);
        captured = 0;
        c->have_keys = rc == 0;
        c->r2c_ok =
            rc == 0 && confirm_opens(k->key_r2c, k->iv_r2c, k->link_id, out->data, out->len) == 0;
    }
    if (rc == 0 && c->have_keys && srm_reg_is_done(c->reg)) {
        c->c2r_ok = confirm_opens(k->key_c2r, k->iv_c2r, k->link_id, f->body, f->body_len) == 0;
    }
    if (rc != 0 || !c->have_keys) {
        srm_kdf_link_wipe(k);
        c->have_keys = 0;
    }
}

/* 0 if the last CONFIRM_REC_LEN bytes of p open as a CONFIRM at seq 0 under these keys. */
static int confirm_opens(const uint8_t key[SRM_LINK_KEY_LEN], const uint8_t iv[SRM_LINK_IV_LEN],
                         const uint8_t link_id[SRM_LINK_ID_LEN], const uint8_t *p, size_t n)
{
    struct srm_link_dir *d = NULL;
    uint8_t pt[CONFIRM_REC_LEN - SRM_LINK_TAG_LEN];
    int r = -1;

    if (n < CONFIRM_REC_LEN || srm_link_dir_new(key, iv, link_id, &d) != 0) {
        goto out;
    }
    if (srm_link_dir_open(d, p + (n - CONFIRM_REC_LEN), CONFIRM_REC_LEN, pt) == 0 &&
        pt[0] == SRM_MSG_CONFIRM) {
        r = 0;
    }
out:
    srm_wipe(pt, sizeof(pt));
    srm_link_dir_free(d);
    return r;
}

static void conn_online(struct conn *c)
{
    struct hostile *h = c->h;
    struct conn *old;

    if (srm_reg_take_link(c->reg, &c->link) != 0) {
        conn_close(c, "no link after registration");
        return;
    }
    snprintf(c->name, sizeof(c->name), "%s", srm_reg_name(c->reg));
    srm_reg_free(c->reg);
    c->reg = NULL;
    old = find_online(h, c->name);
    if (old != NULL) {
        old->online = 0;
        conn_close(old, "replaced");
    }
    c->online = 1;
    keylog_write(c);
    fprintf(stderr, "hostile: registered %s\n", c->name);
    send_list(c, SRM_MSG_WELCOME, c);
    presence(h, c, SRM_PRESENCE_ONLINE);
}

/* One line per registration; the keys are wiped from c either way. */
static void keylog_write(struct conn *c)
{
    const struct srm_link_keys *k = &c->keys;
    char line[SRM_WIRE_MAX_NAME + 8u + 2u * sizeof(struct srm_link_keys)];
    char *p = line;
    FILE *f;
    int ok;

    if (c->h->keylog == NULL) {
        goto out;
    }
    if (!c->have_keys || !c->r2c_ok || !c->c2r_ok) {
        fprintf(stderr, "hostile: keylog: no checked link keys for %s\n", c->name);
        goto out;
    }
    p += snprintf(p, sizeof(line), "%s ", c->name);
    hex(p, k->key_c2r, sizeof(k->key_c2r));
    p += 2u * sizeof(k->key_c2r);
    *p++ = ' ';
    hex(p, k->key_r2c, sizeof(k->key_r2c));
    p += 2u * sizeof(k->key_r2c);
    *p++ = ' ';
    hex(p, k->iv_c2r, sizeof(k->iv_c2r));
    p += 2u * sizeof(k->iv_c2r);
    *p++ = ' ';
    hex(p, k->iv_r2c, sizeof(k->iv_r2c));
    p += 2u * sizeof(k->iv_r2c);
    *p++ = ' ';
    hex(p, k->link_id, sizeof(k->link_id));
    f = fopen(c->h->keylog, "a");
    if (f == NULL) {
        fprintf(stderr, "error: hostile: cannot open %s: %s\n", c->h->keylog, strerror(errno));
        goto out;
    }
    ok = fprintf(f, "%s\n", line) > 0;
    ok = fclose(f) == 0 && ok;
    fprintf(stderr, "hostile: keylog: %s %s's link keys (both CONFIRM records opened)\n",
            ok ? "wrote" : "could not write", c->name);
out:
    srm_wipe(line, sizeof(line));
    srm_kdf_link_wipe(&c->keys);
    c->have_keys = 0;
}

/* n bytes as 2n lowercase hex digits and a NUL (dst has room for 2n + 1). */
static void hex(char *dst, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        dst[2u * i] = digits[p[i] >> 4];
        dst[2u * i + 1u] = digits[p[i] & 0x0fu];
    }
    dst[2u * n] = '\0';
}

/* 2. One link record from an online client. */
static void link_frame(struct conn *c, uint8_t *body, size_t n)
{
    struct srm_msg m;
    struct srm_buf b;
    uint8_t out[32];
    const uint8_t *pt;
    size_t ptlen;

    if (srm_link_open_body(c->link, body, n, &pt, &ptlen) != 0 ||
        srm_msg_parse(pt, ptlen, &m) != 0) {
        conn_close(c, "bad link record");
        return;
    }
    switch (m.type) {
    case SRM_MSG_SEND:
        on_send(c, &m);
        break;
    case SRM_MSG_WHO:
        send_list(c, SRM_MSG_WHO_REPLY, NULL);
        break;
    case SRM_MSG_PING:
        srm_buf_init_write(&b, out, sizeof(out));
        if (srm_msg_put_ping(&b, SRM_MSG_PONG, m.token) == 0) {
            conn_send(c, b.data, b.len);
        }
        break;
    case SRM_MSG_PONG:
        break;
    default:
        conn_close(c, "goodbye or protocol violation");
        break;
    }
}

/* 3. SEND: honest routing, except for the one payload the attack picks. */
static void on_send(struct conn *c, const struct srm_msg *m)
{
    struct hostile *h = c->h;
    uint8_t out[64];
    struct srm_buf b;
    int victim = strcmp(c->name, h->victim) == 0;

    dbg(h, "SEND %s -> %s kind 0x%02x, %zu bytes", c->name, m->name,
        m->data_len > 0 ? (unsigned)m->data[0] : 0u, m->data_len);
    if (find_online(h, m->name) == NULL || strcmp(m->name, c->name) == 0) {
        srm_buf_init_write(&b, out, sizeof(out));
        if (srm_msg_put_undeliverable(&b, m->name, m->ref, SRM_REASON_OFFLINE) == 0) {
            conn_send(c, b.data, b.len);
        }
        return;
    }
    if (victim && h->held.payload != NULL) {
        /* reorder: this payload overtakes the held one. */
        deliver(h, c->name, m->name, m->data, m->data_len);
        release_held(h);
        return;
    }
    if (victim && !h->applied && m->data_len > 0 && m->data[0] == SRM_E2E_HS_INIT) {
        attack_hs_init(c, m);
        return;
    }
    if (victim && !h->applied && is_data_record(m->data, m->data_len) && ++h->seen == h->nth) {
        attack_record(c, m);
        return;
    }
    deliver(h, c->name, m->name, m->data, m->data_len);
}

/* A RECORD payload whose ciphertext is longer than an ACK's: DATA with text. */
static int is_data_record(const uint8_t *p, size_t n)
{
    return n > 1u + SRM_RECORD_OVERHEAD + ACK_CT_LEN && p[0] == SRM_E2E_RECORD;
}

static void attack_record(struct conn *c, const struct srm_msg *m)
{
    struct hostile *h = c->h;
    uint8_t *p = malloc(m->data_len);
    size_t n = m->data_len;
    char detail[160];

    if (p == NULL) {
        deliver(h, c->name, m->name, m->data, n);
        return;
    }
    memcpy(p, m->data, n);
    snprintf(detail, sizeof(detail), "on %s's DATA record #%lu to %s (%zu bytes)", c->name, h->nth,
             m->name, n);
    switch (h->attack) {
    case ATK_TAMPER_SEQ:
        p[REC_SEQ_OFF + SRM_RECORD_SEQ_LEN - 1u] ^= 0x01u;
        deliver(h, c->name, m->name, p, n);
        break;
    case ATK_TAMPER_IV:
        p[REC_IV_OFF + 3u] ^= 0x10u;
        deliver(h, c->name, m->name, p, n);
        break;
    case ATK_TAMPER_CT:
        /* The text, past the inner type and msg_id: the bit a forger would want to flip. */
        p[REC_CT_OFF + ACK_CT_LEN] ^= 0x01u;
        deliver(h, c->name, m->name, p, n);
        break;
    case ATK_TAMPER_TAG:
        p[n - 1u] ^= 0x80u;
        deliver(h, c->name, m->name, p, n);
        break;
    case ATK_TRUNCATE:
        deliver(h, c->name, m->name, p, n - 8u);
        break;
    case ATK_REPLAY:
        deliver(h, c->name, m->name, p, n);
        deliver(h, c->name, m->name, p, n);
        break;
    case ATK_REORDER: {
        struct timeval tv = {HOLD_SECONDS, 0};
        h->held.payload = p;
        h->held.len = n;
        p = NULL;
        snprintf(h->held.from, sizeof(h->held.from), "%s", c->name);
        snprintf(h->held.to, sizeof(h->held.to), "%s", m->name);
        /* Released after the next payload, or after a while if none comes. */
        (void)evtimer_add(h->hold_timer, &tv);
        break;
    }
    case ATK_DROP:
        break;
    case ATK_REFLECT:
        deliver(h, c->name, m->name, p, n);
        deliver(h, m->name, c->name, p, n);
        break;
    case ATK_REPLAY_HS:
        if (h->old_hs == NULL) {
            deliver(h, c->name, m->name, p, n);
            free(p);
            return; /* first run: nothing to replay (yet) */
        }
        deliver(h, c->name, m->name, h->old_hs, h->old_hs_len);
        deliver(h, c->name, m->name, p, n);
        snprintf(detail, sizeof(detail), "old HS_INIT (%zu bytes) from %s delivered to %s",
                 h->old_hs_len, c->name, m->name);
        break;
    default:
        deliver(h, c->name, m->name, p, n);
        free(p);
        return;
    }
    free(p);
    applied(h, detail);
}

static void attack_hs_init(struct conn *c, const struct srm_msg *m)
{
    struct hostile *h = c->h;
    uint8_t *p = malloc(m->data_len);
    uint8_t priv[SRM_X25519_LEN];
    size_t n = m->data_len;
    char detail[160];

    if (p == NULL || n < SRM_X25519_LEN) {
        deliver(h, c->name, m->name, m->data, n);
        free(p);
        return;
    }
    memcpy(p, m->data, n);
    switch (h->attack) {
    case ATK_SWAP_EPH:
        /* eph_i is the last field of HS_INIT: the relay's own key in its place. */
        if (srm_x25519_keygen(priv, p + (n - SRM_X25519_LEN)) != 0) {
            break;
        }
        srm_wipe(priv, sizeof(priv));
        deliver(h, c->name, m->name, p, n);
        snprintf(detail, sizeof(detail), "eph_i of %s's HS_INIT to %s replaced", c->name, m->name);
        applied(h, detail);
        free(p);
        return;
    case ATK_MISBIND:
        /* The same HS_INIT, but the relay vouches for another sender. */
        deliver(h, h->as, m->name, p, n);
        snprintf(detail, sizeof(detail), "%s's HS_INIT delivered to %s as if from %s", c->name,
                 m->name, h->as);
        applied(h, detail);
        break;
    case ATK_REPLAY_HS:
        if (h->old_hs == NULL) {
            if (save_file(h->hs_file, p, n) == 0) {
                fprintf(stderr, "hostile: recorded %s's HS_INIT to %s (%zu bytes) in %s\n", c->name,
                        m->name, n, h->hs_file);
            }
            /* Recording is not the attack: later runs replay it. */
            h->old_hs = p;
            h->old_hs_len = n;
            p = NULL;
            h->applied = 1;
        }
        break;
    default:
        break;
    }
    deliver(h, c->name, m->name, m->data, n);
    free(p);
}

static void deliver(struct hostile *h, const char *from, const char *to, const uint8_t *p, size_t n)
{
    struct conn *dst = find_online(h, to);
    struct srm_buf b;

    if (dst == NULL) {
        return;
    }
    srm_buf_init_write(&b, h->scratch, SRM_LINK_MAX_PT);
    if (srm_msg_put_deliver(&b, from, p, n) != 0) {
        return;
    }
    dbg(h, "DELIVER %s -> %s kind 0x%02x, %zu bytes", from, to, n > 0 ? (unsigned)p[0] : 0u, n);
    conn_send(dst, b.data, b.len);
}

static void release_held(struct hostile *h)
{
    uint8_t *p = h->held.payload;

    if (p == NULL) {
        return;
    }
    h->held.payload = NULL;
    evtimer_del(h->hold_timer);
    deliver(h, h->held.from, h->held.to, p, h->held.len);
    free(p);
}

static void hold_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    release_held(arg);
}

static void applied(struct hostile *h, const char *detail)
{
    h->applied = 1;
    fprintf(stderr, "hostile: attack %s applied %s\n", h->mode, detail);
}

static struct conn *find_online(struct hostile *h, const char *name)
{
    for (size_t i = 0; i < MAX_CONNS; i++) {
        struct conn *c = h->conns[i];
        if (c != NULL && c->online && !c->dead && strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

static void conn_send(struct conn *c, const uint8_t *pt, size_t n)
{
    static uint8_t frame[SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME];
    struct srm_buf b;

    if (c->dead || c->link == NULL) {
        return;
    }
    srm_buf_init_write(&b, frame, sizeof(frame));
    if (srm_link_seal_frame(c->link, pt, n, &b) != 0 ||
        bufferevent_write(c->bev, b.data, b.len) != 0) {
        conn_close(c, "cannot send");
    }
}

static void send_list(struct conn *c, uint8_t type, const struct conn *exclude)
{
    struct hostile *h = c->h;
    const char *names[MAX_CONNS];
    uint8_t buf[MAX_CONNS * (SRM_WIRE_MAX_NAME + 1u) + 8u];
    struct srm_buf b;
    size_t count = 0;

    for (size_t i = 0; i < MAX_CONNS; i++) {
        const struct conn *o = h->conns[i];
        if (o != NULL && o->online && !o->dead && o != exclude) {
            names[count++] = o->name;
        }
    }
    srm_buf_init_write(&b, buf, sizeof(buf));
    if (srm_msg_put_list(&b, type, names, count) == 0) {
        conn_send(c, b.data, b.len);
    }
}

static void presence(struct hostile *h, const struct conn *about, uint8_t status)
{
    uint8_t buf[64];
    struct srm_buf b;

    srm_buf_init_write(&b, buf, sizeof(buf));
    if (srm_msg_put_presence(&b, about->name, status) != 0) {
        return;
    }
    for (size_t i = 0; i < MAX_CONNS; i++) {
        struct conn *o = h->conns[i];
        if (o != NULL && o != about && o->online && !o->dead) {
            conn_send(o, b.data, b.len);
        }
    }
}

/* Mark dead now, free in a later loop turn: callers up the stack still hold c. */
static void conn_close(struct conn *c, const char *why)
{
    struct hostile *h = c->h;
    struct timeval zero = {0, 0};
    int was_online = c->online;

    if (c->dead) {
        return;
    }
    c->dead = 1;
    c->online = 0;
    dbg(h, "closing %s: %s", c->name[0] != '\0' ? c->name : "(unregistered)", why);
    bufferevent_disable(c->bev, EV_READ);
    if (was_online && find_online(h, c->name) == NULL) {
        presence(h, c, SRM_PRESENCE_OFFLINE);
    }
    if (event_base_once(h->base, -1, EV_TIMEOUT, free_cb, c, &zero) != 0) {
        fprintf(stderr, "hostile: cannot schedule a free\n");
    }
}

static void free_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct hostile *h = c->h;

    (void)fd;
    (void)what;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (h->conns[i] == c) {
            h->conns[i] = NULL;
        }
    }
    bufferevent_free(c->bev);
    srm_reg_free(c->reg);
    srm_link_free(c->link);
    srm_kdf_link_wipe(&c->keys);
    free(c);
}

static int save_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (f == NULL) {
        return -1;
    }
    ok = fwrite(p, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int load_file(const char *path, uint8_t **p, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t got;

    if (f == NULL) {
        return -1;
    }
    buf = malloc(HS_FILE_MAX);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    got = fread(buf, 1, HS_FILE_MAX, f);
    fclose(f);
    if (got == 0) {
        free(buf);
        return -1;
    }
    *p = buf;
    *n = got;
    return 0;
}

static void dbg(const struct hostile *h, const char *fmt, ...)
{
    va_list ap;

    if (!h->debug) {
        return;
    }
    fprintf(stderr, "hostile: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* --keylog: see the comment at the top; the wrapped call is the library's own. */
int __wrap_srm_link_new(const struct srm_link_keys *k, enum srm_link_role role,
                        struct srm_link **out)
{
    int r = __real_srm_link_new(k, role, out);

    if (r == 0 && role == SRM_LINK_RELAY) {
        captured_keys = *k;
        captured = 1;
    }
    return r;
}
