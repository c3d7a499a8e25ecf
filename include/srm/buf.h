/* SPDX-License-Identifier: MIT */
/*
 * buf.h: the bounded byte reader and writer through which every wire field
 * is parsed and built (after OpenSSH's sshbuf and s2n's stuffer).
 *
 * A struct srm_buf never owns its storage: the caller supplies it.  Readers
 * move `off` towards `len`; writers move `len` towards `cap`.  All integers
 * are big-endian.  A failed get consumes nothing and a failed put writes
 * nothing.  Bounds are checked in subtraction form so no sum can overflow.
 */
#ifndef SRM_BUF_H
#define SRM_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "srm/err.h"

struct srm_buf {
    uint8_t *data; /* storage (const for readers; never written through) */
    size_t cap;    /* writable size */
    size_t len;    /* bytes written / readable */
    size_t off;    /* read cursor, off <= len */
};

/* Set up b to read the n bytes at p. */
void srm_buf_init_read(struct srm_buf *b, const uint8_t *p, size_t n);
/* Set up b to write up to cap bytes at p. */
void srm_buf_init_write(struct srm_buf *b, uint8_t *p, size_t cap);

/* Bytes still to read. */
size_t srm_buf_remaining(const struct srm_buf *b);
/* Room still to write. */
size_t srm_buf_avail(const struct srm_buf *b);
/* 1 if every byte has been read. */
int srm_buf_is_consumed(const struct srm_buf *b);
/* 0 if consumed, SRM_ERR_TRAILING_DATA otherwise. */
SRM_MUST_USE int srm_buf_expect_end(const struct srm_buf *b);

/* Readers: 0 or SRM_ERR_MSG_INCOMPLETE (nothing consumed). */
SRM_MUST_USE int srm_buf_get_u8(struct srm_buf *b, uint8_t *v);
SRM_MUST_USE int srm_buf_get_u16(struct srm_buf *b, uint16_t *v);
SRM_MUST_USE int srm_buf_get_u32(struct srm_buf *b, uint32_t *v);
SRM_MUST_USE int srm_buf_get_u64(struct srm_buf *b, uint64_t *v);
SRM_MUST_USE int srm_buf_peek_u8(const struct srm_buf *b, uint8_t *v);
SRM_MUST_USE int srm_buf_peek_u32(const struct srm_buf *b, uint32_t *v);
/* Copy exactly n bytes out. */
SRM_MUST_USE int srm_buf_get_bytes(struct srm_buf *b, void *out, size_t n);
/* Point *p at the next n bytes (a view into the buffer) and consume them. */
SRM_MUST_USE int srm_buf_get_view(struct srm_buf *b, size_t n, const uint8_t **p);
/* View of all remaining bytes (may be empty); consumes them. */
void srm_buf_get_rest(struct srm_buf *b, const uint8_t **p, size_t *n);
/*
 * Length-prefixed views (u8, u16 or u32 length, then bytes). Returns
 * SRM_ERR_TOO_LARGE if the length exceeds max, SRM_ERR_MSG_INCOMPLETE if the
 * bytes are not all there; nothing is consumed on failure.
 */
SRM_MUST_USE int srm_buf_get_string8(struct srm_buf *b, size_t max, const uint8_t **p, size_t *n);
SRM_MUST_USE int srm_buf_get_string16(struct srm_buf *b, size_t max, const uint8_t **p, size_t *n);
SRM_MUST_USE int srm_buf_get_string32(struct srm_buf *b, size_t max, const uint8_t **p, size_t *n);

/* Writers: 0 or SRM_ERR_NO_SPACE (nothing written). */
SRM_MUST_USE int srm_buf_put_u8(struct srm_buf *b, uint8_t v);
SRM_MUST_USE int srm_buf_put_u16(struct srm_buf *b, uint16_t v);
SRM_MUST_USE int srm_buf_put_u32(struct srm_buf *b, uint32_t v);
SRM_MUST_USE int srm_buf_put_u64(struct srm_buf *b, uint64_t v);
SRM_MUST_USE int srm_buf_put_bytes(struct srm_buf *b, const void *p, size_t n);
/* Length-prefixed writes; SRM_ERR_TOO_LARGE if n does not fit the prefix. */
SRM_MUST_USE int srm_buf_put_string8(struct srm_buf *b, const void *p, size_t n);
SRM_MUST_USE int srm_buf_put_string16(struct srm_buf *b, const void *p, size_t n);
SRM_MUST_USE int srm_buf_put_string32(struct srm_buf *b, const void *p, size_t n);
/* Reserve n bytes to be filled in place: *p points at them and len grows by n. */
SRM_MUST_USE int srm_buf_reserve(struct srm_buf *b, size_t n, uint8_t **p);
/* Overwrite a u32 at an earlier position (for length prefixes filled in last). */
SRM_MUST_USE int srm_buf_patch_u32(struct srm_buf *b, size_t pos, uint32_t v);

/* Names (DESIGN.md section 8): 1..32 of [a-z0-9_-].  0 or SRM_ERR_BAD_NAME. */
SRM_MUST_USE int srm_name_check(const uint8_t *p, size_t n);
/* Same for a NUL-terminated string. */
SRM_MUST_USE int srm_name_check_str(const char *s);
/* Read a u8-length-prefixed name into out[SRM_WIRE_MAX_NAME + 1], NUL-terminated, checked. */
SRM_MUST_USE int srm_buf_get_name(struct srm_buf *b, char *out);
/* Write s as a u8-length-prefixed name; SRM_ERR_BAD_NAME if invalid. */
SRM_MUST_USE int srm_buf_put_name(struct srm_buf *b, const char *s);

#endif
