/* SPDX-License-Identifier: MIT */
/*
 * err.h: the one error enum of libsrm.
 *
 * Every fallible libsrm function returns 0 on success or a negative
 * enum srm_err value. Codes are grouped by category, as s2n does: usage and
 * internal (-1..-9), input and protocol (-10..-29), cryptography (-30..-49),
 * files and keys (-50..-69).
 */
#ifndef SRM_ERR_H
#define SRM_ERR_H

#define SRM_MUST_USE __attribute__((warn_unused_result))

enum srm_err {
    SRM_OK = 0,
    /* usage and internal */
    SRM_ERR_INTERNAL = -1,    /* a bug or an impossible state */
    SRM_ERR_ALLOC = -2,       /* out of memory */
    SRM_ERR_INVALID_ARG = -3, /* caller passed a bad argument */
    SRM_ERR_BAD_STATE = -4,   /* call made in the wrong state, or after a failure */
    /* input and protocol */
    SRM_ERR_MSG_INCOMPLETE = -10, /* not enough bytes (more may come) */
    SRM_ERR_TRAILING_DATA = -11,  /* bytes left over after a message */
    SRM_ERR_TOO_LARGE = -12,      /* a length over its limit */
    SRM_ERR_NO_SPACE = -13,       /* output buffer too small */
    SRM_ERR_BAD_FRAME = -14,      /* frame header malformed (zero length) */
    SRM_ERR_UNKNOWN_TYPE = -15,   /* unknown frame or message type */
    SRM_ERR_UNEXPECTED_MSG = -16, /* message not allowed in this state */
    SRM_ERR_BAD_VERSION = -17,    /* unsupported protocol version */
    SRM_ERR_BAD_NAME = -18,       /* user name not 1..32 of [a-z0-9_-] */
    SRM_ERR_MALFORMED = -19,      /* a body that does not parse */
    SRM_ERR_WRONG_PEER = -20,     /* message names the wrong identity */
    SRM_ERR_PEER_REFUSED = -21,   /* the other side said no */
    SRM_ERR_UNKNOWN_USER = -22,   /* no key for that user */
    /* cryptography */
    SRM_ERR_LIBCRYPTO = -30,     /* an OpenSSL call failed */
    SRM_ERR_BAD_MAC = -31,       /* record tag or AEAD tag did not verify */
    SRM_ERR_REPLAY = -32,        /* sequence number not the next expected */
    SRM_ERR_BAD_SIGNATURE = -33, /* signature did not verify */
    SRM_ERR_DECRYPT = -34,       /* RSA-OAEP decryption failed */
    SRM_ERR_BAD_KEY = -35,       /* not RSA, too small, or a bad X25519 point */
    SRM_ERR_SEQ_EXHAUSTED = -36, /* sequence space used up: re-establish */
    SRM_ERR_KEY_MISMATCH = -37,  /* key is not the pinned one */
    /* files */
    SRM_ERR_IO = -50,         /* file missing or unreadable (errno kept by caller) */
    SRM_ERR_KEY_PERMS = -51,  /* private key readable by group or others */
    SRM_ERR_KEY_FORMAT = -52, /* file is not a PEM key */
};

/* Returns a short static description of err; never NULL. */
const char *srm_strerror(int err);

#endif
