/* SPDX-License-Identifier: MIT */
/* err.c: human-readable text for enum srm_err. */
#include "srm/err.h"

const char *srm_strerror(int err)
{
    switch (err) {
    case SRM_OK:
        return "success";
    case SRM_ERR_INTERNAL:
        return "internal error";
    case SRM_ERR_ALLOC:
        return "out of memory";
    case SRM_ERR_INVALID_ARG:
        return "invalid argument";
    case SRM_ERR_BAD_STATE:
        return "operation not allowed in this state";
    case SRM_ERR_MSG_INCOMPLETE:
        return "message incomplete";
    case SRM_ERR_TRAILING_DATA:
        return "trailing data after message";
    case SRM_ERR_TOO_LARGE:
        return "length over limit";
    case SRM_ERR_NO_SPACE:
        return "output buffer too small";
    case SRM_ERR_BAD_FRAME:
        return "malformed frame";
    case SRM_ERR_UNKNOWN_TYPE:
        return "unknown message type";
    case SRM_ERR_UNEXPECTED_MSG:
        return "unexpected message";
    case SRM_ERR_BAD_VERSION:
        return "unsupported protocol version";
    case SRM_ERR_BAD_NAME:
        return "invalid user name (1-32 of a-z 0-9 _ -)";
    case SRM_ERR_MALFORMED:
        return "malformed message";
    case SRM_ERR_WRONG_PEER:
        return "message names the wrong identity";
    case SRM_ERR_PEER_REFUSED:
        return "refused by the other side";
    case SRM_ERR_UNKNOWN_USER:
        return "unknown user";
    case SRM_ERR_LIBCRYPTO:
        return "cryptographic library error";
    case SRM_ERR_BAD_MAC:
        return "authentication failed (bad MAC)";
    case SRM_ERR_REPLAY:
        return "replayed, reordered or missing record";
    case SRM_ERR_BAD_SIGNATURE:
        return "bad signature";
    case SRM_ERR_DECRYPT:
        return "decryption failed";
    case SRM_ERR_BAD_KEY:
        return "unacceptable key";
    case SRM_ERR_SEQ_EXHAUSTED:
        return "sequence numbers exhausted";
    case SRM_ERR_KEY_MISMATCH:
        return "key does not match the pinned key";
    case SRM_ERR_IO:
        return "cannot read file";
    case SRM_ERR_KEY_PERMS:
        return "private key file is accessible by group or others";
    case SRM_ERR_KEY_FORMAT:
        return "not a PEM key file";
    default:
        return "unknown error";
    }
}
