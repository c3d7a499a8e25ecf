/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sess.c: libFuzzer target for the end-to-end session.
 *
 * Input: mode (u8) || { u16be len || payload }*.  The payloads are fed in
 * turn to one session:
 *   mode 0: a fresh responder (bob, expecting alice);
 *   mode 1: an initiator (alice) that has sent its HS_INIT;
 *   mode 2: bob, after a real handshake with alice (established);
 *   mode 3: alice, after a real handshake with bob (established).
 * Nothing the fuzzer can write is signed by a pinned key or sealed under a
 * session key, so every call must end with no event at all: an event other
 * than none, a crash, a leak or a handshake secret left after failure aborts.
 * Fixed embedded keys keep the set-up the same on every run.
 *
 * Seed corpus: tests/fuzz/corpus/fuzz_sess, payloads of a real session
 * between these keys, written by this file's corpus-writer mode:
 *   cc -std=c11 -D_GNU_SOURCE -DSRM_FUZZ_CORPUS_WRITER -Iinclude -Isrc/lib \
 *      tests/fuzz/fuzz_sess.c BUILD/libsrm.a -lcrypto -o /tmp/w && /tmp/w tests/fuzz/corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/sess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fixed 2048-bit test keys: never use them for anything else. */
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

static const char BOB_KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEugIBADANBgkqhkiG9w0BAQEFAASCBKQwggSgAgEAAoIBAQDqzdQaQeF+uCks\n"
    "Qx/yXVV54oGrI9GsOCrpXwJO8guJ5XDhIhyYVSCZBmNQGoQy5+ER9KgRSj8hKFOu\n"
    "O7+3D7FUeg14/ik/gSwubNiIo26Sdi/DCCVIZG/3WdnQxIMdTjvnWBLDVIXWK0/W\n"
    "ub3AL/KqRrztbq42l3FxG+w5wGOeMgji4rivembhqwjCz270vGXw9dBDZVjliU6D\n"
    "NFxkmVMYr6khh3gGamUN4V03WB5AzYxJYfxiS8BbctvxsCuZz141HUwYIl7YqrT/\n"
    "J86TvTESAiBG/zFvJ7+Q8FXQZKAbfJKSZPHDCS0JgzraxOBWlcz5jSayXaLk6F0Y\n"
    "dC7ai06lAgMBAAECgf8OUX7kxa3sU2sS5FpVe3gCBPiqaMvgbYxpPP5nCunFqZu4\n"
    "kKMRUa3V3/FnVKhlx6Gq2jJJFIUaVds2RMPPrRcVAXjQ2ctUzO9IVz5rT4wLDQ2H\n"
    "OrDScjEMZGAOoiYHXFpnQSJVjhkNBJcg5IgRPml/o17h/0FnhJvJ5moBVHL3lhQN\n"
    "Y6oWfXdZ7/CLfhzZDITg2AtrZ50EHvar05x8kapt/yuWNP9obsO+h00dxVtKl7xn\n"
    "mknsljgvX1ydWtoSpVHtPyL+vUrrgkWcD53Tg5ysHuKlr+HiIoJmdBc0VoFrAmnC\n"
    "PrDpOlV/g5Y+lT6mkDm2t8pSKJVsO7ClKmFYmLECgYEA97ipaXXWZ0f29LWfUwUU\n"
    "uxx8qCRYb0XHvEPsO8BhG+6PObAR67vhrDPqFrauLIaqfRt7jDubQGV+UhJtHW1g\n"
    "uicUKLT7oQYHrnGQpx5EwGmQTOqXKEVUZ6ddwVX/RzDlY8QyeLr8AcJr3rstQCns\n"
    "thNDsifvUabD5GlpH0/skukCgYEA8qanooDmhzYpYrFfob2hpo6/qM+10zxBcwlT\n"
    "5Nfs1bSsAak48kN6DH+Fj75XfBfkqS+ilRAh2G2dOQAmc5KBtRYNkGRFjahW/yTU\n"
    "IRvek90dEJAPLkXJQmJwHF2A4QTD3A8FvnImTdXiCYk4JP+FxOrcEJnYpnUTIk8F\n"
    "LWo0cF0CgYBR92su9wuzbu969yG5waOjagChTi1o3CkD1WG0P6qiKGSBzQ2Q98Dr\n"
    "Tt41F8s39nMxJEfUFeEABNUwaOJr60YnMkkMUx4zoKAoC3G2qmBLXmKd4L2VWKNe\n"
    "DNYL492s+7PbOA8PPaenGWLB9yM46OZnNKagq3AXj1ugF3TuJG7+CQKBgAb2447V\n"
    "dkhhNJThlGYXBEG8jSGyPHzAmPxNQzwpOmHz2o/9pGXHrAQZ0OKMSwSDxwtYE6mF\n"
    "mgMVOlL9fx0IEnL5HBCN4DUtpLmT/AarPxstWH02NUlVtW4TVzZpNJ7AvUJeqAKM\n"
    "Ui8fuWoepx7gup0pRIGxeLdmWtM8Q2DHUJP9AoGAXcBIut32gCwc5xDmukVnK5IG\n"
    "csxI10f6GkC59dXQh39ai8GUE29PxxHCkNqSoTUABkPrRdfGvW9LkEC8/+d5iBK2\n"
    "MdvkxkB5ttm4Zna+od+RIzG3q8YW2HaKZT2xZspaPr7ygLf4GALmYA5td2qqDXiJ\n"
    "HHshdiE10+K5iw5ibIw=\n"
    "-----END PRIVATE KEY-----\n";

#define PL_CAP 4096

static struct srm_key *alice_key;
static struct srm_key *bob_key;

static void load_keys(void)
{
    if (alice_key != NULL) {
        return;
    }
    if (srm_key_from_pem(ALICE_KEY_PEM, sizeof(ALICE_KEY_PEM) - 1, 1, &alice_key) != 0 ||
        srm_key_from_pem(BOB_KEY_PEM, sizeof(BOB_KEY_PEM) - 1, 1, &bob_key) != 0) {
        abort();
    }
}

/* Run a real handshake between a (alice, initiator) and b (bob). */
static int handshake(struct srm_sess *a, struct srm_sess *b, uint8_t *init, size_t *init_n,
                     uint8_t *resp, size_t *resp_n, uint8_t *fin, size_t *fin_n)
{
    struct srm_sess_event ev;
    struct srm_buf o, none;
    uint8_t scratch[16];

    srm_buf_init_write(&o, init, PL_CAP);
    if (srm_sess_start(a, &o) != 0) {
        return -1;
    }
    *init_n = o.len;
    srm_buf_init_write(&o, resp, PL_CAP);
    if (srm_sess_recv(b, init, *init_n, &o, &ev) != 0) {
        return -1;
    }
    *resp_n = o.len;
    srm_buf_init_write(&o, fin, PL_CAP);
    if (srm_sess_recv(a, resp, *resp_n, &o, &ev) != 0 || ev.type != SRM_SESS_EV_ESTABLISHED) {
        return -1;
    }
    *fin_n = o.len;
    srm_buf_init_write(&none, scratch, sizeof(scratch));
    if (srm_sess_recv(b, fin, *fin_n, &none, &ev) != 0 || ev.type != SRM_SESS_EV_ESTABLISHED) {
        return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t init[PL_CAP], resp[PL_CAP], fin[PL_CAP], reply[PL_CAP];
    struct srm_sess *a = NULL, *b = NULL, *target;
    struct srm_sess_event ev;
    struct srm_buf in, o;
    size_t in_n, resp_n, fin_n;
    uint8_t mode = 0;

    load_keys();
    srm_buf_init_read(&in, data, size);
    if (srm_buf_get_u8(&in, &mode) != 0) {
        return 0;
    }
    mode &= 3;
    if (srm_sess_new("alice", alice_key, "bob", bob_key, &a) != 0 ||
        srm_sess_new("bob", bob_key, "alice", alice_key, &b) != 0) {
        abort();
    }
    target = (mode == 1 || mode == 3) ? a : b;
    if (mode == 1) {
        srm_buf_init_write(&o, init, sizeof(init));
        if (srm_sess_start(a, &o) != 0) {
            abort();
        }
    } else if (mode >= 2) {
        if (handshake(a, b, init, &in_n, resp, &resp_n, fin, &fin_n) != 0) {
            abort();
        }
    }
    for (;;) {
        const uint8_t *p = NULL;
        size_t n = 0;
        int rc;

        if (srm_buf_get_string16(&in, 65535, &p, &n) != 0) {
            break;
        }
        srm_buf_init_write(&o, reply, sizeof(reply));
        rc = srm_sess_recv(target, p, n, &o, &ev);
        /* Nothing here is signed or sealed by a real party: never an event. */
        if (ev.type != SRM_SESS_EV_NONE) {
            abort();
        }
        if (rc != 0 && o.len != 0) {
            abort();
        }
        if (srm_sess_state(target) != SRM_SESS_ESTABLISHED &&
            srm_sess_state(target) != SRM_SESS_INIT_SENT &&
            srm_sess_holds_handshake_secrets(target)) {
            abort();
        }
    }
    srm_sess_free(a);
    srm_sess_free(b);
    return 0;
}

#ifdef SRM_FUZZ_CORPUS_WRITER
static void write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *p1,
                       size_t n1, const uint8_t *p2, size_t n2)
{
    static uint8_t mem[3 * PL_CAP];
    struct srm_buf b;
    char path[4096];
    FILE *fp;

    srm_buf_init_write(&b, mem, sizeof(mem));
    if (srm_buf_put_u8(&b, mode) != 0 || srm_buf_put_string16(&b, p1, n1) != 0 ||
        (p2 != NULL && srm_buf_put_string16(&b, p2, n2) != 0)) {
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/fuzz_sess/%s", dir, name);
    if ((fp = fopen(path, "wb")) == NULL || fwrite(mem, 1, b.len, fp) != b.len || fclose(fp) != 0) {
        fprintf(stderr, "error: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    static uint8_t init[PL_CAP], resp[PL_CAP], fin[PL_CAP], rec[PL_CAP], ack[PL_CAP];
    struct srm_sess *a = NULL, *b = NULL;
    struct srm_buf o;
    size_t in_n, resp_n, fin_n, rec_n, ack_n;

    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    load_keys();
    if (srm_sess_new("alice", alice_key, "bob", bob_key, &a) != 0 ||
        srm_sess_new("bob", bob_key, "alice", alice_key, &b) != 0 ||
        handshake(a, b, init, &in_n, resp, &resp_n, fin, &fin_n) != 0) {
        return 1;
    }
    srm_buf_init_write(&o, rec, sizeof(rec));
    if (srm_sess_seal_data(a, 1, (const uint8_t *)"hello", 5, &o) != 0) {
        return 1;
    }
    rec_n = o.len;
    srm_buf_init_write(&o, ack, sizeof(ack));
    if (srm_sess_seal_ack(a, 1, &o) != 0) {
        return 1;
    }
    ack_n = o.len;
    write_seed(argv[1], "responder_init", 0, init, in_n, NULL, 0);
    write_seed(argv[1], "responder_init_fin", 0, init, in_n, fin, fin_n);
    write_seed(argv[1], "initiator_resp", 1, resp, resp_n, NULL, 0);
    write_seed(argv[1], "established_records", 2, rec, rec_n, ack, ack_n);
    write_seed(argv[1], "established_rekey_init", 2, init, in_n, NULL, 0);
    srm_sess_free(a);
    srm_sess_free(b);
    return 0;
}
#endif
