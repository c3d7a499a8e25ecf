#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""No derived key and no message text in any log (issue 5).

The hostile relay in honest mode (`--attack none`) registers alice and bob
with the library's own srm_reg code and, with `--keylog F`, writes each
client's link keys (key_c2r, key_r2c, iv_c2r, iv_r2c, link_id) to F after
checking them against both CONFIRM records of that registration.  alice and
bob (batch clients, --debug to files) exchange messages both ways.  Then
every client debug log, every stderr and the hostile relay's stderr is
searched for each key, IV and link ID as raw bytes, lowercase hex, uppercase
hex and base64 (any alignment), for 8-byte windows of the keys in the same
forms, and for the message texts.  The keylog must hold one line per client,
so the search cannot pass with nothing to look for.
"""
import base64
import os
import sys

import srmtest
from srmtest import CLIENT, Env, Proc, check, wait_port

HOSTILE = os.path.join(srmtest.BUILD, "hostile_relay")
TEXTS_A = ["KEYLOG-TEXT-FROM-ALICE-%d-5d3a" % i for i in range(3)]
TEXTS_B = ["KEYLOG-TEXT-FROM-BOB-%d-c81e" % i for i in range(3)]
FIELDS = ("key_c2r", "key_r2c", "iv_c2r", "iv_r2c", "link_id")
FIELD_LEN = {"key_c2r": 32, "key_r2c": 32, "iv_c2r": 4, "iv_r2c": 4, "link_id": 16}


class RawProc(Proc):
    """A Proc that also keeps every byte of stdout and stderr undecoded, so
    that raw key bytes cannot hide behind the UTF-8 replacement character."""

    def __init__(self, *args, **kwargs):
        self.raw = {}
        super().__init__(*args, **kwargs)

    def _reader(self, stream, lines):
        raw = self.raw.setdefault("out" if lines is self.out else "err", bytearray())
        for chunk in iter(stream.readline, b""):
            raw += chunk
            line = chunk.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()


def start(env, name, argv, stdin=True):
    p = RawProc(name, argv, stdin=stdin, cwd=env.dir)
    env.procs.append(p)
    return p


def start_client(env, name, to):
    return start(env, name, [CLIENT, name, "--relay", env.relay_addr(), "--keys", env.keys,
                             "--to", to, "--debug", "--log",
                             os.path.join(env.dir, name + ".debug.log")])


def b64_forms(v):
    """v in base64 at each of the three byte alignments, padded and unpadded,
    standard and URL-safe: only the characters that depend on v alone."""
    forms = set()
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + v)
        total = shift + len(v)
        first = (shift * 4 + 2) // 3  # characters that mix in the prefix
        last = (total // 3) * 4 if total % 3 else len(enc)  # drop the padded tail
        core = enc[first:last]
        if len(core) >= 6:
            forms.add(core)
            forms.add(core.replace(b"+", b"-").replace(b"/", b"_"))
    forms.add(base64.b64encode(v))
    forms.add(base64.b64encode(v).rstrip(b"="))
    return forms


def encodings(v):
    return {v, v.hex().encode(), v.hex().upper().encode()} | b64_forms(v)


def needles_for(name, field, v):
    out = [("%s %s %s" % (name, field, form), e) for form, e in
           (("raw", v), ("hex", v.hex().encode()), ("HEX", v.hex().upper().encode()))]
    out += [("%s %s base64" % (name, field), e) for e in b64_forms(v)]
    if len(v) > 8:
        # A partial dump (a key's first bytes, or any 8 of them) counts too.
        for i in range(0, len(v) - 8 + 1, 4):
            w = v[i:i + 8]
            out += [("%s %s[%d:%d]" % (name, field, i, i + 8), e) for e in
                    (w, w.hex().encode(), w.hex().upper().encode())]
    return out


def read_keylog(path):
    check(os.path.exists(path), "the hostile relay wrote the keylog")
    lines = open(path).read().splitlines()
    check(len(lines) == 2, "the keylog holds two lines (alice, bob): %r" % len(lines))
    keys = {}
    for line in lines:
        parts = line.split(" ")
        check(len(parts) == 6, "keylog line has NAME and five fields: %r" % line[:40])
        name, vals = parts[0], parts[1:]
        for f, h in zip(FIELDS, vals):
            check(len(h) == 2 * FIELD_LEN[f] and h == h.lower(),
                  "%s %s is %d lowercase hex digits" % (name, f, 2 * FIELD_LEN[f]))
        keys[name] = {f: bytes.fromhex(h) for f, h in zip(FIELDS, vals)}
    check(sorted(keys) == ["alice", "bob"], "keylog names alice and bob: %r" % sorted(keys))
    for name, k in keys.items():
        check(len(set(k[f] for f in FIELDS)) == len(FIELDS), "%s: five distinct values" % name)
    check(keys["alice"]["key_c2r"] != keys["bob"]["key_c2r"], "each link has its own keys")
    return keys


def main():
    with Env(("alice", "bob")) as env:
        keylog = os.path.join(env.dir, "keylog.txt")
        relay = start(env, "hostile_relay",
                      [HOSTILE, "--listen", env.relay_addr(), "--keys", env.keys, "--attack",
                       "none", "--keylog", keylog, "--debug"], stdin=False)
        wait_port(env.port)
        alice = start_client(env, "alice", "bob")
        relay.wait_err(r"hostile: registered alice")
        bob = start_client(env, "bob", "alice")
        relay.wait_err(r"hostile: registered bob")
        for n in ("alice", "bob"):
            relay.wait_err(r"hostile: keylog: wrote %s's link keys" % n)
        alice.wait_err(r"bob is online")
        for a, b in zip(TEXTS_A, TEXTS_B):
            alice.send(a)
            bob.send(b)
        for a, b in zip(TEXTS_A, TEXTS_B):
            bob.wait_out("alice: " + a, timeout=60)
            alice.wait_out("bob: " + b, timeout=60)
        alice.close_stdin()
        bob.close_stdin()
        check(alice.wait_exit(90) == 0, "alice exits 0 (all acknowledged)\n" + alice.dump())
        check(bob.wait_exit(90) == 0, "bob exits 0 (all acknowledged)\n" + bob.dump())
        relay.kill()
        relay.wait_exit()
        keys = read_keylog(keylog)

        logs = {"hostile relay stderr": bytes(relay.raw.get("err", b"")),
                "hostile relay stdout": bytes(relay.raw.get("out", b""))}
        for p in (alice, bob):
            logs[p.name + " stderr"] = bytes(p.raw.get("err", b""))
            path = os.path.join(env.dir, p.name + ".debug.log")
            check(os.path.exists(path), "%s wrote its debug log" % p.name)
            logs[p.name + " debug log"] = open(path, "rb").read()
            check(len(logs[p.name + " debug log"]) > 200, "%s's debug log is not empty" % p.name)
        check(b"DELIVER" in logs["hostile relay stderr"], "the hostile relay logged its routing")
        # Client stdout shows the messages (that is its job), but no key either.
        stdouts = {p.name + " stdout": bytes(p.raw.get("out", b"")) for p in (alice, bob)}
        check(all(b"KEYLOG-TEXT" in s for s in stdouts.values()), "stdout shows the messages")

        needles = []
        for name, k in keys.items():
            for f in FIELDS:
                needles += needles_for(name, f, k[f])
        # The search itself finds every encoding (it cannot be silently blind).
        probe = keys["alice"]["key_r2c"]
        for e in encodings(probe):
            check(any(nd in b"log: " + e + b"\n" for _, nd in needles), "search finds %r" % e)
        texts = [t.encode() for t in TEXTS_A + TEXTS_B] + [b"KEYLOG-TEXT"]
        hits = []
        for where, blob in list(logs.items()) + list(stdouts.items()):
            hits += ["%s: %s" % (where, what) for what, nd in needles if nd in blob]
            if where in logs:
                hits += ["%s: message text %r" % (where, t) for t in texts if t in blob]
        check(not hits, "secrets in logs:\n  " + "\n  ".join(hits[:20]))
        sizes = ", ".join("%s %d" % (w, len(b)) for w, b in logs.items())
        sys.stderr.write("searched for %d encodings of %d keys/IVs/IDs in %s\n" %
                         (len(needles), 2 * len(FIELDS), sizes))


srmtest.run(main)
