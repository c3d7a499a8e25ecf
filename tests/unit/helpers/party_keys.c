/* SPDX-License-Identifier: MIT */
/*
 * party_keys.c: the per-group RSA keys of party_keys.h, shared by test_reg,
 * test_sess and test_wire_flip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "party_keys.h"

static int make_one(struct srm_key **priv, struct srm_key **pub);

int tu_keys_make(struct tu_keys *k, unsigned int which)
{
    memset(k, 0, sizeof(*k));
    if (((which & TU_RELAY) != 0 && make_one(&k->relay, &k->relay_pub) != 0) ||
        ((which & TU_ALICE) != 0 && make_one(&k->alice, &k->alice_pub) != 0) ||
        ((which & TU_BOB) != 0 && make_one(&k->bob, &k->bob_pub) != 0) ||
        ((which & TU_CAROL) != 0 && make_one(&k->carol, &k->carol_pub) != 0)) {
        return -1;
    }
    return 0;
}

static int make_one(struct srm_key **priv, struct srm_key **pub)
{
    if (srm_key_generate(2048, priv) != 0) {
        return -1;
    }
    tu_pub_of(*priv, pub);
    return 0;
}

void tu_pub_of(struct srm_key *priv, struct srm_key **pub)
{
    char *pem = NULL;
    size_t n = 0;

    assert_int_equal(srm_key_to_pem(priv, 0, &pem, &n), 0);
    assert_int_equal(srm_key_from_pem(pem, n, 0, pub), 0);
    assert_int_equal(srm_key_is_private(*pub), 0);
    free(pem);
}

void tu_keys_free(struct tu_keys *k)
{
    srm_key_free(k->relay);
    srm_key_free(k->relay_pub);
    srm_key_free(k->alice);
    srm_key_free(k->alice_pub);
    srm_key_free(k->bob);
    srm_key_free(k->bob_pub);
    srm_key_free(k->carol);
    srm_key_free(k->carol_pub);
    memset(k, 0, sizeof(*k));
}
