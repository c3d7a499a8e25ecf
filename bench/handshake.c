/* SPDX-License-Identifier: MIT */
/*
 * handshake.c: the handshake section of srm_bench.
 *
 *   registrations/s  REG_CONCURRENCY bench clients register with one relay
 *                    over loopback, each closing after its WELCOME and a
 *                    new one taking its slot (names n0, n1, ... in turn)
 *   RSA ceiling      srm_pss_sign with the relay's own key, in process, in
 *                    rounds alternating with the registration rounds; the
 *                    relay does private_ops_per_registration = 2 private
 *                    operations per registration (src/lib/reg.c: OAEP
 *                    decrypt of Nc, PSS signature of the transcript)
 *   link_ratio       registrations/s / (rsa_ops/s / 2)
 *   sessions/s       SESS_PAIRS pairs of online clients set up end-to-end
 *                    sessions back to back through the relay (HS_INIT,
 *                    HS_RESP, HS_FIN as SEND/DELIVER payloads); also the
 *                    same handshake in memory, without the relay
 *
 * The clients' own RSA work (OAEP decrypt of Nr, PSS signature) runs in the
 * driver on CPU 1, the relay's on CPU 0; the keys are loaded once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/err.h"
#include "srm/msg.h"
#include "srm/sess.h"
#include "srm/wire.h"
#include "bench.h"

#define REG_CONCURRENCY  16
#define REG_NAMES        19000u /* n0 .. n18999 for registrations; sessions use the top */
#define PRIV_OPS_PER_REG 2
#define SESS_PAIRS       4
#define SESS_NAME_BASE   19900u

struct reg_run {
    struct drv *d;
    struct bc slots[REG_CONCURRENCY];
    unsigned next_name;
    unsigned long done, failed;
};

struct spair {
    struct bc a, b; /* a initiates, b responds */
    struct srm_sess *sa, *sb;
    unsigned long established; /* at the responder, after HS_FIN */
    int failed;
};

static int reg_slot_start(struct reg_run *rr, struct bc *c);
static void reg_on_state(struct bc *c);
static double rsa_round(struct srm_key *key, double seconds);
static int sess_start(struct spair *p);
static int sess_send(struct bc *from, const struct bc *to, struct srm_buf *payload);
static void sess_on_msg(struct bc *c, const struct srm_msg *m);
static double sessions_over_relay(struct drv *d, double seconds);
static double sessions_in_memory(struct drv *d, double seconds);

int section_handshake(const struct opts *o, struct json *j)
{
    struct relay_proc rp;
    struct drv d;
    struct reg_run *rr = NULL;
    int rounds = o->quick ? 3 : 5, i, rc = -1;
    double reg_secs = o->quick ? 2.0 : 4.0, rsa_secs = o->quick ? 0.7 : 1.5;
    double best_reg = 0, best_rsa = 0, reg, rsa, t0, t, c0, c1, d0, cpu_per_reg = 0, sess, sess_mem;
    unsigned long n0;
    size_t k;

    memset(&d, 0, sizeof(d));
    printf("== handshake: registrations against one relay (2048-bit keys), RSA ceiling, "
           "sessions\n");
    fflush(stdout);
    if (bench_make_names(o->keys_dir) != 0 || relay_start(o, &rp) != 0) {
        return -1;
    }
    if (drv_init(&d, o, rp.port) != 0 || (rr = calloc(1, sizeof(*rr))) == NULL) {
        goto out;
    }
    rr->d = &d;
    for (k = 0; k < REG_CONCURRENCY; k++) {
        rr->slots[k].on_state = reg_on_state;
        rr->slots[k].user = rr;
        if (reg_slot_start(rr, &rr->slots[k]) != 0) {
            goto out;
        }
    }
    drv_run_for(&d, 0.5); /* warm up: every slot in flight */
    printf("  %5s  %14s  %14s  %12s  %10s  %11s\n", "round", "registrations/s", "RSA sign/s",
           "relay ms/reg", "relay CPU", "clients CPU");
    for (i = 0; i < rounds; i++) {
        n0 = rr->done;
        c0 = relay_cpu(&rp);
        d0 = self_cpu();
        t0 = now();
        drv_run_for(&d, reg_secs);
        t = now() - t0;
        c1 = relay_cpu(&rp) - c0;
        reg = (double)(rr->done - n0) / t;
        if (rr->done > n0) {
            cpu_per_reg = c1 / (double)(rr->done - n0) * 1e3;
        }
        printf("  %5d  %14.1f", i + 1, reg);
        fflush(stdout);
        d0 = (self_cpu() - d0) / t;
        rsa = rsa_round(d.rkey, rsa_secs);
        printf("  %14.1f  %12.3f  %9.0f%%  %10.0f%%\n", rsa, cpu_per_reg, c1 / t * 100, d0 * 100);
        fflush(stdout);
        if (reg > best_reg) {
            best_reg = reg;
        }
        if (rsa > best_rsa) {
            best_rsa = rsa;
        }
        if (rr->failed > 10) {
            fprintf(stderr, "error: %lu registrations failed (see %s/relay.log)\n", rr->failed,
                    o->keys_dir);
            goto out;
        }
    }
    for (k = 0; k < REG_CONCURRENCY; k++) {
        rr->slots[k].on_state = NULL;
        bc_close(&rr->slots[k]);
    }
    drv_run_for(&d, 0.2);
    sess = sessions_over_relay(&d, o->quick ? 3.0 : 6.0);
    sess_mem = sessions_in_memory(&d, o->quick ? 1.0 : 3.0);
    if (sess < 0 || sess_mem < 0) {
        goto out;
    }
    printf("\n  registrations/s (best round)       %9.1f\n", best_reg);
    printf("  RSA-%d PSS sign/s (best round)   %9.1f\n", srm_key_bits(d.rkey), best_rsa);
    printf("  private ops per registration       %9d\n", PRIV_OPS_PER_REG);
    printf("  link_ratio = reg/s / (rsa/s / 2)   %9.3f   (target >= 0.60)\n",
           best_reg / (best_rsa / PRIV_OPS_PER_REG));
    printf("  session setups/s over the relay    %9.1f   (%d pairs)\n", sess, SESS_PAIRS);
    printf("  session setups/s in memory         %9.1f   (srm_sess_* only, no relay)\n\n",
           sess_mem);
    if (j->f != NULL) {
        json_member(j, "handshake");
        fprintf(j->f,
                "{\"registrations_per_s\": %.1f, \"rsa_private_ops_per_s\": %.1f, "
                "\"private_ops_per_registration\": %d, \"link_ratio\": %.3f, "
                "\"sessions_per_s\": %.1f, \"sessions_per_s_in_memory\": %.1f, "
                "\"relay_cpu_ms_per_registration\": %.3f, \"rsa_bits\": %d, "
                "\"concurrent_registrations\": %d, \"rounds\": %d}",
                best_reg, best_rsa, PRIV_OPS_PER_REG, best_reg / (best_rsa / PRIV_OPS_PER_REG),
                sess, sess_mem, cpu_per_reg, srm_key_bits(d.rkey), REG_CONCURRENCY, rounds);
    }
    rc = 0;
out:
    if (rr != NULL) {
        for (k = 0; k < REG_CONCURRENCY; k++) {
            bc_close(&rr->slots[k]);
            free(rr->slots[k].in);
            free(rr->slots[k].out);
        }
    }
    free(rr);
    drv_free(&d);
    relay_stop(&rp);
    return rc;
}

static int reg_slot_start(struct reg_run *rr, struct bc *c)
{
    char name[16];

    snprintf(name, sizeof(name), "n%u", rr->next_name);
    rr->next_name = (rr->next_name + 1) % REG_NAMES;
    return bc_start(rr->d, c, name, (size_t)(c - rr->slots));
}

/* WELCOME (or failure): close, and a new registration takes the slot. */
static void reg_on_state(struct bc *c)
{
    struct reg_run *rr = c->user;

    if (c->state == BC_ONLINE) {
        rr->done++;
    } else {
        rr->failed++;
    }
    bc_close(c);
    if (rr->failed <= 10) {
        (void)reg_slot_start(rr, c);
    }
}

/* PSS signatures per second with the relay's key (what the relay does twice per registration). */
static double rsa_round(struct srm_key *key, double seconds)
{
    uint8_t msg[64], sig[SRM_RSA_MAX_BYTES];
    size_t siglen;
    unsigned long n = 0;
    double t0 = now(), t;

    memset(msg, 0x5a, sizeof(msg));
    do {
        siglen = sizeof(sig);
        if (srm_pss_sign(key, msg, sizeof(msg), sig, &siglen) != 0) {
            return 0;
        }
        n++;
        t = now() - t0;
    } while (t < seconds);
    return (double)n / t;
}

/* ---- sessions ---- */

/* 1. The initiator starts afresh: a new session, HS_INIT. */
static int sess_start(struct spair *p)
{
    uint8_t buf[4096];
    struct srm_buf b;

    srm_sess_free(p->sa);
    p->sa = NULL;
    srm_buf_init_write(&b, buf, sizeof(buf));
    if (srm_sess_new(p->a.name, p->a.d->ckey, p->b.name, p->a.d->cpub, &p->sa) != 0 ||
        srm_sess_start(p->sa, &b) != 0) {
        return -1;
    }
    return sess_send(&p->a, &p->b, &b);
}

static int sess_send(struct bc *from, const struct bc *to, struct srm_buf *payload)
{
    if (payload->len == 0) {
        return 0;
    }
    return bc_send_now(from, to->name, 0, payload->data, payload->len);
}

static void sess_on_msg(struct bc *c, const struct srm_msg *m)
{
    struct spair *p = c->user;
    struct srm_sess_event ev;
    uint8_t buf[4096];
    struct srm_buf b;
    int is_b = c == &p->b;

    if (m->type != SRM_MSG_DELIVER || p->failed) {
        return; /* PRESENCE of the other pairs */
    }
    srm_buf_init_write(&b, buf, sizeof(buf));
    if (is_b && m->data_len > 0 && m->data[0] == SRM_E2E_HS_INIT) {
        /* 2. Responder: a new session for each setup. */
        srm_sess_free(p->sb);
        p->sb = NULL;
        if (srm_sess_new(p->b.name, c->d->ckey, p->a.name, c->d->cpub, &p->sb) != 0) {
            p->failed = 1;
            return;
        }
    }
    if (srm_sess_recv(is_b ? p->sb : p->sa, m->data, m->data_len, &b, &ev) != 0 ||
        sess_send(c, is_b ? &p->a : &p->b, &b) != 0) {
        p->failed = 1;
        return;
    }
    if (ev.type == SRM_SESS_EV_ESTABLISHED) {
        if (is_b) {
            /* 3. HS_FIN checked: one setup done. */
            p->established++;
        } else if (sess_start(p) != 0) {
            /* The initiator sent HS_FIN with its reply: start the next one at once. */
            p->failed = 1;
        }
    }
}

static double sessions_over_relay(struct drv *d, double seconds)
{
    struct spair *p = calloc(SESS_PAIRS, sizeof(*p));
    unsigned long n0 = 0, n1 = 0;
    double t0, rate = -1;
    char name[16];
    size_t k, want = d->online + 2u * SESS_PAIRS;

    if (p == NULL) {
        return -1;
    }
    for (k = 0; k < SESS_PAIRS; k++) {
        p[k].a.on_msg = p[k].b.on_msg = sess_on_msg;
        p[k].a.user = p[k].b.user = &p[k];
        snprintf(name, sizeof(name), "n%u", SESS_NAME_BASE + 2u * (unsigned)k);
        if (bc_start(d, &p[k].a, name, 0) != 0) {
            goto out;
        }
        snprintf(name, sizeof(name), "n%u", SESS_NAME_BASE + 2u * (unsigned)k + 1u);
        if (bc_start(d, &p[k].b, name, 1) != 0) {
            goto out;
        }
    }
    t0 = now();
    while (d->online < want && now() - t0 < 30) {
        drv_run_for(d, 0.05);
    }
    if (d->online < want) {
        fprintf(stderr, "error: session clients did not register\n");
        goto out;
    }
    for (k = 0; k < SESS_PAIRS; k++) {
        if (sess_start(&p[k]) != 0) {
            goto out;
        }
    }
    drv_run_for(d, 0.3);
    for (k = 0; k < SESS_PAIRS; k++) {
        n0 += p[k].established;
    }
    t0 = now();
    drv_run_for(d, seconds);
    for (k = 0; k < SESS_PAIRS; k++) {
        n1 += p[k].established;
        if (p[k].failed) {
            fprintf(stderr, "error: a session handshake failed\n");
            goto out;
        }
    }
    rate = (double)(n1 - n0) / (now() - t0);
out:
    for (k = 0; k < SESS_PAIRS; k++) {
        bc_close(&p[k].a);
        bc_close(&p[k].b);
        free(p[k].a.in);
        free(p[k].a.out);
        free(p[k].b.in);
        free(p[k].b.out);
        srm_sess_free(p[k].sa);
        srm_sess_free(p[k].sb);
    }
    free(p);
    return rate;
}

/* The same three messages handed over in memory: the handshake's own cost. */
static double sessions_in_memory(struct drv *d, double seconds)
{
    struct srm_sess *a = NULL, *b = NULL;
    struct srm_sess_event ev;
    uint8_t m1[4096], m2[4096], m3[4096];
    struct srm_buf b1, b2, b3, none;
    unsigned long n = 0;
    double t0 = now(), t, rate = -1;

    do {
        srm_buf_init_write(&b1, m1, sizeof(m1));
        srm_buf_init_write(&b2, m2, sizeof(m2));
        srm_buf_init_write(&b3, m3, sizeof(m3));
        srm_buf_init_write(&none, m1, 0);
        if (srm_sess_new("n0", d->ckey, "n1", d->cpub, &a) != 0 ||
            srm_sess_new("n1", d->ckey, "n0", d->cpub, &b) != 0 || srm_sess_start(a, &b1) != 0 ||
            srm_sess_recv(b, b1.data, b1.len, &b2, &ev) != 0 ||
            srm_sess_recv(a, b2.data, b2.len, &b3, &ev) != 0 ||
            srm_sess_recv(b, b3.data, b3.len, &none, &ev) != 0 ||
            ev.type != SRM_SESS_EV_ESTABLISHED) {
            goto out;
        }
        srm_sess_free(a);
        srm_sess_free(b);
        a = b = NULL;
        n++;
        t = now() - t0;
    } while (t < seconds);
    rate = (double)n / t;
out:
    srm_sess_free(a);
    srm_sess_free(b);
    return rate;
}
