#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The relay caches parsed user keys (src/relay/users.c) but must still see
every change to KEYS/NAME.pub without a restart: a user added after start-up
can register; a key replaced by a new file or rewritten in place (same inode)
is the one used at the next registration; a removed key refuses the user;
restoring it lets the user in again.

The relay only caches a key whose file is over a second old (coarse file
times, see users.c), so the test waits once for alice.pub to settle, and
checks in the relay's debug log that the cache was really used."""
import os
import shutil
import tempfile
import time

import srmtest
from srmtest import Env, check, make_key


def refused(env, relay, name):
    """Start NAME: its registration must fail (the client says so; with a
    wrong key it keeps retrying, so it is stopped) and the relay must not
    have registered it."""
    before = sum(1 for l in relay.err if " registered as %s," % name in l)
    c = env.start_client(name)
    c.wait_err(r"registration failed|refused registration")
    if c.alive():
        c.kill()
    after = sum(1 for l in relay.err if " registered as %s," % name in l)
    check(after == before, "the relay did not register %s" % name)


def accepted(env, relay, name):
    c = env.start_client(name)
    env.wait_registered(relay, name)
    c.close_stdin()
    check(c.wait_exit() == 0, "%s exits 0" % name)


def main():
    with Env(("alice",)) as env:
        relay = env.start_relay(debug=True)
        pub = os.path.join(env.keys, "alice.pub")
        good = open(pub, "rb").read()
        other_dir = tempfile.mkdtemp(prefix="srmkey-other-")
        try:
            make_key(other_dir, "mallory")
            other = open(os.path.join(other_dir, "mallory.pub"), "rb").read()
        finally:
            shutil.rmtree(other_dir)

        # Known user: parsed once, then served from the cache.
        st = os.stat(pub)
        srmtest.wait_until(lambda: time.time() - max(st.st_mtime, st.st_ctime) > 2.05, 10,
                           "alice.pub to be old enough to be cached", 0.05)
        accepted(env, relay, "alice")
        accepted(env, relay, "alice")
        hits = [l for l in relay.err if "alice.pub: parsed key from the cache" in l]
        check(len(hits) == 1, "second registration used the cached key: %r" % hits)

        # Rewritten in place (same inode, same size, new times) while cached:
        # the cache entry no longer matches, the new key is used.
        ino = os.stat(pub).st_ino
        check(len(good) == len(other), "both public keys have the same size")
        with open(pub, "r+b") as f:
            f.write(other)
            f.truncate()
        check(os.stat(pub).st_ino == ino, "rewritten in place")
        refused(env, relay, "alice")
        with open(pub, "r+b") as f:
            f.write(good)
            f.truncate()
        accepted(env, relay, "alice")

        # Replaced by a new file (new inode).
        tmp = pub + ".new"
        with open(tmp, "wb") as f:
            f.write(other)
        os.rename(tmp, pub)
        refused(env, relay, "alice")

        # Removed, then back.
        os.unlink(pub)
        refused(env, relay, "alice")
        with open(pub, "wb") as f:
            f.write(good)
        accepted(env, relay, "alice")

        # Added after start-up.
        make_key(env.keys, "carol")
        accepted(env, relay, "carol")

        relay.signal(15)
        check(relay.wait_exit() == 0, "relay exits 0 on SIGTERM")


srmtest.run(main)
