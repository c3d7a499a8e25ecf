/* SPDX-License-Identifier: MIT */
/*
 * cluster.c: one relay node of a cluster routed through NATS
 * (docs/CLUSTER.md has the subjects and the bytes of every message):
 *
 *   1. start: connect through the libevent adapter (one loop drives the
 *      clients and NATS), subscribe to srm.presence, srm.n.NODE and
 *      srm.r.NODE.*; a NATS server that is down is retried in the background
 *   2. (re)connected: SYNC on srm.presence (every node answers with ON for
 *      each of its users to srm.n.NODE), then ON for each user of ours
 *   3. a user registers here: subscribe srm.u.NAME, ON(name, stamp) to all;
 *      a node holding an older registration of NAME closes it (newest wins)
 *   4. a SEND for a user not online here: request on srm.u.TO with reply
 *      srm.r.NODE.ID; the node holding TO delivers and answers DELIVERED, or
 *      answers OFFLINE; no subscriber (NATS "no responders"), an OFFLINE
 *      answer or the deadline -> UNDELIVERABLE(to, ref, offline) to the sender
 *   5. a user leaves: unsubscribe, OFF(name, stamp) to all
 *   6. every second HB(node); a node silent for CLUSTER_NODE_EXPIRY_MS is
 *      dead: its users go offline here
 *   7. NATS lost: every remote user goes offline here, every pending route
 *      is answered offline; the library reconnects and re-subscribes, and 2.
 *      runs again
 *
 * Threads: the NATS library delivers messages and connection events on its
 * own threads.  Their callbacks only append to a locked queue and wake the
 * loop (event_active on a lock-enabled base); everything else, including
 * every call into the relay, runs in the loop's thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/rand.h>

/*
 * The adapter defines its functions in the header, without prototypes and
 * with unused parameters: included here once, with those warnings off.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#include <nats/adapters/libevent.h>
#pragma GCC diagnostic pop

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/wire.h"
#include "cluster.h"
#include "log.h"

#define PROTO_VERSION 1u
#define SUBJ_PRESENCE "srm.presence"
#define SUBJ_USER     "srm.u."
#define SUBJ_NODE     "srm.n."
#define SUBJ_REPLY    "srm.r."
/* "srm.r." + node + "." + u64 decimal, and the longest of the others. */
#define SUBJ_MAX 80u
#define TICK_MS  250u
#define MAX_URLS 16
/* Power of two. */
#define PENDING_BUCKETS 4096u
#define TABLE_BUCKETS   1024u
/* version u8 || type u8 || node (u8 + 32) || name (u8 + 32) || stamp u64 */
#define CTL_MAX (2u + 2u * (1u + SRM_WIRE_MAX_NAME) + 8u)

/* Message types on the cluster subjects (docs/CLUSTER.md). */
enum {
    CM_ON = 1,     /* srm.presence or srm.n.NODE: node, name, stamp */
    CM_OFF = 2,    /* srm.presence: node, name, stamp */
    CM_HB = 3,     /* srm.presence: node */
    CM_SYNC = 4,   /* srm.presence or srm.n.NODE: node; reply = where the ONs go */
    CM_ROUTE = 5,  /* srm.u.NAME: from, payload; reply = srm.r.NODE.ID */
    CM_ANSWER = 6, /* srm.r.NODE.ID: status */
};

enum { ANSWER_DELIVERED = 0, ANSWER_OFFLINE = 1 };

/* What the NATS threads hand to the loop. */
enum qkind { Q_MSG, Q_CONNECTED, Q_DISCONNECTED, Q_CLOSED, Q_ERROR };

struct qitem {
    struct qitem *next;
    enum qkind kind;
    natsMsg *msg;
    natsStatus err;
};

/* A user online here (sub set) or on another node (node set). */
struct entry {
    struct entry *next;
    char name[SRM_WIRE_MAX_NAME + 1];
    char node[CLUSTER_NODE_MAX + 1];
    uint64_t stamp;
    natsSubscription *sub;
};

struct table {
    struct entry *b[TABLE_BUCKETS];
    size_t count;
};

struct peer_node {
    struct peer_node *next;
    char name[CLUSTER_NODE_MAX + 1];
    uint64_t last_seen; /* ms, monotonic */
};

/* A routed SEND waiting for its answer. */
struct pending {
    struct pending *hnext;
    struct pending *prev, *next; /* in send order, so in deadline order */
    uint64_t id;
    uint64_t deadline; /* ms, monotonic */
    uint32_t ref;
    char from[SRM_WIRE_MAX_NAME + 1];
    char to[SRM_WIRE_MAX_NAME + 1];
    char node[CLUSTER_NODE_MAX + 1]; /* where we believed `to` was, "" if nowhere */
    uint64_t stamp;
};

struct cluster {
    struct event_base *base;
    struct cluster_ops ops;
    void *arg;
    char node[CLUSTER_NODE_MAX + 1];
    natsOptions *opts;
    natsConnection *nc;
    natsSubscription *sub_presence, *sub_node, *sub_reply;
    int connected; /* as the loop thread last heard */
    struct table local, remote;
    struct peer_node *nodes;
    struct pending *pb[PENDING_BUCKETS];
    struct pending *phead, *ptail, *pfree;
    size_t npending;
    uint64_t next_id;
    uint64_t last_hb;
    struct event *wake, *tick;
    pthread_mutex_t lock;
    pthread_cond_t closed_cond; /* signalled once the library says the connection is closed */
    int lock_ok;
    int closed;
    char closed_why[160]; /* the library's last error when it closed the connection */
    int secure;           /* TLS to NATS */
    int dup_warned;       /* warned once that another node has our name */
    struct qitem *qhead, *qtail;
    int woken;
    int closing;
    uint8_t *buf; /* outgoing ROUTE */
    size_t bufcap;
    char subj_node[SUBJ_MAX], subj_reply_prefix[SUBJ_MAX];
};

static int setup_options(struct cluster *cl, const struct cluster_config *cfg);
static int split_urls(const char *urls, char **list, int *count, char *err, size_t errlen);
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
static void on_connected(natsConnection *nc, void *closure);
static void on_disconnected(natsConnection *nc, void *closure);
static void on_closed(natsConnection *nc, void *closure);
static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure);
static void enqueue(struct cluster *cl, enum qkind kind, natsMsg *msg, natsStatus err);
static void wake_cb(evutil_socket_t fd, short what, void *arg);
static void handle_msg(struct cluster *cl, natsMsg *msg);
static void went_up(struct cluster *cl);
static void went_down(struct cluster *cl);
static void handle_ctl(struct cluster *cl, natsMsg *msg);
static void ctl_on(struct cluster *cl, const char *node, const char *name, uint64_t stamp);
static void ctl_off(struct cluster *cl, const char *node, const char *name, uint64_t stamp);
static void node_seen(struct cluster *cl, const char *node);
static void handle_route(struct cluster *cl, natsMsg *msg, const char *to);
static void handle_answer(struct cluster *cl, natsMsg *msg, const char *idstr);
static void tick_cb(evutil_socket_t fd, short what, void *arg);
static void expire_node(struct cluster *cl, const char *node);
static void publish_ctl(struct cluster *cl, const char *subj, const char *reply, uint8_t type,
                        const char *name, uint64_t stamp);
static void announce_all(struct cluster *cl, const char *subj);
static void remote_gone(struct cluster *cl, struct entry *e);
static void pending_answer(struct cluster *cl, struct pending *p, int offline);
static void pending_unlink(struct cluster *cl, struct pending *p);
static struct entry *table_find(const struct table *t, const char *name);
static struct entry *table_add(struct table *t, const char *name);
static void table_del(struct table *t, struct entry *e);
static int newer(uint64_t s1, const char *n1, uint64_t s2, const char *n2);
static uint32_t hash_name(const char *s);
static uint64_t now_ms(void);
static uint64_t now_us(void);
static void log_nats(const char *what, natsStatus s);
static void wait_closed(struct cluster *cl);
static const char *redact(const char *urls, char *out, size_t n);

int cluster_global_init(void)
{
    natsStatus s;

    /* Before any event_base exists: NATS threads add and remove the loop's events. */
    natsLibevent_Init();
    s = nats_Open(-1);
    if (s != NATS_OK) {
        log_nats("cannot start the NATS library", s);
        return -1;
    }
    return 0;
}

int cluster_check_urls(const char *urls, char *err, size_t errlen)
{
    char *list[MAX_URLS];
    int n = 0, i, r;

    r = split_urls(urls, list, &n, err, errlen);
    for (i = 0; i < n; i++) {
        free(list[i]);
    }
    return r;
}

/* Comma-separated nats:// or tls:// URLs, each copied into list[]. */
static int split_urls(const char *urls, char **list, int *count, char *err, size_t errlen)
{
    const char *p = urls, *end;
    size_t len;

    *count = 0;
    while (*p != '\0') {
        end = strchr(p, ',');
        len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == 0) {
            snprintf(err, errlen, "empty URL in '%s'", urls);
            return -1;
        }
        if (!((len > 7 && strncmp(p, "nats://", 7) == 0) ||
              (len > 6 && strncmp(p, "tls://", 6) == 0))) {
            snprintf(err, errlen, "'%.*s' is not a nats://HOST:PORT or tls://HOST:PORT URL",
                     (int)(len > 200 ? 200 : len), p);
            return -1;
        }
        if (*count == MAX_URLS) {
            snprintf(err, errlen, "more than %d URLs", MAX_URLS);
            return -1;
        }
        list[*count] = strndup(p, len);
        if (list[*count] == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        (*count)++;
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                snprintf(err, errlen, "empty URL at the end of '%s'", urls);
                return -1;
            }
        }
    }
    if (*count == 0) {
        snprintf(err, errlen, "no URL given");
        return -1;
    }
    return 0;
}

/* 1. Connect and subscribe to the node's own subjects. */
int cluster_new(struct event_base *base, const struct cluster_config *cfg,
                const struct cluster_ops *ops, void *arg, struct cluster **out)
{
    struct cluster *cl = calloc(1, sizeof(*cl));
    struct timeval tv = {0, (suseconds_t)TICK_MS * 1000};
    char subj[SUBJ_MAX], url[256], shown[512];
    uint8_t rnd[4];
    natsStatus s;
    int rc = -1;

    if (cl == NULL) {
        srm_error("cluster: out of memory");
        return -1;
    }
    cl->base = base;
    cl->ops = *ops;
    cl->arg = arg;
    cl->next_id = 1;
    if (cfg->node != NULL) {
        if (srm_name_check_str(cfg->node) != 0) {
            srm_error("--node '%s': give 1 to 32 of a-z, 0-9, _ and -", cfg->node);
            goto out;
        }
        snprintf(cl->node, sizeof(cl->node), "%s", cfg->node);
    } else {
        /* Unique per process, so several nodes can share a host. */
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            srm_error("cluster: cannot draw a random node name");
            goto out;
        }
        snprintf(cl->node, sizeof(cl->node), "n-%ld-%02x%02x%02x%02x", (long)getpid(), rnd[0],
                 rnd[1], rnd[2], rnd[3]);
    }
    if (pthread_mutex_init(&cl->lock, NULL) != 0) {
        srm_error("cluster: cannot create a mutex");
        goto out;
    }
    if (pthread_cond_init(&cl->closed_cond, NULL) != 0) {
        pthread_mutex_destroy(&cl->lock);
        srm_error("cluster: cannot create a condition variable");
        goto out;
    }
    cl->lock_ok = 1;
    cl->bufcap = 2u + 1u + SRM_WIRE_MAX_NAME + SRM_WIRE_MAX_FRAME;
    cl->buf = malloc(cl->bufcap);
    cl->wake = event_new(base, -1, 0, wake_cb, cl);
    cl->tick = event_new(base, -1, EV_PERSIST, tick_cb, cl);
    if (cl->buf == NULL || cl->wake == NULL || cl->tick == NULL || event_add(cl->tick, &tv) != 0) {
        srm_error("cluster: out of memory");
        goto out;
    }
    snprintf(cl->subj_node, sizeof(cl->subj_node), SUBJ_NODE "%s", cl->node);
    snprintf(cl->subj_reply_prefix, sizeof(cl->subj_reply_prefix), SUBJ_REPLY "%s.", cl->node);
    if (setup_options(cl, cfg) != 0) {
        goto out;
    }
    s = natsConnection_Connect(&cl->nc, cl->opts);
    if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
        log_nats("cluster: cannot connect to NATS", s);
        srm_error("cluster node %s: cannot connect to NATS at %s: %s (check --cluster, "
                  "--cluster-ca and --cluster-creds)",
                  cl->node, redact(cfg->urls, shown, sizeof(shown)), natsStatus_GetText(s));
        goto out;
    }
    snprintf(subj, sizeof(subj), SUBJ_REPLY "%s.*", cl->node);
    if (natsConnection_Subscribe(&cl->sub_presence, cl->nc, SUBJ_PRESENCE, on_msg, cl) != NATS_OK ||
        natsConnection_Subscribe(&cl->sub_node, cl->nc, cl->subj_node, on_msg, cl) != NATS_OK ||
        natsConnection_Subscribe(&cl->sub_reply, cl->nc, subj, on_msg, cl) != NATS_OK) {
        log_nats("cluster: subscribe", NATS_ERR);
        srm_error("cluster node %s: cannot subscribe to its NATS subjects", cl->node);
        goto out;
    }
    if (s == NATS_OK) {
        if (natsConnection_GetConnectedUrl(cl->nc, url, sizeof(url)) != NATS_OK) {
            snprintf(url, sizeof(url), "?");
        }
        srm_info("cluster node %s: connected to NATS at %s", cl->node,
                 redact(url, shown, sizeof(shown)));
        enqueue(cl, Q_CONNECTED, NULL, NATS_OK);
    } else {
        srm_warn("cluster node %s: NATS at %s is not reachable yet: retrying in the background "
                 "(users on other nodes are unreachable until then)",
                 cl->node, redact(cfg->urls, shown, sizeof(shown)));
    }
    *out = cl;
    cl = NULL;
    rc = 0;
out:
    cluster_free(cl);
    return rc;
}

static int setup_options(struct cluster *cl, const struct cluster_config *cfg)
{
    char *list[MAX_URLS];
    char err[256];
    int n = 0, i, secure = 0, rc = -1;
    natsStatus s;

    if (split_urls(cfg->urls, list, &n, err, sizeof(err)) != 0) {
        srm_error("--cluster: %s", err);
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (strncmp(list[i], "tls://", 6) == 0) {
            secure = 1;
        }
    }
    s = natsOptions_Create(&cl->opts);
    if (s == NATS_OK) {
        s = natsOptions_SetServers(cl->opts, (const char **)list, n);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetName(cl->opts, cl->node);
    }
    if (cfg->ca != NULL || cfg->cert != NULL) {
        secure = 1;
    }
    cl->secure = secure;
    if (s == NATS_OK) {
        /*
         * The loop drives the socket through the adapter; the library's own
         * threads still run timers, reconnects and message delivery, so
         * every callback below only queues for the loop.
         */
        s = natsOptions_SetEventLoop(cl->opts, cl->base, natsLibevent_Attach, natsLibevent_Read,
                                     natsLibevent_Write, natsLibevent_Detach);
    }
    if (s == NATS_OK) {
        /* One pool of delivery threads, not one thread per user subscription. */
        s = natsOptions_UseGlobalMessageDelivery(cl->opts, true);
    }
    if (s == NATS_OK) {
        /* Our own broadcasts are not news to us. */
        s = natsOptions_SetNoEcho(cl->opts, true);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetMaxReconnect(cl->opts, -1);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectWait(cl->opts, 250);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectJitter(cl->opts, 250, 1000);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetTimeout(cl->opts, 2000);
    }
    if (s == NATS_OK) {
        /* A half-open link to the server is found within about 10 s. */
        s = natsOptions_SetPingInterval(cl->opts, 5000);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetMaxPingsOut(cl->opts, 2);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetRetryOnFailedConnect(cl->opts, true, on_connected, cl);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectedCB(cl->opts, on_connected, cl);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetDisconnectedCB(cl->opts, on_disconnected, cl);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetClosedCB(cl->opts, on_closed, cl);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetErrorHandler(cl->opts, on_error, cl);
    }
    if (s != NATS_OK) {
        log_nats("cluster: NATS options", s);
        srm_error("cluster: cannot set up the NATS options: %s", natsStatus_GetText(s));
        goto out;
    }
    if (cfg->ca != NULL) {
        secure = 1;
        s = natsOptions_LoadCATrustedCertificates(cl->opts, cfg->ca);
        if (s != NATS_OK) {
            log_nats("cluster: CA", s);
            srm_error("--cluster-ca %s: cannot load the CA certificates (a PEM file is needed)",
                      cfg->ca);
            goto out;
        }
    }
    if (cfg->cert != NULL || cfg->key != NULL) {
        if (cfg->cert == NULL || cfg->key == NULL) {
            srm_error("a NATS client certificate needs both --cluster-cert and --cluster-key");
            goto out;
        }
        secure = 1;
        s = natsOptions_LoadCertificatesChain(cl->opts, cfg->cert, cfg->key);
        if (s != NATS_OK) {
            log_nats("cluster: certificate", s);
            srm_error("--cluster-cert %s / --cluster-key %s: cannot load them (PEM files needed)",
                      cfg->cert, cfg->key);
            goto out;
        }
    }
    if (secure && natsOptions_SetSecure(cl->opts, true) != NATS_OK) {
        srm_error("cluster: cannot turn on TLS for NATS");
        goto out;
    }
    if (cfg->creds != NULL) {
        if (access(cfg->creds, R_OK) != 0) {
            srm_error("--cluster-creds %s: %s", cfg->creds, strerror(errno));
            goto out;
        }
        s = natsOptions_SetUserCredentialsFromFiles(cl->opts, cfg->creds, NULL);
        if (s != NATS_OK) {
            log_nats("cluster: credentials", s);
            srm_error("--cluster-creds %s: cannot use it: %s", cfg->creds, natsStatus_GetText(s));
            goto out;
        }
    }
    rc = 0;
out:
    for (i = 0; i < n; i++) {
        free(list[i]);
    }
    return rc;
}

const char *cluster_node(const struct cluster *cl)
{
    return cl->node;
}

/* NATS threads: hand over, wake the loop, nothing else. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    enqueue(closure, Q_MSG, msg, NATS_OK);
}

static void on_connected(natsConnection *nc, void *closure)
{
    (void)nc;
    enqueue(closure, Q_CONNECTED, NULL, NATS_OK);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    enqueue(closure, Q_DISCONNECTED, NULL, NATS_OK);
}

static void on_closed(natsConnection *nc, void *closure)
{
    struct cluster *cl = closure;

    const char *why = NULL;

    if (natsConnection_GetLastError(nc, &why) == NATS_OK || why == NULL) {
        why = "no error reported";
    }
    pthread_mutex_lock(&cl->lock);
    snprintf(cl->closed_why, sizeof(cl->closed_why), "%s", why);
    pthread_mutex_unlock(&cl->lock);
    enqueue(cl, Q_CLOSED, NULL, NATS_OK);
    /* The library's last word on this connection: cluster_free() may go on. */
    pthread_mutex_lock(&cl->lock);
    cl->closed = 1;
    pthread_cond_signal(&cl->closed_cond);
    pthread_mutex_unlock(&cl->lock);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    (void)nc;
    (void)sub;
    enqueue(closure, Q_ERROR, NULL, err);
}

static void enqueue(struct cluster *cl, enum qkind kind, natsMsg *msg, natsStatus err)
{
    struct qitem *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        /* The sender's deadline or the next sync makes up for it. */
        natsMsg_Destroy(msg);
        return;
    }
    q->kind = kind;
    q->msg = msg;
    q->err = err;
    pthread_mutex_lock(&cl->lock);
    if (cl->closing) {
        pthread_mutex_unlock(&cl->lock);
        natsMsg_Destroy(msg);
        free(q);
        return;
    }
    if (cl->qtail != NULL) {
        cl->qtail->next = q;
    } else {
        cl->qhead = q;
    }
    cl->qtail = q;
    if (!cl->woken) {
        cl->woken = 1;
        event_active(cl->wake, EV_TIMEOUT, 1);
    }
    pthread_mutex_unlock(&cl->lock);
}

/* Loop thread: take the whole queue at once and handle it in order. */
static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cluster *cl = arg;
    struct qitem *q, *next;
    char why[320];

    (void)fd;
    (void)what;
    pthread_mutex_lock(&cl->lock);
    q = cl->qhead;
    cl->qhead = cl->qtail = NULL;
    cl->woken = 0;
    pthread_mutex_unlock(&cl->lock);
    for (; q != NULL; q = next) {
        next = q->next;
        switch (q->kind) {
        case Q_MSG:
            handle_msg(cl, q->msg);
            break;
        case Q_CONNECTED:
            went_up(cl);
            break;
        case Q_DISCONNECTED:
            went_down(cl);
            break;
        case Q_CLOSED:
            /* Only after a failure the library does not retry (TLS, credentials): fatal. */
            if (cl->connected) {
                went_down(cl);
            }
            pthread_mutex_lock(&cl->lock);
            snprintf(why, sizeof(why),
                     "cluster node %s: the NATS connection is closed for good "
                     "(%s): check --cluster, --cluster-ca and --cluster-creds",
                     cl->node, cl->closed_why);
            pthread_mutex_unlock(&cl->lock);
            cl->ops.fatal(cl->arg, why);
            break;
        case Q_ERROR:
            srm_warn("cluster node %s: NATS error: %s", cl->node, natsStatus_GetText(q->err));
            break;
        }
        natsMsg_Destroy(q->msg);
        free(q);
    }
}

/* 2. (Re)connected: ask for everyone's users, tell ours. */
static void went_up(struct cluster *cl)
{
    char url[256], shown[512];

    if (cl->connected) {
        return;
    }
    if (natsConnection_Status(cl->nc) != NATS_CONN_STATUS_CONNECTED) {
        /* Stale: it went down again before we got here; the next event says so. */
        return;
    }
    cl->connected = 1;
    if (natsConnection_GetConnectedUrl(cl->nc, url, sizeof(url)) != NATS_OK) {
        snprintf(url, sizeof(url), "?");
    }
    srm_info("cluster node %s: NATS connection up (%s): %zu local users announced", cl->node,
             redact(url, shown, sizeof(shown)), cl->local.count);
    publish_ctl(cl, SUBJ_PRESENCE, cl->subj_node, CM_SYNC, NULL, 0);
    announce_all(cl, SUBJ_PRESENCE);
    publish_ctl(cl, SUBJ_PRESENCE, NULL, CM_HB, NULL, 0);
    cl->last_hb = now_ms();
}

/* 7. NATS lost: nobody elsewhere is reachable; say so now rather than at each SEND. */
static void went_down(struct cluster *cl)
{
    struct peer_node *n;
    struct entry *e;
    size_t i;

    if (!cl->connected) {
        return;
    }
    cl->connected = 0;
    srm_warn("cluster node %s: lost the NATS connection: reconnecting; %zu users on other nodes "
             "are offline from here until then",
             cl->node, cl->remote.count);
    while ((n = cl->nodes) != NULL) {
        cl->nodes = n->next;
        free(n);
    }
    for (i = 0; i < TABLE_BUCKETS; i++) {
        while ((e = cl->remote.b[i]) != NULL) {
            remote_gone(cl, e);
        }
    }
    while (cl->phead != NULL) {
        pending_answer(cl, cl->phead, 1);
    }
}

static void handle_msg(struct cluster *cl, natsMsg *msg)
{
    const char *subj = natsMsg_GetSubject(msg);
    size_t n = strlen(cl->subj_reply_prefix);

    if (strncmp(subj, SUBJ_USER, strlen(SUBJ_USER)) == 0) {
        handle_route(cl, msg, subj + strlen(SUBJ_USER));
    } else if (strncmp(subj, cl->subj_reply_prefix, n) == 0) {
        handle_answer(cl, msg, subj + n);
    } else {
        handle_ctl(cl, msg);
    }
}

/* srm.presence and srm.n.NODE: ON, OFF, HB, SYNC from another node. */
static void handle_ctl(struct cluster *cl, natsMsg *msg)
{
    struct srm_buf b;
    uint8_t ver, type;
    char node[SRM_WIRE_MAX_NAME + 1], name[SRM_WIRE_MAX_NAME + 1];
    uint64_t stamp = 0;
    const char *reply;
    int len = natsMsg_GetDataLength(msg);

    if (len < 0) {
        return;
    }
    srm_buf_init_read(&b, (const uint8_t *)natsMsg_GetData(msg), (size_t)len);
    if (srm_buf_get_u8(&b, &ver) != 0 || ver != PROTO_VERSION || srm_buf_get_u8(&b, &type) != 0 ||
        srm_buf_get_name(&b, node) != 0) {
        srm_debug("cluster: dropped a malformed message on %s", natsMsg_GetSubject(msg));
        return;
    }
    if (strcmp(node, cl->node) == 0) {
        if (!cl->dup_warned) {
            srm_warn("cluster: another node also calls itself %s: give each node its own --node",
                     node);
            cl->dup_warned = 1;
        }
        return;
    }
    if (type == CM_ON || type == CM_OFF) {
        if (srm_buf_get_name(&b, name) != 0 || srm_buf_get_u64(&b, &stamp) != 0 ||
            srm_buf_expect_end(&b) != 0) {
            srm_debug("cluster: dropped a malformed ON/OFF from %s", node);
            return;
        }
    } else if (srm_buf_expect_end(&b) != 0) {
        srm_debug("cluster: dropped a malformed message from %s", node);
        return;
    }
    node_seen(cl, node);
    switch (type) {
    case CM_ON:
        ctl_on(cl, node, name, stamp);
        break;
    case CM_OFF:
        ctl_off(cl, node, name, stamp);
        break;
    case CM_HB:
        break;
    case CM_SYNC:
        reply = natsMsg_GetReply(msg);
        if (reply != NULL && reply[0] != '\0') {
            srm_debug("cluster: SYNC from %s: %zu users to %s", node, cl->local.count, reply);
            announce_all(cl, reply);
        }
        break;
    default:
        srm_debug("cluster: unknown message type %u from %s", (unsigned)type, node);
        break;
    }
}

/* 3. at the other nodes: NAME registered at NODE; the newest registration wins. */
static void ctl_on(struct cluster *cl, const char *node, const char *name, uint64_t stamp)
{
    struct entry *e = table_find(&cl->local, name);

    if (e != NULL) {
        if (!newer(stamp, node, e->stamp, cl->node)) {
            srm_debug("cluster: %s on %s is older than ours: kept ours", name, node);
            return;
        }
        srm_info("cluster node %s: %s registered again on node %s: closing it here", cl->node, name,
                 node);
        if (e->sub != NULL) {
            natsSubscription_Unsubscribe(e->sub);
            natsSubscription_Destroy(e->sub);
            e->sub = NULL;
        }
        table_del(&cl->local, e);
        cl->ops.displace(cl->arg, name);
        /* Still online for the local clients: no PRESENCE. */
        e = table_add(&cl->remote, name);
        if (e != NULL) {
            snprintf(e->node, sizeof(e->node), "%s", node);
            e->stamp = stamp;
        }
        return;
    }
    e = table_find(&cl->remote, name);
    if (e != NULL) {
        if (newer(stamp, node, e->stamp, e->node)) {
            snprintf(e->node, sizeof(e->node), "%s", node);
            e->stamp = stamp;
        }
        return;
    }
    e = table_add(&cl->remote, name);
    if (e == NULL) {
        srm_warn("cluster: out of memory: %s on node %s not recorded", name, node);
        return;
    }
    snprintf(e->node, sizeof(e->node), "%s", node);
    e->stamp = stamp;
    srm_debug("cluster: %s online on node %s", name, node);
    cl->ops.presence(cl->arg, name, 1);
}

/* 5. at the other nodes: only the registration it names goes; a newer one stays. */
static void ctl_off(struct cluster *cl, const char *node, const char *name, uint64_t stamp)
{
    struct entry *e = table_find(&cl->remote, name);

    if (e == NULL || e->stamp != stamp || strcmp(e->node, node) != 0) {
        srm_debug("cluster: OFF %s from %s is stale: ignored", name, node);
        return;
    }
    srm_debug("cluster: %s offline (was on node %s)", name, node);
    remote_gone(cl, e);
}

static void node_seen(struct cluster *cl, const char *node)
{
    struct peer_node *n;

    for (n = cl->nodes; n != NULL; n = n->next) {
        if (strcmp(n->name, node) == 0) {
            n->last_seen = now_ms();
            return;
        }
    }
    n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return;
    }
    snprintf(n->name, sizeof(n->name), "%s", node);
    n->last_seen = now_ms();
    n->next = cl->nodes;
    cl->nodes = n;
    srm_info("cluster node %s: node %s joined", cl->node, node);
    /* Whatever it announced before we listened: ask it directly. */
    if (cl->connected) {
        char subj[SUBJ_MAX];

        snprintf(subj, sizeof(subj), SUBJ_NODE "%s", node);
        publish_ctl(cl, subj, cl->subj_node, CM_SYNC, NULL, 0);
    }
}

/* 4. at the recipient's node: deliver, then answer. */
static void handle_route(struct cluster *cl, natsMsg *msg, const char *to)
{
    struct srm_buf b, a;
    uint8_t ver, type, ans[3];
    char from[SRM_WIRE_MAX_NAME + 1];
    const uint8_t *payload;
    size_t n;
    const char *reply = natsMsg_GetReply(msg);
    int len = natsMsg_GetDataLength(msg), status;

    if (len < 0 || srm_name_check_str(to) != 0) {
        return;
    }
    srm_buf_init_read(&b, (const uint8_t *)natsMsg_GetData(msg), (size_t)len);
    if (srm_buf_get_u8(&b, &ver) != 0 || ver != PROTO_VERSION || srm_buf_get_u8(&b, &type) != 0 ||
        type != CM_ROUTE || srm_buf_get_name(&b, from) != 0) {
        srm_debug("cluster: dropped a malformed ROUTE for %s", to);
        return;
    }
    srm_buf_get_rest(&b, &payload, &n);
    if (n == 0 || n > SRM_LINK_MAX_PT) {
        srm_debug("cluster: dropped a ROUTE for %s with a %zu-byte payload", to, n);
        return;
    }
    status =
        cl->ops.deliver(cl->arg, to, from, payload, n) == 0 ? ANSWER_DELIVERED : ANSWER_OFFLINE;
    srm_debug("cluster: ROUTE %s -> %s, %zu bytes: %s", from, to, n,
              status == ANSWER_DELIVERED ? "delivered" : "not here");
    if (reply == NULL || reply[0] == '\0' || !cl->connected) {
        return;
    }
    srm_buf_init_write(&a, ans, sizeof(ans));
    if (srm_buf_put_u8(&a, PROTO_VERSION) != 0 || srm_buf_put_u8(&a, CM_ANSWER) != 0 ||
        srm_buf_put_u8(&a, (uint8_t)status) != 0) {
        return;
    }
    if (natsConnection_Publish(cl->nc, reply, a.data, (int)a.len) != NATS_OK) {
        srm_debug("cluster: cannot answer %s", reply);
    }
}

/* 4. back at the sender's node: the answer, or NATS saying nobody holds the subject. */
static void handle_answer(struct cluster *cl, natsMsg *msg, const char *idstr)
{
    struct srm_buf b;
    struct pending *p;
    uint8_t ver, type, status;
    char *end;
    unsigned long long id;
    int len = natsMsg_GetDataLength(msg), offline;

    errno = 0;
    id = strtoull(idstr, &end, 10);
    if (errno != 0 || *end != '\0' || end == idstr) {
        return;
    }
    for (p = cl->pb[id & (PENDING_BUCKETS - 1u)]; p != NULL && p->id != id; p = p->hnext) {
    }
    if (p == NULL) {
        srm_debug("cluster: answer %llu after its deadline: ignored", id);
        return;
    }
    if (natsMsg_IsNoResponders(msg)) {
        offline = 1;
    } else {
        srm_buf_init_read(&b, (const uint8_t *)natsMsg_GetData(msg), len < 0 ? 0 : (size_t)len);
        if (srm_buf_get_u8(&b, &ver) != 0 || ver != PROTO_VERSION ||
            srm_buf_get_u8(&b, &type) != 0 || type != CM_ANSWER ||
            srm_buf_get_u8(&b, &status) != 0 || srm_buf_expect_end(&b) != 0) {
            srm_debug("cluster: malformed answer %llu: ignored", id);
            return;
        }
        offline = status != ANSWER_DELIVERED;
    }
    pending_answer(cl, p, offline);
}

/* Answer p (UNDELIVERABLE if offline) and forget it. */
static void pending_answer(struct cluster *cl, struct pending *p, int offline)
{
    struct entry *e;

    pending_unlink(cl, p);
    if (offline) {
        srm_debug("cluster: %s -> %s ref %u: offline cluster-wide", p->from, p->to,
                  (unsigned)p->ref);
        cl->ops.undeliverable(cl->arg, p->from, p->to, p->ref, SRM_REASON_OFFLINE);
        /*
         * Nobody holds the subject of the registration we believed in: it
         * is gone (a newer one, if any, has its own entry and stays).
         */
        e = table_find(&cl->remote, p->to);
        if (e != NULL && p->node[0] != '\0' && e->stamp == p->stamp &&
            strcmp(e->node, p->node) == 0) {
            remote_gone(cl, e);
        }
    }
    p->hnext = cl->pfree;
    cl->pfree = p;
}

static void pending_unlink(struct cluster *cl, struct pending *p)
{
    struct pending **pp = &cl->pb[p->id & (PENDING_BUCKETS - 1u)];

    while (*pp != NULL && *pp != p) {
        pp = &(*pp)->hnext;
    }
    if (*pp == p) {
        *pp = p->hnext;
    }
    p->hnext = NULL;
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        cl->phead = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    } else {
        cl->ptail = p->prev;
    }
    p->prev = p->next = NULL;
    cl->npending--;
}

/* 6. Heartbeat, dead nodes, and routes past their deadline. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct cluster *cl = arg;
    struct peer_node **pp, *n;
    uint64_t now = now_ms();
    char dead[CLUSTER_NODE_MAX + 1];

    (void)fd;
    (void)what;
    while (cl->phead != NULL && cl->phead->deadline <= now) {
        srm_debug("cluster: no answer for %s -> %s within %u ms", cl->phead->from, cl->phead->to,
                  CLUSTER_ROUTE_DEADLINE_MS);
        pending_answer(cl, cl->phead, 1);
    }
    if (!cl->connected) {
        return;
    }
    if (now - cl->last_hb >= CLUSTER_HEARTBEAT_MS) {
        publish_ctl(cl, SUBJ_PRESENCE, NULL, CM_HB, NULL, 0);
        cl->last_hb = now;
    }
    pp = &cl->nodes;
    while ((n = *pp) != NULL) {
        if (now - n->last_seen < CLUSTER_NODE_EXPIRY_MS) {
            pp = &n->next;
            continue;
        }
        *pp = n->next;
        snprintf(dead, sizeof(dead), "%s", n->name);
        free(n);
        expire_node(cl, dead);
    }
}

static void expire_node(struct cluster *cl, const char *node)
{
    struct entry *e, *next;
    size_t i, count = 0;

    for (i = 0; i < TABLE_BUCKETS; i++) {
        for (e = cl->remote.b[i]; e != NULL; e = next) {
            next = e->next;
            if (strcmp(e->node, node) == 0) {
                remote_gone(cl, e);
                count++;
            }
        }
    }
    srm_warn("cluster node %s: node %s silent for %u ms: its %zu users are offline", cl->node, node,
             CLUSTER_NODE_EXPIRY_MS, count);
}

/* A remote user is gone: forget it and tell the local clients. */
static void remote_gone(struct cluster *cl, struct entry *e)
{
    char name[SRM_WIRE_MAX_NAME + 1];

    snprintf(name, sizeof(name), "%s", e->name);
    table_del(&cl->remote, e);
    cl->ops.presence(cl->arg, name, 0);
}

/* 3. */
int cluster_user_online(struct cluster *cl, const char *name)
{
    struct entry *e;
    uint64_t stamp = now_us();
    char subj[SUBJ_MAX];
    int elsewhere = 0;

    /* Newest wins: later than any registration of it we know of, whatever the clocks say. */
    e = table_find(&cl->remote, name);
    if (e != NULL) {
        if (e->stamp >= stamp) {
            stamp = e->stamp + 1u;
        }
        table_del(&cl->remote, e);
        elsewhere = 1;
    }
    e = table_find(&cl->local, name);
    if (e != NULL) {
        /* Replaced on this node: same subscription, a newer stamp. */
        if (e->stamp >= stamp) {
            stamp = e->stamp + 1u;
        }
    } else {
        e = table_add(&cl->local, name);
        if (e == NULL) {
            srm_warn("cluster: out of memory: %s is reachable from this node only", name);
            return elsewhere;
        }
        snprintf(subj, sizeof(subj), SUBJ_USER "%s", name);
        if (natsConnection_Subscribe(&e->sub, cl->nc, subj, on_msg, cl) != NATS_OK) {
            log_nats("cluster: subscribe", NATS_ERR);
            srm_warn("cluster: cannot subscribe to %s: %s is reachable from this node only", subj,
                     name);
            e->sub = NULL;
        }
    }
    e->stamp = stamp;
    snprintf(e->node, sizeof(e->node), "%s", cl->node);
    if (cl->connected) {
        publish_ctl(cl, SUBJ_PRESENCE, NULL, CM_ON, name, stamp);
    }
    return elsewhere;
}

/* 5. */
void cluster_user_offline(struct cluster *cl, const char *name)
{
    struct entry *e = table_find(&cl->local, name);
    uint64_t stamp;

    if (e == NULL) {
        return;
    }
    stamp = e->stamp;
    if (e->sub != NULL) {
        natsSubscription_Unsubscribe(e->sub);
        natsSubscription_Destroy(e->sub);
        e->sub = NULL;
    }
    table_del(&cl->local, e);
    if (cl->connected) {
        publish_ctl(cl, SUBJ_PRESENCE, NULL, CM_OFF, name, stamp);
    }
}

/* 4. at the sender's node. */
void cluster_route(struct cluster *cl, const char *from, const char *to, uint32_t ref,
                   const uint8_t *payload, size_t n)
{
    struct srm_buf b;
    struct pending *p;
    struct entry *e;
    char subj[SUBJ_MAX], reply[SUBJ_MAX + 24u];
    natsStatus s;

    if (!cl->connected) {
        cl->ops.undeliverable(cl->arg, from, to, ref, SRM_REASON_OFFLINE);
        return;
    }
    p = cl->pfree;
    if (p != NULL) {
        cl->pfree = p->hnext;
        memset(p, 0, sizeof(*p));
    } else {
        p = calloc(1, sizeof(*p));
        if (p == NULL) {
            cl->ops.undeliverable(cl->arg, from, to, ref, SRM_REASON_OVERLOAD);
            return;
        }
    }
    p->id = cl->next_id++;
    p->ref = ref;
    p->deadline = now_ms() + CLUSTER_ROUTE_DEADLINE_MS;
    snprintf(p->from, sizeof(p->from), "%s", from);
    snprintf(p->to, sizeof(p->to), "%s", to);
    e = table_find(&cl->remote, to);
    if (e != NULL) {
        snprintf(p->node, sizeof(p->node), "%s", e->node);
        p->stamp = e->stamp;
    }
    p->prev = cl->ptail;
    if (cl->ptail != NULL) {
        cl->ptail->next = p;
    } else {
        cl->phead = p;
    }
    cl->ptail = p;
    p->hnext = cl->pb[p->id & (PENDING_BUCKETS - 1u)];
    cl->pb[p->id & (PENDING_BUCKETS - 1u)] = p;
    cl->npending++;

    srm_buf_init_write(&b, cl->buf, cl->bufcap);
    snprintf(subj, sizeof(subj), SUBJ_USER "%s", to);
    snprintf(reply, sizeof(reply), "%s%llu", cl->subj_reply_prefix, (unsigned long long)p->id);
    if (srm_buf_put_u8(&b, PROTO_VERSION) != 0 || srm_buf_put_u8(&b, CM_ROUTE) != 0 ||
        srm_buf_put_name(&b, from) != 0 || srm_buf_put_bytes(&b, payload, n) != 0) {
        pending_answer(cl, p, 1);
        return;
    }
    s = natsConnection_PublishRequest(cl->nc, subj, reply, b.data, (int)b.len);
    if (s != NATS_OK) {
        srm_debug("cluster: publish to %s: %s", subj, natsStatus_GetText(s));
        pending_answer(cl, p, 1);
        return;
    }
    srm_debug("cluster: ROUTE %s -> %s ref %u as %llu, %zu bytes", from, to, (unsigned)ref,
              (unsigned long long)p->id, n);
}

size_t cluster_list(const struct cluster *cl, const char **names, size_t max, size_t room)
{
    const struct entry *e;
    size_t i, count = 0, need;

    for (i = 0; i < TABLE_BUCKETS; i++) {
        for (e = cl->remote.b[i]; e != NULL; e = e->next) {
            need = 1u + strlen(e->name);
            if (count == max || need > room) {
                return count;
            }
            room -= need;
            names[count++] = e->name;
        }
    }
    return count;
}

/* ON, OFF, HB or SYNC from this node. */
static void publish_ctl(struct cluster *cl, const char *subj, const char *reply, uint8_t type,
                        const char *name, uint64_t stamp)
{
    struct srm_buf b;
    uint8_t msg[CTL_MAX];
    natsStatus s;

    srm_buf_init_write(&b, msg, sizeof(msg));
    if (srm_buf_put_u8(&b, PROTO_VERSION) != 0 || srm_buf_put_u8(&b, type) != 0 ||
        srm_buf_put_name(&b, cl->node) != 0) {
        return;
    }
    if (name != NULL && (srm_buf_put_name(&b, name) != 0 || srm_buf_put_u64(&b, stamp) != 0)) {
        return;
    }
    if (reply != NULL) {
        s = natsConnection_PublishRequest(cl->nc, subj, reply, b.data, (int)b.len);
    } else {
        s = natsConnection_Publish(cl->nc, subj, b.data, (int)b.len);
    }
    if (s != NATS_OK) {
        srm_debug("cluster: publish to %s: %s", subj, natsStatus_GetText(s));
    }
}

static void announce_all(struct cluster *cl, const char *subj)
{
    const struct entry *e;
    size_t i;

    for (i = 0; i < TABLE_BUCKETS; i++) {
        for (e = cl->local.b[i]; e != NULL; e = e->next) {
            publish_ctl(cl, subj, NULL, CM_ON, e->name, e->stamp);
        }
    }
}

void cluster_free(struct cluster *cl)
{
    struct qitem *q, *next;
    struct entry *e;
    struct pending *p;
    struct peer_node *n;
    size_t i;

    if (cl == NULL) {
        return;
    }
    if (cl->lock_ok) {
        pthread_mutex_lock(&cl->lock);
        cl->closing = 1;
        pthread_mutex_unlock(&cl->lock);
    }
    for (i = 0; i < TABLE_BUCKETS; i++) {
        while ((e = cl->local.b[i]) != NULL) {
            if (e->sub != NULL) {
                natsSubscription_Destroy(e->sub);
                e->sub = NULL;
            }
            table_del(&cl->local, e);
        }
        while ((e = cl->remote.b[i]) != NULL) {
            table_del(&cl->remote, e);
        }
    }
    natsSubscription_Destroy(cl->sub_presence);
    natsSubscription_Destroy(cl->sub_node);
    natsSubscription_Destroy(cl->sub_reply);
    if (cl->nc != NULL) {
        natsConnection_Close(cl->nc);
        wait_closed(cl);
        natsConnection_Destroy(cl->nc);
    }
    natsOptions_Destroy(cl->opts);
    /*
     * No NATS thread may call into us once we are gone.  Not after TLS:
     * there libnats 3.4's own cleanup leaves OpenSSL's exit handler to crash.
     */
    if (!cl->secure) {
        nats_CloseAndWait(2000);
    }
    for (q = cl->qhead; q != NULL; q = next) {
        next = q->next;
        natsMsg_Destroy(q->msg);
        free(q);
    }
    while ((p = cl->phead) != NULL) {
        pending_unlink(cl, p);
        free(p);
    }
    while ((p = cl->pfree) != NULL) {
        cl->pfree = p->hnext;
        free(p);
    }
    while ((n = cl->nodes) != NULL) {
        cl->nodes = n->next;
        free(n);
    }
    if (cl->wake != NULL) {
        event_free(cl->wake);
    }
    if (cl->tick != NULL) {
        event_free(cl->tick);
    }
    if (cl->lock_ok) {
        pthread_cond_destroy(&cl->closed_cond);
        pthread_mutex_destroy(&cl->lock);
    }
    free(cl->buf);
    free(cl);
}

/* Wait (bounded) for the closed callback, the last one the library makes for this connection. */
static void wait_closed(struct cluster *cl)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&cl->lock);
    while (!cl->closed) {
        if (pthread_cond_timedwait(&cl->closed_cond, &cl->lock, &until) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&cl->lock);
}

static struct entry *table_find(const struct table *t, const char *name)
{
    struct entry *e;

    for (e = t->b[hash_name(name) & (TABLE_BUCKETS - 1u)]; e != NULL; e = e->next) {
        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

static struct entry *table_add(struct table *t, const char *name)
{
    struct entry *e = calloc(1, sizeof(*e));
    uint32_t h = hash_name(name) & (TABLE_BUCKETS - 1u);

    if (e == NULL) {
        return NULL;
    }
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->next = t->b[h];
    t->b[h] = e;
    t->count++;
    return e;
}

static void table_del(struct table *t, struct entry *e)
{
    struct entry **pp = &t->b[hash_name(e->name) & (TABLE_BUCKETS - 1u)];

    while (*pp != NULL && *pp != e) {
        pp = &(*pp)->next;
    }
    if (*pp == e) {
        *pp = e->next;
        t->count--;
    }
    free(e);
}

/* (stamp, node) ordering: the later stamp, then the greater node name. */
static int newer(uint64_t s1, const char *n1, uint64_t s2, const char *n2)
{
    if (s1 != s2) {
        return s1 > s2;
    }
    return strcmp(n1, n2) > 0;
}

/* FNV-1a, as names.c. */
static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* URLs for a log line: a user:password@ part becomes ***@. */
static const char *redact(const char *urls, char *out, size_t n)
{
    struct srm_buf b;
    const char *p = urls, *seg_end, *at, *scheme;
    size_t len;

    srm_buf_init_write(&b, (uint8_t *)out, n - 1u);
    while (*p != '\0') {
        seg_end = strchr(p, ',');
        len = seg_end != NULL ? (size_t)(seg_end - p) : strlen(p);
        scheme = strstr(p, "://");
        at = memchr(p, '@', len);
        if (scheme != NULL && at != NULL && scheme < at) {
            if (srm_buf_put_bytes(&b, p, (size_t)(scheme - p) + 3u) != 0 ||
                srm_buf_put_bytes(&b, "***", 3) != 0 ||
                srm_buf_put_bytes(&b, at, len - (size_t)(at - p)) != 0) {
                break;
            }
        } else if (srm_buf_put_bytes(&b, p, len) != 0) {
            break;
        }
        p += len;
        if (*p == ',') {
            if (srm_buf_put_u8(&b, ',') != 0) {
                break;
            }
            p++;
        }
    }
    out[b.len] = '\0';
    return out;
}

/* The NATS library's own error stack, in the debug log. */
static void log_nats(const char *what, natsStatus s)
{
    char stack[512];

    if (nats_GetLastErrorStack(stack, sizeof(stack)) == NATS_OK && stack[0] != '\0') {
        srm_debug("%s: %s: %s", what, natsStatus_GetText(s), stack);
    } else {
        srm_debug("%s: %s", what, natsStatus_GetText(s));
    }
}
