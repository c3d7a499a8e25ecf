#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# keygen.sh [-d DIR] [-b BITS] NAME...: make RSA identity keys for srm.
# For each NAME writes DIR/NAME.key (PKCS#8 PEM, mode 0600) and DIR/NAME.pub
# (SPKI PEM, mode 0644), keeps keys that already exist, and prints each
# key's fingerprint as "NAME SHA256:..." (as ssh shows it).
#   -d DIR      key directory (default: keys/ at the top of the source tree)
#   -b BITS     RSA modulus size, 2048..8192 (default 3072)
#   -h, --help  this help
#   --version   print srm's and OpenSSL's versions
# NAME is 1..32 of a-z 0-9 _ -; "relay" is the relay's own identity.
# Exit status: 0 done, 1 a key could not be made or read, 2 usage error.
set -euo pipefail

# Private keys must never be readable by anyone else, even for the instant
# between creating a file and a chmod: everything is created under 077 and
# public keys are opened up afterwards.
umask 077

usage() {
    sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
}

die_usage() {
    echo "error: $1 (try --help)" >&2
    exit 2
}

die() {
    echo "error: $1" >&2
    exit 1
}

# Names become file names and routing subjects: refuse anything else.
valid_name() {
    case "$1" in
    '' | *[!a-z0-9_-]*) return 1 ;;
    esac
    [ "${#1}" -le 32 ]
}

# SHA256:<unpadded base64 of SHA-256 of the DER SubjectPublicKeyInfo>.
fingerprint() {
    local b64
    b64=$(openssl pkey -pubin -in "$1" -outform DER | openssl dgst -sha256 -binary |
        openssl base64 -A) || return 1
    [ -n "$b64" ] || return 1
    echo "SHA256:${b64%%=*}"
}

# Rewritten to the project version when installed as srm-keygen.
srm_version=dev
script_dir=$(cd "$(dirname "$0")" && pwd)
dir="$script_dir/../keys"
bits=3072
names=()

while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help)
        usage
        exit 0
        ;;
    --version)
        echo "srm keygen $srm_version ($(openssl version))"
        exit 0
        ;;
    -d)
        [ $# -ge 2 ] || die_usage "-d needs a directory"
        dir=$2
        shift 2
        ;;
    -b)
        [ $# -ge 2 ] || die_usage "-b needs a number of bits"
        bits=$2
        shift 2
        ;;
    --)
        shift
        names+=("$@")
        break
        ;;
    -*) die_usage "unknown option '$1'" ;;
    *)
        names+=("$1")
        shift
        ;;
    esac
done

[ -n "$dir" ] || die_usage "-d needs a directory"
case "$bits" in
'' | *[!0-9]*) die_usage "BITS must be a number, not '$bits'" ;;
esac
# Compare as strings of digits first so that a huge number cannot overflow.
if [ "${#bits}" -gt 5 ] || [ "$bits" -lt 2048 ] || [ "$bits" -gt 8192 ]; then
    die_usage "BITS must be between 2048 and 8192, not '$bits'"
fi
[ ${#names[@]} -gt 0 ] || die_usage "no NAME given; usage: keygen.sh [-d DIR] [-b BITS] NAME..."
# Check every name before making any key, so a typo makes nothing.
for name in "${names[@]}"; do
    valid_name "$name" ||
        die_usage "bad name '$name': use 1 to 32 characters of a-z, 0-9, _ and -"
done

command -v openssl >/dev/null 2>&1 || die "openssl not found: install it (apt-get install openssl)"
mkdir -p -- "$dir" || die "cannot create key directory $dir"
dir=$(cd -- "$dir" && pwd) || die "cannot enter key directory $dir"

tmp_key=
tmp_pub=
cleanup() {
    rm -f -- "$tmp_key" "$tmp_pub"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for name in "${names[@]}"; do
    key=$dir/$name.key
    pub=$dir/$name.pub
    if [ -e "$key" ]; then
        # Keep it; check it is private and that NAME.pub belongs to it.
        perms=$(stat -c '%a' -- "$key") || die "cannot read $key"
        if [ $((8#$perms & 8#077)) -ne 0 ]; then
            echo "warning: $key is readable by others (mode $perms): run chmod 600 '$key'" >&2
        fi
        tmp_pub=$(mktemp "$dir/.$name.pub.XXXXXX") || die "cannot write in $dir"
        openssl pkey -in "$key" -pubout -out "$tmp_pub" 2>/dev/null ||
            die "$key is not a readable private key: move it away or fix it"
        if [ -e "$pub" ]; then
            if ! cmp -s <(openssl pkey -pubin -in "$pub" -outform DER 2>/dev/null) \
                <(openssl pkey -pubin -in "$tmp_pub" -outform DER); then
                die "$pub does not match $key: remove the wrong one and run keygen.sh again"
            fi
            rm -f -- "$tmp_pub"
            echo "keygen: kept existing $key and $pub" >&2
        else
            chmod 0644 -- "$tmp_pub"
            mv -f -- "$tmp_pub" "$pub"
            echo "keygen: kept existing $key; wrote missing $pub from it" >&2
        fi
        tmp_pub=
    elif [ -e "$pub" ]; then
        # A peer's public key someone handed us: never replace it.
        echo "keygen: kept existing $pub (a public key without its private key: another party's)" >&2
    else
        echo "keygen: making a $bits-bit RSA key for $name" >&2
        tmp_key=$(mktemp "$dir/.$name.key.XXXXXX") || die "cannot write in $dir"
        tmp_pub=$(mktemp "$dir/.$name.pub.XXXXXX") || die "cannot write in $dir"
        openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" -outform PEM \
            -out "$tmp_key" 2>/dev/null || die "openssl could not make a key for $name"
        openssl pkey -in "$tmp_key" -pubout -out "$tmp_pub" ||
            die "openssl could not write the public key of $name"
        chmod 0600 -- "$tmp_key"
        chmod 0644 -- "$tmp_pub"
        # Private first: if we are stopped in between, the next run finds the
        # key and rebuilds NAME.pub from it (a lone NAME.pub would read as
        # another party's key and block this name).
        mv -f -- "$tmp_key" "$key"
        mv -f -- "$tmp_pub" "$pub"
        tmp_key=
        tmp_pub=
        echo "keygen: wrote $key (keep it private) and $pub (share it)" >&2
    fi
    fp=$(fingerprint "$pub") || die "cannot read the public key $pub"
    echo "$name $fp"
done
