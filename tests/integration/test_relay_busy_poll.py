#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""relay --busy-poll USECS: messages flow as without it; after input the relay
polls (burns CPU) for about USECS and then sleeps (burns none); SIGTERM still
stops it; bad values are refused with a usage error."""
import os
import subprocess
import time

import srmtest
from srmtest import Env, check, wait_until

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of pid, from /proc (tick resolution)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def steady(pid, span):
    """True once the CPU counter has not moved for `span` seconds in a row."""
    state = {"v": cpu_seconds(pid), "t": time.monotonic()}

    def pred():
        v = cpu_seconds(pid)
        if v != state["v"]:
            state["v"], state["t"] = v, time.monotonic()
            return False
        return time.monotonic() - state["t"] >= span
    return pred


def main():
    for bad in ("abc", "-1", "1000001", ""):
        r = subprocess.run([srmtest.RELAY, "--busy-poll", bad], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 2, "--busy-poll %r: usage error, got %d" % (bad, r.returncode))
        check("--busy-poll" in r.stderr, "--busy-poll %r: the error names the option: %r"
              % (bad, r.stderr))
    r = subprocess.run([srmtest.RELAY, "--help"], capture_output=True, text=True, timeout=30)
    check("--busy-poll USECS" in r.stdout, "--help lists --busy-poll")

    with Env(("alice", "bob")) as env:
        # Long enough (0.4 s) to see from /proc without timing anything tightly.
        relay = env.start_relay("--busy-poll", "400000")
        pid = relay.p.pid
        alice = env.start_client("alice", to="bob")
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "alice")
        env.wait_registered(relay, "bob")
        for i in range(3):
            alice.send("a->b %d" % i)
            bob.wait_out("alice: a->b %d" % i)
            bob.send("b->a %d" % i)
            alice.wait_out("bob: b->a %d" % i)
        # Idle: once the window is over the relay sleeps and its CPU time stops.
        wait_until(steady(pid, 0.5), what="relay CPU time steady while idle")
        before = cpu_seconds(pid)
        alice.send("wake up")
        bob.wait_out("alice: wake up")
        # Polling after that input: CPU time grows by a good part of the 0.4 s window ...
        wait_until(lambda: cpu_seconds(pid) - before >= 0.1, what="relay polling after input")
        # ... and stops again afterwards.
        wait_until(steady(pid, 0.5), what="relay asleep again after the window")
        check(cpu_seconds(pid) - before < 2.0, "the relay stopped polling (%.2f s of CPU)"
              % (cpu_seconds(pid) - before))
        bob.send("still there")
        alice.wait_out("bob: still there")
        relay.signal(15)
        check(relay.wait_exit() == 0, "relay exits 0 on SIGTERM while polling")
        check(bob.out == ["alice: a->b %d" % i for i in range(3)] + ["alice: wake up"],
              "bob saw every message once, in order: %r" % bob.out)


srmtest.run(main)
