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

#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/wire.h"

/* Defaults (DESIGN.md section 8 and the relay issue). */
#define RELAY_DEFAULT_LISTEN      "0.0.0.0:7447"
#define RELAY_DEFAULT_KEYS        "keys"
#define RELAY_DEFAULT_MAX_CONNS   1024ul
#define RELAY_DEFAULT_REG_TIMEOUT 10ul
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
    unsigned long reg_timeout; /* seconds */
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
struct bufferevent;

struct conn {
    struct relay *relay;
    struct bufferevent *bev;
    enum conn_state state;
    int draining;                     /* DEAD, reading off, waiting for the output to drain */
    int reaping;                      /* on the relay's reap list */
    struct srm_reg *reg;              /* REGISTERING only */
    struct srm_link *link;            /* ONLINE only */
    struct event *timer;              /* registration deadline, then the drain bound */
    char name[SRM_WIRE_MAX_NAME + 1]; /* ONLINE: the authenticated name */
    char addr[RELAY_ADDR_LEN];
    size_t name_len;
    uint32_t hash;
    struct conn *hnext;         /* name table chain */
    struct conn *prev, *next;   /* every connection */
    struct conn *oprev, *onext; /* online connections, in registration order */
    struct conn *qnext;         /* reap list */
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
struct users {
    const char *dir;
};

/* srm_reg_lookup_fn: arg is a struct users. */
int users_lookup(void *arg, const char *name, struct srm_key **pub);
/* Number of DIR/NAME.pub files with a valid user name; -1 if DIR cannot be read. */
long users_count(const char *dir);

/* relay.c */
/* Bind the listener and set everything up; 0 or -1 after an error line. */
SRM_MUST_USE int relay_new(struct event_base *base, const struct relay_config *cfg,
                           struct srm_key *key, struct relay **out);
/* BYE(SHUTDOWN) to every online client, then stop the loop after a short flush. */
void relay_shutdown(struct relay *r);
/* Stop the loop now, without waiting for output to drain (a second signal). */
void relay_stop(struct relay *r);
/* Free every connection and the listener (NULL allowed). */
void relay_free(struct relay *r);

#endif
