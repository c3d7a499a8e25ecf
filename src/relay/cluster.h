/* SPDX-License-Identifier: MIT */
/*
 * cluster.h: one relay node of a cluster routed through NATS (docs/CLUSTER.md).
 *
 * The relay core knows nothing of NATS: it tells the cluster when a user
 * comes online or goes offline here and hands it every SEND whose recipient
 * is not online here; the cluster calls back into the relay (struct
 * cluster_ops) to deliver, to announce presence of users on other nodes, to
 * close a local connection that a newer registration elsewhere displaced, and
 * to answer UNDELIVERABLE.  Every callback runs in the event loop's thread.
 */
#ifndef SRM_RELAY_CLUSTER_H
#define SRM_RELAY_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "srm/err.h"

/* Room for "n-" + pid + random hex, and for any --node name. */
#define CLUSTER_NODE_MAX 32u
/* How long a node waits for the answer to a routed message. */
#define CLUSTER_ROUTE_DEADLINE_MS 3000u
/* Heartbeat period and the silence after which a node counts as dead. */
#define CLUSTER_HEARTBEAT_MS   1000u
#define CLUSTER_NODE_EXPIRY_MS 3500u

struct cluster;

struct cluster_config {
    const char *urls;  /* nats://HOST:PORT or tls://HOST:PORT, comma-separated */
    const char *node;  /* --node NAME, or NULL for one unique to the process */
    const char *creds; /* NATS .creds file (JWT + seed), or NULL */
    const char *ca;    /* PEM CA file to verify a TLS NATS server, or NULL */
    const char *cert;  /* PEM client certificate for TLS, or NULL */
    const char *key;   /* its private key, or NULL */
};

struct cluster_ops {
    /* DELIVER(from, payload) to `to` if it is online here: 0, or -1 if it is not. */
    int (*deliver)(void *arg, const char *to, const char *from, const uint8_t *payload, size_t n);
    /* PRESENCE(name, online or offline) to every local client; name is not online here. */
    void (*presence)(void *arg, const char *name, int online);
    /* A newer registration of `name` on another node: BYE(REPLACED) to the local one, no PRESENCE.
     */
    void (*displace)(void *arg, const char *name);
    /* UNDELIVERABLE(to, ref, reason) to `from` if it is still online here. */
    void (*undeliverable)(void *arg, const char *from, const char *to, uint32_t ref,
                          uint8_t reason);
    /* The NATS connection failed for good (why: one line): the relay stops, exit status 1. */
    void (*fatal)(void *arg, const char *why);
};

/*
 * Once per process, before the event base is created: libevent locking
 * (the NATS library's threads touch the loop) and the NATS library.
 */
SRM_MUST_USE int cluster_global_init(void);
/* Check --cluster URLS; 0, or -1 with a reason in err. */
SRM_MUST_USE int cluster_check_urls(const char *urls, char *err, size_t errlen);
/*
 * Connect (in the background: a NATS server that is down at start is
 * retried) and join the cluster.  0, or -1 after an error line.
 */
SRM_MUST_USE int cluster_new(struct event_base *base, const struct cluster_config *cfg,
                             const struct cluster_ops *ops, void *arg, struct cluster **out);
/* This node's name (for logs). */
const char *cluster_node(const struct cluster *cl);
/*
 * `name` registered here: subscribe to its subject, tell the other nodes (it
 * displaces older ones).  1 if it was online on another node until now (the
 * local clients already see it online: no PRESENCE needed), else 0.
 */
int cluster_user_online(struct cluster *cl, const char *name);
/* `name` left this node (not displaced): unsubscribe, tell the other nodes. */
void cluster_user_offline(struct cluster *cl, const char *name);
/*
 * A SEND from local `from` to `to`, who is not online here: routed to the
 * node holding `to`; if none does (or none answers in time) the cluster calls
 * ops->undeliverable(from, to, ref, SRM_REASON_OFFLINE) later.
 */
void cluster_route(struct cluster *cl, const char *from, const char *to, uint32_t ref,
                   const uint8_t *payload, size_t n);
/*
 * Names online on other nodes (never a name online here), for WELCOME and
 * WHO_REPLY: up to max pointers into the cluster's table, valid until the
 * next loop callback, taking at most room bytes as a list (1 + length each).
 * Returns how many.
 */
size_t cluster_list(const struct cluster *cl, const char **names, size_t max, size_t room);
/* Leave the cluster and free everything (NULL allowed); no callback runs after this. */
void cluster_free(struct cluster *cl);

#endif
