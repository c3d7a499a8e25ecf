/* SPDX-License-Identifier: MIT */
/* test_buf.c: the bounded reader/writer, including truncated input and failure leaving state
 * unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "srm/buf.h"
#include "srm/wire.h"

static void test_roundtrip(void **state)
{
    uint8_t mem[64];
    struct srm_buf w, r;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    const uint8_t *p;
    size_t n;
    char name[SRM_WIRE_MAX_NAME + 1];

    (void)state;
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_buf_put_u8(&w, 0xab), 0);
    assert_int_equal(srm_buf_put_u16(&w, 0x1234), 0);
    assert_int_equal(srm_buf_put_u32(&w, 0xdeadbeef), 0);
    assert_int_equal(srm_buf_put_u64(&w, 0x0102030405060708ull), 0);
    assert_int_equal(srm_buf_put_string8(&w, "hi", 2), 0);
    assert_int_equal(srm_buf_put_string16(&w, "abc", 3), 0);
    assert_int_equal(srm_buf_put_name(&w, "alice"), 0);
    assert_int_equal(w.len, 1 + 2 + 4 + 8 + 3 + 5 + 6);
    assert_int_equal(mem[1], 0x12);
    assert_int_equal(mem[3], 0xde);
    assert_int_equal(mem[7], 0x01);

    srm_buf_init_read(&r, mem, w.len);
    assert_int_equal(srm_buf_get_u8(&r, &u8), 0);
    assert_int_equal(u8, 0xab);
    assert_int_equal(srm_buf_get_u16(&r, &u16), 0);
    assert_int_equal(u16, 0x1234);
    assert_int_equal(srm_buf_get_u32(&r, &u32), 0);
    assert_int_equal(u32, 0xdeadbeef);
    assert_int_equal(srm_buf_get_u64(&r, &u64), 0);
    assert_true(u64 == 0x0102030405060708ull);
    assert_int_equal(srm_buf_get_string8(&r, 16, &p, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(p, "hi", 2);
    assert_int_equal(srm_buf_get_string16(&r, 16, &p, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(srm_buf_get_name(&r, name), 0);
    assert_string_equal(name, "alice");
    assert_int_equal(srm_buf_expect_end(&r), 0);
}

static void test_truncated_consumes_nothing(void **state)
{
    uint8_t mem[16] = {0, 0, 0, 9, 1, 2, 3};
    struct srm_buf r;
    uint32_t u32;
    uint64_t u64;
    const uint8_t *p;
    size_t n, len;

    (void)state;
    /* Every truncation of a u32-prefixed string of 9 bytes fails and leaves off at 0. */
    for (len = 0; len < 13; len++) {
        srm_buf_init_read(&r, mem, len);
        assert_int_equal(srm_buf_get_string32(&r, 100, &p, &n), SRM_ERR_MSG_INCOMPLETE);
        assert_int_equal(r.off, 0);
    }
    srm_buf_init_read(&r, mem, 3);
    assert_int_equal(srm_buf_get_u32(&r, &u32), SRM_ERR_MSG_INCOMPLETE);
    assert_int_equal(srm_buf_get_u64(&r, &u64), SRM_ERR_MSG_INCOMPLETE);
    assert_int_equal(r.off, 0);
    assert_int_equal(srm_buf_expect_end(&r), SRM_ERR_TRAILING_DATA);
}

static void test_limits(void **state)
{
    uint8_t mem[8] = {0xff, 0xff, 0xff, 0xff, 0};
    uint8_t out[4];
    struct srm_buf r, w;
    const uint8_t *p;
    size_t n;

    (void)state;
    /* A huge length is refused before any wait for its bytes, without overflow. */
    srm_buf_init_read(&r, mem, sizeof(mem));
    assert_int_equal(srm_buf_get_string32(&r, SRM_WIRE_MAX_FRAME, &p, &n), SRM_ERR_TOO_LARGE);
    assert_int_equal(r.off, 0);
    srm_buf_init_read(&r, mem, sizeof(mem));
    assert_int_equal(srm_buf_get_string32(&r, SIZE_MAX, &p, &n), SRM_ERR_MSG_INCOMPLETE);

    srm_buf_init_write(&w, out, sizeof(out));
    assert_int_equal(srm_buf_put_u64(&w, 1), SRM_ERR_NO_SPACE);
    assert_int_equal(w.len, 0);
    assert_int_equal(srm_buf_put_string8(&w, "abcd", 4), SRM_ERR_NO_SPACE);
    assert_int_equal(w.len, 0);
    assert_int_equal(srm_buf_put_u32(&w, 7), 0);
    assert_int_equal(srm_buf_put_u8(&w, 1), SRM_ERR_NO_SPACE);
    assert_int_equal(srm_buf_patch_u32(&w, 0, 0x01020304), 0);
    assert_int_equal(out[3], 4);
    assert_int_equal(srm_buf_patch_u32(&w, 1, 0), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_buf_patch_u32(&w, SIZE_MAX, 0), SRM_ERR_INVALID_ARG);
}

static void test_names(void **state)
{
    static const char *good[] = {"a", "alice", "bob_2", "x-y", "abcdefghijklmnopqrstuvwxyz012345"};
    static const char *bad[] = {"",   "Alice", "a/b", "a.b",
                                "..", "a b",   "é",   "abcdefghijklmnopqrstuvwxyz0123456"};
    uint8_t mem[40] = {3, 'a', '/', 'b'};
    struct srm_buf r;
    char name[SRM_WIRE_MAX_NAME + 1];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(srm_name_check_str(good[i]), 0);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(srm_name_check_str(bad[i]), SRM_ERR_BAD_NAME);
    }
    assert_int_equal(srm_name_check_str(NULL), SRM_ERR_BAD_NAME);
    srm_buf_init_read(&r, mem, 4);
    assert_int_equal(srm_buf_get_name(&r, name), SRM_ERR_BAD_NAME);
    assert_int_equal(r.off, 0);
    mem[0] = 33;
    srm_buf_init_read(&r, mem, sizeof(mem));
    assert_int_equal(srm_buf_get_name(&r, name), SRM_ERR_BAD_NAME);
    assert_int_equal(r.off, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_truncated_consumes_nothing),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
