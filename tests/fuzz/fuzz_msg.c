/* SPDX-License-Identifier: MIT */
/*
 * fuzz_msg.c: libFuzzer target for the link-message parser.  Whatever
 * parses must be canonical: the writers rebuild it from the parsed fields
 * byte for byte, and the list iterator walks exactly `count` valid names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/msg.h"
#include "srm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static int rebuild(const struct srm_msg *m, struct srm_buf *w);

/* Write m again with the public writers. */
static int rebuild(const struct srm_msg *m, struct srm_buf *w)
{
    char(*names)[SRM_WIRE_MAX_NAME + 1] = NULL;
    const char **ptrs = NULL;
    size_t off = 0, i = 0;
    int r = SRM_ERR_INTERNAL;

    switch (m->type) {
    case SRM_MSG_CONFIRM:
        return m->data_len == SRM_HASH_LEN ? srm_msg_put_confirm(w, m->data) : SRM_ERR_INTERNAL;
    case SRM_MSG_WELCOME:
    case SRM_MSG_WHO_REPLY:
        if (m->count > SRM_WIRE_MAX_LIST) {
            return SRM_ERR_INTERNAL;
        }
        names = calloc(m->count + 1u, sizeof(*names));
        ptrs = calloc(m->count + 1u, sizeof(*ptrs));
        if (names == NULL || ptrs == NULL) {
            goto out;
        }
        while (i <= m->count && srm_msg_list_next(m, &off, names[i])) {
            if (srm_name_check_str(names[i]) != 0) {
                goto out;
            }
            ptrs[i] = names[i];
            i++;
        }
        if (i != m->count || off != m->data_len) {
            goto out;
        }
        r = srm_msg_put_list(w, m->type, ptrs, m->count);
        goto out;
    case SRM_MSG_SEND:
        return srm_msg_put_send(w, m->name, m->ref, m->data, m->data_len);
    case SRM_MSG_DELIVER:
        return srm_msg_put_deliver(w, m->name, m->data, m->data_len);
    case SRM_MSG_UNDELIVERABLE:
        return srm_msg_put_undeliverable(w, m->name, m->ref, m->code);
    case SRM_MSG_WHO:
        return srm_msg_put_who(w);
    case SRM_MSG_PRESENCE:
        return srm_msg_put_presence(w, m->name, m->code);
    case SRM_MSG_PING:
    case SRM_MSG_PONG:
        return srm_msg_put_ping(w, m->type, m->token);
    case SRM_MSG_BYE:
        return srm_msg_put_bye(w, m->code);
    default:
        return SRM_ERR_INTERNAL;
    }
out:
    free(names);
    free(ptrs);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct srm_msg m;
    struct srm_buf w;
    uint8_t *out;
    int r;

    r = srm_msg_parse(data, size, &m);
    if (r != 0) {
        if (r != SRM_ERR_UNKNOWN_TYPE && r != SRM_ERR_MALFORMED && r != SRM_ERR_BAD_NAME &&
            r != SRM_ERR_TOO_LARGE) {
            abort();
        }
        return 0;
    }
    if (srm_msg_type_name(m.type)[0] == '?') {
        abort();
    }
    out = malloc(size + 1);
    if (out == NULL) {
        return 0;
    }
    srm_buf_init_write(&w, out, size);
    if (rebuild(&m, &w) != 0 || w.len != size || memcmp(out, data, size) != 0) {
        abort();
    }
    free(out);
    return 0;
}
