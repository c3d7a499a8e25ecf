#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Five users, each sending three messages to every other: every message
arrives once and, per sender, in order."""
import srmtest
from srmtest import Env, check

USERS = ["alice", "bob", "carol", "dave", "erin"]


def main():
    with Env(USERS) as env:
        relay = env.start_relay()
        clients = {}
        for u in USERS:
            clients[u] = env.start_client(u)
            env.wait_registered(relay, u)
        for k in range(3):
            for u in USERS:
                for v in USERS:
                    if u != v:
                        clients[u].send("/msg %s %s to %s #%d" % (v, u, v, k))
        for v in USERS:
            expect = []
            for k in range(3):
                for u in USERS:
                    if u != v:
                        expect.append("%s: %s to %s #%d" % (u, u, v, k))
            clients[v].wait_out_count(len(expect))
        for u in USERS:
            clients[u].close_stdin()
        for u in USERS:
            check(clients[u].wait_exit() == 0, "%s exit status" % u)
        for v in USERS:
            got = clients[v].out
            for u in USERS:
                if u == v:
                    continue
                mine = [l for l in got if l.startswith(u + ": ")]
                want = ["%s: %s to %s #%d" % (u, u, v, k) for k in range(3)]
                check(mine == want, "%s got from %s %r, want %r" % (v, u, mine, want))
            check(len(got) == 12, "%s got %d lines: %r" % (v, len(got), got))


srmtest.run(main)
