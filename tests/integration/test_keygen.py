#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_keygen.py: scripts/keygen.sh as a user runs it.

Makes keys in a temporary directory and checks the file modes (0600 private,
0644 public), the PEM headers, that a second run keeps the keys byte for
byte, that the printed fingerprint equals SHA-256 of the DER public key
computed here, and that bad names and bad options exit 2 with an `error: `
line and make no file.  Standard library only; run by ctest.
"""
import base64
import hashlib
import os
import stat
import subprocess
import sys
import tempfile
import unittest

SOURCE_DIR = os.environ.get(
    "SRM_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KEYGEN = os.path.join(SOURCE_DIR, "scripts", "keygen.sh")


def run(*args):
    return subprocess.run([KEYGEN, *args], capture_output=True, text=True, timeout=300)


def fingerprint_of(pub_path):
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub_path, "-outform", "DER"],
                         capture_output=True, check=True, timeout=60).stdout
    assert len(der) > 256, "DER public key too short"
    digest = hashlib.sha256(der).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def printed_fingerprints(stdout):
    out = {}
    for line in stdout.splitlines():
        name, _, fp = line.partition(" ")
        out[name] = fp
    return out


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class KeygenTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="srm-keygen-")
        self.dir = os.path.join(self.tmp.name, "keys")

    def tearDown(self):
        self.tmp.cleanup()

    def test_make_keep_and_fingerprint(self):
        r = run("-d", self.dir, "-b", "2048", "alice", "relay")
        self.assertEqual(r.returncode, 0, r.stderr)
        printed = printed_fingerprints(r.stdout)
        self.assertEqual(sorted(printed), ["alice", "relay"], r.stdout)
        before = {}
        for name in ("alice", "relay"):
            key = os.path.join(self.dir, name + ".key")
            pub = os.path.join(self.dir, name + ".pub")
            self.assertEqual(mode_of(key), 0o600, key)
            self.assertEqual(mode_of(pub), 0o644, pub)
            with open(key, "rb") as f:
                key_bytes = f.read()
            with open(pub, "rb") as f:
                pub_bytes = f.read()
            self.assertTrue(key_bytes.startswith(b"-----BEGIN PRIVATE KEY-----\n"), key_bytes[:40])
            self.assertTrue(key_bytes.rstrip().endswith(b"-----END PRIVATE KEY-----"))
            self.assertTrue(pub_bytes.startswith(b"-----BEGIN PUBLIC KEY-----\n"), pub_bytes[:40])
            self.assertTrue(pub_bytes.rstrip().endswith(b"-----END PUBLIC KEY-----"))
            # The fingerprint format: SHA256: and 43 characters of unpadded base64.
            fp = printed[name]
            self.assertRegex(fp, r"^SHA256:[A-Za-z0-9+/]{43}$")
            self.assertEqual(fp, fingerprint_of(pub))
            before[name] = (key_bytes, pub_bytes)
        # 2048 bits as asked.
        text = subprocess.run(["openssl", "pkey", "-in", os.path.join(self.dir, "alice.key"),
                               "-noout", "-text"], capture_output=True, text=True,
                              check=True).stdout
        self.assertIn("2048 bit", text)
        self.assertNotEqual(printed["alice"], printed["relay"])
        # No temporary files left behind.
        self.assertEqual(sorted(os.listdir(self.dir)),
                         ["alice.key", "alice.pub", "relay.key", "relay.pub"])

        # A second run keeps both keys, byte for byte, and says so.
        r2 = run("-d", self.dir, "-b", "2048", "relay", "alice")
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(printed_fingerprints(r2.stdout), printed)
        self.assertIn("kept", r2.stderr)
        for name, (key_bytes, pub_bytes) in before.items():
            with open(os.path.join(self.dir, name + ".key"), "rb") as f:
                self.assertEqual(f.read(), key_bytes)
            with open(os.path.join(self.dir, name + ".pub"), "rb") as f:
                self.assertEqual(f.read(), pub_bytes)
            self.assertEqual(mode_of(os.path.join(self.dir, name + ".key")), 0o600)

        # A lost NAME.pub is rebuilt from NAME.key, identical.
        os.unlink(os.path.join(self.dir, "alice.pub"))
        r3 = run("-d", self.dir, "alice")
        self.assertEqual(r3.returncode, 0, r3.stderr)
        with open(os.path.join(self.dir, "alice.pub"), "rb") as f:
            self.assertEqual(f.read(), before["alice"][1])
        self.assertEqual(mode_of(os.path.join(self.dir, "alice.pub")), 0o644)

    def test_bad_names_exit_2(self):
        bad = ["Alice", "a/b", "..", "", "a" * 33, "a.b", "bob "]
        for name in bad:
            with self.subTest(name=name):
                r = run("-d", self.dir, "-b", "2048", "--", name)
                self.assertEqual(r.returncode, 2, (name, r.stdout, r.stderr))
                lines = r.stderr.splitlines()
                self.assertTrue(lines and lines[0].startswith("error: "), r.stderr)
                self.assertEqual(r.stdout, "")
        # A bad name among good ones makes nothing at all.
        r = run("-d", self.dir, "-b", "2048", "alice", "Bob")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "alice.key")))
        # 32 characters is the longest good name.
        self.assertEqual(run("-d", self.dir, "-b", "2048", "a" * 32).returncode, 0)

    def test_bad_usage_exit_2(self):
        for args in (["-b", "1024", "alice"], ["-b", "abc", "alice"], ["-b", "99999999999", "a"],
                     ["-d"], ["-q", "alice"], []):
            with self.subTest(args=args):
                r = run(*args) if args and args[0] == "-d" else run("-d", self.dir, *args)
                self.assertEqual(r.returncode, 2, (args, r.stderr))
                self.assertTrue(r.stderr.startswith("error: "), r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "alice.key")))
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("NAME", r.stdout)

    def test_never_world_readable(self):
        # Even with a permissive umask the private key is created 0600.
        r = subprocess.run(["/bin/sh", "-c", 'umask 000; exec "$0" "$@"', KEYGEN, "-d", self.dir,
                            "-b", "2048", "carol"], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(mode_of(os.path.join(self.dir, "carol.key")), 0o600)
        self.assertEqual(mode_of(self.dir) & 0o077, 0)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
