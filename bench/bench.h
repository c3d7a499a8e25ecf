/* SPDX-License-Identifier: MIT */
/*
 * bench.h: what the files of srm_bench share (bench.c: options, JSON and
 * the record section; drv.c: the relay process and the bench clients;
 * handshake.c, forward.c, conns.c, cluster.c: the network sections).
 */
#ifndef SRM_BENCH_H
#define SRM_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <event2/event.h>

#include "srm/crypto.h"
#include "srm/link.h"
#include "srm/msg.h"
#include "srm/reg.h"
#include "srm/wire.h"

struct opts {
    int quick;
    const char *json_path;
    const char *relay_path; /* --relay: the relay program the network sections start */
    const char *keys_dir;   /* --keys: relay.key, bench.key, bench.pub (2048-bit) */
};

/* The JSON object under construction: sections add members to it. */
struct json {
    FILE *f;
    int members;
};

double now(void);
double self_cpu(void);
void json_member(struct json *j, const char *name);

int section_link(const struct opts *o, struct json *j);
int section_handshake(const struct opts *o, struct json *j);
int section_relay(const struct opts *o, struct json *j);
int section_connections(const struct opts *o, struct json *j);
int section_cluster(const struct opts *o, struct json *j);

/* ---- drv.c: the relay under test and the bench clients ---- */

/* Names n0..n(BENCH_NAMES - 1) get DIR/NAME.pub (hard links to bench.pub). */
#define BENCH_NAMES 20000u

struct relay_proc {
    pid_t pid;
    uint16_t port;
};

/* Pin the calling process to one CPU (0 or 1); a warning if that fails. */
void bench_pin_self(int cpu);
/* Make DIR/n0.pub ... as hard links to DIR/bench.pub (kept if present). */
int bench_make_names(const char *dir);
/* Raise RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
unsigned long bench_raise_nofile(void);
/* Start the relay on 127.0.0.1, pinned to CPU 0, and wait until it accepts. */
int relay_start(const struct opts *o, struct relay_proc *rp);
/*
 * The same with up to 8 more arguments (NULL-terminated, may be NULL), the
 * log in KEYS/logname, and SRM_BENCH_RELAY_PREFIX in front only if prefixed.
 */
int relay_start_args(const struct opts *o, struct relay_proc *rp, const char *const *extra,
                     const char *logname, int prefixed);
/* A free loopback TCP port (bound to 0 and closed again); 0 or -1. */
int bench_pick_port(uint16_t *port);
/* 0 once something accepts on 127.0.0.1:port. */
int bench_try_connect(uint16_t port);
/* SIGTERM, wait; SIGKILL if it does not stop. */
void relay_stop(struct relay_proc *rp);
/* utime + stime of the relay in seconds, from /proc/PID/stat. */
double relay_cpu(const struct relay_proc *rp);
/* utime and stime of any process in seconds, from /proc/PID/stat; 0 or -1. */
int proc_cpu(pid_t pid, double *user, double *sys);
/* CPU seconds of pid from the scheduler's clock (exact); proc_cpu's sampled sum if that fails. */
double pid_cpu(pid_t pid);
void bench_child_setup(const char *logpath);
/* VmRSS of the relay in KiB, from /proc/PID/status; -1 on error. */
long relay_rss_kib(const struct relay_proc *rp);

enum bc_state {
    BC_IDLE = 0,
    BC_REG = 1,    /* registration in progress */
    BC_WAIT = 2,   /* link taken, waiting for WELCOME */
    BC_ONLINE = 3, /* WELCOME received */
    BC_DEAD = 4,
};

struct drv;
struct bc;

/* Called for each link message after WELCOME. */
typedef void bc_msg_fn(struct bc *c, const struct srm_msg *m);
/* Called once the client is ONLINE or DEAD (state tells which). */
typedef void bc_state_fn(struct bc *c);

/* One bench client: a non-blocking socket speaking the real protocol. */
struct bc {
    struct drv *d;
    int fd;
    struct event *ev;  /* EV_READ | EV_PERSIST */
    struct event *wev; /* EV_WRITE while output is pending */
    enum bc_state state;
    int discard; /* ONLINE and idle: read and drop, do not open */
    struct srm_reg *reg;
    struct srm_link *link;
    uint8_t *in;
    size_t inlen, incap;
    uint8_t *out;
    size_t outlen, outcap;
    char name[SRM_WIRE_MAX_NAME + 1];
    size_t idx;
    bc_msg_fn *on_msg;
    bc_state_fn *on_state;
    bc_state_fn *on_batch; /* after each read's frames are handled (may be NULL) */
    void *user;
    uint64_t writes; /* write system calls made */
    unsigned gen;    /* bumped by each bc_start/bc_close: a callback may reuse the slot */
};

/* The driver: one event loop for every client. */
struct drv {
    struct event_base *base;
    uint16_t port;
    struct srm_key *ckey; /* bench.key: every bench client's private key */
    struct srm_key *cpub; /* bench.pub */
    struct srm_key *rpub; /* relay.pub */
    struct srm_key *rkey; /* relay.key: the RSA ceiling is measured with it */
    uint8_t *pt;          /* plaintext scratch, SRM_LINK_MAX_PT */
    size_t online, dead;  /* clients that reached ONLINE / DEAD */
};

int drv_init(struct drv *d, const struct opts *o, uint16_t port);
void drv_free(struct drv *d);
/* Run the loop for `seconds` (events as they come). */
void drv_run_for(struct drv *d, double seconds);
void drv_spin_for(struct drv *d, double seconds);
/* Connect and start registering as `name`. */
int bc_start(struct drv *d, struct bc *c, const char *name, size_t idx);
/* The same at another relay port (a cluster node) than the driver's. */
int bc_start_at(struct drv *d, struct bc *c, const char *name, size_t idx, uint16_t port);
/* Close (no BYE) and free everything the client holds; the struct stays. */
void bc_close(struct bc *c);
/*
 * Seal `pt` as one link record and append it to the pending output.  With
 * flush, write the pending output now (one write system call).
 */
int bc_queue(struct bc *c, const uint8_t *pt, size_t n);
int bc_flush(struct bc *c);
/* SEND(to, ref, payload): queue it and write at once (one system call). */
int bc_send_now(struct bc *c, const char *to, uint32_t ref, const uint8_t *payload, size_t n);
/* Queue a SEND without writing. */
int bc_send_queue(struct bc *c, const char *to, uint32_t ref, const uint8_t *payload, size_t n);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

#endif
