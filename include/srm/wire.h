/* SPDX-License-Identifier: MIT */
/*
 * wire.h: every limit and every type number on the wire, in one place
 * (as WireGuard's messages.h keeps its limits).  docs/PROTOCOL.md gives the
 * meaning of each message; this header gives the numbers.
 */
#ifndef SRM_WIRE_H
#define SRM_WIRE_H

#include <stdint.h>

/* Protocol version byte carried in both handshakes. */
#define SRM_WIRE_VERSION 1

/* Framing (DESIGN.md section 6): len u32be (counts type + body) || type u8 || body. */
#define SRM_WIRE_FRAME_HDR 5u
#define SRM_WIRE_MAX_FRAME 131072u /* maximum value of len */
#define SRM_WIRE_MAX_BODY  (SRM_WIRE_MAX_FRAME - 1u)

/* User names: 1..32 of [a-z0-9_-]. */
#define SRM_WIRE_MAX_NAME 32u

/* Link record (DESIGN.md section 3b). */
#define SRM_LINK_KEY_LEN 32u
#define SRM_LINK_IV_LEN  4u
#define SRM_LINK_ID_LEN  16u
#define SRM_LINK_TAG_LEN 16u
#define SRM_LINK_MAX_PT  (SRM_WIRE_MAX_FRAME - 17u) /* 131055 */

/* Message record (DESIGN.md section 3a). */
#define SRM_RECORD_KEY_LEN  32u
#define SRM_RECORD_SID_LEN  16u
#define SRM_RECORD_SEQ_LEN  8u
#define SRM_RECORD_IV_LEN   16u
#define SRM_RECORD_TAG_LEN  32u
#define SRM_RECORD_OVERHEAD (SRM_RECORD_SEQ_LEN + SRM_RECORD_IV_LEN + SRM_RECORD_TAG_LEN) /* 56 */
#define SRM_RECORD_MAX_PT   65536u
#define SRM_RECORD_MAX      (SRM_RECORD_OVERHEAD + SRM_RECORD_MAX_PT)
/* seal refuses once seq reaches this: the session must be re-established. */
#define SRM_RECORD_SEQ_LIMIT (UINT64_MAX - 1u)

/* Handshake sizes. */
#define SRM_NONCE_LEN     32u
#define SRM_X25519_LEN    32u
#define SRM_HASH_LEN      32u
#define SRM_RSA_MIN_BITS  2048
#define SRM_RSA_MAX_BITS  8192
#define SRM_RSA_MAX_BYTES (SRM_RSA_MAX_BITS / 8) /* bound on signatures and OAEP blocks */

/* Outer frame types. Registration frames are plaintext; everything after is SRM_FRAME_LINK. */
enum srm_frame_type {
    SRM_FRAME_REG_HELLO = 0x01,     /* client -> relay */
    SRM_FRAME_REG_CHALLENGE = 0x02, /* relay -> client */
    SRM_FRAME_REG_RESPONSE = 0x03,  /* client -> relay */
    SRM_FRAME_REG_ERROR = 0x04,     /* relay -> client, generic reason */
    SRM_FRAME_LINK = 0x10,          /* AES-256-GCM link record */
};

/* Messages inside a link record (first byte of the link plaintext). */
enum srm_msg_type {
    SRM_MSG_CONFIRM = 0x01,       /* either: key confirmation, body = TH (32) */
    SRM_MSG_WELCOME = 0x02,       /* relay -> client: registered; body = name list */
    SRM_MSG_SEND = 0x03,          /* client -> relay: to, ref u32, payload */
    SRM_MSG_DELIVER = 0x04,       /* relay -> client: from, payload */
    SRM_MSG_UNDELIVERABLE = 0x05, /* relay -> client: to, ref u32, reason u8 */
    SRM_MSG_WHO = 0x06,           /* client -> relay: empty */
    SRM_MSG_WHO_REPLY = 0x07,     /* relay -> client: name list */
    SRM_MSG_PRESENCE = 0x08,      /* relay -> client: name, status u8 */
    SRM_MSG_PING = 0x09,          /* either: token u64 */
    SRM_MSG_PONG = 0x0a,          /* either: token u64 */
    SRM_MSG_BYE = 0x0b,           /* either: reason u8; the sender closes */
};

/* SRM_MSG_PRESENCE status. */
enum srm_presence {
    SRM_PRESENCE_OFFLINE = 0,
    SRM_PRESENCE_ONLINE = 1,
};

/* SRM_MSG_UNDELIVERABLE and SRM_MSG_BYE reasons (generic on purpose). */
enum srm_reason {
    SRM_REASON_NONE = 0,
    SRM_REASON_OFFLINE = 1,      /* recipient not online */
    SRM_REASON_PROTOCOL = 2,     /* protocol violation */
    SRM_REASON_REPLACED = 3,     /* a newer registration under the same name */
    SRM_REASON_SHUTDOWN = 4,     /* relay shutting down */
    SRM_REASON_TIMEOUT = 5,      /* deadline passed */
    SRM_REASON_OVERLOAD = 6,     /* output cap or connection cap reached */
    SRM_REASON_UNKNOWN_USER = 7, /* recipient has no key at this relay */
};

/* End-to-end payload kinds: first byte of SEND/DELIVER payload; the relay does not look at them. */
enum srm_e2e_kind {
    SRM_E2E_HS_INIT = 0x01, /* initiator -> responder */
    SRM_E2E_HS_RESP = 0x02, /* responder -> initiator */
    SRM_E2E_HS_FIN = 0x03,  /* initiator -> responder */
    SRM_E2E_RECORD = 0x04,  /* a message record (DESIGN.md 3a) */
};

/* Plaintext inside a message record (first byte). */
enum srm_inner_type {
    SRM_INNER_CONFIRM = 0x01, /* body = TH (32): session key confirmation */
    SRM_INNER_DATA = 0x02,    /* body = msg_id u64 || UTF-8 text */
    SRM_INNER_ACK = 0x03,     /* body = msg_id u64 */
};

#define SRM_INNER_MAX_TEXT (SRM_RECORD_MAX_PT - 9u)

/* Per-connection buffering caps (relay and client). */
#define SRM_WIRE_MAX_INBUF  ((size_t)2 * (SRM_WIRE_FRAME_HDR + SRM_WIRE_MAX_FRAME))
#define SRM_WIRE_MAX_OUTBUF ((size_t)4 * 1024 * 1024)

/* Maximum names in a WELCOME / WHO_REPLY list. */
#define SRM_WIRE_MAX_LIST 4096u

#endif
