/* SPDX-License-Identifier: MIT */
/*
 * drv.c: the relay under test and the bench clients of the network
 * sections (handshake, relay, connections).
 *
 * The relay is the real program (--relay PATH), started on 127.0.0.1 with a
 * fresh port, pinned to CPU 0; the driver pins itself to CPU 1.  Its CPU
 * time comes from /proc/PID/stat (utime + stime), its memory from
 * /proc/PID/status (VmRSS).
 *
 * A bench client is library-level and speaks the real protocol:
 *
 *   1. client -> relay  REG_HELLO (srm_reg_start)
 *   2. relay -> client  REG_CHALLENGE; client -> relay REG_RESPONSE (srm_reg_recv)
 *   3. relay -> client  link record: WELCOME -> ONLINE
 *   4. then link records both ways (srm_link_seal_frame / srm_link_open_body)
 *
 * Many clients share one libevent loop; each has its own non-blocking
 * socket, input buffer (whole frames are handled in place) and output
 * buffer, written with one write(2) per bc_flush() so that the sections
 * decide how many frames go out per system call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/link.h"
#include "srm/msg.h"
#include "srm/reg.h"
#include "srm/wire.h"
#include "bench.h"

#define IN_MAX     (2u * (SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME))
#define OUT_START  4096u
#define READ_CHUNK 65536u
/* Room srm_reg_recv may append (REG_RESPONSE: a signature and a link record). */
#define REG_ROOM   (4u * SRM_RSA_MAX_BYTES + 1024u)
#define START_WAIT 60.0 /* seconds the relay may take to listen (longer under valgrind) */

static int relay_help(const char *path, char *out, size_t n);
static int load_keys(struct drv *d, const char *dir);
static void timeout_cb(evutil_socket_t fd, short what, void *arg);
static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);
static int handle_frames(struct bc *c);
static int handle_frame(struct bc *c, uint8_t *body, const struct srm_frame *f);
static int room(uint8_t **p, size_t *cap, size_t len, size_t need, size_t max);
static void bc_die(struct bc *c);

uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_pin_self(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        fprintf(stderr, "warning: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
    }
}

int bench_make_names(const char *dir)
{
    char src[4096], dst[4200];
    unsigned i;

    if (snprintf(src, sizeof(src), "%s/bench.pub", dir) >= (int)sizeof(src)) {
        return -1;
    }
    for (i = 0; i < BENCH_NAMES; i++) {
        snprintf(dst, sizeof(dst), "%s/n%u.pub", dir, i);
        if (link(src, dst) != 0 && errno != EEXIST) {
            fprintf(stderr, "error: cannot link %s to %s: %s\n", dst, src, strerror(errno));
            return -1;
        }
    }
    return 0;
}

unsigned long bench_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 0;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            getrlimit(RLIMIT_NOFILE, &rl);
        }
    }
    return (unsigned long)rl.rlim_cur;
}

/* A port nobody listens on now (bind to 0, read it back, close). */
int bench_pick_port(uint16_t *port)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc = -1;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0) {
        *port = ntohs(sa.sin_port);
        rc = 0;
    }
    close(fd);
    return rc;
}

/* The text of `relay --help`, to see which limits this relay has. */
static int relay_help(const char *path, char *out, size_t n)
{
    char cmd[4200];
    size_t got;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' --help 2>/dev/null", path);
    if ((p = popen(cmd, "r")) == NULL) {
        return -1;
    }
    got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    pclose(p);
    return 0;
}

int bench_try_connect(uint16_t port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return rc;
}

int relay_start(const struct opts *o, struct relay_proc *rp)
{
    return relay_start_args(o, rp, NULL, "relay.log", 1);
}

int relay_start_args(const struct opts *o, struct relay_proc *rp, const char *const *extra,
                     const char *logname, int prefixed)
{
    char listen_arg[64], logpath[4200], help[8192];
    const char *argv[48];
    char *prefix = NULL, *tok, *save = NULL;
    const char *env = getenv("SRM_BENCH_RELAY_PREFIX");
    int argc = 0, status, i;
    double t0;

    memset(rp, 0, sizeof(*rp));
    if (o->relay_path == NULL || o->keys_dir == NULL) {
        fprintf(stderr, "error: the network sections need --relay PATH and --keys DIR "
                        "(scripts/bench.sh gives them)\n");
        return -1;
    }
    if (bench_pick_port(&rp->port) != 0) {
        fprintf(stderr, "error: cannot find a free port: %s\n", strerror(errno));
        return -1;
    }
    /* A profiler in front of the relay, e.g. "valgrind --tool=callgrind". */
    if (prefixed && env != NULL && env[0] != '\0') {
        prefix = strdup(env);
        for (tok = strtok_r(prefix, " ", &save); tok != NULL && argc < 20;
             tok = strtok_r(NULL, " ", &save)) {
            argv[argc++] = tok;
        }
    }
    snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%u", (unsigned)rp->port);
    argv[argc++] = o->relay_path;
    argv[argc++] = "--listen";
    argv[argc++] = listen_arg;
    argv[argc++] = "--keys";
    argv[argc++] = o->keys_dir;
    argv[argc++] = "--max-conns";
    argv[argc++] = "20000";
    argv[argc++] = "--reg-timeout";
    argv[argc++] = "3600";
    /*
     * Limits for untrusted clients: lifted, the driver is one trusted
     * address with thousands of clients.  Keepalive stays on (its timer is
     * part of each client's memory) but no PING falls inside a run.
     */
    if (relay_help(o->relay_path, help, sizeof(help)) != 0) {
        help[0] = '\0';
    }
    if (strstr(help, "--reg-rate") != NULL) {
        argv[argc++] = "--reg-rate";
        argv[argc++] = "0";
    }
    if (strstr(help, "--max-unauth ") != NULL) {
        argv[argc++] = "--max-unauth";
        argv[argc++] = "20000";
    }
    if (strstr(help, "--max-unauth-source") != NULL) {
        argv[argc++] = "--max-unauth-source";
        argv[argc++] = "20000";
    }
    if (strstr(help, "--keepalive") != NULL) {
        argv[argc++] = "--keepalive";
        argv[argc++] = "3600";
    }
    /* Section-specific arguments (e.g. --cluster URL --node NAME), at most 8. */
    for (i = 0; extra != NULL && extra[i] != NULL && i < 8; i++) {
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;
    snprintf(logpath, sizeof(logpath), "%s/%s", o->keys_dir, logname);
    fflush(NULL);
    rp->pid = fork();
    if (rp->pid < 0) {
        fprintf(stderr, "error: fork: %s\n", strerror(errno));
        free(prefix);
        return -1;
    }
    if (rp->pid == 0) {
        bench_child_setup(logpath);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    free(prefix);
    t0 = now();
    while (bench_try_connect(rp->port) != 0) {
        if (waitpid(rp->pid, &status, WNOHANG) == rp->pid || now() - t0 > START_WAIT) {
            fprintf(stderr, "error: the relay did not start (see %s)\n", logpath);
            if (now() - t0 > START_WAIT) {
                relay_stop(rp);
            }
            rp->pid = 0;
            return -1;
        }
        usleep(20000);
    }
    return 0;
}

void relay_stop(struct relay_proc *rp)
{
    int status, i;

    if (rp->pid <= 0) {
        return;
    }
    kill(rp->pid, SIGTERM);
    for (i = 0; i < 300; i++) {
        if (waitpid(rp->pid, &status, WNOHANG) == rp->pid) {
            rp->pid = 0;
            return;
        }
        usleep(20000);
    }
    kill(rp->pid, SIGKILL);
    waitpid(rp->pid, &status, 0);
    rp->pid = 0;
}

/* In a forked server (relay, nats-server): run on CPU 0, output to logpath. */
void bench_child_setup(const char *logpath)
{
    cpu_set_t set;
    int fd;

    CPU_ZERO(&set);
    CPU_SET(0, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
    fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
}

/*
 * The relay's CPU seconds (user + system) from the scheduler's own count
 * (clock_getcpuclockid: nanoseconds of run time), not /proc/PID/stat,
 * whose utime and stime are sampled at the tick (HZ 250 here): a process
 * that runs briefly on every wake-up is charged whole ticks whenever its
 * wake-ups line up with the tick, which at a fixed moderate rate
 * (the latency run) inflated the relay's CPU per message several times.
 */
double relay_cpu(const struct relay_proc *rp)
{
    return pid_cpu(rp->pid);
}

double pid_cpu(pid_t pid)
{
    struct timespec ts;
    clockid_t clk;
    double user, sys;

    if (clock_getcpuclockid(pid, &clk) == 0 && clock_gettime(clk, &ts) == 0) {
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    }
    return proc_cpu(pid, &user, &sys) == 0 ? user + sys : -1;
}

int proc_cpu(pid_t pid, double *user, double *sys)
{
    char path[64], buf[2048], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    size_t n;
    int i;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* After "pid (comm)": field 3 is the state; utime and stime are fields 14 and 15. */
    if ((p = strrchr(buf, ')')) == NULL) {
        return -1;
    }
    p++;
    for (i = 3; i < 14 && p != NULL; i++) {
        p = strchr(p + 1, ' ');
    }
    if (p == NULL || sscanf(p, " %lu %lu", &ut, &st) != 2) {
        return -1;
    }
    *user = (double)ut / (double)sysconf(_SC_CLK_TCK);
    *sys = (double)st / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

long relay_rss_kib(const struct relay_proc *rp)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)rp->pid);
    if ((f = fopen(path, "r")) == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return kib;
}

/* ---- the driver ---- */

static int load_keys(struct drv *d, const char *dir)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/bench.key", dir);
    if (srm_key_load_private(path, &d->ckey) != 0) {
        goto bad;
    }
    snprintf(path, sizeof(path), "%s/bench.pub", dir);
    if (srm_key_load_public(path, &d->cpub) != 0) {
        goto bad;
    }
    snprintf(path, sizeof(path), "%s/relay.pub", dir);
    if (srm_key_load_public(path, &d->rpub) != 0) {
        goto bad;
    }
    snprintf(path, sizeof(path), "%s/relay.key", dir);
    if (srm_key_load_private(path, &d->rkey) != 0) {
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "error: cannot load %s\n", path);
    return -1;
}

int drv_init(struct drv *d, const struct opts *o, uint16_t port)
{
    struct event_config *cfg;

    memset(d, 0, sizeof(*d));
    d->port = port;
    /* timerfd: the paced latency run needs sub-millisecond timers. */
    if ((cfg = event_config_new()) == NULL) {
        return -1;
    }
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    d->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    d->pt = malloc(SRM_LINK_MAX_PT);
    if (d->base == NULL || d->pt == NULL || load_keys(d, o->keys_dir) != 0) {
        drv_free(d);
        return -1;
    }
    return 0;
}

void drv_free(struct drv *d)
{
    if (d->base != NULL) {
        event_base_free(d->base);
    }
    srm_key_free(d->ckey);
    srm_key_free(d->cpub);
    srm_key_free(d->rpub);
    srm_key_free(d->rkey);
    free(d->pt);
    memset(d, 0, sizeof(*d));
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Our own timer rather than loopexit: a loopbreak before it must not leave one behind. */
void drv_run_for(struct drv *d, double seconds)
{
    struct event *t = evtimer_new(d->base, timeout_cb, d->base);
    struct timeval tv;

    if (t == NULL) {
        return;
    }
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    evtimer_add(t, &tv);
    event_base_dispatch(d->base);
    event_free(t);
}

/*
 * As drv_run_for, but polling (EVLOOP_NONBLOCK) instead of sleeping in
 * epoll_wait: the clients' own wake-up from an idle CPU (tens to hundreds
 * of microseconds in a VM) is then not added to the latency they measure.
 */
void drv_spin_for(struct drv *d, double seconds)
{
    double end = now() + seconds;

    while (now() < end) {
        event_base_loop(d->base, EVLOOP_NONBLOCK);
    }
}

/* ---- one client ---- */

int bc_start(struct drv *d, struct bc *c, const char *name, size_t idx)
{
    return bc_start_at(d, c, name, idx, d->port);
}

int bc_start_at(struct drv *d, struct bc *c, const char *name, size_t idx, uint16_t port)
{
    struct sockaddr_in sa;
    struct srm_buf b;
    int one = 1, rc;

    bc_state_fn *on_state = c->on_state, *on_batch = c->on_batch;
    bc_msg_fn *on_msg = c->on_msg;
    void *user = c->user;
    uint8_t *in = c->in, *out = c->out;
    size_t incap = c->incap, outcap = c->outcap;
    unsigned gen = c->gen;

    /* Keep the callbacks and buffers of an earlier run in this slot. */
    memset(c, 0, sizeof(*c));
    c->on_state = on_state;
    c->on_batch = on_batch;
    c->on_msg = on_msg;
    c->user = user;
    c->in = in;
    c->incap = incap;
    c->out = out;
    c->outcap = outcap;
    c->gen = gen + 1;
    c->d = d;
    c->fd = -1;
    c->idx = idx;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->state = BC_REG;
    if ((rc = srm_reg_new_client(name, d->ckey, d->rpub, &c->reg)) != 0) {
        goto fail;
    }
    if (room(&c->out, &c->outcap, 0, REG_ROOM, REG_ROOM) != 0) {
        goto fail;
    }
    srm_buf_init_write(&b, c->out, c->outcap);
    if ((rc = srm_reg_start(c->reg, &b)) != 0) {
        goto fail;
    }
    c->outlen = b.len;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fprintf(stderr, "error: socket: %s\n", strerror(errno));
        goto fail;
    }
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
        fprintf(stderr, "error: connect: %s\n", strerror(errno));
        goto fail;
    }
    c->ev = event_new(d->base, c->fd, EV_READ | EV_PERSIST, read_cb, c);
    c->wev = event_new(d->base, c->fd, EV_WRITE, write_cb, c);
    if (c->ev == NULL || c->wev == NULL || event_add(c->ev, NULL) != 0 ||
        event_add(c->wev, NULL) != 0) {
        goto fail;
    }
    return 0;
fail:
    bc_close(c);
    c->state = BC_DEAD;
    return -1;
}

void bc_close(struct bc *c)
{
    c->gen++;
    if (c->ev != NULL) {
        event_free(c->ev);
    }
    if (c->wev != NULL) {
        event_free(c->wev);
    }
    c->ev = c->wev = NULL;
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    srm_reg_free(c->reg);
    srm_link_free(c->link);
    c->reg = NULL;
    c->link = NULL;
    c->inlen = c->outlen = 0;
}

/* Closed by the relay or failed: DEAD, counted, and the section told. */
static void bc_die(struct bc *c)
{
    bc_close(c);
    if (c->state != BC_DEAD) {
        c->state = BC_DEAD;
        c->d->dead++;
        if (c->on_state != NULL) {
            c->on_state(c);
        }
    }
}

/* Make room for `need` more bytes past len, up to max. */
static int room(uint8_t **p, size_t *cap, size_t len, size_t need, size_t max)
{
    size_t ncap = *cap != 0 ? *cap : OUT_START;
    uint8_t *np;

    if (*cap - len >= need && *p != NULL) {
        return 0;
    }
    while (ncap - len < need) {
        ncap *= 2;
    }
    if (ncap > max && max >= len + need) {
        ncap = max;
    }
    if ((np = realloc(*p, ncap)) == NULL) {
        return -1;
    }
    *p = np;
    *cap = ncap;
    return 0;
}

int bc_queue(struct bc *c, const uint8_t *pt, size_t n)
{
    struct srm_buf b;

    if (c->link == NULL || room(&c->out, &c->outcap, c->outlen,
                                n + SRM_WIRE_FRAME_HDR + SRM_LINK_TAG_LEN, SIZE_MAX) != 0) {
        return -1;
    }
    srm_buf_init_write(&b, c->out + c->outlen, c->outcap - c->outlen);
    if (srm_link_seal_frame(c->link, pt, n, &b) != 0) {
        return -1;
    }
    c->outlen += b.len;
    return 0;
}

/* One write(2) of everything pending, unless the socket is already full. */
int bc_flush(struct bc *c)
{
    ssize_t n;

    if (c->outlen == 0 || c->fd < 0 || event_pending(c->wev, EV_WRITE, NULL)) {
        return 0;
    }
    n = write(c->fd, c->out, c->outlen);
    c->writes++;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN || errno == EINTR) {
            event_add(c->wev, NULL);
            return 0;
        }
        bc_die(c);
        return -1;
    }
    if ((size_t)n < c->outlen) {
        memmove(c->out, c->out + n, c->outlen - (size_t)n);
        c->outlen -= (size_t)n;
        event_add(c->wev, NULL);
    } else {
        c->outlen = 0;
    }
    return 0;
}

int bc_send_queue(struct bc *c, const char *to, uint32_t ref, const uint8_t *payload, size_t n)
{
    struct srm_buf b;

    srm_buf_init_write(&b, c->d->pt, SRM_LINK_MAX_PT);
    if (srm_msg_put_send(&b, to, ref, payload, n) != 0) {
        return -1;
    }
    return bc_queue(c, b.data, b.len);
}

int bc_send_now(struct bc *c, const char *to, uint32_t ref, const uint8_t *payload, size_t n)
{
    if (bc_send_queue(c, to, ref, payload, n) != 0) {
        return -1;
    }
    return bc_flush(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bc *c = arg;

    (void)fd;
    (void)what;
    bc_flush(c);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    static uint8_t sink[READ_CHUNK];
    struct bc *c = arg;
    unsigned gen = c->gen;
    ssize_t n;

    (void)what;
    if (c->discard) {
        /* Idle and online: what arrives (PRESENCE of later clients) is only drained. */
        n = read(fd, sink, sizeof(sink));
    } else {
        if (room(&c->in, &c->incap, c->inlen, READ_CHUNK, IN_MAX + READ_CHUNK) != 0) {
            bc_die(c);
            return;
        }
        n = read(fd, c->in + c->inlen, c->incap - c->inlen);
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
    }
    if (n <= 0) {
        bc_die(c);
        return;
    }
    if (c->discard) {
        return;
    }
    c->inlen += (size_t)n;
    if (handle_frames(c) != 0) {
        if (c->gen == gen) {
            bc_die(c); /* not if a callback already closed or restarted the slot */
        }
        return;
    }
    if (c->discard) {
        /* Idle from now on: keep no input buffer. */
        free(c->in);
        c->in = NULL;
        c->incap = c->inlen = 0;
        return;
    }
    if (c->on_batch != NULL && c->state != BC_DEAD && c->gen == gen) {
        c->on_batch(c);
    }
}

/* Every whole frame in the input, in place; the rest moves to the front. */
static int handle_frames(struct bc *c)
{
    struct srm_frame f;
    size_t off = 0, used = 0;
    unsigned gen = c->gen;
    int rc;

    /* A callback may close the client, restart the slot, or make it discard. */
    while (c->state != BC_DEAD && c->gen == gen && !c->discard) {
        rc = srm_frame_decode(c->in + off, c->inlen - off, &f, &used);
        if (rc == SRM_ERR_MSG_INCOMPLETE) {
            break;
        }
        if (rc != 0) {
            fprintf(stderr, "bench: %s: bad frame from the relay: %s\n", c->name, srm_strerror(rc));
            return -1;
        }
        if (handle_frame(c, c->in + off + SRM_WIRE_FRAME_HDR, &f) != 0) {
            return -1;
        }
        off += used;
    }
    if (c->gen != gen || c->discard) {
        c->inlen = 0;
        return 0;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->inlen - off);
        c->inlen -= off;
    }
    return 0;
}

static int handle_frame(struct bc *c, uint8_t *body, const struct srm_frame *f)
{
    struct srm_buf b;
    struct srm_msg m;
    const uint8_t *pt;
    size_t ptlen;
    int rc;

    switch (c->state) {
    case BC_REG:
        /* 2. REG_CHALLENGE in, REG_RESPONSE out. */
        if (room(&c->out, &c->outcap, c->outlen, REG_ROOM, SIZE_MAX) != 0) {
            return -1;
        }
        srm_buf_init_write(&b, c->out + c->outlen, c->outcap - c->outlen);
        if ((rc = srm_reg_recv(c->reg, f, &b)) != 0) {
            fprintf(stderr, "bench: %s: registration failed: %s\n", c->name, srm_strerror(rc));
            return -1;
        }
        c->outlen += b.len;
        if (srm_reg_is_done(c->reg)) {
            if (srm_reg_take_link(c->reg, &c->link) != 0) {
                return -1;
            }
            srm_reg_free(c->reg);
            c->reg = NULL;
            c->state = BC_WAIT;
        }
        return bc_flush(c);
    case BC_WAIT:
    case BC_ONLINE:
        if (f->type != SRM_FRAME_LINK) {
            fprintf(stderr, "bench: %s: frame 0x%02x after registration (refused?)\n", c->name,
                    (unsigned)f->type);
            return -1;
        }
        if ((rc = srm_link_open_body(c->link, body, f->body_len, &pt, &ptlen)) != 0 ||
            (rc = srm_msg_parse(pt, ptlen, &m)) != 0) {
            fprintf(stderr, "bench: %s: bad link record: %s\n", c->name, srm_strerror(rc));
            return -1;
        }
        if (c->state == BC_WAIT) {
            /* 3. WELCOME: registered. */
            if (m.type != SRM_MSG_WELCOME) {
                return -1;
            }
            c->state = BC_ONLINE;
            c->d->online++;
            if (c->on_state != NULL) {
                c->on_state(c);
            }
            return 0;
        }
        if (m.type == SRM_MSG_BYE) {
            fprintf(stderr, "bench: %s: BYE reason %u from the relay\n", c->name, (unsigned)m.code);
            return -1;
        }
        if (c->on_msg != NULL) {
            c->on_msg(c, &m);
        }
        return 0;
    default:
        return 0;
    }
}
