#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 4: the relay is killed with SIGKILL mid-conversation and restarted on
the same port.  Every message typed before, during and after the outage
arrives exactly once and in order, both ways; each client shows one status
line for the outage and one when it is back; batch mode then exits 0."""
import signal
import time

import srmtest
from srmtest import Env, check, wait_port


def count(lines, text):
    return sum(1 for l in lines if text in l)


def main():
    with Env(("alice", "bob")) as env:
        relay = env.start_relay()
        alice = env.start_client("alice", to="bob")
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "alice")
        env.wait_registered(relay, "bob")
        want_bob, want_alice = [], []
        for i in range(5):
            alice.send("before %d" % i)
            bob.send("b-before %d" % i)
            want_bob.append("alice: before %d" % i)
            want_alice.append("bob: b-before %d" % i)
        bob.wait_out(want_bob[-1])
        alice.wait_out(want_alice[-1])
        # Mid-conversation: some of these may be in flight when the relay dies.
        for i in range(3):
            alice.send("inflight %d" % i)
            want_bob.append("alice: inflight %d" % i)
        relay.p.send_signal(signal.SIGKILL)
        relay.wait_exit()
        alice.wait_err(r"connection to the relay lost")
        bob.wait_err(r"connection to the relay lost")
        for i in range(5):
            alice.send("during %d" % i)
            bob.send("b-during %d" % i)
            want_bob.append("alice: during %d" % i)
            want_alice.append("bob: b-during %d" % i)
        t0 = time.monotonic()
        relay2 = env.start_relay()
        t_up = time.monotonic()
        alice.wait_err(r"reconnected")
        bob.wait_err(r"reconnected")
        t_back = time.monotonic()
        for i in range(5):
            alice.send("after %d" % i)
            bob.send("b-after %d" % i)
            want_bob.append("alice: after %d" % i)
            want_alice.append("bob: b-after %d" % i)
        bob.wait_out(want_bob[-1])
        alice.wait_out(want_alice[-1])
        alice.close_stdin()
        bob.close_stdin()
        check(alice.wait_exit() == 0, "alice exits 0: everything acknowledged")
        check(bob.wait_exit() == 0, "bob exits 0: everything acknowledged")
        check(bob.out == want_bob, "bob saw every message once, in order: %r" % bob.out)
        check(alice.out == want_alice, "alice saw every message once, in order: %r" % alice.out)
        for p in (alice, bob):
            check(count(p.err, "connection to the relay lost") == 1,
                  "%s: one status line for the outage: %r" % (p.name, p.err))
            check(count(p.err, "reconnected") == 1, "%s: one line when back" % p.name)
            check(not any(l.startswith("error:") for l in p.err),
                  "%s: no error lines: %r" % (p.name, p.err))
        print("relay restart took %.2fs; both clients registered again %.2fs after the "
              "port accepted" % (t_up - t0, t_back - t_up))
        relay2.signal(signal.SIGTERM)
        check(relay2.wait_exit() == 0, "relay exits 0 on SIGTERM")


srmtest.run(main)
