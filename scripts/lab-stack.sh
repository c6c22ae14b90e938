#!/usr/bin/env bash
# Points the `lab` stack at the running lab: writes Pulumi.lab.yaml from the lab's VMs (ports, pinned
# host keys), creates the stack in this checkout's local backend if needed, and stores the lab's SSH
# private key as a Pulumi secret. Run after `lab/lab.sh up`; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
stack_file=Pulumi.lab.yaml
generated=$(mktemp)
trap 'rm -f "$generated"' EXIT

LVS_DR_LAB_STACK_FILE=$generated bash lab/lab.sh config
# Keep the stack's secrets salt across rewrites, so its secrets stay readable.
salt=$(sed -n 's/^encryptionsalt: //p' "$stack_file" 2>/dev/null || true)
{
    if [ -n "$salt" ]; then
        echo "secretsprovider: passphrase"
        echo "encryptionsalt: $salt"
    fi
    cat "$generated"
} >"$stack_file.new"
mv "$stack_file.new" "$stack_file"
# The lab's host keys are made anew with every lab: a stack whose state was made for another lab
# describes VMs that are gone, so it starts over (this is the lab stack of a local backend only).
lab_id=$(sha256sum "$(bash lab/lab.sh known-hosts-path)" | cut -c1-16)
marker=.pulumi-state/lab-stack.id
if [ -f "$marker" ] && [ "$(cat "$marker")" != "$lab_id" ]; then
    echo "the lab stack's state belongs to an earlier lab: removing it" >&2
    bash scripts/pulumi.sh stack rm --yes --force --preserve-config lab >/dev/null 2>&1 || true
fi
bash scripts/pulumi.sh stack select --create lab --secrets-provider passphrase >/dev/null
mkdir -p .pulumi-state
echo "$lab_id" >"$marker"
bash scripts/pulumi.sh config set --secret --stack lab sshPrivateKey <"$(bash lab/lab.sh key-path)"
echo "lab stack ready: $stack_file" >&2
