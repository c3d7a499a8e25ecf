#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 5: /replay sends the last record again byte for byte, /tamper sends a
record with one ciphertext bit flipped.  The peer rejects each with one clear
error line and resets the session; nothing is shown twice or forged, and the
conversation goes on in both directions with nothing lost."""
import srmtest
from srmtest import Env, check


def main():
    with Env(("alice", "bob")) as env:
        relay = env.start_relay()
        alice = env.start_client("alice", to="bob")
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "alice")
        env.wait_registered(relay, "bob")
        alice.send("m1")
        bob.wait_out("alice: m1")
        alice.send("/replay")
        alice.wait_err(r"sent bob your last record again")
        bob.wait_err(r"^error: rejected a replayed .*record from alice \(session reset\)")
        alice.send("m2")
        bob.wait_out("alice: m2")
        bob.send("b1")
        alice.wait_out("bob: b1")
        alice.send("/tamper")
        alice.wait_err(r"one ciphertext bit flipped")
        bob.wait_err(r"^error: rejected a tampered .*record from alice")
        alice.send("m3")
        bob.send("b2")
        bob.wait_out("alice: m3")
        alice.wait_out("bob: b2")
        alice.close_stdin()
        bob.close_stdin()
        check(alice.wait_exit() == 0, "alice exits 0: all delivered")
        check(bob.wait_exit() == 0, "bob exits 0: all delivered")
        check(bob.out == ["alice: m1", "alice: m2", "alice: m3"],
              "bob saw each message once, nothing forged: %r" % bob.out)
        check(alice.out == ["bob: b1", "bob: b2"], "alice: %r" % alice.out)
        errs = [l for l in bob.err if l.startswith("error:")]
        check(len(errs) == 2, "bob printed exactly one error line per attack: %r" % errs)
        check(not any("never be shown" in l for l in bob.out + bob.err), "forgery never shown")
        check(not any(l.startswith("error:") for l in alice.err), "alice: no errors %r" % alice.err)


srmtest.run(main)
