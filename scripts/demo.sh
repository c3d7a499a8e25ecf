#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh: install what is missing, build, make keys for relay, alice and bob
# (kept if present), start a relay and open alice and bob side by side in tmux.
#   SRM_DEMO_PORT   relay port (default 7447)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/deps.sh

case "${1:-}" in
-h | --help)
    sed -n '3,5p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
"") ;;
*)
    echo "error: demo.sh takes no arguments (try --help)" >&2
    exit 2
    ;;
esac

port=${SRM_DEMO_PORT:-7447}
srm_install_deps "${SRM_BUILD_PKGS[@]}"

echo "srm: building (build/)..." >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSRM_SANITIZE=OFF -DSRM_FUZZ=OFF \
    -DSRM_WERROR=OFF >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target relay client >/dev/null

scripts/keygen.sh -d keys relay alice bob

if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port is already in use (another relay?): stop it or set SRM_DEMO_PORT" >&2
    exit 1
fi

relay_cmd="'$root/build/relay' --listen 127.0.0.1:$port --keys '$root/keys'"
client_cmd() {
    echo "cd '$root' && '$root/build/client' $1 --relay 127.0.0.1:$port --keys '$root/keys' --to $2;" \
        "echo; echo '$1 has quit: press Enter to close this pane'; read -r _"
}

if ! command -v tmux >/dev/null 2>&1 || [ ! -t 0 ] || [ ! -t 1 ]; then
    cat >&2 <<MSG
warning: no tmux or no terminal here, so the demo cannot open the two panes itself.
Run these three commands in three terminals instead:
  $root/build/relay --listen 127.0.0.1:$port --keys $root/keys
  $root/build/client alice --relay 127.0.0.1:$port --keys $root/keys --to bob
  $root/build/client bob --relay 127.0.0.1:$port --keys $root/keys --to alice
MSG
    exit 1
fi

session="srm-demo-$$"
tmux new-session -d -s "$session" -x "$(tput cols 2>/dev/null || echo 160)" \
    -y "$(tput lines 2>/dev/null || echo 40)" "$relay_cmd; echo 'relay stopped'; read -r _"
tmux split-window -t "$session" -v -b -p 80 "$(client_cmd alice bob)"
tmux split-window -t "$session" -h "$(client_cmd bob alice)"
tmux select-pane -t "$session" -L
tmux set-option -t "$session" mouse on >/dev/null
tmux set-hook -t "$session" session-closed "run-shell 'true'" 2>/dev/null || true
cat >&2 <<MSG
srm demo: alice (left) and bob (right) are talking through a relay (bottom pane).
Type a line and press Enter to send it; /help lists commands; /quit leaves.
Switch panes with Ctrl-b and an arrow key (or the mouse); Ctrl-b d detaches;
'tmux kill-session -t $session' stops everything.
MSG
if [ -n "${TMUX:-}" ]; then
    tmux switch-client -t "$session"
else
    tmux attach-session -t "$session"
fi
