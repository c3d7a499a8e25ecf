#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A hostile relay (tests/hostile/hostile_relay.c) attacks the end-to-end layer
once per run: tampering with each field of a record, truncating, replaying,
reordering, dropping or reflecting one, swapping the ephemeral key of a
session handshake, relabelling a handshake as from carol, and replaying a
handshake recorded in an earlier run.  For every attack:

  * it really happened (the hostile relay says so on stderr);
  * the client that can see it prints an `error: ` line naming the peer;
  * nothing forged or duplicated is shown: each side's stdout holds exactly
    the messages the other side typed, each once;
  * an honest exchange afterwards works, and both batch clients exit 0
    (every message acknowledged end to end).

Also a malicious peer (a real client) sending terminal escape sequences and
invalid UTF-8: the receiving client shows them replaced.

Usage: test_hostile_relay.py [MODE...]   (default: every mode)
"""
import os
import sys

import srmtest
from srmtest import Env, Proc, check, wait_port

HOSTILE = os.path.join(srmtest.BUILD, "hostile_relay")

# mode -> (who detects it, the peer its error names)
RECORD_MODES = {
    "tamper-seq": ("bob", "alice"),
    "tamper-iv": ("bob", "alice"),
    "tamper-ct": ("bob", "alice"),
    "tamper-tag": ("bob", "alice"),
    "truncate": ("bob", "alice"),
    "replay": ("bob", "alice"),
    "reorder": ("bob", "alice"),
    "drop": ("bob", "alice"),
    "reflect": ("alice", "bob"),
    "swap-eph": ("alice", "bob"),
    "misbind": ("bob", "carol"),
}


def start_hostile(env, mode, *extra):
    argv = [HOSTILE, "--listen", env.relay_addr(), "--keys", env.keys, "--attack", mode,
            "--victim", "alice", "--nth", "2", "--debug"] + list(extra)
    p = Proc("hostile_relay", argv, stdin=False)
    env.procs.append(p)
    wait_port(env.port)
    return p


def converse(env, relay, mode, detector=None, named=None):
    """alice sends a1..a3 (the attack hits a record or handshake on the way),
    then an honest exchange both ways; check what each side showed."""
    alice = env.start_client("alice", to="bob", debug=True)
    relay.wait_err(r"hostile: registered alice")
    bob = env.start_client("bob", to="alice", debug=True)
    relay.wait_err(r"hostile: registered bob")
    # Wait for alice to know bob is online, so that her first line starts the
    # only handshake and the attacked records are the ones counted below.
    alice.wait_err(r"bob is online")
    alice.send("a1 first")
    bob.wait_out("alice: a1 first", timeout=60)
    # The second DATA record from alice is the one attacked; a3 follows it,
    # so a reorder has something to swap with and a drop leaves a gap.
    alice.send("a2 attacked")
    alice.send("a3 after")
    if mode != "none":
        relay.wait_err(r"hostile: attack %s applied" % mode, timeout=60)
    if detector is not None:
        who = alice if detector == "alice" else bob
        who.wait_err(r"^error: .*\b%s\b" % named, timeout=60)
    # Honest exchange afterwards.
    bob.send("b1 reply")
    alice.wait_out("bob: b1 reply", timeout=60)
    alice.send("a4 later")
    bob.wait_out("alice: a4 later", timeout=60)
    # Every message arrives exactly once (resent on a new session if needed).
    for t in ("a2 attacked", "a3 after"):
        bob.wait_out("alice: " + t, timeout=60)
    alice.close_stdin()
    bob.close_stdin()
    ra = alice.wait_exit(90)
    rb = bob.wait_exit(90)
    expect_bob = ["alice: a1 first", "alice: a2 attacked", "alice: a3 after", "alice: a4 later"]
    check(sorted(bob.out) == sorted(expect_bob),
          "%s: bob shows exactly alice's messages, each once: %r" % (mode, bob.out))
    check(alice.out == ["bob: b1 reply"],
          "%s: alice shows exactly bob's message, once: %r" % (mode, alice.out))
    check(ra == 0, "%s: alice exits 0 (all delivered), got %d\n%s" % (mode, ra, alice.dump()))
    check(rb == 0, "%s: bob exits 0, got %d\n%s" % (mode, rb, bob.dump()))
    return alice, bob


def run_mode(mode):
    with Env(("alice", "bob", "carol")) as env:
        relay = start_hostile(env, mode)
        detector, named = RECORD_MODES.get(mode, (None, None))
        try:
            alice, bob = converse(env, relay, mode, detector, named)
        finally:
            log = os.environ.get("SRM_HOSTILE_LOG")
            if log:
                with open(log, "w") as f:
                    f.write("\n".join(relay.err) + "\n")
                    for name in ("alice", "bob"):
                        path = os.path.join(env.dir, name + ".debug.log")
                        if os.path.exists(path):
                            f.write("=== %s debug log\n" % name + open(path).read())
        if mode != "none":
            # Nothing forged was shown anywhere: no line claims to be from carol.
            check(not any(l.startswith("carol:") for l in alice.out + bob.out),
                  "%s: no message shown as from carol" % mode)
        relay.kill()


def run_replay_hs():
    """Run 1 records alice's HS_INIT; run 2 (same keys) replays it to bob
    while alice and bob have a live session."""
    with Env(("alice", "bob", "carol")) as env:
        hs_file = os.path.join(env.dir, "hs_init.bin")
        relay = start_hostile(env, "replay-hs", "--hs-file", hs_file)
        converse(env, relay, "none")
        relay.wait_err(r"hostile: recorded alice's HS_INIT")
        check(os.path.getsize(hs_file) > 0, "replay-hs: HS_INIT recorded")
        relay.kill()
        env.procs = []
        relay = start_hostile(env, "replay-hs", "--hs-file", hs_file)
        relay.wait_err(r"loaded an HS_INIT")
        # The old HS_INIT makes bob answer with an HS_RESP no one can finish:
        # alice must reject it (naming bob) and the live session goes on.
        converse(env, relay, "replay-hs", "alice", "bob")
        relay.kill()


def run_escapes():
    """A malicious peer sends escape sequences, controls and invalid UTF-8."""
    with Env(("alice", "bob")) as env:
        relay = start_hostile(env, "none")
        alice = env.start_client("alice", to="bob")
        relay.wait_err(r"hostile: registered alice")
        bob = env.start_client("bob", to="alice")
        relay.wait_err(r"hostile: registered bob")
        alice.wait_err(r"bob is online")
        evil = (b"x\x1b[2J\x1b]0;owned\x07 \x9b31m \xc2\x9b \xff\xfe \xe2\x80\xae rtl \x08\x7f"
                b" \xc3\xa9 ok")
        alice.p.stdin.write(evil + b"\n")
        alice.p.stdin.flush()
        alice.send("plain after")
        bob.wait_out("alice: plain after", timeout=60)
        check(len(bob.out) == 2, "escapes: two lines shown: %r" % bob.out)
        shown = bob.out[0]
        check(shown.startswith("alice: x"), "escapes: the message is shown: %r" % shown)
        bad = [c for c in shown if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or
               c in "\ufffd\u202e"]
        check(not bad, "escapes: no control, C1, bidi or invalid byte reaches stdout: %r" % shown)
        check("[2J" in shown and "é ok" in shown,
              "escapes: printable text kept, valid UTF-8 kept: %r" % shown)
        alice.close_stdin()
        bob.close_stdin()
        check(alice.wait_exit(60) == 0, "escapes: alice exit 0")
        check(bob.wait_exit(60) == 0, "escapes: bob exit 0")
        relay.kill()


def main():
    modes = sys.argv[1:] or (["none"] + list(RECORD_MODES) + ["replay-hs", "escapes"])
    for mode in modes:
        sys.stderr.write("--- mode %s\n" % mode)
        if mode == "replay-hs":
            run_replay_hs()
        elif mode == "escapes":
            run_escapes()
        else:
            run_mode(mode)


srmtest.run(main)
