/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reg_client.c: libFuzzer target for the client side of registration
 * after its HELLO: the input is a stream of frames (DESIGN.md 6) fed to the
 * client until one is refused.  A refused frame must leave no keys; a
 * CHALLENGE the client accepts must be followed by exactly one RESPONSE.
 * Fixed embedded test keys (the same as fuzz_reg_relay.c, whose corpus
 * writer also writes this target's seed corpus from a real handshake).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/frame.h"
#include "srm/link.h"
#include "srm/reg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed 2048-bit test keys: never use them for anything else. */
static const char RELAY_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCnY2z0PyedSr1t\n"
    "iSE0GinueeJJm5Bg8FQl0MVmEtWb35zYqQ99suy8JrB+TVplZzL8JDwfBYw2n0+4\n"
    "IfuHKkxHywPYk4kvDMi3DnWJ+jo3H5Macw/oO+1mIisdhtfUNamrd9cd/H+Cd4pg\n"
    "uRCvq0J+6oP6LKpdSN1N3sgVbmHjyR00K31Ub3jVTFf9IZiI/KZ0kV200dfb5ShX\n"
    "yN8g43PDGm6NcgZpuRYAhfzct8UZ3ead9HQJ/y+0fLENimn1QEhvSFRtrQYgRhlR\n"
    "Zo4ypm9VMaW7/OUndRGzEZejTcF1XlgqmKXumGkuJr5Ovtp5EFR9Y9T8WXJH8mNn\n"
    "IZLInUcHAgMBAAECggEADkB86l7mNJJEhqsCVLlVkKR4C+Re6qILyBx6cjJwVZE4\n"
    "fYoHc6BkX7C7nkVfyPp8cNN0+v8x7QSrePYLwHptfD9g2HPXXlYsUMm+YD0Z78+U\n"
    "atAZLqDLmcKXATCV98+J3ruZaUgyYx1iftHDBfIC+2NkUUy0RLULgrHRP2Him85E\n"
    "eoNfh5uFfR3PBPuyXVPuyQqNZvrrAQj140PCfpyeGm4hf428+AX0IcwmhWzHhrPU\n"
    "Xx/eFd5Z8Kelw7MGAwX3hqMSbeZai86UQv4QaYFVQMC8GvcdHSZFHxjMaudMAbAa\n"
    "8xRDVLEuwCNVs+ytbc+gjYP0M7uhzrUNJpz7NH37AQKBgQDhEnjLJ/d4wUWDP5MD\n"
    "vp62VGEu0cXCaV5sWQAr4htDTbmLcjCIMalmTZW6QLDdG2Rt5leHACobseo5EiQc\n"
    "RvhQPg/5X/hzEUERFnOakOtstlqG/QcDkLq+eZk1kZG73eLjP0QEzfDXal4cR7nU\n"
    "YB6gM4YEIOlQNpajc0dzcNToYQKBgQC+Y8T0Gfo+cXeAYU8dpNMygzk/JjK2wc4r\n"
    "j3/y0LcW/nOb04mW6ZE9MtVz5u6jkVBoP8SxUTLcooWyAIB3nHs8bmTmen4M/tGl\n"
    "PrIy9p3jgtrvOt4FXJUmwHKIb+O15vAkNg5qw5cULn4K2NlJJhvNvo6kpSA8BO6Q\n"
    "/R0FZmjIZwKBgQDPm95YZxFbDcw0+Nt/RMHZpZPPQCiO3+r9PktuLy6+sl9IRZiG\n"
    "yGhduYs3NpzuF2pYBXUPThOJYF+RLS6p9rzuJ5FMkj32xh+ix3bzSGIg8UQn6BYk\n"
    "L8hSEpBEXXZ0OIQk4iK3288gpTkSFQdQ4yjc1Sn1fPY5y2DAfIGX9qgtgQKBgQCF\n"
    "G4WoT70oCPZOeDny9Lh/eUT9xHvyT/8Pb2052vgWiGFVUYjBTJyxV6fqN0siakb4\n"
    "C5U9jxJrNOkZ8MXgWjPCpT+/72XPOhxiVjoJ7Wenl2XvmY193COfCy9H+koOc93y\n"
    "wyRDOmmWv4Z5mPAY9x67Mn3R2Gx36c7M6Vlv3BBoAwKBgGBOBeDW3juIxNKl/kuJ\n"
    "PoPABWDY99ZkCB38ZD2l0tUK2ka5/La4CnE5vF0JFn4UvN4K3Vd3tQp7NhlWmseN\n"
    "0Swrub8wFPu6mmkgMzVsuZimPjuNVTdM1M7f82ppHTBhCrb5N945Ek5Y7RQs5SaV\n"
    "PKGqmz1FADTowYyB+TQMMoSo\n"
    "-----END PRIVATE KEY-----\n";

static const char ALICE_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDVncou4TKTUAPC\n"
    "d1vno2JVmjigCd1j7pVbz6eBoZXil6vPQ7LLmMtlU1Gdd/t9ZxO7pKbS3/YxIWxs\n"
    "nfwpcIDgexELppSkaSF0saluUZ5qPKNJYpGb1r+MnVt36hUdiMqnz0W42noBe/lI\n"
    "IxYVs2iDW6KtBDeH1STOhF7whW/m5gnLfmNCbMzVwDgW4O22qF6Jxlj//eBj0yVX\n"
    "7uEGS3lrAD6HdneVxAtHQLzEUVZ8uMNpVRcI3UpKicTopRaqpvfR0hFQ3lBDGOIq\n"
    "pq2aI9Z3lJK6x32nU3z3C72obB2iFsK3jcDqlpsCCxSN8Fc6ab5uc/YBa7m4GuQB\n"
    "ouLTgwlnAgMBAAECggEAN97mQ66o4Li70wAO7J3iGUuV5d3OptV/AR1lzVTq8/IB\n"
    "gNtPB0s2X5EUNqBsCZeNJLXi4CKtrJn2Vs5XZqtDOfNWOPrfw8SveGsDSpRUX6ru\n"
    "dkIunVjkjq2Vf96cmTXu80cWEEwsPvki8QgkPZbIDhtIiAIjWAaact1SS4xLAVPM\n"
    "p1u/ccjXNjvE595jSF6pY7Q7IecsI1qxYctjBvFOpm1T3/Ncx0oP4HrQImKz6wc7\n"
    "MD3Z1r/CIxC7LcB21U5Lw46qCfBc6dNUILZfkJxBC/uI75q6XDRY15bWa5coXF1/\n"
    "7SLS9msgZ6Hrx/qawisq+wGm0RDz51OfACAS3gOn0QKBgQD8xsILPtz2Q2WlCbUw\n"
    "enmPK/tnrAAk2Cp8Wm+bLNJstpQJRZuL/rnJY99Jt+DV6r4aoXxH5gBofHMVZROl\n"
    "nt5DwwMcE3e5BYX8AbpRzX9n4F8v5YyQi4oVFBxU9LurlluhyCvf5rV/ZiSH0o+l\n"
    "1fn+720/ztSiJEqalCwpunu+OQKBgQDYVy+CmbavHMlBWQVmH4YE0CfEDumVsUhR\n"
    "lWdspUUr8+GyYMv9RzcTHmiBJOuXcI1vz8qt8Rc0abKlzIuu0gdTFl/CI2xA2px5\n"
    "Gq7K5pZHXjFxx95QqnrJm1eBZd6YYEPPGNSfas9HNSxR1HpD96LxXIRcsljjc0M0\n"
    "1gmEzycEnwKBgHOKVj/VqCJYhCl/2nYiRVYQAIZOtHIi7KiSndkMD9LpUZk7W/IN\n"
    "qNZI9FM53WdqOSLrFWe31g/scp4g6W4Ww/mtNcqri1njEG80SvoBOG8+u8Ok5S9c\n"
    "2OzxmFGs2+t+ervkR0m8ptFo2uHKeSaQPAkvX3x/CepjNEab2+Pm/ZDhAoGAcvqL\n"
    "Xp7xb8od0GROsUMJyF8U82d1j8BkDjAYgq6nv79jcZlucRM7WybrJdAIgjkogodu\n"
    "UdnzmkCe2O2IQ4aOrAMVK6oF68YEKX0b7ux0bEPMhYtTRY4FqkasUDJjBpsLDvNE\n"
    "deGfflntTyRdQuhHKn4gPt/uzBvDWT50Wqh6NUMCgYAu1aYH1KJcAIyO1sm9TgyS\n"
    "Rg1oEWaGE2MJDrlLFeXDXXq/z7yDS3ZsQgXpztpJDCE7+LNFdv3moaHdzWS5cYaI\n"
    "bnM0UaiNh/KnMD15JaA8fB/QSMhGnBKey7s0AiEbbXweVt6NHeT0tE2AecLeYXUC\n"
    "mIUkikg5dQm5mNE+cdRgxQ==\n"
    "-----END PRIVATE KEY-----\n";

static struct srm_key *relay_key;
static struct srm_key *alice_key;

static void load_keys(void)
{
    if (relay_key != NULL) {
        return;
    }
    if (srm_key_from_pem(RELAY_KEY_PEM, sizeof(RELAY_KEY_PEM) - 1, 1, &relay_key) != 0 ||
        srm_key_from_pem(ALICE_KEY_PEM, sizeof(ALICE_KEY_PEM) - 1, 1, &alice_key) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t outmem[8192];
    struct srm_reg *client = NULL;
    struct srm_link *link = NULL;
    struct srm_frame f;
    struct srm_buf in, out;
    size_t used;

    load_keys();
    if (srm_reg_new_client("alice", alice_key, relay_key, &client) != 0) {
        abort();
    }
    srm_buf_init_write(&out, outmem, sizeof(outmem));
    if (srm_reg_start(client, &out) != 0) {
        abort();
    }
    srm_buf_init_read(&in, data, size);
    while (srm_buf_remaining(&in) > 0) {
        const uint8_t *p = in.data + in.off;
        int rc;

        if (srm_frame_decode(p, srm_buf_remaining(&in), &f, &used) != 0) {
            break;
        }
        in.off += used;
        srm_buf_init_write(&out, outmem, sizeof(outmem));
        rc = srm_reg_recv(client, &f, &out);
        if (rc == SRM_ERR_BAD_STATE) {
            /* Already done or failed: nothing more is accepted, nothing is said. */
            if (out.len != 0) {
                abort();
            }
            break;
        }
        if (rc != 0) {
            /* The client never answers a frame it refuses, and keeps nothing. */
            if (out.len != 0 || srm_reg_is_done(client) ||
                srm_reg_holds_handshake_secrets(client)) {
                abort();
            }
            break;
        }
        if (!srm_reg_is_done(client) || outmem[4] != SRM_FRAME_REG_RESPONSE) {
            abort();
        }
    }
    if (srm_reg_is_done(client) && srm_reg_take_link(client, &link) == 0) {
        srm_link_free(link);
    }
    srm_reg_free(client);
    return 0;
}
