#!/usr/bin/env bash
# Installs the host tools the checks need when they are missing (Debian/Ubuntu): the shellcheck
# linter for host scripts, keepalived (for `keepalived -t`) and nftables (for `nft -c`). Node.js and npm must already be there.
set -euo pipefail
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
# keepalived -t checks the keepalived config the host scripts render (unit tests); never started here.
command -v keepalived >/dev/null 2>&1 || missing+=(keepalived)
# nft -c checks the nftables tables the host scripts render (unit tests); no ruleset is loaded here.
command -v nft >/dev/null 2>&1 || missing+=(nftables)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "missing tools: ${missing[*]}; install them with your package manager" >&2
        exit 1
    fi
    echo "installing ${missing[*]} ..." >&2
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
