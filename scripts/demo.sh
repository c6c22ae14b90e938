#!/usr/bin/env bash
# `npm start`: the main job on the local lab. Builds (or reuses) the toolchain and the VM image, starts
# the lab VMs (the five of the recipe and director2), deploys the cluster with a director pair into
# them with `pulumi up`, and shows the VIP at work from the client VM and which director holds it. Run
# it again at any time: every step is idempotent.
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
step "lab VMs (with director2, the second director of the pair)"
bash lab/lab.sh up director2
step "lab stack: the recipe's cluster with a director pair"
bash scripts/lab-stack.sh
# The lab's config names one director (the recipe's); the demo makes it the pair.
bash scripts/pulumi.sh config rm --stack lab --path lvs-dr:director.host >/dev/null 2>&1 || true
bash scripts/pulumi.sh config set --stack lab --path 'lvs-dr:director.hosts[0]' director
bash scripts/pulumi.sh config set --stack lab --path 'lvs-dr:director.hosts[1]' director2
step "pulumi up (stack lab)"
bash scripts/pulumi.sh up --yes --skip-preview --stack lab
vip=$(bash scripts/pulumi.sh stack output --stack lab --json vips | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0])')
step "six requests from the client VM to http://$vip/"
for _ in 1 2 3 4 5 6; do
    bash lab/lab.sh ssh client curl -sS --max-time 5 "http://$vip/"
done
step "the pair: which director holds the VIP (VRRP), and both directors' IPVS tables (kept by keepalived)"
for d in director director2; do
    if grep -qF " $vip/32" <<<"$(bash lab/lab.sh ssh "$d" "ip -o -4 addr show dev eth1")"; then
        echo "$d: holds $vip (master)"
    else
        echo "$d: backup"
    fi
    bash lab/lab.sh ssh "$d" ipvsadm -Ln
done
cat >&2 <<EOF2

The cluster runs in the lab, with a director pair. Try:
  bash lab/lab.sh ssh client curl http://$vip/      # a request through the VIP
  bash lab/lab.sh ssh web1 systemctl stop apache2   # web1 leaves rotation within seconds (ipvsadm -Ln)
  bash lab/lab.sh kill director                      # power cut: director2 takes the VIP
  bash lab/lab.sh start director                     # it boots again as backup
  npm run pulumi -- preview --stack lab            # no changes
  npm run pulumi -- destroy --stack lab            # undo everything on the VMs
  bash lab/lab.sh down                             # stop the VMs
EOF2
