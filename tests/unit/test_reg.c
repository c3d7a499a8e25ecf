/* SPDX-License-Identifier: MIT */
/*
 * test_reg.c: the registration handshake, client and relay state machines
 * pumped against each other in memory (frames through srm_frame_decode), and
 * every way of altering a handshake message: each byte flipped, the body cut
 * at every length or extended, signatures by the wrong key or in the wrong
 * role, wrong and unknown names, replays from another run, OAEP garbage (no
 * oracle: same outputs as any other failure), and the wiping of secrets.
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
#include "srm/frame.h"
#include "srm/link.h"
#include "srm/reg.h"
#include "srm/wire.h"
#include "party_keys.h"
#include "transcript.h"

#define OUT_CAP          8192
#define LINK_CONFIRM_LEN 49u

/* One recorded frame. */
struct frm {
    uint8_t b[OUT_CAP];
    size_t n;
};

/* A handshake run: both machines and the three frames as sent. */
struct run {
    struct srm_reg *client;
    struct srm_reg *relay;
    struct frm hello, chal, resp;
    struct frm relay_out; /* what the relay appended to its last recv */
};

static struct tu_keys K;

static int setup_keys(void **state)
{
    (void)state;
    return tu_keys_make(&K, TU_RELAY | TU_ALICE | TU_BOB);
}

static int teardown_keys(void **state)
{
    (void)state;
    tu_keys_free(&K);
    return 0;
}

/* The relay's key directory: alice and bob are known, nobody else. */
static int lookup(void *arg, const char *name, struct srm_key **pub)
{
    (void)arg;
    if (strcmp(name, "alice") == 0) {
        *pub = K.alice_pub;
    } else if (strcmp(name, "bob") == 0) {
        *pub = K.bob_pub;
    } else {
        return SRM_ERR_UNKNOWN_USER;
    }
    srm_key_ref(*pub);
    return 0;
}

/* Decode exactly one whole frame from bytes and feed it; output recorded. */
static int feed(struct srm_reg *r, const uint8_t *p, size_t n, struct frm *out)
{
    struct srm_frame f;
    struct srm_buf b;
    size_t used = 0;
    int rc;

    out->n = 0;
    if ((rc = srm_frame_decode(p, n, &f, &used)) != 0) {
        return rc;
    }
    srm_buf_init_write(&b, out->b, sizeof(out->b));
    rc = srm_reg_recv(r, &f, &b);
    out->n = b.len;
    return rc;
}

/* Re-frame a body with a type (for truncated or extended bodies). */
static void reframe(struct frm *dst, uint8_t type, const uint8_t *body, size_t n)
{
    struct srm_buf b;

    srm_buf_init_write(&b, dst->b, sizeof(dst->b));
    assert_int_equal(srm_frame_encode(&b, type, body, n), 0);
    dst->n = b.len;
}

static void new_pair(struct run *r, const char *name, struct srm_key *client_key,
                     struct srm_key *pinned_relay, struct srm_key *relay_key)
{
    memset(r, 0, sizeof(*r));
    assert_int_equal(srm_reg_new_client(name, client_key, pinned_relay, &r->client), 0);
    assert_int_equal(srm_reg_new_relay(relay_key, lookup, NULL, &r->relay), 0);
}

static void free_run(struct run *r)
{
    srm_reg_free(r->client);
    srm_reg_free(r->relay);
    r->client = NULL;
    r->relay = NULL;
}

/* 1. client: hello.  Returns the client's rc. */
static void do_hello(struct run *r)
{
    struct srm_buf b;

    srm_buf_init_write(&b, r->hello.b, sizeof(r->hello.b));
    assert_int_equal(srm_reg_start(r->client, &b), 0);
    r->hello.n = b.len;
}

/* Run the standard flow up to (and including) the step given: 1 hello, 2 challenge, 3 response, 4
 * relay checks. */
static void run_to(struct run *r, int step)
{
    new_pair(r, "alice", K.alice, K.relay_pub, K.relay);
    do_hello(r);
    if (step >= 2) {
        assert_int_equal(feed(r->relay, r->hello.b, r->hello.n, &r->chal), 0);
        assert_true(r->chal.n > 0);
    }
    if (step >= 3) {
        assert_int_equal(feed(r->client, r->chal.b, r->chal.n, &r->resp), 0);
        assert_true(r->resp.n > 0);
    }
    if (step >= 4) {
        assert_int_equal(feed(r->relay, r->resp.b, r->resp.n, &r->relay_out), 0);
        assert_int_equal(r->relay_out.n, 0);
    }
}

/* The one REG_ERROR frame every relay failure produces. */
static const uint8_t REG_ERROR_FRAME[] = {0, 0, 0, 2, SRM_FRAME_REG_ERROR, 0};

static void assert_reg_error(const struct frm *out)
{
    assert_int_equal(out->n, sizeof(REG_ERROR_FRAME));
    assert_memory_equal(out->b, REG_ERROR_FRAME, sizeof(REG_ERROR_FRAME));
}

static void assert_no_keys(struct srm_reg *r)
{
    struct srm_link *l = NULL;

    assert_int_equal(srm_reg_is_done(r), 0);
    assert_int_not_equal(srm_reg_take_link(r, &l), 0);
    assert_null(l);
    assert_int_equal(srm_reg_holds_handshake_secrets(r), 0);
}

/* Both links agree: a link record each way, with the sequence numbers of PROTOCOL.md. */
static void check_links_agree(struct srm_reg *client, struct srm_reg *relay)
{
    struct srm_link *lc = NULL, *lr = NULL;
    uint8_t mem[256];
    struct srm_buf b;
    struct srm_frame f;
    size_t used;
    const uint8_t *pt;
    size_t ptlen;

    assert_int_equal(srm_reg_take_link(client, &lc), 0);
    assert_int_equal(srm_reg_take_link(relay, &lr), 0);
    /* Only once. */
    {
        struct srm_link *again = NULL;
        assert_int_equal(srm_reg_take_link(client, &again), SRM_ERR_BAD_STATE);
    }
    /* The confirm records used seq 0 in each direction. */
    assert_int_equal(srm_link_dir_seq(lc->tx), 1);
    assert_int_equal(srm_link_dir_seq(lc->rx), 1);
    assert_int_equal(srm_link_dir_seq(lr->tx), 1);
    assert_int_equal(srm_link_dir_seq(lr->rx), 1);

    /* 4. relay -> client: WELCOME-like record r2c seq 1. */
    srm_buf_init_write(&b, mem, sizeof(mem));
    assert_int_equal(srm_link_seal_frame(lr, (const uint8_t *)"\x02welcome", 8, &b), 0);
    assert_int_equal(srm_frame_decode(mem, b.len, &f, &used), 0);
    assert_int_equal(f.type, SRM_FRAME_LINK);
    assert_int_equal(srm_link_open_body(lc, (uint8_t *)f.body, f.body_len, &pt, &ptlen), 0);
    assert_int_equal(ptlen, 8);
    assert_memory_equal(pt, "\x02welcome", 8);

    srm_buf_init_write(&b, mem, sizeof(mem));
    assert_int_equal(srm_link_seal_frame(lc, (const uint8_t *)"\x06", 1, &b), 0);
    assert_int_equal(srm_frame_decode(mem, b.len, &f, &used), 0);
    assert_int_equal(srm_link_open_body(lr, (uint8_t *)f.body, f.body_len, &pt, &ptlen), 0);
    assert_int_equal(ptlen, 1);
    assert_int_equal(pt[0], 0x06);
    srm_link_free(lc);
    srm_link_free(lr);
}

static void test_full_handshake(void **state)
{
    struct run r;
    uint8_t fp[SRM_HASH_LEN];

    (void)state;
    new_pair(&r, "alice", K.alice, K.relay_pub, K.relay);
    assert_int_equal(srm_reg_holds_handshake_secrets(r.client), 0);
    do_hello(&r);
    assert_int_equal(r.hello.b[4], SRM_FRAME_REG_HELLO);
    /* The client holds its ephemeral and Nc until the challenge. */
    assert_int_equal(srm_reg_holds_handshake_secrets(r.client), 1);
    assert_int_equal(feed(r.relay, r.hello.b, r.hello.n, &r.chal), 0);
    assert_int_equal(r.chal.b[4], SRM_FRAME_REG_CHALLENGE);
    /* The relay installed its keys at once: nothing of the handshake left. */
    assert_int_equal(srm_reg_holds_handshake_secrets(r.relay), 0);
    assert_int_equal(srm_reg_is_done(r.relay), 0);
    assert_int_equal(feed(r.client, r.chal.b, r.chal.n, &r.resp), 0);
    assert_int_equal(r.resp.b[4], SRM_FRAME_REG_RESPONSE);
    assert_int_equal(srm_reg_holds_handshake_secrets(r.client), 0);
    assert_int_equal(srm_reg_is_done(r.client), 1);
    assert_int_equal(feed(r.relay, r.resp.b, r.resp.n, &r.relay_out), 0);
    assert_int_equal(r.relay_out.n, 0);
    assert_int_equal(srm_reg_is_done(r.relay), 1);
    assert_string_equal(srm_reg_name(r.relay), "alice");
    assert_string_equal(srm_reg_state_name(r.relay), "done");
    assert_int_equal(srm_key_fingerprint(K.alice, fp), 0);
    assert_memory_equal(srm_reg_peer_fingerprint(r.relay), fp, SRM_HASH_LEN);
    assert_int_equal(srm_key_fingerprint(K.relay, fp), 0);
    assert_memory_equal(srm_reg_peer_fingerprint(r.client), fp, SRM_HASH_LEN);
    /* Message sizes of PROTOCOL.md with 2048-bit keys. */
    assert_int_equal(r.hello.n, 5u + 1 + 1 + 5 + 32 + 2 + 256);
    assert_int_equal(r.chal.n, 5u + 1 + 32 + 2 + 256 + 2 + 256 + 49);
    assert_int_equal(r.resp.n, 5u + 2 + 256 + 49);
    check_links_agree(r.client, r.relay);
    assert_int_equal(srm_reg_is_done(r.relay), 1);
    assert_int_equal(srm_reg_is_done(r.client), 1);
    assert_int_equal(srm_reg_holds_handshake_secrets(r.relay), 0);
    /* Done machines accept nothing more. */
    assert_int_equal(feed(r.relay, r.resp.b, r.resp.n, &r.relay_out), SRM_ERR_BAD_STATE);
    free_run(&r);
}

/* A relay handshake fed an altered HELLO must never end with keys on either side. */
static void hello_altered(const struct frm *bad)
{
    struct run r;
    struct frm resp, rout;
    int rc;

    new_pair(&r, "alice", K.alice, K.relay_pub, K.relay);
    do_hello(&r);
    rc = feed(r.relay, bad->b, bad->n, &r.chal);
    if (rc != 0) {
        if (rc != SRM_ERR_MSG_INCOMPLETE && rc != SRM_ERR_TOO_LARGE && rc != SRM_ERR_BAD_FRAME &&
            rc != SRM_ERR_UNKNOWN_TYPE) {
            /* The state machine saw it and refused: exactly the generic error. */
            assert_reg_error(&r.chal);
        }
        assert_no_keys(r.relay);
        free_run(&r);
        return;
    }
    /* Not detectable by the relay (nonce or ephemeral): the client must refuse. */
    rc = feed(r.client, r.chal.b, r.chal.n, &resp);
    assert_int_not_equal(rc, 0);
    assert_int_equal(resp.n, 0);
    assert_no_keys(r.client);
    /* Whatever an attacker sends next, the relay refuses. */
    assert_int_not_equal(feed(r.relay, r.resp.b, r.resp.n, &rout), 0);
    free_run(&r);
    (void)rout;
}

static void test_hello_every_byte_flipped(void **state)
{
    struct run ref;
    struct frm bad;
    size_t i;

    (void)state;
    run_to(&ref, 1);
    for (i = 0; i < ref.hello.n; i++) {
        bad = ref.hello;
        bad.b[i] ^= 0x01;
        hello_altered(&bad);
        bad.b[i] ^= 0x81;
        hello_altered(&bad);
    }
    free_run(&ref);
}

static void test_hello_truncated_and_extended(void **state)
{
    struct run ref;
    struct frm bad;
    size_t i, body = 0;

    (void)state;
    run_to(&ref, 1);
    body = ref.hello.n - SRM_WIRE_FRAME_HDR;
    for (i = 0; i < body; i++) {
        reframe(&bad, SRM_FRAME_REG_HELLO, ref.hello.b + SRM_WIRE_FRAME_HDR, i);
        hello_altered(&bad);
    }
    /* Cut frames (not re-framed) never decode. */
    for (i = 0; i < ref.hello.n; i++) {
        struct srm_frame f;
        size_t used;
        assert_int_not_equal(srm_frame_decode(ref.hello.b, i, &f, &used), 0);
    }
    bad = ref.hello;
    bad.b[bad.n] = 0;
    reframe(&bad, SRM_FRAME_REG_HELLO, bad.b + SRM_WIRE_FRAME_HDR, body + 1);
    hello_altered(&bad);
    free_run(&ref);
}

/* A client fed an altered CHALLENGE: error, no keys, no RESPONSE. */
static void chal_altered(const struct frm *bad)
{
    struct run r;
    struct frm out;
    int rc;

    run_to(&r, 2);
    rc = feed(r.client, bad->b, bad->n, &out);
    assert_int_not_equal(rc, 0);
    assert_int_equal(out.n, 0);
    assert_no_keys(r.client);
    free_run(&r);
}

/*
 * The challenge is tied to the client's fresh nonce and ephemeral, so each
 * altered copy must be fed to the very client it was made for: each case
 * runs its own handshake and alters position i of that run's challenge.
 */
static void test_challenge_every_byte_flipped(void **state)
{
    struct run r;
    struct frm out;
    size_t i, n;
    int rc;

    (void)state;
    run_to(&r, 2);
    n = r.chal.n;
    free_run(&r);
    for (i = 0; i < n; i++) {
        run_to(&r, 2);
        r.chal.b[i] ^= (uint8_t)(1u << (i % 8));
        rc = feed(r.client, r.chal.b, r.chal.n, &out);
        assert_int_not_equal(rc, 0);
        assert_int_equal(out.n, 0);
        if (i < SRM_WIRE_FRAME_HDR && rc != SRM_ERR_UNEXPECTED_MSG && rc != SRM_ERR_MALFORMED &&
            rc != SRM_ERR_TRAILING_DATA) {
            /* A broken frame header never reaches the client's state machine. */
            assert_int_equal(srm_reg_is_done(r.client), 0);
            free_run(&r);
            continue;
        }
        assert_no_keys(r.client);
        /* Sticky: even the genuine challenge is now refused. */
        r.chal.b[i] ^= (uint8_t)(1u << (i % 8));
        assert_int_equal(feed(r.client, r.chal.b, r.chal.n, &out), SRM_ERR_BAD_STATE);
        free_run(&r);
    }
}

static void test_challenge_truncated_and_extended(void **state)
{
    struct run r;
    struct frm bad;
    size_t i, body;

    (void)state;
    run_to(&r, 2);
    body = r.chal.n - SRM_WIRE_FRAME_HDR;
    free_run(&r);
    for (i = 0; i <= body + 1; i++) {
        if (i == body) {
            continue;
        }
        run_to(&r, 2);
        r.chal.b[r.chal.n] = 0x00; /* the extension byte */
        reframe(&bad, SRM_FRAME_REG_CHALLENGE, r.chal.b + SRM_WIRE_FRAME_HDR, i);
        chal_altered(&bad);
        assert_int_not_equal(feed(r.client, bad.b, bad.n, &r.resp), 0);
        assert_no_keys(r.client);
        free_run(&r);
    }
}

/* The relay fed an altered RESPONSE: error, REG_ERROR, no keys. */
static void test_response_every_byte_flipped(void **state)
{
    struct run r;
    struct frm out;
    size_t i, n;

    (void)state;
    run_to(&r, 3);
    n = r.resp.n;
    free_run(&r);
    for (i = 0; i < n; i++) {
        run_to(&r, 3);
        r.resp.b[i] ^= (uint8_t)(1u << (i % 8));
        {
            int rc = feed(r.relay, r.resp.b, r.resp.n, &out);
            assert_int_not_equal(rc, 0);
            if (i >= SRM_WIRE_FRAME_HDR) {
                /* Header intact: decoded, refused by the relay with the generic error. */
                assert_reg_error(&out);
            }
            if (rc == SRM_ERR_MSG_INCOMPLETE || rc == SRM_ERR_TOO_LARGE) {
                /* A cut frame is the caller's business; nothing reached the relay. */
                assert_int_equal(srm_reg_is_done(r.relay), 0);
            } else {
                assert_no_keys(r.relay);
            }
        }
        free_run(&r);
    }
}

static void test_response_truncated_and_extended(void **state)
{
    struct run r;
    struct frm bad, out;
    size_t i, body;

    (void)state;
    run_to(&r, 3);
    body = r.resp.n - SRM_WIRE_FRAME_HDR;
    free_run(&r);
    for (i = 0; i <= body + 1; i++) {
        if (i == body) {
            continue;
        }
        run_to(&r, 3);
        r.resp.b[r.resp.n] = 0x00;
        reframe(&bad, SRM_FRAME_REG_RESPONSE, r.resp.b + SRM_WIRE_FRAME_HDR, i);
        assert_int_not_equal(feed(r.relay, bad.b, bad.n, &out), 0);
        assert_reg_error(&out);
        assert_no_keys(r.relay);
        free_run(&r);
    }
}

/*
 * Rebuild TH as an observer holding both private keys would, to forge
 * messages that are perfect except for who signed them.
 */
static void recompute_th(const struct run *r, uint8_t th[SRM_HASH_LEN])
{
    struct srm_buf b;
    const uint8_t *p, *eph_c, *eph_r;
    size_t n, len;
    uint8_t v, nc[SRM_RSA_MAX_BYTES], nr[SRM_RSA_MAX_BYTES];
    uint8_t fp_c[SRM_HASH_LEN], fp_r[SRM_HASH_LEN];
    char name[SRM_WIRE_MAX_NAME + 1];

    srm_buf_init_read(&b, r->hello.b + SRM_WIRE_FRAME_HDR, r->hello.n - SRM_WIRE_FRAME_HDR);
    assert_int_equal(srm_buf_get_u8(&b, &v), 0);
    assert_int_equal(srm_buf_get_name(&b, name), 0);
    assert_int_equal(srm_buf_get_view(&b, 32, &eph_c), 0);
    assert_int_equal(srm_buf_get_string16(&b, 1024, &p, &n), 0);
    assert_int_equal(srm_oaep_decrypt(K.relay, p, n, nc, sizeof(nc), &len), 0);
    assert_int_equal(len, 32);
    srm_buf_init_read(&b, r->chal.b + SRM_WIRE_FRAME_HDR, r->chal.n - SRM_WIRE_FRAME_HDR);
    assert_int_equal(srm_buf_get_u8(&b, &v), 0);
    assert_int_equal(srm_buf_get_view(&b, 32, &eph_r), 0);
    assert_int_equal(srm_buf_get_string16(&b, 1024, &p, &n), 0);
    assert_int_equal(srm_oaep_decrypt(K.alice, p, n, nr, sizeof(nr), &len), 0);
    assert_int_equal(len, 32);
    assert_int_equal(srm_key_fingerprint(K.alice, fp_c), 0);
    assert_int_equal(srm_key_fingerprint(K.relay, fp_r), 0);
    assert_int_equal(srm_transcript_reg(1, name, fp_c, fp_r, nc, nr, eph_c, eph_r, th), 0);
}

/* Replace the string16 signature at body offset off of frame f with sig. */
static void replace_sig(struct frm *f, size_t off, const uint8_t *sig, size_t siglen)
{
    /* Same key size, so the length prefix and layout are unchanged. */
    size_t at = SRM_WIRE_FRAME_HDR + off;
    assert_int_equal(f->b[at] * 256 + f->b[at + 1], siglen);
    memcpy(f->b + at + 2, sig, siglen);
}

static void test_signed_by_wrong_key(void **state)
{
    struct run r;
    uint8_t th[SRM_HASH_LEN], sig[SRM_RSA_MAX_BYTES];
    size_t siglen = 0;
    struct frm out;
    size_t chal_sig_off = 1 + 32 + 2 + 256;

    (void)state;
    /* The check itself: the TH we rebuild is the one the relay signed. */
    run_to(&r, 2);
    recompute_th(&r, th);
    {
        struct srm_buf b;
        const uint8_t *p;
        size_t n;
        srm_buf_init_read(&b, r.chal.b + SRM_WIRE_FRAME_HDR + chal_sig_off,
                          r.chal.n - SRM_WIRE_FRAME_HDR - chal_sig_off);
        assert_int_equal(srm_buf_get_string16(&b, 1024, &p, &n), 0);
        assert_int_equal(srm_transcript_verify(K.relay_pub, SRM_SIG_REG_RELAY, th, p, n), 0);
    }
    /* Challenge signed by bob's key over the right TH: not the pinned relay. */
    assert_int_equal(srm_transcript_sign(K.bob, SRM_SIG_REG_RELAY, th, sig, &siglen), 0);
    replace_sig(&r.chal, chal_sig_off, sig, siglen);
    assert_int_equal(feed(r.client, r.chal.b, r.chal.n, &out), SRM_ERR_KEY_MISMATCH);
    assert_no_keys(r.client);
    free_run(&r);

    /* Challenge signed by the relay key in the client's role. */
    run_to(&r, 2);
    recompute_th(&r, th);
    assert_int_equal(srm_transcript_sign(K.relay, SRM_SIG_REG_CLIENT, th, sig, &siglen), 0);
    replace_sig(&r.chal, chal_sig_off, sig, siglen);
    assert_int_equal(feed(r.client, r.chal.b, r.chal.n, &out), SRM_ERR_KEY_MISMATCH);
    free_run(&r);

    /* Response signed by bob's key over the right TH, valid confirm: refused. */
    run_to(&r, 3);
    recompute_th(&r, th);
    assert_int_equal(srm_transcript_sign(K.bob, SRM_SIG_REG_CLIENT, th, sig, &siglen), 0);
    replace_sig(&r.resp, 0, sig, siglen);
    assert_int_equal(feed(r.relay, r.resp.b, r.resp.n, &out), SRM_ERR_BAD_SIGNATURE);
    assert_reg_error(&out);
    assert_no_keys(r.relay);
    free_run(&r);

    /* Response carrying alice's key but the relay role's label (reflection). */
    run_to(&r, 3);
    recompute_th(&r, th);
    assert_int_equal(srm_transcript_sign(K.alice, SRM_SIG_REG_RELAY, th, sig, &siglen), 0);
    replace_sig(&r.resp, 0, sig, siglen);
    assert_int_not_equal(feed(r.relay, r.resp.b, r.resp.n, &out), 0);
    assert_reg_error(&out);
    free_run(&r);
}

static void test_wrong_relay_key(void **state)
{
    struct run r;
    struct frm out;

    (void)state;
    /* A relay holding bob's key where the client pinned relay.pub. */
    new_pair(&r, "alice", K.alice, K.relay_pub, K.bob);
    do_hello(&r);
    /* No oracle: the impostor cannot decrypt Nc yet carries on. */
    assert_int_equal(feed(r.relay, r.hello.b, r.hello.n, &r.chal), 0);
    assert_int_equal(feed(r.client, r.chal.b, r.chal.n, &out), SRM_ERR_KEY_MISMATCH);
    assert_int_equal(out.n, 0);
    assert_no_keys(r.client);
    free_run(&r);
}

static void test_unknown_and_wrong_user(void **state)
{
    struct run r;
    struct frm out;

    (void)state;
    /* Unknown name: generic REG_ERROR at once. */
    new_pair(&r, "carol", K.alice, K.relay_pub, K.relay);
    do_hello(&r);
    assert_int_equal(feed(r.relay, r.hello.b, r.hello.n, &out), SRM_ERR_UNKNOWN_USER);
    assert_reg_error(&out);
    assert_no_keys(r.relay);
    assert_string_equal(srm_reg_state_name(r.relay), "failed");
    free_run(&r);

    /* alice's key naming bob: Nr goes to bob's key, alice cannot read it. */
    new_pair(&r, "bob", K.alice, K.relay_pub, K.relay);
    do_hello(&r);
    assert_int_equal(feed(r.relay, r.hello.b, r.hello.n, &r.chal), 0);
    assert_int_not_equal(feed(r.client, r.chal.b, r.chal.n, &out), 0);
    assert_no_keys(r.client);
    assert_int_not_equal(feed(r.relay, r.resp.b, r.resp.n, &out), 0);
    assert_no_keys(r.relay);
    free_run(&r);

    /* Bad names are refused before anything is sent. */
    {
        struct srm_reg *c = NULL;
        assert_int_equal(srm_reg_new_client("Alice", K.alice, K.relay_pub, &c), SRM_ERR_BAD_NAME);
        assert_null(c);
        assert_int_equal(srm_reg_new_client("a/b", K.alice, K.relay_pub, &c), SRM_ERR_BAD_NAME);
    }
}

static void test_replay_from_another_run(void **state)
{
    struct run a, b;
    struct frm out;

    (void)state;
    run_to(&a, 4);
    /* Old RESPONSE into a new relay handshake. */
    run_to(&b, 2);
    assert_int_not_equal(feed(b.relay, a.resp.b, a.resp.n, &out), 0);
    assert_reg_error(&out);
    assert_no_keys(b.relay);
    free_run(&b);
    /* Old CHALLENGE into a new client. */
    run_to(&b, 1);
    assert_int_not_equal(feed(b.client, a.chal.b, a.chal.n, &out), 0);
    assert_no_keys(b.client);
    free_run(&b);
    /* Old HELLO replayed: the relay answers, but the old client's secrets are gone. */
    run_to(&b, 1);
    assert_int_equal(feed(b.relay, a.hello.b, a.hello.n, &b.chal), 0);
    assert_int_equal(feed(a.client, b.chal.b, b.chal.n, &out), SRM_ERR_BAD_STATE);
    assert_int_not_equal(feed(b.relay, a.resp.b, a.resp.n, &out), 0);
    assert_reg_error(&out);
    free_run(&b);
    free_run(&a);
}

/*
 * No oracle: an OAEP block that does not decrypt, or decrypts to the wrong
 * length, gets the same answer as a good one, and the eventual failure is
 * the same REG_ERROR bytes as a bad signature's or an unknown user's.
 */
static void test_oaep_garbage_same_as_bad_signature(void **state)
{
    struct run good, bad;
    struct frm e_garbage, e_short, e_sig, e_unknown, chal2;
    uint8_t ct[SRM_RSA_MAX_BYTES], pt[31] = {0};
    size_t ctlen = 0;
    size_t enc_off = SRM_WIRE_FRAME_HDR + 1 + 1 + 5 + 32 + 2;

    (void)state;
    run_to(&good, 3);
    /* Garbage in the OAEP block. */
    run_to(&bad, 1);
    memset(bad.hello.b + enc_off, 0x5a, 256);
    assert_int_equal(feed(bad.relay, bad.hello.b, bad.hello.n, &chal2), 0);
    assert_int_equal(chal2.n, good.chal.n);
    assert_int_equal(chal2.b[4], SRM_FRAME_REG_CHALLENGE);
    assert_int_not_equal(feed(bad.client, chal2.b, chal2.n, &bad.resp), 0);
    /* The attacker answers with the genuine run's response: refused. */
    assert_int_not_equal(feed(bad.relay, good.resp.b, good.resp.n, &e_garbage), 0);
    free_run(&bad);

    /* A valid OAEP block of a 31-byte plaintext. */
    run_to(&bad, 1);
    assert_int_equal(srm_oaep_encrypt(K.relay_pub, pt, sizeof(pt), ct, &ctlen), 0);
    assert_int_equal(ctlen, 256);
    memcpy(bad.hello.b + enc_off, ct, ctlen);
    assert_int_equal(feed(bad.relay, bad.hello.b, bad.hello.n, &chal2), 0);
    assert_int_equal(chal2.n, good.chal.n);
    assert_int_not_equal(feed(bad.relay, good.resp.b, good.resp.n, &e_short), 0);
    free_run(&bad);

    /* A bad signature in an otherwise genuine run. */
    good.resp.b[SRM_WIRE_FRAME_HDR + 10] ^= 1;
    assert_int_equal(feed(good.relay, good.resp.b, good.resp.n, &e_sig), SRM_ERR_BAD_SIGNATURE);
    free_run(&good);

    /* An unknown user. */
    new_pair(&bad, "carol", K.alice, K.relay_pub, K.relay);
    do_hello(&bad);
    assert_int_not_equal(feed(bad.relay, bad.hello.b, bad.hello.n, &e_unknown), 0);
    free_run(&bad);

    assert_reg_error(&e_garbage);
    assert_int_equal(e_garbage.n, e_sig.n);
    assert_memory_equal(e_garbage.b, e_sig.b, e_sig.n);
    assert_memory_equal(e_short.b, e_sig.b, e_sig.n);
    assert_memory_equal(e_unknown.b, e_sig.b, e_sig.n);
}

static void test_state_machine_denies(void **state)
{
    struct run r;
    struct frm out;
    struct srm_buf b;
    uint8_t mem[OUT_CAP];
    struct frm f;

    (void)state;
    /* Relay: RESPONSE, CHALLENGE, LINK or REG_ERROR before HELLO. */
    {
        const uint8_t types[] = {SRM_FRAME_REG_RESPONSE, SRM_FRAME_REG_CHALLENGE, SRM_FRAME_LINK,
                                 SRM_FRAME_REG_ERROR};
        size_t i;
        for (i = 0; i < sizeof(types); i++) {
            run_to(&r, 1);
            reframe(&f, types[i], r.hello.b + SRM_WIRE_FRAME_HDR, r.hello.n - SRM_WIRE_FRAME_HDR);
            assert_int_equal(feed(r.relay, f.b, f.n, &out), SRM_ERR_UNEXPECTED_MSG);
            assert_reg_error(&out);
            /* Sticky, and a later genuine HELLO is refused without a second REG_ERROR. */
            assert_int_equal(feed(r.relay, r.hello.b, r.hello.n, &out), SRM_ERR_BAD_STATE);
            assert_int_equal(out.n, 0);
            free_run(&r);
        }
    }
    /* Relay: a second HELLO instead of RESPONSE. */
    run_to(&r, 2);
    assert_int_equal(feed(r.relay, r.hello.b, r.hello.n, &out), SRM_ERR_UNEXPECTED_MSG);
    assert_reg_error(&out);
    assert_no_keys(r.relay);
    free_run(&r);
    /* Client: start twice; a HELLO where the challenge belongs; REG_ERROR. */
    run_to(&r, 1);
    srm_buf_init_write(&b, mem, sizeof(mem));
    assert_int_equal(srm_reg_start(r.client, &b), SRM_ERR_BAD_STATE);
    assert_int_equal(b.len, 0);
    assert_int_equal(feed(r.client, r.hello.b, r.hello.n, &out), SRM_ERR_UNEXPECTED_MSG);
    assert_no_keys(r.client);
    free_run(&r);
    run_to(&r, 1);
    assert_int_equal(feed(r.client, REG_ERROR_FRAME, sizeof(REG_ERROR_FRAME), &out),
                     SRM_ERR_PEER_REFUSED);
    assert_no_keys(r.client);
    free_run(&r);
    /* Client refused after its RESPONSE. */
    run_to(&r, 3);
    assert_int_equal(feed(r.client, REG_ERROR_FRAME, sizeof(REG_ERROR_FRAME), &out),
                     SRM_ERR_PEER_REFUSED);
    assert_no_keys(r.client);
    free_run(&r);
    /* The relay cannot start. */
    run_to(&r, 1);
    srm_buf_init_write(&b, mem, sizeof(mem));
    assert_int_equal(srm_reg_start(r.relay, &b), SRM_ERR_BAD_STATE);
    free_run(&r);
}

static void test_no_room_for_output(void **state)
{
    struct run r;
    struct srm_frame f;
    struct srm_buf b;
    uint8_t mem[16];
    size_t used;

    (void)state;
    run_to(&r, 1);
    assert_int_equal(srm_frame_decode(r.hello.b, r.hello.n, &f, &used), 0);
    srm_buf_init_write(&b, mem, sizeof(mem));
    assert_int_equal(srm_reg_recv(r.relay, &f, &b), SRM_ERR_NO_SPACE);
    /* Room for the REG_ERROR only. */
    assert_int_equal(b.len, sizeof(REG_ERROR_FRAME));
    assert_no_keys(r.relay);
    free_run(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_handshake),
        cmocka_unit_test(test_hello_every_byte_flipped),
        cmocka_unit_test(test_hello_truncated_and_extended),
        cmocka_unit_test(test_challenge_every_byte_flipped),
        cmocka_unit_test(test_challenge_truncated_and_extended),
        cmocka_unit_test(test_response_every_byte_flipped),
        cmocka_unit_test(test_response_truncated_and_extended),
        cmocka_unit_test(test_signed_by_wrong_key),
        cmocka_unit_test(test_wrong_relay_key),
        cmocka_unit_test(test_unknown_and_wrong_user),
        cmocka_unit_test(test_replay_from_another_run),
        cmocka_unit_test(test_oaep_garbage_same_as_bad_signature),
        cmocka_unit_test(test_state_machine_denies),
        cmocka_unit_test(test_no_room_for_output),
    };

    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
