/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reg_relay.c: libFuzzer target for the relay side of registration.
 * The input is a stream of frames (DESIGN.md 6) fed one by one to a fresh
 * relay-side srm_reg until one is refused; every refusal must be clean (the
 * generic REG_ERROR and no keys).  The relay key and alice's key are fixed
 * test keys embedded below, so the set-up does not depend on the run.
 *
 * Seed corpus: tests/fuzz/corpus/fuzz_reg_relay (and fuzz_reg_client) hold
 * the frames of a real handshake between these keys, written by this file's
 * corpus-writer mode:
 *   cc -std=c11 -D_GNU_SOURCE -DSRM_FUZZ_CORPUS_WRITER -Iinclude -Isrc/lib \
 *      tests/fuzz/fuzz_reg_relay.c BUILD/libsrm.a -lcrypto -o /tmp/w && /tmp/w tests/fuzz/corpus
 */
#include <stdint.h>
#include <stdio.h>
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

/* The relay's key directory: only alice. */
static int lookup(void *arg, const char *name, struct srm_key **pub)
{
    (void)arg;
    if (strcmp(name, "alice") != 0) {
        return SRM_ERR_UNKNOWN_USER;
    }
    srm_key_ref(alice_key);
    *pub = alice_key;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t outmem[8192];
    struct srm_reg *relay = NULL;
    struct srm_link *link = NULL;
    struct srm_frame f;
    struct srm_buf in, out;
    size_t used;

    load_keys();
    if (srm_reg_new_relay(relay_key, lookup, NULL, &relay) != 0) {
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
        rc = srm_reg_recv(relay, &f, &out);
        if (rc == SRM_ERR_BAD_STATE) {
            /* Already done or failed: nothing more is accepted, nothing is said. */
            if (out.len != 0) {
                abort();
            }
            break;
        }
        if (rc != 0) {
            /* A failure leaves no keys and no handshake secret behind. */
            if (srm_reg_is_done(relay) || srm_reg_holds_handshake_secrets(relay)) {
                abort();
            }
            if (out.len != 6 || outmem[4] != SRM_FRAME_REG_ERROR || outmem[5] != 0) {
                abort();
            }
            break;
        }
    }
    if (srm_reg_is_done(relay) && srm_reg_take_link(relay, &link) == 0) {
        srm_link_free(link);
    }
    srm_reg_free(relay);
    return 0;
}

#ifdef SRM_FUZZ_CORPUS_WRITER
static void write_file(const char *dir, const char *sub, const char *name, const uint8_t *p,
                       size_t n)
{
    char path[4096];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    if ((fp = fopen(path, "wb")) == NULL || fwrite(p, 1, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "error: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    static uint8_t hello[4096], chal[4096], resp[4096], tmp[4096], both[8192];
    struct srm_reg *c = NULL, *r = NULL;
    struct srm_buf b;
    struct srm_frame f;
    size_t used, hn, cn, rn;
    static const uint8_t reg_error[] = {0, 0, 0, 2, SRM_FRAME_REG_ERROR, 0};

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    load_keys();
    if (srm_reg_new_client("alice", alice_key, relay_key, &c) != 0 ||
        srm_reg_new_relay(relay_key, lookup, NULL, &r) != 0) {
        return 1;
    }
    srm_buf_init_write(&b, hello, sizeof(hello));
    if (srm_reg_start(c, &b) != 0) {
        return 1;
    }
    hn = b.len;
    srm_buf_init_write(&b, chal, sizeof(chal));
    if (srm_frame_decode(hello, hn, &f, &used) != 0 || srm_reg_recv(r, &f, &b) != 0) {
        return 1;
    }
    cn = b.len;
    srm_buf_init_write(&b, resp, sizeof(resp));
    if (srm_frame_decode(chal, cn, &f, &used) != 0 || srm_reg_recv(c, &f, &b) != 0) {
        return 1;
    }
    rn = b.len;
    srm_buf_init_write(&b, tmp, sizeof(tmp));
    if (srm_frame_decode(resp, rn, &f, &used) != 0 || srm_reg_recv(r, &f, &b) != 0 ||
        !srm_reg_is_done(r)) {
        return 1;
    }
    write_file(argv[1], "fuzz_reg_relay", "hello", hello, hn);
    memcpy(both, hello, hn);
    memcpy(both + hn, resp, rn);
    write_file(argv[1], "fuzz_reg_relay", "hello_response", both, hn + rn);
    write_file(argv[1], "fuzz_reg_relay", "response_first", resp, rn);
    write_file(argv[1], "fuzz_reg_client", "challenge", chal, cn);
    write_file(argv[1], "fuzz_reg_client", "reg_error", reg_error, sizeof(reg_error));
    memcpy(both, chal, cn);
    memcpy(both + cn, reg_error, sizeof(reg_error));
    write_file(argv[1], "fuzz_reg_client", "challenge_reg_error", both, cn + sizeof(reg_error));
    srm_reg_free(c);
    srm_reg_free(r);
    return 0;
}
#endif
