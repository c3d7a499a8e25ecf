#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One bit flipped in one frame of a live conversation (the in-memory,
every-bit version is tests/unit/test_wire_flip.c).

alice reaches the relay through a proxy that, three times, flips one random
bit of one random link frame she sends (after registration).  Each time the
link fails loudly (the relay logs the violation, alice prints an `error: `
line), alice reconnects, and in the end bob has every message exactly once
and both batch clients exit 0.
"""
import random
import struct
import threading

import srmtest
from srmtest import Env, Proxy, check

FRAME_LINK = 0x10
ROUNDS = 3


class FlipProxy(Proxy):
    """Proxy that flips one random bit of the next c2r LINK frame when armed."""

    def __init__(self, target_port, rng):
        self.rng = rng
        self.armed = threading.Event()
        self.flipped = []
        super().__init__(target_port)

    def _pump(self, src, dst, rec, direction="c2r", cid=0):
        if direction != "c2r":
            return super()._pump(src, dst, rec, direction, cid)
        buf = bytearray()
        while True:
            data = self._recv_or_eof(src, dst)
            if data is None:
                return
            buf += data
            out = bytearray()
            # Forward whole frames only, so the flip lands inside one frame.
            while len(buf) >= 5:
                (n,) = struct.unpack(">I", buf[:4])
                if n == 0 or n > 131072 or len(buf) < 4 + n:
                    break
                frame = bytearray(buf[:4 + n])
                del buf[:4 + n]
                if frame[4] == FRAME_LINK and self.armed.is_set():
                    self.armed.clear()
                    bit = self.rng.randrange(len(frame) * 8)
                    frame[bit // 8] ^= 1 << (bit % 8)
                    self.flipped.append((len(frame), bit))
                out += frame
            if len(buf) >= 4 and not 0 < struct.unpack(">I", buf[:4])[0] <= 131072:
                # Not a frame we can split: pass it on for the relay to refuse.
                out += buf
                buf = bytearray()
            with self.lock:
                rec += out
            try:
                dst.sendall(out)
            except OSError:
                return


def main():
    rng = random.Random()
    with Env(("alice", "bob")) as env:
        relay = env.start_relay(debug=True)
        proxy = FlipProxy(env.port, rng)
        try:
            bob = env.start_client("bob", to="alice")
            env.wait_registered(relay, "bob")
            argv = [srmtest.CLIENT, "alice", "--relay", proxy.addr(), "--keys", env.keys,
                    "--to", "bob"]
            alice = srmtest.Proc("alice", argv, cwd=env.dir)
            env.procs.append(alice)
            alice.wait_err(r"bob is online|online: .*\bbob\b")
            sent = []
            for k in range(ROUNDS):
                t = "before flip %d" % k
                alice.send(t)
                sent.append(t)
                bob.wait_out("alice: " + t, timeout=60)
                errors_before = sum(1 for l in alice.err if l.startswith("error: "))
                proxy.armed.set()
                t = "flipped %d" % k
                alice.send(t)
                sent.append(t)
                srmtest.wait_until(lambda: not proxy.armed.is_set(), 30, "the flip")
                # Loud: the relay drops the link and alice says so.
                relay.wait_err(r"link record did not open|bad frame|protocol", timeout=30)
                srmtest.wait_until(
                    lambda: sum(1 for l in alice.err if l.startswith("error: ")) > errors_before,
                    30, "alice's error line after flip %d" % k)
                bob.wait_out("alice: " + t, timeout=90)
            alice.close_stdin()
            check(alice.wait_exit(90) == 0, "alice exits 0: all delivered\n" + alice.dump())
            bob.close_stdin()
            check(bob.wait_exit(60) == 0, "bob exits 0")
            check(sorted(bob.out) == sorted("alice: " + t for t in sent),
                  "bob has every message exactly once: %r" % bob.out)
            check(len(proxy.flipped) == ROUNDS, "flipped %r" % proxy.flipped)
        finally:
            proxy.close()


srmtest.run(main)
