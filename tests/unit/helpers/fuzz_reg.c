/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reg.c: the loop of fuzz_reg.h.  Whichever side r is, a frame it
 * cannot take any more (done or failed) must be met with silence; the
 * side-specific rules for every other reply are the caller's check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_reg.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/link.h"

void tu_fuzz_reg_feed(struct srm_reg *r, const uint8_t *data, size_t size, tu_reg_check_fn check)
{
    static uint8_t outmem[8192];
    struct srm_link *link = NULL;
    struct srm_frame f;
    struct srm_buf in, out;
    size_t used;

    srm_buf_init_read(&in, data, size);
    while (srm_buf_remaining(&in) > 0) {
        const uint8_t *p = in.data + in.off;
        int rc;

        if (srm_frame_decode(p, srm_buf_remaining(&in), &f, &used) != 0) {
            break;
        }
        in.off += used;
        srm_buf_init_write(&out, outmem, sizeof(outmem));
        rc = srm_reg_recv(r, &f, &out);
        if (rc == SRM_ERR_BAD_STATE) {
            /* Already done or failed: nothing more is accepted, nothing is said. */
            if (out.len != 0) {
                abort();
            }
            break;
        }
        check(r, rc, &out);
        if (rc != 0) {
            break;
        }
    }
    if (srm_reg_is_done(r) && srm_reg_take_link(r, &link) == 0) {
        srm_link_free(link);
    }
    srm_reg_free(r);
}
