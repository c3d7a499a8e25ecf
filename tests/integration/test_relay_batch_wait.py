#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""relay --batch-wait USECS (default 50): the relay pauses after reading only
while input arrives at 20 or more reads a millisecond; its --debug log says
when batching turns on and off; messages still arrive in order, once each,
while it is on; bad values are refused with a usage error."""
import socket
import struct
import subprocess
import threading
import time

import srmtest
from srmtest import Env, check

FRAME_REG_HELLO = 0x01
TRICKLERS = 16


def trickle(port, stop, counts):
    """Load without a key: registering connections that each send a
    REG_HELLO header and then its body one byte per segment (each a read
    for the relay), round robin, until stop is set."""
    socks = []
    for _ in range(TRICKLERS):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(struct.pack(">IB", 1 + 15000, FRAME_REG_HELLO))
        socks.append(s)
    sent = 0
    try:
        while not stop.is_set() and sent < 15000 * TRICKLERS:
            for s in socks:
                s.send(b"\x00")
                sent += 1
    except OSError:
        pass
    counts.append(sent)
    for s in socks:
        s.close()


def main():
    for bad in ("abc", "-1", "1001", ""):
        r = subprocess.run([srmtest.RELAY, "--batch-wait", bad], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 2, "--batch-wait %r: usage error, got %d" % (bad, r.returncode))
        check("--batch-wait" in r.stderr, "--batch-wait %r: the error names the option: %r"
              % (bad, r.stderr))
    r = subprocess.run([srmtest.RELAY, "--help"], capture_output=True, text=True, timeout=30)
    check("--batch-wait USECS" in r.stdout and "default 50" in r.stdout,
          "--help lists --batch-wait with its default")

    with Env(("alice", "bob")) as env:
        relay = env.start_relay(debug=True)
        alice = env.start_client("alice", to="bob")
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "alice")
        env.wait_registered(relay, "bob")
        alice.send("before the load")
        bob.wait_out("alice: before the load")
        check(not any("batching on" in l for l in relay.err),
              "batching turned on at a few messages a second")

        stop, counts = threading.Event(), []
        t = threading.Thread(target=trickle, args=(env.port, stop, counts), daemon=True)
        t.start()
        try:
            relay.wait_err(r"batching on")
            for i in range(20):
                alice.send("under load %d" % i)
            for i in range(20):
                bob.wait_out("alice: under load %d" % i)
        finally:
            stop.set()
            t.join(30)
        relay.wait_err(r"batching off")
        alice.send("after the load")
        bob.wait_out("alice: after the load")
        check(bob.out == ["alice: before the load"] + ["alice: under load %d" % i for i in range(20)]
              + ["alice: after the load"], "bob saw every message once, in order: %r" % bob.out)
        relay.signal(15)
        check(relay.wait_exit() == 0, "relay exits 0 on SIGTERM")
        print("trickled %d bytes" % (counts[0] if counts else -1))


srmtest.run(main)
