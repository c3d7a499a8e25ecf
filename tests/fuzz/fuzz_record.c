/* SPDX-License-Identifier: MIT */
/*
 * fuzz_record.c: libFuzzer target for srm_record_open (DESIGN.md 3a).
 *
 * First input byte, bit 0 clear: the rest is handed to a receiver at seq 0
 * as a record.  It may only open if it is a genuine record under the fixed
 * keys (the seed corpus holds some), and then sealing the same plaintext
 * with the same IV must give back exactly the input; if it does not open,
 * the plaintext buffer and the counter must be untouched.
 *
 * Bit 0 set: a record of data[1] bytes is sealed, then mutated by the rest of
 * the input (3-byte edits: u16be position, xor byte) and, if bit 1 is set,
 * truncated by 1 + (data[0] >> 2) bytes.  It must open if and only if the
 * bytes are unchanged.  Any broken oracle aborts.
 *
 * Keys are fixed (tests/vectors/gen_vectors.py writes the corpus with the
 * same ones); the two record objects are built once and their counters reset
 * per input, so runs do not depend on each other.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_edit.h"
#include "srm/buf.h"
#include "srm/err.h"
#include "srm/record.h"
#include "srm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct srm_record *tx;
static struct srm_record *rx;

static void setup(void)
{
    uint8_t k_enc[SRM_RECORD_KEY_LEN], k_mac[SRM_RECORD_KEY_LEN], sid[SRM_RECORD_SID_LEN];

    if (tx != NULL) {
        return;
    }
    memset(k_enc, 0x01, sizeof(k_enc));
    memset(k_mac, 0x02, sizeof(k_mac));
    memset(sid, 0x03, sizeof(sid));
    if (srm_record_new(k_enc, k_mac, sid, &tx) != 0 ||
        srm_record_new(k_enc, k_mac, sid, &rx) != 0) {
        abort();
    }
}

/* Mode 0: the input is the record. */
static void fuzz_raw(const uint8_t *rec, size_t n)
{
    size_t cap = n > SRM_RECORD_OVERHEAD ? n - SRM_RECORD_OVERHEAD : 0;
    uint8_t *pt = malloc(cap + 1);
    uint8_t *again = malloc(n + 1);
    size_t ptlen = 0, i;
    struct srm_buf w;
    int rc;

    if (pt == NULL || again == NULL) {
        abort();
    }
    memset(pt, 0xa5, cap + 1);
    srm_record_set_seq(rx, 0);
    rc = srm_record_open(rx, rec, n, pt, cap, &ptlen);
    if (rc == 0) {
        /* A forgery would end here: re-sealing must reproduce the input. */
        if (ptlen != cap || srm_record_seq(rx) != 1) {
            abort();
        }
        srm_record_set_seq(tx, 0);
        srm_buf_init_write(&w, again, n);
        if (srm_record_seal_iv(tx, rec + SRM_RECORD_SEQ_LEN, pt, ptlen, &w) != 0 || w.len != n ||
            memcmp(again, rec, n) != 0) {
            abort();
        }
    } else {
        if (srm_record_seq(rx) != 0) {
            abort();
        }
        for (i = 0; i < cap + 1; i++) {
            if (pt[i] != 0xa5) {
                abort();
            }
        }
    }
    free(pt);
    free(again);
}

/* Mode 1: seal, mutate, open; must open iff nothing changed. */
static void fuzz_mutate(const uint8_t *data, size_t size)
{
    uint8_t pt[255], out[255], iv[SRM_RECORD_IV_LEN];
    uint8_t rec[255 + SRM_RECORD_OVERHEAD], orig[sizeof(rec)];
    size_t ptn = size > 1 ? data[1] : 0, n, i, outn = 0;
    struct srm_buf w;
    int changed = 0, rc;

    for (i = 0; i < ptn; i++) {
        pt[i] = (uint8_t)(i * 7u + 1u);
    }
    memset(iv, 0x07, sizeof(iv));
    srm_record_set_seq(tx, 0);
    srm_record_set_seq(rx, 0);
    srm_buf_init_write(&w, rec, sizeof(rec));
    if (srm_record_seal_iv(tx, iv, pt, ptn, &w) != 0 || w.len != ptn + SRM_RECORD_OVERHEAD) {
        abort();
    }
    n = w.len;
    memcpy(orig, rec, n);
    tu_fuzz_apply_edits(rec, n, data, size);
    if ((data[0] & 2) != 0) {
        size_t cut = 1u + (data[0] >> 2);

        n = cut < n ? n - cut : 0;
        changed = 1;
    }
    changed |= memcmp(rec, orig, n) != 0;
    rc = srm_record_open(rx, rec, n, out, sizeof(out), &outn);
    if (changed ? rc == 0 : (rc != 0 || outn != ptn || memcmp(out, pt, ptn) != 0)) {
        abort();
    }
    if (srm_record_seq(rx) != (rc == 0 ? 1u : 0u)) {
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
        fuzz_raw(data + 1, size - 1);
    } else {
        fuzz_mutate(data, size);
    }
    return 0;
}
