/* SPDX-License-Identifier: MIT */
/*
 * test_wire_flip.c: one bit flipped anywhere in any frame of a recorded
 * conversation is always detected.
 *
 * The conversation is alice's TCP stream to the relay, run in memory with
 * the library's own state machines: registration (client and relay
 * srm_reg), then link frames carrying a session between alice and bob
 * (two srm_sess; bob's side reaches alice as DELIVER), three messages from
 * alice, one from bob, and the acknowledgements.  Every frame of both
 * directions is recorded.
 *
 * Link frames: for each frame and each bit (every bit of frames up to 512
 * bytes, every 7th bit beyond; SRM_WIRE_FLIP_FULL=1 for all), the receiver
 * is rewound to the frame's sequence number (same keys, srm_link_dir_set_seq)
 * and fed the flipped frame followed by the rest of the recorded stream and
 * zero filler (so a flipped length still completes): the first frame it
 * decodes must be refused (by the framing or by the link tag), and no
 * later frame may open either (the receiver's counter never moves, so the
 * stream cannot be resynchronised).
 *
 * Registration frames carry fresh randomness, so a receiver cannot be
 * rewound: each flip runs a new handshake up to that frame and must end it
 * there or at the next step (a flipped HELLO is, by design, answered with
 * an ordinary challenge that the client then refuses).  Each costs three RSA
 * private-key operations, so the bound is: every bit of the header and of
 * the first 32 body bytes, and one bit of every other byte (rotating
 * through the eight positions); SRM_WIRE_FLIP_FULL=1 flips every bit.
 * SRM_TEST_QUICK=1 (set by the valgrind pass) thins both samples.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/frame.h"
#include "srm/link.h"
#include "srm/msg.h"
#include "srm/reg.h"
#include "srm/sess.h"
#include "srm/wire.h"
#include "party_keys.h"

#define MAX_FRAMES       64
#define FRAME_CAP        (SRM_WIRE_FRAME_HDR + 4096u)
#define FULL_BITS_LIMIT  512u
#define SAMPLE_STRIDE    7u
#define REG_FULL_BODY    32u
#define QUICK_STRIDE     61u
#define QUICK_REG_STRIDE 127u

enum dir { C2R = 0, R2C = 1 };

struct rec {
    enum dir dir;
    uint64_t seq; /* link seq of the receiver before this frame; reg frames: unused */
    int is_link;
    uint8_t reg_type;
    uint8_t b[FRAME_CAP];
    size_t n;
};

struct convo {
    struct rec f[MAX_FRAMES];
    size_t nf;
    struct srm_link *client_link; /* alice's end */
    struct srm_link *relay_link;  /* the relay's end of alice's link */
    struct srm_sess *sa, *sb;     /* alice's session with bob, bob's with alice */
    size_t data_seen;             /* DATA events delivered in the live run */
};

static struct tu_keys K;
static struct convo C;

static int setup(void **state);
static int teardown(void **state);
static int lookup(void *arg, const char *name, struct srm_key **pub);
static struct rec *record(enum dir d, int is_link, const uint8_t *p, size_t n);
static int reg_feed(struct srm_reg *r, const uint8_t *p, size_t n, uint8_t *out, size_t cap,
                    size_t *outn);
static void run_registration(void);
static void link_hop(enum dir d, struct srm_link *tx, struct srm_link *rx, const uint8_t *pt,
                     size_t n, uint8_t fr[FRAME_CAP], struct srm_msg *m);
static void c2r_payload(const uint8_t *payload, size_t n);
static void r2c_payload(const uint8_t *payload, size_t n);
static void on_alice_receives(const uint8_t *payload, size_t n);
static void on_bob_receives(const uint8_t *payload, size_t n);
static void run_conversation(void);
static int want_bit(size_t bit, size_t nbits, size_t limit_bytes);
static size_t stream_accepts(struct srm_link_dir *rx, uint64_t seq, uint8_t *s, size_t n);
static void test_link_frames_flipped(void **state);
static int reg_flip_run(uint8_t type, size_t bit);
static void test_reg_frames_flipped(void **state);

/* 2048-bit keys, generated once for the whole file. */
static int setup(void **state)
{
    (void)state;
    if (tu_keys_make(&K, TU_RELAY | TU_ALICE | TU_BOB) != 0) {
        return -1;
    }
    run_conversation();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    srm_link_free(C.client_link);
    srm_link_free(C.relay_link);
    srm_sess_free(C.sa);
    srm_sess_free(C.sb);
    tu_keys_free(&K);
    return 0;
}

static int lookup(void *arg, const char *name, struct srm_key **pub)
{
    (void)arg;
    if (strcmp(name, "alice") != 0) {
        return SRM_ERR_UNKNOWN_USER;
    }
    srm_key_ref(K.alice_pub);
    *pub = K.alice_pub;
    return 0;
}

static struct rec *record(enum dir d, int is_link, const uint8_t *p, size_t n)
{
    struct rec *r;

    assert_true(C.nf < MAX_FRAMES);
    assert_true(n <= FRAME_CAP);
    r = &C.f[C.nf++];
    r->dir = d;
    r->is_link = is_link;
    r->reg_type = n > 4 ? p[4] : 0;
    memcpy(r->b, p, n);
    r->n = n;
    return r;
}

/* Decode one whole frame from p and feed it to r; the reply goes to out. */
static int reg_feed(struct srm_reg *r, const uint8_t *p, size_t n, uint8_t *out, size_t cap,
                    size_t *outn)
{
    struct srm_frame f;
    struct srm_buf b;
    size_t used = 0;
    int rc;

    *outn = 0;
    if ((rc = srm_frame_decode(p, n, &f, &used)) != 0) {
        return rc;
    }
    if (used != n) {
        return SRM_ERR_TRAILING_DATA;
    }
    srm_buf_init_write(&b, out, cap);
    rc = srm_reg_recv(r, &f, &b);
    *outn = b.len;
    return rc;
}

/* 1-3: registration, recorded; both ends take their link. */
static void run_registration(void)
{
    struct srm_reg *client = NULL, *relay = NULL;
    uint8_t hello[FRAME_CAP], chal[FRAME_CAP], resp[FRAME_CAP], none[FRAME_CAP];
    struct srm_buf b;
    size_t n;

    assert_int_equal(srm_reg_new_client("alice", K.alice, K.relay_pub, &client), 0);
    assert_int_equal(srm_reg_new_relay(K.relay, lookup, NULL, &relay), 0);
    srm_buf_init_write(&b, hello, sizeof(hello));
    assert_int_equal(srm_reg_start(client, &b), 0);
    record(C2R, 0, hello, b.len);
    assert_int_equal(reg_feed(relay, hello, b.len, chal, sizeof(chal), &n), 0);
    record(R2C, 0, chal, n);
    assert_int_equal(reg_feed(client, chal, n, resp, sizeof(resp), &n), 0);
    record(C2R, 0, resp, n);
    assert_int_equal(reg_feed(relay, resp, n, none, sizeof(none), &n), 0);
    assert_int_equal(n, 0);
    assert_true(srm_reg_is_done(client) && srm_reg_is_done(relay));
    assert_int_equal(srm_reg_take_link(client, &C.client_link), 0);
    assert_int_equal(srm_reg_take_link(relay, &C.relay_link), 0);
    srm_reg_free(client);
    srm_reg_free(relay);
}

/*
 * One link frame: pt sealed by tx into fr, recorded as crossing the wire in
 * direction d, opened by rx and parsed into m (which points into fr).
 */
static void link_hop(enum dir d, struct srm_link *tx, struct srm_link *rx, const uint8_t *pt,
                     size_t n, uint8_t fr[FRAME_CAP], struct srm_msg *m)
{
    struct srm_buf f;
    struct srm_frame frame;
    struct rec *r;
    const uint8_t *open;
    size_t openlen, used;
    uint64_t seq = srm_link_dir_seq(rx->rx);

    srm_buf_init_write(&f, fr, FRAME_CAP);
    assert_int_equal(srm_link_seal_frame(tx, pt, n, &f), 0);
    r = record(d, 1, f.data, f.len);
    r->seq = seq;
    assert_int_equal(srm_frame_decode(fr, f.len, &frame, &used), 0);
    assert_int_equal(
        srm_link_open_body(rx, fr + SRM_WIRE_FRAME_HDR, frame.body_len, &open, &openlen), 0);
    assert_int_equal(srm_msg_parse(open, openlen, m), 0);
}

/* alice -> relay: SEND(bob, payload) in a link frame; the relay opens it and hands it to bob. */
static void c2r_payload(const uint8_t *payload, size_t n)
{
    static uint8_t pt[SRM_LINK_MAX_PT], fr[FRAME_CAP];
    struct srm_buf b;
    struct srm_msg m;

    srm_buf_init_write(&b, pt, sizeof(pt));
    assert_int_equal(srm_msg_put_send(&b, "bob", 1, payload, n), 0);
    link_hop(C2R, C.client_link, C.relay_link, b.data, b.len, fr, &m);
    assert_int_equal(m.type, SRM_MSG_SEND);
    on_bob_receives(m.data, m.data_len);
}

/* relay -> alice: a link message (DELIVER from bob, WELCOME) in a link frame. */
static void r2c_payload(const uint8_t *pt, size_t n)
{
    static uint8_t fr[FRAME_CAP];
    struct srm_msg m;

    link_hop(R2C, C.relay_link, C.client_link, pt, n, fr, &m);
    if (m.type == SRM_MSG_DELIVER) {
        on_alice_receives(m.data, m.data_len);
    }
}

static void on_alice_receives(const uint8_t *payload, size_t n)
{
    static uint8_t reply[SRM_SESS_MAX_PAYLOAD];
    struct srm_sess_event ev;
    struct srm_buf b;

    srm_buf_init_write(&b, reply, sizeof(reply));
    assert_int_equal(srm_sess_recv(C.sa, payload, n, &b, &ev), 0);
    if (ev.type == SRM_SESS_EV_DATA) {
        C.data_seen++;
        srm_buf_init_write(&b, reply, sizeof(reply));
        assert_int_equal(srm_sess_seal_ack(C.sa, ev.msg_id, &b), 0);
    }
    if (b.len > 0) {
        c2r_payload(b.data, b.len);
    }
}

static void on_bob_receives(const uint8_t *payload, size_t n)
{
    static uint8_t reply[SRM_SESS_MAX_PAYLOAD], dl[SRM_LINK_MAX_PT];
    struct srm_sess_event ev;
    struct srm_buf b, d;

    srm_buf_init_write(&b, reply, sizeof(reply));
    assert_int_equal(srm_sess_recv(C.sb, payload, n, &b, &ev), 0);
    if (ev.type == SRM_SESS_EV_DATA) {
        C.data_seen++;
        srm_buf_init_write(&b, reply, sizeof(reply));
        assert_int_equal(srm_sess_seal_ack(C.sb, ev.msg_id, &b), 0);
    }
    if (b.len > 0) {
        srm_buf_init_write(&d, dl, sizeof(dl));
        assert_int_equal(srm_msg_put_deliver(&d, "bob", b.data, b.len), 0);
        r2c_payload(d.data, d.len);
    }
}

/* The whole conversation, recorded frame by frame. */
static void run_conversation(void)
{
    static uint8_t buf[SRM_SESS_MAX_PAYLOAD], dl[SRM_LINK_MAX_PT];
    static const char *texts[] = {"hello bob", "a second message", "and a third, a bit longer"};
    const char *names[] = {"bob"};
    struct srm_buf b, d;

    memset(&C, 0, sizeof(C));
    run_registration();
    /* 4. relay -> client: WELCOME, the first link frame. */
    srm_buf_init_write(&b, buf, sizeof(buf));
    assert_int_equal(srm_msg_put_list(&b, SRM_MSG_WELCOME, names, 1), 0);
    r2c_payload(b.data, b.len);
    assert_int_equal(srm_sess_new("alice", K.alice, "bob", K.bob_pub, &C.sa), 0);
    assert_int_equal(srm_sess_new("bob", K.bob, "alice", K.alice_pub, &C.sb), 0);
    /* Session handshake: HS_INIT -> HS_RESP -> HS_FIN, each through the link. */
    srm_buf_init_write(&b, buf, sizeof(buf));
    assert_int_equal(srm_sess_start(C.sa, &b), 0);
    c2r_payload(b.data, b.len);
    assert_int_equal(srm_sess_state(C.sa), SRM_SESS_ESTABLISHED);
    assert_int_equal(srm_sess_state(C.sb), SRM_SESS_ESTABLISHED);
    for (uint64_t i = 0; i < 3; i++) {
        srm_buf_init_write(&b, buf, sizeof(buf));
        assert_int_equal(
            srm_sess_seal_data(C.sa, i + 1, (const uint8_t *)texts[i], strlen(texts[i]), &b), 0);
        c2r_payload(b.data, b.len);
    }
    srm_buf_init_write(&b, buf, sizeof(buf));
    assert_int_equal(srm_sess_seal_data(C.sb, 1, (const uint8_t *)"hi alice", 8, &b), 0);
    srm_buf_init_write(&d, dl, sizeof(dl));
    assert_int_equal(srm_msg_put_deliver(&d, "bob", b.data, b.len), 0);
    r2c_payload(d.data, d.len);
    assert_int_equal(C.data_seen, 4);
}

static int full_mode(void)
{
    const char *e = getenv("SRM_WIRE_FLIP_FULL");
    return e != NULL && strcmp(e, "1") == 0;
}

/* SRM_TEST_QUICK=1 (the valgrind pass, some 30 times slower): a thin sample only. */
static int quick_mode(void)
{
    const char *e = getenv("SRM_TEST_QUICK");
    return e != NULL && strcmp(e, "1") == 0;
}

/* Every bit of the first limit_bytes, every SAMPLE_STRIDE-th bit beyond. */
static int want_bit(size_t bit, size_t nbits, size_t limit_bytes)
{
    (void)nbits;
    if (quick_mode()) {
        return bit < 64u || bit % QUICK_STRIDE == 0;
    }
    return full_mode() || bit < limit_bytes * 8u || bit % SAMPLE_STRIDE == 0;
}

/*
 * A receiver at link seq `seq` reads the stream s[0..n) frame by frame as the
 * programs do, stopping at the first error.  Returns the number of frames
 * that opened (0 is what every flip must give).
 */
static size_t stream_accepts(struct srm_link_dir *rx, uint64_t seq, uint8_t *s, size_t n)
{
    struct srm_frame f;
    size_t off = 0, used, accepted = 0;

    srm_link_dir_set_seq(rx, seq);
    while (off < n) {
        if (srm_frame_decode(s + off, n - off, &f, &used) != 0) {
            break; /* refused header, or a frame that never completes */
        }
        if (f.type != SRM_FRAME_LINK) {
            break;
        }
        if (srm_link_dir_open(rx, s + off + SRM_WIRE_FRAME_HDR, f.body_len,
                              s + off + SRM_WIRE_FRAME_HDR) != 0) {
            break;
        }
        accepted++;
        off += used;
    }
    return accepted;
}

static void test_link_frames_flipped(void **state)
{
    size_t filler = SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME;
    size_t total_flips = 0, frames = 0;

    (void)state;
    for (size_t i = 0; i < C.nf; i++) {
        const struct rec *r = &C.f[i];
        struct srm_link_dir *rx = r->dir == C2R ? C.relay_link->rx : C.client_link->rx;
        size_t slen = 0, nbits;
        uint8_t *work, *orig;

        if (!r->is_link) {
            continue;
        }
        frames++;
        /* The rest of this direction's stream, from frame i on. */
        for (size_t j = i; j < C.nf; j++) {
            if (C.f[j].dir == r->dir && C.f[j].is_link) {
                slen += C.f[j].n;
            }
        }
        orig = malloc(slen);
        work = calloc(1, slen + filler);
        assert_non_null(orig);
        assert_non_null(work);
        slen = 0;
        for (size_t j = i; j < C.nf; j++) {
            if (C.f[j].dir == r->dir && C.f[j].is_link) {
                memcpy(orig + slen, C.f[j].b, C.f[j].n);
                slen += C.f[j].n;
            }
        }
        /* Unflipped, the receiver rewound to this frame accepts it and all that follow. */
        memcpy(work, orig, slen);
        assert_true(stream_accepts(rx, r->seq, work, slen) > 0);
        nbits = r->n * 8u;
        for (size_t bit = 0; bit < nbits; bit++) {
            size_t got;

            if (!want_bit(bit, nbits, FULL_BITS_LIMIT)) {
                continue;
            }
            memcpy(work, orig, slen);
            /* The open wipes what it could not authenticate, filler included: re-zero. */
            memset(work + slen, 0, filler);
            work[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
            got = stream_accepts(rx, r->seq, work, slen + filler);
            if (got != 0) {
                fail_msg("frame %zu (link %s seq %llu, %zu bytes): bit %zu flipped, %zu frame(s) "
                         "accepted",
                         i, r->dir == C2R ? "c2r" : "r2c", (unsigned long long)r->seq, r->n, bit,
                         got);
            }
            total_flips++;
        }
        free(orig);
        free(work);
    }
    print_message("link frames: %zu, bit flips: %zu, all refused\n", frames, total_flips);
    assert_true(frames >= 10);
}

/*
 * A fresh handshake in which frame `type` has bit `bit` flipped.  Returns 1
 * if the handshake failed at that frame or the next step, 0 if it completed.
 */
static int reg_flip_run(uint8_t type, size_t bit)
{
    struct srm_reg *client = NULL, *relay = NULL;
    static uint8_t hello[FRAME_CAP], chal[FRAME_CAP], resp[FRAME_CAP], none[FRAME_CAP];
    struct srm_buf b;
    size_t hn, cn, rn, nn;
    int failed = 1;

    assert_int_equal(srm_reg_new_client("alice", K.alice, K.relay_pub, &client), 0);
    assert_int_equal(srm_reg_new_relay(K.relay, lookup, NULL, &relay), 0);
    srm_buf_init_write(&b, hello, sizeof(hello));
    assert_int_equal(srm_reg_start(client, &b), 0);
    hn = b.len;
    if (type == SRM_FRAME_REG_HELLO) {
        hello[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
    }
    if (reg_feed(relay, hello, hn, chal, sizeof(chal), &cn) != 0) {
        goto out;
    }
    if (type == SRM_FRAME_REG_CHALLENGE) {
        chal[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
    }
    if (reg_feed(client, chal, cn, resp, sizeof(resp), &rn) != 0) {
        goto out;
    }
    if (type == SRM_FRAME_REG_RESPONSE) {
        resp[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
    }
    if (reg_feed(relay, resp, rn, none, sizeof(none), &nn) != 0) {
        goto out;
    }
    failed = !(srm_reg_is_done(relay) && srm_reg_is_done(client));
out:
    srm_reg_free(client);
    srm_reg_free(relay);
    return failed;
}

static void test_reg_frames_flipped(void **state)
{
    size_t flips = 0;

    (void)state;
    /* The control: unflipped, the same run completes (bit index past the frame). */
    assert_int_equal(reg_flip_run(0, 0), 0);
    for (size_t i = 0; i < C.nf; i++) {
        const struct rec *r = &C.f[i];
        size_t nbits = r->n * 8u;

        if (r->is_link) {
            continue;
        }
        for (size_t bit = 0; bit < nbits; bit++) {
            size_t byte = bit / 8u;
            int pick =
                full_mode() || byte < SRM_WIRE_FRAME_HDR + REG_FULL_BODY || bit % 8u == byte % 8u;

            if (quick_mode()) {
                pick = bit < (size_t)SRM_WIRE_FRAME_HDR * 8u || bit % QUICK_REG_STRIDE == 0;
            }

            if (!pick) {
                continue;
            }
            if (!reg_flip_run(r->reg_type, bit)) {
                fail_msg("registration frame type 0x%02x: bit %zu flipped, handshake completed",
                         (unsigned)r->reg_type, bit);
            }
            flips++;
        }
    }
    print_message("registration frames: 3, bit flips: %zu, all refused\n", flips);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_frames_flipped),
        cmocka_unit_test(test_reg_frames_flipped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
