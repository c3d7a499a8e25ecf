#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The relay's cluster options (docs/CLUSTER.md section 1):

- bad --cluster URLs, a bad --node name, and cluster options without
  --cluster are usage errors (exit 2, one "error: " line);
- a --cluster-creds file that does not exist is a runtime error (exit 1);
- a node whose NATS server is down at start still serves its own users,
  answers "offline" for everyone else, and joins once NATS is up: its users
  are then reachable from other nodes, and a message queued meanwhile for a
  user online nowhere arrives once when that user registers at another node.
"""
import os
import subprocess

from srmtest import RELAY, TestFailure, check, run
import natstest


def usage_error(env, *args):
    p = subprocess.run([RELAY, "--listen", env.relay_addr(), "--keys", env.keys] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    err = p.stderr.decode(errors="replace").strip().splitlines()
    return p.returncode, err


def main():
    if not natstest.have_nats():
        raise TestFailure("nats-server is not installed (apt-get install nats-server)")
    with natstest.ClusterEnv(("alice", "bob", "carol"), nodes=1) as env:
        for args, what in [
                (["--cluster", "http://127.0.0.1:4222"], "not a nats://"),
                (["--cluster", "nats://127.0.0.1:4222,"], "empty URL"),
                (["--cluster", ""], "no URL"),
                (["--cluster", "nats://127.0.0.1:4222", "--node", "Bad.Name"], "--node"),
                (["--node", "n1"], "only make sense with --cluster"),
                (["--cluster-ca", "/x"], "only make sense with --cluster"),
                (["--cluster", "nats://127.0.0.1:4222", "--cluster-cert", "/x"], "go together")]:
            rc, err = usage_error(env, *args)
            check(rc == 2, "%r exited %d, want 2: %r" % (args, rc, err))
            check(len(err) == 1 and err[0].startswith("error: ") and what in err[0],
                  "%r: want one error line about %r, got %r" % (args, what, err))
        rc, err = usage_error(env, "--cluster", env.nats.url(), "--cluster-creds",
                              os.path.join(env.dir, "missing.creds"))
        check(rc == 1, "a missing creds file: exit %d, want 1: %r" % (rc, err))
        check(any(l.startswith("error: --cluster-creds") for l in err),
              "a missing creds file: no clear error: %r" % err)

        # NATS down at start: a single relay until it comes up.
        node = env.start_node(0)
        node.wait_err(r"not reachable yet")
        alice = env.start_client_at("alice", [0], to="bob")
        bob = env.start_client_at("bob", [0], to="alice")
        env.registered_on(0, "alice")
        env.registered_on(0, "bob")
        natstest.wait_knows_online(alice, ["bob"])
        alice.send("local while NATS is down")
        bob.wait_out("alice: local while NATS is down")
        alice.send("/msg carol queued-for-carol")
        alice.wait_err(r"carol is offline")
        env.start_nats()
        node.wait_err(r"NATS connection up")
        bob.send("local with NATS up")
        alice.wait_out("bob: local with NATS up")
        # Users registered before NATS came up are routable from other nodes,
        # and alice's queued message reaches carol once, when she shows up.
        env.node_names.append("n1")
        env.node_ports.append(natstest.free_port())
        env.nodes.append(None)
        env.start_node(1)
        env.wait_joined(1, 1)
        carol = env.start_client_at("carol", [1], to="alice")
        env.registered_on(1, "carol")
        carol.wait_out("alice: queued-for-carol")
        natstest.wait_knows_online(carol, ["alice", "bob"])
        carol.send("cross-node after a late NATS")
        alice.wait_out("carol: cross-node after a late NATS")
        for p in (alice, bob, carol):
            p.close_stdin()
        for p in (alice, bob, carol):
            check(p.wait_exit(60) == 0, "%s did not exit 0" % p.name)
        check(carol.out.count("alice: queued-for-carol") == 1, "carol got the queued message twice")

if __name__ == "__main__":
    run(main)
