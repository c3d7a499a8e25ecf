#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The interactive client in a real terminal (tmux): a message that arrives
while the user is half-way through a line appears above the prompt, the
half-typed line stays intact and is then sent; escape sequences from a peer
are shown neutralised."""
import os
import shutil
import subprocess

import srmtest
from srmtest import Env, check, wait_until


def main():
    if shutil.which("tmux") is None:
        print("SKIP: tmux is not installed (scripts/test.sh installs it)")
        return
    with Env(("alice", "bob")) as env:
        sock = "srmtest-%d" % os.getpid()
        tmux = ["tmux", "-L", sock, "-f", "/dev/null"]

        def capture():
            return subprocess.run(tmux + ["capture-pane", "-p", "-t", "alice"],
                                  capture_output=True, text=True).stdout

        relay = env.start_relay()
        bob = env.start_client("bob", to="alice")
        env.wait_registered(relay, "bob")
        cmd = "%s alice --relay %s --keys %s --to bob" % (srmtest.CLIENT, env.relay_addr(),
                                                          env.keys)
        try:
            subprocess.run(tmux + ["new-session", "-d", "-s", "alice", "-x", "120", "-y", "30",
                                   "env", "TERM=xterm-256color", "ASAN_OPTIONS=detect_leaks=0",
                                   "sh", "-c", cmd + "; echo CLIENT-EXIT=$?; read -r _"],
                           check=True)
            env.wait_registered(relay, "alice")
            wait_until(lambda: "[bob]" in capture(), what="the prompt naming bob")
            subprocess.run(tmux + ["send-keys", "-t", "alice", "-l", "half typed"], check=True)
            wait_until(lambda: "half typed" in capture(), what="typed text on screen")
            bob.send("incoming while typing")
            wait_until(lambda: "bob: incoming while typing" in capture(),
                       what="incoming message on alice's screen")
            lines = [l for l in capture().splitlines() if l.strip()]
            msg_idx = max(i for i, l in enumerate(lines) if "bob: incoming while typing" in l)
            check("half typed" in lines[-1] and "[bob]" in lines[-1],
                  "the prompt line with the half-typed text is intact and last: %r" % lines)
            check(msg_idx < len(lines) - 1, "the message is above the prompt: %r" % lines)
            check(sum("half typed" in l for l in lines) == 1,
                  "the half line is drawn once, not duplicated: %r" % lines)
            subprocess.run(tmux + ["send-keys", "-t", "alice", "-l", " and finished"], check=True)
            subprocess.run(tmux + ["send-keys", "-t", "alice", "Enter"], check=True)
            bob.wait_out("alice: half typed and finished")
            # A hostile peer tries to clear the screen and set the title.
            bob.send("\x1b[2J\x1b]0;pwned\x07evil")
            wait_until(lambda: "evil" in capture(), what="escape message shown")
            screen = capture()
            check("bob: ?[2J?]0;pwned?evil" in screen,
                  "control characters shown replaced: %r" % screen)
            subprocess.run(tmux + ["send-keys", "-t", "alice", "-l", "/quit"], check=True)
            subprocess.run(tmux + ["send-keys", "-t", "alice", "Enter"], check=True)
            wait_until(lambda: "CLIENT-EXIT=0" in capture(), what="client exit 0 after /quit")
        finally:
            subprocess.run(tmux + ["kill-server"], capture_output=True)
        bob.close_stdin()
        check(bob.wait_exit() == 0, "bob exit")


srmtest.run(main)
