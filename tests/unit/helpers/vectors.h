/* SPDX-License-Identifier: MIT */
/*
 * vectors.h: reading the JSON test vectors (tests/vectors, DESIGN.md
 * section 9) from cmocka unit tests.  Every function fails the running
 * test (cmocka assertion) rather than returning an error.
 */
#ifndef SRM_TEST_VECTORS_H
#define SRM_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Parse dir/name, dir taken from the environment variable dir_env; the caller frees the tree. */
cJSON *tu_load_json(const char *dir_env, const char *name);
/* tu_load_json from SRM_VECTORS_DIR (tests/vectors). */
cJSON *tu_load_vectors(const char *name);
/* obj[key] as lowercase hex, decoded into a malloc'ed buffer of *n bytes (never NULL). */
uint8_t *tu_hex_field(const cJSON *obj, const char *key, size_t *n);
/* obj[key] as lowercase hex of exactly n bytes, decoded into out. */
void tu_hex_exact(const cJSON *obj, const char *key, uint8_t *out, size_t n);
/* obj["seq"]: a whole number in [0, 2^53]. */
uint64_t tu_seq_field(const cJSON *obj);

#endif
