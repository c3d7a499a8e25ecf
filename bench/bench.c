/* SPDX-License-Identifier: MIT */
/*
 * bench.c: the srm benchmark program (docs/BENCHMARKS.md shows its results).
 *
 *   srm_bench [SECTION...] [--quick] [--json FILE] [--relay PATH --keys DIR]
 *
 * One function per section; with no SECTION every section runs.  Sections:
 *
 *   record  the end-to-end record (DESIGN.md 3a): SHA-256 throughput on
 *           16 KiB buffers through EVP_Digest, the ceiling it implies for
 *           the record (5 compressions per 64 bytes: 4 keystream, 1 tag, so
 *           ceiling = sha256 / 5), srm_record_seal / srm_record_open at
 *           several sizes, and the keystream+tag routes compared.  The
 *           ceiling and the record are measured in alternating short
 *           rounds and the best of each is kept, so machine noise (other
 *           processes, frequency changes) affects both alike.
 *   link    the client<->relay link record (DESIGN.md 3b): seal/open
 *           records/s at 256 B and 4 KiB through link.c and the plain EVP
 *           sequences, against raw AES-256-GCM on 16 KiB buffers (link.c)
 *   handshake    registrations/s against a real relay and RSA private
 *                ops/s in alternating rounds, link_ratio; sessions/s
 *                (handshake.c)
 *   relay        forwarding throughput, relay CPU per message, latency
 *                (relay.c)
 *   connections  relay memory per idle registered client (conns.c)
 *   cluster      one nats-server and two relay nodes (--cluster): relay
 *                CPU per message same-node vs cross-node, nats-server CPU,
 *                latency, at 10,000 msgs/s (cluster.c)
 *
 * The network sections start the relay program (--relay) themselves, pinned
 * to CPU 0, with the keys in --keys DIR; the driver runs on CPU 1 (drv.c).
 *
 * Results go to standard output as a table and, with --json, to FILE as
 * one JSON object with a member per measured quantity.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "srm/buf.h"
#include "srm/err.h"
#include "srm/record.h"
#include "srm/sha256.h"
#include "srm/wire.h"
#include "bench.h"

#define MB              1e6
#define REC_SIZES       5
#define ROUTE_SIZE      16384u /* the size ratio_16k is taken at */
#define MAX_ROUNDS      9
#define CEILING_DIVISOR 5.0 /* compressions per 64 bytes of record: 4 keystream + 1 tag */

/* One timed operation over ctx; returns 0 or an srm error. */
typedef int bench_op(void *ctx);

/* State for the record section. */
struct rec_ctx {
    struct srm_record *tx, *rx;
    uint8_t *pt, *rec, *out;
    size_t size, reclen;
    struct srm_buf w;
};

/* The routes compared: keystream plus tag over ROUTE_SIZE bytes. */
enum route_id {
    ROUTE_MAC_DUP,
    ROUTE_MD_COPY,
    ROUTE_OWN_PORTABLE,
    ROUTE_OWN_SHANI_1X,
    ROUTE_OWN_SHANI_2X,
    ROUTE_COUNT,
};

struct route_ctx {
    enum route_id id;
    /* EVP_MAC_CTX_dup route: keyed templates. */
    EVP_MAC_CTX *mac_enc, *mac_tag;
    /* EVP_MD_CTX_copy_ex route: SHA-256 after key ^ ipad / key ^ opad, and scratch. */
    EVP_MD_CTX *enc_in, *enc_out, *tag_in, *tag_out, *work;
    /* Our helper. */
    struct srm_hmac_key own_enc, own_tag;
    const uint8_t *iv, *sid, *pt;
    uint8_t *ct;
    uint8_t tag[32];
    size_t n;
};

/* seq is 0 in every route, as in the record sealed first in a direction. */
static const uint8_t seq0[8] = {0};

static const char *const route_names[ROUTE_COUNT] = {
    "evp_mac_ctx_dup", "evp_md_ctx_copy_ex", "own_portable", "own_shani_1x", "own_shani_2x",
};

static const char *const route_what[ROUTE_COUNT] = {
    "EVP_MAC_CTX_dup of a keyed HMAC per block",
    "EVP_MD_CTX_copy_ex of precomputed HMAC states",
    "own HMAC helper, portable C block function",
    "own HMAC helper, SHA-NI, one block at a time",
    "own HMAC helper, SHA-NI, two blocks interleaved",
};

static void usage(FILE *f);
static int measure(bench_op *op, void *ctx, size_t bytes, double seconds, double *mb_s);
static int section_record(const struct opts *o, struct json *j);
static int op_sha256(void *ctx);
static int op_seal(void *ctx);
static int op_open(void *ctx);
static int rec_setup(struct rec_ctx *c, size_t size);
static void rec_free(struct rec_ctx *c);
static int route_setup(struct route_ctx *c, enum route_id id, const uint8_t *k_enc,
                       const uint8_t *k_mac, const uint8_t *sid, const uint8_t *iv,
                       const uint8_t *pt, uint8_t *ct, size_t n);
static void route_free(struct route_ctx *c);
static int op_route(void *ctx);
static int route_mac_dup(struct route_ctx *c);
static int route_md_copy(struct route_ctx *c);
static int md_copy_hmac_finish(struct route_ctx *c, EVP_MD_CTX *outer, uint8_t out[32]);
static void put_words(const uint32_t h[8], uint8_t out[32]);
static int route_own(struct route_ctx *c);
static int routes_agree(const uint8_t *k_enc, const uint8_t *k_mac, const uint8_t *sid);

static const struct section {
    const char *name;
    int (*run)(const struct opts *o, struct json *j);
    const char *what;
} sections[] = {
    {"record", section_record,
     "SHA-256 ceiling, srm_record_seal/open MB/s at 64 B..64 KiB, keystream routes"},
    {"link", section_link,
     "link record (AES-256-GCM): seal/open records/s at 256 B and 4 KiB vs raw EVP ceiling"},
    {"handshake", section_handshake,
     "registrations/s against the relay vs RSA private ops/s; session setups/s"},
    {"relay", section_relay,
     "P = 1, 10, 100 pairs, 256 B / 4 KiB, unbatched and pipelined; latency at 10k/s"},
    {"connections", section_connections, "relay memory per idle registered client (10,000)"},
    {"cluster", section_cluster,
     "two relay nodes on NATS: same- vs cross-node CPU/msg and p99 at 10k/s"},
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: srm_bench [SECTION...] [--quick] [--json FILE] [--relay PATH --keys DIR]\n"
               "  --quick       short rounds\n"
               "  --json FILE   also write the results as JSON to FILE\n"
               "  --relay PATH  the relay program the network sections start\n"
               "  --keys DIR    relay.key/.pub and bench.key/.pub (scripts/bench.sh makes them)\n"
               "sections (default: all):\n");
    for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        fprintf(f, "  %-11s %s\n", sections[i].name, sections[i].what);
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quick", no_argument, NULL, 'q'},       {"json", required_argument, NULL, 'j'},
        {"relay", required_argument, NULL, 'r'}, {"keys", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    struct opts o = {0, NULL, NULL, NULL};
    struct json j = {NULL, 0};
    int c, rc = 0, i, want_all;
    size_t s;

    while ((c = getopt_long(argc, argv, "qj:r:k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'q':
            o.quick = 1;
            break;
        case 'j':
            o.json_path = optarg;
            break;
        case 'r':
            o.relay_path = optarg;
            break;
        case 'k':
            o.keys_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    for (i = optind; i < argc; i++) {
        for (s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
            if (strcmp(argv[i], sections[s].name) == 0) {
                break;
            }
        }
        if (s == sizeof(sections) / sizeof(sections[0]) && strcmp(argv[i], "all") != 0) {
            fprintf(stderr, "error: unknown section '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (o.json_path != NULL) {
        if ((j.f = fopen(o.json_path, "w")) == NULL) {
            fprintf(stderr, "error: cannot write %s: %s\n", o.json_path, strerror(errno));
            return 1;
        }
        fprintf(j.f, "{\n  \"quick\": %s", o.quick ? "true" : "false");
        j.members = 1;
    }
    want_all = optind == argc;
    for (s = 0; s < sizeof(sections) / sizeof(sections[0]) && rc == 0; s++) {
        int selected = want_all;

        for (i = optind; i < argc; i++) {
            if (strcmp(argv[i], sections[s].name) == 0 || strcmp(argv[i], "all") == 0) {
                selected = 1;
            }
        }
        if (selected) {
            rc = sections[s].run(&o, &j);
        }
    }
    if (j.f != NULL) {
        fprintf(j.f, "\n}\n");
        if (fclose(j.f) != 0) {
            fprintf(stderr, "error: cannot write %s: %s\n", o.json_path, strerror(errno));
            rc = 1;
        }
    }
    return rc == 0 ? 0 : 1;
}

/* CPU seconds (user + system) this process has used: the bench clients' share. */
double self_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Run op for about `seconds` (at least 8 times) and give its throughput. */
static int measure(bench_op *op, void *ctx, size_t bytes, double seconds, double *mb_s)
{
    double t0 = now(), t;
    unsigned long ops = 0;
    int rc, k;

    do {
        for (k = 0; k < 8; k++) {
            if ((rc = op(ctx)) != 0) {
                return rc;
            }
        }
        ops += 8;
        t = now() - t0;
    } while (t < seconds);
    *mb_s = (double)ops * (double)bytes / t / MB;
    return 0;
}

/* Start the next member of the top-level JSON object. */
void json_member(struct json *j, const char *name)
{
    fprintf(j->f, "%s\n  \"%s\": ", j->members++ ? "," : "", name);
}

/* ---- record section ---- */

static int op_sha256(void *ctx)
{
    static uint8_t md[32];
    unsigned int len = 0;

    return EVP_Digest(ctx, ROUTE_SIZE, md, &len, EVP_sha256(), NULL) == 1 ? 0 : SRM_ERR_LIBCRYPTO;
}

static int op_seal(void *ctx)
{
    struct rec_ctx *c = ctx;

    srm_buf_init_write(&c->w, c->out, c->reclen);
    return srm_record_seal(c->tx, c->pt, c->size, &c->w);
}

/* Opens the same seq-0 record each time: rewinding the receiver is cheap. */
static int op_open(void *ctx)
{
    struct rec_ctx *c = ctx;
    size_t ptlen = 0;
    int rc;

    srm_record_set_seq(c->rx, 0);
    if ((rc = srm_record_open(c->rx, c->rec, c->reclen, c->pt, c->size, &ptlen)) != 0) {
        return rc;
    }
    return ptlen == c->size ? 0 : SRM_ERR_INTERNAL;
}

static int rec_setup(struct rec_ctx *c, size_t size)
{
    uint8_t k_enc[32], k_mac[32], sid[16];
    size_t i;
    int rc;

    memset(c, 0, sizeof(*c));
    for (i = 0; i < 32; i++) {
        k_enc[i] = (uint8_t)(i + 1);
        k_mac[i] = (uint8_t)(i + 101);
        sid[i % 16] = (uint8_t)(i * 7);
    }
    c->size = size;
    c->reclen = size + SRM_RECORD_OVERHEAD;
    c->pt = calloc(1, size + 1);
    c->rec = calloc(1, c->reclen);
    c->out = calloc(1, c->reclen);
    if (c->pt == NULL || c->rec == NULL || c->out == NULL) {
        return SRM_ERR_ALLOC;
    }
    if ((rc = srm_record_new(k_enc, k_mac, sid, &c->tx)) != 0 ||
        (rc = srm_record_new(k_enc, k_mac, sid, &c->rx)) != 0) {
        return rc;
    }
    srm_buf_init_write(&c->w, c->rec, c->reclen);
    if ((rc = srm_record_seal(c->tx, c->pt, size, &c->w)) != 0) {
        return rc;
    }
    return c->w.len == c->reclen ? 0 : SRM_ERR_INTERNAL;
}

static void rec_free(struct rec_ctx *c)
{
    srm_record_free(c->tx);
    srm_record_free(c->rx);
    free(c->pt);
    free(c->rec);
    free(c->out);
    memset(c, 0, sizeof(*c));
}

static int section_record(const struct opts *o, struct json *j)
{
    static const size_t sizes[REC_SIZES] = {64, 256, 1024, 16384, 65536};
    const int rounds = o->quick ? 3 : 7;
    const double slice = o->quick ? 0.04 : 0.15;
    struct rec_ctx recs[REC_SIZES];
    struct route_ctx routes[ROUTE_COUNT];
    double sha = 0, seal[REC_SIZES] = {0}, open_[REC_SIZES] = {0}, route[ROUTE_COUNT] = {0};
    double v, ceiling;
    uint8_t *shabuf = NULL, *rpt = NULL, *rct = NULL;
    uint8_t k_enc[32], k_mac[32], sid[16], iv[16];
    int rc = SRM_ERR_INTERNAL, r, have_shani = srm_sha256_have_shani();
    size_t i;

    memset(recs, 0, sizeof(recs));
    memset(routes, 0, sizeof(routes));
    for (i = 0; i < 32; i++) {
        k_enc[i] = (uint8_t)(i * 3);
        k_mac[i] = (uint8_t)(i * 5 + 1);
        sid[i % 16] = (uint8_t)(i + 9);
        iv[i % 16] = (uint8_t)(i * 11);
    }
    shabuf = calloc(1, ROUTE_SIZE);
    rpt = calloc(1, ROUTE_SIZE);
    rct = calloc(1, ROUTE_SIZE);
    if (shabuf == NULL || rpt == NULL || rct == NULL) {
        rc = SRM_ERR_ALLOC;
        goto out;
    }
    for (i = 0; i < REC_SIZES; i++) {
        if ((rc = rec_setup(&recs[i], sizes[i])) != 0) {
            goto out;
        }
    }
    /* Every route computes the same bytes as srm_record_seal_iv, or its speed means nothing. */
    if ((rc = routes_agree(k_enc, k_mac, sid)) != 0) {
        fprintf(stderr, "error: record routes disagree with srm_record_seal_iv\n");
        goto out;
    }
    for (i = 0; i < ROUTE_COUNT; i++) {
        if ((rc = route_setup(&routes[i], (enum route_id)i, k_enc, k_mac, sid, iv, rpt, rct,
                              ROUTE_SIZE)) != 0) {
            goto out;
        }
    }
    printf("record: %d rounds of %.0f ms slices (best of rounds), SHA-NI %s\n", rounds, slice * 1e3,
           have_shani ? "yes" : "no");
    fflush(stdout);
    for (r = 0; r < rounds; r++) {
        if ((rc = measure(op_sha256, shabuf, ROUTE_SIZE, slice, &v)) != 0) {
            goto out;
        }
        sha = v > sha ? v : sha;
        for (i = 0; i < REC_SIZES; i++) {
            if ((rc = measure(op_seal, &recs[i], sizes[i], slice, &v)) != 0) {
                goto out;
            }
            seal[i] = v > seal[i] ? v : seal[i];
            if ((rc = measure(op_open, &recs[i], sizes[i], slice, &v)) != 0) {
                goto out;
            }
            open_[i] = v > open_[i] ? v : open_[i];
        }
        for (i = 0; i < ROUTE_COUNT; i++) {
            if ((i == ROUTE_OWN_SHANI_1X || i == ROUTE_OWN_SHANI_2X) && !have_shani) {
                continue;
            }
            /* The slow generic routes get a shorter slice: they only need to be roughly right. */
            if ((rc = measure(op_route, &routes[i], ROUTE_SIZE, slice / 2, &v)) != 0) {
                goto out;
            }
            route[i] = v > route[i] ? v : route[i];
        }
    }
    ceiling = sha / CEILING_DIVISOR;

    printf("\n  SHA-256 (EVP_Digest, 16 KiB)   %9.1f MB/s\n", sha);
    printf("  record ceiling (sha256 / 5)    %9.1f MB/s\n\n", ceiling);
    printf("  %8s  %12s  %12s  %10s\n", "size", "seal MB/s", "open MB/s", "seal/ceil");
    for (i = 0; i < REC_SIZES; i++) {
        printf("  %8zu  %12.1f  %12.1f  %10.2f\n", sizes[i], seal[i], open_[i], seal[i] / ceiling);
    }
    printf("\n  ratio_16k = seal(16 KiB) / ceiling = %.3f\n\n", seal[3] / ceiling);
    printf("  keystream + tag over 16 KiB, by route:\n");
    for (i = 0; i < ROUTE_COUNT; i++) {
        if (route[i] > 0) {
            printf("  %-20s %9.1f MB/s  %5.2f of ceiling  (%s)\n", route_names[i], route[i],
                   route[i] / ceiling, route_what[i]);
        }
    }
    printf("\n");

    if (j->f != NULL) {
        json_member(j, "record");
        fprintf(j->f, "[");
        for (i = 0; i < REC_SIZES; i++) {
            fprintf(j->f, "%s\n    {\"size\": %zu, \"seal_mb_s\": %.1f, \"open_mb_s\": %.1f}",
                    i ? "," : "", sizes[i], seal[i], open_[i]);
        }
        fprintf(j->f, "\n  ]");
        json_member(j, "record_ceiling");
        fprintf(j->f,
                "{\"sha256_mb_s\": %.1f, \"ceiling_mb_s\": %.1f, \"ratio_16k\": %.3f, "
                "\"sha_ni\": %s, \"rounds\": %d}",
                sha, ceiling, seal[3] / ceiling, have_shani ? "true" : "false", rounds);
        json_member(j, "record_routes");
        fprintf(j->f, "[");
        for (i = 0; i < ROUTE_COUNT; i++) {
            if (route[i] > 0) {
                fprintf(j->f,
                        "%s\n    {\"route\": \"%s\", \"size\": %u, \"mb_s\": %.1f, "
                        "\"ratio\": %.3f}",
                        i ? "," : "", route_names[i], ROUTE_SIZE, route[i], route[i] / ceiling);
            }
        }
        fprintf(j->f, "\n  ]");
    }
    rc = 0;
out:
    if (rc != 0) {
        fprintf(stderr, "error: record benchmark failed: %s\n", srm_strerror(rc));
    }
    for (i = 0; i < REC_SIZES; i++) {
        rec_free(&recs[i]);
    }
    for (i = 0; i < ROUTE_COUNT; i++) {
        route_free(&routes[i]);
    }
    free(shabuf);
    free(rpt);
    free(rct);
    return rc;
}

/* ---- the routes: small local keystream+tag implementations, for comparison only ---- */

static int route_setup(struct route_ctx *c, enum route_id id, const uint8_t *k_enc,
                       const uint8_t *k_mac, const uint8_t *sid, const uint8_t *iv,
                       const uint8_t *pt, uint8_t *ct, size_t n)
{
    enum srm_sha256_impl impl = id == ROUTE_OWN_PORTABLE ? SRM_SHA256_PORTABLE : SRM_SHA256_AUTO;
    EVP_MAC *mac = NULL;
    EVP_MD *md = NULL;
    OSSL_PARAM params[2];
    uint8_t pad[64];
    int rc = SRM_ERR_LIBCRYPTO;
    size_t i, k;
    const uint8_t *keys[2] = {k_enc, k_mac};
    EVP_MD_CTX **ins[2] = {&c->enc_in, &c->tag_in}, **outs[2] = {&c->enc_out, &c->tag_out};

    memset(c, 0, sizeof(*c));
    c->id = id;
    c->iv = iv;
    c->sid = sid;
    c->pt = pt;
    c->ct = ct;
    c->n = n;
    if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
        (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        goto out;
    }
    params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if ((c->mac_enc = EVP_MAC_CTX_new(mac)) == NULL ||
        (c->mac_tag = EVP_MAC_CTX_new(mac)) == NULL ||
        EVP_MAC_init(c->mac_enc, k_enc, 32, params) != 1 ||
        EVP_MAC_init(c->mac_tag, k_mac, 32, params) != 1) {
        goto out;
    }
    if ((c->work = EVP_MD_CTX_new()) == NULL) {
        goto out;
    }
    for (k = 0; k < 2; k++) {
        memset(pad, 0x36, sizeof(pad));
        for (i = 0; i < 32; i++) {
            pad[i] ^= keys[k][i];
        }
        if ((*ins[k] = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex2(*ins[k], md, NULL) != 1 ||
            EVP_DigestUpdate(*ins[k], pad, 64) != 1) {
            goto out;
        }
        for (i = 0; i < 64; i++) {
            pad[i] ^= 0x36 ^ 0x5c;
        }
        if ((*outs[k] = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex2(*outs[k], md, NULL) != 1 ||
            EVP_DigestUpdate(*outs[k], pad, 64) != 1) {
            goto out;
        }
    }
    if ((rc = srm_hmac_key_init_impl(&c->own_enc, k_enc, 32, impl)) != 0 ||
        (rc = srm_hmac_key_init_impl(&c->own_tag, k_mac, 32, impl)) != 0) {
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(pad, sizeof(pad));
    EVP_MAC_free(mac);
    EVP_MD_free(md);
    return rc;
}

static void route_free(struct route_ctx *c)
{
    EVP_MAC_CTX_free(c->mac_enc);
    EVP_MAC_CTX_free(c->mac_tag);
    EVP_MD_CTX_free(c->enc_in);
    EVP_MD_CTX_free(c->enc_out);
    EVP_MD_CTX_free(c->tag_in);
    EVP_MD_CTX_free(c->tag_out);
    EVP_MD_CTX_free(c->work);
    srm_hmac_key_wipe(&c->own_enc);
    srm_hmac_key_wipe(&c->own_tag);
    memset(c, 0, sizeof(*c));
}

static int op_route(void *ctx)
{
    struct route_ctx *c = ctx;

    switch (c->id) {
    case ROUTE_MAC_DUP:
        return route_mac_dup(c);
    case ROUTE_MD_COPY:
        return route_md_copy(c);
    case ROUTE_OWN_PORTABLE:
    case ROUTE_OWN_SHANI_1X:
    case ROUTE_OWN_SHANI_2X:
        return route_own(c);
    default:
        return SRM_ERR_INTERNAL;
    }
}

static int route_mac_dup(struct route_ctx *c)
{
    EVP_MAC_CTX *m = NULL;
    uint8_t blk[20], ks[32];
    size_t off, take, k, len = 0;
    uint32_t i;

    memcpy(blk, c->iv, 16);
    for (off = 0, i = 0; off < c->n; off += take, i++) {
        blk[16] = (uint8_t)(i >> 24);
        blk[17] = (uint8_t)(i >> 16);
        blk[18] = (uint8_t)(i >> 8);
        blk[19] = (uint8_t)i;
        if ((m = EVP_MAC_CTX_dup(c->mac_enc)) == NULL || EVP_MAC_update(m, blk, 20) != 1 ||
            EVP_MAC_final(m, ks, &len, 32) != 1) {
            EVP_MAC_CTX_free(m);
            return SRM_ERR_LIBCRYPTO;
        }
        EVP_MAC_CTX_free(m);
        take = c->n - off < 32 ? c->n - off : 32;
        for (k = 0; k < take; k++) {
            c->ct[off + k] = (uint8_t)(c->pt[off + k] ^ ks[k]);
        }
    }
    if ((m = EVP_MAC_CTX_dup(c->mac_tag)) == NULL || EVP_MAC_update(m, c->iv, 16) != 1 ||
        EVP_MAC_update(m, c->ct, c->n) != 1 || EVP_MAC_update(m, c->sid, 16) != 1 ||
        EVP_MAC_update(m, seq0, 8) != 1 || EVP_MAC_final(m, c->tag, &len, 32) != 1) {
        EVP_MAC_CTX_free(m);
        return SRM_ERR_LIBCRYPTO;
    }
    EVP_MAC_CTX_free(m);
    return 0;
}

static int md_copy_hmac_finish(struct route_ctx *c, EVP_MD_CTX *outer, uint8_t out[32])
{
    uint8_t ih[32];
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(c->work, ih, &len) != 1 || EVP_MD_CTX_copy_ex(c->work, outer) != 1 ||
        EVP_DigestUpdate(c->work, ih, 32) != 1 || EVP_DigestFinal_ex(c->work, out, &len) != 1) {
        return SRM_ERR_LIBCRYPTO;
    }
    return 0;
}

static int route_md_copy(struct route_ctx *c)
{
    uint8_t blk[20], ks[32];
    size_t off, take, k;
    uint32_t i;
    int rc;

    memcpy(blk, c->iv, 16);
    for (off = 0, i = 0; off < c->n; off += take, i++) {
        blk[16] = (uint8_t)(i >> 24);
        blk[17] = (uint8_t)(i >> 16);
        blk[18] = (uint8_t)(i >> 8);
        blk[19] = (uint8_t)i;
        if (EVP_MD_CTX_copy_ex(c->work, c->enc_in) != 1 ||
            EVP_DigestUpdate(c->work, blk, 20) != 1) {
            return SRM_ERR_LIBCRYPTO;
        }
        if ((rc = md_copy_hmac_finish(c, c->enc_out, ks)) != 0) {
            return rc;
        }
        take = c->n - off < 32 ? c->n - off : 32;
        for (k = 0; k < take; k++) {
            c->ct[off + k] = (uint8_t)(c->pt[off + k] ^ ks[k]);
        }
    }
    if (EVP_MD_CTX_copy_ex(c->work, c->tag_in) != 1 || EVP_DigestUpdate(c->work, c->iv, 16) != 1 ||
        EVP_DigestUpdate(c->work, c->ct, c->n) != 1 || EVP_DigestUpdate(c->work, c->sid, 16) != 1 ||
        EVP_DigestUpdate(c->work, seq0, 8) != 1) {
        return SRM_ERR_LIBCRYPTO;
    }
    return md_copy_hmac_finish(c, c->tag_out, c->tag);
}

/* The eight state words as the big-endian digest. */
static void put_words(const uint32_t h[8], uint8_t out[32])
{
    size_t i;

    for (i = 0; i < 32; i++) {
        out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
    }
}

static int route_own(struct route_ctx *c)
{
    struct srm_hmac h;
    struct srm_sha256 st;
    uint8_t ks[32], in[64], outb[64];
    size_t off, take, k;
    uint32_t i;
    int rc;

    if (c->id == ROUTE_OWN_SHANI_1X) {
        /*
         * The same two compressions per block as srm_hmac_ctr_xor, on the
         * same prebuilt padded blocks, one block at a time: what
         * interleaving two blocks buys.
         */
        memcpy(in, c->iv, 16);
        memset(in + 16, 0, 48);
        in[20] = 0x80;
        in[62] = (64 + 20) * 8 >> 8;
        in[63] = (uint8_t)((64 + 20) * 8);
        memset(outb, 0, 64);
        outb[32] = 0x80;
        outb[62] = (64 + 32) * 8 >> 8;
        outb[63] = (uint8_t)((64 + 32) * 8);
        for (off = 0, i = 0; off < c->n; off += take, i++) {
            in[16] = (uint8_t)(i >> 24);
            in[17] = (uint8_t)(i >> 16);
            in[18] = (uint8_t)(i >> 8);
            in[19] = (uint8_t)i;
            st = c->own_enc.inner;
            srm_sha256_blocks(&st, in, 1);
            put_words(st.h, outb);
            st = c->own_enc.outer;
            srm_sha256_blocks(&st, outb, 1);
            put_words(st.h, ks);
            take = c->n - off < 32 ? c->n - off : 32;
            for (k = 0; k < take; k++) {
                c->ct[off + k] = (uint8_t)(c->pt[off + k] ^ ks[k]);
            }
        }
    } else if ((rc = srm_hmac_ctr_xor(&c->own_enc, c->iv, c->pt, c->ct, c->n)) != 0) {
        return rc;
    }
    srm_hmac_init(&h, &c->own_tag);
    srm_hmac_update(&h, c->iv, 16);
    srm_hmac_update(&h, c->ct, c->n);
    srm_hmac_update(&h, c->sid, 16);
    srm_hmac_update(&h, seq0, 8);
    srm_hmac_final(&h, c->tag);
    return 0;
}

/* Each route's ct and tag equal the record's own, for a few sizes. */
static int routes_agree(const uint8_t *k_enc, const uint8_t *k_mac, const uint8_t *sid)
{
    static const size_t ns[] = {0, 1, 33, 100, 4096};
    struct route_ctx c;
    struct srm_record *r = NULL;
    struct srm_buf w;
    uint8_t pt[4096], ct[4096], rec[4096 + SRM_RECORD_OVERHEAD], iv[16];
    size_t i, k, n;
    int rc = SRM_ERR_INTERNAL;

    for (i = 0; i < sizeof(pt); i++) {
        pt[i] = (uint8_t)(i * 13 + 5);
    }
    memset(iv, 0xa5, sizeof(iv));
    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        n = ns[i];
        if ((rc = srm_record_new(k_enc, k_mac, sid, &r)) != 0) {
            return rc;
        }
        srm_buf_init_write(&w, rec, sizeof(rec));
        rc = srm_record_seal_iv(r, iv, pt, n, &w);
        srm_record_free(r);
        r = NULL;
        if (rc != 0) {
            return rc;
        }
        for (k = 0; k < ROUTE_COUNT; k++) {
            if ((k == ROUTE_OWN_SHANI_1X || k == ROUTE_OWN_SHANI_2X) && !srm_sha256_have_shani()) {
                continue;
            }
            if ((rc = route_setup(&c, (enum route_id)k, k_enc, k_mac, sid, iv, pt, ct, n)) != 0 ||
                (rc = op_route(&c)) != 0) {
                route_free(&c);
                return rc;
            }
            rc = (n != 0 && memcmp(ct, rec + 24, n) != 0) || memcmp(c.tag, rec + 24 + n, 32) != 0
                     ? SRM_ERR_INTERNAL
                     : 0;
            route_free(&c);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}
