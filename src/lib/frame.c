/* SPDX-License-Identifier: MIT */
/*
 * frame.c: the TCP framing of DESIGN.md section 6 (see frame.h).
 *
 *   frame = len (u32be, counts type + body) || type (u8) || body
 *
 * The decoder keeps no state: the caller hands it whatever bytes it has
 * buffered and calls again with more.  It judges the header as early as
 * it can (the length from 4 bytes, the type from the 5th), so a peer
 * cannot make the caller wait for, or buffer, a body that will be refused.
 */
#include <stddef.h>
#include <stdint.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/wire.h"

/* Bytes of the length field: the header minus the type byte. */
#define LEN_FIELD (SRM_WIRE_FRAME_HDR - 1u)

int srm_frame_type_known(uint8_t type)
{
    switch (type) {
    case SRM_FRAME_REG_HELLO:
    case SRM_FRAME_REG_CHALLENGE:
    case SRM_FRAME_REG_RESPONSE:
    case SRM_FRAME_REG_ERROR:
    case SRM_FRAME_LINK:
        return 1;
    default:
        return 0;
    }
}

int srm_frame_decode(const uint8_t *in, size_t n, struct srm_frame *f, size_t *consumed)
{
    struct srm_buf b;
    uint32_t len;
    uint8_t type;
    const uint8_t *body;

    srm_buf_init_read(&b, in, n);
    /* 1. The length: until it is known, all we can ask for is a header. */
    if (srm_buf_get_u32(&b, &len) != 0) {
        *consumed = SRM_WIRE_FRAME_HDR;
        return SRM_ERR_MSG_INCOMPLETE;
    }
    if (len == 0) {
        /* No room even for the type byte. */
        *consumed = 0;
        return SRM_ERR_BAD_FRAME;
    }
    if (len > SRM_WIRE_MAX_FRAME) {
        /* Refused before any body is awaited or allocated. */
        *consumed = 0;
        return SRM_ERR_TOO_LARGE;
    }
    /* 2. The type, refused as soon as it is seen rather than after the body. */
    if (srm_buf_get_u8(&b, &type) != 0) {
        *consumed = LEN_FIELD + (size_t)len;
        return SRM_ERR_MSG_INCOMPLETE;
    }
    if (!srm_frame_type_known(type)) {
        *consumed = 0;
        return SRM_ERR_UNKNOWN_TYPE;
    }
    /* 3. The body: len counts the type byte, already read. */
    if (srm_buf_get_view(&b, (size_t)len - 1u, &body) != 0) {
        *consumed = LEN_FIELD + (size_t)len;
        return SRM_ERR_MSG_INCOMPLETE;
    }
    f->type = type;
    f->body = body;
    f->body_len = (size_t)len - 1u;
    *consumed = LEN_FIELD + (size_t)len;
    return 0;
}

int srm_frame_encode(struct srm_buf *out, uint8_t type, const uint8_t *body, size_t body_len)
{
    size_t save = out->len;
    int r = SRM_ERR_INTERNAL;

    /*
     * The type is not checked: a sender only ever passes enum constants, and
     * tests need to build frames of unknown types to check the decoder.
     */
    if (body_len > SRM_WIRE_MAX_BODY) {
        return SRM_ERR_TOO_LARGE;
    }
    if (SRM_WIRE_FRAME_HDR > srm_buf_avail(out) ||
        body_len > srm_buf_avail(out) - SRM_WIRE_FRAME_HDR) {
        return SRM_ERR_NO_SPACE;
    }
    if ((r = srm_buf_put_u32(out, (uint32_t)(body_len + 1u))) != 0 ||
        (r = srm_buf_put_u8(out, type)) != 0 || (r = srm_buf_put_bytes(out, body, body_len)) != 0) {
        goto out;
    }
    r = 0;
out:
    if (r != 0) {
        out->len = save;
    }
    return r;
}
