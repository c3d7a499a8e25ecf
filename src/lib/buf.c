/* SPDX-License-Identifier: MIT */
/*
 * buf.c: bounded big-endian reader and writer (see buf.h).
 *
 * Every check has the subtraction form `n > len - off`, which cannot
 * overflow because off <= len is an invariant, unlike `off + n > len`.
 */
#include <string.h>

#include "srm/buf.h"
#include "srm/wire.h"

static int get_string(struct srm_buf *b, size_t prefix, size_t max, const uint8_t **p, size_t *n);

void srm_buf_init_read(struct srm_buf *b, const uint8_t *p, size_t n)
{
    /* Readers never write through data; the cast only shares the struct. */
    b->data = (uint8_t *)(uintptr_t)p;
    b->cap = n;
    b->len = n;
    b->off = 0;
}

void srm_buf_init_write(struct srm_buf *b, uint8_t *p, size_t cap)
{
    b->data = p;
    b->cap = cap;
    b->len = 0;
    b->off = 0;
}

size_t srm_buf_remaining(const struct srm_buf *b)
{
    return b->len - b->off;
}

size_t srm_buf_avail(const struct srm_buf *b)
{
    return b->cap - b->len;
}

int srm_buf_is_consumed(const struct srm_buf *b)
{
    return b->off == b->len;
}

int srm_buf_expect_end(const struct srm_buf *b)
{
    return srm_buf_is_consumed(b) ? 0 : SRM_ERR_TRAILING_DATA;
}

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void store_be(uint8_t *p, uint64_t v, size_t n)
{
    size_t i;

    for (i = n; i > 0; i--) {
        p[i - 1] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static int get_uint(struct srm_buf *b, size_t n, uint64_t *v)
{
    if (n > b->len - b->off) {
        return SRM_ERR_MSG_INCOMPLETE;
    }
    *v = load_be(b->data + b->off, n);
    b->off += n;
    return 0;
}

int srm_buf_get_u8(struct srm_buf *b, uint8_t *v)
{
    uint64_t t;
    int r;

    if ((r = get_uint(b, 1, &t)) != 0) {
        return r;
    }
    *v = (uint8_t)t;
    return 0;
}

int srm_buf_get_u16(struct srm_buf *b, uint16_t *v)
{
    uint64_t t;
    int r;

    if ((r = get_uint(b, 2, &t)) != 0) {
        return r;
    }
    *v = (uint16_t)t;
    return 0;
}

int srm_buf_get_u32(struct srm_buf *b, uint32_t *v)
{
    uint64_t t;
    int r;

    if ((r = get_uint(b, 4, &t)) != 0) {
        return r;
    }
    *v = (uint32_t)t;
    return 0;
}

int srm_buf_get_u64(struct srm_buf *b, uint64_t *v)
{
    return get_uint(b, 8, v);
}

int srm_buf_peek_u8(const struct srm_buf *b, uint8_t *v)
{
    if (b->len - b->off < 1) {
        return SRM_ERR_MSG_INCOMPLETE;
    }
    *v = b->data[b->off];
    return 0;
}

int srm_buf_peek_u32(const struct srm_buf *b, uint32_t *v)
{
    if (b->len - b->off < 4) {
        return SRM_ERR_MSG_INCOMPLETE;
    }
    *v = (uint32_t)load_be(b->data + b->off, 4);
    return 0;
}

int srm_buf_get_bytes(struct srm_buf *b, void *out, size_t n)
{
    if (n > b->len - b->off) {
        return SRM_ERR_MSG_INCOMPLETE;
    }
    if (n > 0) {
        memcpy(out, b->data + b->off, n);
    }
    b->off += n;
    return 0;
}

int srm_buf_get_view(struct srm_buf *b, size_t n, const uint8_t **p)
{
    if (n > b->len - b->off) {
        return SRM_ERR_MSG_INCOMPLETE;
    }
    *p = b->data + b->off;
    b->off += n;
    return 0;
}

void srm_buf_get_rest(struct srm_buf *b, const uint8_t **p, size_t *n)
{
    *p = b->data + b->off;
    *n = b->len - b->off;
    b->off = b->len;
}

static int get_string(struct srm_buf *b, size_t prefix, size_t max, const uint8_t **p, size_t *n)
{
    uint64_t len;

    if (prefix > b->len - b->off) {
        return SRM_ERR_MSG_INCOMPLETE;
    }
    len = load_be(b->data + b->off, prefix);
    if (len > max) {
        return SRM_ERR_TOO_LARGE;
    }
    if (len > b->len - b->off - prefix) {
        return SRM_ERR_MSG_INCOMPLETE;
    }
    *p = b->data + b->off + prefix;
    *n = (size_t)len;
    b->off += prefix + (size_t)len;
    return 0;
}

int srm_buf_get_string8(struct srm_buf *b, size_t max, const uint8_t **p, size_t *n)
{
    return get_string(b, 1, max, p, n);
}

int srm_buf_get_string16(struct srm_buf *b, size_t max, const uint8_t **p, size_t *n)
{
    return get_string(b, 2, max, p, n);
}

int srm_buf_get_string32(struct srm_buf *b, size_t max, const uint8_t **p, size_t *n)
{
    return get_string(b, 4, max, p, n);
}

static int put_uint(struct srm_buf *b, uint64_t v, size_t n)
{
    if (n > b->cap - b->len) {
        return SRM_ERR_NO_SPACE;
    }
    store_be(b->data + b->len, v, n);
    b->len += n;
    return 0;
}

int srm_buf_put_u8(struct srm_buf *b, uint8_t v)
{
    return put_uint(b, v, 1);
}

int srm_buf_put_u16(struct srm_buf *b, uint16_t v)
{
    return put_uint(b, v, 2);
}

int srm_buf_put_u32(struct srm_buf *b, uint32_t v)
{
    return put_uint(b, v, 4);
}

int srm_buf_put_u64(struct srm_buf *b, uint64_t v)
{
    return put_uint(b, v, 8);
}

int srm_buf_put_bytes(struct srm_buf *b, const void *p, size_t n)
{
    if (n > b->cap - b->len) {
        return SRM_ERR_NO_SPACE;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    return 0;
}

static int put_string(struct srm_buf *b, size_t prefix, uint64_t max, const void *p, size_t n)
{
    if ((uint64_t)n > max) {
        return SRM_ERR_TOO_LARGE;
    }
    if (prefix > b->cap - b->len || n > b->cap - b->len - prefix) {
        return SRM_ERR_NO_SPACE;
    }
    store_be(b->data + b->len, n, prefix);
    if (n > 0) {
        memcpy(b->data + b->len + prefix, p, n);
    }
    b->len += prefix + n;
    return 0;
}

int srm_buf_put_string8(struct srm_buf *b, const void *p, size_t n)
{
    return put_string(b, 1, UINT8_MAX, p, n);
}

int srm_buf_put_string16(struct srm_buf *b, const void *p, size_t n)
{
    return put_string(b, 2, UINT16_MAX, p, n);
}

int srm_buf_put_string32(struct srm_buf *b, const void *p, size_t n)
{
    return put_string(b, 4, UINT32_MAX, p, n);
}

int srm_buf_reserve(struct srm_buf *b, size_t n, uint8_t **p)
{
    if (n > b->cap - b->len) {
        return SRM_ERR_NO_SPACE;
    }
    *p = b->data + b->len;
    b->len += n;
    return 0;
}

int srm_buf_patch_u32(struct srm_buf *b, size_t pos, uint32_t v)
{
    if (pos > b->len || 4 > b->len - pos) {
        return SRM_ERR_INVALID_ARG;
    }
    store_be(b->data + pos, v, 4);
    return 0;
}

int srm_name_check(const uint8_t *p, size_t n)
{
    size_t i;

    if (n == 0 || n > SRM_WIRE_MAX_NAME) {
        return SRM_ERR_BAD_NAME;
    }
    for (i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return SRM_ERR_BAD_NAME;
        }
    }
    return 0;
}

int srm_name_check_str(const char *s)
{
    size_t n;

    if (s == NULL) {
        return SRM_ERR_BAD_NAME;
    }
    n = strnlen(s, SRM_WIRE_MAX_NAME + 1);
    return srm_name_check((const uint8_t *)s, n);
}

int srm_buf_get_name(struct srm_buf *b, char *out)
{
    const uint8_t *p;
    size_t n, save = b->off;
    int r;

    if ((r = srm_buf_get_string8(b, SRM_WIRE_MAX_NAME, &p, &n)) != 0) {
        return r == SRM_ERR_TOO_LARGE ? SRM_ERR_BAD_NAME : r;
    }
    if ((r = srm_name_check(p, n)) != 0) {
        b->off = save;
        return r;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int srm_buf_put_name(struct srm_buf *b, const char *s)
{
    int r;

    if ((r = srm_name_check_str(s)) != 0) {
        return r;
    }
    return srm_buf_put_string8(b, s, strlen(s));
}
