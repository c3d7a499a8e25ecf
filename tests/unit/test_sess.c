/* SPDX-License-Identifier: MIT */
/*
 * test_sess.c: the end-to-end session, two state machines pumped against
 * each other in memory: the handshake to the end and records both ways;
 * every handshake message altered (each byte flipped, cut at every length,
 * extended, signed by the wrong key or in the wrong role, naming the wrong
 * user, replayed from another run) refused without keys; simultaneous start;
 * a re-key while established; replayed old HS_INIT; DATA/ACK; tampered,
 * replayed and reordered records ending the session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/sess.h"
#include "srm/wire.h"
#include "party_keys.h"
#include "transcript.h"

#define CAP 2048

struct pl {
    uint8_t b[CAP];
    size_t n;
};

static struct tu_keys K;

/* A pair and the payloads of its handshake. */
struct pair {
    struct srm_sess *a; /* alice, talks to bob */
    struct srm_sess *b; /* bob, talks to alice */
    struct pl init, resp, fin;
};

static int setup_keys(void **state)
{
    (void)state;
    return tu_keys_make(&K, TU_ALICE | TU_BOB | TU_CAROL);
}

static int teardown_keys(void **state)
{
    (void)state;
    tu_keys_free(&K);
    return 0;
}

static void new_pair(struct pair *p)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(srm_sess_new("alice", K.alice, "bob", K.bob_pub, &p->a), 0);
    assert_int_equal(srm_sess_new("bob", K.bob, "alice", K.alice_pub, &p->b), 0);
}

static void free_pair(struct pair *p)
{
    srm_sess_free(p->a);
    srm_sess_free(p->b);
    p->a = NULL;
    p->b = NULL;
}

/* Feed one payload; reply recorded in out (may be NULL to discard). */
static int feed(struct srm_sess *s, const uint8_t *p, size_t n, struct pl *out,
                struct srm_sess_event *ev)
{
    struct pl tmp;
    struct srm_buf b;
    int rc;

    if (out == NULL) {
        out = &tmp;
    }
    srm_buf_init_write(&b, out->b, sizeof(out->b));
    rc = srm_sess_recv(s, p, n, &b, ev);
    out->n = b.len;
    return rc;
}

static void start(struct srm_sess *s, struct pl *out)
{
    struct srm_buf b;

    srm_buf_init_write(&b, out->b, sizeof(out->b));
    assert_int_equal(srm_sess_start(s, &b), 0);
    out->n = b.len;
}

/* Steps: 1 init, 2 resp, 3 fin (initiator established), 4 responder established. */
static void run_to(struct pair *p, int step)
{
    struct srm_sess_event ev;

    new_pair(p);
    start(p->a, &p->init);
    if (step >= 2) {
        assert_int_equal(feed(p->b, p->init.b, p->init.n, &p->resp, &ev), 0);
        assert_int_equal(ev.type, SRM_SESS_EV_NONE);
        assert_true(p->resp.n > 0);
    }
    if (step >= 3) {
        assert_int_equal(feed(p->a, p->resp.b, p->resp.n, &p->fin, &ev), 0);
        assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    }
    if (step >= 4) {
        struct pl none;
        assert_int_equal(feed(p->b, p->fin.b, p->fin.n, &none, &ev), 0);
        assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
        assert_int_equal(none.n, 0);
    }
}

/* from seals DATA(id, text), to must get exactly it; then to ACKs and from gets the ACK. */
static void check_roundtrip(struct srm_sess *from, struct srm_sess *to, uint64_t id,
                            const char *text)
{
    struct pl rec, none;
    struct srm_buf b;
    struct srm_sess_event ev;

    srm_buf_init_write(&b, rec.b, sizeof(rec.b));
    assert_int_equal(srm_sess_seal_data(from, id, (const uint8_t *)text, strlen(text), &b), 0);
    rec.n = b.len;
    assert_int_equal(rec.b[0], SRM_E2E_RECORD);
    assert_int_equal(rec.n, 1 + SRM_RECORD_OVERHEAD + 9 + strlen(text));
    assert_int_equal(feed(to, rec.b, rec.n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_DATA);
    assert_true(ev.msg_id == id);
    assert_int_equal(ev.text_len, strlen(text));
    assert_memory_equal(ev.text, text, strlen(text));
    assert_int_equal(none.n, 0);

    srm_buf_init_write(&b, rec.b, sizeof(rec.b));
    assert_int_equal(srm_sess_seal_ack(to, id, &b), 0);
    rec.n = b.len;
    assert_int_equal(rec.n, 1 + SRM_RECORD_OVERHEAD + 9);
    assert_int_equal(feed(from, rec.b, rec.n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_ACK);
    assert_true(ev.msg_id == id);
}

static void seal(struct srm_sess *s, uint64_t id, const char *text, struct pl *out)
{
    struct srm_buf b;

    srm_buf_init_write(&b, out->b, sizeof(out->b));
    assert_int_equal(srm_sess_seal_data(s, id, (const uint8_t *)text, strlen(text), &b), 0);
    out->n = b.len;
}

static void assert_not_established(struct srm_sess *s)
{
    struct pl out;
    struct srm_buf b;

    assert_int_not_equal(srm_sess_state(s), SRM_SESS_ESTABLISHED);
    srm_buf_init_write(&b, out.b, sizeof(out.b));
    assert_int_equal(srm_sess_seal_ack(s, 1, &b), SRM_ERR_BAD_STATE);
    assert_int_equal(b.len, 0);
    assert_int_equal(srm_sess_holds_handshake_secrets(s), 0);
}

static void test_full_handshake(void **state)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl none;
    uint8_t fp[SRM_HASH_LEN], want[SRM_HASH_LEN];

    (void)state;
    new_pair(&p);
    assert_int_equal(srm_sess_state(p.a), SRM_SESS_IDLE);
    assert_string_equal(srm_sess_state_name(p.a), "idle");
    start(p.a, &p.init);
    assert_int_equal(srm_sess_state(p.a), SRM_SESS_INIT_SENT);
    assert_int_equal(srm_sess_holds_handshake_secrets(p.a), 1);
    assert_int_equal(p.init.n, 2u + 6 + 4 + 32 + 32);
    assert_int_equal(p.init.b[0], SRM_E2E_HS_INIT);
    assert_int_equal(feed(p.b, p.init.b, p.init.n, &p.resp, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_NONE);
    assert_int_equal(srm_sess_state(p.b), SRM_SESS_RESP_SENT);
    assert_int_equal(srm_sess_holds_handshake_secrets(p.b), 0);
    assert_int_equal(p.resp.n, 2u + 32 + 32 + 2 + 256 + 89);
    assert_int_equal(feed(p.a, p.resp.b, p.resp.n, &p.fin, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    assert_int_equal(p.fin.n, 1u + 2 + 256 + 89);
    assert_int_equal(srm_sess_state(p.a), SRM_SESS_ESTABLISHED);
    assert_int_equal(srm_sess_holds_handshake_secrets(p.a), 0);
    assert_int_equal(feed(p.b, p.fin.b, p.fin.n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    assert_int_equal(srm_sess_state(p.b), SRM_SESS_ESTABLISHED);
    assert_int_equal(srm_sess_holds_handshake_secrets(p.b), 0);
    assert_int_equal(srm_sess_is_initiator(p.a), 1);
    assert_int_equal(srm_sess_is_initiator(p.b), 0);
    assert_string_equal(srm_sess_peer(p.a), "bob");
    assert_int_equal(srm_sess_peer_fingerprint(p.a, fp), 0);
    assert_int_equal(srm_key_fingerprint(K.bob, want), 0);
    assert_memory_equal(fp, want, SRM_HASH_LEN);
    check_roundtrip(p.a, p.b, 1, "hello bob");
    check_roundtrip(p.b, p.a, 2, "hi alice");
    check_roundtrip(p.a, p.b, 3, "");
    /* A replayed HS_FIN or HS_RESP fails nothing established. */
    assert_int_equal(feed(p.b, p.fin.b, p.fin.n, &none, &ev), SRM_ERR_UNEXPECTED_MSG);
    assert_int_equal(feed(p.a, p.resp.b, p.resp.n, &none, &ev), SRM_ERR_UNEXPECTED_MSG);
    assert_int_equal(ev.type, SRM_SESS_EV_NONE);
    check_roundtrip(p.a, p.b, 4, "still here");
    free_pair(&p);
}

/* Push an altered HS_INIT through the whole flow: nobody may end with new keys. */
static void init_altered(const uint8_t *m, size_t n)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl resp, fin;
    int rc;

    new_pair(&p);
    start(p.a, &p.init);
    rc = feed(p.b, m, n, &resp, &ev);
    assert_int_not_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    if (rc != 0) {
        assert_int_equal(resp.n, 0);
        assert_not_established(p.b);
        free_pair(&p);
        return;
    }
    /* Undetectable by the responder (nonce, ephemeral): the initiator refuses. */
    assert_int_not_equal(feed(p.a, resp.b, resp.n, &fin, &ev), 0);
    assert_int_not_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    assert_int_equal(fin.n, 0);
    assert_not_established(p.a);
    assert_not_established(p.b);
    free_pair(&p);
}

static void test_init_altered(void **state)
{
    struct pair ref;
    uint8_t m[CAP];
    size_t i;

    (void)state;
    run_to(&ref, 1);
    for (i = 0; i < ref.init.n; i++) {
        memcpy(m, ref.init.b, ref.init.n);
        m[i] ^= (uint8_t)(1u << (i % 8));
        init_altered(m, ref.init.n);
    }
    for (i = 0; i < ref.init.n; i++) {
        init_altered(ref.init.b, i);
    }
    memcpy(m, ref.init.b, ref.init.n);
    m[ref.init.n] = 0;
    init_altered(m, ref.init.n + 1);
    free_pair(&ref);
}

/* HS_RESP altered at position i (flip), or cut to length cut (cut != SIZE_MAX). */
static void resp_altered(size_t i, size_t cut)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl fin;
    size_t n;

    run_to(&p, 2);
    n = p.resp.n;
    if (cut != SIZE_MAX) {
        p.resp.b[n] = 0;
        n = cut;
    } else {
        p.resp.b[i] ^= (uint8_t)(1u << (i % 8));
    }
    assert_int_not_equal(feed(p.a, p.resp.b, n, &fin, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_NONE);
    assert_int_equal(fin.n, 0);
    assert_not_established(p.a);
    assert_int_equal(srm_sess_state(p.a), SRM_SESS_FAILED);
    free_pair(&p);
}

static void test_resp_altered(void **state)
{
    struct pair p;
    size_t i, n;

    (void)state;
    run_to(&p, 2);
    n = p.resp.n;
    free_pair(&p);
    for (i = 0; i < n; i++) {
        resp_altered(i, SIZE_MAX);
    }
    for (i = 0; i <= n + 1; i++) {
        if (i != n) {
            resp_altered(0, i);
        }
    }
}

static void fin_altered(size_t i, size_t cut)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl none;
    size_t n;

    run_to(&p, 3);
    n = p.fin.n;
    if (cut != SIZE_MAX) {
        p.fin.b[n] = 0;
        n = cut;
    } else {
        p.fin.b[i] ^= (uint8_t)(1u << (i % 8));
    }
    assert_int_not_equal(feed(p.b, p.fin.b, n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_NONE);
    assert_int_equal(none.n, 0);
    assert_not_established(p.b);
    free_pair(&p);
}

static void test_fin_altered(void **state)
{
    struct pair p;
    size_t i, n;

    (void)state;
    run_to(&p, 3);
    n = p.fin.n;
    free_pair(&p);
    for (i = 0; i < n; i++) {
        fin_altered(i, SIZE_MAX);
    }
    for (i = 0; i <= n + 1; i++) {
        if (i != n) {
            fin_altered(0, i);
        }
    }
}

/* Rebuild TH from the payloads (the test knows every public value). */
static void recompute_th(const struct pair *p, uint8_t th[SRM_HASH_LEN])
{
    uint8_t fp_i[SRM_HASH_LEN], fp_r[SRM_HASH_LEN];
    const uint8_t *ni = p->init.b + 2 + 6 + 4, *eph_i = ni + 32;
    const uint8_t *nr = p->resp.b + 2, *eph_r = nr + 32;

    assert_int_equal(srm_key_fingerprint(K.alice, fp_i), 0);
    assert_int_equal(srm_key_fingerprint(K.bob, fp_r), 0);
    assert_int_equal(srm_transcript_sess(1, "alice", "bob", fp_i, fp_r, ni, nr, eph_i, eph_r, th),
                     0);
}

static void test_signed_by_wrong_key(void **state)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl out;
    uint8_t th[SRM_HASH_LEN], sig[SRM_RSA_MAX_BYTES];
    size_t siglen = 0;
    const size_t resp_sig = 2 + 32 + 32 + 2, fin_sig = 1 + 2;

    (void)state;
    /* Sanity: the rebuilt TH is what bob signed. */
    run_to(&p, 2);
    recompute_th(&p, th);
    assert_int_equal(
        srm_transcript_verify(K.bob_pub, SRM_SIG_SESS_RESPONDER, th, p.resp.b + resp_sig, 256), 0);
    /* carol signs bob's HS_RESP over the right TH: refused. */
    assert_int_equal(srm_transcript_sign(K.carol, SRM_SIG_SESS_RESPONDER, th, sig, &siglen), 0);
    memcpy(p.resp.b + resp_sig, sig, siglen);
    assert_int_equal(feed(p.a, p.resp.b, p.resp.n, &out, &ev), SRM_ERR_BAD_SIGNATURE);
    assert_not_established(p.a);
    free_pair(&p);
    /* bob's key but the initiator's label. */
    run_to(&p, 2);
    recompute_th(&p, th);
    assert_int_equal(srm_transcript_sign(K.bob, SRM_SIG_SESS_INITIATOR, th, sig, &siglen), 0);
    memcpy(p.resp.b + resp_sig, sig, siglen);
    assert_int_equal(feed(p.a, p.resp.b, p.resp.n, &out, &ev), SRM_ERR_BAD_SIGNATURE);
    free_pair(&p);
    /* carol signs alice's HS_FIN. */
    run_to(&p, 3);
    recompute_th(&p, th);
    assert_int_equal(srm_transcript_sign(K.carol, SRM_SIG_SESS_INITIATOR, th, sig, &siglen), 0);
    memcpy(p.fin.b + fin_sig, sig, siglen);
    assert_int_equal(feed(p.b, p.fin.b, p.fin.n, &out, &ev), SRM_ERR_BAD_SIGNATURE);
    assert_not_established(p.b);
    free_pair(&p);
    /* Reflection: bob's own responder signature sent back as the initiator's. */
    run_to(&p, 3);
    memcpy(p.fin.b + fin_sig, p.resp.b + resp_sig, 256);
    assert_int_equal(feed(p.b, p.fin.b, p.fin.n, &out, &ev), SRM_ERR_BAD_SIGNATURE);
    free_pair(&p);

    /* A whole session run by carol's key as "bob": alice refuses the responder. */
    {
        struct srm_sess *a = NULL, *fake = NULL;
        struct pl init, resp, fin;

        assert_int_equal(srm_sess_new("alice", K.alice, "bob", K.bob_pub, &a), 0);
        assert_int_equal(srm_sess_new("bob", K.carol, "alice", K.alice_pub, &fake), 0);
        start(a, &init);
        assert_int_equal(feed(fake, init.b, init.n, &resp, &ev), 0);
        assert_int_equal(feed(a, resp.b, resp.n, &fin, &ev), SRM_ERR_BAD_SIGNATURE);
        assert_int_equal(fin.n, 0);
        assert_not_established(a);
        srm_sess_free(fake);
        fake = NULL;
        /* And carol's key as "alice" towards bob: bob refuses the initiator. */
        assert_int_equal(srm_sess_new("alice", K.carol, "bob", K.bob_pub, &fake), 0);
        {
            struct srm_sess *b = NULL;
            assert_int_equal(srm_sess_new("bob", K.bob, "alice", K.alice_pub, &b), 0);
            start(fake, &init);
            assert_int_equal(feed(b, init.b, init.n, &resp, &ev), 0);
            /*
             * bob's transcript holds alice's fingerprint, the impostor's holds
             * carol's: they disagree on TH, so even bob's genuine signature
             * fails for the impostor, and bob never hears an HS_FIN.
             */
            assert_int_equal(feed(fake, resp.b, resp.n, &fin, &ev), SRM_ERR_BAD_SIGNATURE);
            assert_int_equal(fin.n, 0);
            assert_int_equal(srm_sess_state(b), SRM_SESS_RESP_SENT);
            srm_sess_free(b);
        }
        srm_sess_free(fake);
        srm_sess_free(a);
    }
}

static void test_wrong_names(void **state)
{
    struct srm_sess *carol = NULL, *b = NULL, *a = NULL;
    struct srm_sess_event ev;
    struct pl init, out;

    (void)state;
    assert_int_equal(srm_sess_new("bob", K.bob, "alice", K.alice_pub, &b), 0);
    /* carol (as initiator) talks to bob: bob expects alice. */
    assert_int_equal(srm_sess_new("carol", K.carol, "bob", K.bob_pub, &carol), 0);
    start(carol, &init);
    assert_int_equal(feed(b, init.b, init.n, &out, &ev), SRM_ERR_WRONG_PEER);
    assert_int_equal(out.n, 0);
    srm_sess_free(carol);
    /* alice's HS_INIT meant for carol, delivered to bob. */
    assert_int_equal(srm_sess_new("alice", K.alice, "carol", K.carol_pub, &a), 0);
    start(a, &init);
    assert_int_equal(feed(b, init.b, init.n, &out, &ev), SRM_ERR_WRONG_PEER);
    assert_not_established(b);
    srm_sess_free(a);
    srm_sess_free(b);
    /* Names are checked at creation. */
    assert_int_equal(srm_sess_new("Bob", K.bob, "alice", K.alice_pub, &b), SRM_ERR_BAD_NAME);
    assert_int_equal(srm_sess_new("bob", K.bob, "bob", K.bob_pub, &b), SRM_ERR_INVALID_ARG);
    assert_null(b);
}

static void test_replay_from_another_run(void **state)
{
    struct pair one, two;
    struct srm_sess_event ev;
    struct pl out;

    (void)state;
    run_to(&one, 4);
    run_to(&two, 2);
    /* Old HS_RESP to a new initiator; old HS_FIN to a new responder. */
    assert_int_not_equal(feed(two.a, one.resp.b, one.resp.n, &out, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_NONE);
    assert_not_established(two.a);
    free_pair(&two);
    run_to(&two, 3);
    assert_int_not_equal(feed(two.b, one.fin.b, one.fin.n, &out, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_NONE);
    assert_not_established(two.b);
    free_pair(&two);
    free_pair(&one);
}

static void test_simultaneous_start(void **state)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl ia, ib, resp, fin, none;
    int order;

    (void)state;
    for (order = 0; order < 2; order++) {
        new_pair(&p);
        start(p.a, &ia);
        start(p.b, &ib);
        if (order == 0) {
            /* alice < bob: alice ignores bob's HS_INIT. */
            assert_int_equal(feed(p.a, ib.b, ib.n, &none, &ev), 0);
            assert_int_equal(ev.type, SRM_SESS_EV_NONE);
            assert_int_equal(none.n, 0);
            assert_int_equal(srm_sess_state(p.a), SRM_SESS_INIT_SENT);
            /* bob drops his own attempt and answers. */
            assert_int_equal(feed(p.b, ia.b, ia.n, &resp, &ev), 0);
        } else {
            assert_int_equal(feed(p.b, ia.b, ia.n, &resp, &ev), 0);
            assert_int_equal(feed(p.a, ib.b, ib.n, &none, &ev), 0);
            assert_int_equal(none.n, 0);
        }
        assert_int_equal(ev.type, SRM_SESS_EV_NONE);
        assert_true(resp.n > 0);
        assert_int_equal(srm_sess_state(p.b), SRM_SESS_RESP_SENT);
        assert_int_equal(srm_sess_holds_handshake_secrets(p.b), 0);
        assert_int_equal(feed(p.a, resp.b, resp.n, &fin, &ev), 0);
        assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
        assert_int_equal(feed(p.b, fin.b, fin.n, &none, &ev), 0);
        assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
        assert_int_equal(srm_sess_is_initiator(p.a), 1);
        assert_int_equal(srm_sess_is_initiator(p.b), 0);
        check_roundtrip(p.a, p.b, 7, "one session");
        check_roundtrip(p.b, p.a, 8, "matching keys");
        free_pair(&p);
    }
}

static void test_rekey_keeps_old_keys(void **state)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl init2, resp2, fin2, r1, r2, r3, none;

    (void)state;
    run_to(&p, 4);
    check_roundtrip(p.a, p.b, 1, "before");
    /* alice starts a re-key; the session stays established. */
    start(p.a, &init2);
    assert_int_equal(srm_sess_state(p.a), SRM_SESS_ESTABLISHED);
    assert_int_equal(srm_sess_holds_handshake_secrets(p.a), 1);
    check_roundtrip(p.a, p.b, 2, "during, old keys");
    assert_int_equal(feed(p.b, init2.b, init2.n, &resp2, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_NONE);
    assert_int_equal(srm_sess_state(p.b), SRM_SESS_ESTABLISHED);
    check_roundtrip(p.b, p.a, 3, "still old keys");
    /* bob sends under the old keys while HS_RESP is in flight. */
    seal(p.b, 4, "in flight", &r1);
    assert_int_equal(feed(p.a, resp2.b, resp2.n, &fin2, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    assert_int_equal(srm_sess_holds_handshake_secrets(p.a), 0);
    /* alice has the new keys and still opens bob's in-flight record. */
    assert_int_equal(feed(p.a, r1.b, r1.n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_DATA);
    seal(p.b, 5, "old again", &r2);
    assert_int_equal(feed(p.a, r2.b, r2.n, &none, &ev), 0);
    /* alice's next record is under the new keys, after HS_FIN. */
    seal(p.a, 6, "new keys", &r3);
    assert_int_equal(feed(p.b, fin2.b, fin2.n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    assert_int_equal(feed(p.b, r3.b, r3.n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_DATA);
    assert_true(ev.msg_id == 6);
    check_roundtrip(p.b, p.a, 7, "after, new keys");
    check_roundtrip(p.a, p.b, 8, "after, new keys");
    /* Once bob uses the new keys, an old-key record replayed is refused and ends the session. */
    assert_int_not_equal(feed(p.a, r2.b, r2.n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_NONE);
    assert_int_equal(srm_sess_state(p.a), SRM_SESS_FAILED);
    free_pair(&p);
}

static void test_replayed_old_init_harmless(void **state)
{
    struct pair old, p;
    struct srm_sess_event ev;
    struct pl resp, out;

    (void)state;
    run_to(&old, 4);
    run_to(&p, 4);
    /* Both an HS_INIT from an old run and the current one replayed. */
    assert_int_equal(feed(p.b, old.init.b, old.init.n, &resp, &ev), 0);
    assert_int_equal(srm_sess_state(p.b), SRM_SESS_ESTABLISHED);
    check_roundtrip(p.a, p.b, 1, "not broken");
    check_roundtrip(p.b, p.a, 2, "not broken");
    /* Its HS_RESP reaches alice, who has no pending handshake: error, session intact. */
    assert_int_equal(feed(p.a, resp.b, resp.n, &out, &ev), SRM_ERR_UNEXPECTED_MSG);
    assert_int_equal(srm_sess_state(p.a), SRM_SESS_ESTABLISHED);
    assert_int_equal(feed(p.b, p.init.b, p.init.n, &resp, &ev), 0);
    check_roundtrip(p.a, p.b, 3, "still fine");
    check_roundtrip(p.b, p.a, 4, "still fine");
    /* A garbage handshake message while established fails nothing either. */
    assert_int_not_equal(feed(p.b, (const uint8_t *)"\x01\x01", 2, &out, &ev), 0);
    assert_int_not_equal(feed(p.b, (const uint8_t *)"\x07", 1, &out, &ev), 0);
    assert_int_not_equal(feed(p.b, NULL, 0, &out, &ev), 0);
    check_roundtrip(p.a, p.b, 5, "still fine");
    free_pair(&p);
    free_pair(&old);
}

static void test_record_failures_end_session(void **state)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl r1, r2, none;
    size_t i;

    (void)state;
    /* Tampered at every byte. */
    run_to(&p, 4);
    seal(p.a, 1, "x", &r1);
    free_pair(&p);
    for (i = 1; i < r1.n; i++) {
        run_to(&p, 4);
        seal(p.a, 1, "tamper me", &r1);
        r1.b[i] ^= (uint8_t)(1u << (i % 8));
        assert_int_not_equal(feed(p.b, r1.b, r1.n, &none, &ev), 0);
        assert_int_equal(ev.type, SRM_SESS_EV_NONE);
        assert_int_equal(srm_sess_state(p.b), SRM_SESS_FAILED);
        assert_not_established(p.b);
        free_pair(&p);
    }
    /* Truncated at every length. */
    run_to(&p, 4);
    seal(p.a, 1, "cut me", &r1);
    free_pair(&p);
    for (i = 1; i < r1.n; i++) {
        run_to(&p, 4);
        seal(p.a, 1, "cut me", &r1);
        assert_int_not_equal(feed(p.b, r1.b, i, &none, &ev), 0);
        assert_int_equal(srm_sess_state(p.b), SRM_SESS_FAILED);
        free_pair(&p);
    }
    /* Replayed. */
    run_to(&p, 4);
    seal(p.a, 1, "once", &r1);
    assert_int_equal(feed(p.b, r1.b, r1.n, &none, &ev), 0);
    assert_int_equal(feed(p.b, r1.b, r1.n, &none, &ev), SRM_ERR_REPLAY);
    assert_int_equal(srm_sess_state(p.b), SRM_SESS_FAILED);
    free_pair(&p);
    /* Reordered. */
    run_to(&p, 4);
    seal(p.a, 1, "first", &r1);
    seal(p.a, 2, "second", &r2);
    assert_int_equal(feed(p.b, r2.b, r2.n, &none, &ev), SRM_ERR_REPLAY);
    assert_int_equal(srm_sess_state(p.b), SRM_SESS_FAILED);
    assert_int_not_equal(feed(p.b, r1.b, r1.n, &none, &ev), 0);
    free_pair(&p);
    /* A record before any keys. */
    run_to(&p, 4);
    seal(p.a, 1, "early", &r1);
    {
        struct srm_sess *c = NULL;
        assert_int_equal(srm_sess_new("bob", K.bob, "alice", K.alice_pub, &c), 0);
        uint8_t init[1024];
        struct srm_buf w;

        /* Dropped unread: it leaves the session as it was (PROTOCOL.md 6.4)... */
        assert_int_equal(feed(c, r1.b, r1.n, &none, &ev), SRM_ERR_UNEXPECTED_MSG);
        assert_int_equal(srm_sess_state(c), SRM_SESS_IDLE);
        assert_int_equal(ev.type, SRM_SESS_EV_NONE);
        /* ...and does not end a handshake in flight. */
        srm_buf_init_write(&w, init, sizeof(init));
        assert_int_equal(srm_sess_start(c, &w), 0);
        assert_int_equal(feed(c, r1.b, r1.n, &none, &ev), SRM_ERR_UNEXPECTED_MSG);
        assert_int_equal(srm_sess_state(c), SRM_SESS_INIT_SENT);
        assert_int_equal(srm_sess_holds_handshake_secrets(c), 1);
        srm_sess_free(c);
    }
    /* An unknown payload kind is no record: it fails nothing established. */
    assert_int_equal(feed(p.b, r1.b + 1, 3, &none, &ev), SRM_ERR_UNKNOWN_TYPE);
    assert_int_equal(srm_sess_state(p.b), SRM_SESS_ESTABLISHED);
    free_pair(&p);
}

static void test_restart_after_failure(void **state)
{
    struct pair p;
    struct srm_sess_event ev;
    struct pl r1, none, init, resp, fin;

    (void)state;
    run_to(&p, 4);
    seal(p.a, 1, "x", &r1);
    r1.b[r1.n - 1] ^= 1;
    assert_int_equal(feed(p.b, r1.b, r1.n, &none, &ev), SRM_ERR_BAD_MAC);
    assert_int_equal(srm_sess_state(p.b), SRM_SESS_FAILED);
    /* bob starts afresh; alice (established) answers as responder. */
    start(p.b, &init);
    assert_int_equal(feed(p.a, init.b, init.n, &resp, &ev), 0);
    assert_int_equal(feed(p.b, resp.b, resp.n, &fin, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    assert_int_equal(feed(p.a, fin.b, fin.n, &none, &ev), 0);
    assert_int_equal(ev.type, SRM_SESS_EV_ESTABLISHED);
    check_roundtrip(p.a, p.b, 2, "again");
    check_roundtrip(p.b, p.a, 3, "again");
    free_pair(&p);
}

static void test_seal_limits(void **state)
{
    struct pair p;
    struct srm_sess_event ev;
    uint8_t *big = NULL, *out = NULL;
    struct srm_buf b;
    struct pl small;
    size_t cap = SRM_SESS_MAX_PAYLOAD;

    (void)state;
    run_to(&p, 4);
    big = calloc(1, SRM_INNER_MAX_TEXT + 1);
    out = malloc(cap);
    assert_non_null(big);
    assert_non_null(out);
    memset(big, 'a', SRM_INNER_MAX_TEXT + 1);
    srm_buf_init_write(&b, out, cap);
    assert_int_equal(srm_sess_seal_data(p.a, 9, big, SRM_INNER_MAX_TEXT + 1, &b),
                     SRM_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    assert_int_equal(srm_sess_seal_data(p.a, 9, big, SRM_INNER_MAX_TEXT, &b), 0);
    assert_int_equal(b.len, cap);
    {
        struct srm_buf reply;
        srm_buf_init_write(&reply, small.b, sizeof(small.b));
        assert_int_equal(srm_sess_recv(p.b, out, b.len, &reply, &ev), 0);
        assert_int_equal(ev.type, SRM_SESS_EV_DATA);
        assert_int_equal(ev.text_len, SRM_INNER_MAX_TEXT);
        assert_memory_equal(ev.text, big, SRM_INNER_MAX_TEXT);
    }
    /* Too small an output buffer: nothing written, the sequence number unchanged. */
    srm_buf_init_write(&b, small.b, 20);
    assert_int_equal(srm_sess_seal_ack(p.a, 1, &b), SRM_ERR_NO_SPACE);
    assert_int_equal(b.len, 0);
    check_roundtrip(p.a, p.b, 10, "seq unchanged");
    free(big);
    free(out);
    free_pair(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_handshake),
        cmocka_unit_test(test_init_altered),
        cmocka_unit_test(test_resp_altered),
        cmocka_unit_test(test_fin_altered),
        cmocka_unit_test(test_signed_by_wrong_key),
        cmocka_unit_test(test_wrong_names),
        cmocka_unit_test(test_replay_from_another_run),
        cmocka_unit_test(test_simultaneous_start),
        cmocka_unit_test(test_rekey_keeps_old_keys),
        cmocka_unit_test(test_replayed_old_init_harmless),
        cmocka_unit_test(test_record_failures_end_session),
        cmocka_unit_test(test_restart_after_failure),
        cmocka_unit_test(test_seal_limits),
    };

    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
