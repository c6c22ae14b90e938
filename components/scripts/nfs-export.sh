#!/usr/bin/env bash
# One NFS export's directory: created when missing, with the given owner and mode, and the files
# placed in it. Which clients it is exported to, with which options, is its admission's
# (nfs-admit.sh). Remove puts back the directory's previous owner and mode; the directory and every
# file in it stay.
# Parameters: EXPORT_ID, EXPORT_PATH, OWNER, GROUP, MODE (four octal digits, special bits included:
# 2775 keeps the group on new files), FILE_NAMES and FILE_CONTENTS (arrays of the same length).

prev_record() { printf '%s/exports/%s.prev\n' "$LVS_STATE" "$EXPORT_ID"; }

# The directory's mode as a number, special bits (setuid, setgid, sticky) included.
dir_mode() { echo $((8#$(stat -c '%a' "$EXPORT_PATH"))); }

# set_mode MODE: exactly MODE, special bits included. GNU chmod keeps a directory's setgid bit for a
# plain "0755"; a fifth digit ("00755") states all of them.
set_mode() { chmod "0$(printf '%04o' $((8#$1)))" "$EXPORT_PATH"; }

lvs_apply() {
    local prev cur i
    prev=$(prev_record)
    id -u "$OWNER" >/dev/null 2>&1 || fail "user $OWNER does not exist on this host"
    getent group "$GROUP" >/dev/null || fail "group $GROUP does not exist on this host"
    if [ ! -d "$EXPORT_PATH" ]; then
        mkdir -p "$EXPORT_PATH"
        [ -f "$prev" ] || echo "created" | record "$prev"
        changed "created $EXPORT_PATH"
    elif [ ! -f "$prev" ]; then
        stat -c '%U:%G %a' "$EXPORT_PATH" | record "$prev"
    fi
    cur=$(stat -c '%U:%G' "$EXPORT_PATH")
    if [ "$cur" != "$OWNER:$GROUP" ]; then
        chown "$OWNER:$GROUP" "$EXPORT_PATH"
        changed "owner of $EXPORT_PATH: $cur -> $OWNER:$GROUP"
    fi
    cur=$(stat -c '%a' "$EXPORT_PATH")
    if [ "$(dir_mode)" -ne "$((8#$MODE))" ]; then
        set_mode "$MODE"
        changed "mode of $EXPORT_PATH: $cur -> $MODE"
    fi
    # Each file is written beside itself under a temporary name and renamed into place.
    for i in "${!FILE_NAMES[@]}"; do
        printf '%s' "${FILE_CONTENTS[$i]}" | write_file "$EXPORT_PATH/${FILE_NAMES[$i]}" 0644 "owner=$OWNER:$GROUP" || true
    done
}

lvs_check() {
    local i
    if [ -d "$EXPORT_PATH" ]; then
        [ "$(stat -c '%U:%G' "$EXPORT_PATH")" = "$OWNER:$GROUP" ] || drift "$EXPORT_PATH is not owned by $OWNER:$GROUP"
        [ "$(dir_mode)" -eq "$((8#$MODE))" ] || drift "$EXPORT_PATH has mode $(stat -c '%a' "$EXPORT_PATH") (want $MODE)"
        for i in "${!FILE_NAMES[@]}"; do
            printf '%s' "${FILE_CONTENTS[$i]}" | check_file "$EXPORT_PATH/${FILE_NAMES[$i]}"
        done
    else
        drift "$EXPORT_PATH is missing"
    fi
}

lvs_remove() {
    local prev old_owner old_mode
    prev=$(prev_record)
    if [ -f "$prev" ] && [ -d "$EXPORT_PATH" ]; then
        read -r old_owner old_mode <"$prev"
        if [ "$old_owner" != created ]; then
            chown "$old_owner" "$EXPORT_PATH"
            set_mode "$old_mode"
            changed "restored owner $old_owner and mode $old_mode of $EXPORT_PATH"
        fi
    fi
    rm -f "$prev"
}
