#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_relay_slow_reader.py: a client that stops reading cannot grow the relay.

Real relay and clients on loopback; the relay runs with --max-output 1 MiB
and no keepalive (so only the output cap can drop anyone).  alice and bob
set up a session, then bob is stopped (SIGSTOP: his socket stays open but
nothing reads it) and alice sends him 40 MB.  Meanwhile carol and dave keep
exchanging messages.  Checks:
  - bob is dropped with the logged reason "slow reader ... (--max-output)";
  - the relay's resident memory (VmRSS, sampled every 20 ms) grows by less
    than MAX_GROWTH over its idle level: an uncapped relay would hold most
    of the 40 MB that the kernel's socket buffers (a few MB) cannot;
  - carol and dave are not slowed: their median round trip during the flood
    stays within a bound of the one before it;
  - alice is told bob went offline, and the relay keeps serving.
"""
import os
import signal
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from srmtest import RELAY, Env, Proc, check, run, wait_port  # noqa: E402

MAX_OUTPUT = 1 << 20
FLOOD_LINE = 60000
FLOOD_LINES = 700  # 42 MB
MAX_GROWTH = 12 << 20
ROUNDS = 10


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, vm_rss(self.pid))
            except OSError:
                return
            self.stop.wait(0.02)


def round_trips(carol, dave, tag, n=ROUNDS):
    rtts = []
    for i in range(n):
        t0 = time.monotonic()
        carol.send("%s ping %d" % (tag, i))
        dave.wait_out("carol: %s ping %d" % (tag, i))
        dave.send("%s pong %d" % (tag, i))
        carol.wait_out("dave: %s pong %d" % (tag, i))
        rtts.append(time.monotonic() - t0)
    return rtts


def main():
    with Env(users=("alice", "bob", "carol", "dave")) as env:
        # Built by hand: the relay's allocator must not hide frees in ASan's quarantine.
        relay = Proc("relay", [RELAY, "--listen", env.relay_addr(), "--keys", env.keys,
                               "--max-output", str(MAX_OUTPUT), "--keepalive", "0"],
                     stdin=False, env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:"
                                       "quarantine_size_mb=1"})
        env.procs.append(relay)
        wait_port(env.port)
        alice = env.start_client("alice", to="bob")
        bob = env.start_client("bob", to="alice")
        carol = env.start_client("carol", to="dave")
        dave = env.start_client("dave", to="carol")
        for name in ("alice", "bob", "carol", "dave"):
            env.wait_registered(relay, name)
        alice.send("warm up")
        bob.wait_out("alice: warm up")
        before = round_trips(carol, dave, "before")

        base = vm_rss(relay.p.pid)
        sampler = Sampler(relay.p.pid)
        sampler.start()
        bob.signal(signal.SIGSTOP)
        line = "y" * FLOOD_LINE

        def flood():
            try:
                for _ in range(FLOOD_LINES):
                    alice.send(line)
            except OSError:
                pass
        flooder = threading.Thread(target=flood, daemon=True)
        t0 = time.monotonic()
        flooder.start()
        during = round_trips(carol, dave, "during")
        dropped = relay.wait_err(r"bob \(.*\) disconnected: slow reader: over %d bytes" %
                                 MAX_OUTPUT, timeout=120)
        took = time.monotonic() - t0
        alice.wait_err(r"bob went offline")
        flooder.join(120)
        check(not flooder.is_alive(), "alice did not take the whole flood")
        after = round_trips(carol, dave, "after", 3)
        sampler.stop.set()
        sampler.join(5)
        growth = sampler.peak - base

        print("relay VmRSS: %.1f MiB idle, %.1f MiB peak during the flood (+%.1f MiB; "
              "--max-output %.1f MiB, bound +%.1f MiB)" %
              (base / 2**20, sampler.peak / 2**20, growth / 2**20, MAX_OUTPUT / 2**20,
               MAX_GROWTH / 2**20))
        print("slow reader dropped %.2f s after the flood began: %s" % (took, dropped))
        print("carol<->dave round trip, median of %d: %.1f ms before, %.1f ms during "
              "(max %.1f ms), %.1f ms after" %
              (ROUNDS, statistics.median(before) * 1e3, statistics.median(during) * 1e3,
               max(during) * 1e3, statistics.median(after) * 1e3))
        check(growth < MAX_GROWTH, "relay memory grew by %.1f MiB under a slow reader"
              % (growth / 2**20))
        bound = max(10 * statistics.median(before), 0.5)
        check(statistics.median(during) <= bound,
              "carol and dave were slowed: median round trip %.3f s during the flood, "
              "bound %.3f s" % (statistics.median(during), bound))

        bob.signal(signal.SIGCONT)
        check(relay.alive(), "relay died")
        relay.signal(signal.SIGTERM)
        check(relay.wait_exit() == 0, "relay did not exit 0 on SIGTERM")
        check(not any("Sanitizer" in l or "runtime error" in l for l in relay.err),
              "sanitizer report in the relay log")


if __name__ == "__main__":
    run(main)
