/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sess.c: libFuzzer target for the end-to-end session.
 *
 * Input: mode (u8) || { u16be len || payload }*.  The payloads are fed in
 * turn to one session:
 *   mode 0: a fresh responder (bob, expecting alice);
 *   mode 1: an initiator (alice) that has sent its HS_INIT;
 *   mode 2: bob, after a real handshake with alice (established);
 *   mode 3: alice, after a real handshake with bob (established).
 * Nothing the fuzzer can write is signed by a pinned key or sealed under a
 * session key, so every call must end with no event at all: an event other
 * than none, a crash, a leak or a handshake secret left after failure aborts.
 * Fixed keys (tests/unit/helpers/fixed_keys.c) keep the set-up the same on
 * every run.
 *
 * Seed corpus: tests/fuzz/corpus/fuzz_sess, payloads of a real session
 * between these keys, written by this file's corpus-writer mode:
 *   cc -std=c11 -D_GNU_SOURCE -DSRM_FUZZ_CORPUS_WRITER -Iinclude -Isrc/lib \
 *      -Itests/unit/helpers tests/fuzz/fuzz_sess.c tests/unit/helpers/fixed_keys.c \
 *      BUILD/libsrm.a -lcrypto -o /tmp/w && /tmp/w tests/fuzz/corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed_keys.h"
#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/sess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PL_CAP 4096

/* alice's session with bob and bob's with alice, on the fixed keys. */
static int new_pair(struct srm_sess **a, struct srm_sess **b)
{
    struct srm_key *alice = tu_fixed_key(TU_KEY_ALICE), *bob = tu_fixed_key(TU_KEY_BOB);

    if (srm_sess_new("alice", alice, "bob", bob, a) != 0 ||
        srm_sess_new("bob", bob, "alice", alice, b) != 0) {
        return -1;
    }
    return 0;
}

/* Run a real handshake between a (alice, initiator) and b (bob). */
static int handshake(struct srm_sess *a, struct srm_sess *b, uint8_t *init, size_t *init_n,
                     uint8_t *resp, size_t *resp_n, uint8_t *fin, size_t *fin_n)
{
    struct srm_sess_event ev;
    struct srm_buf o, none;
    uint8_t scratch[16];

    srm_buf_init_write(&o, init, PL_CAP);
    if (srm_sess_start(a, &o) != 0) {
        return -1;
    }
    *init_n = o.len;
    srm_buf_init_write(&o, resp, PL_CAP);
    if (srm_sess_recv(b, init, *init_n, &o, &ev) != 0) {
        return -1;
    }
    *resp_n = o.len;
    srm_buf_init_write(&o, fin, PL_CAP);
    if (srm_sess_recv(a, resp, *resp_n, &o, &ev) != 0 || ev.type != SRM_SESS_EV_ESTABLISHED) {
        return -1;
    }
    *fin_n = o.len;
    srm_buf_init_write(&none, scratch, sizeof(scratch));
    if (srm_sess_recv(b, fin, *fin_n, &none, &ev) != 0 || ev.type != SRM_SESS_EV_ESTABLISHED) {
        return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t init[PL_CAP], resp[PL_CAP], fin[PL_CAP], reply[PL_CAP];
    struct srm_sess *a = NULL, *b = NULL, *target;
    struct srm_sess_event ev;
    struct srm_buf in, o;
    size_t in_n, resp_n, fin_n;
    uint8_t mode = 0;

    srm_buf_init_read(&in, data, size);
    if (srm_buf_get_u8(&in, &mode) != 0) {
        return 0;
    }
    mode &= 3;
    if (new_pair(&a, &b) != 0) {
        abort();
    }
    target = (mode == 1 || mode == 3) ? a : b;
    if (mode == 1) {
        srm_buf_init_write(&o, init, sizeof(init));
        if (srm_sess_start(a, &o) != 0) {
            abort();
        }
    } else if (mode >= 2) {
        if (handshake(a, b, init, &in_n, resp, &resp_n, fin, &fin_n) != 0) {
            abort();
        }
    }
    for (;;) {
        const uint8_t *p = NULL;
        size_t n = 0;
        int rc;

        if (srm_buf_get_string16(&in, 65535, &p, &n) != 0) {
            break;
        }
        srm_buf_init_write(&o, reply, sizeof(reply));
        rc = srm_sess_recv(target, p, n, &o, &ev);
        /* Nothing here is signed or sealed by a real party: never an event. */
        if (ev.type != SRM_SESS_EV_NONE) {
            abort();
        }
        if (rc != 0 && o.len != 0) {
            abort();
        }
        if (srm_sess_state(target) != SRM_SESS_ESTABLISHED &&
            srm_sess_state(target) != SRM_SESS_INIT_SENT &&
            srm_sess_holds_handshake_secrets(target)) {
            abort();
        }
    }
    srm_sess_free(a);
    srm_sess_free(b);
    return 0;
}

#ifdef SRM_FUZZ_CORPUS_WRITER
static void write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p1,
                       size_t n1, const uint8_t *p2, size_t n2)
{
    static uint8_t mem[3 * PL_CAP];
    struct srm_buf b;
    char path[4096];
    FILE *fp;

    srm_buf_init_write(&b, mem, sizeof(mem));
    if (srm_buf_put_u8(&b, mode) != 0 || srm_buf_put_string16(&b, p1, n1) != 0 ||
        (p2 != NULL && srm_buf_put_string16(&b, p2, n2) != 0)) {
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/fuzz_sess/%s", dir, name);
    if ((fp = fopen(path, "wb")) == NULL || fwrite(mem, 1, b.len, fp) != b.len || fclose(fp) != 0) {
        fprintf(stderr, "error: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    static uint8_t init[PL_CAP], resp[PL_CAP], fin[PL_CAP], rec[PL_CAP], ack[PL_CAP];
    struct srm_sess *a = NULL, *b = NULL;
    struct srm_buf o;
    size_t in_n, resp_n, fin_n, rec_n, ack_n;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    if (new_pair(&a, &b) != 0 || handshake(a, b, init, &in_n, resp, &resp_n, fin, &fin_n) != 0) {
        return 1;
    }
    srm_buf_init_write(&o, rec, sizeof(rec));
    if (srm_sess_seal_data(a, 1, (const uint8_t *)"hello", 5, &o) != 0) {
        return 1;
    }
    rec_n = o.len;
    srm_buf_init_write(&o, ack, sizeof(ack));
    if (srm_sess_seal_ack(a, 1, &o) != 0) {
        return 1;
    }
    ack_n = o.len;
    write_seed(argv[1], "responder_init", 0, init, in_n, NULL, 0);
    write_seed(argv[1], "responder_init_fin", 0, init, in_n, fin, fin_n);
    write_seed(argv[1], "initiator_resp", 1, resp, resp_n, NULL, 0);
    write_seed(argv[1], "established_records", 2, rec, rec_n, ack, ack_n);
    write_seed(argv[1], "established_rekey_init", 2, init, in_n, NULL, 0);
    srm_sess_free(a);
    srm_sess_free(b);
    return 0;
}
#endif
