#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Cluster nodes on a TLS-only nats-server that also wants a user name and
password (docs/CLUSTER.md, "TLS and credentials"): a throwaway CA and server
certificate made with the openssl CLI; nodes given tls:// URLs and
--cluster-ca route messages both ways; a node that cannot verify the
server's certificate never joins: it stops with an error and exit status 1."""
from srmtest import TestFailure, check, run
import natstest


def main():
    if not natstest.have_nats():
        raise TestFailure("nats-server is not installed (apt-get install nats-server)")
    with natstest.ClusterEnv(("alice", "bob"), nodes=3, tls=True) as env:
        env.nats.auth = ("srm", "s3cret-pw")
        env.start_nats()
        env.start_node(0)
        env.start_node(1)
        env.nodes[0].wait_err(r"connected to NATS at tls://")
        env.wait_joined(0, 1)
        env.wait_joined(1, 1)
        bob = env.start_client_at("bob", [1], to="alice")
        alice = env.start_client_at("alice", [0], to="bob")
        env.registered_on(1, "bob")
        env.registered_on(0, "alice")
        natstest.wait_knows_online(alice, ["bob"])
        alice.send("over tls")
        bob.wait_out("alice: over tls")
        bob.send("back over tls")
        alice.wait_out("bob: back over tls")
        # A burst both ways: TLS records of many sizes, in order, once each.
        for k in range(40):
            alice.send("a%d %s" % (k, "x" * (k * 97)))
            bob.send("b%d %s" % (k, "y" * (k * 89)))
        for k in range(40):
            bob.wait_out("alice: a%d %s" % (k, "x" * (k * 97)))
            alice.wait_out("bob: b%d %s" % (k, "y" * (k * 89)))
        check(len(bob.out) == 41 and len(alice.out) == 41, "duplicates over TLS")
        for i in (0, 1):
            with env.nodes[i].cond:
                check(not any("lost the NATS connection" in l for l in env.nodes[i].err),
                      "node %d lost its TLS connection to NATS:\n%s" % (i, env.nodes[i].dump()))

        # Without the CA the server's certificate does not verify: the node
        # never joins; it stops with exit status 1 and one clear error line.
        env.ca, ca = None, env.ca
        bad = env.start_node(2, wait=False)
        rc = bad.wait_exit()
        check(rc == 1, "a node that cannot verify NATS exited %d, want 1" % rc)
        check(any(l.startswith("error: ") and "NATS" in l for l in bad.err),
              "no error line from the node without the CA:\n" + bad.dump())
        check(not any("joined" in l for l in bad.err), "a node without the CA joined")
        env.ca = ca
        for n in env.nodes:
            with n.cond:
                check(not any("s3cret-pw" in l for l in n.err),
                      "%s logged the NATS password" % n.name)
        for p in (alice, bob):
            p.close_stdin()
        for p in (alice, bob):
            check(p.wait_exit() == 0, "%s did not exit 0" % p.name)


if __name__ == "__main__":
    run(main)
