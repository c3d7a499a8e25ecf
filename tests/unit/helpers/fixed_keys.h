/* SPDX-License-Identifier: MIT */
/*
 * fixed_keys.h: fixed 2048-bit RSA test keys (relay, alice, bob) for the
 * fuzz targets, whose set-up must not depend on the run and cannot afford
 * to generate keys per input.  Never use these keys for anything else.
 */
#ifndef SRM_TEST_FIXED_KEYS_H
#define SRM_TEST_FIXED_KEYS_H

#include "srm/crypto.h"

enum tu_fixed_key { TU_KEY_RELAY = 0, TU_KEY_ALICE = 1, TU_KEY_BOB = 2 };

/*
 * The private key `which`, parsed on first use and kept for the life of the
 * process (the caller neither frees nor unrefs it).  Aborts if it does not load.
 */
struct srm_key *tu_fixed_key(enum tu_fixed_key which);

#endif
