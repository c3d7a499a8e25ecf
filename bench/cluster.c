/* SPDX-License-Identifier: MIT */
/*
 * cluster.c: the cluster section of srm_bench: what routing through NATS
 * costs the relay nodes (docs/CLUSTER.md section 8, issue 8 "Benchmark").
 *
 *   1. one nats-server on a free loopback port and two relay nodes
 *      (`relay --cluster nats://127.0.0.1:PORT --node a|b`), all three
 *      pinned to CPU 0; the driver pins itself to CPU 1;
 *   2. 3 * CL_PAIRS library-level bench clients (drv.c) register:
 *      senders n0..n99 and same-node receivers n100..n199 at node a,
 *      cross-node receivers n200..n299 at node b;
 *   3. a probe per pair (resent while the answer is UNDELIVERABLE) until
 *      every pair of the mode has had a message delivered: node b's
 *      subscriptions are in place at the NATS server;
 *   4. per round, same-node (n(i) -> n(100 + i), both at a) then
 *      cross-node (n(i) at a -> n(200 + i) at b): 256-byte SENDs paced at
 *      CL_RATE msgs/s in total, round robin over the pairs, one write(2)
 *      each; after a warm-up, the window: utime + stime of node a, node b
 *      and the nats-server from /proc/PID/stat before and after, the
 *      DELIVERs counted at the receivers, and the one-way latency from the
 *      sender's timestamp (payload bytes 1..8) to the receiver's read.
 *
 * Per delivered message: same-node = CPU(a) / N; cross-node = CPU(a) / N
 * and CPU(b) / N; nats = CPU(nats-server) / N.  The target compares per
 * relay node: ratio = max(cross a, cross b) / same (the busier node of a
 * cross-node message against the one node of a same-node message); the
 * mean-per-node ratio ((a + b) / 2) / same is reported beside it.
 *
 * The nats-server is found in $SRM_BENCH_NATS_SERVER, then as nats-server
 * on PATH, /usr/sbin and /usr/bin; without one the section is skipped.
 * Profiling: SRM_BENCH_RELAY_PREFIX goes in front of the node named by
 * SRM_BENCH_PROFILE_NODE (a or b, default a) only, SRM_BENCH_PROFILE_ON
 * CMD runs `CMD PID` of that node after registration and the probes,
 * SRM_BENCH_PROFILE_OFF CMD the same after the last window (before the
 * nodes stop), SRM_BENCH_CLUSTER_RATE sets a lower rate for a node under a
 * profiler, and SRM_BENCH_CLUSTER_MODE (same or cross) runs one mode only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "srm/msg.h"
#include "srm/wire.h"
#include "bench.h"

#define CL_PAIRS   100
#define CL_CLIENTS (3 * CL_PAIRS)
#define CL_RATE    10000.0
#define CL_MSG     256u
#define CL_TICK_US 100
#define CL_WARMUP  0.5
#define CL_TARGET  2.0
#define NATS_WAIT  20.0 /* seconds the nats-server may take to listen */
#define PROBE_WAIT 20.0 /* seconds until every pair of a mode has had a message delivered */

enum cl_mode { CL_SAME = 0, CL_CROSS = 1, CL_MODES = 2 };

/* Per mode: what the rounds add up. */
struct cl_acc {
    double cpu_a, cpu_b, cpu_nats, seconds;
    uint64_t delivered;
    uint64_t *samples;
    size_t nsamples, cap;
};

struct clu {
    struct drv *d;
    struct bc cl[CL_CLIENTS];
    enum cl_mode mode;
    int recording, probing;
    uint8_t probe[CL_PAIRS]; /* 0 waiting, 1 delivered, 2 undeliverable: send again */
    unsigned inflight[CL_MODES];
    uint32_t ref;
    unsigned long errors, undeliverable;
    uint64_t delivered[CL_MODES];
    uint64_t start_ns, sent;
    size_t rr;
    double rate;
    uint8_t payload[CL_MSG];
    struct cl_acc acc[CL_MODES];
};

static const char *find_nats(char *buf, size_t n);
static int nats_start(const char *path, const char *keys_dir, struct relay_proc *np);
static int node_start(const struct opts *o, const char *node, uint16_t nats_port, int prefixed,
                      struct relay_proc *rp);
static void recv_msg(struct bc *c, const struct srm_msg *m);
static size_t name_index(const char *name);
static struct bc *receiver(struct clu *u, enum cl_mode mode, size_t i);
static int send_one(struct clu *u, size_t i);
static int probe(struct clu *u, enum cl_mode mode);
static void tick_cb(evutil_socket_t fd, short what, void *arg);
static int run_window(struct clu *u, enum cl_mode mode, double seconds,
                      const struct relay_proc procs[3]);
static void drain(struct clu *u, enum cl_mode mode);
static double pct(const struct cl_acc *a, unsigned p);
static double per_msg(double cpu, uint64_t n);
static double per_s(const struct cl_acc *a);
static int cmp_u64(const void *a, const void *b);

int section_cluster(const struct opts *o, struct json *j)
{
    static const char *const mode_names[CL_MODES] = {"same-node", "cross-node"};
    struct relay_proc nats, nodes[2], procs[3];
    struct drv d;
    struct clu *u = NULL;
    char natsbuf[4096], name[16], cmd[512];
    const char *natspath, *env, *prof_node = getenv("SRM_BENCH_PROFILE_NODE");
    double rate = CL_RATE, secs = o->quick ? 3.0 : 5.0, t0, same, cross_a, cross_b, nats_us, ratio,
           ratio_mean;
    int rounds = o->quick ? 1 : 3, rc = -1, r,
        prof_b = prof_node != NULL && strcmp(prof_node, "b") == 0;
    const char *only = getenv("SRM_BENCH_CLUSTER_MODE");
    uint64_t prof_n[CL_MODES] = {0, 0};
    cpu_set_t saved;
    size_t k;
    enum cl_mode m;

    memset(&nats, 0, sizeof(nats));
    memset(nodes, 0, sizeof(nodes));
    memset(&d, 0, sizeof(d));
    if (sched_getaffinity(0, sizeof(saved), &saved) != 0) {
        CPU_ZERO(&saved);
    }
    if ((env = getenv("SRM_BENCH_CLUSTER_RATE")) != NULL && atof(env) > 0) {
        rate = atof(env);
    }
    if ((natspath = find_nats(natsbuf, sizeof(natsbuf))) == NULL) {
        printf("== cluster: skipped: no nats-server (install the Debian package nats-server or "
               "set SRM_BENCH_NATS_SERVER)\n\n");
        if (j->f != NULL) {
            json_member(j, "cluster");
            fprintf(j->f, "{\"skipped\": \"no nats-server\"}");
        }
        return 0;
    }
    printf("== cluster: %d pairs, %u B at %.0f msgs/s; nats-server and nodes a, b on CPU 0, "
           "clients on CPU 1\n",
           CL_PAIRS, CL_MSG, rate);
    fflush(stdout);
    if (o->relay_path == NULL || o->keys_dir == NULL) {
        fprintf(stderr, "error: the cluster section needs --relay PATH and --keys DIR\n");
        return -1;
    }
    if (bench_make_names(o->keys_dir) != 0 || nats_start(natspath, o->keys_dir, &nats) != 0 ||
        node_start(o, "a", nats.port, !prof_b, &nodes[0]) != 0 ||
        node_start(o, "b", nats.port, prof_b, &nodes[1]) != 0) {
        goto out;
    }
    procs[0] = nodes[0];
    procs[1] = nodes[1];
    procs[2] = nats;
    bench_pin_self(1);
    if (drv_init(&d, o, nodes[0].port) != 0 || (u = calloc(1, sizeof(*u))) == NULL) {
        goto out;
    }
    u->d = &d;
    u->rate = rate;
    for (k = 0; k < CL_MSG; k++) {
        u->payload[k] = (uint8_t)(k * 31 + 7);
    }
    u->payload[0] = SRM_E2E_RECORD;
    for (m = CL_SAME; m < CL_MODES; m++) {
        u->acc[m].cap = (size_t)(u->rate * (secs + 1)) * (size_t)rounds;
        if ((u->acc[m].samples = malloc(u->acc[m].cap * sizeof(uint64_t))) == NULL) {
            goto out;
        }
    }
    /* 2. Senders and same-node receivers at a, cross-node receivers at b. */
    for (k = 0; k < CL_CLIENTS; k++) {
        u->cl[k].user = u;
        u->cl[k].on_msg = recv_msg;
        snprintf(name, sizeof(name), "n%zu", k);
        if (bc_start_at(&d, &u->cl[k], name, k, k < 2 * CL_PAIRS ? nodes[0].port : nodes[1].port) !=
            0) {
            goto out;
        }
    }
    t0 = now();
    while (d.online < CL_CLIENTS && d.dead == 0 && now() - t0 < 120) {
        drv_run_for(&d, 0.05);
    }
    if (d.online < CL_CLIENTS) {
        fprintf(stderr,
                "error: only %zu of %d clients registered (see %s/node-a.log, node-b.log)\n",
                d.online, CL_CLIENTS, o->keys_dir);
        goto out;
    }
    printf("  %d clients registered in %.1f s\n", CL_CLIENTS, now() - t0);
    /* 3. Both modes route, and the PRESENCE of registration is over. */
    if (probe(u, CL_SAME) != 0 || probe(u, CL_CROSS) != 0) {
        goto out;
    }
    if ((env = getenv("SRM_BENCH_PROFILE_ON")) != NULL) {
        snprintf(cmd, sizeof(cmd), "%s %d >/dev/null", env, (int)nodes[prof_b ? 1 : 0].pid);
        if (system(cmd) != 0) {
            fprintf(stderr, "warning: %s failed\n", cmd);
        }
    }
    prof_n[CL_SAME] = u->delivered[CL_SAME];
    prof_n[CL_CROSS] = u->delivered[CL_CROSS];
    /* 4. Alternating rounds, so that other load on the machine hits both modes alike. */
    for (r = 0; r < rounds; r++) {
        for (m = CL_SAME; m < CL_MODES; m++) {
            if (only != NULL && strcmp(only, m == CL_SAME ? "same" : "cross") != 0) {
                continue;
            }
            if (run_window(u, m, secs, procs) != 0) {
                goto out;
            }
        }
    }
    if ((env = getenv("SRM_BENCH_PROFILE_OFF")) != NULL) {
        snprintf(cmd, sizeof(cmd), "%s %d >/dev/null", env, (int)nodes[prof_b ? 1 : 0].pid);
        if (system(cmd) != 0) {
            fprintf(stderr, "warning: %s failed\n", cmd);
        }
        printf("  profiled node %s: %llu same-node and %llu cross-node messages delivered "
               "between the two commands\n",
               prof_b ? "b" : "a", (unsigned long long)(u->delivered[CL_SAME] - prof_n[CL_SAME]),
               (unsigned long long)(u->delivered[CL_CROSS] - prof_n[CL_CROSS]));
    }
    printf("  %10s  %9s  %10s  %10s  %10s  %9s  %9s\n", "mode", "msgs/s", "a us/msg", "b us/msg",
           "nats us/msg", "p50 us", "p99 us");
    for (m = CL_SAME; m < CL_MODES; m++) {
        struct cl_acc *a = &u->acc[m];

        qsort(a->samples, a->nsamples, sizeof(uint64_t), cmp_u64);
        printf("  %10s  %9.0f  %10.2f  %10.2f  %11.2f  %9.1f  %9.1f\n", mode_names[m], per_s(a),
               per_msg(a->cpu_a, a->delivered), per_msg(a->cpu_b, a->delivered),
               per_msg(a->cpu_nats, a->delivered), pct(a, 50), pct(a, 99));
    }
    same = per_msg(u->acc[CL_SAME].cpu_a, u->acc[CL_SAME].delivered);
    cross_a = per_msg(u->acc[CL_CROSS].cpu_a, u->acc[CL_CROSS].delivered);
    cross_b = per_msg(u->acc[CL_CROSS].cpu_b, u->acc[CL_CROSS].delivered);
    nats_us = per_msg(u->acc[CL_CROSS].cpu_nats, u->acc[CL_CROSS].delivered);
    ratio = same > 0 ? (cross_a > cross_b ? cross_a : cross_b) / same : 0;
    ratio_mean = same > 0 ? (cross_a + cross_b) / 2 / same : 0;
    printf("\n  cross/same per relay node = max(a, b) / same = %.2f (target <= %.1f: %s); "
           "mean (a + b) / 2 / same = %.2f; nats-server %.2f us/msg cross-node\n\n",
           ratio, CL_TARGET,
           ratio <= 0           ? "n/a"
           : ratio <= CL_TARGET ? "met"
                                : "MISSED",
           ratio_mean, nats_us);
    if (j->f != NULL) {
        json_member(j, "cluster");
        fprintf(j->f,
                "{\"pairs\": %d, \"msg_size\": %u, \"rate\": %.0f, \"seconds_per_round\": %.1f, "
                "\"rounds\": %d, \"same_node_cpu_us_per_msg\": %.3f, "
                "\"same_node_cpu_us_per_msg_b\": %.3f, \"cross_node_cpu_us_per_msg_a\": %.3f, "
                "\"cross_node_cpu_us_per_msg_b\": %.3f, \"cross_node_cpu_us_per_msg\": %.3f, "
                "\"nats_cpu_us_per_msg\": %.3f, \"nats_cpu_us_per_msg_same\": %.3f, "
                "\"cross_to_same_ratio\": %.3f, \"cross_to_same_ratio_mean\": %.3f, "
                "\"ratio_of\": \"max(a, b)\", \"target_met\": %s, \"same_msgs_per_s\": %.0f, "
                "\"cross_msgs_per_s\": %.0f, \"same_p50_us\": %.1f, \"same_p99_us\": %.1f, "
                "\"cross_p50_us\": %.1f, \"cross_p99_us\": %.1f}",
                CL_PAIRS, CL_MSG, u->rate, secs, rounds, same,
                per_msg(u->acc[CL_SAME].cpu_b, u->acc[CL_SAME].delivered), cross_a, cross_b,
                cross_a + cross_b, nats_us,
                per_msg(u->acc[CL_SAME].cpu_nats, u->acc[CL_SAME].delivered), ratio, ratio_mean,
                ratio > 0 && ratio <= CL_TARGET ? "true" : "false", per_s(&u->acc[CL_SAME]),
                per_s(&u->acc[CL_CROSS]), pct(&u->acc[CL_SAME], 50), pct(&u->acc[CL_SAME], 99),
                pct(&u->acc[CL_CROSS], 50), pct(&u->acc[CL_CROSS], 99));
    }
    rc = 0;
out:
    if (u != NULL) {
        for (k = 0; k < CL_CLIENTS; k++) {
            bc_close(&u->cl[k]);
            free(u->cl[k].in);
            free(u->cl[k].out);
        }
        for (m = CL_SAME; m < CL_MODES; m++) {
            free(u->acc[m].samples);
        }
    }
    free(u);
    drv_free(&d);
    relay_stop(&nodes[0]);
    relay_stop(&nodes[1]);
    relay_stop(&nats);
    if (CPU_COUNT(&saved) > 0) {
        (void)sched_setaffinity(0, sizeof(saved), &saved);
    }
    return rc;
}

/* $SRM_BENCH_NATS_SERVER, nats-server on PATH, /usr/sbin, /usr/bin. */
static const char *find_nats(char *buf, size_t n)
{
    static const char *const fixed[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server"};
    const char *env = getenv("SRM_BENCH_NATS_SERVER"), *path = getenv("PATH"), *p, *e;
    size_t i, len;

    if (env != NULL && env[0] != '\0') {
        return access(env, X_OK) == 0 ? env : NULL;
    }
    for (p = path; p != NULL && *p != '\0'; p = *e == ':' ? e + 1 : e) {
        e = strchr(p, ':');
        if (e == NULL) {
            e = p + strlen(p);
        }
        len = (size_t)(e - p);
        if (len > 0 && len < n - sizeof("/nats-server")) {
            snprintf(buf, n, "%.*s/nats-server", (int)len, p);
            if (access(buf, X_OK) == 0) {
                return buf;
            }
        }
    }
    for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (access(fixed[i], X_OK) == 0) {
            return fixed[i];
        }
    }
    return NULL;
}

/* 1. nats-server -a 127.0.0.1 -p PORT, pinned to CPU 0, its log in KEYS/nats.log. */
static int nats_start(const char *path, const char *keys_dir, struct relay_proc *np)
{
    char port_arg[16], logpath[4200];
    double t0;
    int status;

    memset(np, 0, sizeof(*np));
    if (bench_pick_port(&np->port) != 0) {
        fprintf(stderr, "error: cannot find a free port: %s\n", strerror(errno));
        return -1;
    }
    snprintf(port_arg, sizeof(port_arg), "%u", (unsigned)np->port);
    snprintf(logpath, sizeof(logpath), "%s/nats.log", keys_dir);
    fflush(NULL);
    np->pid = fork();
    if (np->pid < 0) {
        fprintf(stderr, "error: fork: %s\n", strerror(errno));
        return -1;
    }
    if (np->pid == 0) {
        bench_child_setup(logpath);
        execl(path, path, "-a", "127.0.0.1", "-p", port_arg, (char *)NULL);
        _exit(127);
    }
    t0 = now();
    while (bench_try_connect(np->port) != 0) {
        if (waitpid(np->pid, &status, WNOHANG) == np->pid || now() - t0 > NATS_WAIT) {
            fprintf(stderr, "error: %s did not start (see %s)\n", path, logpath);
            if (now() - t0 > NATS_WAIT) {
                relay_stop(np);
            }
            np->pid = 0;
            return -1;
        }
        usleep(20000);
    }
    return 0;
}

static int node_start(const struct opts *o, const char *node, uint16_t nats_port, int prefixed,
                      struct relay_proc *rp)
{
    char url[64], logname[32];
    const char *extra[5];

    snprintf(url, sizeof(url), "nats://127.0.0.1:%u", (unsigned)nats_port);
    snprintf(logname, sizeof(logname), "node-%s.log", node);
    extra[0] = "--cluster";
    extra[1] = url;
    extra[2] = "--node";
    extra[3] = node;
    extra[4] = NULL;
    return relay_start_args(o, rp, extra, logname, prefixed);
}

/* The number in "nN"; CL_CLIENTS for anything else. */
static size_t name_index(const char *name)
{
    char *end = NULL;
    unsigned long v;

    if (name[0] != 'n') {
        return CL_CLIENTS;
    }
    v = strtoul(name + 1, &end, 10);
    return end != name + 1 && *end == '\0' && v < CL_CLIENTS ? (size_t)v : CL_CLIENTS;
}

static struct bc *receiver(struct clu *u, enum cl_mode mode, size_t i)
{
    return &u->cl[(mode == CL_SAME ? CL_PAIRS : 2 * CL_PAIRS) + i];
}

/* DELIVERs at the receivers; UNDELIVERABLE at the senders only while probing. */
static void recv_msg(struct bc *c, const struct srm_msg *m)
{
    struct clu *u = c->user;
    enum cl_mode mode;
    size_t i;
    uint64_t ts;

    if (m->type == SRM_MSG_PRESENCE || m->type == SRM_MSG_PONG) {
        return;
    }
    if (m->type == SRM_MSG_UNDELIVERABLE && c->idx < CL_PAIRS) {
        i = name_index(m->name);
        if (i >= CL_PAIRS) {
            mode = i < 2 * CL_PAIRS ? CL_SAME : CL_CROSS;
            if (u->inflight[mode] > 0) {
                u->inflight[mode]--;
            }
            if (u->probing && u->probe[i % CL_PAIRS] == 0) {
                u->probe[i % CL_PAIRS] = 2;
                return;
            }
        }
        u->undeliverable++;
        return;
    }
    mode = c->idx < 2 * CL_PAIRS ? CL_SAME : CL_CROSS;
    i = c->idx % CL_PAIRS;
    if (m->type != SRM_MSG_DELIVER || c->idx < CL_PAIRS || m->data_len != CL_MSG ||
        strcmp(m->name, u->cl[i].name) != 0) {
        u->errors++;
        return;
    }
    u->delivered[mode]++;
    if (u->inflight[mode] > 0) {
        u->inflight[mode]--;
    }
    if (u->probing) {
        u->probe[i] = 1;
    }
    if (u->recording && mode == u->mode && u->acc[mode].nsamples < u->acc[mode].cap) {
        memcpy(&ts, m->data + 1, sizeof(ts));
        u->acc[mode].samples[u->acc[mode].nsamples++] = now_ns() - ts;
    }
}

/* SEND from sender i to its receiver in the current mode, written at once. */
static int send_one(struct clu *u, size_t i)
{
    uint64_t ts = now_ns();

    memcpy(u->payload + 1, &ts, sizeof(ts));
    if (bc_send_now(&u->cl[i], receiver(u, u->mode, i)->name, u->ref++, u->payload, CL_MSG) != 0) {
        u->errors++;
        return -1;
    }
    u->inflight[u->mode]++;
    return 0;
}

/* 3. One message per pair, sent again after UNDELIVERABLE, until each was delivered. */
static int probe(struct clu *u, enum cl_mode mode)
{
    double t0 = now();
    size_t i, done;

    u->mode = mode;
    u->probing = 1;
    memset(u->probe, 2, sizeof(u->probe));
    do {
        for (i = 0, done = 0; i < CL_PAIRS; i++) {
            if (u->probe[i] == 2) {
                u->probe[i] = 0;
                if (send_one(u, i) != 0) {
                    return -1;
                }
            }
            done += u->probe[i] == 1;
        }
        drv_run_for(u->d, 0.05);
    } while (done < CL_PAIRS && now() - t0 < PROBE_WAIT);
    drain(u, mode);
    u->probing = 0;
    if (done < CL_PAIRS || u->errors > 0 || u->d->dead > 0) {
        fprintf(stderr, "error: cluster %s probe: %zu of %d pairs delivered, %lu bad messages\n",
                mode == CL_SAME ? "same-node" : "cross-node", done, CL_PAIRS, u->errors);
        return -1;
    }
    return 0;
}

/* Send what is due by now at the rate, round robin over the pairs, one write each. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct clu *u = arg;
    uint64_t due = (uint64_t)((double)(now_ns() - u->start_ns) * 1e-9 * u->rate);

    (void)fd;
    (void)what;
    while (u->sent < due) {
        if (send_one(u, u->rr++ % CL_PAIRS) != 0) {
            return;
        }
        u->sent++;
    }
}

/* 4. Warm-up, then one window of `seconds` in `mode`, added to u->acc[mode]. */
static int run_window(struct clu *u, enum cl_mode mode, double seconds,
                      const struct relay_proc procs[3])
{
    struct cl_acc *a = &u->acc[mode];
    struct event *tick = NULL;
    struct timeval tv = {0, CL_TICK_US};
    double u0[3], s0[3], u1[3], s1[3], t0;
    uint64_t n0;
    int rc = -1, k;

    u->mode = mode;
    u->sent = 0;
    u->recording = 0;
    if ((tick = event_new(u->d->base, -1, EV_PERSIST, tick_cb, u)) == NULL ||
        event_add(tick, &tv) != 0) {
        goto out;
    }
    u->start_ns = now_ns();
    drv_run_for(u->d, CL_WARMUP);
    u->recording = 1;
    n0 = u->delivered[mode];
    /* Scheduler's clocks (pid_cpu): exact, where the tick-sampled /proc stat is biased here. */
    for (k = 0; k < 3; k++) {
        u0[k] = pid_cpu(procs[k].pid);
        s0[k] = 0;
        if (u0[k] < 0) {
            goto out;
        }
    }
    t0 = now();
    drv_run_for(u->d, seconds);
    for (k = 0; k < 3; k++) {
        u1[k] = pid_cpu(procs[k].pid);
        s1[k] = 0;
        if (u1[k] < 0) {
            goto out;
        }
    }
    a->seconds += now() - t0;
    a->delivered += u->delivered[mode] - n0;
    a->cpu_a += u1[0] - u0[0] + s1[0] - s0[0];
    a->cpu_b += u1[1] - u0[1] + s1[1] - s0[1];
    a->cpu_nats += u1[2] - u0[2] + s1[2] - s0[2];
    u->recording = 0;
    event_del(tick);
    drain(u, mode);
    if (u->errors > 0 || u->undeliverable > 0 || u->d->dead > 0 || u->inflight[mode] > 0) {
        fprintf(stderr,
                "error: cluster %s: %lu bad messages, %lu undeliverable, %u not delivered, %zu "
                "clients lost (see node-a.log, node-b.log in the key directory)\n",
                mode == CL_SAME ? "same-node" : "cross-node", u->errors, u->undeliverable,
                u->inflight[mode], u->d->dead);
        goto out;
    }
    rc = 0;
out:
    if (tick != NULL) {
        event_free(tick);
    }
    return rc;
}

/* Wait until everything in flight in `mode` has arrived (or 10 s). */
static void drain(struct clu *u, enum cl_mode mode)
{
    double t0 = now();

    do {
        drv_run_for(u->d, 0.02);
    } while (u->inflight[mode] > 0 && now() - t0 < 10);
}

/* The p-th percentile of sorted samples, in microseconds. */
static double pct(const struct cl_acc *a, unsigned p)
{
    return a->nsamples > 0 ? (double)a->samples[a->nsamples * p / 100] / 1e3 : 0;
}

static double per_msg(double cpu, uint64_t n)
{
    return n > 0 ? cpu / (double)n * 1e6 : 0;
}

static double per_s(const struct cl_acc *a)
{
    return a->seconds > 0 ? (double)a->delivered / a->seconds : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}
