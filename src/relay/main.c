/* SPDX-License-Identifier: MIT */
/*
 * main.c: the relay program's command line and start-up (DESIGN.md
 * section 8): parse options, load DIR/relay.key, count the users, listen,
 * run the event loop until SIGINT or SIGTERM, then shut down cleanly.
 *
 * Exit status: 0 after a clean shutdown (and for --help, --version),
 * 1 when something at run time fails, 2 for a usage error.  Every failure
 * prints exactly one line starting with "error: ".
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "harden.h"
#include "log.h"
#include "net.h"
#include "cluster.h"
#include "relay.h"

#define EXIT_USAGE 2
/* Descriptors the relay needs besides its connections (stdio, listener, epoll, ...). */
#define FD_RESERVE 32ul

struct opts {
    struct relay_config cfg;
    const char *listen;
    const char *key_file; /* --key, or NULL for DIR/relay.key */
    int debug;
    struct cluster_config cluster; /* --cluster, --node, --cluster-*; urls NULL: one relay */
};

static int parse_opts(int argc, char **argv, struct opts *o);
static int cluster_opts(struct opts *o, int cluster);
static void usage(FILE *out);
static int load_key(const char *dir, const char *file, struct srm_key **out);
static void raise_fd_limit(unsigned long max_conns);
static void signal_cb(evutil_socket_t sig, short what, void *arg);
static int run(const struct opts *o);

int main(int argc, char **argv)
{
    struct opts o;
    int r;

    srm_log_init("relay", stderr);
    r = parse_opts(argc, argv, &o);
    if (r >= 0) {
        return r;
    }
    if (o.debug) {
        srm_log_set_debug(stderr);
    }
    return run(&o);
}

/* Returns -1 to go on, or an exit status (0 after --help/--version, 2 on a usage error). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"keys", required_argument, NULL, 'k'},
        {"key", required_argument, NULL, 'K'},
        {"cluster", required_argument, NULL, 'c'},
        {"node", required_argument, NULL, 'N'},
        {"cluster-creds", required_argument, NULL, 'C'},
        {"cluster-ca", required_argument, NULL, 'A'},
        {"cluster-cert", required_argument, NULL, 'E'},
        {"cluster-key", required_argument, NULL, 'Y'},
        {"debug", no_argument, NULL, 'd'},
        {"max-conns", required_argument, NULL, 'm'},
        {"reg-timeout", required_argument, NULL, 't'},
        {"keepalive", required_argument, NULL, 'a'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"dead-after", required_argument, NULL, 'i'}, /* the client's name for it */
        {"max-output", required_argument, NULL, 'o'},
        {"max-unauth", required_argument, NULL, 'u'},
        {"max-unauth-source", required_argument, NULL, 'U'},
        {"reg-rate", required_argument, NULL, 'r'},
        {"busy-poll", required_argument, NULL, 'B'},
        {"batch-wait", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char err[256];
    int ch, cluster = 0;

    memset(o, 0, sizeof(*o));
    o->listen = RELAY_DEFAULT_LISTEN;
    o->cfg.keys_dir = RELAY_DEFAULT_KEYS;
    o->cfg.max_conns = RELAY_DEFAULT_MAX_CONNS;
    o->cfg.reg_timeout = RELAY_DEFAULT_REG_TIMEOUT;
    o->cfg.keepalive = RELAY_DEFAULT_KEEPALIVE;
    o->cfg.idle_timeout = 0; /* derived from keepalive below unless given */
    o->cfg.max_output = SRM_WIRE_MAX_OUTBUF;
    o->cfg.max_unauth = RELAY_DEFAULT_MAX_UNAUTH;
    o->cfg.max_unauth_source = RELAY_DEFAULT_MAX_UNAUTH_SOURCE;
    o->cfg.reg_rate = RELAY_DEFAULT_REG_RATE;
    o->cfg.batch_wait_us = RELAY_DEFAULT_BATCH_WAIT;
    opterr = 0; /* our own one-line messages */
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            o->listen = optarg;
            break;
        case 'k':
            if (optarg[0] == '\0') {
                srm_error("--keys needs a directory (try relay --help)");
                return EXIT_USAGE;
            }
            o->cfg.keys_dir = optarg;
            break;
        case 'K':
            if (optarg[0] == '\0') {
                srm_error("--key needs a file (try relay --help)");
                return EXIT_USAGE;
            }
            o->key_file = optarg;
            break;
        case 'c':
            cluster = 1;
            o->cluster.urls = optarg;
            break;
        case 'N':
            o->cluster.node = optarg;
            break;
        case 'C':
            o->cluster.creds = optarg;
            break;
        case 'A':
            o->cluster.ca = optarg;
            break;
        case 'E':
            o->cluster.cert = optarg;
            break;
        case 'Y':
            o->cluster.key = optarg;
            break;
        case 'd':
            o->debug = 1;
            break;
        case 'm':
            if (srm_net_parse_uint(optarg, 1, 1000000, &o->cfg.max_conns) != 0) {
                srm_error("--max-conns '%s': give a number from 1 to 1000000", optarg);
                return EXIT_USAGE;
            }
            break;
        case 't':
            if (srm_net_parse_uint(optarg, 1, 3600, &o->cfg.reg_timeout) != 0) {
                srm_error("--reg-timeout '%s': give a number of seconds from 1 to 3600", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'a':
            if (srm_net_parse_uint(optarg, 0, 86400, &o->cfg.keepalive) != 0) {
                srm_error("--keepalive '%s': give a number of seconds from 0 (off) to 86400",
                          optarg);
                return EXIT_USAGE;
            }
            break;
        case 'i':
            if (srm_net_parse_uint(optarg, 2, 86400UL * 3, &o->cfg.idle_timeout) != 0) {
                srm_error("--idle-timeout '%s': give a number of seconds from 2 to 259200", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            /* At least one frame of the largest size must fit, or nobody could be sent one. */
            if (srm_net_parse_uint(optarg, RELAY_MAX_INBUF, 1ul << 32, &o->cfg.max_output) != 0) {
                srm_error("--max-output '%s': give a number of bytes from %u to 4294967296", optarg,
                          (unsigned)RELAY_MAX_INBUF);
                return EXIT_USAGE;
            }
            break;
        case 'u':
            if (srm_net_parse_uint(optarg, 1, 1000000, &o->cfg.max_unauth) != 0) {
                srm_error("--max-unauth '%s': give a number from 1 to 1000000", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'U':
            if (srm_net_parse_uint(optarg, 1, 1000000, &o->cfg.max_unauth_source) != 0) {
                srm_error("--max-unauth-source '%s': give a number from 1 to 1000000", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'r':
            if (srm_net_parse_uint(optarg, 0, 1000000, &o->cfg.reg_rate) != 0) {
                srm_error("--reg-rate '%s': give a number from 0 (unlimited) to 1000000", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'B':
            if (srm_net_parse_uint(optarg, 0, 1000000, &o->cfg.busy_poll_us) != 0) {
                srm_error("--busy-poll '%s': give microseconds from 0 (off) to 1000000", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'W':
            if (srm_net_parse_uint(optarg, 0, 1000, &o->cfg.batch_wait_us) != 0) {
                srm_error("--batch-wait '%s': give microseconds from 0 (off) to 1000", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("srm relay %s (%s, libevent %s)\n", SRM_VERSION,
                   OpenSSL_version(OPENSSL_VERSION), event_get_version());
            return 0;
        case ':':
            srm_error("%s needs a value (try relay --help)", argv[optind - 1]);
            return EXIT_USAGE;
        case '?':
        default:
            if (optopt != 0) {
                srm_error("unknown option -%c (try relay --help)", optopt);
            } else {
                srm_error("unknown option %s (try relay --help)", argv[optind - 1]);
            }
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        srm_error("unexpected argument '%s': the relay takes only options (try relay --help)",
                  argv[optind]);
        return EXIT_USAGE;
    }
    if (cluster_opts(o, cluster) != 0) {
        return EXIT_USAGE;
    }
    if (o->cfg.keepalive > 0 && o->cfg.idle_timeout == 0) {
        /* Two PINGs go unanswered before the drop: 15 s -> 40 s. */
        o->cfg.idle_timeout =
            (o->cfg.keepalive * RELAY_IDLE_NUM + RELAY_IDLE_DEN - 1u) / RELAY_IDLE_DEN;
    }
    if (o->cfg.keepalive > 0 && o->cfg.idle_timeout <= o->cfg.keepalive) {
        srm_error("--idle-timeout %lu must be longer than --keepalive %lu", o->cfg.idle_timeout,
                  o->cfg.keepalive);
        return EXIT_USAGE;
    }
    if (o->cfg.keepalive == 0 && o->cfg.idle_timeout != 0) {
        srm_error("--idle-timeout needs --keepalive above 0 (the PINGs are what keeps an idle "
                  "client alive)");
        return EXIT_USAGE;
    }
    if (srm_net_parse_hostport(o->listen, o->cfg.host, sizeof(o->cfg.host), &o->cfg.port, err,
                               sizeof(err)) != 0) {
        srm_error("--listen %s", err);
        return EXIT_USAGE;
    }
    return -1;
}

/* --cluster and its companions; the environment fills in what the options left out. */
static int cluster_opts(struct opts *o, int cluster)
{
    struct cluster_config *cc = &o->cluster;
    char err[256];

    if (!cluster) {
        if (cc->node != NULL || cc->creds != NULL || cc->ca != NULL || cc->cert != NULL ||
            cc->key != NULL) {
            srm_error("--node and --cluster-* only make sense with --cluster URLS");
            return -1;
        }
        return 0;
    }
    if (cluster_check_urls(cc->urls, err, sizeof(err)) != 0) {
        srm_error("--cluster: %s", err);
        return -1;
    }
    if (cc->node != NULL && srm_name_check_str(cc->node) != 0) {
        srm_error("--node '%s': give 1 to 32 of a-z, 0-9, _ and -", cc->node);
        return -1;
    }
    if (cc->creds == NULL && getenv("SRM_CLUSTER_CREDS") != NULL) {
        cc->creds = getenv("SRM_CLUSTER_CREDS");
    }
    if (cc->ca == NULL && getenv("SRM_CLUSTER_CA") != NULL) {
        cc->ca = getenv("SRM_CLUSTER_CA");
    }
    if ((cc->cert == NULL) != (cc->key == NULL)) {
        srm_error("--cluster-cert and --cluster-key go together");
        return -1;
    }
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: relay [OPTIONS]\n"
            "Relay for srm: registers users by their keys and forwards their end-to-end\n"
            "encrypted messages, which it cannot read.\n"
            "\n"
            "  --listen ADDR:PORT   address to listen on (default %s;\n"
            "                       write IPv6 as [ADDR]:PORT)\n"
            "  --keys DIR           key directory: DIR/relay.key, and DIR/NAME.pub for each\n"
            "                       user allowed to register (default %s/)\n"
            "  --key FILE           the relay's private key (default DIR/relay.key;\n"
            "                       under systemd: ${CREDENTIALS_DIRECTORY}/relay.key)\n"
            "  --cluster URLS       nats://HOST:PORT or tls://HOST:PORT[,...]: be one node\n"
            "                       of a relay cluster routed through NATS (docs/CLUSTER.md;\n"
            "                       default: none, a single relay)\n"
            "  --node NAME          this node's name in the cluster (default: unique to the\n"
            "                       process)\n"
            "  --cluster-creds FILE NATS credentials (.creds: JWT and seed; or\n"
            "                       $SRM_CLUSTER_CREDS)\n"
            "  --cluster-ca FILE    PEM CA that signed the NATS server's certificate; turns\n"
            "                       on TLS (or $SRM_CLUSTER_CA)\n"
            "  --cluster-cert FILE  --cluster-key FILE  client certificate for NATS TLS\n"
            "  --max-conns N        most connections at once, registered or not (default %lu)\n"
            "  --reg-timeout SECS   seconds a connection has to finish registering, however\n"
            "                       it trickles in (default %lu)\n"
            "  --keepalive SECS     PING a registered client idle this long (default %lu;\n"
            "                       0: never, and never drop an idle client)\n"
            "  --idle-timeout SECS  drop a registered client that sent nothing this long\n"
            "                       (default 8/3 of --keepalive: 40 s; alias --dead-after)\n"
            "  --max-output BYTES   drop a client that lets this much output pile up\n"
            "                       unread (default %u)\n"
            "  --max-unauth N       most connections still registering (default %lu)\n"
            "  --max-unauth-source N  ... from one address (default %lu)\n"
            "  --reg-rate N         registrations (REG_HELLO, the relay's RSA work) per\n"
            "                       second from one address, bursts of 2N; 0: unlimited\n"
            "                       (default %lu)\n"
            "  --busy-poll USECS    after input, poll this long before sleeping: lower\n"
            "                       latency at moderate load for CPU time (default 0: off)\n"
            "  --batch-wait USECS   under load, pause this long after reading, so later\n"
            "                       reads and writes carry more frames (default %lu;\n"
            "                       0: off; not with --busy-poll)\n"
            "  --debug              protocol log to standard error (never keys or text)\n"
            "  --help               show this help and exit\n"
            "  --version            show the version and exit\n"
            "\n"
            "Users are added by copying NAME.pub into DIR; no restart is needed.\n"
            "Make keys with scripts/keygen.sh relay NAME...\n",
            RELAY_DEFAULT_LISTEN, RELAY_DEFAULT_KEYS, RELAY_DEFAULT_MAX_CONNS,
            RELAY_DEFAULT_REG_TIMEOUT, RELAY_DEFAULT_KEEPALIVE, (unsigned)SRM_WIRE_MAX_OUTBUF,
            RELAY_DEFAULT_MAX_UNAUTH, RELAY_DEFAULT_MAX_UNAUTH_SOURCE, RELAY_DEFAULT_REG_RATE,
            RELAY_DEFAULT_BATCH_WAIT);
}

/* DIR/relay.key, with one clear line (and what to do) for each way it can fail. */
static int load_key(const char *dir, const char *file, struct srm_key **out)
{
    char path[4096];
    int r, e;

    if (file != NULL) {
        if (snprintf(path, sizeof(path), "%s", file) >= (int)sizeof(path)) {
            srm_error("key file name too long: %s", file);
            return -1;
        }
    } else if (srm_net_key_path(path, sizeof(path), dir, "relay", "key") != 0) {
        srm_error("key directory name too long: %s", dir);
        return -1;
    }
    errno = 0;
    r = srm_key_load_private(path, out);
    e = errno;
    switch (r) {
    case 0:
        return 0;
    case SRM_ERR_KEY_PERMS:
        srm_error("%s is readable by other users: run chmod 600 %s", path, path);
        break;
    case SRM_ERR_IO:
        if (e == ENOENT || e == 0) {
            srm_error("%s is missing: run scripts/keygen.sh -d %s relay (or give --keys DIR)", path,
                      dir);
        } else {
            srm_error("cannot read %s: %s", path, strerror(e));
        }
        break;
    case SRM_ERR_KEY_FORMAT:
        srm_error("%s is not a PEM private key: make a new one with scripts/keygen.sh -d %s "
                  "relay",
                  path, dir);
        break;
    case SRM_ERR_BAD_KEY:
        srm_error("%s is not an RSA key of %d to %d bits: make a new one with "
                  "scripts/keygen.sh -d %s relay",
                  path, SRM_RSA_MIN_BITS, SRM_RSA_MAX_BITS, dir);
        break;
    default:
        srm_error("cannot load %s: %s", path, srm_strerror(r));
        break;
    }
    srm_log_crypto_errors(path);
    return -1;
}

/* Each connection is a descriptor: make room for --max-conns of them if the hard limit allows. */
static void raise_fd_limit(unsigned long max_conns)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)max_conns + FD_RESERVE;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want) {
        return;
    }
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        srm_warn("the open file limit (%llu) is below --max-conns %lu: past it new connections "
                 "wait (raise ulimit -n)",
                 (unsigned long long)rl.rlim_max, max_conns);
        want = rl.rlim_max;
    }
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        srm_debug("setrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    }
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct relay *r = arg;
    static int count;

    (void)what;
    if (count++ > 0) {
        /* A second signal: stop waiting for clients to drain. */
        srm_info("signal %d again: stopping now", (int)sig);
        relay_stop(r);
        return;
    }
    srm_info("signal %d: shutting down", (int)sig);
    relay_shutdown(r);
}

static int run(const struct opts *o)
{
    struct event_base *base = NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    struct srm_key *key = NULL;
    struct relay *relay = NULL;
    char fp[SRM_FP_STR_LEN];
    long users;
    int status = 1;

    /* The relay key and every link key live in this process: no core dumps, no ptrace. */
    if (srm_harden_process() != 0) {
        srm_warn("cannot disable core dumps: %s (the relay goes on without)", strerror(errno));
    }
    /* A peer that vanishes mid-write must cost an EPIPE, not the process. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        srm_error("cannot ignore SIGPIPE: %s", strerror(errno));
        goto out;
    }
    if (load_key(o->cfg.keys_dir, o->key_file, &key) != 0) {
        goto out;
    }
    if (srm_key_fingerprint_str(key, fp, sizeof(fp)) != 0) {
        srm_error("cannot compute the fingerprint of %s/relay.key", o->cfg.keys_dir);
        goto out;
    }
    users = users_count(o->cfg.keys_dir);
    if (users < 0) {
        srm_error("cannot read the key directory %s: %s", o->cfg.keys_dir, strerror(errno));
        goto out;
    }
    if (users == 0) {
        srm_warn("no user keys in %s: nobody can register until NAME.pub files are added "
                 "(scripts/keygen.sh -d %s NAME)",
                 o->cfg.keys_dir, o->cfg.keys_dir);
    } else {
        srm_info("%ld user key%s in %s", users, users == 1 ? "" : "s", o->cfg.keys_dir);
    }
    raise_fd_limit(o->cfg.max_conns);
    /* Before the loop exists: the NATS library's threads need a lock-enabled one. */
    if (o->cluster.urls != NULL && cluster_global_init() != 0) {
        goto out;
    }
    base = event_base_new();
    if (base == NULL) {
        srm_error("cannot create the event loop (libevent)");
        goto out;
    }
    if (relay_new(base, &o->cfg, key, &relay) != 0) {
        goto out;
    }
    if (o->cluster.urls != NULL && relay_join_cluster(relay, &o->cluster) != 0) {
        goto out;
    }
    sigint = evsignal_new(base, SIGINT, signal_cb, relay);
    sigterm = evsignal_new(base, SIGTERM, signal_cb, relay);
    if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) != 0 ||
        evsignal_add(sigterm, NULL) != 0) {
        srm_error("cannot watch SIGINT and SIGTERM (libevent)");
        goto out;
    }
    if (relay_run(relay) != 0) {
        srm_error("the event loop failed (libevent)");
        goto out;
    }
    srm_info("stopped");
    status = relay_cluster_failed(relay) ? 1 : 0;
out:
    if (sigint != NULL) {
        event_free(sigint);
    }
    if (sigterm != NULL) {
        event_free(sigterm);
    }
    relay_free(relay);
    if (base != NULL) {
        event_base_free(base);
    }
    srm_key_free(key);
    return status;
}
