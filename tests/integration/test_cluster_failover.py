#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Failures of a relay cluster (docs/CLUSTER.md, "Failure cases"):

1. a node killed with SIGKILL: its users reconnect to the next node of their
   --relay list, and every message typed before, during and after arrives
   once, in order, both ways;
2. the nats-server killed and restarted: the nodes reconnect, presence is
   learnt again and routing resumes; messages typed while NATS was down wait
   in the outboxes and arrive once, in order.
"""
from srmtest import TestFailure, check, run, wait_until
import natstest


def expect(proc, peer, texts, timeout=60):
    for t in texts:
        proc.wait_out("%s: %s" % (peer, t), timeout)


def check_once_in_order(proc, peer, texts):
    with proc.cond:
        got = [l for l in proc.out if l.startswith(peer + ": ")]
    exp = ["%s: %s" % (peer, t) for t in texts]
    check(got == exp, "%s got from %s %r, want %r" % (proc.name, peer, got, exp))


def main():
    if not natstest.have_nats():
        raise TestFailure("nats-server is not installed (apt-get install nats-server)")
    with natstest.ClusterEnv(("alice", "bob", "carol"), nodes=3) as env:
        env.start_nats()
        for i in range(3):
            env.start_node(i)
        for i in range(3):
            env.wait_joined(i, 2)
        alice = env.start_client_at("alice", [0, 1, 2], to="bob")
        bob = env.start_client_at("bob", [2, 1, 0], to="alice")
        carol = env.start_client_at("carol", [0, 1, 2], to="bob")
        env.registered_on(0, "alice")
        env.registered_on(2, "bob")
        env.registered_on(0, "carol")
        natstest.wait_knows_online(bob, ["alice", "carol"])
        natstest.wait_knows_online(alice, ["bob"])
        a_sent, b_sent, c_sent = [], [], []

        def say(proc, sent, text):
            proc.send(text)
            sent.append(text)

        for k in range(5):
            say(alice, a_sent, "a-before-%d" % k)
            say(bob, b_sent, "b-before-%d" % k)
            say(carol, c_sent, "c-before-%d" % k)
        expect(bob, "alice", a_sent)
        expect(bob, "carol", c_sent)
        expect(alice, "bob", b_sent)

        # 1. Node 0 (alice, carol) dies without a word.
        env.nodes[0].kill()
        for k in range(5):
            say(alice, a_sent, "a-during-%d" % k)
            say(bob, b_sent, "b-during-%d" % k)
            say(carol, c_sent, "c-during-%d" % k)
        env.registered_on(1, "alice")
        env.registered_on(1, "carol")
        for k in range(5):
            say(alice, a_sent, "a-after-%d" % k)
            say(bob, b_sent, "b-after-%d" % k)
            say(carol, c_sent, "c-after-%d" % k)
        expect(bob, "alice", a_sent)
        expect(bob, "carol", c_sent)
        expect(alice, "bob", b_sent)

        # 2. The nats-server dies and comes back on the same port.
        env.nats.stop()
        env.nodes[1].wait_err(r"lost the NATS connection")
        env.nodes[2].wait_err(r"lost the NATS connection")
        for k in range(5):
            say(alice, a_sent, "a-natsdown-%d" % k)
            say(bob, b_sent, "b-natsdown-%d" % k)
        env.start_nats()

        def ups(i):
            with env.nodes[i].cond:
                return sum(1 for l in env.nodes[i].err if "NATS connection up" in l)
        wait_until(lambda: ups(1) >= 2 and ups(2) >= 2, 30, "both nodes back on NATS")
        for k in range(5):
            say(alice, a_sent, "a-natsup-%d" % k)
            say(bob, b_sent, "b-natsup-%d" % k)
        expect(bob, "alice", a_sent)
        expect(alice, "bob", b_sent)

        for p in (alice, bob, carol):
            p.close_stdin()
        for p in (alice, bob, carol):
            rc = p.wait_exit(60)
            check(rc == 0, "%s exited %d\n%s" % (p.name, rc, p.dump()))
        check_once_in_order(bob, "alice", a_sent)
        check_once_in_order(bob, "carol", c_sent)
        check_once_in_order(alice, "bob", b_sent)
        for i in (1, 2):
            check(env.nodes[i].alive(), "node %d died" % i)


if __name__ == "__main__":
    run(main)
