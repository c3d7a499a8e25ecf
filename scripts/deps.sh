#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deps.sh: install the Debian packages srm needs, if any is missing.
# Sourced by test.sh and demo.sh; usage: srm_install_deps PACKAGE...
# Runs apt-get as root, through sudo otherwise, and says exactly what is
# missing when it cannot install.

SRM_BUILD_PKGS=(build-essential cmake pkg-config libssl-dev libevent-dev libreadline-dev
    libcmocka-dev libcjson-dev python3 tmux openssl scdoc man-db systemd nats-server libnats-dev python3-cryptography)

srm_install_deps() {
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    echo "srm: installing missing packages: ${missing[*]}" >&2
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "error: missing packages ${missing[*]} and not root (no sudo): install them with apt-get" >&2
            return 1
        fi
    fi
    if ! "${sudo[@]}" apt-get update -qq; then
        echo "error: apt-get update failed; install by hand: apt-get install ${missing[*]}" >&2
        return 1
    fi
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
        echo "error: could not install ${missing[*]}; install them with apt-get and retry" >&2
        return 1
    fi
}
