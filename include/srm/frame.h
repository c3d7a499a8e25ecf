/* SPDX-License-Identifier: MIT */
/*
 * frame.h: the TCP framing of DESIGN.md section 6.
 *
 *   frame = len (u32be, counts type + body) || type (u8) || body
 *
 * The decoder is incremental and stateless: it looks at whatever bytes the
 * caller has buffered and either returns one whole frame, says how many bytes
 * it still needs, or rejects the header.  The length is checked against
 * SRM_WIRE_MAX_FRAME from the first 4 bytes, before anyone allocates or waits
 * for a body.
 */
#ifndef SRM_FRAME_H
#define SRM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/wire.h"

struct srm_frame {
    uint8_t type;
    const uint8_t *body; /* view into the caller's bytes */
    size_t body_len;
};

/*
 * Decode the frame at the start of in[0..n).
 *   0: *f is set and *consumed = SRM_WIRE_FRAME_HDR - 1 + len.
 *   SRM_ERR_MSG_INCOMPLETE: *consumed = total bytes needed for the frame if
 *     the header is known, else SRM_WIRE_FRAME_HDR (never larger than
 *     SRM_WIRE_FRAME_HDR - 1 + SRM_WIRE_MAX_FRAME).
 *   SRM_ERR_BAD_FRAME: len is 0.
 *   SRM_ERR_TOO_LARGE: len exceeds SRM_WIRE_MAX_FRAME (known from 4 bytes).
 *   SRM_ERR_UNKNOWN_TYPE: type is not an enum srm_frame_type value.
 */
SRM_MUST_USE int srm_frame_decode(const uint8_t *in, size_t n, struct srm_frame *f,
                                  size_t *consumed);
/* Append a whole frame to out; SRM_ERR_TOO_LARGE if body_len > SRM_WIRE_MAX_BODY. */
SRM_MUST_USE int srm_frame_encode(struct srm_buf *out, uint8_t type, const uint8_t *body,
                                  size_t body_len);
/* 1 if type is a known enum srm_frame_type value. */
int srm_frame_type_known(uint8_t type);

#endif
