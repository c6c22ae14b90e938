#!/usr/bin/env bash
# One NFS export: its directory (created when missing, with the given owner and mode), the files
# placed in it, and its line in /etc/exports.d/lvs-dr-EXPORT_ID.exports (other exports are left
# alone). Remove withdraws the export and puts back the directory's previous owner and mode; the
# directory and every file in it stay.
# Parameters: EXPORT_ID, EXPORT_PATH, CLIENTS, OPTIONS (comma list), OWNER, GROUP, MODE,
# FILE_NAMES and FILE_CONTENTS (arrays of the same length).

exports_file() { printf '/etc/exports.d/lvs-dr-%s.exports\n' "$EXPORT_ID"; }
exports_text() {
    printf '# Managed by lvs-dr: pulumi destroy removes this export (not its files).\n%s %s(%s)\n' \
        "$EXPORT_PATH" "$CLIENTS" "$OPTIONS"
}
is_exported() { exportfs -v | awk -v p="$EXPORT_PATH" '$1 == p { found = 1 } END { exit !found }'; }

lvs_apply() {
    local prev="$LVS_STATE/exports/$EXPORT_ID.prev" cur i
    mkdir -p "$LVS_STATE/exports" /etc/exports.d
    id -u "$OWNER" >/dev/null 2>&1 || fail "user $OWNER does not exist on this host"
    getent group "$GROUP" >/dev/null || fail "group $GROUP does not exist on this host"
    if [ ! -d "$EXPORT_PATH" ]; then
        mkdir -p "$EXPORT_PATH"
        [ -f "$prev" ] || echo "created" >"$prev"
        changed "created $EXPORT_PATH"
    elif [ ! -f "$prev" ]; then
        stat -c '%U:%G %a' "$EXPORT_PATH" >"$prev"
    fi
    cur=$(stat -c '%U:%G' "$EXPORT_PATH")
    if [ "$cur" != "$OWNER:$GROUP" ]; then
        chown "$OWNER:$GROUP" "$EXPORT_PATH"
        changed "owner of $EXPORT_PATH: $cur -> $OWNER:$GROUP"
    fi
    cur=$(stat -c '%a' "$EXPORT_PATH")
    if [ "$((8#$cur))" -ne "$((8#$MODE))" ]; then
        chmod "$MODE" "$EXPORT_PATH"
        changed "mode of $EXPORT_PATH: $cur -> $MODE"
    fi
    for i in "${!FILE_NAMES[@]}"; do
        if printf '%s' "${FILE_CONTENTS[$i]}" | write_file "$EXPORT_PATH/${FILE_NAMES[$i]}" 0644; then
            chown "$OWNER:$GROUP" "$EXPORT_PATH/${FILE_NAMES[$i]}"
        fi
    done
    if exports_text | write_file "$(exports_file)" 0644; then
        exportfs -ra
    elif ! is_exported; then
        exportfs -ra
        changed "re-exported $EXPORT_PATH (it was not exported)"
    fi
}

lvs_check() {
    local i
    exports_text | check_file "$(exports_file)"
    is_exported || drift "$EXPORT_PATH is not exported"
    if [ -d "$EXPORT_PATH" ]; then
        [ "$(stat -c '%U:%G' "$EXPORT_PATH")" = "$OWNER:$GROUP" ] || drift "$EXPORT_PATH is not owned by $OWNER:$GROUP"
        [ "$((8#$(stat -c '%a' "$EXPORT_PATH")))" -eq "$((8#$MODE))" ] || drift "$EXPORT_PATH does not have mode $MODE"
        for i in "${!FILE_NAMES[@]}"; do
            printf '%s' "${FILE_CONTENTS[$i]}" | check_file "$EXPORT_PATH/${FILE_NAMES[$i]}"
        done
    else
        drift "$EXPORT_PATH is missing"
    fi
}

lvs_remove() {
    local prev="$LVS_STATE/exports/$EXPORT_ID.prev" old_owner old_mode
    if [ -f "$(exports_file)" ]; then
        rm -f "$(exports_file)"
        exportfs -ra
        changed "withdrew export $EXPORT_PATH (its files stay)"
    fi
    if [ -f "$prev" ] && [ -d "$EXPORT_PATH" ]; then
        read -r old_owner old_mode <"$prev"
        if [ "$old_owner" != created ]; then
            chown "$old_owner" "$EXPORT_PATH"
            chmod "$old_mode" "$EXPORT_PATH"
            changed "restored owner $old_owner and mode $old_mode of $EXPORT_PATH"
        fi
    fi
    rm -f "$prev"
}
