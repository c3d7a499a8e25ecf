#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_systemd_unit.py: dist/srm-relay.service is hardened, and says why.

1. Static checks on the unit file: a dynamic user, no new privileges, no
   capabilities, a read-only system, private /tmp, exactly the address
   families AF_INET AF_INET6 AF_UNIX, a syscall filter, the relay key handed in
   with LoadCredential= and given to the relay through $CREDENTIALS_DIRECTORY
   (never a path under /etc on the command line), a restart policy that does
   not restart usage errors, and a comment above every hardening line.
2. `systemd-analyze security --offline=yes` on the file (where systemd-analyze
   exists and knows --offline, i.e. systemd >= 250; Debian 12 has 252): no
   directive may be unknown or unparsable ("ignoring" on stderr), and the
   overall exposure must be <= 2.0 ("OK" or better).
3. The unit's ExecStart= run for real, the way systemd would: the built relay
   with ${CREDENTIALS_DIRECTORY} pointing at a directory holding relay.key
   (mode 0400, as systemd makes it) and --keys at the users' .pub files; it
   must start and print the fingerprint of that key.  Needs the relay's
   --key option; skipped with a message until the relay has it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srmtest  # noqa: E402
from srmtest import check  # noqa: E402

UNIT = os.path.join(srmtest.SOURCE, "dist", "srm-relay.service")
MAX_EXPOSURE = 2.0


def parse_unit(path):
    """[(section, key, value, lineno)] plus the raw lines, in file order."""
    entries = []
    section = None
    lines = open(path, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("#") or s.startswith(";"):
            continue
        m = re.fullmatch(r"\[([A-Za-z]+)\]", s)
        if m:
            section = m.group(1)
            continue
        check("=" in s, "%s:%d: not a KEY=VALUE line: %r" % (path, i + 1, s))
        key, _, value = s.partition("=")
        entries.append((section, key.strip(), value.strip(), i))
    return entries, lines


def values(entries, key, section="Service"):
    return [v for (sec, k, v, _) in entries if sec == section and k == key]


def one(entries, key, section="Service"):
    vs = values(entries, key, section)
    check(len(vs) >= 1, "%s= missing from [%s]" % (key, section))
    # systemd: the last assignment wins for single-valued settings.
    return vs[-1]


def static_checks(entries, lines):
    yes = ("yes", "true", "1", "on")
    for key in ("DynamicUser", "NoNewPrivileges", "PrivateTmp", "PrivateDevices",
                "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups",
                "RestrictNamespaces", "RestrictSUIDSGID", "LockPersonality",
                "MemoryDenyWriteExecute", "RestrictRealtime"):
        check(one(entries, key).lower() in yes, "%s= must be yes" % key)
    check(one(entries, "ProtectSystem") == "strict", "ProtectSystem= must be strict")
    check(one(entries, "ProtectHome") in ("yes", "read-only", "tmpfs"),
          "ProtectHome= must hide or protect /home")
    check(one(entries, "CapabilityBoundingSet") == "", "CapabilityBoundingSet= must be empty")
    check(values(entries, "AmbientCapabilities") in ([], [""]), "no AmbientCapabilities=")
    for key in ("User", "Group", "SupplementaryGroups"):
        check(values(entries, key) == [], "%s= set: the unit must use DynamicUser=" % key)

    families = set(one(entries, "RestrictAddressFamilies").split())
    check(families == {"AF_INET", "AF_INET6", "AF_UNIX"},
          "RestrictAddressFamilies= must be AF_INET AF_INET6 AF_UNIX, not %s" % sorted(families))
    filters = values(entries, "SystemCallFilter")
    check(any("@system-service" in f and not f.startswith("~") for f in filters),
          "SystemCallFilter= must allow @system-service only")
    check(any(f.startswith("~") and "@privileged" in f for f in filters),
          "SystemCallFilter= must deny @privileged")
    check(one(entries, "SystemCallArchitectures") == "native",
          "SystemCallArchitectures= must be native")

    creds = values(entries, "LoadCredential")
    check("relay.key:/etc/srm/relay.key" in creds,
          "LoadCredential=relay.key:/etc/srm/relay.key missing (have %s)" % creds)
    argv = one(entries, "ExecStart").split()
    check(argv[0] == "/usr/bin/srm-relay", "ExecStart= must run /usr/bin/srm-relay")
    check("--key" in argv and argv[argv.index("--key") + 1] ==
          "${CREDENTIALS_DIRECTORY}/relay.key",
          "ExecStart= must pass --key ${CREDENTIALS_DIRECTORY}/relay.key")
    check("--keys" in argv and argv[argv.index("--keys") + 1] == "/etc/srm/keys",
          "ExecStart= must pass --keys /etc/srm/keys")
    check(not any("relay.key" in a and "CREDENTIALS_DIRECTORY" not in a for a in argv),
          "ExecStart= must not read relay.key from a file system path")

    check(one(entries, "Restart") in ("on-failure", "on-abnormal", "always"),
          "Restart= policy missing")
    check("2" in " ".join(values(entries, "RestartPreventExitStatus")).split(),
          "RestartPreventExitStatus= must hold 2 (usage errors do not fix themselves)")
    check(values(entries, "StartLimitBurst", "Unit") != [], "StartLimitBurst= missing")
    check(one(entries, "WantedBy", "Install") == "multi-user.target", "WantedBy= missing")

    # Every directive of the hardening block sits under a comment that says
    # what it prevents: at most 6 directives between a comment and the next.
    start = next((i for i, l in enumerate(lines) if "Hardening" in l and l.startswith("#")), None)
    check(start is not None, "no '# --- Hardening' block in the unit")
    run = 0
    hardened = 0
    for line in lines[start + 1:]:
        s = line.strip()
        if s.startswith("["):
            break
        if s.startswith("#"):
            run = 0
        elif s:
            run += 1
            hardened += 1
            check(run <= 6, "hardening line without a comment saying what it prevents: %r" % s)
    check(hardened >= 20, "only %d hardening lines" % hardened)
    print("static checks: %d hardening directives, each under a comment" % hardened)


def systemd_analyze():
    exe = shutil.which("systemd-analyze")
    if exe is None:
        print("SKIP systemd-analyze: not installed (apt-get install systemd); "
              "static checks only")
        return
    helptext = subprocess.run([exe, "--help"], capture_output=True, text=True,
                              timeout=60).stdout
    if "--offline" not in helptext:
        ver = subprocess.run([exe, "--version"], capture_output=True, text=True,
                             timeout=60).stdout.split("\n")[0]
        print("SKIP systemd-analyze: %s has no --offline (needs systemd >= 250)" % ver)
        return
    # Copy the unit so the review sees it under its own name only.
    with tempfile.TemporaryDirectory(prefix="srm-unit-") as tmp:
        path = os.path.join(tmp, "srm-relay.service")
        shutil.copyfile(UNIT, path)
        r = subprocess.run([exe, "security", "--offline=yes", "--no-pager", path],
                           capture_output=True, text=True, timeout=120)
    bad = [l for l in r.stderr.splitlines() if "ignoring" in l.lower() or "unknown" in l.lower()]
    check(not bad, "systemd-analyze does not understand the unit:\n" + "\n".join(bad))
    m = re.search(r"Overall exposure level for srm-relay\.service:\s*([0-9]+(?:\.[0-9]+)?)\s+(\S+)",
                  r.stdout)
    check(m is not None, "no exposure level in systemd-analyze output (exit %d):\n%s\n%s" %
          (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    score, label = float(m.group(1)), m.group(2)
    print("systemd-analyze security --offline=yes: exposure %.1f %s" % (score, label))
    check(score <= MAX_EXPOSURE, "exposure %.1f %s is above %.1f" % (score, label, MAX_EXPOSURE))
    check(label in ("OK", "SAFE", "PERFECT"), "exposure label %s is not OK or better" % label)


def exec_start_for_real(entries):
    """Run ExecStart= as systemd would, with a stand-in credentials directory."""
    if not os.path.exists(srmtest.RELAY):
        print("SKIP ExecStart run: no relay at %s" % srmtest.RELAY)
        return
    helptext = subprocess.run([srmtest.RELAY, "--help"], capture_output=True, text=True,
                              timeout=60).stdout
    # getopt_long would take --key as an abbreviation of --keys: look for the option itself.
    if not re.search(r"--key\s+FILE", helptext):
        print("SKIP ExecStart run: the relay has no --key FILE option yet "
              "(the unit needs it; see docs/SERVICE.md)")
        return
    with srmtest.Env(users=("alice", "bob")) as env:
        creds = os.path.join(env.dir, "credentials")
        os.mkdir(creds, 0o700)
        shutil.move(os.path.join(env.keys, "relay.key"), os.path.join(creds, "relay.key"))
        os.chmod(os.path.join(creds, "relay.key"), 0o400)
        pubdir = os.path.join(env.dir, "etc-srm-keys")
        os.mkdir(pubdir)
        for u in ("alice", "bob"):
            shutil.copy(os.path.join(env.keys, u + ".pub"), pubdir)
        argv = []
        for a in one(entries, "ExecStart").split():
            a = a.replace("${CREDENTIALS_DIRECTORY}", creds)
            a = {"/usr/bin/srm-relay": srmtest.RELAY, "/etc/srm/keys": pubdir,
                 "0.0.0.0:7447": env.relay_addr()}.get(a, a)
            argv.append(a)
        relay = srmtest.Proc("relay", argv, stdin=False,
                             env={"CREDENTIALS_DIRECTORY": creds})
        env.procs.append(relay)
        srmtest.wait_port(env.port)
        fp = subprocess.run(
            "openssl pkey -pubin -in '%s' -outform DER | openssl dgst -sha256 -binary | "
            "openssl base64 -A" % os.path.join(env.keys, "relay.pub"),
            shell=True, capture_output=True, text=True, check=True, timeout=60).stdout
        fp = "SHA256:" + fp.strip().rstrip("=")
        relay.wait_err(r"listening on .*key " + re.escape(fp))
        relay.wait_err(r"\b2 user keys\b")
        relay.signal(15)
        check(relay.wait_exit() == 0, "relay did not stop cleanly on SIGTERM")
        print("ExecStart= ran: relay key from the credential, fingerprint %s" % fp)


def main():
    check(os.path.exists(UNIT), "missing %s" % UNIT)
    entries, lines = parse_unit(UNIT)
    static_checks(entries, lines)
    systemd_analyze()
    exec_start_for_real(entries)


if __name__ == "__main__":
    srmtest.run(main)
