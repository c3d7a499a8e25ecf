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

#include "srm/crypto.h"
#include "srm/err.h"
#include "log.h"
#include "net.h"
#include "relay.h"

#define EXIT_USAGE 2
/* Descriptors the relay needs besides its connections (stdio, listener, epoll, ...). */
#define FD_RESERVE 32ul

struct opts {
    struct relay_config cfg;
    const char *listen;
    const char *key_file; /* --key, or NULL for DIR/relay.key */
    int debug;
};

static int parse_opts(int argc, char **argv, struct opts *o);
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
        {"debug", no_argument, NULL, 'd'},
        {"max-conns", required_argument, NULL, 'm'},
        {"reg-timeout", required_argument, NULL, 't'},
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
    if (cluster) {
        srm_error("--cluster is not supported by this build yet");
        return EXIT_USAGE;
    }
    if (srm_net_parse_hostport(o->listen, o->cfg.host, sizeof(o->cfg.host), &o->cfg.port, err,
                               sizeof(err)) != 0) {
        srm_error("--listen %s", err);
        return EXIT_USAGE;
    }
    return -1;
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
            "  --cluster URLS       nats://HOST:PORT[,...] cluster routing (not supported by\n"
            "                       this build yet; default: none, a single relay)\n"
            "  --max-conns N        most connections at once, registered or not (default %lu)\n"
            "  --reg-timeout SECS   seconds a connection has to finish registering\n"
            "                       (default %lu)\n"
            "  --debug              protocol log to standard error (never keys or text)\n"
            "  --help               show this help and exit\n"
            "  --version            show the version and exit\n"
            "\n"
            "Users are added by copying NAME.pub into DIR; no restart is needed.\n"
            "Make keys with scripts/keygen.sh relay NAME...\n",
            RELAY_DEFAULT_LISTEN, RELAY_DEFAULT_KEYS, RELAY_DEFAULT_MAX_CONNS,
            RELAY_DEFAULT_REG_TIMEOUT);
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
    base = event_base_new();
    if (base == NULL) {
        srm_error("cannot create the event loop (libevent)");
        goto out;
    }
    if (relay_new(base, &o->cfg, key, &relay) != 0) {
        goto out;
    }
    sigint = evsignal_new(base, SIGINT, signal_cb, relay);
    sigterm = evsignal_new(base, SIGTERM, signal_cb, relay);
    if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) != 0 ||
        evsignal_add(sigterm, NULL) != 0) {
        srm_error("cannot watch SIGINT and SIGTERM (libevent)");
        goto out;
    }
    if (event_base_dispatch(base) < 0) {
        srm_error("the event loop failed (libevent)");
        goto out;
    }
    srm_info("stopped");
    status = 0;
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
