# SPDX-License-Identifier: MIT
"""natstest: a real nats-server and relay cluster nodes on loopback, for the
cluster tests (tests/integration/test_cluster_*.py; docs/CLUSTER.md).

Builds on srmtest: every wait has a deadline and waits for a condition.
"""
import os
import shutil
import subprocess

from srmtest import (BUILD, DEFAULT_TIMEOUT, RELAY, CLIENT, Env, Proc, TestFailure,
                     check, free_port, wait_port, wait_until)

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
NATS_SERVER_ARGS = []  # e.g. ["-D"] to see the server's side while debugging a test


def have_nats():
    return os.access(NATS_SERVER, os.X_OK)


class Nats:
    """One nats-server on 127.0.0.1 at a fixed free port (so it can be restarted there)."""

    def __init__(self, workdir, tls=None):
        self.dir = workdir
        self.port = free_port()
        self.tls = tls  # (cert, key) for a TLS-only server, or None
        self.proc = None
        self.starts = 0
        self.auth = None  # (user, password) the server requires, or None

    def url(self):
        scheme = "tls" if self.tls else "nats"
        cred = "%s:%s@" % self.auth if self.auth else ""
        return "%s://%s127.0.0.1:%d" % (scheme, cred, self.port)

    def start(self):
        conf = os.path.join(self.dir, "nats.conf")
        with open(conf, "w") as f:
            f.write("listen: 127.0.0.1:%d\n" % self.port)
            if self.tls:
                f.write('tls {\n  cert_file: "%s"\n  key_file: "%s"\n  timeout: 2\n}\n' %
                        self.tls)
            if self.auth:
                f.write('authorization {\n  user: "%s"\n  password: "%s"\n}\n' % self.auth)
        self.starts += 1
        self.proc = Proc("nats-server#%d" % self.starts, [NATS_SERVER, "-c", conf] + NATS_SERVER_ARGS,
                         stdin=False)
        wait_port(self.port)
        return self.proc

    def stop(self):
        if self.proc is not None and self.proc.alive():
            self.proc.kill()
        self.proc = None


def make_tls(d):
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    srv_key, srv_csr = os.path.join(d, "server.key"), os.path.join(d, "server.csr")
    srv_crt, ext = os.path.join(d, "server.pem"), os.path.join(d, "ext.cnf")

    def run(*argv):
        subprocess.run(["openssl"] + list(argv), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=srm test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", srv_key, "-out", srv_csr, "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", srv_csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-out", srv_crt, "-days", "2", "-extfile", ext)
    return ca_crt, srv_crt, srv_key


class ClusterEnv(Env):
    """An Env with a nats-server and several relay nodes, each on its own port."""

    def __init__(self, users, nodes=3, tls=False):
        Env.__init__(self, users)
        self.ca = None
        server_tls = None
        if tls:
            self.ca, crt, key = make_tls(self.dir)
            server_tls = (crt, key)
        self.nats = Nats(self.dir, server_tls)
        self.node_names = ["n%d" % i for i in range(nodes)]
        self.node_ports = [free_port() for _ in range(nodes)]
        self.nodes = [None] * nodes

    def __exit__(self, et, ev, tb):
        r = Env.__exit__(self, et, ev, tb)
        self.nats.stop()
        return r

    def start_nats(self):
        p = self.nats.start()
        self.procs.append(p)
        return p

    def node_addr(self, i):
        return "127.0.0.1:%d" % self.node_ports[i]

    def start_node(self, i, *args, debug=False, wait=True):
        """Node i; with wait, until its port accepts (not for a node expected to exit:
        it may be gone before the port is ever seen open)."""
        argv = [RELAY, "--listen", self.node_addr(i), "--keys", self.keys,
                "--cluster", self.nats.url(), "--node", self.node_names[i]]
        if self.ca:
            argv += ["--cluster-ca", self.ca]
        if debug:
            argv.append("--debug")
        argv += list(args)
        p = Proc("node-%s" % self.node_names[i], argv, stdin=False)
        self.procs.append(p)
        self.nodes[i] = p
        if wait:
            wait_port(self.node_ports[i])
        return p

    def wait_joined(self, i, n_others, timeout=DEFAULT_TIMEOUT):
        """Wait until node i has heard from n_others other nodes."""
        def joined():
            with self.nodes[i].cond:
                return len({l.split("node ")[-1].split()[0] for l in self.nodes[i].err
                            if " joined" in l}) >= n_others
        wait_until(joined, timeout, "node %s to see %d other nodes" % (self.node_names[i],
                                                                       n_others))

    def start_client_at(self, name, nodes, *args, to=None, debug=False):
        """A client given the nodes (indexes) to try, in order."""
        argv = [CLIENT, name, "--relay", ",".join(self.node_addr(i) for i in nodes),
                "--keys", self.keys]
        if to:
            argv += ["--to", to]
        if debug:
            argv += ["--debug", "--log", os.path.join(self.dir, name + ".debug.log")]
        argv += list(args)
        p = Proc(name, argv, stdin=True, cwd=self.dir)
        self.procs.append(p)
        return p

    def registered_on(self, i, name, timeout=DEFAULT_TIMEOUT):
        return self.wait_registered(self.nodes[i], name, timeout)


def knows_online(proc, names):
    """True once proc's status lines (WELCOME "online: ..." or "NAME is online") cover names."""
    seen = set()
    with proc.cond:
        for l in proc.err:
            if "online: " in l:
                seen.update(n.strip() for n in l.split("online: ", 1)[1].split(","))
            elif l.endswith(" is online"):
                seen.add(l.split()[-3])
            elif l.endswith(" went offline"):
                seen.discard(l.split()[-3])
    return set(names) <= seen


def wait_knows_online(proc, names, timeout=DEFAULT_TIMEOUT):
    """Wait until proc was told that every one of names is online.

    Clients that start a handshake before a PRESENCE(online) reaches them
    restart it when it comes (see docs/CLUSTER.md, "Presence"), so tests
    that check exact output wait for presence first."""
    wait_until(lambda: knows_online(proc, names), timeout,
               "%s to see %s online" % (proc.name, ", ".join(sorted(names))))


def nats_publish(port, messages, timeout=10):
    """Publish raw messages [(subject, payload bytes, reply or None)] on the NATS
    server at 127.0.0.1:port with the plain text protocol, as any NATS client
    could; returns once the server has answered a PING after them."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        f = s.makefile("rb")
        info = f.readline()
        if not info.startswith(b"INFO "):
            raise TestFailure("nats-server said %r instead of INFO" % info)
        out = [b'CONNECT {"verbose":false,"pedantic":false,"name":"natstest"}\r\n']
        for subj, payload, reply in messages:
            head = "PUB %s %s%d\r\n" % (subj, reply + " " if reply else "", len(payload))
            out.append(head.encode() + payload + b"\r\n")
        out.append(b"PING\r\n")
        s.sendall(b"".join(out))
        while True:
            line = f.readline()
            if not line:
                raise TestFailure("nats-server closed the connection: a test message was "
                                  "refused")
            if line.startswith(b"-ERR"):
                raise TestFailure("nats-server refused a test message: %r" % line)
            if line.startswith(b"PONG"):
                return
    finally:
        s.close()
