/* SPDX-License-Identifier: MIT */
/*
 * conns.c: the connections section of srm_bench: the relay's resident
 * memory per idle registered client.
 *
 *   1. start a fresh relay (--max-conns 20000), read its VmRSS
 *   2. register CONN_CLIENTS bench clients (n0 .. n9999), CONN_CONCURRENCY
 *      registrations in flight; each stays connected once it has its
 *      WELCOME and from then on only drains what arrives (the PRESENCE
 *      of later clients) without opening it
 *   3. wait until the relay is idle (its output drained), read VmRSS again:
 *      kib_per_client = (after - before) / clients
 *
 * The driver raises its own RLIMIT_NOFILE; the relay raises its own towards
 * --max-conns.  Registration costs the relay two RSA-2048 private
 * operations per client, so this section takes tens of seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define CONN_CLIENTS 10000u
/*
 * --quick: each registration makes the relay seal a PRESENCE for every
 * client already online (n^2 / 2 link records in all: 50 million for
 * 10,000, about 250 s at today's ~3 us per small link record), so the quick
 * run stops at 4,000; the full run does 10,000.
 */
#define CONN_CLIENTS_QUICK 4000u
#define CONN_CONCURRENCY   64u

struct conns {
    struct drv *d;
    struct bc *cl;
    unsigned n; /* clients in this run */
    size_t next, started;
    unsigned long failed;
};

static void on_state(struct bc *c);
static void start_next(struct conns *cs);

int section_connections(const struct opts *o, struct json *j)
{
    struct relay_proc rp;
    struct drv d;
    struct conns cs;
    long rss0, rss1;
    unsigned long nofile;
    double t0, treg, c0, c1;
    size_t k;
    int rc = -1, quiet;

    memset(&d, 0, sizeof(d));
    memset(&cs, 0, sizeof(cs));
    cs.n = o->quick ? CONN_CLIENTS_QUICK : CONN_CLIENTS;
    printf("== connections: %u registered idle clients on one relay\n", cs.n);
    fflush(stdout);
    nofile = bench_raise_nofile();
    if (nofile < cs.n + 64) {
        fprintf(stderr, "error: the open file limit (%lu) is below %u: raise ulimit -Hn\n", nofile,
                cs.n + 64);
        return -1;
    }
    if (bench_make_names(o->keys_dir) != 0 || relay_start(o, &rp) != 0) {
        return -1;
    }
    if (drv_init(&d, o, rp.port) != 0 || (cs.cl = calloc(cs.n, sizeof(*cs.cl))) == NULL) {
        goto out;
    }
    cs.d = &d;
    drv_run_for(&d, 0.2);
    rss0 = relay_rss_kib(&rp);
    t0 = now();
    for (k = 0; k < CONN_CONCURRENCY; k++) {
        start_next(&cs);
    }
    while (d.online + cs.failed < cs.n && cs.failed == 0 && now() - t0 < 600) {
        drv_run_for(&d, 0.1);
    }
    treg = now() - t0;
    if (d.online < cs.n) {
        fprintf(stderr, "error: %zu of %u clients registered, %lu failed (see %s/relay.log)\n",
                d.online, cs.n, cs.failed, o->keys_dir);
        goto out;
    }
    /* Idle: the relay has sent everything (its CPU time stops moving). */
    quiet = 0;
    while (quiet < 3 && now() - t0 < 900) {
        c0 = relay_cpu(&rp);
        drv_run_for(&d, 0.3);
        c1 = relay_cpu(&rp);
        quiet = c1 - c0 < 0.005 ? quiet + 1 : 0;
    }
    rss1 = relay_rss_kib(&rp);
    if (d.dead > 0) {
        fprintf(stderr, "error: %zu clients were disconnected (see %s/relay.log)\n", d.dead,
                o->keys_dir);
        goto out;
    }
    printf("  registered %u clients in %.1f s (%.0f/s, %u at a time)\n", cs.n, treg,
           (double)cs.n / treg, CONN_CONCURRENCY);
    printf("  relay VmRSS: %ld KiB after start, %ld KiB with %u idle clients\n", rss0, rss1, cs.n);
    printf("  per client: %.2f KiB (target <= 16)\n\n", (double)(rss1 - rss0) / cs.n);
    if (j->f != NULL) {
        json_member(j, "connections");
        fprintf(j->f,
                "{\"clients\": %u, \"relay_rss_kib\": %ld, \"kib_per_client\": %.2f, "
                "\"relay_rss_kib_at_start\": %ld, \"registration_seconds\": %.1f}",
                cs.n, rss1, (double)(rss1 - rss0) / cs.n, rss0, treg);
    }
    rc = 0;
out:
    if (cs.cl != NULL) {
        for (k = 0; k < cs.n; k++) {
            cs.cl[k].on_state = NULL;
            bc_close(&cs.cl[k]);
            free(cs.cl[k].in);
            free(cs.cl[k].out);
        }
    }
    free(cs.cl);
    drv_free(&d);
    relay_stop(&rp);
    return rc;
}

static void start_next(struct conns *cs)
{
    struct bc *c;
    char name[16];

    if (cs->next >= cs->n) {
        return;
    }
    c = &cs->cl[cs->next];
    c->on_state = on_state;
    c->user = cs;
    snprintf(name, sizeof(name), "n%zu", cs->next);
    cs->next++;
    if (bc_start(cs->d, c, name, cs->next - 1) != 0) {
        cs->failed++;
    }
}

/* Online: from now on only drain; the next registration starts. */
static void on_state(struct bc *c)
{
    struct conns *cs = c->user;

    if (c->state == BC_ONLINE) {
        c->discard = 1;
        if (c->outlen == 0) {
            free(c->out);
            c->out = NULL;
            c->outcap = 0;
        }
    } else {
        cs->failed++;
    }
    start_next(cs);
}
