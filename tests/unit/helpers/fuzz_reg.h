/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reg.h: the frame-feeding loop shared by the registration fuzz
 * targets (fuzz_reg_client, fuzz_reg_relay).  Any broken rule aborts.
 */
#ifndef SRM_TEST_FUZZ_REG_H
#define SRM_TEST_FUZZ_REG_H

#include <stddef.h>
#include <stdint.h>

#include "srm/buf.h"
#include "srm/reg.h"

/*
 * A side's own rules for one srm_reg_recv that returned rc (never
 * SRM_ERR_BAD_STATE) and wrote out; it aborts if one is broken.
 */
typedef void (*tu_reg_check_fn)(const struct srm_reg *r, int rc, const struct srm_buf *out);

/*
 * Feed the frames (DESIGN.md 6) in data to r one by one until one does not
 * decode or is refused, checking each reply with check; a call refused with
 * SRM_ERR_BAD_STATE must write nothing.  Takes r: frees it, and the link it
 * made, if any.
 */
void tu_fuzz_reg_feed(struct srm_reg *r, const uint8_t *data, size_t size, tu_reg_check_fn check);

#endif
