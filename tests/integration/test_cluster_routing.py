#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A three-node relay cluster on a real nats-server (docs/CLUSTER.md):

- a message to a user online nowhere gets the explicit offline answer, waits
  in the sender's outbox, and arrives once when that user comes online on
  another node;
- six users spread over three nodes: messages between every pair, in order,
  once each;
- presence across nodes: WHO on one node lists the users of every node, and
  a user leaving one node shows as offline on the others.
"""
import sys

from srmtest import TestFailure, check, run
import natstest

USERS = ["u0a", "u0b", "u1a", "u1b", "u2a", "u2b"]
PER_PAIR = 3


def node_of(u):
    return int(u[1])


def main():
    if not natstest.have_nats():
        raise TestFailure("nats-server is not installed (apt-get install nats-server)")
    with natstest.ClusterEnv(USERS, nodes=3) as env:
        env.start_nats()
        for i in range(3):
            env.start_node(i)
        for i in range(3):
            env.wait_joined(i, 2)

        # Offline cluster-wide: u0a -> u2b before u2b exists anywhere.
        clients = {}
        clients["u0a"] = env.start_client_at("u0a", [0])
        env.registered_on(0, "u0a")
        clients["u0a"].send("/msg u2b early-1")
        clients["u0a"].send("/msg u2b early-2")
        clients["u0a"].wait_err(r"u2b is offline; 2 message\(s\) queued")

        for u in USERS[1:]:
            clients[u] = env.start_client_at(u, [node_of(u)])
        for u in USERS[1:]:
            env.registered_on(node_of(u), u)
        # The queued messages go once u2b is online on node 2.
        clients["u2b"].wait_out("u0a: early-1")
        clients["u2b"].wait_out("u0a: early-2")

        # Presence: WHO at node 1 sees all six; every client learns of every
        # other one, wherever it is; then every pair, in order.
        clients["u1a"].send("/who")
        clients["u1a"].wait_err(r"online \(6\): ")
        for u in USERS:
            natstest.wait_knows_online(clients[u], [v for v in USERS if v != u])
        for u in USERS:
            for k in range(PER_PAIR):
                for v in USERS:
                    if v != u:
                        clients[u].send("/msg %s m-%s-%s-%d" % (v, u, v, k))
        for v in USERS:
            want = (len(USERS) - 1) * PER_PAIR + (2 if v == "u2b" else 0)
            clients[v].wait_out_count(want, 120)
        for v in USERS:
            with clients[v].cond:
                out = list(clients[v].out)
            for u in USERS:
                if u == v:
                    continue
                got = [l for l in out if l.startswith(u + ": m-")]
                exp = ["%s: m-%s-%s-%d" % (u, u, v, k) for k in range(PER_PAIR)]
                check(got == exp, "%s got from %s %r, want %r" % (v, u, got, exp))
            extra = [l for l in out if not l.startswith(tuple(u + ": m-" for u in USERS))
                     and not l.startswith("u0a: early-")]
            check(not extra, "%s printed unexpected lines %r" % (v, extra))
        check(sum(1 for l in clients["u2b"].out if l.startswith("u0a: early-")) == 2,
              "u2b saw the queued messages more than once")

        # Presence offline across nodes: u2a leaves node 2; u0b on node 0 sees it.
        clients["u2a"].close_stdin()
        check(clients["u2a"].wait_exit() == 0, "u2a did not exit 0")
        clients["u0b"].wait_err(r"u2a went offline")
        for u in USERS:
            if u != "u2a":
                clients[u].close_stdin()
        for u in USERS:
            if u != "u2a":
                rc = clients[u].wait_exit(60)
                check(rc == 0, "%s exited %d" % (u, rc))
        for i in range(3):
            check(env.nodes[i].alive(), "node %d died" % i)


if __name__ == "__main__":
    run(main)
