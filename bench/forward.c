/* SPDX-License-Identifier: MIT */
/*
 * forward.c: the relay section of srm_bench: forwarding through the real
 * relay program.
 *
 *   2 * MAX_PAIRS bench clients register (n0 .. n199); pair i is sender
 *   n(2i) -> receiver n(2i+1).  The sender SENDs payloads of the case's
 *   size to its receiver; the relay opens each link record, routes it and
 *   seals a DELIVER into the receiver's link.  Payloads are opaque to the
 *   relay: byte 0 is SRM_E2E_RECORD, bytes 1..8 the send time.
 *
 *   saturation  each pair keeps up to `window` messages in flight: every
 *               DELIVER received returns a credit to its sender, which
 *               sends again after the receiver's read is handled.
 *               unbatched: one message per write(2); pipelined: up to
 *               PIPELINE frames per write(2).  P = 1, 10, 100 pairs,
 *               256 B and 4 KiB.
 *   latency     100 pairs, 256 B, unbatched, paced at LAT_RATE msgs/s in
 *               total (a timer every LAT_TICK_US): one-way time from the
 *               sender's timestamp to the receiver's read.
 *
 * Relay CPU per delivered message = delta(utime + stime of the relay,
 * /proc/PID/stat) / delta(delivered) over the measurement window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "srm/err.h"
#include "srm/msg.h"
#include "srm/wire.h"
#include "bench.h"

#define MAX_PAIRS   100
#define PIPELINE    16
#define LAT_RATE    10000.0
#define LAT_TICK_US 100
#define MAX_PAYLOAD 4096u
#define WARMUP      0.3
/* --busy-poll of the relay for the latency run (microseconds, as the option takes it). */
#define LAT_BUSY_POLL "250"

struct pair {
    struct fwd *f;
    struct bc *s, *r;
    unsigned credit;   /* messages the sender may still send */
    unsigned inflight; /* sent, not yet delivered */
    uint32_t ref;
};

struct fwd {
    struct drv *d;
    struct bc cl[2 * MAX_PAIRS];
    struct pair pairs[MAX_PAIRS];
    size_t npairs, msg;
    int pipelined, running, latency, recording;
    unsigned long errors;
    uint64_t delivered;
    uint8_t payload[MAX_PAYLOAD];
    /* latency run */
    uint64_t *samples;
    size_t nsamples, cap;
    uint64_t lat_start, lat_sent, lat_rr;
};

struct result {
    size_t pairs, msg;
    int pipelined;
    double msgs_per_s, cpu_us, frames_per_write, relay_util;
    double sys_us;      /* of cpu_us: the relay's time in the kernel */
    double driver_util; /* the bench clients' CPU (this process) / wall time */
};

static void recv_msg(struct bc *c, const struct srm_msg *m);
static void recv_batch(struct bc *c);
static int pump(struct pair *p);
static int send_one(struct pair *p);
static int run_case(struct fwd *f, const struct relay_proc *rp, size_t pairs, size_t msg,
                    int pipelined, double seconds, struct result *res);
static void drain(struct fwd *f);
static void lat_tick(evutil_socket_t fd, short what, void *arg);
/* One latency run: percentiles of the one-way time, relay CPU per message. */
struct latency {
    size_t samples;
    double p50, p90, p99, cpu_us;
};

static int run_latency(struct fwd *f, const struct relay_proc *rp, double seconds,
                       struct latency *l);
static int cmp_u64(const void *a, const void *b);

/*
 * A relay (relay_start_args with `extra`) and the 2 * MAX_PAIRS bench
 * clients, all registered.  *fp is set even on failure, for fwd_close.
 */
static int fwd_open(const struct opts *o, const char *const *extra, struct relay_proc *rp,
                    struct drv *d, struct fwd **fp)
{
    struct fwd *f;
    char name[16], cmd[512];
    double t0;
    size_t k;

    memset(d, 0, sizeof(*d));
    *fp = NULL;
    if (relay_start_args(o, rp, extra, "relay.log", 1) != 0) {
        return -1;
    }
    if (drv_init(d, o, rp->port) != 0 || (f = calloc(1, sizeof(*f))) == NULL) {
        return -1;
    }
    *fp = f;
    f->d = d;
    for (k = 0; k < MAX_PAYLOAD; k++) {
        f->payload[k] = (uint8_t)(k * 31 + 7);
    }
    f->payload[0] = SRM_E2E_RECORD;
    for (k = 0; k < MAX_PAIRS; k++) {
        f->pairs[k].f = f;
        f->pairs[k].s = &f->cl[2 * k];
        f->pairs[k].r = &f->cl[2 * k + 1];
    }
    for (k = 0; k < 2u * MAX_PAIRS; k++) {
        f->cl[k].user = &f->pairs[k / 2];
        f->cl[k].on_msg = recv_msg;
        f->cl[k].on_batch = recv_batch;
        snprintf(name, sizeof(name), "n%zu", k);
        if (bc_start(d, &f->cl[k], name, k) != 0) {
            return -1;
        }
    }
    t0 = now();
    while (d->online < 2u * MAX_PAIRS && d->dead == 0 && now() - t0 < 120) {
        drv_run_for(d, 0.05);
    }
    if (d->online < 2u * MAX_PAIRS) {
        fprintf(stderr, "error: only %zu of %d clients registered (see %s/relay.log)\n", d->online,
                2 * MAX_PAIRS, o->keys_dir);
        return -1;
    }
    drv_run_for(d, 0.2); /* the last PRESENCE messages */
    if (getenv("SRM_BENCH_PROFILE_ON") != NULL) {
        /* e.g. "callgrind_control -i on": profile forwarding, not registration. */
        snprintf(cmd, sizeof(cmd), "%s %d >/dev/null", getenv("SRM_BENCH_PROFILE_ON"),
                 (int)rp->pid);
        if (system(cmd) != 0) {
            fprintf(stderr, "warning: %s failed\n", cmd);
        }
    }
    return 0;
}

static void fwd_close(struct relay_proc *rp, struct drv *d, struct fwd *f)
{
    size_t k;

    if (f != NULL) {
        for (k = 0; k < 2u * MAX_PAIRS; k++) {
            bc_close(&f->cl[k]);
            free(f->cl[k].in);
            free(f->cl[k].out);
        }
        free(f->samples);
    }
    free(f);
    drv_free(d);
    relay_stop(rp);
}

/* The latency run on a relay of its own, started with `extra`. */
static int latency_on(const struct opts *o, const char *const *extra, struct latency *l)
{
    struct relay_proc rp;
    struct drv d;
    struct fwd *f = NULL;
    int rc = -1;

    if (fwd_open(o, extra, &rp, &d, &f) == 0 &&
        run_latency(f, &rp, o->quick ? 3.0 : 10.0, l) == 0) {
        rc = 0;
    }
    fwd_close(&rp, &d, f);
    return rc;
}

int section_relay(const struct opts *o, struct json *j)
{
    static const size_t sizes[] = {256, 4096}, counts[] = {1, 10, 100};
    static const char *const busy_poll[] = {"--busy-poll", LAT_BUSY_POLL, NULL};
    struct relay_proc rp;
    struct drv d;
    struct fwd *f = NULL;
    struct result res[12], *main_u = NULL, *main_p = NULL;
    struct latency lat = {0}, lat_sleep = {0};
    double secs = o->quick ? 2.0 : 5.0;
    size_t k, si, pi, nres = 0;
    int mode, rc = -1, first;
    /*
     * Profiling (SRM_BENCH_RELAY_PREFIX): only the 100 x 256 B cases, no
     * latency runs; or only the latency runs.
     */
    int only_main = getenv("SRM_BENCH_ONLY_MAIN") != NULL;
    int only_latency = getenv("SRM_BENCH_ONLY_LATENCY") != NULL;

    printf("== relay: %d pairs of bench clients through the relay on loopback "
           "(relay on CPU 0, clients on CPU 1)\n",
           MAX_PAIRS);
    fflush(stdout);
    if (bench_make_names(o->keys_dir) != 0) {
        return -1;
    }
    if (!only_latency) {
        if (fwd_open(o, NULL, &rp, &d, &f) != 0) {
            fwd_close(&rp, &d, f);
            return -1;
        }
        printf("  %8s  %5s  %9s  %12s  %14s  %10s  %12s  %10s  %11s\n", "payload", "pairs", "mode",
               "msgs/s", "relay us/msg", "(kernel)", "frames/write", "relay CPU", "clients CPU");
        for (si = 0; si < 2; si++) {
            for (pi = 0; pi < 3; pi++) {
                for (mode = 0; mode < 2; mode++) {
                    if (only_main && (counts[pi] != 100 || sizes[si] != 256)) {
                        continue;
                    }
                    if (run_case(f, &rp, counts[pi], sizes[si], mode, secs, &res[nres]) != 0) {
                        fwd_close(&rp, &d, f);
                        return -1;
                    }
                    printf("  %8zu  %5zu  %9s  %12.0f  %14.3f  %10.3f  %12.2f  %9.0f%%  "
                           "%10.0f%%\n",
                           sizes[si], counts[pi], mode ? "pipelined" : "unbatched",
                           res[nres].msgs_per_s, res[nres].cpu_us, res[nres].sys_us,
                           res[nres].frames_per_write, res[nres].relay_util * 100,
                           res[nres].driver_util * 100);
                    fflush(stdout);
                    if (counts[pi] == 100 && sizes[si] == 256) {
                        if (mode) {
                            main_p = &res[nres];
                        } else {
                            main_u = &res[nres];
                        }
                    }
                    nres++;
                }
            }
        }
        fwd_close(&rp, &d, f);
        f = NULL;
    }
    if (!only_main) {
        /* The default relay, then one with --busy-poll, each with clients of its own. */
        if (latency_on(o, NULL, &lat_sleep) != 0 || latency_on(o, busy_poll, &lat) != 0) {
            return -1;
        }
        printf("\n  latency at %.0f msgs/s, 100 pairs x 256 B unbatched (%zu + %zu samples):\n",
               LAT_RATE, lat_sleep.samples, lat.samples);
        printf("    %-24s  p50 %8.1f us  p90 %8.1f us  p99 %8.1f us  relay %.3f us/msg\n",
               "relay (default)", lat_sleep.p50, lat_sleep.p90, lat_sleep.p99, lat_sleep.cpu_us);
        printf("    %-24s  p50 %8.1f us  p90 %8.1f us  p99 %8.1f us  relay %.3f us/msg\n",
               "relay --busy-poll " LAT_BUSY_POLL, lat.p50, lat.p90, lat.p99, lat.cpu_us);
    }
    if (main_u == NULL || main_p == NULL || only_main) {
        if (main_u != NULL && main_p != NULL) {
            printf(
                "\n  100 pairs x 256 B: relay CPU %.3f us/msg unbatched, %.3f us/msg pipelined\n",
                main_u->cpu_us, main_p->cpu_us);
        }
        return 0;
    }
    printf("\n  100 pairs x 256 B: relay CPU %.3f us/msg unbatched (target <= 6.5), %.3f us/msg "
           "pipelined (target <= 1.5)\n",
           main_u->cpu_us, main_p->cpu_us);
    printf("  latency at %.0f msgs/s (100 pairs, 256 B, unbatched, relay --busy-poll %s): "
           "p50 %.1f us, p99 %.1f us (target p99 <= 500); without --busy-poll p99 %.1f us\n\n",
           LAT_RATE, LAT_BUSY_POLL, lat.p50, lat.p99, lat_sleep.p99);
    if (j->f != NULL) {
        json_member(j, "relay");
        fprintf(j->f,
                "{\"pairs\": %d, \"msg_size\": 256, \"msgs_per_s\": %.0f, "
                "\"relay_cpu_us_per_msg\": %.3f, \"msgs_per_s_pipelined\": %.0f, "
                "\"relay_cpu_us_per_msg_pipelined\": %.3f, \"relay_sys_us_per_msg\": %.3f, "
                "\"relay_sys_us_per_msg_pipelined\": %.3f, \"p50_us_at_10k\": %.1f, "
                "\"p99_us_at_10k\": %.1f, \"relay_cpu_us_per_msg_at_10k\": %.3f, "
                "\"busy_poll_us_at_10k\": %s, \"p50_us_at_10k_no_busy_poll\": %.1f, "
                "\"p99_us_at_10k_no_busy_poll\": %.1f, "
                "\"relay_cpu_us_per_msg_at_10k_no_busy_poll\": %.3f, "
                "\"seconds_per_case\": %.1f}",
                MAX_PAIRS, main_u->msgs_per_s, main_u->cpu_us, main_p->msgs_per_s, main_p->cpu_us,
                main_u->sys_us, main_p->sys_us, lat.p50, lat.p99, lat.cpu_us, LAT_BUSY_POLL,
                lat_sleep.p50, lat_sleep.p99, lat_sleep.cpu_us, secs);
        json_member(j, "relay_cases");
        fprintf(j->f, "[");
        first = 1;
        for (k = 0; k < nres; k++) {
            if (&res[k] == main_u || &res[k] == main_p) {
                continue;
            }
            fprintf(j->f,
                    "%s\n    {\"pairs\": %zu, \"msg_size\": %zu, \"pipelined\": %d, "
                    "\"msgs_per_s\": %.0f, \"relay_cpu_us_per_msg\": %.3f, "
                    "\"relay_sys_us_per_msg\": %.3f, \"frames_per_write\": %.2f}",
                    first ? "" : ",", res[k].pairs, res[k].msg, res[k].pipelined, res[k].msgs_per_s,
                    res[k].cpu_us, res[k].sys_us, res[k].frames_per_write);
            first = 0;
        }
        fprintf(j->f, "\n  ]");
    }
    rc = 0;
    return rc;
}

/* Receivers count DELIVERs; anything else but PRESENCE is an error. */
static void recv_msg(struct bc *c, const struct srm_msg *m)
{
    struct pair *p = c->user;
    struct fwd *f = p->f;
    uint64_t ts;

    if (m->type == SRM_MSG_PRESENCE || m->type == SRM_MSG_PONG) {
        return;
    }
    if (m->type != SRM_MSG_DELIVER || c != p->r || m->data_len != f->msg ||
        strcmp(m->name, p->s->name) != 0) {
        f->errors++;
        return;
    }
    f->delivered++;
    if (p->inflight > 0) {
        p->inflight--;
    }
    if (f->latency) {
        if (f->recording && f->nsamples < f->cap) {
            memcpy(&ts, m->data + 1, sizeof(ts));
            f->samples[f->nsamples++] = now_ns() - ts;
        }
    } else {
        p->credit++;
    }
}

/* After a receiver's read: its sender spends the credits returned. */
static void recv_batch(struct bc *c)
{
    struct pair *p = c->user;

    if (c == p->r && !p->f->latency) {
        (void)pump(p);
    }
}

static int send_one(struct pair *p)
{
    struct fwd *f = p->f;
    uint64_t ts = now_ns();

    memcpy(f->payload + 1, &ts, sizeof(ts));
    if (bc_send_queue(p->s, p->r->name, p->ref++, f->payload, f->msg) != 0) {
        f->errors++;
        return -1;
    }
    p->inflight++;
    return 0;
}

/* Unbatched: one write per message.  Pipelined: up to PIPELINE frames per write. */
static int pump(struct pair *p)
{
    struct fwd *f = p->f;
    unsigned k, i;

    while (f->running && p->credit > 0 && p->s->state == BC_ONLINE) {
        k = f->pipelined ? (p->credit < PIPELINE ? p->credit : PIPELINE) : 1;
        for (i = 0; i < k; i++) {
            if (send_one(p) != 0) {
                return -1;
            }
        }
        p->credit -= k;
        if (bc_flush(p->s) != 0) {
            return -1;
        }
    }
    return 0;
}

static int run_case(struct fwd *f, const struct relay_proc *rp, size_t pairs, size_t msg,
                    int pipelined, double seconds, struct result *res)
{
    uint64_t n0, w0 = 0, w1 = 0;
    double c0, d0, t0, t, cpu, u0 = 0, s0 = 0, u1 = 0, s1 = 0;
    unsigned window = (unsigned)(1024 / pairs);
    size_t k;

    /* Enough in flight to keep the relay busy, bounded in bytes (relay output cap 4 MiB). */
    if (window < 32) {
        window = 32;
    }
    if (window > 512) {
        window = 512;
    }
    if (window > (1u << 20) / msg) {
        window = (unsigned)((1u << 20) / msg);
    }
    f->npairs = pairs;
    f->msg = msg;
    f->pipelined = pipelined;
    f->latency = 0;
    f->running = 1;
    for (k = 0; k < pairs; k++) {
        f->pairs[k].credit = window;
        f->pairs[k].inflight = 0;
    }
    for (k = 0; k < pairs; k++) {
        (void)pump(&f->pairs[k]);
    }
    drv_run_for(f->d, WARMUP);
    n0 = f->delivered;
    for (k = 0; k < pairs; k++) {
        w0 += f->pairs[k].s->writes;
    }
    /* The total from the scheduler's clock; the kernel's share of it from the sampled split. */
    c0 = relay_cpu(rp);
    (void)proc_cpu(rp->pid, &u0, &s0);
    d0 = self_cpu();
    t0 = now();
    drv_run_for(f->d, seconds);
    cpu = relay_cpu(rp) - c0;
    (void)proc_cpu(rp->pid, &u1, &s1);
    t = now() - t0;
    res->driver_util = (self_cpu() - d0) / t;
    for (k = 0; k < pairs; k++) {
        w1 += f->pairs[k].s->writes;
    }
    res->pairs = pairs;
    res->msg = msg;
    res->pipelined = pipelined;
    res->msgs_per_s = (double)(f->delivered - n0) / t;
    res->cpu_us = f->delivered > n0 ? cpu / (double)(f->delivered - n0) * 1e6 : 0;
    res->sys_us = u1 + s1 > u0 + s0 ? res->cpu_us * (s1 - s0) / (u1 + s1 - u0 - s0) : 0;
    res->frames_per_write = w1 > w0 ? (double)(f->delivered - n0) / (double)(w1 - w0) : 0;
    res->relay_util = cpu / t;
    drain(f);
    if (f->errors > 0 || f->d->dead > 0) {
        fprintf(stderr, "error: %lu bad messages, %zu clients lost (see the relay log)\n",
                f->errors, f->d->dead);
        return -1;
    }
    return 0;
}

/* Stop sending and wait until everything in flight has arrived. */
static void drain(struct fwd *f)
{
    double t0 = now();
    unsigned left;
    size_t k;

    f->running = 0;
    do {
        drv_run_for(f->d, 0.02);
        left = 0;
        for (k = 0; k < f->npairs; k++) {
            left += f->pairs[k].inflight;
        }
    } while (left > 0 && now() - t0 < 10);
}

/* Send what is due by now at LAT_RATE, round robin over the pairs, one write each. */
static void lat_tick(evutil_socket_t fd, short what, void *arg)
{
    struct fwd *f = arg;
    uint64_t due = (uint64_t)((double)(now_ns() - f->lat_start) * 1e-9 * LAT_RATE);
    struct pair *p;

    (void)fd;
    (void)what;
    while (f->lat_sent < due) {
        p = &f->pairs[f->lat_rr++ % f->npairs];
        if (send_one(p) != 0 || bc_flush(p->s) != 0) {
            return;
        }
        f->lat_sent++;
    }
}

/*
 * The clients poll (drv_spin_for) rather than sleep during the window, so
 * what is measured is the relay's part of the one-way time, not the bench
 * process's own wake-ups on CPU 1.
 */
static int run_latency(struct fwd *f, const struct relay_proc *rp, double seconds,
                       struct latency *l)
{
    struct event *tick = NULL;
    struct timeval tv = {0, LAT_TICK_US};
    uint64_t n0;
    double c0;
    size_t k;
    int rc = -1;

    f->npairs = MAX_PAIRS;
    f->msg = 256;
    f->pipelined = 0;
    f->latency = 1;
    f->running = 1;
    f->recording = 0;
    f->cap = (size_t)(LAT_RATE * (seconds + 1));
    f->nsamples = 0;
    f->lat_sent = 0;
    for (k = 0; k < MAX_PAIRS; k++) {
        f->pairs[k].credit = 0;
        f->pairs[k].inflight = 0;
    }
    if ((f->samples = malloc(f->cap * sizeof(*f->samples))) == NULL ||
        (tick = event_new(f->d->base, -1, EV_PERSIST, lat_tick, f)) == NULL ||
        event_add(tick, &tv) != 0) {
        goto out;
    }
    f->lat_start = now_ns();
    drv_run_for(f->d, WARMUP);
    f->recording = 1;
    n0 = f->delivered;
    c0 = relay_cpu(rp);
    drv_spin_for(f->d, seconds);
    l->cpu_us = f->delivered > n0 ? (relay_cpu(rp) - c0) / (double)(f->delivered - n0) * 1e6 : 0;
    f->recording = 0;
    event_del(tick);
    drain(f);
    if (f->nsamples == 0 || f->errors > 0) {
        fprintf(stderr, "error: latency run: %zu samples, %lu bad messages\n", f->nsamples,
                f->errors);
        goto out;
    }
    qsort(f->samples, f->nsamples, sizeof(*f->samples), cmp_u64);
    l->samples = f->nsamples;
    l->p50 = (double)f->samples[f->nsamples / 2] / 1e3;
    l->p90 = (double)f->samples[f->nsamples * 90 / 100] / 1e3;
    l->p99 = (double)f->samples[f->nsamples * 99 / 100] / 1e3;
    rc = 0;
out:
    if (tick != NULL) {
        event_free(tick);
    }
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}
