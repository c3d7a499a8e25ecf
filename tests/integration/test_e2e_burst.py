#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A burst of 1000 messages arrives in order, once each, all acknowledged;
prints the time it took."""
import time

import srmtest
from srmtest import Env, check

N = 1000


def main():
    with Env(("alice", "bob")) as env:
        relay = env.start_relay()
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "bob")
        alice = env.start_client("alice", to="bob")
        env.wait_registered(relay, "alice")
        t0 = time.monotonic()
        lines = "".join("burst message %04d\n" % i for i in range(N))
        alice.p.stdin.write(lines.encode())
        alice.p.stdin.flush()
        alice.close_stdin()
        bob.wait_out_count(N, timeout=120)
        t_recv = time.monotonic() - t0
        rc = alice.wait_exit(timeout=120)
        t_ack = time.monotonic() - t0
        check(rc == 0, "alice exit 0 after all %d acknowledged" % N)
        check(bob.out == ["alice: burst message %04d" % i for i in range(N)],
              "bob got all %d in order once" % N)
        print("burst: %d messages received in %.2fs, all acknowledged in %.2fs" %
              (N, t_recv, t_ack))
        bob.close_stdin()
        check(bob.wait_exit() == 0, "bob exit")


srmtest.run(main)
