/* SPDX-License-Identifier: MIT */
/*
 * test_msg.c: the link messages of msg.h: every type written and parsed
 * back, every truncation and a trailing byte refused (leaving the caller's
 * struct untouched), bad names, bad counts and values, unknown types, and
 * writers that refuse without writing a byte.
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
#include "srm/msg.h"
#include "srm/sess.h"
#include "srm/wire.h"

#define NUM_TYPES 11

static const uint8_t payload[] = {SRM_E2E_RECORD, 1, 2, 3, 4, 5, 6, 7, 8};
static const char *const list_names[] = {"alice", "bob", "carol_2", "d-e"};

/* Write one valid message of each type into mem; sizes into len[]. */
static void build_all(uint8_t mem[NUM_TYPES][128], size_t len[NUM_TYPES])
{
    uint8_t th[SRM_HASH_LEN];
    struct srm_buf w;
    size_t i;
    int r = 0;

    for (i = 0; i < sizeof(th); i++) {
        th[i] = (uint8_t)(0xa0u + i);
    }
    for (i = 0; i < NUM_TYPES; i++) {
        srm_buf_init_write(&w, mem[i], 128);
        switch (i + 1) {
        case SRM_MSG_CONFIRM:
            r = srm_msg_put_confirm(&w, th);
            break;
        case SRM_MSG_WELCOME:
            r = srm_msg_put_list(&w, SRM_MSG_WELCOME, list_names, 4);
            break;
        case SRM_MSG_SEND:
            r = srm_msg_put_send(&w, "bob", 0x01020304u, payload, sizeof(payload));
            break;
        case SRM_MSG_DELIVER:
            r = srm_msg_put_deliver(&w, "alice", payload, sizeof(payload));
            break;
        case SRM_MSG_UNDELIVERABLE:
            r = srm_msg_put_undeliverable(&w, "carol", 0xfffffffeu, SRM_REASON_OFFLINE);
            break;
        case SRM_MSG_WHO:
            r = srm_msg_put_who(&w);
            break;
        case SRM_MSG_WHO_REPLY:
            r = srm_msg_put_list(&w, SRM_MSG_WHO_REPLY, list_names, 2);
            break;
        case SRM_MSG_PRESENCE:
            r = srm_msg_put_presence(&w, "dave", SRM_PRESENCE_ONLINE);
            break;
        case SRM_MSG_PING:
            r = srm_msg_put_ping(&w, SRM_MSG_PING, 0x0102030405060708ull);
            break;
        case SRM_MSG_PONG:
            r = srm_msg_put_ping(&w, SRM_MSG_PONG, 0xfedcba9876543210ull);
            break;
        case SRM_MSG_BYE:
            r = srm_msg_put_bye(&w, SRM_REASON_SHUTDOWN);
            break;
        default:
            fail();
        }
        assert_int_equal(r, 0);
        len[i] = w.len;
    }
}

static void test_roundtrip_every_type(void **state)
{
    uint8_t mem[NUM_TYPES][128];
    size_t len[NUM_TYPES], off, i;
    struct srm_msg m;
    char name[SRM_WIRE_MAX_NAME + 1];

    (void)state;
    build_all(mem, len);
    for (i = 0; i < NUM_TYPES; i++) {
        memset(&m, 0x33, sizeof(m));
        assert_int_equal(srm_msg_parse(mem[i], len[i], &m), 0);
        assert_int_equal(m.type, i + 1);
        assert_int_equal(mem[i][0], i + 1);
    }

    /* Byte layouts, field by field. */
    assert_int_equal(srm_msg_parse(mem[0], len[0], &m), 0);
    assert_int_equal(len[0], 33);
    assert_int_equal(m.data_len, SRM_HASH_LEN);
    assert_ptr_equal(m.data, mem[0] + 1);
    assert_int_equal(m.data[31], 0xa0 + 31);

    assert_int_equal(srm_msg_parse(mem[1], len[1], &m), 0);
    assert_int_equal(len[1], 1 + 2 + 6 + 4 + 8 + 4);
    assert_memory_equal(mem[1],
                        "\x02\x00\x04\x05"
                        "alice\x03"
                        "bob",
                        13);
    assert_int_equal(m.count, 4);
    off = 0;
    for (i = 0; i < 4; i++) {
        assert_int_equal(srm_msg_list_next(&m, &off, name), 1);
        assert_string_equal(name, list_names[i]);
    }
    assert_int_equal(srm_msg_list_next(&m, &off, name), 0);
    assert_int_equal(srm_msg_list_next(&m, &off, name), 0);

    assert_int_equal(srm_msg_parse(mem[2], len[2], &m), 0);
    assert_memory_equal(mem[2],
                        "\x03\x03"
                        "bob\x01\x02\x03\x04",
                        9);
    assert_string_equal(m.name, "bob");
    assert_int_equal(m.ref, 0x01020304u);
    assert_int_equal(m.data_len, sizeof(payload));
    assert_memory_equal(m.data, payload, sizeof(payload));
    assert_ptr_equal(m.data, mem[2] + 9);

    assert_int_equal(srm_msg_parse(mem[3], len[3], &m), 0);
    assert_int_equal(len[3], 1 + 6 + sizeof(payload));
    assert_string_equal(m.name, "alice");
    assert_int_equal(m.data_len, sizeof(payload));
    assert_memory_equal(m.data, payload, sizeof(payload));

    assert_int_equal(srm_msg_parse(mem[4], len[4], &m), 0);
    assert_memory_equal(mem[4],
                        "\x05\x05"
                        "carol\xff\xff\xff\xfe\x01",
                        12);
    assert_int_equal(len[4], 12);
    assert_string_equal(m.name, "carol");
    assert_int_equal(m.ref, 0xfffffffeu);
    assert_int_equal(m.code, SRM_REASON_OFFLINE);

    assert_int_equal(len[5], 1);

    assert_int_equal(srm_msg_parse(mem[6], len[6], &m), 0);
    assert_int_equal(m.count, 2);
    off = 0;
    assert_int_equal(srm_msg_list_next(&m, &off, name), 1);
    assert_string_equal(name, "alice");
    assert_int_equal(srm_msg_list_next(&m, &off, name), 1);
    assert_string_equal(name, "bob");
    assert_int_equal(srm_msg_list_next(&m, &off, name), 0);

    assert_int_equal(srm_msg_parse(mem[7], len[7], &m), 0);
    assert_memory_equal(mem[7],
                        "\x08\x04"
                        "dave\x01",
                        7);
    assert_int_equal(len[7], 7);
    assert_string_equal(m.name, "dave");
    assert_int_equal(m.code, SRM_PRESENCE_ONLINE);

    assert_int_equal(srm_msg_parse(mem[8], len[8], &m), 0);
    assert_memory_equal(mem[8], "\x09\x01\x02\x03\x04\x05\x06\x07\x08", 9);
    assert_true(m.token == 0x0102030405060708ull);
    assert_int_equal(srm_msg_parse(mem[9], len[9], &m), 0);
    assert_true(m.token == 0xfedcba9876543210ull);

    assert_int_equal(srm_msg_parse(mem[10], len[10], &m), 0);
    assert_memory_equal(mem[10], "\x0b\x04", 2);
    assert_int_equal(len[10], 2);
    assert_int_equal(m.code, SRM_REASON_SHUTDOWN);
}

/*
 * Every proper prefix of every message is refused and leaves *m untouched.
 * SEND and DELIVER end in an undelimited payload (the rest of the link
 * record, whose length the AEAD protects), so a prefix that still holds a
 * payload byte is a valid message with a shorter payload; every prefix
 * shorter than that is refused.
 */
static void test_every_truncation(void **state)
{
    uint8_t mem[NUM_TYPES][128];
    size_t len[NUM_TYPES], i, n, head;
    struct srm_msg m, before;
    int r;

    (void)state;
    build_all(mem, len);
    memset(&before, 0x5c, sizeof(before));
    for (i = 0; i < NUM_TYPES; i++) {
        head = len[i];
        if (i + 1 == SRM_MSG_SEND || i + 1 == SRM_MSG_DELIVER) {
            head = len[i] - sizeof(payload);
            for (n = head + 1; n < len[i]; n++) {
                assert_int_equal(srm_msg_parse(mem[i], n, &m), 0);
                assert_int_equal(m.data_len, n - head);
            }
        }
        for (n = 0; n <= head && n < len[i]; n++) {
            m = before;
            r = srm_msg_parse(mem[i], n, &m);
            assert_int_not_equal(r, 0);
            /* A cut through a name's bytes is a short message, not a bad name. */
            assert_int_equal(r, SRM_ERR_MALFORMED);
            assert_memory_equal(&m, &before, sizeof(m));
        }
    }
}

static void test_trailing_byte(void **state)
{
    uint8_t mem[NUM_TYPES][128];
    size_t len[NUM_TYPES], i;
    struct srm_msg m;

    (void)state;
    build_all(mem, len);
    for (i = 0; i < NUM_TYPES; i++) {
        if (i + 1 == SRM_MSG_SEND || i + 1 == SRM_MSG_DELIVER) {
            /* The payload is the rest: an extra byte is payload, not trailing. */
            continue;
        }
        mem[i][len[i]] = 0;
        assert_int_equal(srm_msg_parse(mem[i], len[i] + 1, &m), SRM_ERR_MALFORMED);
    }
    assert_int_equal(srm_msg_parse(mem[2], len[2] + 1, &m), 0);
    assert_int_equal(m.data_len, sizeof(payload) + 1);
}

/* Hand-build "type || string8 name || tail" and parse it. */
static int parse_named(uint8_t type, const char *name, size_t name_len, const uint8_t *tail,
                       size_t tail_len)
{
    uint8_t mem[300];
    struct srm_msg m;

    mem[0] = type;
    mem[1] = (uint8_t)name_len;
    memcpy(mem + 2, name, name_len);
    memcpy(mem + 2 + name_len, tail, tail_len);
    return srm_msg_parse(mem, 2 + name_len + tail_len, &m);
}

static void test_bad_names(void **state)
{
    static const char *const bad[] = {
        "Alice", "a/b",  "..",          "a.b",
        "",      "bob ", "caf\xc3\xa9", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 33 */};
    static const uint8_t send_tail[] = {0, 0, 0, 1, 0x04, 0x00};
    static const uint8_t undeliv_tail[] = {0, 0, 0, 1, SRM_REASON_OFFLINE};
    static const uint8_t presence_tail[] = {SRM_PRESENCE_ONLINE};
    uint8_t mem[128];
    struct srm_buf w;
    size_t i, n;
    const char *one[1];

    (void)state;
    /* The good one first, so the bad ones fail for their name alone. */
    assert_int_equal(parse_named(SRM_MSG_SEND, "bob", 3, send_tail, sizeof(send_tail)), 0);
    assert_int_equal(parse_named(SRM_MSG_PRESENCE, "a", 1, presence_tail, 1), 0);
    assert_int_equal(
        parse_named(SRM_MSG_SEND, "abcdefghijklmnopqrstuvwxyz0123_-", 32, send_tail, 6), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = strlen(bad[i]);
        assert_int_equal(parse_named(SRM_MSG_SEND, bad[i], n, send_tail, sizeof(send_tail)),
                         SRM_ERR_BAD_NAME);
        assert_int_equal(parse_named(SRM_MSG_DELIVER, bad[i], n, send_tail, sizeof(send_tail)),
                         SRM_ERR_BAD_NAME);
        assert_int_equal(
            parse_named(SRM_MSG_UNDELIVERABLE, bad[i], n, undeliv_tail, sizeof(undeliv_tail)),
            SRM_ERR_BAD_NAME);
        assert_int_equal(
            parse_named(SRM_MSG_PRESENCE, bad[i], n, presence_tail, sizeof(presence_tail)),
            SRM_ERR_BAD_NAME);

        /* Writers refuse them too, writing nothing. */
        srm_buf_init_write(&w, mem, sizeof(mem));
        one[0] = bad[i];
        assert_int_equal(srm_msg_put_send(&w, bad[i], 1, payload, 1), SRM_ERR_BAD_NAME);
        assert_int_equal(srm_msg_put_deliver(&w, bad[i], payload, 1), SRM_ERR_BAD_NAME);
        assert_int_equal(srm_msg_put_undeliverable(&w, bad[i], 1, 0), SRM_ERR_BAD_NAME);
        assert_int_equal(srm_msg_put_presence(&w, bad[i], 0), SRM_ERR_BAD_NAME);
        assert_int_equal(srm_msg_put_list(&w, SRM_MSG_WHO_REPLY, one, 1), SRM_ERR_BAD_NAME);
        assert_int_equal(w.len, 0);
    }
    /* A NUL inside a name on the wire. */
    assert_int_equal(parse_named(SRM_MSG_DELIVER, "a\0b", 3, send_tail, 1), SRM_ERR_BAD_NAME);
}

static void test_bad_lists(void **state)
{
    /* WELCOME claiming 3 names but holding 2. */
    static const uint8_t short_list[] = {SRM_MSG_WELCOME, 0, 3, 1, 'a', 1, 'b'};
    /* WHO_REPLY holding a bad name as its second entry. */
    static const uint8_t bad_entry[] = {SRM_MSG_WHO_REPLY, 0, 2, 1, 'a', 1, 'B'};
    /* WHO_REPLY with count 0: fine. */
    static const uint8_t empty[] = {SRM_MSG_WHO_REPLY, 0, 0};
    /* Count 1 with two names: the second trails. */
    static const uint8_t extra[] = {SRM_MSG_WELCOME, 0, 1, 1, 'a', 1, 'b'};
    /* Count over SRM_WIRE_MAX_LIST. */
    static const uint8_t huge[] = {SRM_MSG_WELCOME, 0x10, 0x01, 1, 'a'};
    struct srm_msg m;
    char name[SRM_WIRE_MAX_NAME + 1];
    size_t off = 0;

    (void)state;
    assert_int_equal(srm_msg_parse(short_list, sizeof(short_list), &m), SRM_ERR_MALFORMED);
    assert_int_equal(srm_msg_parse(bad_entry, sizeof(bad_entry), &m), SRM_ERR_BAD_NAME);
    assert_int_equal(srm_msg_parse(extra, sizeof(extra), &m), SRM_ERR_MALFORMED);
    assert_int_equal(srm_msg_parse(huge, sizeof(huge), &m), SRM_ERR_TOO_LARGE);
    assert_int_equal(srm_msg_parse(empty, sizeof(empty), &m), 0);
    assert_int_equal(m.count, 0);
    assert_int_equal(srm_msg_list_next(&m, &off, name), 0);
}

static void test_bad_values(void **state)
{
    static const uint8_t presence2[] = {SRM_MSG_PRESENCE, 1, 'a', 2};
    static const uint8_t presence0[] = {SRM_MSG_PRESENCE, 1, 'a', 0};
    static const uint8_t bye_bad[] = {SRM_MSG_BYE, SRM_REASON_UNKNOWN_USER + 1};
    static const uint8_t undeliv_bad[] = {SRM_MSG_UNDELIVERABLE, 1, 'a', 0, 0, 0, 0, 0xff};
    static const uint8_t send_empty[] = {SRM_MSG_SEND, 1, 'a', 0, 0, 0, 0};
    static const uint8_t deliver_empty[] = {SRM_MSG_DELIVER, 1, 'a'};
    static const uint8_t confirm_short[] = {SRM_MSG_CONFIRM, 1, 2, 3};
    uint8_t *big;
    size_t n;
    struct srm_msg m, before;
    struct srm_buf w;
    unsigned t;

    (void)state;
    assert_int_equal(srm_msg_parse(presence0, sizeof(presence0), &m), 0);
    assert_int_equal(m.code, SRM_PRESENCE_OFFLINE);
    memset(&before, 0x11, sizeof(before));
    m = before;
    assert_int_equal(srm_msg_parse(presence2, sizeof(presence2), &m), SRM_ERR_MALFORMED);
    assert_memory_equal(&m, &before, sizeof(m));
    assert_int_equal(srm_msg_parse(bye_bad, sizeof(bye_bad), &m), SRM_ERR_MALFORMED);
    assert_int_equal(srm_msg_parse(undeliv_bad, sizeof(undeliv_bad), &m), SRM_ERR_MALFORMED);
    assert_int_equal(srm_msg_parse(send_empty, sizeof(send_empty), &m), SRM_ERR_MALFORMED);
    assert_int_equal(srm_msg_parse(deliver_empty, sizeof(deliver_empty), &m), SRM_ERR_MALFORMED);
    assert_int_equal(srm_msg_parse(confirm_short, sizeof(confirm_short), &m), SRM_ERR_MALFORMED);
    assert_int_equal(srm_msg_parse(NULL, 0, &m), SRM_ERR_MALFORMED);

    /* Unknown types: 0 and everything past BYE. */
    for (t = 0; t < 256; t++) {
        uint8_t one = (uint8_t)t;
        if (t >= SRM_MSG_CONFIRM && t <= SRM_MSG_BYE) {
            assert_string_not_equal(srm_msg_type_name(one), "?");
            continue;
        }
        assert_int_equal(srm_msg_parse(&one, 1, &m), SRM_ERR_UNKNOWN_TYPE);
        assert_string_equal(srm_msg_type_name(one), "?");
    }
    assert_string_equal(srm_msg_type_name(SRM_MSG_SEND), "SEND");
    assert_string_equal(srm_msg_type_name(SRM_MSG_WHO_REPLY), "WHO_REPLY");

    /* Payload limits: SRM_SESS_MAX_PAYLOAD accepted, one more refused both ways. */
    n = 1 + 2 + 4 + SRM_SESS_MAX_PAYLOAD + 1;
    big = calloc(1, n + SRM_SESS_MAX_PAYLOAD + 1);
    assert_non_null(big);
    srm_buf_init_write(&w, big, n);
    assert_int_equal(srm_msg_put_send(&w, "a", 7, big + n, SRM_SESS_MAX_PAYLOAD), 0);
    assert_int_equal(w.len, n - 1);
    assert_int_equal(srm_msg_parse(big, w.len, &m), 0);
    assert_int_equal(m.data_len, SRM_SESS_MAX_PAYLOAD);
    assert_int_equal(srm_msg_parse(big, w.len + 1, &m), SRM_ERR_TOO_LARGE);
    srm_buf_init_write(&w, big, n);
    assert_int_equal(srm_msg_put_send(&w, "a", 7, big + n, SRM_SESS_MAX_PAYLOAD + 1),
                     SRM_ERR_TOO_LARGE);
    assert_int_equal(srm_msg_put_deliver(&w, "a", big + n, SRM_SESS_MAX_PAYLOAD + 1),
                     SRM_ERR_TOO_LARGE);
    assert_int_equal(srm_msg_put_send(&w, "a", 7, big + n, 0), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_msg_put_deliver(&w, "a", big + n, 0), SRM_ERR_INVALID_ARG);
    assert_int_equal(w.len, 0);
    free(big);

    /* Writers refuse values the parser would refuse. */
    srm_buf_init_write(&w, (uint8_t *)&before, sizeof(before));
    assert_int_equal(srm_msg_put_presence(&w, "a", 2), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_msg_put_bye(&w, 200), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_msg_put_undeliverable(&w, "a", 1, 200), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_msg_put_ping(&w, SRM_MSG_BYE, 1), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_msg_put_list(&w, SRM_MSG_SEND, list_names, 1), SRM_ERR_INVALID_ARG);
    assert_int_equal(srm_msg_put_list(&w, SRM_MSG_WELCOME, list_names, SRM_WIRE_MAX_LIST + 1),
                     SRM_ERR_TOO_LARGE);
    assert_int_equal(w.len, 0);
}

/* With room for one byte less than each message, every writer refuses and writes nothing. */
static void test_writers_no_space(void **state)
{
    uint8_t mem[NUM_TYPES][128], out[128], copy[128], th[SRM_HASH_LEN] = {0};
    size_t len[NUM_TYPES], i, cap;
    struct srm_buf w;
    int r = 0;

    (void)state;
    build_all(mem, len);
    for (i = 0; i < NUM_TYPES; i++) {
        for (cap = 0; cap < len[i]; cap++) {
            memset(out, 0xee, sizeof(out));
            memcpy(copy, out, sizeof(out));
            srm_buf_init_write(&w, out, cap);
            switch (i + 1) {
            case SRM_MSG_CONFIRM:
                r = srm_msg_put_confirm(&w, th);
                break;
            case SRM_MSG_WELCOME:
                r = srm_msg_put_list(&w, SRM_MSG_WELCOME, list_names, 4);
                break;
            case SRM_MSG_SEND:
                r = srm_msg_put_send(&w, "bob", 1, payload, sizeof(payload));
                break;
            case SRM_MSG_DELIVER:
                r = srm_msg_put_deliver(&w, "alice", payload, sizeof(payload));
                break;
            case SRM_MSG_UNDELIVERABLE:
                r = srm_msg_put_undeliverable(&w, "carol", 1, SRM_REASON_OFFLINE);
                break;
            case SRM_MSG_WHO:
                r = srm_msg_put_who(&w);
                break;
            case SRM_MSG_WHO_REPLY:
                r = srm_msg_put_list(&w, SRM_MSG_WHO_REPLY, list_names, 2);
                break;
            case SRM_MSG_PRESENCE:
                r = srm_msg_put_presence(&w, "dave", SRM_PRESENCE_ONLINE);
                break;
            case SRM_MSG_PING:
                r = srm_msg_put_ping(&w, SRM_MSG_PING, 1);
                break;
            case SRM_MSG_PONG:
                r = srm_msg_put_ping(&w, SRM_MSG_PONG, 1);
                break;
            case SRM_MSG_BYE:
                r = srm_msg_put_bye(&w, SRM_REASON_NONE);
                break;
            default:
                fail();
            }
            assert_int_equal(r, SRM_ERR_NO_SPACE);
            assert_int_equal(w.len, 0);
            /* Not even past len: the bytes are as they were. */
            assert_memory_equal(out, copy, sizeof(out));
        }
    }
}

/* Appending keeps what is already in the buffer. */
static void test_writers_append(void **state)
{
    uint8_t mem[64];
    struct srm_buf w;
    struct srm_msg m;

    (void)state;
    srm_buf_init_write(&w, mem, sizeof(mem));
    assert_int_equal(srm_msg_put_who(&w), 0);
    assert_int_equal(srm_msg_put_bye(&w, SRM_REASON_PROTOCOL), 0);
    assert_int_equal(w.len, 3);
    assert_int_equal(srm_msg_parse(mem, 1, &m), 0);
    assert_int_equal(m.type, SRM_MSG_WHO);
    assert_int_equal(srm_msg_parse(mem + 1, 2, &m), 0);
    assert_int_equal(m.type, SRM_MSG_BYE);
    assert_int_equal(m.code, SRM_REASON_PROTOCOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_trailing_byte),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_bad_lists),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_writers_no_space),
        cmocka_unit_test(test_writers_append),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
