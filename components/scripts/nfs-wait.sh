#!/usr/bin/env bash
# nfs-wait.sh SERVER PORT [SECONDS]: wait until the NFS server SERVER accepts TCP connections on
# PORT; for at most SECONDS when given (exit 1 then), else for as long as it takes.
# Run at boot by the lvs-dr-nfs-wait-*.service unit that each lvs-dr NFS mount requires: when a whole
# cluster boots, the NFS server may come up long after a web server, and the mount unit itself must
# keep a bounded timeout (the same timeout bounds its unmount at shutdown, which would otherwise hang
# for ever on a server that is gone). Also run by mount.sh, bounded, before it mounts.
set -u
server=$1 port=$2 limit=${3:-}
start=$SECONDS said=
# shellcheck disable=SC2016 # expanded by the inner bash, from its arguments
until timeout 5 bash -c ': >"/dev/tcp/$1/$2"' nfs-wait "$server" "$port" 2>/dev/null; do
    if [ -n "$limit" ] && ((SECONDS - start >= limit)); then
        exit 1
    fi
    if [ -z "$said" ]; then
        echo "waiting for the NFS server $server (port $port)"
        said=yes
    fi
    sleep 3
done
