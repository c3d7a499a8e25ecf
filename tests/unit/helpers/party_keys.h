/* SPDX-License-Identifier: MIT */
/*
 * party_keys.h: fresh RSA keys for the parties of a unit test (relay,
 * alice, bob, carol), generated once per test group, each with its public
 * half loaded back from PEM as a peer would pin it.
 */
#ifndef SRM_TEST_PARTY_KEYS_H
#define SRM_TEST_PARTY_KEYS_H

#include "srm/crypto.h"

/* Which parties tu_keys_make generates (a mask). */
#define TU_RELAY 0x1u
#define TU_ALICE 0x2u
#define TU_BOB   0x4u
#define TU_CAROL 0x8u

struct tu_keys {
    struct srm_key *relay, *relay_pub; /* relay private; the client's pinned relay.pub */
    struct srm_key *alice, *alice_pub; /* alice private; the relay's pinned keys/alice.pub */
    struct srm_key *bob, *bob_pub;
    struct srm_key *carol, *carol_pub; /* a third user, never the expected peer */
};

/*
 * 2048-bit private keys for the parties in `which`, and their public halves
 * (a cmocka assertion if a public half does not round-trip).  0, or -1 if
 * key generation fails, as a cmocka group set-up returns.
 */
int tu_keys_make(struct tu_keys *k, unsigned int which);
/* Frees every key in k (NULLs are fine) and clears it. */
void tu_keys_free(struct tu_keys *k);
/* *pub = the public half of priv, through PEM; a cmocka assertion on failure. */
void tu_pub_of(struct srm_key *priv, struct srm_key **pub);

#endif
