#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A second registration on another cluster node displaces the first
(newest wins, as on one node; docs/CLUSTER.md): the first client gets
BYE(REPLACED) and stops, the other users see no offline/online flap, and
messages go to the new connection."""
from srmtest import TestFailure, check, run
import natstest


def main():
    if not natstest.have_nats():
        raise TestFailure("nats-server is not installed (apt-get install nats-server)")
    with natstest.ClusterEnv(("alice", "bob"), nodes=3) as env:
        env.start_nats()
        for i in range(3):
            env.start_node(i)
        for i in range(3):
            env.wait_joined(i, 2)
        bob = env.start_client_at("bob", [2], to="alice")
        env.registered_on(2, "bob")
        alice1 = env.start_client_at("alice", [0], to="bob")
        env.registered_on(0, "alice")
        natstest.wait_knows_online(bob, ["alice"])
        bob.send("to-first")
        alice1.wait_out("bob: to-first")

        alice2 = env.start_client_at("alice", [1], to="bob")
        env.registered_on(1, "alice")
        env.nodes[0].wait_err(r"alice registered again on node n1: closing it here")
        alice1.wait_err(r"another client registered as alice")
        rc = alice1.wait_exit()
        check(rc != 0, "the displaced client exited 0")

        bob.send("to-second")
        alice2.wait_out("bob: to-second")
        alice2.send("from-second")
        bob.wait_out("alice: from-second")
        check("bob: to-second" not in alice1.out, "the displaced client got a later message")
        check(not any("alice went offline" in l for l in bob.err),
              "bob saw alice go offline during the displacement:\n" + bob.dump())
        # Node 0 announced nothing: node 2 still routes to alice at node 1.
        check(not any("alice" in l and "disconnected" in l and "said goodbye" in l
                      for l in env.nodes[0].err), "node 0 treated the displacement as a leave")
        for p in (alice2, bob):
            p.close_stdin()
        for p in (alice2, bob):
            check(p.wait_exit() == 0, "%s did not exit 0" % p.name)


if __name__ == "__main__":
    run(main)
