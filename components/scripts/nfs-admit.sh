#!/usr/bin/env bash
# One admission of an NFS export: the clients it is exported to, with its options, as one line in a
# file of its own, /etc/exports.d/lvs-dr-ADMIT_ID.exports. The export's directory, owner, mode and
# files are nfs-export.sh's. Other exports and other files in /etc/exports.d are left alone.
# A change of clients is a new admission (a new resource and file: until the old one goes, both
# are exported, their union) and the old one's removal. Pulumi removes it after every mount that
# depended on it, so an up that narrows an export's clients and removes the mount of a client the
# export no longer admits cuts that client off only once its mount is gone, and with it, before
# that, its place in every service (drained, not cut off while it serves).
# Parameters: EXPORT_ID, ADMIT_ID, EXPORT_PATH, CLIENTS, OPTIONS (comma list).

admit_file() { printf '/etc/exports.d/lvs-dr-%s.exports\n' "$ADMIT_ID"; }
admit_text() {
    printf '# Managed by lvs-dr: pulumi destroy removes this admission of the export (not its files).\n%s %s(%s)\n' \
        "$EXPORT_PATH" "$CLIENTS" "$OPTIONS"
}
# Before admissions were resources of their own, the export's one line was in the export's file.
legacy_file() { printf '/etc/exports.d/lvs-dr-%s.exports\n' "$EXPORT_ID"; }

# Whether the kernel exports EXPORT_PATH to CLIENTS (`exportfs -s`: one "PATH CLIENT(OPTIONS)" line each).
is_admitted() {
    exportfs -s | awk -v p="$EXPORT_PATH" -v c="$CLIENTS" '$1 == p && index($2, c "(") == 1 { found = 1 } END { exit !found }'
}

lvs_apply() {
    [ -d /etc/exports.d ] || fail "/etc/exports.d is missing (the NFS server resource creates it)"
    [ -d "$EXPORT_PATH" ] || fail "$EXPORT_PATH is missing (the export resource creates it)"
    if admit_text | write_file "$(admit_file)" 0644; then
        # The export's line moves into this file in one exportfs: it is never unexported in between.
        remove_file "$(legacy_file)"
        exportfs -ra
    elif ! is_admitted; then
        exportfs -ra
        changed "re-exported $EXPORT_PATH to $CLIENTS (it was not exported to them)"
    fi
}

lvs_check() {
    admit_text | check_file "$(admit_file)"
    is_admitted || drift "$EXPORT_PATH is not exported to $CLIENTS"
}

lvs_remove() {
    if [ -f "$(admit_file)" ]; then
        rm -f "$(admit_file)"
        exportfs -ra
        changed "withdrew the export of $EXPORT_PATH to $CLIENTS (its files stay)"
    fi
}
