#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Malformed messages on the cluster's NATS subjects (docs/CLUSTER.md
section 4) are dropped: truncated and overlong fields, bad names, other
versions, unknown types, answers to nothing, a node that uses our name.  The
nodes keep running (under the sanitizers) and keep routing, and nothing of
it reaches a client."""
import struct

from srmtest import TestFailure, check, run
import natstest


def name8(s):
    return bytes([len(s)]) + s


def main():
    if not natstest.have_nats():
        raise TestFailure("nats-server is not installed (apt-get install nats-server)")
    with natstest.ClusterEnv(("alice", "bob"), nodes=2) as env:
        env.start_nats()
        env.start_node(0)
        env.start_node(1)
        env.wait_joined(0, 1)
        env.wait_joined(1, 1)
        bob = env.start_client_at("bob", [1], to="alice")
        alice = env.start_client_at("alice", [0], to="bob")
        env.registered_on(1, "bob")
        env.registered_on(0, "alice")
        natstest.wait_knows_online(alice, ["bob"])
        natstest.wait_knows_online(bob, ["alice"])
        alice.send("before")
        bob.wait_out("alice: before")

        stamp = struct.pack(">Q", 1)
        ctl = [b"", b"\x01", b"\x02\x01" + name8(b"n9"), b"\x01\x01", b"\x01\x01\xc8n9",
               b"\x01\x01" + name8(b"n9") + name8(b"Alice") + stamp,
               b"\x01\x01" + name8(b"n9") + name8(b"../x") + stamp,
               b"\x01\x01" + name8(b"n9") + name8(b"mallory"),
               b"\x01\x01" + name8(b"n9") + name8(b"mallory") + stamp + b"x",
               b"\x01\x02" + name8(b"n9") + name8(b"bob") + stamp,
               b"\x01\x03" + name8(b"n9") + b"trailing",
               b"\x01\x09" + name8(b"n9"),
               b"\x01\x04" + name8(b"n9"),
               b"\x01\x03" + name8(b"n0"),
               b"\x01\x01" + name8(b"N9") + name8(b"mallory") + stamp,
               b"\x01\x01" + name8(b"x" * 33) + name8(b"mallory") + stamp]
        route = [b"", b"\x01", b"\x01\x05", b"\x02\x05" + name8(b"alice") + b"\x04x",
                 b"\x01\x05" + name8(b"ALICE") + b"\x04x", b"\x01\x05" + name8(b"alice"),
                 b"\x01\x06\x00"]
        answers = [b"", b"\x01\x06", b"\x01\x06\x00\x00", b"\x02\x06\x01", b"\x01\x06\x01"]
        msgs = [("srm.presence", p, None) for p in ctl]
        msgs += [("srm.n.n0", p, "srm.n.n9") for p in ctl]
        msgs += [("srm.u.bob", p, "srm.r.n9.1") for p in route]
        msgs += [("srm.u.bob", p, None) for p in route]
        msgs += [("srm.r.n0.%s" % i, p, None)
                 for i in ("1", "999999", "x", "18446744073709551616", "-1")
                 for p in answers]
        natstest.nats_publish(env.nats.port, msgs)
        env.nodes[0].wait_err(r"another node also calls itself n0")

        alice.send("after")
        bob.wait_out("alice: after")
        bob.send("back")
        alice.wait_out("bob: back")
        for i in (0, 1):
            check(env.nodes[i].alive(), "node %d died\n%s" % (i, env.nodes[i].dump()))
        for p in (alice, bob):
            with p.cond:
                check(not any("mallory" in l or "Alice" in l for l in p.err + p.out),
                      "garbage reached %s:\n%s" % (p.name, p.dump()))
        check(bob.out == ["alice: before", "alice: after"], "bob printed %r" % bob.out)
        for p in (alice, bob):
            p.close_stdin()
        for p in (alice, bob):
            check(p.wait_exit() == 0, "%s did not exit 0" % p.name)


if __name__ == "__main__":
    run(main)
