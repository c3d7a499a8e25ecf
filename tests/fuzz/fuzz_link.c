/* SPDX-License-Identifier: MIT */
/*
 * fuzz_link.c: libFuzzer target for srm_link_dir_open (DESIGN.md 3b).
 *
 * First input byte, bit 0 clear: the rest is opened as a link record at
 * seq 0 (in place if bit 1 is set).  It may only open if it is a genuine
 * record under the fixed keys (the seed corpus holds some), and then sealing
 * the plaintext again must reproduce it; if it does not open, the plaintext
 * area must be all zero and the counter unchanged.
 *
 * Bit 0 set: a record of data[1] bytes is sealed at seq 0, mutated by the
 * rest of the input (3-byte edits: u16be position, xor byte), truncated by
 * 1 + (data[0] >> 3) bytes if bit 1 is set, and opened at seq 1 instead of 0
 * if bit 2 is set.  It must open if and only if nothing changed.
 *
 * The two directions are built once (fixed keys, as in
 * tests/vectors/gen_vectors.py) and their counters reset per input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_edit.h"
#include "srm/err.h"
#include "srm/link.h"
#include "srm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct srm_link_dir *tx;
static struct srm_link_dir *rx;

static void setup(void)
{
    uint8_t key[SRM_LINK_KEY_LEN], iv[SRM_LINK_IV_LEN], lid[SRM_LINK_ID_LEN];

    if (tx != NULL) {
        return;
    }
    memset(key, 0x04, sizeof(key));
    memset(iv, 0x05, sizeof(iv));
    memset(lid, 0x06, sizeof(lid));
    if (srm_link_dir_new(key, iv, lid, &tx) != 0 || srm_link_dir_new(key, iv, lid, &rx) != 0) {
        abort();
    }
}

/* Mode 0: the input is the record. */
static void fuzz_raw(const uint8_t *rec, size_t n, int in_place)
{
    size_t ctlen = n > SRM_LINK_TAG_LEN ? n - SRM_LINK_TAG_LEN : 0, i;
    uint8_t *buf = malloc(n + 1);
    uint8_t *pt = malloc(ctlen + 1);
    uint8_t *again = malloc(n + 1);
    uint8_t *dst;
    int rc;

    if (buf == NULL || pt == NULL || again == NULL) {
        abort();
    }
    if (n != 0) {
        memcpy(buf, rec, n);
    }
    memset(pt, 0xa5, ctlen + 1);
    dst = in_place ? buf : pt;
    srm_link_dir_set_seq(rx, 0);
    rc = srm_link_dir_open(rx, buf, n, dst);
    if (rc == 0) {
        if (srm_link_dir_seq(rx) != 1) {
            abort();
        }
        srm_link_dir_set_seq(tx, 0);
        if (srm_link_dir_seal(tx, dst, ctlen, again) != 0 || memcmp(again, rec, n) != 0) {
            abort();
        }
    } else {
        if (srm_link_dir_seq(rx) != 0) {
            abort();
        }
        /* Unauthenticated plaintext is wiped (or, if refused early, never written). */
        for (i = 0; i < ctlen; i++) {
            if (dst[i] != 0 && !(rc != SRM_ERR_BAD_MAC && dst[i] == (in_place ? rec[i] : 0xa5))) {
                abort();
            }
        }
    }
    free(buf);
    free(pt);
    free(again);
}

/* Mode 1: seal, mutate, open; must open iff nothing changed. */
static void fuzz_mutate(const uint8_t *data, size_t size)
{
    uint8_t pt[255], out[255], rec[255 + SRM_LINK_TAG_LEN], orig[sizeof(rec)];
    size_t ptn = size > 1 ? data[1] : 0, n = ptn + SRM_LINK_TAG_LEN, i;
    int changed = 0, rc;

    for (i = 0; i < ptn; i++) {
        pt[i] = (uint8_t)(i * 5u + 3u);
    }
    srm_link_dir_set_seq(tx, 0);
    srm_link_dir_set_seq(rx, 0);
    if (srm_link_dir_seal(tx, pt, ptn, rec) != 0) {
        abort();
    }
    memcpy(orig, rec, n);
    tu_fuzz_apply_edits(rec, n, data, size);
    if ((data[0] & 2) != 0) {
        size_t cut = 1u + (data[0] >> 3);

        n = cut < n ? n - cut : 0;
        changed = 1;
    }
    if ((data[0] & 4) != 0) {
        srm_link_dir_set_seq(rx, 1);
        changed = 1;
    }
    changed |= memcmp(rec, orig, n) != 0;
    rc = srm_link_dir_open(rx, rec, n, out);
    if (changed ? rc == 0 : (rc != 0 || memcmp(out, pt, ptn) != 0)) {
        abort();
    }
    if (srm_link_dir_seq(rx) != ((data[0] & 4) != 0 ? 1u : 0u) + (rc == 0 ? 1u : 0u)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size == 0) {
        return 0;
    }
    if ((data[0] & 1) == 0) {
        fuzz_raw(data + 1, size - 1, (data[0] & 2) != 0);
    } else {
        fuzz_mutate(data, size);
    }
    return 0;
}
