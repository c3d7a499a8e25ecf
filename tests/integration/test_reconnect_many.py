#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 4: many clients all reconnect after the relay is killed (SIGKILL) and
restarted on the same port, all within the backoff bound.

The default run uses 50 clients (sanitizer builds on small machines);
SRM_TEST_MANY=200 runs the full figure.  Every client uses the same RSA key
under its own name (the relay only looks up NAME.pub), so set-up costs one
key generation.  Prints the time from the restarted relay accepting until
every client is registered again."""
import os
import shutil
import signal
import time

import srmtest
from srmtest import Env, check, wait_until

# The reconnect delay is a random value below a ceiling that doubles from
# 0.2 s to at most 30 s (full jitter): no client waits more than 30 s between
# two attempts.  Registration itself (RSA under a sanitizer, two cores) adds
# a per-client cost on top.
BACKOFF_MAX = 30.0


def main():
    n = int(os.environ.get("SRM_TEST_MANY", "50"))
    names = ["u%03d" % i for i in range(n)]
    with Env(("alice",)) as env:
        for nm in names:
            for ext in (".key", ".pub"):
                dst = os.path.join(env.keys, nm + ext)
                shutil.copyfile(os.path.join(env.keys, "alice" + ext), dst)
                os.chmod(dst, 0o600 if ext == ".key" else 0o644)
        relay = env.start_relay()
        clients = [env.start_client(nm, "--wait", "120") for nm in names]

        def all_have(text):
            return all(any(text in l for l in p.err) for p in clients)
        t0 = time.monotonic()
        wait_until(lambda: all_have("connected to the relay"), timeout=60 + n,
                   what="all %d clients registered" % n, interval=0.1)
        t_first = time.monotonic() - t0
        relay.p.send_signal(signal.SIGKILL)
        relay.wait_exit()
        wait_until(lambda: all_have("connection to the relay lost"), timeout=30,
                   what="every client to notice the relay died", interval=0.1)
        relay2 = env.start_relay()
        t_up = time.monotonic()
        wait_until(lambda: all_have("reconnected"), timeout=BACKOFF_MAX + 30 + n / 2.0,
                   what="all %d clients registered again" % n, interval=0.1)
        t_back = time.monotonic() - t_up
        # The relay's own view: every name registered again on the new relay.
        regs = sum(1 for l in relay2.err if "registered" in l)
        check(regs >= n, "the restarted relay registered %d of %d clients" % (regs, n))
        for p in clients:
            p.close_stdin()
        for p in clients:
            check(p.wait_exit(60) == 0, "%s exits 0" % p.name)
            check(sum(1 for l in p.err if "connection to the relay lost" in l) == 1,
                  "%s: one outage line: %r" % (p.name, p.err))
            check(not any(l.startswith("error:") for l in p.err), "%s: errors %r" %
                  (p.name, p.err))
        print("%d clients: first registration of all %.2fs; after the relay restart all "
              "registered again in %.2fs (bound %.0fs + registration)" %
              (n, t_first, t_back, BACKOFF_MAX))
        check(t_back <= BACKOFF_MAX + n / 2.0, "all back within the backoff bound")
        relay2.signal(signal.SIGTERM)
        check(relay2.wait_exit() == 0, "relay exits 0")


srmtest.run(main)
