#!/usr/bin/env bash
# `npm run bench`: figures from the lab, printed and written to bench-results.json (stable keys, so a
# later run can be compared), never asserted. Replaces any running lab of this checkout with a fresh
# one, deploys the cluster, measures, then destroys it and stops the lab.
#   - seconds until every VM answers SSH
#   - wall time of a cold `pulumi up`; of a no-op `pulumi up`, and how many host scripts it ran
#   - the size of the stack's state (`pulumi stack export`)
#   - `pulumi preview` and `pulumi preview --refresh` wall times
#   - reply-path offload: bytes the director's data interface sent / bytes the client received while
#     downloading a 10 MB file through the VIP (DR: a few percent, only ACKs; NAT would be > 100 %)
#   - requests per second through the VIP against the same load sent straight to web1, as a ratio
set -euo pipefail
cd "$(dirname "$0")/.."
VIP=10.86.0.180
RESULTS=${LVS_DR_BENCH_RESULTS:-bench-results.json}
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
on() { bash lab/lab.sh ssh "$@"; }
pulumi() { bash scripts/pulumi.sh "$@" --stack lab; }
runs() { # host-script runs logged on the cluster's VMs (lib.sh and toolkit.sh log one "run" line each)
    local n total=0
    for vm in director web1 web2 nfs; do
        n=$(on "$vm" "journalctl -q -t lvs-dr -o cat | grep -c '^run ' || true")
        total=$((total + n))
    done
    echo "$total"
}
# RPS for N requests to URL from the client, each on a new connection, in one curl process.
rps() {
    local times
    times=$(on client "urls=(); for i in \$(seq $2); do urls+=('$1'); done; s=\$(date +%s.%N);
        curl -sS --fail -H 'Connection: close' \"\${urls[@]}\" >/dev/null; echo \$s \$(date +%s.%N)")
    echo "$2 / (${times#* } - ${times% *})" | bc -l
}
command -v bc >/dev/null || { apt-get install -y -q bc >/dev/null 2>&1 || { echo "bench needs bc" >&2; exit 1; }; }

bash scripts/ensure-pulumi.sh >/dev/null
bash lab/lab.sh down >/dev/null 2>&1
t=$(now)
bash lab/lab.sh up >/dev/null
ssh_ready=$(since "$t")
bash scripts/lab-stack.sh >/dev/null 2>&1

t=$(now)
pulumi up --yes --skip-preview >/dev/null
cold_up=$(since "$t")
resources=$(pulumi stack export | node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(0, "utf8")).deployment.resources.length))')
state_bytes=$(pulumi stack export | wc -c)

before=$(runs)
t=$(now)
pulumi up --yes --skip-preview >/dev/null
noop_up=$(since "$t")
noop_runs=$(($(runs) - before))

t=$(now)
pulumi preview >/dev/null
preview=$(since "$t")
t=$(now)
pulumi preview --refresh >/dev/null
preview_refresh=$(since "$t")

on nfs "head -c 10485760 /dev/urandom > /srv/lvs/kgc/big.bin && cp /srv/lvs/kgc/big.bin /srv/lvs/benet/big.bin"
dir_tx0=$(on director cat /sys/class/net/eth1/statistics/tx_bytes)
cli_rx0=$(on client cat /sys/class/net/eth1/statistics/rx_bytes)
on client "curl -sS --fail -o /dev/null http://$VIP/big.bin"
dir_tx=$(($(on director cat /sys/class/net/eth1/statistics/tx_bytes) - dir_tx0))
cli_rx=$(($(on client cat /sys/class/net/eth1/statistics/rx_bytes) - cli_rx0))
offload=$(echo "scale=2; 100 * $dir_tx / $cli_rx" | bc)

vip_rps=$(rps "http://$VIP/" 300)
direct_rps=$(rps "http://10.86.0.11/" 300)
ratio=$(echo "scale=2; $vip_rps / $direct_rps" | bc -l)

pulumi destroy --yes --skip-preview >/dev/null
bash lab/lab.sh down >/dev/null

printf '\nlvs-dr lab benchmark (%s, %s cores, qemu TCG)\n' "$(date -u +%F)" "$(nproc)"
printf '  all 5 VMs answer SSH:          %6.1f s\n' "$ssh_ready"
printf '  cold pulumi up:                %6.1f s (%d resources)\n' "$cold_up" "$resources"
printf '  no-op pulumi up:               %6.1f s, host scripts run: %d\n' "$noop_up" "$noop_runs"
printf '  pulumi preview:                %6.1f s\n' "$preview"
printf '  pulumi preview --refresh:      %6.1f s\n' "$preview_refresh"
printf '  state (pulumi stack export):   %6d bytes\n' "$state_bytes"
printf '  reply-path offload (10 MB):    director eth1 sent %d B, client received %d B: %.2f %%\n' "$dir_tx" "$cli_rx" "$offload"
printf '  requests/s via VIP vs direct:  %.1f vs %.1f (ratio %.2f)\n' "$vip_rps" "$direct_rps" "$ratio"

cat >"$RESULTS" <<JSON
{
  "date": "$(date -u +%FT%TZ)",
  "cores": $(nproc),
  "lab_ssh_ready_s": $(printf '%.1f' "$ssh_ready"),
  "cold_up_s": $(printf '%.1f' "$cold_up"),
  "resources": $resources,
  "noop_up_s": $(printf '%.1f' "$noop_up"),
  "noop_up_host_scripts": $noop_runs,
  "preview_s": $(printf '%.1f' "$preview"),
  "preview_refresh_s": $(printf '%.1f' "$preview_refresh"),
  "state_bytes": $state_bytes,
  "offload_director_tx_bytes": $dir_tx,
  "offload_client_rx_bytes": $cli_rx,
  "offload_percent": $offload,
  "vip_rps": $(printf '%.1f' "$vip_rps"),
  "direct_rps": $(printf '%.1f' "$direct_rps"),
  "vip_direct_ratio": $ratio
}
JSON
echo "  (written to $RESULTS)"
