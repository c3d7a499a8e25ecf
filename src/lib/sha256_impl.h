/* SPDX-License-Identifier: MIT */
/*
 * sha256_impl.h: the block functions behind include/srm/sha256.h, private to
 * src/lib.  Each one compresses whole 64-byte blocks into h[8] (a..h, host
 * order); the _x2 forms compress one block into each of two independent
 * states, interleaved, because one SHA-256 chain leaves the SHA unit idle
 * for most of each instruction's latency.
 */
#ifndef SRM_SHA256_IMPL_H
#define SRM_SHA256_IMPL_H

#include <stddef.h>
#include <stdint.h>

extern const uint32_t srm_sha256_k[64];

void srm_sha256_blocks_portable(uint32_t h[8], const uint8_t *p, size_t nblocks);

/* 1 if the CPU has SHA extensions, SSSE3 and SSE4.1 (0 on other architectures). */
int srm_sha256_shani_supported(void);
/* Only call these when srm_sha256_shani_supported() said 1. */
void srm_sha256_blocks_shani(uint32_t h[8], const uint8_t *p, size_t nblocks);
void srm_sha256_x2_shani(uint32_t ha[8], const uint8_t *pa, uint32_t hb[8], const uint8_t *pb);

#endif
