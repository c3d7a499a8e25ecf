/* SPDX-License-Identifier: MIT */
/*
 * main.c: the client program's entry point: command-line options, loading
 * and pinning keys, --fingerprint, the event loop, signals and the exit.
 *
 *   client NAME [--relay HOST:PORT[,HOST:PORT...]] [--keys DIR] [--to PEER]
 *               [--debug] [--log FILE] [--wait SECONDS] [--fingerprint]
 *               [--keepalive SECONDS] [--dead-after SECONDS] [--help] [--version]
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <readline/readline.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/wire.h"

#include "client.h"
#include "harden.h"
#include "log.h"
#include "net.h"

#define EXIT_USAGE 2

static void usage(FILE *out);
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int parse_relays(struct client *c, const char *arg);
static int parse_seconds_ms(const char *s, uint64_t *out);
static int parse_args(struct client *c, int argc, char **argv, int *fingerprint,
                      const char **log_path, int *debug);
static void print_version(void);
static void report_key_error(const char *path, int r, const char *name, int is_private);
static int load_own_key(struct client *c);
static int cmp_str(const void *a, const void *b);
static int print_fingerprints(struct client *c);
static int setup_events(struct client *c);
static void signal_cb(evutil_socket_t sig, short what, void *arg);
static void client_free(struct client *c);

int main(int argc, char **argv)
{
    struct client c;
    int fingerprint = 0;
    int debug = 0;
    const char *log_path = NULL;
    char debug_path[CLIENT_PATH_LEN];
    int r;

    memset(&c, 0, sizeof(c));
    c.keys_dir = "keys";
    c.wait_secs = 30;
    c.keepalive_ms = CLIENT_KEEPALIVE_MS;
    c.dead_ms = 0;
    c.backoff_ms = CLIENT_BACKOFF_MIN_MS;
    c.next_ref = 1;
    c.exit_code = 1;
    c.start_ms = client_now_ms();
    /* A relay that closes its socket must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    srm_log_init("client", NULL);
    /* Before any key is read: no core dump or debugger may copy keys out. */
    if (srm_harden_process() != 0) {
        srm_warn("cannot disable core dumps: %s", strerror(errno));
    }

    r = parse_args(&c, argc, argv, &fingerprint, &log_path, &debug);
    if (r != 0) {
        return r < 0 ? EXIT_USAGE : 0;
    }
    if (c.dead_ms == 0) {
        /* Default: two and a half keepalive periods (10 s -> 25 s). */
        c.dead_ms = c.keepalive_ms * 5u / 2u;
    }
    if (debug || log_path != NULL) {
        if (log_path == NULL) {
            snprintf(debug_path, sizeof(debug_path), "%s.debug.log", c.name);
            log_path = debug_path;
        }
        if (srm_log_open_debug(log_path) != 0) {
            srm_error("cannot open the debug log %s: %s", log_path, strerror(errno));
            return 1;
        }
        srm_debug("client %s starting (srm %s)", c.name, SRM_VERSION);
    }

    if (load_own_key(&c) != 0) {
        goto out;
    }
    if (fingerprint) {
        c.exit_code = print_fingerprints(&c);
        goto out;
    }
    if (srm_net_key_path(c.relay_pub_path, sizeof(c.relay_pub_path), c.keys_dir, "relay", "pub") !=
        0) {
        srm_error("key directory path too long: %s", c.keys_dir);
        goto out;
    }
    r = srm_key_load_public(c.relay_pub_path, &c.relay_pub);
    if (r != 0) {
        report_key_error(c.relay_pub_path, r, "relay", 0);
        goto out;
    }
    if (srm_log_debug_enabled()) {
        char fp[SRM_FP_STR_LEN];
        if (srm_key_fingerprint_str(c.relay_pub, fp, sizeof(fp)) == 0) {
            srm_debug("pinned relay key %s: %s", c.relay_pub_path, fp);
        }
    }

    c.batch = !isatty(STDIN_FILENO);
    {
        const char *nc = getenv("NO_COLOR");
        const char *term = getenv("TERM");
        c.color = !c.batch && (nc == NULL || nc[0] == '\0') &&
                  (term == NULL || strcmp(term, "dumb") != 0);
    }
    c.payload_buf = malloc(SRM_SESS_MAX_PAYLOAD);
    c.pt_buf = malloc(SRM_LINK_MAX_PT);
    c.frame_buf = malloc(SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME);
    c.in_buf = malloc(SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME);
    c.last_rec = malloc(SRM_SESS_MAX_PAYLOAD);
    if (c.payload_buf == NULL || c.pt_buf == NULL || c.frame_buf == NULL || c.in_buf == NULL ||
        c.last_rec == NULL) {
        srm_error("out of memory");
        goto out;
    }
    /* A new id space per process: receivers tell a restart from a resend (PROTOCOL.md 6.4). */
    if (srm_random(&c.epoch, sizeof(c.epoch)) != 0) {
        srm_error("cannot get random bytes for the message-id epoch");
        goto out;
    }
    if (setup_events(&c) != 0) {
        goto out;
    }
    srm_debug("mode: %s", c.batch ? "batch" : "terminal");
    if (conn_start(&c) != 0) {
        goto out;
    }
    c.exit_code = 0;
    if (event_base_dispatch(c.base) < 0) {
        srm_error("event loop failed");
        c.exit_code = 1;
    }
out:
    r = c.exit_code;
    client_free(&c);
    srm_debug("client exiting with status %d", r);
    srm_log_close();
    return r;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: client NAME [--relay HOST:PORT[,HOST:PORT...]] [--keys DIR] [--to PEER]\n"
            "              [--debug] [--log FILE] [--wait SECONDS] [--fingerprint]\n"
            "              [--keepalive SECONDS] [--dead-after SECONDS] [--help] [--version]\n"
            "\n"
            "  NAME                  your user name (1-32 of a-z 0-9 _ -); key DIR/NAME.key\n"
            "  --relay LIST          relays to try in order (default: 127.0.0.1:7447)\n"
            "  --keys DIR            key directory: NAME.key, relay.pub, PEER.pub\n"
            "                        (default: keys)\n"
            "  --to PEER             send plain lines to PEER (default: none, or the only\n"
            "                        other user online)\n"
            "  --debug               write a protocol log to NAME.debug.log, no keys, no text\n"
            "                        (default: off)\n"
            "  --log FILE            write the protocol log to FILE; implies --debug\n"
            "                        (default: NAME.debug.log)\n"
            "  --wait SECONDS        batch mode: at the end of input wait this long for\n"
            "                        acknowledgements; also how long to keep trying to\n"
            "                        reach a relay at start-up (default: 30)\n"
            "  --fingerprint         print your key's fingerprint and those of DIR/*.pub,\n"
            "                        then exit (default: off)\n"
            "  --keepalive SECONDS   PING the relay after this much silence from it\n"
            "                        (default: 10; fractions allowed)\n"
            "  --dead-after SECONDS  reconnect after this much silence from the relay\n"
            "                        (default: 2.5 x --keepalive = 25)\n"
            "  --help                print this help, then exit\n"
            "  --version             print the versions of srm and its libraries, then exit\n"
            "\n"
            "On a terminal: /msg NAME TEXT, /to NAME, /who, /queue, /fingerprint [NAME],\n"
            "/replay, /tamper, /help, /quit.  A lost relay link is re-established by itself\n"
            "(backoff 0.2 s doubling to 30 s); messages not yet acknowledged are sent again.\n"
            "Otherwise (batch mode) the same lines are read from standard input; received\n"
            "messages are printed to standard output as 'PEER: TEXT'.  Batch mode exits 0\n"
            "once every message is acknowledged, 1 (naming what was not) after --wait.\n");
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    char msg[512];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    srm_error("%s (try 'client --help')", msg);
    return -1;
}

static int parse_relays(struct client *c, const char *arg)
{
    char *copy = strdup(arg);
    char *save = NULL;
    char *tok;
    char err[128];
    int r = -1;

    if (copy == NULL) {
        return usage_error("out of memory");
    }
    c->nrelays = 0;
    for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        struct relay_addr *ra;
        if (c->nrelays == CLIENT_MAX_RELAYS) {
            usage_error("too many relays in --relay (at most %d)", CLIENT_MAX_RELAYS);
            goto out;
        }
        ra = &c->relays[c->nrelays];
        if (srm_net_parse_hostport(tok, ra->host, sizeof(ra->host), &ra->port, err, sizeof(err)) !=
            0) {
            usage_error("invalid relay address '%s': %s", tok, err);
            goto out;
        }
        c->nrelays++;
    }
    if (c->nrelays == 0) {
        usage_error("--relay needs at least one HOST:PORT");
        goto out;
    }
    r = 0;
out:
    free(copy);
    return r;
}

/* Returns 0 to run, 1 to exit 0 (help, version), -1 for a usage error. */
static int parse_args(struct client *c, int argc, char **argv, int *fingerprint,
                      const char **log_path, int *debug)
{
    static const struct option opts[] = {
        {"relay", required_argument, NULL, 'r'},      {"keys", required_argument, NULL, 'k'},
        {"to", required_argument, NULL, 't'},         {"debug", no_argument, NULL, 'd'},
        {"log", required_argument, NULL, 'l'},        {"wait", required_argument, NULL, 'w'},
        {"fingerprint", no_argument, NULL, 'f'},      {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},          {"keepalive", required_argument, NULL, 'K'},
        {"dead-after", required_argument, NULL, 'D'}, {NULL, 0, NULL, 0},
    };
    const char *to = NULL;
    int ch;

    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":r:k:t:dl:w:fhV", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            if (parse_relays(c, optarg) != 0) {
                return -1;
            }
            break;
        case 'k':
            c->keys_dir = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'd':
            *debug = 1;
            break;
        case 'l':
            *log_path = optarg;
            break;
        case 'w':
            if (srm_net_parse_uint(optarg, 0, 86400, &c->wait_secs) != 0) {
                return usage_error("invalid --wait '%s': use 0-86400 seconds", optarg);
            }
            break;
        case 'f':
            *fingerprint = 1;
            break;
        case 'K':
            if (parse_seconds_ms(optarg, &c->keepalive_ms) != 0) {
                return usage_error("invalid --keepalive '%s': use 0.05-3600 seconds", optarg);
            }
            break;
        case 'D':
            if (parse_seconds_ms(optarg, &c->dead_ms) != 0) {
                return usage_error("invalid --dead-after '%s': use 0.05-3600 seconds", optarg);
            }
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            print_version();
            return 1;
        case ':':
            return usage_error("option '%s' needs an argument", argv[optind - 1]);
        case '?':
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) {
        return usage_error("missing NAME");
    }
    if (argc - optind > 1) {
        return usage_error("unexpected argument '%s'", argv[optind + 1]);
    }
    c->name = argv[optind];
    if (srm_name_check_str(c->name) != 0) {
        srm_error("invalid name '%s': use 1-32 of a-z 0-9 _ -", c->name);
        return -1;
    }
    if (strcmp(c->name, "relay") == 0) {
        srm_error("invalid name 'relay': that name belongs to the relay's key");
        return -1;
    }
    if (to != NULL) {
        if (srm_name_check_str(to) != 0) {
            srm_error("invalid name '%s': use 1-32 of a-z 0-9 _ -", to);
            return -1;
        }
        if (strcmp(to, c->name) == 0) {
            return usage_error("--to %s names yourself", to);
        }
        snprintf(c->to, sizeof(c->to), "%s", to);
    }
    if (c->nrelays == 0) {
        snprintf(c->relays[0].host, sizeof(c->relays[0].host), "127.0.0.1");
        c->relays[0].port = 7447;
        c->nrelays = 1;
    }
    return 0;
}

/* Seconds with an optional fraction, 0.05 to 3600, into milliseconds. */
static int parse_seconds_ms(const char *s, uint64_t *out)
{
    char *end = NULL;
    double v;

    if (s == NULL || *s == '\0' || *s == '-' || *s == '+') {
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0.05 && v <= 3600.0)) {
        return -1;
    }
    *out = (uint64_t)(v * 1000.0 + 0.5);
    return 0;
}

/* Milliseconds on the monotonic clock (a changed wall clock moves no deadline). */
uint64_t client_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void print_version(void)
{
    printf("srm client %s (OpenSSL %s, libevent %s, readline %s)\n", SRM_VERSION,
           OpenSSL_version(OPENSSL_VERSION_STRING), event_get_version(), rl_library_version);
}

/* One clear line per key-loading failure, saying what to do. */
static void report_key_error(const char *path, int r, const char *name, int is_private)
{
    switch (r) {
    case SRM_ERR_IO:
        if (is_private) {
            srm_error("cannot read your key %s: %s (create it with: srm-keygen %s, or "
                      "scripts/keygen.sh %s in the source tree)",
                      path, strerror(errno), name, name);
        } else {
            srm_error("cannot read the public key of %s at %s: %s (copy %s's .pub "
                      "file there)",
                      name, path, strerror(errno), name);
        }
        break;
    case SRM_ERR_KEY_PERMS:
        srm_error("%s is readable by other users: run chmod 600 %s", path, path);
        break;
    case SRM_ERR_KEY_FORMAT:
        srm_error("%s is not a PEM %s key", path, is_private ? "private" : "public");
        break;
    case SRM_ERR_BAD_KEY:
        srm_error("%s is not an RSA key of %d to %d bits", path, SRM_RSA_MIN_BITS,
                  SRM_RSA_MAX_BITS);
        break;
    default:
        srm_error("cannot load %s: %s", path, srm_strerror(r));
        break;
    }
    srm_log_crypto_errors(path);
}

static int load_own_key(struct client *c)
{
    char path[CLIENT_PATH_LEN];
    int r;

    if (srm_net_key_path(path, sizeof(path), c->keys_dir, c->name, "key") != 0) {
        srm_error("key directory path too long: %s", c->keys_dir);
        return -1;
    }
    r = srm_key_load_private(path, &c->self_key);
    if (r != 0) {
        report_key_error(path, r, c->name, 1);
        return -1;
    }
    if (srm_key_fingerprint_str(c->self_key, c->self_fp, sizeof(c->self_fp)) != 0) {
        srm_error("cannot compute the fingerprint of %s", path);
        return -1;
    }
    srm_debug("own key %s (%d bits): %s", path, srm_key_bits(c->self_key), c->self_fp);
    return 0;
}

/*
 * Load the pinned public key DIR/NAME.pub.  Reports a failure on the UI
 * unless quiet.  0 or an srm_err.
 */
int client_load_public(struct client *c, const char *name, struct srm_key **out, int quiet)
{
    char path[CLIENT_PATH_LEN];
    int r;

    if (srm_net_key_path(path, sizeof(path), c->keys_dir, name, "pub") != 0) {
        if (!quiet) {
            ui_error(c, "key directory path too long: %s", c->keys_dir);
        }
        return SRM_ERR_INVALID_ARG;
    }
    r = srm_key_load_public(path, out);
    if (r != 0 && !quiet) {
        switch (r) {
        case SRM_ERR_IO:
            ui_error(c, "no key for %s: cannot read %s: %s (ask %s for their .pub file)", name,
                     path, strerror(errno), name);
            break;
        case SRM_ERR_KEY_FORMAT:
            ui_error(c, "no key for %s: %s is not a PEM public key", name, path);
            break;
        case SRM_ERR_BAD_KEY:
            ui_error(c, "no key for %s: %s is not an RSA key of %d to %d bits", name, path,
                     SRM_RSA_MIN_BITS, SRM_RSA_MAX_BITS);
            break;
        default:
            ui_error(c, "no key for %s: cannot load %s: %s", name, path, srm_strerror(r));
            break;
        }
        srm_log_crypto_errors(path);
    }
    if (r == 0 && srm_log_debug_enabled()) {
        char fp[SRM_FP_STR_LEN];
        if (srm_key_fingerprint_str(*out, fp, sizeof(fp)) == 0) {
            srm_debug("pinned key of %s (%s): %s", name, path, fp);
        }
    }
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --fingerprint: own key, then every .pub file of the key directory, sorted by name. */
static int print_fingerprints(struct client *c)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;
    size_t cap = 0;
    size_t i;
    int r = 1;

    printf("%s: %s\n", c->name, c->self_fp);
    d = opendir(c->keys_dir);
    if (d == NULL) {
        srm_error("cannot open key directory %s: %s", c->keys_dir, strerror(errno));
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        char *nm;
        if (len <= 4 || strcmp(de->d_name + len - 4, ".pub") != 0) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (nn == NULL) {
                srm_error("out of memory");
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        nm = strndup(de->d_name, len - 4);
        if (nm == NULL) {
            srm_error("out of memory");
            goto out;
        }
        names[n++] = nm;
    }
    if (n > 0) {
        qsort(names, n, sizeof(*names), cmp_str);
    }
    r = 0;
    for (i = 0; i < n; i++) {
        struct srm_key *k = NULL;
        char path[CLIENT_PATH_LEN];
        char fp[SRM_FP_STR_LEN];
        int kr;

        if (strcmp(names[i], "relay") != 0 && srm_name_check_str(names[i]) != 0) {
            srm_warn("skipping %s/%s.pub: not a valid user name", c->keys_dir, names[i]);
            continue;
        }
        if (srm_net_key_path(path, sizeof(path), c->keys_dir, names[i], "pub") != 0) {
            continue;
        }
        kr = srm_key_load_public(path, &k);
        if (kr != 0) {
            report_key_error(path, kr, names[i], 0);
            r = 1;
            continue;
        }
        if (srm_key_fingerprint_str(k, fp, sizeof(fp)) != 0) {
            srm_error("cannot compute the fingerprint of %s", path);
            r = 1;
        } else if (strcmp(names[i], c->name) == 0) {
            /* Our own .pub: already printed from the private key; say if they differ. */
            if (!srm_key_equal(k, c->self_key)) {
                srm_warn("%s does not match %s/%s.key: give others the right .pub file", path,
                         c->keys_dir, c->name);
            }
        } else {
            printf("%s: %s\n", names[i], fp);
        }
        srm_key_free(k);
    }
out:
    closedir(d);
    for (i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    fflush(stdout);
    return r;
}

static int setup_events(struct client *c)
{
    struct event_config *cfg = event_config_new();

    if (cfg == NULL) {
        srm_error("out of memory");
        return -1;
    }
    /*
     * epoll refuses regular files and /dev/null, which batch mode reads from
     * (client bob < lines.txt); poll handles them and a client has few fds.
     */
    if (event_config_avoid_method(cfg, "epoll") != 0) {
        event_config_free(cfg);
        srm_error("event loop set-up failed");
        return -1;
    }
    c->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (c->base == NULL) {
        srm_error("event loop set-up failed");
        return -1;
    }
    srm_debug("libevent %s, method %s", event_get_version(), event_base_get_method(c->base));
    c->sig_int = evsignal_new(c->base, SIGINT, signal_cb, c);
    c->sig_term = evsignal_new(c->base, SIGTERM, signal_cb, c);
    if (c->sig_int == NULL || c->sig_term == NULL || evsignal_add(c->sig_int, NULL) != 0 ||
        evsignal_add(c->sig_term, NULL) != 0) {
        srm_error("cannot install signal handlers");
        return -1;
    }
    return 0;
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct client *c = arg;

    (void)what;
    srm_debug("signal %d: exiting", (int)sig);
    if (c->batch && peers_pending_total(c) > 0) {
        peers_report_undelivered(c);
        client_exit(c, 1);
        return;
    }
    client_exit(c, c->batch && c->failed > 0 ? 1 : 0);
}

/*
 * Leave the event loop with status code: restore the terminal at once, say
 * BYE to the relay if the link is up and give it a moment to leave.
 * Safe to call more than once; the first code wins unless a later one is a
 * failure.
 */
void client_exit(struct client *c, int code)
{
    if (c->exiting) {
        if (code != 0) {
            c->exit_code = code;
        }
        return;
    }
    c->exiting = 1;
    c->exit_code = code;
    ui_stop(c);
    batch_stop(c);
    if (c->wait_timer != NULL) {
        event_del(c->wait_timer);
    }
    if (conn_is_online(c)) {
        conn_send_bye(c);
        return;
    }
    event_base_loopbreak(c->base);
}

static void client_free(struct client *c)
{
    ui_stop(c);
    batch_stop(c);
    if (c->conn != NULL) {
        conn_free(c->conn);
        c->conn = NULL;
    }
    peers_free_all(c);
    if (c->stdin_ev != NULL) {
        event_free(c->stdin_ev);
    }
    if (c->sig_int != NULL) {
        event_free(c->sig_int);
    }
    if (c->sig_term != NULL) {
        event_free(c->sig_term);
    }
    if (c->sig_winch != NULL) {
        event_free(c->sig_winch);
    }
    if (c->wait_timer != NULL) {
        event_free(c->wait_timer);
    }
    if (c->bye_timer != NULL) {
        event_free(c->bye_timer);
    }
    if (c->reconnect_timer != NULL) {
        event_free(c->reconnect_timer);
    }
    if (c->inbuf != NULL) {
        evbuffer_free(c->inbuf);
    }
    if (c->base != NULL) {
        event_base_free(c->base);
    }
    srm_key_free(c->self_key);
    srm_key_free(c->relay_pub);
    free(c->payload_buf);
    if (c->pt_buf != NULL) {
        /* Link plaintexts held message payloads (already end-to-end sealed), wipe anyway. */
        OPENSSL_cleanse(c->pt_buf, SRM_LINK_MAX_PT);
    }
    free(c->pt_buf);
    free(c->frame_buf);
    free(c->in_buf);
    if (c->last_rec != NULL) {
        /* A sealed record, but of our own messages: wipe anyway. */
        OPENSSL_cleanse(c->last_rec, SRM_SESS_MAX_PAYLOAD);
    }
    free(c->last_rec);
    fflush(stdout);
}
