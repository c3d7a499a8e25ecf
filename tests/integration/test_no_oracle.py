#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""No decryption oracle at registration (docs/PROTOCOL.md 3.7 step 6).

Throws REG_HELLOs with bad RSA-OAEP blocks at a real relay (random bytes of
the right length, one byte short, one byte long, a valid OAEP block of a
31-byte nonce, a valid OAEP block under another key) next to a control with
a valid block, completes the handshake as far as a client without the key
can (a REG_RESPONSE of the right form), and checks that:

  * every block of the right length (K bytes) gets the same answer on the
    wire: a REG_CHALLENGE of the same length, then the same 6-byte
    REG_ERROR after the RESPONSE, then close;
  * the relay takes the same path: its --debug log lines for each
    connection are identical once addresses and times are taken out;
  * a block of the wrong length is refused at once (PROTOCOL.md 3.7 step 5,
    before any RSA work) with the same 6-byte REG_ERROR: the length is
    public, so this tells an attacker nothing about any plaintext; both
    wrong lengths take the same path as each other.

Needs python3-cryptography (scripts/deps.sh installs it).
"""
import os
import re
import socket
import struct

import srmtest
from srmtest import Env, check

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519

REG_HELLO, REG_CHALLENGE, REG_RESPONSE, REG_ERROR = 1, 2, 3, 4
REG_ERROR_FRAME = bytes([0, 0, 0, 2, REG_ERROR, 0])


def frame(ftype, body):
    return struct.pack(">I", len(body) + 1) + bytes([ftype]) + body


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def recv_frame(s):
    hdr = recv_exact(s, 5)
    if len(hdr) < 5:
        return None
    (n,) = struct.unpack(">I", hdr[:4])
    return hdr + recv_exact(s, n - 1)


def oaep(pub, pt):
    return pub.encrypt(pt, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                        algorithm=hashes.SHA256(), label=None))


def hello_body(name, enc):
    eph = x25519.X25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    n = name.encode()
    return bytes([1, len(n)]) + n + eph + struct.pack(">H", len(enc)) + enc


def attempt(env, relay, enc, k_client, expect_challenge=True):
    """One registration attempt; returns (challenge length, rest of the
    answer bytes, the relay's normalised debug lines for this connection)."""
    mark = len(relay.err)
    s = socket.create_connection(("127.0.0.1", env.port), timeout=20)
    try:
        local = "127.0.0.1:%d" % s.getsockname()[1]
        s.sendall(frame(REG_HELLO, hello_body("alice", enc)))
        rest = b""
        chal = b""
        if expect_challenge:
            chal = recv_frame(s)
            check(chal is not None and chal[4] == REG_CHALLENGE,
                  "a REG_CHALLENGE answers every HELLO: %r" % (chal[:8] if chal else chal))
            # A RESPONSE of the right form: string16(sig_c of K bytes) || confirm (49).
            resp = struct.pack(">H", k_client) + os.urandom(k_client) + os.urandom(49)
            s.sendall(frame(REG_RESPONSE, resp))
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            rest += chunk
    finally:
        s.close()
    relay.wait_err(re.escape(local) + r".*(disconnected|closed)")
    lines = [l for l in relay.err[mark:] if local in l]
    norm = []
    for l in lines:
        l = re.sub(r"^\d\d:\d\d:\d\d\.\d+ ", "", l)
        l = l.replace(local, "ADDR")
        norm.append(l)
    return len(chal), rest, norm


def main():
    with Env(("alice",)) as env:
        relay_pub = serialization.load_pem_public_key(
            open(os.path.join(env.keys, "relay.pub"), "rb").read())
        alice_pub = serialization.load_pem_public_key(
            open(os.path.join(env.keys, "alice.pub"), "rb").read())
        k = relay_pub.key_size // 8
        kc = alice_pub.key_size // 8
        other = rsa.generate_private_key(public_exponent=65537, key_size=relay_pub.key_size)
        cases = [
            ("valid OAEP of a 32-byte nonce (control)", oaep(relay_pub, os.urandom(32))),
            ("random bytes of the right length", os.urandom(k)),
            ("valid OAEP of a 31-byte nonce", oaep(relay_pub, os.urandom(31))),
            ("valid OAEP of a 33-byte nonce", oaep(relay_pub, os.urandom(33))),
            ("valid OAEP under another key", oaep(other.public_key(), os.urandom(32))),
            ("all zero", bytes(k)),
            ("all 0xff (larger than the modulus)", b"\xff" * k),
        ]
        relay = env.start_relay(debug=True)
        results = []
        for name, enc in cases:
            results.append((name,) + attempt(env, relay, enc, kc))
        ctrl = results[0]
        for name, clen, rest, lines in results:
            check(clen == ctrl[1], "%s: challenge length %d, control %d" % (name, clen, ctrl[1]))
            check(rest == REG_ERROR_FRAME,
                  "%s: after the RESPONSE exactly the 6-byte REG_ERROR, got %r" % (name, rest))
            check(lines == ctrl[3],
                  "%s: the relay's debug path differs from the control:\n  %s\nvs\n  %s" %
                  (name, "\n  ".join(lines), "\n  ".join(ctrl[3])))
        check(len(ctrl[3]) >= 3, "the debug log shows the steps: %r" % ctrl[3])
        short = attempt(env, relay, os.urandom(k - 1), kc, expect_challenge=False)
        long_ = attempt(env, relay, os.urandom(k + 1), kc, expect_challenge=False)
        for what, (_, rest, lines) in (("one byte short", short), ("one byte long", long_)):
            check(rest == REG_ERROR_FRAME, "%s: the same 6-byte REG_ERROR, got %r" % (what, rest))
            check(not any("challenge" in l for l in lines), "%s: refused before any RSA work" % what)
        body = lambda ls: [re.sub(r"body \d+ bytes", "body N bytes", l) for l in ls]
        check(body(short[2]) == body(long_[2]), "wrong lengths take one path: %r vs %r" % (short[2], long_[2]))
        relay.signal(15)
        relay.wait_exit()


srmtest.run(main)
