#!/usr/bin/env bash
# Points the `lab` stack at the running lab: (re)writes Pulumi.lab.yaml from the lab's VMs (ports,
# pinned host keys; entries set with `pulumi config set` are kept), creates the stack in this
# checkout's local backend if needed, and stores the lab's SSH private key as a Pulumi secret.
# Run after `lab/lab.sh up`; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash lab/lab.sh config
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
echo "lab stack ready: Pulumi.lab.yaml" >&2
