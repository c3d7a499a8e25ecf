/* SPDX-License-Identifier: MIT */
/*
 * relay.h: the relay program's own types, shared by its files only
 * (main.c: options and start-up; relay.c: listener, connections, routing and
 * presence; names.c: the table of online names; users.c: user key lookup).
 */
#ifndef SRM_RELAY_RELAY_H
#define SRM_RELAY_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/util.h>

#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/wire.h"

/* Defaults (DESIGN.md section 8 and the relay issue). */
#define RELAY_DEFAULT_LISTEN      "0.0.0.0:7447"
#define RELAY_DEFAULT_KEYS        "keys"
#define RELAY_DEFAULT_MAX_CONNS   1024ul
#define RELAY_DEFAULT_REG_TIMEOUT 10ul
/* Keepalive (issue 4): PING a registered connection idle this long ... */
#define RELAY_DEFAULT_KEEPALIVE 15ul
/* ... and drop it when nothing arrived for keepalive * 8 / 3 (15 -> 40 s): two PINGs unanswered. */
#define RELAY_IDLE_NUM 8ul
#define RELAY_IDLE_DEN 3ul
/* Bad input (issue 5): connections still registering, in all and from one source address. */
#define RELAY_DEFAULT_MAX_UNAUTH        256ul
#define RELAY_DEFAULT_MAX_UNAUTH_SOURCE 32ul
/* REG_HELLOs (the relay's RSA work) per second per source address; the burst is twice that. */
#define RELAY_DEFAULT_REG_RATE 20ul
#define RELAY_REG_BURST_FACTOR 2ul
/*
 * Largest registration frame taken (len field): REG_HELLO and REG_RESPONSE
 * carry one block of an RSA key of at most 8192 bits (1 KiB) plus < 100
 * bytes, so 16 KiB is ample; a registering connection buffers no more.
 */
#define RELAY_REG_MAX_FRAME 16384u
/* Input cap once registered: one whole frame of the largest size and its header. */
#define RELAY_MAX_INBUF (SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME)
/*
 * Bytes asked of one recv(2): a pipelined batch of 4 KiB messages (16 x
 * 4.1 KiB) fits, so a busy sender costs one read per batch.  The relay's
 * one read buffer holds an unfinished frame carried over plus this.
 */
#define RELAY_READ_MAX 131072u
/*
 * Output buffers: a connection's is taken when it has something to send
 * and given back once written, so an idle connection holds none.  They
 * start at RELAY_OUT_MIN bytes (16 DELIVERs of 256 B fit) and double as
 * needed; up to RELAY_OUT_POOL of that size are kept for reuse.
 */
#define RELAY_OUT_MIN  8192u
#define RELAY_OUT_POOL 64u
/*
 * --batch-wait: the pause after a loop turn that read something, and the
 * input rate (reads per millisecond, over the last millisecond or more)
 * from which the relay counts as loaded and pauses at all.
 */
#define RELAY_DEFAULT_BATCH_WAIT 50ul
#define RELAY_BATCH_READS_PER_MS 20u
/* At most one "refused connection" info line per this many ms (the rest go to --debug). */
#define RELAY_REFUSE_LOG_MS 1000u
/* How long a closing connection may take to drain its last message. */
#define RELAY_DRAIN_SECONDS 2
/* How long shutdown waits for BYE(SHUTDOWN) to reach the clients. */
#define RELAY_SHUTDOWN_FLUSH_MS 500
/* Back-off after EMFILE/ENFILE at accept (tmux server_accept). */
#define RELAY_ACCEPT_BACKOFF_SECONDS 1
/* Room for "[v6-address]:port". */
#define RELAY_ADDR_LEN 64

struct relay_config {
    char host[256];
    uint16_t port;
    const char *keys_dir;
    unsigned long max_conns;
    unsigned long reg_timeout;       /* seconds */
    unsigned long keepalive;         /* seconds idle before a PING; 0: no keepalive */
    unsigned long idle_timeout;      /* seconds without any frame before the drop */
    unsigned long max_output;        /* bytes waiting to be sent before a slow reader is dropped */
    unsigned long max_unauth;        /* connections still registering, in all */
    unsigned long max_unauth_source; /* ... and from one source address */
    unsigned long reg_rate;          /* REG_HELLOs per second per source; 0: unlimited */
    unsigned long busy_poll_us;      /* poll this long after the last input before sleeping */
    unsigned long batch_wait_us;     /* under load, pause this long after a loop turn with input */
    int no_listen;                   /* tests: no listener, connections come from relay_adopt() */
};

/* One source address: the token bucket for its REG_HELLOs and its registering connections. */
struct src_entry {
    uint8_t addr[16];
    uint8_t family; /* AF_INET, AF_INET6, or AF_UNSPEC for anything else */
    uint8_t used;
    uint32_t unauth;  /* its connections still registering: pinned while > 0 */
    uint64_t tokens;  /* in thousandths of a REG_HELLO */
    uint64_t last_ms; /* when tokens were last brought up to date */
};

/* sources.c: a fixed table of source addresses, so a flood costs no allocation. */
struct src_table {
    struct src_entry *e;
    size_t n; /* a power of two */
    uint64_t seed;
    unsigned long rate; /* REG_HELLOs per second; 0: unlimited */
    uint64_t cap;       /* bucket size, in thousandths */
};

/* Connection lifecycle (STYLE.md 13): kept apart from the registration state in libsrm. */
enum conn_state {
    CONN_REGISTERING = 0,
    CONN_ONLINE = 1,
    CONN_DEAD = 2,
};

struct relay;
struct srm_reg;
struct srm_link;
struct sockaddr;

struct conn {
    struct relay *relay;
    evutil_socket_t fd;
    struct event *rev; /* readable: persistent, off while draining */
    struct event *wev; /* writable: added only while the socket is full */
    uint8_t *obuf;     /* output not yet written: obuf[ooff, ooff + olen); NULL when empty */
    size_t ooff, olen, ocap;
    uint8_t *part; /* the start of a frame the last read cut, kept for the next */
    size_t part_len;
    int wpending; /* wev is added */
    int flushq;   /* on the relay's flush list */
    enum conn_state state;
    int draining;          /* DEAD, reading off, waiting for the output to drain */
    int reaping;           /* on the relay's reap list */
    struct srm_reg *reg;   /* REGISTERING only */
    struct srm_link *link; /* ONLINE only */
    struct event *timer;   /* registration deadline, keepalive, then the drain bound */
    struct src_entry *src; /* REGISTERING only: its source's entry (pinned) */
    uint64_t last_rx_ms;   /* when a read last brought bytes (monotonic) */
    uint64_t ping_ms;      /* when the last keepalive PING went out */
    uint64_t ping_token;
    int hello_seen;                   /* a REG_HELLO has been charged to the source */
    char name[SRM_WIRE_MAX_NAME + 1]; /* ONLINE: the authenticated name */
    char addr[RELAY_ADDR_LEN];
    size_t name_len;
    uint32_t hash;
    struct conn *hnext;         /* name table chain */
    struct conn *prev, *next;   /* every connection */
    struct conn *oprev, *onext; /* online connections, in registration order */
    struct conn *qnext;         /* reap list */
    struct conn *fprev, *fnext; /* flush list: output queued this loop turn */
    struct conn *anext;         /* offline announcement queue */
};

/* names.c: the table of online names, chained hashing over an array of buckets. */
struct name_table {
    struct conn **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

SRM_MUST_USE int names_init(struct name_table *t);
void names_free(struct name_table *t);
/* The conn registered under name (len bytes), or NULL. */
struct conn *names_find(const struct name_table *t, const char *name, size_t len);
/*
 * Insert c (c->name must be set and not present).  Never fails: if the
 * bucket array cannot grow, chains get longer.
 */
void names_insert(struct name_table *t, struct conn *c);
/* Remove c if it is the entry for its name; 1 if it was removed. */
int names_remove(struct name_table *t, struct conn *c);

/* users.c: user keys under the key directory, read at registration time. */
struct users_cache;
struct users {
    const char *dir;
    struct users_cache *cache; /* parsed keys, re-validated by stat(); NULL until first use */
};

/* srm_reg_lookup_fn: arg is a struct users. */
int users_lookup(void *arg, const char *name, struct srm_key **pub);
/* Number of DIR/NAME.pub files with a valid user name; -1 if DIR cannot be read. */
long users_count(const char *dir);
/* Drop the key cache (relay_free). */
void users_free(struct users *u);

SRM_MUST_USE int sources_init(struct src_table *t, unsigned long max_unauth, unsigned long rate);
void sources_free(struct src_table *t);
/*
 * The entry of the source of sa (AF_INET/AF_INET6; any other family shares
 * one entry), created or recycled as needed; NULL if every candidate slot is
 * pinned by registering connections (then refuse the connection).
 */
struct src_entry *sources_get(struct src_table *t, const struct sockaddr *sa, uint64_t now_ms);
/* 1 and one token taken if the source may start a registration now, else 0. */
int sources_take(struct src_table *t, struct src_entry *e, uint64_t now_ms);
/* Milliseconds and microseconds on the monotonic clock. */
uint64_t relay_now_ms(void);
uint64_t relay_now_us(void);

/* relay.c */
/* Bind the listener and set everything up; 0 or -1 after an error line. */
SRM_MUST_USE int relay_new(struct event_base *base, const struct relay_config *cfg,
                           struct srm_key *key, struct relay **out);
/*
 * Take a connected socket as a new connection (what the listener does for
 * each accept; tests and the fuzz target call it on one end of a
 * socketpair).  The fd is owned by the relay afterwards, closed on refusal.
 */
void relay_adopt(struct relay *r, evutil_socket_t fd, const struct sockaddr *sa, int salen);
/*
 * Tests and the fuzz target only: a connection already registered as name,
 * taking *link (NULLed), so the code after registration can be driven
 * without RSA work.  0, or -1 (fd closed; *link left to the caller on a bad name).
 */
SRM_MUST_USE int relay_adopt_registered(struct relay *r, evutil_socket_t fd, const char *name,
                                        struct srm_link **link);
/* Connections at the moment: all, and those still registering (tests). */
size_t relay_count(const struct relay *r, size_t *unauth);
/*
 * Run the event loop until relay_shutdown() or relay_stop() ends it; 0, or
 * -1 if libevent failed.  With cfg.busy_poll_us, the loop polls for that
 * long after the last input before it sleeps (--busy-poll).
 */
SRM_MUST_USE int relay_run(struct relay *r);
/* BYE(SHUTDOWN) to every online client, then stop the loop after a short flush. */
void relay_shutdown(struct relay *r);
/* Stop the loop now, without waiting for output to drain (a second signal). */
void relay_stop(struct relay *r);
/* Free every connection and the listener (NULL allowed). */
void relay_free(struct relay *r);
struct cluster_config;
/* --cluster: join through NATS (cluster.h); 0 or -1 after an error line.  Freed by relay_free(). */
SRM_MUST_USE int relay_join_cluster(struct relay *r, const struct cluster_config *cfg);
/* 1 if the relay stopped because its NATS connection failed for good (exit status 1). */
int relay_cluster_failed(const struct relay *r);

#endif
