#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Both sides start a session at the same moment: the rule in PROTOCOL.md
decides, both end with one session, and every message arrives once."""
import srmtest
from srmtest import Env, check


def main():
    for rnd in range(3):
        with Env(("alice", "bob")) as env:
            relay = env.start_relay(debug=True)
            alice = env.start_client("alice", to="bob", debug=True)
            bob = env.start_client("bob", to="alice", debug=True)
            env.wait_registered(relay, "alice")
            env.wait_registered(relay, "bob")
            # Both wait to see the other online, then write at once.
            alice.wait_err(r"bob.*online|online.*bob")
            bob.wait_err(r"alice.*online|online.*alice")
            alice.send("from alice %d" % rnd)
            bob.send("from bob %d" % rnd)
            bob.wait_out("alice: from alice %d" % rnd)
            alice.wait_out("bob: from bob %d" % rnd)
            alice.send("second from alice")
            bob.wait_out("alice: second from alice")
            alice.close_stdin()
            bob.close_stdin()
            check(alice.wait_exit() == 0, "alice exit")
            check(bob.wait_exit() == 0, "bob exit")
            check(alice.out == ["bob: from bob %d" % rnd], "alice once: %r" % alice.out)
            check(bob.out == ["alice: from alice %d" % rnd, "alice: second from alice"],
                  "bob once: %r" % bob.out)
            est_a = [l for l in alice.err if "established" in l]
            est_b = [l for l in bob.err if "established" in l]
            check(len(est_a) == 1 and len(est_b) == 1,
                  "exactly one session each: %r %r" % (est_a, est_b))


srmtest.run(main)
