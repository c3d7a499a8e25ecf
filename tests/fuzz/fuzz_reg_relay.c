/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reg_relay.c: libFuzzer target for the relay side of registration.
 * The input is a stream of frames (DESIGN.md 6) fed one by one to a fresh
 * relay-side srm_reg until one is refused; every refusal must be clean (the
 * generic REG_ERROR and no keys).  The relay key and alice's key are the
 * fixed test keys of tests/unit/helpers/fixed_keys.c, so the set-up does not
 * depend on the run.
 *
 * Seed corpus: tests/fuzz/corpus/fuzz_reg_relay (and fuzz_reg_client) hold
 * the frames of a real handshake between these keys, written by this file's
 * corpus-writer mode:
 *   cc -std=c11 -D_GNU_SOURCE -DSRM_FUZZ_CORPUS_WRITER -Iinclude -Isrc/lib \
 *      -Itests/unit/helpers tests/fuzz/fuzz_reg_relay.c tests/unit/helpers/fixed_keys.c \
 *      tests/unit/helpers/fuzz_reg.c BUILD/libsrm.a -lcrypto -o /tmp/w && /tmp/w tests/fuzz/corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixed_keys.h"
#include "fuzz_reg.h"
#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/frame.h"
#include "srm/link.h"
#include "srm/reg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The relay's key directory: only alice. */
static int lookup(void *arg, const char *name, struct srm_key **pub)
{
    (void)arg;
    if (strcmp(name, "alice") != 0) {
        return SRM_ERR_UNKNOWN_USER;
    }
    *pub = tu_fixed_key(TU_KEY_ALICE);
    srm_key_ref(*pub);
    return 0;
}

/* Every refusal is clean: no keys, no handshake secret, one generic REG_ERROR. */
static void check_relay(const struct srm_reg *relay, int rc, const struct srm_buf *out)
{
    if (rc == 0) {
        return;
    }
    /* A failure leaves no keys and no handshake secret behind. */
    if (srm_reg_is_done(relay) || srm_reg_holds_handshake_secrets(relay)) {
        abort();
    }
    if (out->len != 6 || out->data[4] != SRM_FRAME_REG_ERROR || out->data[5] != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct srm_reg *relay = NULL;

    if (srm_reg_new_relay(tu_fixed_key(TU_KEY_RELAY), lookup, NULL, &relay) != 0) {
        abort();
    }
    tu_fuzz_reg_feed(relay, data, size, check_relay);
    return 0;
}

#ifdef SRM_FUZZ_CORPUS_WRITER
static void write_file(const char *dir, const char *sub, const char *name, const uint8_t *p,
                       size_t n)
{
    char path[4096];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    if ((fp = fopen(path, "wb")) == NULL || fwrite(p, 1, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "error: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    static uint8_t hello[4096], chal[4096], resp[4096], tmp[4096], both[8192];
    struct srm_reg *c = NULL, *r = NULL;
    struct srm_buf b;
    struct srm_frame f;
    size_t used, hn, cn, rn;
    static const uint8_t reg_error[] = {0, 0, 0, 2, SRM_FRAME_REG_ERROR, 0};
    struct srm_key *relay_key = tu_fixed_key(TU_KEY_RELAY), *alice_key = tu_fixed_key(TU_KEY_ALICE);

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    if (srm_reg_new_client("alice", alice_key, relay_key, &c) != 0 ||
        srm_reg_new_relay(relay_key, lookup, NULL, &r) != 0) {
        return 1;
    }
    srm_buf_init_write(&b, hello, sizeof(hello));
    if (srm_reg_start(c, &b) != 0) {
        return 1;
    }
    hn = b.len;
    srm_buf_init_write(&b, chal, sizeof(chal));
    if (srm_frame_decode(hello, hn, &f, &used) != 0 || srm_reg_recv(r, &f, &b) != 0) {
        return 1;
    }
    cn = b.len;
    srm_buf_init_write(&b, resp, sizeof(resp));
    if (srm_frame_decode(chal, cn, &f, &used) != 0 || srm_reg_recv(c, &f, &b) != 0) {
        return 1;
    }
    rn = b.len;
    srm_buf_init_write(&b, tmp, sizeof(tmp));
    if (srm_frame_decode(resp, rn, &f, &used) != 0 || srm_reg_recv(r, &f, &b) != 0 ||
        !srm_reg_is_done(r)) {
        return 1;
    }
    write_file(argv[1], "fuzz_reg_relay", "hello", hello, hn);
    memcpy(both, hello, hn);
    memcpy(both + hn, resp, rn);
    write_file(argv[1], "fuzz_reg_relay", "hello_response", both, hn + rn);
    write_file(argv[1], "fuzz_reg_relay", "response_first", resp, rn);
    write_file(argv[1], "fuzz_reg_client", "challenge", chal, cn);
    write_file(argv[1], "fuzz_reg_client", "reg_error", reg_error, sizeof(reg_error));
    memcpy(both, chal, cn);
    memcpy(both + cn, reg_error, sizeof(reg_error));
    write_file(argv[1], "fuzz_reg_client", "challenge_reg_error", both, cn + sizeof(reg_error));
    srm_reg_free(c);
    srm_reg_free(r);
    return 0;
}
#endif
