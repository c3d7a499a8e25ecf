#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_install.py: what `cmake --install` ships works as a user would use it.

Installs the build tree into a temporary DESTDIR with `--prefix /usr`, then
uses only the installed files:
- srm-relay, srm-client and srm-keygen are in usr/bin; the systemd unit is in
  usr/lib/systemd/system and its ExecStart= names /usr/bin/srm-relay;
- the man pages (when CMake found scdoc) render with `man -l` without groff
  warnings, have the usual sections, and name every option the program's
  --help lists;
- --help and --version of every program exit 0; --version names srm's
  version and the OpenSSL and libevent versions;
- srm-keygen -d DIR makes keys with the right modes and prints fingerprints
  equal to SHA-256 of the DER public keys; without -d it uses ./keys;
- the installed relay prints that fingerprint at start-up, two installed
  clients in batch mode exchange a message through it, and
  `srm-client --fingerprint` shows the user's own and each peer's fingerprint;
- a private key others can read is refused with the exact chmod to run; a key
  file that is missing, unreadable, not RSA or too short gives one error line.
"""
import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srmtest  # noqa: E402
from srmtest import check  # noqa: E402

BUILD = os.path.abspath(srmtest.BUILD)
TIMEOUT = srmtest.DEFAULT_TIMEOUT


def sh(argv, **kw):
    kw.setdefault("timeout", 300)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def cache_value(name):
    with open(os.path.join(BUILD, "CMakeCache.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    return None


def fingerprint_of(pub):
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER"],
                         capture_output=True, check=True, timeout=60).stdout
    check(len(der) > 256, "DER public key of %s too short" % pub)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def install(dest):
    manifest = os.path.join(BUILD, "cmake_install.cmake")
    check(os.path.exists(manifest), "no %s: configure and build first" % manifest)
    env = dict(os.environ, DESTDIR=dest)
    r = sh(["cmake", "--install", BUILD, "--prefix", "/usr"], env=env)
    hint = ""
    if "RENAME" in r.stderr:
        hint = ("\nhint: a rename at install time must use the prefix given to cmake --install, "
                "e.g. install(PROGRAMS $<TARGET_FILE:relay> DESTINATION ${CMAKE_INSTALL_BINDIR} "
                "RENAME srm-relay)")
    check(r.returncode == 0, "cmake --install --prefix /usr failed (%d):\n%s%s%s" %
          (r.returncode, r.stdout[-3000:], r.stderr[-3000:], hint))
    return r.stdout


def check_layout(usr):
    for prog in ("srm-relay", "srm-client", "srm-keygen"):
        p = os.path.join(usr, "bin", prog)
        check(os.path.isfile(p), "not installed: /usr/bin/%s (is cmake/SrmInstall.cmake "
              "included from CMakeLists.txt?)" % prog)
        check(os.access(p, os.X_OK), "/usr/bin/%s is not executable" % prog)
    for plain in ("relay", "client", "keygen.sh"):
        check(not os.path.exists(os.path.join(usr, "bin", plain)),
              "/usr/bin/%s installed: names on PATH must start with srm-" % plain)
    unit = os.path.join(usr, "lib", "systemd", "system", "srm-relay.service")
    check(os.path.isfile(unit), "not installed: /usr/lib/systemd/system/srm-relay.service")
    text = open(unit, encoding="utf-8").read()
    check(re.search(r"(?m)^ExecStart=/usr/bin/srm-relay ", text) is not None,
          "the installed unit does not run /usr/bin/srm-relay")
    check(stat.S_IMODE(os.stat(unit).st_mode) == 0o644, "the unit is not mode 0644")


def check_help_version(usr, version):
    helps = {}
    for prog in ("srm-relay", "srm-client", "srm-keygen"):
        exe = os.path.join(usr, "bin", prog)
        r = sh([exe, "--help"])
        check(r.returncode == 0, "%s --help exited %d: %s" % (prog, r.returncode, r.stderr))
        check("-" in r.stdout and len(r.stdout.splitlines()) >= 3, "%s --help is empty" % prog)
        helps[prog] = r.stdout
        r = sh([exe, "--version"])
        check(r.returncode == 0, "%s --version exited %d: %s" % (prog, r.returncode, r.stderr))
        check(version in r.stdout, "%s --version does not name srm %s: %r" %
              (prog, version, r.stdout))
        check("OpenSSL" in r.stdout or "openssl" in r.stdout.lower(),
              "%s --version does not name OpenSSL: %r" % (prog, r.stdout))
        if prog != "srm-keygen":
            check("libevent" in r.stdout, "%s --version does not name libevent: %r" %
                  (prog, r.stdout))
        print("%s --version: %s" % (prog, r.stdout.strip()))
    return helps


def check_man(usr, helps):
    scdoc = cache_value("SRM_SCDOC")
    pages = {"srm-relay": ("man8", "srm-relay.8"), "srm-client": ("man1", "srm-client.1"),
             "srm-keygen": ("man1", "srm-keygen.1")}
    if not scdoc or scdoc.endswith("NOTFOUND"):
        print("SKIP man pages: CMake did not find scdoc (apt-get install scdoc)")
        return
    man = shutil.which("man")
    check(man is not None, "no man program: apt-get install man-db")
    for prog, (sect, page) in pages.items():
        path = os.path.join(usr, "share", "man", sect, page)
        check(os.path.isfile(path), "not installed: /usr/share/man/%s/%s" % (sect, page))
        env = dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
        r = sh([man, "--warnings", "-l", path], env=env)
        check(r.returncode == 0, "man -l %s failed (%d): %s" % (page, r.returncode, r.stderr))
        check(r.stderr.strip() == "", "man -l %s warns:\n%s" % (page, r.stderr))
        # Without a terminal man prints plain text, but strip overstrikes to be sure.
        text = re.sub(r".\x08", "", r.stdout)
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES",
                        "EXIT STATUS", "SECURITY MODEL", "EXAMPLES", "SEE ALSO"):
            check(re.search(r"(?m)^%s$" % section, text) is not None,
                  "man page %s has no %s section" % (page, section))
        check(prog in text.split("\n", 3)[0], "man page %s header does not name %s" %
              (page, prog))
        # Every option --help lists is documented.
        opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+|-[a-z])\b", helps[prog]))
        missing = sorted(o for o in opts if not re.search(r"(?<![\w-])%s\b" % re.escape(o), text))
        check(not missing, "man page %s does not document %s" % (page, ", ".join(missing)))
        print("man -l %s: %d lines, documents %d options" % (page, len(text.splitlines()),
                                                             len(opts)))


def check_keygen(usr, tmp):
    keygen = os.path.join(usr, "bin", "srm-keygen")
    keys = os.path.join(tmp, "keys")
    r = sh([keygen, "-d", keys, "-b", "2048", "relay", "alice", "bob"])
    check(r.returncode == 0, "srm-keygen -d failed (%d): %s" % (r.returncode, r.stderr))
    printed = dict(l.split(" ", 1) for l in r.stdout.splitlines())
    check(sorted(printed) == ["alice", "bob", "relay"], "srm-keygen printed %r" % r.stdout)
    fps = {}
    for name in ("relay", "alice", "bob"):
        key, pub = os.path.join(keys, name + ".key"), os.path.join(keys, name + ".pub")
        check(stat.S_IMODE(os.stat(key).st_mode) == 0o600, "%s.key is not mode 0600" % name)
        check(stat.S_IMODE(os.stat(pub).st_mode) == 0o644, "%s.pub is not mode 0644" % name)
        fps[name] = fingerprint_of(pub)
        check(printed[name] == fps[name], "srm-keygen printed %s for %s, the key has %s" %
              (printed[name], name, fps[name]))
    check("keygen.sh" not in r.stderr, "installed srm-keygen calls itself keygen.sh: %r" %
          r.stderr)
    # Without -d: ./keys of the working directory (never /usr/keys beside the program).
    cwd = os.path.join(tmp, "cwd")
    os.makedirs(os.path.join(cwd, "keys"))
    shutil.copy(os.path.join(keys, "bob.pub"), os.path.join(cwd, "keys"))
    r = sh([keygen, "bob"], cwd=cwd)
    check(r.returncode == 0 and r.stdout.strip() == "bob " + fps["bob"],
          "srm-keygen without -d did not use ./keys (%d): %r %r" %
          (r.returncode, r.stdout, r.stderr))
    check(sorted(os.listdir(os.path.join(cwd, "keys"))) == ["bob.pub"],
          "srm-keygen made files for a peer's .pub")
    check(not os.path.exists(os.path.join(tmp, "dest", "usr", "keys")),
          "srm-keygen wrote keys next to the installed program")
    print("srm-keygen: 3 keys, fingerprints match; default directory ./keys")
    return keys, fps


def check_exchange(usr, keys, fps):
    relay_exe = os.path.join(usr, "bin", "srm-relay")
    client_exe = os.path.join(usr, "bin", "srm-client")
    port = srmtest.free_port()
    addr = "127.0.0.1:%d" % port
    procs = []
    try:
        relay = srmtest.Proc("srm-relay", [relay_exe, "--listen", addr, "--keys", keys],
                             stdin=False)
        procs.append(relay)
        srmtest.wait_port(port)
        relay.wait_err(r"listening on .*key " + re.escape(fps["relay"]) + r"\b")
        bob = srmtest.Proc("bob", [client_exe, "bob", "--relay", addr, "--keys", keys,
                                   "--wait", "20"], cwd=keys)
        procs.append(bob)
        relay.wait_err(r"\bregistered as bob\b|\bbob\b.*\bregistered\b")
        alice = srmtest.Proc("alice", [client_exe, "alice", "--relay", addr, "--keys", keys,
                                       "--to", "bob", "--wait", "20"], cwd=keys)
        procs.append(alice)
        alice.send("hello bob, from the installed client")
        alice.close_stdin()
        bob.wait_out("alice: hello bob, from the installed client")
        rc = alice.wait_exit()
        check(rc == 0, "installed alice exited %d (message not acknowledged?)\n%s" %
              (rc, alice.dump()))
        bob.close_stdin()
        check(bob.wait_exit() == 0, "installed bob did not exit 0\n" + bob.dump())
        relay.signal(15)
        check(relay.wait_exit() == 0, "installed relay did not stop cleanly on SIGTERM")
    except Exception:
        for p in procs:
            sys.stderr.write(p.dump())
        raise
    finally:
        for p in procs:
            p.kill()
    print("installed relay + two clients: message delivered and acknowledged")

    r = sh([client_exe, "alice", "--keys", keys, "--fingerprint"])
    check(r.returncode == 0, "srm-client --fingerprint exited %d: %s" % (r.returncode, r.stderr))
    shown = dict(l.split(": ", 1) for l in r.stdout.splitlines() if ": " in l)
    for name in ("alice", "bob", "relay"):
        check(shown.get(name) == fps[name], "--fingerprint shows %r for %s, want %s" %
              (shown.get(name), name, fps[name]))
    print("srm-client --fingerprint: own, peer's and relay's match srm-keygen")


def one_error_line(r, what, must=()):
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode == 1, "%s: exit %d, want 1; stderr %r" % (what, r.returncode, r.stderr))
    errs = [l for l in lines if l.startswith("error: ")]
    check(len(errs) == 1, "%s: want one 'error: ' line, got %r" % (what, lines))
    for m in must:
        check(m in errs[0], "%s: error line lacks %r: %r" % (what, m, errs[0]))
    return errs[0]


def check_key_errors(usr, keys, tmp):
    relay_exe = os.path.join(usr, "bin", "srm-relay")
    client_exe = os.path.join(usr, "bin", "srm-client")
    bad = os.path.join(tmp, "bad")
    os.mkdir(bad, 0o700)
    rkey = os.path.join(bad, "relay.key")
    shutil.copy(os.path.join(keys, "relay.key"), rkey)
    shutil.copy(os.path.join(keys, "alice.pub"), bad)

    def relay():
        return sh([relay_exe, "--listen", "127.0.0.1:%d" % srmtest.free_port(),
                   "--keys", bad], timeout=TIMEOUT)

    # Loose permissions: refused, with the exact command to fix it.
    os.chmod(rkey, 0o640)
    line = one_error_line(relay(), "relay.key mode 0640", ("chmod 600", rkey))
    print("loose relay.key: %s" % line)
    akey = os.path.join(bad, "alice.key")
    shutil.copy(os.path.join(keys, "alice.key"), akey)
    os.chmod(akey, 0o644)
    r = sh([client_exe, "alice", "--keys", bad, "--fingerprint"], timeout=TIMEOUT)
    line = one_error_line(r, "alice.key mode 0644", ("chmod 600", akey))
    print("loose alice.key: %s" % line)

    # Missing.
    os.unlink(rkey)
    line = one_error_line(relay(), "relay.key missing", (rkey,))
    print("missing: %s" % line)
    if "scripts/keygen.sh" in line:
        print("NOTE the installed relay points at scripts/keygen.sh; installed it is srm-keygen")
    # Unreadable: a directory where the key should be (root reads any mode).
    os.mkdir(rkey, 0o700)
    line = one_error_line(relay(), "relay.key a directory", (rkey,))
    print("unreadable: %s" % line)
    os.rmdir(rkey)
    # Not RSA, too short, not a key at all.
    for what, gen in (("not RSA", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                      ("too short", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"])):
        subprocess.run(["openssl", "genpkey", *gen, "-out", rkey], check=True,
                       capture_output=True, timeout=120)
        os.chmod(rkey, 0o600)
        line = one_error_line(relay(), "relay.key " + what, (rkey,))
        check("RSA" in line or "2048" in line, "%s: the line does not say RSA/2048: %r" %
              (what, line))
        print("%s: %s" % (what, line))
        os.unlink(rkey)
    with open(os.open(rkey, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("not a key\n")
    line = one_error_line(relay(), "relay.key not PEM", (rkey,))
    print("not PEM: %s" % line)


def main():
    version = cache_value("CMAKE_PROJECT_VERSION")
    check(version, "no CMAKE_PROJECT_VERSION in %s/CMakeCache.txt" % BUILD)
    tmp = tempfile.mkdtemp(prefix="srm-install-")
    try:
        dest = os.path.join(tmp, "dest")
        install(dest)
        usr = os.path.join(dest, "usr")
        check_layout(usr)
        helps = check_help_version(usr, version)
        check_man(usr, helps)
        keys, fps = check_keygen(usr, tmp)
        check_exchange(usr, keys, fps)
        check_key_errors(usr, keys, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    srmtest.run(main)
