/* SPDX-License-Identifier: MIT */
/*
 * fuzz_relay.c: the whole relay, in-process, against one hostile client.
 *
 * The relay's own connection code (src/relay, linked as srm_relay_core) runs
 * on an event_base; the fuzzer's bytes arrive on the far end of a socketpair
 * as a client's input, and the loop runs for a bounded number of turns.
 * The first input byte picks the mode:
 *
 *   0  raw: the rest is written as-is to a fresh, unregistered connection
 *      (framing, the registration frames, the caps, the deadline's state).
 *      The keys below are the ones the seed streams were recorded with, so
 *      a recorded REG_HELLO really decrypts and the relay really answers it.
 *   1  alice, already registered (relay_adopt_registered: fixed link keys,
 *      no RSA work per input): the rest is chunks, each
 *      op (u8) || len (u16be) || bytes:
 *        op bit 1..2 = 0, 1: bytes are a link message, sealed and sent
 *                    = 2:    bytes go to the socket raw (broken framing)
 *                    = 3:    sealed and sent, then the loop runs dry
 *   2  as 1, with bob registered too (op bit 0 picks the sender), so SEND
 *      is really routed and DELIVER, PRESENCE and the replacement of a name
 *      are reached.
 *
 * Whatever the relay writes back is read and dropped, so its output cap is
 * only reached by what the input makes it queue.  Nothing depends on the
 * time of day; the keys are made once.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>

#include "srm/buf.h"
#include "srm/crypto.h"
#include "srm/frame.h"
#include "srm/kdf.h"
#include "srm/link.h"
#include "srm/wire.h"
#include "log.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loop turns once all input is in: enough for every queued callback and the reap event. */
#define DRAIN_TURNS 8
/* Turns spent waiting for room in a full socket before the input is cut short. */
#define WRITE_TURNS 64
#define MAX_PEERS   2
#define CHUNK_HDR   3u

/* Test keys (RSA 2048), for this target and its recorded corpus only: never use them. */
static const char relay_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                                "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDehQNwPMHEzeKM\n"
                                "0BKRvCI+X7sCmB7qJS0nw4V5FsPUQ95X3EXQcb6Clwjj2+2nYVQBKocQYlpe3hWG\n"
                                "nVe2E7Ms75db/GKQCbe0avsNRW6z3akyqT+uwDO162di+C9uFZWu2XKxrhkiY06v\n"
                                "1+5q81UIJoHfw9sykHo/zcW7N3V9aLL+OcpPRki4N0YQqMR7QKyDptxrmXVdMwIg\n"
                                "wY/bKcfzPDBJgu6GnFgTk6a+1e6N7k9u25AYXj6mmBQZU2lVriTgO3v0luNsnrTH\n"
                                "2mvXnEpmsJ4AqPWc7LMZehbUrahcLGNFy2md5GBjrDm4cwyFmIBYvgqUM1lfUpji\n"
                                "QK0JzzGjAgMBAAECggEAZ5KhEZZuGLU+LI3S/tuDUuYLLT9yMEkilf4Xe8/BUeVP\n"
                                "MjUYl9fBtZYocKrXGRAf4jURzeoBp2OWwGQvRdQwk4tnt8ynceTcCZG8DibRys2z\n"
                                "ah3GQwg6aYRLSJE9vm80j0Cudo6TK2Lu5sFKu6RMYXFPBUDsH8KI7HbSgPxk5vw9\n"
                                "GFcy1yh1Noe33NcULFn6X5qUJS6dBuH0ap/iuKBDxrfSu+tTzFdTZk48meGA/d1V\n"
                                "U78dRiUbJ3uT+vc8LYenPe9wqlHoA/9WsHfEfg8H4B0ejcw6WQl197/7Ds8XqsO1\n"
                                "zBwSEgaoj8VPH13bOkmyTewow6S0MFmg5gndz3qL3QKBgQDvJ6raIiNpNVi0TjtJ\n"
                                "duEfMFLgJn+PeGlgsuGRXc4nHOO0MQp6YsbFDiGqSiwVJpzLKW2GdShRrJndv+uQ\n"
                                "OTP7zeAXtQTe/lHlTucNATAoAQyluXblBtPu1GkvdJaS2pnDlisoMfSshhirqAAb\n"
                                "28EVfCJ98pQ5J43OQsh+5edxlwKBgQDuMWJ8w4N9SwuIEOUv0+T4LKLevE5aC8lO\n"
                                "Eq21lRH5k5wo7lZB/9SnQPdAPiWW0zw5W4bpdr7c6+ed2ZUJ9cUCGyAVQjroWN8s\n"
                                "USngzyIyBaiuPzmMpnaQ+ZDlGlMTbRNo91e6hkcNWAP6UWnIjTurgG+z5Ef4UzZ3\n"
                                "TK2aIeep1QKBgQCUK6NzGouN93tJ2t5ombrItAvkzHVj0lqXiryub8v197QsQ+YW\n"
                                "BXTZSfQZqXK+d/nU9YniMFwWnjWGag3sgURv0hHxHjoyXqcmx0fnisDnSB8p3kqH\n"
                                "gz9zTS8OM9HGkqGJyFRcxvasnThTwfavS+vI/+vu1Ih5EMSO8ll+JbrLaQKBgG1Y\n"
                                "0oPAJa7xMpwGVZB9UBH2O9bQz49a9dEXlhNUGepfL0NDFuo5jeAyXM9rOEpjMrSK\n"
                                "JgcrcjdtPOkkJ91orEZpOXNI8k4T7nAj2nvP2zzniCZl8/9zs96eEzx5t0Wlv1Fi\n"
                                "qy1/00J282yIz204GPqEfcMxuzBu0wQ1eUTW58j5AoGAKi8hcmrXErthz+n+86Ko\n"
                                "BvJLCyfCv6OTyH1RxjYGfdgQciLuKNw/L/4xMGskALG0btkJUFsSjQYi3J4JadYM\n"
                                "occU6bMl5RfSoE6+i9zR9WhBjytxTA6a2IvRNL+AEELlzV1lwnZ8S2Hb7fNczRH0\n"
                                "cCtaTG0dqUOtEg1QwU/WDe4=\n"
                                "-----END PRIVATE KEY-----\n";

static const char alice_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                                "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCrlhJf6TxIifQ0\n"
                                "uquEzsAiyKP7a7p/TyGI3tolQ9tIhmHgkVwqsG22loH4f3xWyqx80Ok0xzIvR6/H\n"
                                "+as9Ly11vGw/TTyRIIkB4fFJFBMRZa7RZYYQBC28XqdwIerbH6Lfp2SNJA1cu+aM\n"
                                "Et8vyfkuYXVLEXWwZjIvprmCHgsevKV8z7/fXKDWFPyy28vOR97ecRrkret+8V1Y\n"
                                "RUHWYVrJuLbCQOYG/fcv8O9u7vZEyVO5iA3sAiyyIceALDrkU0zQYu7sJzN6vQU6\n"
                                "7lLpR6TL/uVBu08EUutcPRRYT5oxTa7t28+E6+A7KsZ+ifY7QxHrVnr/aygI1m4x\n"
                                "M/YDQcXRAgMBAAECggEAPeUCFs/i+4Wr7jNh+KO94i4/HMwE97R7M8yzoxqhqL00\n"
                                "5FV7CjkfMmyDULjoCMTOSK3xWaT7QNvamEfDEeyJOP2xjHoXfYBfe6rdp09S+4US\n"
                                "9Rzqqa9gMiFww72wYr+8OHJBDrqxCUEMjn2mPa5dMPJd5ajUK8AJnW/GXh3pQ/oQ\n"
                                "JwsmKl4WpegWtrlMD696RWzVmbRY32SgdcDL6t085D3CjE3jxg/Y/zLn8CrXfNYv\n"
                                "7bLVcPgBYL+QM7rMEzr7CPhbzfl0JQ76h1rTsR2v1gdYkt1Tds2lonaHc2/hIlM6\n"
                                "jH5PuM3YyicEJGKF2vqxCh2/si0pQkTAgJAOUhIJMwKBgQDgZnuOzXjArQhC0i/z\n"
                                "bSrINZ8eGd1IH6b5G/rHkgdcdOZJ/HPBVKztfKKpNP9Mr/I3+S2wg9eDvwGQh9F+\n"
                                "aW3FIZu9ubYOWS3AYWOXilF1oH//bSVTMTx8V+qARHoSCOalD4NRj4qlKo+uocnn\n"
                                "e6C4JoL69fFY9u4YIgErMgMMnwKBgQDDv6rkCz5ukihZZ7v6J6DM8sfDxbs9TreN\n"
                                "uOP9xWcom4RCSlCgbuZr7Fetfr1koy/HG9UdMwC7crZXY3wIH/dH9JDggeruQXGl\n"
                                "RvxJ1LBnTI3lCD8Aq0jvTix4+SHG9ow/eBRM3rbXwNZH2Js8oWelqkPmhbTJ/fHF\n"
                                "Rh8wFm6njwKBgQC+4e5Qty/0ljvku27WnxI5ZIOJ026MH4ClfsuAYBOq7jXG0dyV\n"
                                "pDXFfrPPQ6m3ziM4wdm/wSbehugJzb7CzWP2wHP+m67l3a4xa6aQDbTlXjYDTRDn\n"
                                "B4bwLsjne1hrZu7rkZqfEn9ZqC642h8prdw1SW05lWRLzSETnjloSQ6W+QKBgQC8\n"
                                "3fTDvPmK8+iMguNDNPMYa/NEuEa1m3rM+iS4mLu02YBd+Zgbg4U9gjcChfO04yLZ\n"
                                "KMiSOMCvG7pFTQ7CRB1yRs12YMPNCEXfo0MO9XES6jFKV496VMm1Y6bTPgVSFFYz\n"
                                "cuebV5PxTfUyMxNtB4qatFJ5XG6YKjYZElRLMImpjwKBgAycXpTGG3r5TpI5H+Lq\n"
                                "Eq6TsX/xrdbPdY0x4W9xTzSQuYduwATm9jcFqYznII72K2PXDwMOvm3O/u6q6EFp\n"
                                "yH9c6oKywmZ3UrMjKlVChtS4A7PXwsV06rXgrWZc4aosXKEHPlor2xqq/vzcHHPI\n"
                                "cZKc/CHtCijRqunsYWTKFeVh\n"
                                "-----END PRIVATE KEY-----\n";

static const char bob_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCDcx3M/n9rzSED\n"
                              "rlLh6cedg0BQQvj5HPMkGn+lJ8z04P766/2VNefcVrFdGYYVNUwFd/+M399Cm2Jm\n"
                              "QRB3y9GdAqpGm/nj6VeqpK9YMveuIi2RmW5Cmo1Zm3CenF8ADuyjDW0nBddQhu1n\n"
                              "v9d0AiKJFvNmd0c2VUk0fLS8sTarRUrz9c/P4OLYToH6gigrIQNWlj7UIqIB1NX+\n"
                              "wZZfL9HODcICycYSir7VZ43wfUwadKG1PlwAD0v0u+tkR5czxARc3gRJV7VozPWq\n"
                              "bA0BvABo1dlCzAw+RRMan0rA8YAMAGyNDq2u5C6z/LqR7exiGd2RzHkartabcyWj\n"
                              "t404Tj5ZAgMBAAECggEACHhv7oxlS13u71Dpzh09k9q395wTNWFOUTCkclDt4gdI\n"
                              "IwT3RKjSObZ77CkHhQEX1p/gj7RC66S96uMtM50Gk0CvVoi5SfyYvboqQuuY3oed\n"
                              "Cl1515CkRGaR86SVshgkG08zjhDQKsQhEv8PnA4BqfYYxezwgbGt+5QAJQsh39gp\n"
                              "+5PLwQFSWLpqqGpT2dVTUjx/iBVna6fD7v2oI1peRDCISNFeZEz6CWIqYyjNZ+B1\n"
                              "xck6rJ29CEHa1O9PJ+epUBD7qBgFPdE1zDeKMv3L3xSqgQZK2VE6hYmhIqtSyWbG\n"
                              "Q7IBNVUaVsIH2+RntHemLbXfGH3jHQbrbQOvLliG4QKBgQC3s+GXeb70zEnkHo53\n"
                              "GzJo//S47yA+yBWQosuCo9au8AWsrVbFbQdQMEyrXgYVtTPEBHvXE/lhdiThWYCq\n"
                              "znl96O4g4kNAuPfDVeEA9VMBOLLpxypwcteY06vddD4w1KyGbAEDp3hsiCe7BCyE\n"
                              "h/OaHFPklqu0xrnL4xjToqpTIQKBgQC3LrmkslvzbH/UtNyC+Ym1f9b+wWwqtdRr\n"
                              "47nvgvj1IIb5jortNT+E1v8939dnF3rx2K1V3mnwhrwh5pRFZL/BiN7VV5DisG1A\n"
                              "Xi0bww/XvYbxiEw6MxiPi7S6rxRRKj7cnxQM1QFY5ngxD6M6E+HkW1VywHcW1Xjg\n"
                              "wvwr/iY8OQKBgAMVVdgBBx98vlDB4opFPpdclHL2MIhdO19uHBRZQ6U0CiRX1HkD\n"
                              "13eVF/RYY6nBnNjRanK1tx3Xqc7OfcZgKNHgMv8CTTas5Bu3OUuW0onWtcoOubuh\n"
                              "cdTy2JOi+9g9+ZdYALxa9z57Go+dBlJDJeeUSiQwEzm5jCzL5wLGXC2BAoGAGyeH\n"
                              "B34VGWGlFW/2HEhHfKtFwKAFm9M2eQPaBUJCC3xV5dqWh5FUKCoCzjZHZRXa+Mzo\n"
                              "7Qi6ZZhjfRcENcE4l8TlW3TOmnwSxe7v+uSQjaefwGA3BI2cf3LzSJU5isqbZPMD\n"
                              "8t8EgxwvBv7NcIeP/dz4LrmPLchZUeA1p4PWQSkCgYBaHJlrsnrE7CI4isoJblbd\n"
                              "6ITn5vKoBQr3QF0O7ZSdEC08XcvgiiR2zfsFOxQOIkgw4wuRlugCpXAuoXMI7Xna\n"
                              "K+AOTFuCbJBhekD6ib9ushEjFTzi5eMA16nLz4Dho4aScza+XVApBXC7zADWcxbm\n"
                              "KvReBoF587tM+9xp4yQYuQ==\n"
                              "-----END PRIVATE KEY-----\n";

struct peer {
    int fd; /* our end of the socketpair */
    struct srm_link *link;
    uint8_t *frame; /* room for one sealed frame */
};

struct fixture {
    int ready; /* 1 ready, -1 failed */
    struct srm_key *relay_key;
    char dir[64];
};

static struct fixture fx;
static const char *const names[MAX_PEERS] = {"alice", "bob"};

static void fixture_cleanup(void);
static int write_pub(const char *pem, const char *name);
static int fixture_init(void);
static void turn(struct event_base *base, struct peer *p, size_t np);
static int feed(struct event_base *base, struct peer *p, size_t np, size_t who, const uint8_t *d,
                size_t n);
static int peer_registered(struct relay *r, struct peer *p, size_t i);
static void run_raw(struct event_base *base, struct relay *r, const uint8_t *d, size_t n);
static void run_chunks(struct event_base *base, struct relay *r, size_t np, const uint8_t *d,
                       size_t n);

static void fixture_cleanup(void)
{
    char path[128];
    size_t i;

    for (i = 0; i < MAX_PEERS; i++) {
        snprintf(path, sizeof(path), "%s/%s.pub", fx.dir, names[i]);
        unlink(path);
    }
    rmdir(fx.dir);
    srm_key_free(fx.relay_key);
    fx.relay_key = NULL;
}

/* The relay looks users up as DIR/NAME.pub, as it does in production. */
static int write_pub(const char *pem, const char *name)
{
    struct srm_key *k = NULL;
    char *pub = NULL, path[128];
    size_t n = 0;
    FILE *f = NULL;
    int r = -1;

    if (srm_key_from_pem(pem, strlen(pem), 1, &k) != 0 || srm_key_to_pem(k, 0, &pub, &n) != 0) {
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s.pub", fx.dir, name);
    f = fopen(path, "w");
    if (f == NULL || fwrite(pub, 1, n, f) != n) {
        goto out;
    }
    r = 0;
out:
    if (f != NULL && fclose(f) != 0) {
        r = -1;
    }
    free(pub);
    srm_key_free(k);
    return r;
}

static int fixture_init(void)
{
    const char *tmp = getenv("TMPDIR");

    if (fx.ready != 0) {
        return fx.ready > 0 ? 0 : -1;
    }
    fx.ready = -1;
    /* FUZZ_RELAY_DEBUG=1 shows the relay's protocol log, to see what an input reaches. */
    if (getenv("FUZZ_RELAY_DEBUG") != NULL) {
        srm_log_init("relay", stderr);
        srm_log_set_debug(stderr);
    }
    /* The relay program ignores SIGPIPE; a client end closed under a write must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    snprintf(fx.dir, sizeof(fx.dir), "%s/srm-fuzz-relay-XXXXXX",
             tmp != NULL && strlen(tmp) < 30 ? tmp : "/tmp");
    if (mkdtemp(fx.dir) == NULL) {
        fprintf(stderr, "fuzz_relay: mkdtemp %s: %s\n", fx.dir, strerror(errno));
        return -1;
    }
    atexit(fixture_cleanup);
    if (srm_key_from_pem(relay_pem, strlen(relay_pem), 1, &fx.relay_key) != 0 ||
        write_pub(alice_pem, "alice") != 0 || write_pub(bob_pem, "bob") != 0) {
        fprintf(stderr, "fuzz_relay: cannot set up the test keys\n");
        return -1;
    }
    fx.ready = 1;
    return 0;
}

/* One loop turn, then read and drop whatever the relay wrote to each client. */
static void turn(struct event_base *base, struct peer *p, size_t np)
{
    uint8_t sink[65536];
    size_t i;

    event_base_loop(base, EVLOOP_NONBLOCK);
    for (i = 0; i < np; i++) {
        while (p[i].fd >= 0 && recv(p[i].fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
        }
    }
}

/* Write all of d to peer who, turning the loop while the socket is full; -1 if it closed. */
static int feed(struct event_base *base, struct peer *p, size_t np, size_t who, const uint8_t *d,
                size_t n)
{
    size_t off = 0;
    int stuck = 0;
    ssize_t w;

    while (off < n) {
        w = send(p[who].fd, d + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            stuck = 0;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && stuck++ < WRITE_TURNS) {
            turn(base, p, np);
        } else {
            return -1;
        }
    }
    turn(base, p, np);
    return 0;
}

static int peer_registered(struct relay *r, struct peer *p, size_t i)
{
    struct srm_link_keys k;
    struct srm_link *relay_side = NULL;
    int sv[2];

    /* Fixed, distinct keys per peer: the input decides everything else. */
    memset(&k, 0x11 * (int)(i + 1u), sizeof(k));
    p->frame = malloc(SRM_WIRE_FRAME_HDR + 65535u + SRM_LINK_TAG_LEN);
    if (p->frame == NULL || srm_link_new(&k, SRM_LINK_CLIENT, &p->link) != 0 ||
        srm_link_new(&k, SRM_LINK_RELAY, &relay_side) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        srm_link_free(relay_side);
        return -1;
    }
    p->fd = sv[1];
    if (relay_adopt_registered(r, sv[0], names[i], &relay_side) != 0) {
        srm_link_free(relay_side);
        return -1;
    }
    return 0;
}

static void run_raw(struct event_base *base, struct relay *r, const uint8_t *d, size_t n)
{
    struct peer p = {-1, NULL, NULL};
    struct sockaddr_in sin;
    int sv[2], i;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        return;
    }
    p.fd = sv[1];
    /* An address as the listener would give it, so the per-source table is used. */
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(40000);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    relay_adopt(r, sv[0], (const struct sockaddr *)&sin, (int)sizeof(sin));
    (void)feed(base, &p, 1, 0, d, n);
    shutdown(p.fd, SHUT_WR);
    for (i = 0; i < DRAIN_TURNS; i++) {
        turn(base, &p, 1);
    }
    close(p.fd);
    for (i = 0; i < DRAIN_TURNS; i++) {
        turn(base, &p, 0);
    }
}

static void run_chunks(struct event_base *base, struct relay *r, size_t np, const uint8_t *d,
                       size_t n)
{
    struct peer p[MAX_PEERS];
    struct srm_buf b;
    size_t i, len, who;
    uint8_t op;
    int t;

    memset(p, 0, sizeof(p));
    for (i = 0; i < MAX_PEERS; i++) {
        p[i].fd = -1;
    }
    for (i = 0; i < np; i++) {
        if (peer_registered(r, &p[i], i) != 0) {
            goto out;
        }
        turn(base, p, np);
    }
    while (n >= CHUNK_HDR) {
        op = d[0];
        len = (size_t)d[1] << 8 | d[2];
        d += CHUNK_HDR;
        n -= CHUNK_HDR;
        if (len > n) {
            len = n;
        }
        who = np > 1 ? (size_t)(op & 1u) : 0u;
        if (((op >> 1) & 3u) == 2u) {
            if (feed(base, p, np, who, d, len) != 0) {
                break;
            }
        } else {
            srm_buf_init_write(&b, p[who].frame, SRM_WIRE_FRAME_HDR + 65535u + SRM_LINK_TAG_LEN);
            if (srm_link_seal_frame(p[who].link, d, len, &b) != 0 ||
                feed(base, p, np, who, b.data, b.len) != 0) {
                break;
            }
            if (((op >> 1) & 3u) == 3u) {
                for (t = 0; t < DRAIN_TURNS; t++) {
                    turn(base, p, np);
                }
            }
        }
        d += len;
        n -= len;
    }
out:
    for (i = 0; i < np; i++) {
        if (p[i].fd >= 0) {
            shutdown(p[i].fd, SHUT_WR);
        }
    }
    for (t = 0; t < DRAIN_TURNS; t++) {
        turn(base, p, np);
    }
    for (i = 0; i < MAX_PEERS; i++) {
        if (p[i].fd >= 0) {
            close(p[i].fd);
        }
        srm_link_free(p[i].link);
        free(p[i].frame);
    }
    for (t = 0; t < DRAIN_TURNS; t++) {
        turn(base, p, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_config cfg;
    struct event_base *base = NULL;
    struct relay *r = NULL;
    uint8_t mode;

    if (size == 0 || fixture_init() != 0) {
        return 0;
    }
    mode = (uint8_t)(data[0] % 3u);
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.host, sizeof(cfg.host), "127.0.0.1");
    cfg.keys_dir = fx.dir;
    cfg.max_conns = 8;
    cfg.reg_timeout = 10;
    cfg.keepalive = 15;
    cfg.idle_timeout = 40;
    cfg.max_output = SRM_WIRE_MAX_OUTBUF;
    cfg.max_unauth = 8;
    cfg.max_unauth_source = 8;
    cfg.reg_rate = 0; /* the bucket is timing; this target is about bytes */
    cfg.no_listen = 1;
    base = event_base_new();
    if (base == NULL || relay_new(base, &cfg, fx.relay_key, &r) != 0) {
        goto out;
    }
    if (mode == 0) {
        run_raw(base, r, data + 1, size - 1u);
    } else {
        run_chunks(base, r, mode, data + 1, size - 1u);
    }
out:
    relay_free(r);
    if (base != NULL) {
        event_base_free(base);
    }
    return 0;
}
