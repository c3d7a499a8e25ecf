/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reg_client.c: libFuzzer target for the client side of registration
 * after its HELLO: the input is a stream of frames (DESIGN.md 6) fed to the
 * client until one is refused.  A refused frame must leave no keys; a
 * CHALLENGE the client accepts must be followed by exactly one RESPONSE.
 * Fixed test keys from tests/unit/helpers/fixed_keys.c (the same as
 * fuzz_reg_relay.c, whose corpus writer also writes this target's seed
 * corpus from a real handshake).
 */
#include <stdint.h>
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

/* The client's rules for each reply (a refusal is silent; a CHALLENGE is answered). */
static void check_client(const struct srm_reg *client, int rc, const struct srm_buf *out)
{
    if (rc != 0) {
        /* The client never answers a frame it refuses, and keeps nothing. */
        if (out->len != 0 || srm_reg_is_done(client) || srm_reg_holds_handshake_secrets(client)) {
            abort();
        }
        return;
    }
    if (!srm_reg_is_done(client) || out->data[4] != SRM_FRAME_REG_RESPONSE) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t outmem[8192];
    struct srm_reg *client = NULL;
    struct srm_buf out;

    if (srm_reg_new_client("alice", tu_fixed_key(TU_KEY_ALICE), tu_fixed_key(TU_KEY_RELAY),
                           &client) != 0) {
        abort();
    }
    srm_buf_init_write(&out, outmem, sizeof(outmem));
    if (srm_reg_start(client, &out) != 0) {
        abort();
    }
    tu_fuzz_reg_feed(client, data, size, check_client);
    return 0;
}
