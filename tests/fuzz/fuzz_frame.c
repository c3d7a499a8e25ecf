/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame.c: libFuzzer target for the frame decoder.  Decodes the input
 * as a stream of frames the way the relay does (advancing by *consumed),
 * checks the decoder's promises (views inside the input, consumed within
 * bounds, incomplete asks for more than it has) and re-encodes each frame
 * to check that it comes back byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_BODY];
    struct srm_frame f;
    struct srm_buf w;
    size_t pos = 0, consumed;
    int r;

    while (pos < size) {
        consumed = 0;
        r = srm_frame_decode(data + pos, size - pos, &f, &consumed);
        if (r == SRM_ERR_MSG_INCOMPLETE) {
            if (consumed <= size - pos || consumed > SRM_WIRE_FRAME_HDR - 1 + SRM_WIRE_MAX_FRAME) {
                abort();
            }
            break;
        }
        if (r != 0) {
            if (r != SRM_ERR_BAD_FRAME && r != SRM_ERR_TOO_LARGE && r != SRM_ERR_UNKNOWN_TYPE) {
                abort();
            }
            break;
        }
        if (consumed < SRM_WIRE_FRAME_HDR || consumed > size - pos ||
            consumed != SRM_WIRE_FRAME_HDR + f.body_len || f.body != data + pos + 5 ||
            !srm_frame_type_known(f.type)) {
            abort();
        }
        srm_buf_init_write(&w, out, sizeof(out));
        if (srm_frame_encode(&w, f.type, f.body, f.body_len) != 0 || w.len != consumed ||
            memcmp(out, data + pos, consumed) != 0) {
            abort();
        }
        pos += consumed;
    }
    return 0;
}
