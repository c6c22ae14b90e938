#!/usr/bin/env bash
# `npm start`: the main job on the local lab. Builds (or reuses) the toolchain and the VM image, starts
# the five lab VMs, deploys the cluster into them with `pulumi up`, and shows the VIP at work from the
# client VM. Run it again at any time: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n==> %s\n' "$*" >&2; }

step "host tools and npm packages"
bash scripts/ensure-tools.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
step "Pulumi CLI and plugins"
bash scripts/ensure-pulumi.sh >/dev/null
step "lab VMs"
bash lab/lab.sh up
step "lab stack"
bash scripts/lab-stack.sh
step "pulumi up (stack lab)"
bash scripts/pulumi.sh up --yes --skip-preview --stack lab
vip=$(bash scripts/pulumi.sh stack output --stack lab --json vips | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0])')
step "six requests from the client VM to http://$vip/"
for _ in 1 2 3 4 5 6; do
    bash lab/lab.sh ssh client curl -sS --max-time 5 "http://$vip/"
done
step "the director's IPVS table"
bash lab/lab.sh ssh director ipvsadm -Ln --stats
cat >&2 <<EOF2

The cluster runs in the lab. Try:
  bash lab/lab.sh ssh client curl http://$vip/      # a request through the VIP
  npm run pulumi -- preview --stack lab            # no changes
  npm run pulumi -- destroy --stack lab            # undo everything on the VMs
  bash lab/lab.sh down                             # stop the VMs
EOF2
