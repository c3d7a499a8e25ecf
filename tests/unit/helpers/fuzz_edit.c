/* SPDX-License-Identifier: MIT */
/*
 * fuzz_edit.c: the 3-byte edits of fuzz_edit.h (used by the mutate modes of
 * fuzz_link and fuzz_record).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_edit.h"

void tu_fuzz_apply_edits(uint8_t *rec, size_t n, const uint8_t *data, size_t size)
{
    size_t i;

    for (i = 2; i < size && size - i >= 3; i += 3) {
        size_t pos = ((size_t)data[i] << 8 | data[i + 1]) % n;

        rec[pos] ^= data[i + 2];
    }
}
