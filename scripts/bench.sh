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
# With --tun, also the reply-path offload of a tunnelled real server (method tun): web4, in the lab's
# second network one router away (router and web4 boot too), joins the service; 10 MB downloads
# through the VIP until one went to web4, its figure taken like DR's (goal: at most 0.3 %).
# With --nat, also a NAT service (VIP:8000 -> web5:80, method nat): web5, on the lab's third network
# that only the director reaches (web5 boots too), serves a 10 MB file from its own disk; its figure
# is taken like DR's, to show the difference (NAT's replies all pass through the director).
# With --pair, also the director pair and its checks (director2 boots too), on VRRPv3 and VRRPv2,
# each at its default advert interval and the default checks, under the checked load of
# test/e2e/load.sh (its failed requests counted) and a probe (scripts/bench-probe.sh: a request every
# 0.1 s) that times each outage on the client's own clock, from its first failed request to the first
# one served after the last failure:
#   - Apache stopped on web1, until the active director's keepalived took web1 out of rotation (then
#     0 failed requests are expected). The scheduler sends the probe to web1 only part of the time,
#     so this is a lower bound on the time to removal; the e2e HA suite times the removal itself.
#   - web1's VIP deleted from its lo (Apache still up: only the check through the VIP sees it; its
#     connect times out instead of being refused): the same, a lower bound
#   - a power cut of the active director, until the backup serves the VIP: every request fails in
#     between, so this is the outage itself
set -euo pipefail
cd "$(dirname "$0")/.."
PAIR=no TUN=no NAT=no
for arg in "$@"; do
    case "$arg" in
        --pair) PAIR=yes ;;
        --tun) TUN=yes ;;
        --nat) NAT=yes ;;
        *) echo "usage: npm run bench [-- --tun] [-- --nat] [-- --pair]" >&2; exit 2 ;;
    esac
done
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
# download [PORT [URL]]: one 10 MB download through the VIP (from client port PORT; URL defaults to
# big.bin on port 80); sets dir_tx and cli_rx (bytes the director's eth1 sent, the client's eth1
# received, meanwhile) and offload (their ratio, %).
download() {
    local dir_tx0 cli_rx0
    dir_tx0=$(on director cat /sys/class/net/eth1/statistics/tx_bytes)
    cli_rx0=$(on client cat /sys/class/net/eth1/statistics/rx_bytes)
    on client "curl -sS --fail ${1:+--local-port $1} -o /dev/null ${2:-http://$VIP/big.bin}"
    dir_tx=$(($(on director cat /sys/class/net/eth1/statistics/tx_bytes) - dir_tx0))
    cli_rx=$(($(on client cat /sys/class/net/eth1/statistics/rx_bytes) - cli_rx0))
    offload=$(printf '%.2f' "$(echo "scale=4; 100 * $dir_tx / $cli_rx" | bc)")
}
download
dr_tx=$dir_tx dr_rx=$cli_rx dr_offload=$offload

vip_rps=$(rps "http://$VIP/" 300)
direct_rps=$(rps "http://10.86.0.11/" 300)
ratio=$(printf '%.2f' "$(echo "$vip_rps / $direct_rps" | bc -l)")

tun_json=""
tun_line=""
if [ "$TUN" = yes ]; then
    # start (not up): it brings up the second network's switch and leaves the stack config as it is.
    bash lab/lab.sh start router web4 >/dev/null
    pulumi config set --path 'lvs-dr:services[0].realServers[2].host' web4
    pulumi config set --path 'lvs-dr:services[0].realServers[2].method' tun
    pulumi config set --path 'lvs-dr:nfsServers[0].exports[1].clients' 10.86.0.0/23
    pulumi config set --path 'lvs-dr:mounts[2].host' web4
    pulumi config set --path 'lvs-dr:mounts[2].server' nfs
    pulumi config set --path 'lvs-dr:mounts[2].export' /srv/lvs/benet
    pulumi config set --path 'lvs-dr:mounts[2].path' /var/www/html
    pulumi up --yes --skip-preview >/dev/null
    # rr over three real servers: web4 takes one of any three downloads in a row.
    for port in 21000 21001 21002 21003 21004 21005; do
        download "$port"
        # The listing whole first: grep -q stops at its match, and under pipefail the listing's
        # writer, cut off (SIGPIPE) in a long listing of check connections, failed the test.
        grep -qE "10\.86\.0\.1:$port +[0-9.:]+ +10\.86\.1\.44:80" <<<"$(on director "ipvsadm -Lnc")" && break
        dir_tx=""
    done
    [ -n "$dir_tx" ] || { echo "bench: no download went to web4 in 6 tries" >&2; exit 1; }
    tun_line=$(printf '  reply-path offload, tun (10 MB from web4, one router away): director eth1 sent %d B, client received %d B: %.2f %%' "$dir_tx" "$cli_rx" "$offload")
    tun_json=$(printf ',\n  "tun_offload_director_tx_bytes": %d,\n  "tun_offload_client_rx_bytes": %d,\n  "tun_offload_percent": %s' "$dir_tx" "$cli_rx" "$offload")
fi

nat_json=""
nat_line=""
if [ "$NAT" = yes ]; then
    bash lab/lab.sh start web5 >/dev/null
    on web5 "head -c 10485760 /dev/urandom > /var/www/html/big.bin"
    svc="lvs-dr:services[1]"
    pulumi config set --path "$svc.name" nat
    pulumi config set --path "$svc.vip" "$VIP"
    pulumi config set --path --type int "$svc.port" 8000
    pulumi config set --path "$svc.realServers[0].host" web5
    pulumi config set --path "$svc.realServers[0].method" nat
    pulumi config set --path --type int "$svc.realServers[0].port" 80
    pulumi up --yes --skip-preview >/dev/null
    download "" "http://$VIP:8000/big.bin"
    nat_line=$(printf '  reply-path offload, nat (10 MB from web5 behind the director): director eth1 sent %d B, client received %d B: %.2f %%' "$dir_tx" "$cli_rx" "$offload")
    nat_json=$(printf ',\n  "nat_offload_director_tx_bytes": %d,\n  "nat_offload_client_rx_bytes": %d,\n  "nat_offload_percent": %s' "$dir_tx" "$cli_rx" "$offload")
fi

pair_json=""
pair_lines=""
if [ "$PAIR" = yes ]; then
    on client "cat > /root/load.sh" <test/e2e/load.sh
    # load_start; ...; load_stop: prints "REQUESTS FAILED" of a steady checked load (3 workers, 5/s each).
    load_start() { on client "nohup bash /root/load.sh http://$VIP/ 3 /tmp/bench-load 'this is kgc web!' 'this is benet web!' >/dev/null 2>&1 &"; }
    load_stop() {
        on client "touch /tmp/bench-load/stop; while [ ! -e /tmp/bench-load/stopped ]; do sleep 0.2; done
            echo \$(cat /tmp/bench-load/worker-*.log | wc -l) \$(cat /tmp/bench-load/worker-*.log | grep -vc '^ok ' || true)"
    }
    master() {
        local d
        for d in director director2; do
            if grep -qF " $VIP/32" <<<"$(on "$d" "ip -o -4 addr show dev eth1")"; then echo "$d"; return; fi
        done
    }
    on client "cat > /root/probe.sh" <scripts/bench-probe.sh
    probe_start() { on client "nohup bash /root/probe.sh http://$VIP/ /tmp/bench-probe.log /tmp/bench-probe.stop >/dev/null 2>&1 &"; }
    probe_window() { on client "touch /tmp/bench-probe.stop; sleep 1; bash /root/probe.sh --window /tmp/bench-probe.log"; }
    in_table() { on "$1" "until ipvsadm -S -n | grep -q -- '-r 10.86.0.11:80 '; do sleep 0.2; done"; }
    out_of_table() { on "$1" "until ! ipvsadm -S -n | grep -q -- '-r 10.86.0.11:80 '; do sleep 0.2; done"; }
    bash lab/lab.sh start director2 >/dev/null
    pulumi config rm --path lvs-dr:director.host >/dev/null
    # lvs-dr's default check timers, not the lab's more patient ones (lab/README.md, "Check timers").
    pulumi config rm --path 'lvs-dr:services[0].healthCheck' >/dev/null
    pulumi config set --path 'lvs-dr:director.hosts[0]' director
    pulumi config set --path 'lvs-dr:director.hosts[1]' director2
    for version in 3 2; do
        pulumi config set --type int --path lvs-dr:director.vrrp.version "$version"
        pulumi up --yes --skip-preview >/dev/null
        advert=$(on director "awk '/advert_int/ { print \$2 }' /etc/lvs-dr/keepalived/keepalived.conf")
        sleep 10
        active=$(master)
        # A real server's death: Apache stopped.
        load_start
        probe_start
        sleep 3
        on web1 systemctl stop apache2
        out_of_table "$active"
        sleep 1
        out_s=$(probe_window)
        read -r rs_requests rs_failed < <(load_stop)
        load_start
        sleep 15
        read -r after_requests after_failed < <(load_stop)
        on web1 systemctl start apache2
        in_table "$active"
        # A real server that drops the VIP's packets: the VIP off its lo.
        load_start
        probe_start
        sleep 3
        on web1 "ip address del $VIP/32 dev lo"
        out_of_table "$active"
        sleep 1
        vip_out_s=$(probe_window)
        read -r vip_requests vip_failed < <(load_stop)
        on web1 "ip address add $VIP/32 dev lo"
        in_table "$active"
        # The active director's death.
        load_start
        probe_start
        sleep 3
        bash lab/lab.sh kill "$active" >/dev/null
        on client "until curl -s -m 0.5 -o /dev/null http://$VIP/; do sleep 0.1; done"
        sleep 5
        failover_s=$(probe_window)
        read -r fo_requests fo_failed < <(load_stop)
        bash lab/lab.sh start "$active" >/dev/null
        line=$(printf '  pair, VRRPv%s (advert %s s): probe outage %.1f s with Apache stopped on web1 (load: %d of %d failed, then %d of %d in 15 s), %.1f s with its VIP off lo (%d of %d failed); failover: probe outage %.1f s after the power cut of %s (%d of %d failed)' \
            "$version" "$advert" "$out_s" "$rs_failed" "$rs_requests" "$after_failed" "$after_requests" "$vip_out_s" "$vip_failed" "$vip_requests" "$failover_s" "$active" "$fo_failed" "$fo_requests")
        echo "$line" >&2
        pair_lines+="$line"$'\n'
        pair_json+=$(printf ',\n  "pair_v%s_advert_s": %s,\n  "pair_v%s_apache_outage_s": %.2f,\n  "pair_v%s_apache_failed": %d,\n  "pair_v%s_apache_requests": %d,\n  "pair_v%s_after_out_failed": %d,\n  "pair_v%s_after_out_requests": %d,\n  "pair_v%s_vip_outage_s": %.2f,\n  "pair_v%s_vip_failed": %d,\n  "pair_v%s_vip_requests": %d,\n  "pair_v%s_failover_outage_s": %.2f,\n  "pair_v%s_failover_failed": %d,\n  "pair_v%s_failover_requests": %d' \
            "$version" "$advert" "$version" "$out_s" "$version" "$rs_failed" "$version" "$rs_requests" "$version" "$after_failed" "$version" "$after_requests" \
            "$version" "$vip_out_s" "$version" "$vip_failed" "$version" "$vip_requests" \
            "$version" "$failover_s" "$version" "$fo_failed" "$version" "$fo_requests")
    done
fi

pulumi destroy --yes --skip-preview >/dev/null
bash lab/lab.sh down >/dev/null

printf '\nlvs-dr lab benchmark (%s, %s cores, qemu TCG)\n' "$(date -u +%F)" "$(nproc)"
printf '  all 5 VMs answer SSH:          %6.1f s\n' "$ssh_ready"
printf '  cold pulumi up:                %6.1f s (%d resources)\n' "$cold_up" "$resources"
printf '  no-op pulumi up:               %6.1f s, host scripts run: %d\n' "$noop_up" "$noop_runs"
printf '  pulumi preview:                %6.1f s\n' "$preview"
printf '  pulumi preview --refresh:      %6.1f s\n' "$preview_refresh"
printf '  state (pulumi stack export):   %6d bytes\n' "$state_bytes"
printf '  reply-path offload (10 MB):    director eth1 sent %d B, client received %d B: %.2f %%\n' "$dr_tx" "$dr_rx" "$dr_offload"
[ -z "$tun_line" ] || printf '%s\n' "$tun_line"
[ -z "$nat_line" ] || printf '%s\n' "$nat_line"
printf '  requests/s via VIP vs direct:  %.1f vs %.1f (ratio %.2f)\n' "$vip_rps" "$direct_rps" "$ratio"
printf '%s' "$pair_lines"

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
  "offload_director_tx_bytes": $dr_tx,
  "offload_client_rx_bytes": $dr_rx,
  "offload_percent": $dr_offload,
  "vip_rps": $(printf '%.1f' "$vip_rps"),
  "direct_rps": $(printf '%.1f' "$direct_rps"),
  "vip_direct_ratio": $ratio$tun_json$nat_json$pair_json
}
JSON
echo "  (written to $RESULTS)"
