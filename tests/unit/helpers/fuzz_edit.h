/* SPDX-License-Identifier: MIT */
/*
 * fuzz_edit.h: the mutation encoding shared by fuzz_link and fuzz_record,
 * so that one corpus format drives both.
 */
#ifndef SRM_TEST_FUZZ_EDIT_H
#define SRM_TEST_FUZZ_EDIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Apply the edits in data[2..size) to rec[0..n): each whole 3-byte group is
 * a u16be position (taken modulo n) and a byte xored in there; a trailing
 * partial group is ignored.  n must not be 0.
 */
void tu_fuzz_apply_edits(uint8_t *rec, size_t n, const uint8_t *data, size_t size);

#endif
