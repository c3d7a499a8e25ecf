#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_relay_input.py: the relay against bad input, its limits, and its command line.

Starts real `relay` processes on 127.0.0.1 and attacks them over raw
sockets: random bytes, zero and huge length prefixes, an unknown frame
type, a frame cut off half-way, REG_HELLOs with an unknown name or a
garbage body, a LINK frame before registration, a silent connection and a
byte-a-while drip (both closed at the registration deadline), and one
connection over --max-conns.  After each attack a fresh connection must
still be served (a bad REG_HELLO gets the exact REG_ERROR frame back), and
SIGTERM must end the relay with status 0.  Also checks --help, --version,
bad options, and a missing or world-readable relay.key.

Issue 5 (test_unauth_flood, test_reg_flood): 1000 connections from one
address that never finish registering, then 1000 from another and 100 from
a third (--max-unauth-source and --max-unauth refuse the excess at once),
with a byte-a-second dripper closed at the absolute deadline meanwhile; a
REG_HELLO flood from one address held to --reg-rate.  Through all of it a
real `client` process from another address registers, and an already
registered one stays online.

Environment (set by ctest): SRM_BUILD_DIR (holds `relay`), SRM_SOURCE_DIR.
Python standard library only; every wait has a deadline, none is a bare sleep.
"""
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("SRM_BUILD_DIR", os.path.join(os.getcwd(), "build"))
CLIENT = os.path.join(BUILD, "client")
SOURCE = os.environ.get("SRM_SOURCE_DIR", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
RELAY = os.path.join(BUILD, "relay")
WAIT = 20.0  # generous: sanitizers and a loaded machine

FRAME_REG_HELLO = 0x01
FRAME_REG_ERROR = 0x04
FRAME_LINK = 0x10
# The one generic refusal (docs/PROTOCOL.md): len 2, type REG_ERROR, body 0.
REG_ERROR = struct.pack(">IBB", 2, FRAME_REG_ERROR, 0)

failures = []


def check(cond, what):
    if cond:
        print("ok: " + what)
    else:
        print("FAIL: " + what)
        failures.append(what)
    return cond


def frame(ftype, body):
    return struct.pack(">IB", len(body) + 1, ftype) + body


def hello(name, rng):
    """A well-formed REG_HELLO: version, string8 name, eph (32), string16 OAEP blob."""
    n = name.encode()
    return frame(FRAME_REG_HELLO, bytes([1, len(n)]) + n + rng.randbytes(32) +
                 struct.pack(">H", 256) + rng.randbytes(256))


def make_keys(d, names):
    keygen = os.path.join(SOURCE, "scripts", "keygen.sh")
    if os.access(keygen, os.X_OK):
        subprocess.run([keygen, "-d", d, "-b", "2048"] + names, check=True,
                       stdout=subprocess.DEVNULL)
        return
    for n in names:
        key = os.path.join(d, n + ".key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", key], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(key, 0o600)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out",
                        os.path.join(d, n + ".pub")], check=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return s


def wait_eof(s, timeout=WAIT):
    """True once the peer has closed (EOF or reset) within timeout; reads and discards data."""
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return False
        try:
            if s.recv(65536) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True


def read_n(s, n, timeout=WAIT):
    """Up to n bytes, stopping early at EOF or when timeout passes."""
    end = time.monotonic() + timeout
    data = b""
    while len(data) < n:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            break
        try:
            chunk = s.recv(n - len(data))
        except ConnectionResetError:
            break
        if chunk == b"":
            break
        data += chunk
    return data


def still_open(s):
    """True if the connection has neither data nor EOF waiting (the relay kept it)."""
    r, _, _ = select.select([s], [], [], 0)
    return not r


class Relay:
    def __init__(self, keys, *extra):
        self.port = free_port()
        self.log_path = os.path.join(keys, "relay-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [RELAY, "--listen", "127.0.0.1:%d" % self.port, "--keys", keys] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, needle, timeout=WAIT):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.text():
                return True
            if self.proc.poll() is not None:
                return needle in self.text()
            self.proc_wait(0.05)
        return False

    def proc_wait(self, t):
        try:
            self.proc.wait(timeout=t)
        except subprocess.TimeoutExpired:
            pass

    def wait_ready(self):
        """Poll until the port answers (a probe gets REG_ERROR), or fail with the log."""
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                self.proc_wait(0.05)
        print(self.text())
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc


def probe(relay, what):
    """A fresh connection is still served: a REG_HELLO for an unknown user gets REG_ERROR."""
    rng = random.Random(what)
    with connect(relay.port) as s:
        s.sendall(hello("mallory", rng))
        got = read_n(s, len(REG_ERROR))
        ok = check(got == REG_ERROR, "after %s: a fresh connection gets REG_ERROR (%r)"
                   % (what, got))
        ok = check(wait_eof(s), "after %s: and is then closed" % what) and ok
    return ok


def attack(relay, what, data, expect_reg_error=False, close_after_send=False):
    with connect(relay.port) as s:
        s.sendall(data)
        if close_after_send:
            s.close()
        else:
            if expect_reg_error:
                got = read_n(s, len(REG_ERROR))
                check(got == REG_ERROR, "%s: REG_ERROR frame back (%r)" % (what, got))
            check(wait_eof(s), "%s: the relay closes the connection" % what)
    check(relay.proc.poll() is None, "%s: relay still running" % what)
    probe(relay, what)


def test_attacks(keys):
    # --reg-rate 0: dozens of REG_HELLOs from one address in a second are the point here.
    relay = Relay(keys, "--reg-timeout", "1", "--reg-rate", "0", "--debug")
    try:
        if not check(relay.wait_ready(), "relay starts and accepts connections"):
            return
        check(relay.wait_log("listening on 127.0.0.1:%d, key SHA256:" % relay.port),
              "start-up line names the address and the key fingerprint")
        rng = random.Random(7447)
        probe(relay, "start-up")

        # Random bytes: a huge length (top byte set) so the header alone is refused.
        attack(relay, "random bytes", b"\xf3" + rng.randbytes(4095))
        attack(relay, "zero length", struct.pack(">I", 0) + b"\x01junk")
        attack(relay, "0xffffffff length", b"\xff\xff\xff\xff\x01" + rng.randbytes(64))
        check(relay.wait_log("bad frame header"), "oversized header logged as a violation")
        # The length alone is enough to refuse: no waiting for a type byte (or the deadline).
        with connect(relay.port) as s:
            t0 = time.monotonic()
            s.sendall(struct.pack(">I", 0x7FFFFFFF))
            closed = wait_eof(s)
            took = time.monotonic() - t0
            check(closed and took < 0.8, "a bare 4-byte huge length is refused at once "
                  "(%.2f s)" % took)
        attack(relay, "one over the frame limit", struct.pack(">IB", 131073, FRAME_REG_HELLO))
        attack(relay, "unknown frame type", frame(0x7F, b"hello"))
        # Registration frames are small: a longer one is refused from its header, not buffered.
        with connect(relay.port) as s:
            t0 = time.monotonic()
            s.sendall(struct.pack(">IB", 20000, FRAME_REG_HELLO) + bytes(1000))
            closed = wait_eof(s)
            took = time.monotonic() - t0
            check(closed and took < 0.8, "a 20000-byte REG_HELLO is refused from its header "
                  "(%.2f s)" % took)
        check(relay.wait_log("registration frame too long"), "over-long registration frame logged")
        attack(relay, "frame cut off half-way",
               struct.pack(">IB", 200, FRAME_REG_HELLO) + rng.randbytes(90),
               close_after_send=True)
        check(relay.wait_log("in the middle of a frame"), "cut-off frame logged")
        attack(relay, "REG_HELLO with an unknown name", hello("nobody", rng),
               expect_reg_error=True)
        check(relay.wait_log("registration as nobody refused"), "unknown name logged")
        attack(relay, "REG_HELLO naming the relay itself", hello("relay", rng),
               expect_reg_error=True)
        attack(relay, "REG_HELLO with a garbage body", frame(FRAME_REG_HELLO, rng.randbytes(40)),
               expect_reg_error=True)
        attack(relay, "REG_HELLO with a bad name", frame(FRAME_REG_HELLO, bytes([1, 5]) +
               b"../x/" + rng.randbytes(32 + 2 + 256)), expect_reg_error=True)
        attack(relay, "LINK frame before registration", frame(FRAME_LINK, rng.randbytes(48)),
               expect_reg_error=True)
        attack(relay, "REG_ERROR frame from a client", REG_ERROR, expect_reg_error=True)
        attack(relay, "several frames in one write",
               hello("nobody", rng) + frame(FRAME_LINK, rng.randbytes(20)),
               expect_reg_error=True)

        # Silence: closed by the absolute registration deadline.
        with connect(relay.port) as s:
            t0 = time.monotonic()
            closed = wait_eof(s)
            took = time.monotonic() - t0
            check(closed and took >= 0.8, "silent connection closed at --reg-timeout 1 "
                  "(after %.2f s)" % took)
        check(relay.wait_log("registration not finished within 1 s"), "deadline logged")
        probe(relay, "silent connection")

        # A byte now and then must not keep the slot: the deadline is absolute.
        drip = struct.pack(">IB", 400, FRAME_REG_HELLO) + bytes(400)
        with connect(relay.port) as s:
            t0 = time.monotonic()
            closed = False
            for b in drip:
                try:
                    s.sendall(bytes([b]))
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                if wait_eof(s, 0.2):
                    closed = True
                    break
                if time.monotonic() - t0 > WAIT:
                    break
            took = time.monotonic() - t0
            check(closed and took < 1.0 + 5.0, "dripping connection closed by the deadline "
                  "(after %.2f s)" % took)
        probe(relay, "dripping connection")

        # Many bad connections at once, then everyone is still served.
        socks = [connect(relay.port) for _ in range(20)]
        for i, s in enumerate(socks):
            s.sendall(struct.pack(">I", 0xFFFFFF00 + i) if i % 2 else hello("nobody", rng))
        check(all(wait_eof(s) for s in socks), "20 bad connections at once are all closed")
        for s in socks:
            s.close()
        probe(relay, "20 bad connections")
    finally:
        rc = relay.stop()
        check(rc == 0, "SIGTERM: relay exits 0 (got %s)" % rc)
        log = relay.text()
        check("runtime error" not in log and "Sanitizer" not in log,
              "no sanitizer reports in the relay log")
        if failures:
            print("---- relay log (attacks) ----\n" + log[-6000:])


def test_max_conns(keys):
    relay = Relay(keys, "--max-conns", "5", "--reg-timeout", "60")
    socks = []
    try:
        if not check(relay.wait_ready(), "relay with --max-conns 5 starts"):
            return
        probe(relay, "start-up (max-conns)")
        for _ in range(5):
            s = connect(relay.port)
            socks.append(s)
            check(relay.wait_log("connection from 127.0.0.1:%d" % s.getsockname()[1]),
                  "connection %d accepted" % len(socks))
        sixth = connect(relay.port)
        sixth_port = sixth.getsockname()[1]
        check(wait_eof(sixth), "the 6th connection is closed at once")
        sixth.close()
        check(relay.wait_log("refused connection from 127.0.0.1:%d" % sixth_port),
              "refusal logged")
        check(all(still_open(s) for s in socks), "the 5 others are kept")
        # Free one slot: a fresh connection is served again.
        s = socks.pop()
        port = s.getsockname()[1]
        s.close()
        check(relay.wait_log("127.0.0.1:%d disconnected: closed by peer" % port),
              "closed slot noticed")
        probe(relay, "a slot freed")
    finally:
        for s in socks:
            s.close()
        rc = relay.stop()
        check(rc == 0, "SIGTERM with connections open: relay exits 0 (got %s)" % rc)
        if failures:
            print("---- relay log (max-conns) ----\n" + relay.text()[-4000:])


def connect_from(port, src):
    """A connection from source address src (any 127/8 address is loopback on Linux)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(WAIT)
    s.connect(("127.0.0.1", port))
    return s


def closed_now(s):
    """True if the peer has closed s (EOF or reset waiting), without blocking."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return False
    try:
        return s.recv(4096) == b""
    except OSError:
        return True


def flood_unauth(relay, src, count, held_expected):
    """count connections from src that each send 3 bytes of a header and stop.
    Returns the sockets the relay keeps once it has refused the rest."""
    held = []
    for i in range(count):
        try:
            s = connect_from(relay.port, src)
            s.sendall(b"\x00\x00\x01")
            held.append(s)
        except OSError:
            pass  # refused so fast that the send hit a reset: counted as refused
        if i % 50 == 49:
            for s in [s for s in held if closed_now(s)]:
                s.close()
                held.remove(s)
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        for s in [s for s in held if closed_now(s)]:
            s.close()
            held.remove(s)
        if len(held) <= held_expected:
            break
        relay.proc_wait(0.05)
    return held


class Client:
    """A real client process; registration is read from the relay's log."""

    def __init__(self, relay, keys, name, cwd):
        self.proc = subprocess.Popen([CLIENT, name, "--relay", "127.0.0.1:%d" % relay.port,
                                      "--keys", keys], stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=cwd)

    def finish(self):
        """End of input: a client with nothing unsent exits 0."""
        try:
            self.proc.stdin.close()
            return self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def dripper(relay, out):
    """One byte a second of a plausible REG_HELLO header, from its own address."""
    s = connect_from(relay.port, "127.0.0.5")
    t0 = time.monotonic()
    sent = 0
    data = struct.pack(">IB", 400, FRAME_REG_HELLO) + bytes(400)
    try:
        while sent < len(data) and time.monotonic() - t0 < WAIT:
            s.sendall(data[sent:sent + 1])
            sent += 1
            if wait_eof(s, 1.0):
                break
    except OSError:
        pass
    out["took"] = time.monotonic() - t0
    out["sent"] = sent
    s.close()


def test_unauth_flood(keys, tmp):
    deadline = 6
    relay = Relay(keys, "--max-unauth", "64", "--max-unauth-source", "32", "--reg-timeout",
                  str(deadline), "--reg-rate", "0")
    socks = []
    try:
        if not check(relay.wait_ready(), "relay with --max-unauth 64 starts"):
            return
        alice = Client(relay, keys, "alice", tmp)
        check(relay.wait_log("registered as alice"), "alice registers before the flood")
        drip = {}
        dt = threading.Thread(target=dripper, args=(relay, drip))
        dt.start()
        check(relay.wait_log("connection from 127.0.0.5:"), "the dripper is accepted")

        t0 = time.monotonic()
        socks += flood_unauth(relay, "127.0.0.2", 1000, 32)
        took = time.monotonic() - t0
        check(len(socks) == 32, "1000 connections from 127.0.0.2 that never register: %d kept "
              "(--max-unauth-source 32), %d refused, in %.2f s" % (len(socks), 1000 - len(socks),
                                                                   took))
        check(relay.wait_log("(--max-unauth-source 32)"), "per-address refusal logged")
        # An honest client from another address still registers.
        t1 = time.monotonic()
        bob = Client(relay, keys, "bob", tmp)
        check(relay.wait_log("registered as bob"), "a real client (bob, from 127.0.0.1) registers "
              "while 32 connections from 127.0.0.2 hang (%.2f s)" % (time.monotonic() - t1))
        check(bob.finish() == 0, "bob exits 0")

        more = flood_unauth(relay, "127.0.0.3", 1000, 31)
        socks += more
        check(len(more) == 31, "1000 more from 127.0.0.3: %d kept (the dripper holds the 64th "
              "slot)" % len(more))
        third = flood_unauth(relay, "127.0.0.4", 100, 0)
        socks += third
        check(len(third) == 0, "100 from 127.0.0.4: all refused at --max-unauth 64 (%d kept)"
              % len(third))
        check(relay.wait_log("(--max-unauth 64)"), "global refusal logged")
        n_refused = relay.text().count("refused connection")
        check(n_refused < 100, "%d refusal lines for 2036 refusals" % n_refused)

        # Every slot is taken: a new connection is refused (closed without REG_ERROR) ...
        with connect(relay.port) as s:
            check(wait_eof(s, 5), "a connection while every registration slot is held is closed")
        # ... until the absolute deadline frees the slots.
        dt.join(WAIT + 5)
        check(drip.get("sent", 0) >= deadline - 2 and
              deadline - 1 <= drip.get("took", 0) <= deadline + 3,
              "byte-a-second dripper closed at the %d s deadline (after %.2f s, %d bytes)"
              % (deadline, drip.get("took", 0), drip.get("sent", 0)))
        end = time.monotonic() + WAIT
        while time.monotonic() < end and not all(closed_now(s) for s in socks):
            relay.proc_wait(0.1)
        check(all(closed_now(s) for s in socks), "every hanging connection closed at the deadline")
        check(relay.wait_log("registration not finished within %d s" % deadline), "deadline logged")
        probe(relay, "the unauthenticated flood")
        check(relay.proc.poll() is None, "relay still running after the flood")
        check("alice (" not in relay.text(), "alice stayed online through the flood")
        check(alice.finish() == 0, "alice exits 0")
    finally:
        for s in socks:
            s.close()
        rc = relay.stop()
        check(rc == 0, "SIGTERM after the flood: relay exits 0 (got %s)" % rc)
        log = relay.text()
        check("Sanitizer" not in log and "runtime error" not in log, "no sanitizer reports")
        if failures:
            print("---- relay log (unauth flood) ----\n" + log[-6000:])


def real_hello(keys, name):
    """A REG_HELLO a real client could send: the nonce really encrypted to relay.pub."""
    nonce = os.urandom(32)
    enc = subprocess.run(["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey",
                          os.path.join(keys, "relay.pub"), "-pkeyopt", "rsa_padding_mode:oaep",
                          "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"],
                         input=nonce, capture_output=True, check=True).stdout
    n = name.encode()
    return frame(FRAME_REG_HELLO, bytes([1, len(n)]) + n + os.urandom(32) +
                 struct.pack(">H", len(enc)) + enc)


def test_reg_flood(keys, tmp):
    rate, seconds = 5, 3.0
    relay = Relay(keys, "--reg-rate", str(rate), "--max-unauth-source", "64")
    counts = {"challenge": 0, "refused": 0, "other": 0}
    lock = threading.Lock()
    try:
        if not check(relay.wait_ready(), "relay with --reg-rate %d starts" % rate):
            return
        hello_frame = real_hello(keys, "alice")
        with connect(relay.port) as s:
            s.sendall(hello_frame)
            got = read_n(s, 5)
            check(len(got) == 5 and got[4] == 0x02, "a real REG_HELLO gets REG_CHALLENGE (%r)"
                  % got[:5])
        stop = time.monotonic() + seconds

        def hammer():
            while time.monotonic() < stop:
                try:
                    with connect_from(relay.port, "127.0.0.2") as s:
                        s.sendall(hello_frame)
                        got = read_n(s, 5, 5)
                except OSError:
                    got = b""
                # Over the rate the relay closes without an answer (a REG_ERROR
                # would tell an honest client it is refused for good).
                kind = ("challenge" if len(got) == 5 and got[4] == 0x02 else
                        "refused" if len(got) == 0 else "other")
                with lock:
                    counts[kind] += 1
        t0 = time.monotonic()
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        # Half-way through, an honest client from 127.0.0.1 registers.
        relay.proc_wait(seconds / 3)
        t1 = time.monotonic()
        bob = Client(relay, keys, "bob", tmp)
        ok = relay.wait_log("registered as bob")
        reg_time = time.monotonic() - t1
        for t in threads:
            t.join(WAIT)
        took = time.monotonic() - t0
        check(ok, "a real client registers during the REG_HELLO flood (%.2f s)" % reg_time)
        check(bob.finish() == 0, "bob exits 0")
        allowed = rate * 2 + rate * took + 2
        print("REG_HELLO flood from 127.0.0.2 for %.1f s: %d answered with REG_CHALLENGE, %d "
              "refused, %d other; honest registration took %.2f s"
              % (took, counts["challenge"], counts["refused"], counts["other"], reg_time))
        check(counts["challenge"] <= allowed, "RSA work for 127.0.0.2 held to --reg-rate %d: "
              "%d challenges in %.1f s (at most %.0f)" % (rate, counts["challenge"], took, allowed))
        check(counts["refused"] > counts["challenge"], "most of the flood refused (%d)"
              % counts["refused"])
        check(relay.wait_log("rate limit of %d REG_HELLO/s" % rate), "rate limit logged")
        probe(relay, "the REG_HELLO flood")
    finally:
        rc = relay.stop()
        check(rc == 0, "SIGTERM after the REG_HELLO flood: relay exits 0 (got %s)" % rc)
        if failures:
            print("---- relay log (reg flood) ----\n" + relay.text()[-4000:])


def run_cli(args, timeout=WAIT):
    p = subprocess.run([RELAY] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def one_error_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return len(lines) == 1 and lines[0].startswith("error: ")


def test_cli(keys, tmp):
    rc, out, err = run_cli(["--help"])
    check(rc == 0 and "--listen" in out and "--keys" in out and "--max-conns" in out and
          "--reg-timeout" in out and "7447" in out, "--help exits 0 and lists the options")
    check(all(o in out for o in ("--keepalive", "--idle-timeout", "--max-output", "--max-unauth",
                                 "--max-unauth-source", "--reg-rate")),
          "--help lists the keepalive and limit options")
    rc, out, err = run_cli(["--version"])
    check(rc == 0 and out.startswith("srm relay ") and "libevent" in out,
          "--version exits 0: %s" % out.strip())
    for bad in (["--bogus"], ["--listen"], ["--listen", "nocolon"], ["--max-conns", "0"],
                ["--reg-timeout", "x"], ["stray"], ["--keepalive", "x"],
                ["--keepalive", "5", "--idle-timeout", "5"], ["--keepalive", "0", "--idle-timeout", "9"],
                ["--max-output", "1000"], ["--max-unauth", "0"], ["--max-unauth-source", "0"],
                ["--reg-rate", "-1"]):
        rc, out, err = run_cli(bad)
        check(rc == 2 and one_error_line(err), "%s: exit 2 with one error line (%d, %r)"
              % (" ".join(bad), rc, err))
    # --cluster is the cluster module's to test (test_cluster*.py).

    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    port = "127.0.0.1:%d" % free_port()
    rc, out, err = run_cli(["--keys", empty, "--listen", port])
    check(rc == 1 and one_error_line(err) and "relay.key" in err and "keygen" in err,
          "missing relay.key: exit 1 with one error line (%d, %r)" % (rc, err))

    loose = os.path.join(tmp, "loose")
    os.mkdir(loose)
    with open(os.path.join(keys, "relay.key"), "rb") as f:
        pem = f.read()
    path = os.path.join(loose, "relay.key")
    with open(path, "wb") as f:
        f.write(pem)
    os.chmod(path, 0o644)
    rc, out, err = run_cli(["--keys", loose, "--listen", port])
    check(rc == 1 and one_error_line(err) and "chmod 600" in err,
          "relay.key mode 0644: exit 1, says chmod 600 (%d, %r)" % (rc, err))


def main():
    if not os.access(RELAY, os.X_OK):
        print("FAIL: no relay binary at %s (set SRM_BUILD_DIR)" % RELAY)
        return 1
    with tempfile.TemporaryDirectory(prefix="srm-relay-input-") as tmp:
        keys = os.path.join(tmp, "keys")
        os.mkdir(keys)
        make_keys(keys, ["relay", "alice", "bob"])
        test_cli(keys, tmp)
        test_attacks(keys)
        test_max_conns(keys)
        test_unauth_flood(keys, tmp)
        test_reg_flood(keys, tmp)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all relay input checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
