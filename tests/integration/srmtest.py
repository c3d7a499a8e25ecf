# SPDX-License-Identifier: MIT
"""srmtest: a small harness that runs a real relay and real clients on loopback.

Every wait has a deadline and waits for a condition (a port that accepts, a
line printed, a process exit); nothing sleeps blindly.  Used by the
tests/integration/test_*.py scripts, which ctest runs with SRM_BUILD_DIR and
SRM_SOURCE_DIR set.
"""
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("SRM_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SOURCE = os.environ.get("SRM_SOURCE_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..")
RELAY = os.path.join(BUILD, "relay")
CLIENT = os.path.join(BUILD, "client")

# Sanitizer builds are slower; every deadline below is generous but finite.
DEFAULT_TIMEOUT = float(os.environ.get("SRM_TEST_TIMEOUT", "30"))


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=DEFAULT_TIMEOUT, what="condition", interval=0.02):
    """Poll pred() until it is true or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def wait_port(port, timeout=DEFAULT_TIMEOUT):
    def try_connect():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    wait_until(try_connect, timeout, "port %d to accept" % port, 0.05)


_key_cache = {}


def make_key(keydir, name, bits=2048):
    """Write NAME.key (0600) and NAME.pub into keydir with the openssl CLI.

    RSA generation dominates test time, so keys are cached per process and
    copied; each test still gets its own directory."""
    key = os.path.join(keydir, name + ".key")
    pub = os.path.join(keydir, name + ".pub")
    cache = _key_cache.get((name, bits))
    if cache is None:
        tmp = tempfile.mkdtemp(prefix="srmkey-")
        k, p = os.path.join(tmp, "k"), os.path.join(tmp, "p")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:%d" % bits, "-out", k], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["openssl", "pkey", "-in", k, "-pubout", "-out", p], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cache = (open(k, "rb").read(), open(p, "rb").read())
        shutil.rmtree(tmp)
        _key_cache[(name, bits)] = cache
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(cache[0])
    with open(pub, "wb") as f:
        f.write(cache[1])


class Proc:
    """A child process whose stdout and stderr lines are collected by threads."""

    def __init__(self, name, argv, stdin=True, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.out = []
        self.err = []
        self.cond = threading.Condition()
        full_env = dict(os.environ)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        # SRM_TEST_WRAPPER (e.g. "valgrind --error-exitcode=99 --leak-check=full"):
        # run our own programs under it; scripts/test.sh's valgrind pass sets it.
        wrapper = os.environ.get("SRM_TEST_WRAPPER")
        if wrapper and os.path.basename(argv[0]) in ("relay", "client", "hostile_relay"):
            argv = shlex.split(wrapper) + list(argv)
        if env:
            full_env.update(env)
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=full_env, cwd=cwd)
        self.threads = [threading.Thread(target=self._reader, args=(self.p.stdout, self.out),
                                         daemon=True),
                        threading.Thread(target=self._reader, args=(self.p.stderr, self.err),
                                         daemon=True)]
        for t in self.threads:
            t.start()

    def _reader(self, stream, lines):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def send(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def close_stdin(self):
        if self.p.stdin and not self.p.stdin.closed:
            self.p.stdin.close()

    def _wait_line(self, lines, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in lines:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestFailure("%s: timed out after %.1fs waiting for %s\n%s" %
                                      (self.name, timeout, what, self.dump()))
                self.cond.wait(min(left, 0.2))

    def wait_out(self, text, timeout=DEFAULT_TIMEOUT):
        """Wait for an exact stdout line."""
        return self._wait_line(self.out, lambda l: l == text, timeout, "stdout %r" % text)

    def wait_err(self, regex, timeout=DEFAULT_TIMEOUT):
        r = re.compile(regex)
        return self._wait_line(self.err, lambda l: r.search(l) is not None, timeout,
                               "stderr /%s/" % regex)

    def wait_out_count(self, n, timeout=DEFAULT_TIMEOUT):
        def enough():
            with self.cond:
                return len(self.out) >= n
        wait_until(enough, timeout, "%s: %d stdout lines" % (self.name, n))

    def wait_exit(self, timeout=DEFAULT_TIMEOUT):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("%s: did not exit within %.1fs\n%s" % (self.name, timeout,
                                                                    self.dump()))
        for t in self.threads:
            t.join(5)
        return rc

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def kill(self):
        if self.alive():
            self.p.kill()
            self.p.wait(10)

    def dump(self):
        with self.cond:
            return ("--- %s stdout ---\n%s\n--- %s stderr ---\n%s\n" %
                    (self.name, "\n".join(self.out[-40:]), self.name,
                     "\n".join(self.err[-40:])))


class Env:
    """A temporary key directory, a free port, and the processes of one test."""

    def __init__(self, users=("alice", "bob"), bits=2048):
        self.dir = tempfile.mkdtemp(prefix="srmtest-")
        self.keys = os.path.join(self.dir, "keys")
        os.mkdir(self.keys, 0o700)
        self.port = free_port()
        self.procs = []
        make_key(self.keys, "relay", bits)
        for u in users:
            make_key(self.keys, u, bits)

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        failed = et is not None
        for p in self.procs:
            if p.alive():
                p.kill()
        if failed:
            for p in self.procs:
                sys.stderr.write(p.dump())
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def relay_addr(self):
        return "127.0.0.1:%d" % self.port

    def start_relay(self, *args, debug=False, wait=True):
        argv = [RELAY, "--listen", self.relay_addr(), "--keys", self.keys]
        if debug:
            argv.append("--debug")
        argv += list(args)
        p = Proc("relay", argv, stdin=False)
        self.procs.append(p)
        if wait:
            wait_port(self.port)
        return p

    def start_client(self, name, *args, to=None, debug=False, env=None):
        argv = [CLIENT, name, "--relay", self.relay_addr(), "--keys", self.keys]
        if to:
            argv += ["--to", to]
        if debug:
            argv += ["--debug", "--log", os.path.join(self.dir, name + ".debug.log")]
        argv += list(args)
        p = Proc(name, argv, stdin=True, env=env, cwd=self.dir)
        self.procs.append(p)
        return p

    def wait_registered(self, relay, name, timeout=DEFAULT_TIMEOUT):
        """Wait for the relay's log line saying NAME registered."""
        return relay.wait_err(r"\bregistered\b.*\b%s\b|\b%s\b.*\bregistered\b" % (name, name),
                              timeout)


def run(main):
    """Run a test's main(); print a one-line verdict; exit 1 on failure."""
    name = os.path.basename(sys.argv[0])
    t0 = time.monotonic()
    try:
        main()
    except TestFailure as e:
        print("FAIL %s: %s" % (name, e))
        sys.exit(1)
    print("PASS %s (%.1fs)" % (name, time.monotonic() - t0))


FRAME_LINK = 0x10


class Proxy:
    """A TCP proxy on loopback that records every byte in both directions.

    Tests use it to look at what crosses the wire.  With framed=True it
    forwards whole frames (4-byte big-endian length counting type + body,
    then the type byte), which lets fault hooks act on frame boundaries:
    drop_frame() silently drops one whole frame, cut_frame() forwards the
    first bytes of one frame and then closes both sides of that connection;
    kill_connections() closes every connection (the listener stays)."""

    def __init__(self, target_port, framed=False):
        self.target_port = target_port
        self.framed = framed
        self.hooks = {"c2r": [], "r2c": []}
        self.fired = []  # (direction, action, frame type, frame length) of each hook that acted
        self.conns = 0
        self.frozen_upto = 0
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.c2r = bytearray()
        self.r2c = bytearray()
        self.stopping = False
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                r = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                c.close()
                continue
            r.settimeout(None)
            with self.lock:
                self.socks += [c, r]
                self.conns += 1
                cid = self.conns
            pump = self._pump_framed if self.framed else self._pump
            threading.Thread(target=pump, args=(c, r, self.c2r, "c2r", cid), daemon=True).start()
            threading.Thread(target=pump, args=(r, c, self.r2c, "r2c", cid), daemon=True).start()

    def drop_frame(self, direction, ftype=FRAME_LINK):
        """Silently drop the next whole frame of type ftype going `direction`."""
        with self.lock:
            self.hooks[direction].append(("drop", ftype, 0))

    def cut_frame(self, direction, keep=7, ftype=FRAME_LINK):
        """Forward only the first `keep` bytes of the next frame of type ftype
        going `direction`, then close both sockets of that connection."""
        with self.lock:
            self.hooks[direction].append(("cut", ftype, keep))

    def freeze(self):
        """Make every current connection a black hole in both directions
        (a half-open link: nothing is closed, nothing arrives); connections
        accepted later work normally."""
        with self.lock:
            self.frozen_upto = self.conns

    def kill_connections(self):
        """Close every proxied connection at once; new ones are still accepted."""
        with self.lock:
            socks, self.socks = self.socks, []
        for s in socks:
            self._hard_close(s)

    @staticmethod
    def _hard_close(s):
        """Shut a socket down both ways and close it, ignoring errors (it may be gone already)."""
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass

    def _hook_for(self, direction, ftype):
        with self.lock:
            hooks = self.hooks[direction]
            for i, h in enumerate(hooks):
                if h[1] == ftype:
                    del hooks[i]
                    return h
        return None

    @staticmethod
    def _recv_or_eof(src, dst):
        """The next bytes from src; at its end (or on an error) half-close dst and return None."""
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return None
        return data

    def _pump_framed(self, src, dst, record, direction, cid=0):
        buf = bytearray()
        while True:
            data = self._recv_or_eof(src, dst)
            if data is None:
                return
            with self.lock:
                record += data
                frozen = cid <= self.frozen_upto
            if frozen:
                continue
            buf += data
            out = bytearray()
            cut = None
            while len(buf) >= 5:
                n = int.from_bytes(buf[0:4], "big")
                if len(buf) < 4 + n:
                    break
                frame = bytes(buf[:4 + n])
                del buf[:4 + n]
                hook = self._hook_for(direction, frame[4])
                if hook is None:
                    out += frame
                    continue
                with self.lock:
                    self.fired.append((direction, hook[0], frame[4], len(frame)))
                if hook[0] == "drop":
                    continue
                out += frame[:hook[2]]
                cut = True
                break
            try:
                if out:
                    dst.sendall(out)
            except OSError:
                return
            if cut:
                for s in (src, dst):
                    self._hard_close(s)
                return

    def _pump(self, src, dst, record, direction=None, cid=0):
        while True:
            data = self._recv_or_eof(src, dst)
            if data is None:
                return
            with self.lock:
                record += data
            try:
                dst.sendall(data)
            except OSError:
                return

    def addr(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self.stopping = True
        self.lsock.close()
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass
