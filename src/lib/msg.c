/* SPDX-License-Identifier: MIT */
/*
 * msg.c: the messages inside link records after registration (see msg.h;
 * docs/PROTOCOL.md has the byte layout and the flow):
 *
 *   relay -> client  WELCOME(names)        registered; who is online
 *   client -> relay  SEND(to, ref, e2e)    relay -> peer  DELIVER(from, e2e)
 *   relay -> client  UNDELIVERABLE(to, ref, reason) when it cannot forward
 *   client -> relay  WHO                   relay -> client  WHO_REPLY(names)
 *   relay -> client  PRESENCE(name, status)
 *   either           CONFIRM(TH), PING(token) / PONG(token), BYE(reason)
 *
 * The parser checks every field and that nothing trails before it fills
 * the caller's struct, so a failed parse leaves it untouched.  Writers size
 * the message first and write nothing unless all of it fits.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/msg.h"
#include "srm/sess.h"
#include "srm/wire.h"

static int map_read_err(int r);
static int reason_valid(uint8_t reason);
static int parse_list(struct srm_buf *b, struct srm_msg *m);
static int parse_payload(struct srm_buf *b, struct srm_msg *m);
static int parse_body(struct srm_buf *b, struct srm_msg *m);
static int name_size(const char *s, size_t *n);
static int begin(struct srm_buf *b, size_t need);
static int put_checked_name(struct srm_buf *b, const char *s, size_t sz);

/* A short read inside a whole message means the message is malformed. */
static int map_read_err(int r)
{
    return r == SRM_ERR_MSG_INCOMPLETE ? SRM_ERR_MALFORMED : r;
}

static int reason_valid(uint8_t reason)
{
    return reason <= SRM_REASON_UNKNOWN_USER;
}

/* u16 count || count x string8 name; data views the names. */
static int parse_list(struct srm_buf *b, struct srm_msg *m)
{
    char name[SRM_WIRE_MAX_NAME + 1];
    uint16_t count;
    size_t start, i;
    int r;

    if ((r = srm_buf_get_u16(b, &count)) != 0) {
        return map_read_err(r);
    }
    if (count > SRM_WIRE_MAX_LIST) {
        return SRM_ERR_TOO_LARGE;
    }
    start = b->off;
    for (i = 0; i < count; i++) {
        if ((r = srm_buf_get_name(b, name)) != 0) {
            return map_read_err(r);
        }
    }
    m->count = count;
    m->data = b->data + start;
    m->data_len = b->off - start;
    return 0;
}

/* The end-to-end payload is the rest of the message, never empty. */
static int parse_payload(struct srm_buf *b, struct srm_msg *m)
{
    srm_buf_get_rest(b, &m->data, &m->data_len);
    if (m->data_len == 0) {
        return SRM_ERR_MALFORMED;
    }
    if (m->data_len > SRM_SESS_MAX_PAYLOAD) {
        return SRM_ERR_TOO_LARGE;
    }
    return 0;
}

static int parse_body(struct srm_buf *b, struct srm_msg *m)
{
    int r = 0;

    switch (m->type) {
    case SRM_MSG_CONFIRM:
        r = srm_buf_get_view(b, SRM_HASH_LEN, &m->data);
        m->data_len = SRM_HASH_LEN;
        break;
    case SRM_MSG_WELCOME:
    case SRM_MSG_WHO_REPLY:
        r = parse_list(b, m);
        break;
    case SRM_MSG_SEND:
        if ((r = srm_buf_get_name(b, m->name)) == 0 && (r = srm_buf_get_u32(b, &m->ref)) == 0) {
            r = parse_payload(b, m);
        }
        break;
    case SRM_MSG_DELIVER:
        if ((r = srm_buf_get_name(b, m->name)) == 0) {
            r = parse_payload(b, m);
        }
        break;
    case SRM_MSG_UNDELIVERABLE:
        if ((r = srm_buf_get_name(b, m->name)) == 0 && (r = srm_buf_get_u32(b, &m->ref)) == 0 &&
            (r = srm_buf_get_u8(b, &m->code)) == 0 && !reason_valid(m->code)) {
            r = SRM_ERR_MALFORMED;
        }
        break;
    case SRM_MSG_WHO:
        break;
    case SRM_MSG_PRESENCE:
        if ((r = srm_buf_get_name(b, m->name)) == 0 && (r = srm_buf_get_u8(b, &m->code)) == 0 &&
            m->code != SRM_PRESENCE_OFFLINE && m->code != SRM_PRESENCE_ONLINE) {
            r = SRM_ERR_MALFORMED;
        }
        break;
    case SRM_MSG_PING:
    case SRM_MSG_PONG:
        r = srm_buf_get_u64(b, &m->token);
        break;
    case SRM_MSG_BYE:
        if ((r = srm_buf_get_u8(b, &m->code)) == 0 && !reason_valid(m->code)) {
            r = SRM_ERR_MALFORMED;
        }
        break;
    default:
        r = SRM_ERR_UNKNOWN_TYPE;
        break;
    }
    if (r != 0) {
        return map_read_err(r);
    }
    return srm_buf_expect_end(b) == 0 ? 0 : SRM_ERR_MALFORMED;
}

int srm_msg_parse(const uint8_t *p, size_t n, struct srm_msg *m)
{
    struct srm_msg t;
    struct srm_buf b;
    int r;

    /* Work on a copy so that a failed parse leaves *m as it was. */
    memset(&t, 0, sizeof(t));
    srm_buf_init_read(&b, p, n);
    if (srm_buf_get_u8(&b, &t.type) != 0) {
        return SRM_ERR_MALFORMED;
    }
    if ((r = parse_body(&b, &t)) != 0) {
        return r;
    }
    *m = t;
    return 0;
}

int srm_msg_list_next(const struct srm_msg *m, size_t *off, char name[SRM_WIRE_MAX_NAME + 1])
{
    struct srm_buf b;

    if (m->type != SRM_MSG_WELCOME && m->type != SRM_MSG_WHO_REPLY) {
        return 0;
    }
    srm_buf_init_read(&b, m->data, m->data_len);
    if (*off > b.len) {
        return 0;
    }
    b.off = *off;
    /* Already validated by srm_msg_parse; a failure here only ends the walk. */
    if (srm_buf_is_consumed(&b) || srm_buf_get_name(&b, name) != 0) {
        return 0;
    }
    *off = b.off;
    return 1;
}

/* Size of s as a string8 name, or SRM_ERR_BAD_NAME. */
static int name_size(const char *s, size_t *n)
{
    int r;

    if ((r = srm_name_check_str(s)) != 0) {
        return r;
    }
    *n = 1u + strlen(s);
    return 0;
}

/* A name name_size() has already checked and measured (sz = 1 + length): written as string8. */
static int put_checked_name(struct srm_buf *b, const char *s, size_t sz)
{
    return srm_buf_put_string8(b, s, sz - 1u);
}

/* All-or-nothing: refuse before writing a byte if need does not fit. */
static int begin(struct srm_buf *b, size_t need)
{
    return need > srm_buf_avail(b) ? SRM_ERR_NO_SPACE : 0;
}

int srm_msg_put_confirm(struct srm_buf *b, const uint8_t th[SRM_HASH_LEN])
{
    size_t save = b->len;
    int r;

    if ((r = begin(b, 1u + SRM_HASH_LEN)) != 0) {
        return r;
    }
    if ((r = srm_buf_put_u8(b, SRM_MSG_CONFIRM)) != 0 ||
        (r = srm_buf_put_bytes(b, th, SRM_HASH_LEN)) != 0) {
        b->len = save;
    }
    return r;
}

int srm_msg_put_list(struct srm_buf *b, uint8_t type, const char *const *names, size_t count)
{
    size_t save = b->len, need = 3, sz = 0, i;
    int r;

    if (type != SRM_MSG_WELCOME && type != SRM_MSG_WHO_REPLY) {
        return SRM_ERR_INVALID_ARG;
    }
    if (count > SRM_WIRE_MAX_LIST) {
        return SRM_ERR_TOO_LARGE;
    }
    /* At most 4096 x 33 bytes: the sum cannot overflow. */
    for (i = 0; i < count; i++) {
        if ((r = name_size(names[i], &sz)) != 0) {
            return r;
        }
        need += sz;
    }
    if ((r = begin(b, need)) != 0) {
        return r;
    }
    if ((r = srm_buf_put_u8(b, type)) != 0 || (r = srm_buf_put_u16(b, (uint16_t)count)) != 0) {
        goto out;
    }
    for (i = 0; i < count; i++) {
        if ((r = srm_buf_put_name(b, names[i])) != 0) {
            goto out;
        }
    }
    r = 0;
out:
    if (r != 0) {
        b->len = save;
    }
    return r;
}

int srm_msg_put_send(struct srm_buf *b, const char *to, uint32_t ref, const uint8_t *payload,
                     size_t n)
{
    size_t save = b->len, sz = 0;
    int r;

    if (n == 0) {
        return SRM_ERR_INVALID_ARG;
    }
    if (n > SRM_SESS_MAX_PAYLOAD) {
        return SRM_ERR_TOO_LARGE;
    }
    if ((r = name_size(to, &sz)) != 0 || (r = begin(b, 1u + sz + 4u + n)) != 0) {
        return r;
    }
    if ((r = srm_buf_put_u8(b, SRM_MSG_SEND)) != 0 || (r = put_checked_name(b, to, sz)) != 0 ||
        (r = srm_buf_put_u32(b, ref)) != 0 || (r = srm_buf_put_bytes(b, payload, n)) != 0) {
        b->len = save;
    }
    return r;
}

int srm_msg_put_deliver(struct srm_buf *b, const char *from, const uint8_t *payload, size_t n)
{
    size_t save = b->len, sz = 0;
    int r;

    if (n == 0) {
        return SRM_ERR_INVALID_ARG;
    }
    if (n > SRM_SESS_MAX_PAYLOAD) {
        return SRM_ERR_TOO_LARGE;
    }
    if ((r = name_size(from, &sz)) != 0 || (r = begin(b, 1u + sz + n)) != 0) {
        return r;
    }
    if ((r = srm_buf_put_u8(b, SRM_MSG_DELIVER)) != 0 || (r = put_checked_name(b, from, sz)) != 0 ||
        (r = srm_buf_put_bytes(b, payload, n)) != 0) {
        b->len = save;
    }
    return r;
}

int srm_msg_put_undeliverable(struct srm_buf *b, const char *to, uint32_t ref, uint8_t reason)
{
    size_t save = b->len, sz = 0;
    int r;

    if (!reason_valid(reason)) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((r = name_size(to, &sz)) != 0 || (r = begin(b, 1u + sz + 4u + 1u)) != 0) {
        return r;
    }
    if ((r = srm_buf_put_u8(b, SRM_MSG_UNDELIVERABLE)) != 0 ||
        (r = put_checked_name(b, to, sz)) != 0 || (r = srm_buf_put_u32(b, ref)) != 0 ||
        (r = srm_buf_put_u8(b, reason)) != 0) {
        b->len = save;
    }
    return r;
}

int srm_msg_put_who(struct srm_buf *b)
{
    return srm_buf_put_u8(b, SRM_MSG_WHO);
}

int srm_msg_put_presence(struct srm_buf *b, const char *name, uint8_t status)
{
    size_t save = b->len, sz = 0;
    int r;

    if (status != SRM_PRESENCE_OFFLINE && status != SRM_PRESENCE_ONLINE) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((r = name_size(name, &sz)) != 0 || (r = begin(b, 1u + sz + 1u)) != 0) {
        return r;
    }
    if ((r = srm_buf_put_u8(b, SRM_MSG_PRESENCE)) != 0 ||
        (r = put_checked_name(b, name, sz)) != 0 || (r = srm_buf_put_u8(b, status)) != 0) {
        b->len = save;
    }
    return r;
}

int srm_msg_put_ping(struct srm_buf *b, uint8_t type, uint64_t token)
{
    size_t save = b->len;
    int r;

    if (type != SRM_MSG_PING && type != SRM_MSG_PONG) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((r = begin(b, 1u + 8u)) != 0) {
        return r;
    }
    if ((r = srm_buf_put_u8(b, type)) != 0 || (r = srm_buf_put_u64(b, token)) != 0) {
        b->len = save;
    }
    return r;
}

int srm_msg_put_bye(struct srm_buf *b, uint8_t reason)
{
    size_t save = b->len;
    int r;

    if (!reason_valid(reason)) {
        return SRM_ERR_INVALID_ARG;
    }
    if ((r = begin(b, 2u)) != 0) {
        return r;
    }
    if ((r = srm_buf_put_u8(b, SRM_MSG_BYE)) != 0 || (r = srm_buf_put_u8(b, reason)) != 0) {
        b->len = save;
    }
    return r;
}

const char *srm_msg_type_name(uint8_t type)
{
    switch (type) {
    case SRM_MSG_CONFIRM:
        return "CONFIRM";
    case SRM_MSG_WELCOME:
        return "WELCOME";
    case SRM_MSG_SEND:
        return "SEND";
    case SRM_MSG_DELIVER:
        return "DELIVER";
    case SRM_MSG_UNDELIVERABLE:
        return "UNDELIVERABLE";
    case SRM_MSG_WHO:
        return "WHO";
    case SRM_MSG_WHO_REPLY:
        return "WHO_REPLY";
    case SRM_MSG_PRESENCE:
        return "PRESENCE";
    case SRM_MSG_PING:
        return "PING";
    case SRM_MSG_PONG:
        return "PONG";
    case SRM_MSG_BYE:
        return "BYE";
    default:
        return "?";
    }
}
