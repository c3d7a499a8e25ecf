/* SPDX-License-Identifier: MIT */
/*
 * link.h: the client<->relay link record of DESIGN.md section 3b.
 *
 *   link_record = ct (n) || tag (16)        AES-256-GCM, 0 <= n <= 131055
 *   nonce = iv_dir (4) || u64be(seq)        seq implicit, per direction, from 0
 *   aad   = link_id (16) || u64be(seq)
 *
 * A struct srm_link_dir is one direction: its cipher context keyed once, the
 * IV prefix, the link ID and the implicit counter.  struct srm_link pairs a
 * sending and a receiving direction, chosen by role.
 */
#ifndef SRM_LINK_H
#define SRM_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/kdf.h"
#include "srm/wire.h"

struct srm_link_dir;

/*
 * Which AES-256-GCM code a new direction uses.  AUTO (the default): our own
 * (gcm.h) where the CPU has AES-NI and PCLMULQDQ, else OpenSSL's EVP.  EVP
 * or OWN force one (tests run every link test on both; the benchmark
 * compares them); OWN fails with SRM_ERR_BAD_STATE on a CPU without them.
 * Process-wide and not thread-safe: set it before making directions.
 */
enum srm_link_impl {
    SRM_LINK_IMPL_AUTO = 0,
    SRM_LINK_IMPL_EVP = 1,
    SRM_LINK_IMPL_OWN = 2,
};
SRM_MUST_USE int srm_link_set_impl(enum srm_link_impl impl);
/* What d uses: SRM_LINK_IMPL_EVP or SRM_LINK_IMPL_OWN. */
enum srm_link_impl srm_link_dir_impl(const struct srm_link_dir *d);

SRM_MUST_USE int srm_link_dir_new(const uint8_t key[SRM_LINK_KEY_LEN],
                                  const uint8_t iv[SRM_LINK_IV_LEN],
                                  const uint8_t link_id[SRM_LINK_ID_LEN],
                                  struct srm_link_dir **out);
void srm_link_dir_free(struct srm_link_dir *d);
uint64_t srm_link_dir_seq(const struct srm_link_dir *d);
/* Known-answer tests only. */
void srm_link_dir_set_seq(struct srm_link_dir *d, uint64_t seq);

/*
 * Seal n bytes of pt into out (room n + 16; out may equal pt for in-place).
 * SRM_ERR_TOO_LARGE, SRM_ERR_SEQ_EXHAUSTED, SRM_ERR_LIBCRYPTO; seq advances on success.
 */
SRM_MUST_USE int srm_link_dir_seal(struct srm_link_dir *d, const uint8_t *pt, size_t n,
                                   uint8_t *out);
/*
 * Open rec (n >= 16) into pt (room n - 16; pt may equal rec).  SRM_ERR_MALFORMED
 * if n < 16 or too large, SRM_ERR_BAD_MAC if authentication fails (then pt
 * is wiped and seq unchanged).
 */
SRM_MUST_USE int srm_link_dir_open(struct srm_link_dir *d, const uint8_t *rec, size_t n,
                                   uint8_t *pt);

enum srm_link_role {
    SRM_LINK_CLIENT = 0, /* sends c2r, receives r2c */
    SRM_LINK_RELAY = 1,  /* sends r2c, receives c2r */
};

struct srm_link {
    struct srm_link_dir *tx;
    struct srm_link_dir *rx;
};

/* Build both directions from the key schedule's output. */
SRM_MUST_USE int srm_link_new(const struct srm_link_keys *k, enum srm_link_role role,
                              struct srm_link **out);
void srm_link_free(struct srm_link *l);

/*
 * Append one whole SRM_FRAME_LINK frame (header + sealed pt) to out.
 * SRM_ERR_NO_SPACE leaves out unchanged.
 */
SRM_MUST_USE int srm_link_seal_frame(struct srm_link *l, const uint8_t *pt, size_t n,
                                     struct srm_buf *out);
/* Open the body of an SRM_FRAME_LINK frame in place; *pt and *ptlen view the plaintext. */
SRM_MUST_USE int srm_link_open_body(struct srm_link *l, uint8_t *body, size_t n, const uint8_t **pt,
                                    size_t *ptlen);

#endif
