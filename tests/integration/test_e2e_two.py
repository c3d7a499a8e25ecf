#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Two users: messages both ways, once each and in order, including a message
typed before the peer is online; batch mode exits 0 once all are acknowledged."""
import srmtest
from srmtest import Env, check


def main():
    with Env(("alice", "bob")) as env:
        relay = env.start_relay()
        # alice types before bob exists on the relay: the message waits in her outbox.
        alice = env.start_client("alice", to="bob")
        env.wait_registered(relay, "alice")
        alice.send("early bird")
        alice.wait_err(r"offline|queued")
        bob = env.start_client("bob", to="alice")
        bob.wait_out("alice: early bird")
        for i in range(5):
            alice.send("a->b %d" % i)
            bob.send("b->a %d" % i)
        for i in range(5):
            bob.wait_out("alice: a->b %d" % i)
            alice.wait_out("bob: b->a %d" % i)
        # Text with separators and UTF-8 passes through unchanged.
        alice.send("héllo: wörld | 𝄞")
        bob.wait_out("alice: héllo: wörld | 𝄞")
        alice.close_stdin()
        check(alice.wait_exit() == 0, "alice exit status")
        bob.close_stdin()
        check(bob.wait_exit() == 0, "bob exit status")
        check(bob.out == ["alice: early bird"] + ["alice: a->b %d" % i for i in range(5)] +
              ["alice: héllo: wörld | 𝄞"], "bob saw exactly the messages, once, in order: %r" % bob.out)
        check(alice.out == ["bob: b->a %d" % i for i in range(5)],
              "alice saw exactly the messages: %r" % alice.out)
        relay.signal(15)
        check(relay.wait_exit() == 0, "relay exits 0 on SIGTERM")


srmtest.run(main)
