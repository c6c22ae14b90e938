#!/usr/bin/env bash
# Installs a component's toolkit on its host: lvs-dr's shared library and the concern scripts its
# resources source, in LVS_LIB, by the component's LiveState before any of its resources runs. It is
# self-contained (the library is what it installs). The files arrive as one gzip'd, base64-encoded
# concatenation; each is cut out by its size, checked against its SHA-256, written under a temporary
# name and renamed into place. Files no longer listed are removed. (live.sh removes the toolkit.)
# Parameters: LVS_RESOURCE, LVS_COMPONENT, LVS_LIB, TOOLKIT_FILES, TOOLKIT_SIZES, TOOLKIT_SHA256
# (arrays of the same length), TOOLKIT_DATA.
set -euo pipefail
umask 022
export LC_ALL=C
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

say() {
    printf 'lvs-dr %s: %s\n' "$LVS_RESOURCE" "$*"
    logger -t lvs-dr -- "$LVS_RESOURCE: $*" 2>/dev/null || true
}
fail() {
    printf 'lvs-dr %s: error: %s\n' "$LVS_RESOURCE" "$*" >&2
    exit 1
}
[ "$(id -u)" -eq 0 ] || fail "must run as root (use an SSH user with passwordless sudo)"
logger -t lvs-dr -- "run $LVS_RESOURCE toolkit" 2>/dev/null || true

install -d -m 0755 "$LVS_LIB"
archive=$(mktemp "$LVS_LIB/.lvs-dr.XXXXXX")
trap 'rm -f "$archive" "$LVS_LIB"/.lvs-dr.*' EXIT
printf '%s' "$TOOLKIT_DATA" | base64 -d | gzip -dc >"$archive" || fail "the toolkit did not arrive intact"
changes=0 offset=0
for i in "${!TOOLKIT_FILES[@]}"; do
    file=$LVS_LIB/${TOOLKIT_FILES[$i]} size=${TOOLKIT_SIZES[$i]}
    if ! [ -f "$file" ] || [ "$(sha256sum <"$file" | cut -d' ' -f1)" != "${TOOLKIT_SHA256[$i]}" ]; then
        tmp=$(mktemp "$LVS_LIB/.lvs-dr.XXXXXX")
        dd if="$archive" of="$tmp" iflag=skip_bytes,count_bytes bs=65536 skip="$offset" count="$size" status=none
        [ "$(sha256sum <"$tmp" | cut -d' ' -f1)" = "${TOOLKIT_SHA256[$i]}" ] || fail "${TOOLKIT_FILES[$i]} did not arrive intact (SHA-256 differs)"
        chmod 0644 "$tmp"
        mv -f "$tmp" "$file"
        changes=$((changes + 1))
        say "changed: installed $file"
    fi
    offset=$((offset + size))
done
for file in "$LVS_LIB"/*; do
    [ -e "$file" ] || continue
    if [[ " ${TOOLKIT_FILES[*]} " != *" ${file##*/} "* ]]; then
        rm -f "$file"
        changes=$((changes + 1))
        say "changed: removed $file (no longer part of lvs-dr)"
    fi
done
# Who installed it: live.sh removes the folder only for its owner (a renamed component's successor
# installs the same folder before the old component is deleted).
if [ "$(cat "$LVS_LIB/.owner" 2>/dev/null || true)" != "$LVS_COMPONENT" ]; then
    printf '%s\n' "$LVS_COMPONENT" >"$LVS_LIB/.owner.tmp"
    mv -f "$LVS_LIB/.owner.tmp" "$LVS_LIB/.owner"
fi
if [ "$changes" -eq 0 ]; then say "apply: no changes"; else say "apply: $changes change(s)"; fi
