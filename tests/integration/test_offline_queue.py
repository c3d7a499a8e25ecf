#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 4: a recipient quits and comes back later.  Messages typed meanwhile
wait in the sender's outbox (the sender is told they are queued, /queue lists
them), then arrive exactly once and in order when the recipient is back."""
import srmtest
from srmtest import Env, check, wait_until


def main():
    with Env(("alice", "bob")) as env:
        relay = env.start_relay()
        alice = env.start_client("alice", to="bob")
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "alice")
        env.wait_registered(relay, "bob")
        alice.send("hello 1")
        bob.wait_out("alice: hello 1")
        bob.close_stdin()
        check(bob.wait_exit() == 0, "bob leaves cleanly")
        alice.wait_err(r"bob went offline")
        for i in range(3):
            alice.send("queued %d" % i)
        alice.wait_err(r"bob is offline; .*queued")
        n_before = len(alice.err)
        alice.send("/queue")
        # The listing ends with the last message: wait for it before reading.
        alice.wait_err(r"#4 +queued +queued 2")
        lines = alice.err[n_before:]
        check(any("3 message(s) pending" in l for l in lines), "/queue total: %r" % lines)
        check(any(l.startswith("bob (offline): 3 pending") for l in lines),
              "/queue per peer: %r" % lines)
        for k, i in ((2, 0), (3, 1), (4, 2)):
            check(any(("#%d" % k) in l and ("queued %d" % i) in l for l in lines),
                  "/queue lists message %d: %r" % (k, lines))
        # bob comes back as a new process: everything arrives, once, in order.
        bob2 = env.start_client("bob", to="alice")
        bob2.wait_out("alice: queued 2")
        alice.send("after return")
        bob2.wait_out("alice: after return")

        def queue_empty():
            n = len(alice.err)
            alice.send("/queue")

            def answered():
                return [l for l in alice.err[n:] if "pending" in l]
            ans = wait_until(answered, 10, "alice's /queue answer")
            return "no messages pending" in ans[0]
        wait_until(queue_empty, what="alice's /queue to be empty", interval=0.3)
        alice.close_stdin()
        check(alice.wait_exit() == 0, "alice exits 0: everything acknowledged")
        bob2.close_stdin()
        check(bob2.wait_exit() == 0, "bob exits 0")
        check(bob.out == ["alice: hello 1"], "first bob: %r" % bob.out)
        check(bob2.out == ["alice: queued %d" % i for i in range(3)] + ["alice: after return"],
              "second bob saw the queued messages once, in order: %r" % bob2.out)


srmtest.run(main)
