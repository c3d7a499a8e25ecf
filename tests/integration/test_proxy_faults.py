#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 4: faults on alice's link, made by a proxy between alice and the
relay that understands frame boundaries:
  1. the relay -> alice stream cut in the middle of a frame;
  2. the alice -> relay stream cut in the middle of a frame;
  3. one whole relay -> alice frame silently dropped: the next record fails
     link authentication, alice reconnects;
  4. one whole alice -> relay frame silently dropped: the relay refuses the
     next record and closes, alice reconnects;
  5. the link frozen (half-open: nothing closed, nothing arrives): alice's
     keepalive declares it dead within --dead-after and reconnects.
After each fault every message arrives exactly once, in order, both ways."""
import time

import srmtest
from srmtest import Env, Proxy, check


def main():
    with Env(("alice", "bob")) as env:
        relay = env.start_relay()
        proxy = Proxy(env.port, framed=True)
        alice = env.start_client("alice", "--relay", proxy.addr(), "--keepalive", "0.5",
                                 "--dead-after", "2", to="bob")
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "alice")
        env.wait_registered(relay, "bob")
        want_alice, want_bob = [], []
        times = []

        def exchange(tag):
            for i in range(3):
                alice.send("%s a%d" % (tag, i))
                bob.send("%s b%d" % (tag, i))
                want_bob.append("alice: %s a%d" % (tag, i))
                want_alice.append("bob: %s b%d" % (tag, i))
            bob.wait_out(want_bob[-1])
            alice.wait_out(want_alice[-1])

        def reconnects():
            return sum(1 for l in alice.err if "reconnected" in l)

        exchange("start")
        faults = [
            ("cut r2c", lambda: proxy.cut_frame("r2c", keep=9), lambda: bob.send("x")),
            ("cut c2r", lambda: proxy.cut_frame("c2r", keep=3), lambda: alice.send("y")),
            ("drop r2c", lambda: proxy.drop_frame("r2c"), lambda: bob.send("z")),
            ("drop c2r", lambda: proxy.drop_frame("c2r"), lambda: alice.send("w")),
            ("freeze", proxy.freeze, lambda: None),
        ]
        for name, arm, trigger in faults:
            n = reconnects()
            fired = len(proxy.fired)
            arm()
            t0 = time.monotonic()
            trigger()
            if name in ("cut r2c", "drop r2c"):
                want_alice.append("bob: " + {"cut r2c": "x", "drop r2c": "z"}[name])
            elif name in ("cut c2r", "drop c2r"):
                want_bob.append("alice: " + {"cut c2r": "y", "drop c2r": "w"}[name])
            if name.startswith("drop"):
                # The gap shows only when the next record arrives: send one more.
                srmtest.wait_until(lambda: len(proxy.fired) > fired, what="the frame dropped")
                if name == "drop r2c":
                    bob.send("z2")
                    want_alice.append("bob: z2")
                else:
                    alice.send("w2")
                    want_bob.append("alice: w2")
            srmtest.wait_until(lambda: reconnects() > n, what="alice to reconnect after " + name)
            times.append((name, time.monotonic() - t0))
            exchange(name.replace(" ", "-"))
        alice.close_stdin()
        bob.close_stdin()
        check(alice.wait_exit() == 0, "alice exits 0: all delivered")
        check(bob.wait_exit() == 0, "bob exits 0: all delivered")
        check(bob.out == want_bob, "bob: every message once, in order:\n%r\n%r" %
              (bob.out, want_bob))
        check(alice.out == want_alice, "alice: every message once, in order:\n%r\n%r" %
              (alice.out, want_alice))
        check(not any(l.startswith("error:") for l in bob.err), "bob: no errors %r" % bob.err)
        check(sum(1 for l in alice.err if "connection to the relay lost" in l) == len(faults),
              "alice: one status line per outage: %r" % alice.err)
        print("fault -> reconnected: " + ", ".join("%s %.2fs" % t for t in times))
        proxy.close()


srmtest.run(main)
