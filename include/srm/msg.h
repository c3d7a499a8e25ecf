/* SPDX-License-Identifier: MIT */
/*
 * msg.h: the messages carried inside link records after registration
 * (enum srm_msg_type in wire.h; byte layout in docs/PROTOCOL.md).
 *
 * srm_msg_parse() checks the whole body, including that nothing trails,
 * before it returns; the views in struct srm_msg point into the caller's
 * bytes.  Writers append one message (no frame header) to a buffer.
 */
#ifndef SRM_MSG_H
#define SRM_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/wire.h"

struct srm_msg {
    uint8_t type;                     /* enum srm_msg_type */
    char name[SRM_WIRE_MAX_NAME + 1]; /* SEND: to; DELIVER: from; UNDELIVERABLE: to; PRESENCE */
    uint32_t ref;                     /* SEND, UNDELIVERABLE */
    uint8_t code;                     /* UNDELIVERABLE, BYE: enum srm_reason; PRESENCE: status */
    uint64_t token;                   /* PING, PONG */
    const uint8_t *data;              /* SEND/DELIVER payload, CONFIRM hash, list encoding */
    size_t data_len;
    uint32_t count; /* WELCOME, WHO_REPLY: number of names in data */
};

/*
 * Parse one message.  0, SRM_ERR_UNKNOWN_TYPE, SRM_ERR_MALFORMED (short,
 * trailing bytes, bad lengths), SRM_ERR_BAD_NAME, SRM_ERR_TOO_LARGE.
 */
SRM_MUST_USE int srm_msg_parse(const uint8_t *p, size_t n, struct srm_msg *m);
/*
 * Iterate the names of a WELCOME / WHO_REPLY list (already validated by
 * srm_msg_parse).  Start with *off = 0; 1 while a name was produced, 0 at the end.
 */
int srm_msg_list_next(const struct srm_msg *m, size_t *off, char name[SRM_WIRE_MAX_NAME + 1]);

SRM_MUST_USE int srm_msg_put_confirm(struct srm_buf *b, const uint8_t th[SRM_HASH_LEN]);
/* WELCOME and WHO_REPLY: names[count]. */
SRM_MUST_USE int srm_msg_put_list(struct srm_buf *b, uint8_t type, const char *const *names,
                                  size_t count);
SRM_MUST_USE int srm_msg_put_send(struct srm_buf *b, const char *to, uint32_t ref,
                                  const uint8_t *payload, size_t n);
SRM_MUST_USE int srm_msg_put_deliver(struct srm_buf *b, const char *from, const uint8_t *payload,
                                     size_t n);
SRM_MUST_USE int srm_msg_put_undeliverable(struct srm_buf *b, const char *to, uint32_t ref,
                                           uint8_t reason);
SRM_MUST_USE int srm_msg_put_who(struct srm_buf *b);
SRM_MUST_USE int srm_msg_put_presence(struct srm_buf *b, const char *name, uint8_t status);
SRM_MUST_USE int srm_msg_put_ping(struct srm_buf *b, uint8_t type, uint64_t token);
SRM_MUST_USE int srm_msg_put_bye(struct srm_buf *b, uint8_t reason);

/* Short name of a message type for debug logs ("SEND", ...; "?" if unknown). */
const char *srm_msg_type_name(uint8_t type);

#endif
