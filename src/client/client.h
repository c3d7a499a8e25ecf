/* SPDX-License-Identifier: MIT */
/*
 * client.h: the client's private types shared by its files.
 *
 * struct client holds everything that outlives one relay connection (keys,
 * options, the peer table with its sessions and outboxes, the UI), so a
 * lost connection can later be replaced without losing queued messages.
 * struct conn is one relay connection: socket, registration, link keys.
 *
 *   main.c   options, key loading, event loop, exit
 *   conn.c   relay connection, registration, link message dispatch
 *   peers.c  peer table, sessions, outboxes, acknowledgements
 *   cmd.c    the line syntax shared by both UI modes
 *   ui.c     output (terminal with readline, or batch), sanitising
 *   batch.c  batch mode input and the wait for acknowledgements
 */
#ifndef SRM_CLIENT_H
#define SRM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "srm/crypto.h"
#include "srm/link.h"
#include "srm/reg.h"
#include "srm/sess.h"
#include "srm/wire.h"

#define CLIENT_MAX_RELAYS      16
#define CLIENT_HOST_LEN        256
#define CLIENT_PATH_LEN        4096
#define CLIENT_OUTBOX_MAX      10000 /* queued messages per peer */
#define CLIENT_MAX_PEERS       8192  /* peers we track (online users and contacts) */
#define CLIENT_MAX_HS_FAILURES 3     /* automatic handshake restarts before waiting for the user */
#define CLIENT_CONNECT_TIMEOUT 10    /* seconds for TCP connect and for registration */
/* Reconnect: full jitter over a ceiling doubling from 0.2 s to 30 s (issue 4). */
#define CLIENT_BACKOFF_MIN_MS 200u
#define CLIENT_BACKOFF_MAX_MS 30000u
/* A link that lived this long resets the backoff; a shorter one keeps doubling it. */
#define CLIENT_STABLE_MS 5000u
/* Keepalive: PING after this much silence from the relay, dead after the second bound. */
#define CLIENT_KEEPALIVE_MS 10000u
#define CLIENT_DEAD_MS      25000u
/* A handshake not finished in this time is abandoned (lost payload, stuck peer). */
#define CLIENT_HS_TIMEOUT_MS 15000u
/* A message sent but not acknowledged in this time: new session, send again. */
#define CLIENT_ACK_TIMEOUT_MS 30000u
#define CLIENT_BYE_FLUSH_MS                                                                        \
    1000 /* how long to wait for BYE to leave on exit                                              \
          */
/* /queue and the undelivered list: 40 characters of up to 4 bytes, "..." and a NUL. */
#define CLIENT_PREVIEW_LEN (4u * 40u + 4u)
/* A line holds a command and its text: allow the longest text plus a command prefix. */
#define CLIENT_MAX_LINE (SRM_INNER_MAX_TEXT + 64u)
/* Batch mode stops reading input above this much unsent output, resumes below the low mark. */
#define BATCH_PAUSE_OUTBUF  (SRM_WIRE_MAX_OUTBUF / 4u)
#define BATCH_RESUME_OUTBUF (SRM_WIRE_MAX_OUTBUF / 16u)

struct relay_addr {
    char host[CLIENT_HOST_LEN];
    uint16_t port;
};

enum outmsg_state {
    OUTMSG_QUEUED = 0, /* not yet sealed in the current session */
    OUTMSG_SENT = 1,   /* sealed and sent; waiting for the peer's ACK */
};

struct outmsg {
    struct outmsg *next;
    uint64_t id; /* epoch << 32 | counter (docs/PROTOCOL.md 6.4) */
    enum outmsg_state state;
    uint64_t sent_ms; /* when last sealed and sent (OUTMSG_SENT) */
    size_t len;
    char text[]; /* len bytes, not NUL-terminated */
};

enum peer_presence {
    PEER_UNKNOWN = 0,
    PEER_ONLINE = 1,
    PEER_OFFLINE = 2,
};

struct peer {
    struct peer *next;
    char name[SRM_WIRE_MAX_NAME + 1];
    struct srm_key *pub;   /* pinned DIR/NAME.pub, loaded when first needed */
    int key_reported;      /* a missing key was already reported once */
    struct srm_sess *sess; /* NULL until a handshake starts or arrives */
    uint32_t start_ref;    /* SEND ref of the HS_INIT that began the current attempt */
    int hs_failures;       /* consecutive failures since the last ESTABLISHED */
    int hs_pending;        /* our HS_INIT or HS_RESP is out: send no records until done */
    int resync;            /* had a session when our link went down: renew it on WELCOME */
    uint64_t hs_start_ms;  /* when hs_pending was set */
    /* Duplicate suppression for what this peer sends us (PROTOCOL.md 6.4). */
    int rx_seen;       /* rx_epoch and rx_high hold a value */
    uint32_t rx_epoch; /* the peer's current message-id epoch */
    uint32_t rx_high;  /* highest counter shown from that epoch */
    struct outmsg *head;
    struct outmsg **tail;
    size_t nout;
    uint64_t next_msg_id;
    enum peer_presence presence;
};

enum conn_state {
    CONN_CONNECTING = 0,   /* TCP connect in progress */
    CONN_REGISTERING = 1,  /* REG_HELLO sent, waiting for REG_CHALLENGE */
    CONN_WAIT_WELCOME = 2, /* REG_RESPONSE sent, waiting for WELCOME (or REG_ERROR) */
    CONN_ONLINE = 3,       /* link messages flow */
    CONN_CLOSING = 4,      /* BYE sent; waiting for it to be flushed */
    CONN_DEAD = 5,         /* failed; freed after the event loop returns */
};

struct conn {
    struct client *c;
    struct bufferevent *bev;
    struct srm_reg *reg;
    struct srm_link *link;
    enum conn_state state;
    size_t relay_idx; /* which --relay entry */
    struct evutil_addrinfo *ai_list;
    struct evutil_addrinfo *ai_next; /* next address of this relay to try */
    char last_error[CLIENT_HOST_LEN + 256];
    struct event *ka_timer; /* keepalive and per-peer timeouts, once online */
    uint64_t last_rx_ms;    /* last frame from the relay */
    uint64_t last_ping_ms;  /* last PING we sent */
    uint64_t online_ms;     /* when WELCOME arrived */
    uint64_t ping_token;
};

struct client {
    struct event_base *base;
    /* options */
    const char *name;
    const char *keys_dir;
    struct relay_addr relays[CLIENT_MAX_RELAYS];
    size_t nrelays;
    unsigned long wait_secs;
    uint64_t keepalive_ms; /* --keepalive */
    uint64_t dead_ms;      /* --dead-after */
    /* keys */
    struct srm_key *self_key;
    struct srm_key *relay_pub;
    char self_fp[SRM_FP_STR_LEN];
    char relay_pub_path[CLIENT_PATH_LEN];
    /* state that survives the connection */
    struct conn *conn;
    struct event *reconnect_timer;
    uint64_t backoff_ms; /* current ceiling of the reconnect delay */
    int ever_online;     /* registered at least once */
    int outage;          /* the link is down and the user was told so */
    uint64_t start_ms;   /* process start, for the batch-mode connect deadline */
    uint32_t epoch;      /* random, high half of every msg_id we send */
    uint8_t *last_rec;   /* the last RECORD payload we sent (/replay) */
    size_t last_rec_len;
    char last_rec_to[SRM_WIRE_MAX_NAME + 1];
    struct peer *peers;
    size_t npeers;
    uint32_t next_ref;
    char to[SRM_WIRE_MAX_NAME + 1]; /* explicit current peer (--to, /to), "" if none */
    /* UI */
    int batch;        /* 1: stdin is not a terminal */
    int color;        /* terminal colours allowed */
    int rl_installed; /* readline callback handler installed */
    char prompt[SRM_WIRE_MAX_NAME + 8];
    struct event *stdin_ev;
    struct event *sig_int;
    struct event *sig_term;
    struct event *sig_winch;
    struct event *wait_timer;
    struct event *bye_timer;
    /* batch mode */
    struct evbuffer *inbuf;
    int input_eof;
    int discarding;       /* dropping the rest of an over-long line */
    int input_paused;     /* stdin not read until the link's output drains */
    unsigned long failed; /* lines that could not be queued */
    unsigned who_pending; /* WHO sent, WHO_REPLY not yet received */
    /* exit */
    int exiting;
    int exit_code;
    /* scratch buffers: a payload, a link plaintext, an outgoing and an incoming frame */
    uint8_t *payload_buf;
    uint8_t *pt_buf;
    uint8_t *frame_buf;
    uint8_t *in_buf;
};

/* main.c */
void client_exit(struct client *c, int code);
uint64_t client_now_ms(void);
int client_load_public(struct client *c, const char *name, struct srm_key **out, int quiet);

/* conn.c */
int conn_start(struct client *c);
void conn_free(struct conn *conn);
int conn_is_online(const struct client *c);
int conn_send_payload(struct client *c, const char *to, const uint8_t *payload, size_t n,
                      uint32_t *ref);
int conn_send_who(struct client *c);
void conn_send_bye(struct client *c);
size_t conn_output_pending(const struct client *c);

/* peers.c */
struct peer *peers_find(struct client *c, const char *name);
struct peer *peers_get(struct client *c, const char *name);
void peers_free_all(struct client *c);
int peers_send_text(struct client *c, const char *to, const char *text, size_t len);
void peers_on_welcome(struct client *c);
void peers_on_presence(struct client *c, const char *name, int online);
void peers_on_deliver(struct client *c, const char *from, const uint8_t *payload, size_t n);
void peers_on_undeliverable(struct client *c, const char *to, uint32_t ref, uint8_t reason);
const char *peers_current(struct client *c);
size_t peers_pending_total(const struct client *c);
void peers_report_undelivered(struct client *c);
void peers_on_link_down(struct client *c);
void peers_tick(struct client *c);
void peers_list_queue(struct client *c);
int peers_tamper(struct client *c, const char *to);

/* cmd.c */
void cmd_line(struct client *c, const char *line, size_t len);

/* ui.c */
int ui_start(struct client *c);
void ui_stop(struct client *c);
void ui_update_prompt(struct client *c);
void ui_message(struct client *c, const char *from, const uint8_t *text, size_t len);
void ui_status(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ui_error(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ui_warn(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ui_print(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t ui_sanitize(const uint8_t *in, size_t n, char *out);

/* batch.c */
int batch_start(struct client *c);
void batch_stop(struct client *c);
void batch_check_done(struct client *c);
void batch_resume(struct client *c);

#endif
