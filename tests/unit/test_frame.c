/* SPDX-License-Identifier: MIT */
/*
 * test_frame.c: the TCP framing of DESIGN.md section 6: whole frames, frames
 * fed one byte at a time, several frames in one buffer, the length limit
 * judged from the 4-byte header alone, zero length, unknown types, and the
 * encoder (round trip, limits, all-or-nothing writes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/frame.h"
#include "srm/wire.h"

/* A frame of len 0x00000004: type LINK, body "abc". */
static const uint8_t one_frame[] = {0x00, 0x00, 0x00, 0x04, SRM_FRAME_LINK, 'a', 'b', 'c'};

static void test_single_frame(void **state)
{
    struct srm_frame f;
    size_t consumed = 0;

    (void)state;
    assert_int_equal(srm_frame_decode(one_frame, sizeof(one_frame), &f, &consumed), 0);
    assert_int_equal(consumed, sizeof(one_frame));
    assert_int_equal(f.type, SRM_FRAME_LINK);
    assert_int_equal(f.body_len, 3);
    /* The body is a view into the caller's bytes, not a copy. */
    assert_ptr_equal(f.body, one_frame + 5);
    assert_memory_equal(f.body, "abc", 3);
}

static void test_empty_body(void **state)
{
    static const uint8_t in[] = {0, 0, 0, 1, SRM_FRAME_REG_ERROR};
    struct srm_frame f;
    size_t consumed = 0;

    (void)state;
    assert_int_equal(srm_frame_decode(in, sizeof(in), &f, &consumed), 0);
    assert_int_equal(consumed, 5);
    assert_int_equal(f.type, SRM_FRAME_REG_ERROR);
    assert_int_equal(f.body_len, 0);
}

/*
 * Feed a frame of 300 body bytes one byte more at a time (as a socket that
 * splits it at every boundary would): each prefix asks for exactly what it
 * needs, never decodes, and leaves *f untouched.
 */
static void test_split_at_every_byte(void **state)
{
    uint8_t mem[SRM_WIRE_FRAME_HDR + 300], body[300];
    struct srm_buf w;
    struct srm_frame f, before;
    size_t i, consumed;

    (void)state;
    for (i = 0; i < sizeof(body); i++) {
        body[i] = (uint8_t)(i * 7u + 1u);
    }
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_frame_encode(&w, SRM_FRAME_REG_HELLO, body, sizeof(body)), 0);
    assert_int_equal(w.len, sizeof(mem));

    memset(&before, 0x5a, sizeof(before));
    for (i = 0; i < sizeof(mem); i++) {
        f = before;
        consumed = 12345;
        assert_int_equal(srm_frame_decode(mem, i, &f, &consumed), SRM_ERR_MSG_INCOMPLETE);
        if (i < 4) {
            /* Length unknown: a header is all that can be asked for. */
            assert_int_equal(consumed, SRM_WIRE_FRAME_HDR);
        } else {
            assert_int_equal(consumed, sizeof(mem));
        }
        assert_true(consumed > i);
        assert_memory_equal(&f, &before, sizeof(f));
    }
    assert_int_equal(srm_frame_decode(mem, sizeof(mem), &f, &consumed), 0);
    assert_int_equal(consumed, sizeof(mem));
    assert_int_equal(f.type, SRM_FRAME_REG_HELLO);
    assert_int_equal(f.body_len, sizeof(body));
    assert_memory_equal(f.body, body, sizeof(body));
}

/* Several frames back to back, with a partial one at the end. */
static void test_several_frames(void **state)
{
    static const uint8_t types[] = {SRM_FRAME_REG_HELLO, SRM_FRAME_REG_CHALLENGE,
                                    SRM_FRAME_REG_RESPONSE, SRM_FRAME_LINK, SRM_FRAME_LINK};
    uint8_t mem[256], body[16];
    struct srm_buf w;
    struct srm_frame f;
    size_t i, pos = 0, consumed, full;

    (void)state;
    srm_buf_init_write(&w, mem, sizeof(mem));
    for (i = 0; i < sizeof(types); i++) {
        memset(body, (int)i, sizeof(body));
        /* Bodies of 0, 3, 6, 9, 12 bytes. */
        assert_int_equal(srm_frame_encode(&w, types[i], body, i * 3), 0);
    }
    full = w.len;
    /* A sixth frame cut off after its type byte. */
    assert_int_equal(srm_frame_encode(&w, SRM_FRAME_LINK, body, 10), 0);
    w.len -= 10;

    for (i = 0; i < sizeof(types); i++) {
        assert_int_equal(srm_frame_decode(mem + pos, w.len - pos, &f, &consumed), 0);
        assert_int_equal(f.type, types[i]);
        assert_int_equal(f.body_len, i * 3);
        if (i > 0) {
            assert_int_equal(f.body[0], i);
        }
        pos += consumed;
    }
    assert_int_equal(pos, full);
    assert_int_equal(srm_frame_decode(mem + pos, w.len - pos, &f, &consumed),
                     SRM_ERR_MSG_INCOMPLETE);
    assert_int_equal(consumed, SRM_WIRE_FRAME_HDR + 10);
}

/* The largest frame is accepted; one byte more is refused from the header alone. */
static void test_limits(void **state)
{
    uint8_t hdr[SRM_WIRE_FRAME_HDR] = {0x00, 0x02, 0x00, 0x00, SRM_FRAME_LINK}; /* 131072 */
    uint8_t *mem, *body;
    struct srm_buf w;
    struct srm_frame f;
    size_t consumed = 0, n;

    (void)state;
    assert_int_equal(SRM_WIRE_MAX_FRAME, 131072);
    /* 131072: the header alone asks for the whole frame. */
    for (n = 4; n <= 5; n++) {
        assert_int_equal(srm_frame_decode(hdr, n, &f, &consumed), SRM_ERR_MSG_INCOMPLETE);
        assert_int_equal(consumed, 4 + 131072);
    }
    /* 131073: refused with only the four length bytes, before any body. */
    hdr[3] = 0x01;
    consumed = 99;
    assert_int_equal(srm_frame_decode(hdr, 4, &f, &consumed), SRM_ERR_TOO_LARGE);
    assert_int_equal(srm_frame_decode(hdr, 5, &f, &consumed), SRM_ERR_TOO_LARGE);
    /* And the largest possible length value too. */
    memset(hdr, 0xff, 4);
    assert_int_equal(srm_frame_decode(hdr, 4, &f, &consumed), SRM_ERR_TOO_LARGE);

    /* A whole frame of exactly 131072 decodes. */
    n = SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_BODY;
    mem = calloc(1, n + 1);
    body = calloc(1, SRM_WIRE_MAX_BODY + 1);
    assert_non_null(mem);
    assert_non_null(body);
    body[SRM_WIRE_MAX_BODY - 1] = 0xab;
    srm_buf_init_write(&w, mem, n + 1);
    assert_int_equal(srm_frame_encode(&w, SRM_FRAME_LINK, body, SRM_WIRE_MAX_BODY), 0);
    assert_int_equal(w.len, n);
    assert_int_equal(mem[1], 0x02);
    assert_int_equal(mem[3], 0x00);
    assert_int_equal(srm_frame_decode(mem, n, &f, &consumed), 0);
    assert_int_equal(consumed, n);
    assert_int_equal(f.body_len, SRM_WIRE_MAX_BODY);
    assert_int_equal(f.body[SRM_WIRE_MAX_BODY - 1], 0xab);
    assert_int_equal(srm_frame_decode(mem, n - 1, &f, &consumed), SRM_ERR_MSG_INCOMPLETE);
    assert_int_equal(consumed, n);

    /* The encoder refuses a body one byte too long and writes nothing. */
    srm_buf_init_write(&w, mem, n + 1);
    assert_int_equal(srm_frame_encode(&w, SRM_FRAME_LINK, body, SRM_WIRE_MAX_BODY + 1),
                     SRM_ERR_TOO_LARGE);
    assert_int_equal(w.len, 0);
    free(body);
    free(mem);
}

static void test_zero_length(void **state)
{
    static const uint8_t in[] = {0, 0, 0, 0, SRM_FRAME_LINK, 1, 2};
    struct srm_frame f;
    size_t consumed;

    (void)state;
    assert_int_equal(srm_frame_decode(in, 4, &f, &consumed), SRM_ERR_BAD_FRAME);
    assert_int_equal(srm_frame_decode(in, sizeof(in), &f, &consumed), SRM_ERR_BAD_FRAME);
}

static void test_unknown_types(void **state)
{
    uint8_t in[] = {0, 0, 0, 3, 0, 'x', 'y'};
    struct srm_frame f, before;
    size_t consumed;
    unsigned t, known = 0;

    (void)state;
    memset(&before, 0x77, sizeof(before));
    for (t = 0; t < 256; t++) {
        in[4] = (uint8_t)t;
        f = before;
        if (srm_frame_type_known((uint8_t)t)) {
            known++;
            assert_int_equal(srm_frame_decode(in, sizeof(in), &f, &consumed), 0);
            assert_int_equal(f.type, t);
            continue;
        }
        assert_int_equal(srm_frame_decode(in, sizeof(in), &f, &consumed), SRM_ERR_UNKNOWN_TYPE);
        /* Refused as soon as the type byte is seen, before the body arrives. */
        assert_int_equal(srm_frame_decode(in, 5, &f, &consumed), SRM_ERR_UNKNOWN_TYPE);
        assert_memory_equal(&f, &before, sizeof(f));
    }
    assert_int_equal(known, 5);
    assert_true(srm_frame_type_known(SRM_FRAME_REG_HELLO));
    assert_true(srm_frame_type_known(SRM_FRAME_REG_CHALLENGE));
    assert_true(srm_frame_type_known(SRM_FRAME_REG_RESPONSE));
    assert_true(srm_frame_type_known(SRM_FRAME_REG_ERROR));
    assert_true(srm_frame_type_known(SRM_FRAME_LINK));
    assert_false(srm_frame_type_known(0x00));
    assert_false(srm_frame_type_known(0x05));
    assert_false(srm_frame_type_known(0x11));
    assert_false(srm_frame_type_known(0xff));
}

static void test_encode_roundtrip_and_no_space(void **state)
{
    static const uint8_t body[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};
    uint8_t mem[32], copy[32];
    struct srm_buf w;
    struct srm_frame f;
    size_t consumed, cap;

    (void)state;
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_frame_encode(&w, SRM_FRAME_REG_RESPONSE, body, sizeof(body)), 0);
    assert_int_equal(w.len, 5 + sizeof(body));
    assert_memory_equal(mem, ((const uint8_t[]){0, 0, 0, 7, SRM_FRAME_REG_RESPONSE}), 5);
    assert_memory_equal(mem + 5, body, sizeof(body));
    assert_int_equal(srm_frame_decode(mem, w.len, &f, &consumed), 0);
    assert_int_equal(consumed, w.len);
    assert_int_equal(f.type, SRM_FRAME_REG_RESPONSE);
    assert_int_equal(f.body_len, sizeof(body));
    assert_memory_equal(f.body, body, sizeof(body));

    /* An empty body with a NULL pointer is fine. */
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_frame_encode(&w, SRM_FRAME_REG_ERROR, NULL, 0), 0);
    assert_int_equal(w.len, 5);

    /* Too little room for any part of the frame: nothing written, len unchanged. */
    for (cap = 0; cap < 5 + sizeof(body); cap++) {
        memset(mem, 0xee, sizeof(mem));
        memcpy(copy, mem, sizeof(mem));
        srm_buf_init_write(&w, mem, cap);
        assert_int_equal(srm_frame_encode(&w, SRM_FRAME_LINK, body, sizeof(body)),
                         SRM_ERR_NO_SPACE);
        assert_int_equal(w.len, 0);
        assert_memory_equal(mem, copy, sizeof(mem));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_frame),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_several_frames),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_encode_roundtrip_and_no_space),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
