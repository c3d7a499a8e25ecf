#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_relay_keepalive.py: the relay finds dead and stuck clients within a bound.

A relay with --keepalive 1 --idle-timeout 3 and real clients:
  1. idle but healthy clients are PINGed by the relay, answer, and stay
     online well past the idle timeout;
  2. a client that is stopped (SIGSTOP: the TCP connection stays up, the
     kernel still acknowledges, but nothing answers) is dropped within the
     bound with a logged reason, and its peer sees it go offline; after
     SIGCONT it notices the lost link and registers again (or exits);
  3. a half-open link (a proxy that black-holes both directions, nothing is
     closed) is dropped by the relay within the same bound.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srmtest import CLIENT, Env, Proc, Proxy, check, run, wait_until  # noqa: E402

KEEPALIVE = 1
IDLE = 3
# Timer slack, a loaded 2-core machine and sanitizers: generous, but far below "never".
SLACK = 3.0


def relay_lines(relay, needle):
    with relay.cond:
        return [l for l in relay.err if needle in l]


def main():
    with Env(users=("alice", "bob", "carol")) as env:
        relay = env.start_relay("--keepalive", str(KEEPALIVE), "--idle-timeout", str(IDLE),
                                debug=True)
        alice = env.start_client("alice", to="bob")
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "alice")
        env.wait_registered(relay, "bob")
        alice.wait_err(r"bob")  # alice knows bob is online (WELCOME or PRESENCE)

        # 1. Idle and healthy: PINGed again and again, never dropped.
        relay.wait_err(r"alice: idle, keepalive PING 4\b", timeout=IDLE * 4 + 10)
        relay.wait_err(r"bob: idle, keepalive PING 4\b", timeout=IDLE * 4 + 10)
        dropped = relay_lines(relay, ") disconnected")
        check(not dropped, "a healthy idle client was dropped:\n" + "\n".join(dropped))
        print("idle clients answered 4 keepalive PINGs each (%d s apart) and stayed online"
              % KEEPALIVE)

        # 2. A stopped client: dropped within the bound; alice sees it go offline.
        t0 = time.monotonic()
        bob.signal(signal.SIGSTOP)
        line = relay.wait_err(r"bob \(.*\) disconnected: nothing received for %d s" % IDLE,
                              timeout=IDLE + SLACK + 5)
        took = time.monotonic() - t0
        check(took <= IDLE + SLACK, "stopped client dropped after %.2f s, bound %d s + %.1f s"
              % (took, IDLE, SLACK))
        print("stopped client dropped after %.2f s (--idle-timeout %d): %s" % (took, IDLE, line))
        alice.wait_err(r"bob went offline", timeout=5)
        check(relay.alive(), "relay died")
        bob.signal(signal.SIGCONT)
        # Back: the client finds its link gone and registers again, or gives up cleanly.
        wait_until(lambda: len(relay_lines(relay, "registered as bob")) >= 2 or not bob.alive(),
                   timeout=60, what="bob to register again or exit after SIGCONT")
        if bob.alive():
            print("bob registered again after SIGCONT")
            alice.wait_err(r"bob is online", timeout=10)
        else:
            print("bob exited after SIGCONT with status %s" % bob.p.returncode)

        # 3. A half-open link: carol behind a proxy that goes silent both ways.
        proxy = Proxy(env.port, framed=True)  # freeze() acts on framed pumps
        try:
            carol = Proc("carol", [CLIENT, "carol", "--relay", proxy.addr(), "--keys", env.keys,
                                   "--keepalive", "60"], cwd=env.dir)
            env.procs.append(carol)
            env.wait_registered(relay, "carol")
            t0 = time.monotonic()
            proxy.freeze()
            relay.wait_err(r"carol \(.*\) disconnected: nothing received for %d s" % IDLE,
                           timeout=IDLE + SLACK + 5)
            took = time.monotonic() - t0
            check(took <= IDLE + SLACK, "half-open link dropped after %.2f s, bound %d s + %.1f s"
                  % (took, IDLE, SLACK))
            print("half-open link dropped by the relay after %.2f s" % took)
            alice.wait_err(r"carol went offline", timeout=5)
        finally:
            proxy.close()

        alice.close_stdin()
        rc = alice.wait_exit()
        check(rc == 0, "alice exit status %s" % rc)
        relay.signal(signal.SIGTERM)
        check(relay.wait_exit() == 0, "relay did not exit 0 on SIGTERM")
        check(not any("Sanitizer" in l or "runtime error" in l for l in relay.err),
              "sanitizer report in the relay log")


if __name__ == "__main__":
    run(main)
