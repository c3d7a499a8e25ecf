#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""With --debug everywhere and every byte on the wire recorded, neither the
logs nor the wire ever contain message text or private key bytes."""
import base64
import os
import re

import srmtest
from srmtest import Env, Proxy, check

SECRET_A = "SECRET-TEXT-FROM-ALICE-7e1f"
SECRET_B = "SECRET-TEXT-FROM-BOB-99c2"


def der_of(pem_path):
    body = "".join(l for l in open(pem_path).read().splitlines() if not l.startswith("-----"))
    return base64.b64decode(body), [l for l in open(pem_path).read().splitlines()
                                    if not l.startswith("-----")]


def main():
    with Env(("alice", "bob")) as env:
        relay = env.start_relay(debug=True)
        proxy = Proxy(env.port)
        try:
            bob = env.start_client("bob", "--relay", proxy.addr(), to="alice", debug=True)
            env.wait_registered(relay, "bob")
            alice = env.start_client("alice", "--relay", proxy.addr(), to="bob", debug=True)
            env.wait_registered(relay, "alice")
            for i in range(3):
                alice.send("%s %d" % (SECRET_A, i))
                bob.send("%s %d" % (SECRET_B, i))
            for i in range(3):
                bob.wait_out("alice: %s %d" % (SECRET_A, i))
                alice.wait_out("bob: %s %d" % (SECRET_B, i))
            alice.close_stdin()
            bob.close_stdin()
            check(alice.wait_exit() == 0 and bob.wait_exit() == 0, "clients exit 0")
            relay.signal(15)
            relay.wait_exit()
        finally:
            proxy.close()
        logs = {
            "relay stderr": "\n".join(relay.err).encode(),
            "alice stderr": "\n".join(alice.err).encode(),
            "bob stderr": "\n".join(bob.err).encode(),
        }
        for n in ("alice", "bob"):
            path = os.path.join(env.dir, n + ".debug.log")
            check(os.path.exists(path), "%s wrote its debug log" % n)
            check((os.stat(path).st_mode & 0o077) == 0, "%s debug log is private" % n)
            logs[n + " debug log"] = open(path, "rb").read()
        check(len(logs["relay stderr"]) > 0 and b"debug" in logs["relay stderr"],
              "relay wrote debug lines")
        wire = {"wire c2r": bytes(proxy.c2r), "wire r2c": bytes(proxy.r2c)}
        check(len(wire["wire c2r"]) > 1000, "the proxy saw the traffic")
        needles = [SECRET_A.encode(), SECRET_B.encode(), b"SECRET-TEXT"]
        for n in ("alice", "bob", "relay"):
            der, lines = der_of(os.path.join(env.keys, n + ".key"))
            # Any 24-byte window of the private key DER, at 8-byte steps, and any PEM line.
            needles += [der[i:i + 24] for i in range(0, len(der) - 24, 8)]
            needles += [l.encode() for l in lines if len(l) >= 32]
        for where, blob in list(logs.items()) + list(wire.items()):
            for nd in needles:
                check(nd not in blob, "%s contains secret bytes %r..." % (where, nd[:16]))
            if not where.startswith("wire"):
                check(re.search(rb"[0-9a-fA-F]{64}", blob) is None,
                      "%s contains a 64-hex-digit string (key material?)" % where)


srmtest.run(main)
