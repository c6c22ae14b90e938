/**
 * End to end on the lab's real kernels: `pulumi up` turns five bare VMs into a working LVS-DR
 * cluster, and it survives reboots. The deployment goes on to the next suites (converge, day2, ha);
 * the last one's `pulumi destroy` must leave every host exactly as this suite first found it.
 * Needs the lab up and the lab stack prepared (scripts/test.sh does both).
 */
import {
    check,
    CLUSTER_VMS,
    baseline,
    journalRuns,
    lab,
    LATER_VMS,
    onVm,
    PAGES,
    pulumi,
    requests,
    step,
    VIP,
} from "./lab";

// Each step drives real VMs under software emulation: minutes, not seconds.
jest.setTimeout(30 * 60_000);

const CLIENT = "client";

function checkRoundRobin(replies: string[]): void {
    check(replies.length === 20, CLIENT, `expected 20 replies through the VIP, got ${replies.length}`, replies);
    for (const page of PAGES) check(replies.includes(page), CLIENT, `no reply was "${page}"`, replies);
    for (let i = 1; i < replies.length; i++) {
        check(replies[i] !== replies[i - 1], CLIENT, `replies ${i - 1} and ${i} came from the same server: not round-robin`, replies);
    }
}

function macOf(vm: string, iface: string): string {
    return onVm(vm, `cat /sys/class/net/${iface}/address`).stdout.trim().toLowerCase();
}

const runsAfterFirstUp: Record<string, number> = {};

beforeAll(() => {
    step("before: a firewall on web2, then record what every host looks like");
    // A real server with an active firewall (ufw): lvs-dr must open just its port, and close it again.
    onVm("web2", "ufw allow 22/tcp >/dev/null && ufw --force enable >/dev/null && ufw status | head -1");
    // Kept for the last suite's destroy (lab.ts, baseline).
    baseline(CLUSTER_VMS);
});

test("1. pulumi up on the lab stack succeeds, and every host logs the scripts it ran", () => {
    step("step 1: pulumi up");
    const runsBefore = Object.fromEntries(CLUSTER_VMS.map((vm) => [vm, journalRuns(vm)]));
    pulumi(["up", "--yes", "--skip-preview"]);
    for (const vm of CLUSTER_VMS) {
        runsAfterFirstUp[vm] = journalRuns(vm);
        // The positive control of step 5: the count sees runs when there are some.
        check(runsAfterFirstUp[vm] > runsBefore[vm], vm, "no host script run was logged during the first up", runsAfterFirstUp);
    }
});

test("2. 20 requests to the VIP from the client return both pages in round-robin alternation", () => {
    step("step 2: round robin through the VIP");
    checkRoundRobin(requests(20));
});

test("3. the content comes from NFS: a file written into an export is served through the VIP", () => {
    step("step 3: content from NFS");
    const stamp = `probe-${Date.now()}`;
    onVm("nfs", `printf '%s kgc\\n' ${stamp} > /srv/lvs/kgc/probe.txt && printf '%s benet\\n' ${stamp} > /srv/lvs/benet/probe.txt`);
    const replies = requests(4, "/probe.txt");
    check(replies.includes(`${stamp} kgc`) && replies.includes(`${stamp} benet`), CLIENT, "the probe files written on nfs were not both served", replies);
});

test("4. it is really DR: IPVS counts packets in and none out; only the director answers ARP for the VIP", () => {
    step("step 4: direct routing");
    const stats = onVm("director", "ipvsadm -Ln --stats").stdout;
    const line = stats.split("\n").find((l) => l.startsWith(`TCP  ${VIP}:80`));
    check(line !== undefined, "director", "no IPVS service for the VIP", stats);
    const [, , , inPkts, outPkts] = line!.trim().split(/\s+/);
    check(Number(inPkts) > 0, "director", `InPkts is ${inPkts}: no packet went through IPVS`, stats);
    check(outPkts === "0", "director", `OutPkts is ${outPkts}: replies went back through the director (not DR)`, stats);

    const directorMac = macOf("director", "eth1");
    const webMacs = [macOf("web1", "eth1"), macOf("web2", "eth1")];
    const neigh = onVm(CLIENT, `ip neigh show ${VIP} dev eth1`).stdout.toLowerCase();
    check(neigh.includes(directorMac), CLIENT, `the neighbour entry for the VIP is not the director's MAC ${directorMac}`, neigh);
    const arping = onVm(CLIENT, `arping -c 3 -w 6 -I eth1 ${VIP}`, { allowFail: true }).stdout.toLowerCase();
    const replyMacs = [...arping.matchAll(/from ([0-9a-f:]{17})/g)].map((m) => m[1]);
    check(replyMacs.length >= 3, CLIENT, "arping for the VIP got fewer than 3 replies", arping);
    check(replyMacs.every((m) => m === directorMac), CLIENT, `an ARP reply for the VIP came from another MAC (web servers: ${webMacs.join(", ")})`, arping);
    // Not forwarding makes the director a host, which obeys ICMP redirects: it must not.
    const redirects = onVm("director", "cat /proc/sys/net/ipv4/conf/{all,eth1}/accept_redirects /proc/sys/net/ipv4/ip_forward").stdout;
    check(redirects.trim().split("\n").join(" ") === "0 0 0", "director", "accept_redirects (all, eth1) and ip_forward are not all 0", redirects);
});

test("4b. when the director brings the VIP up it announces it: a neighbour's stale MAC is replaced at once", () => {
    step("step 4b: gratuitous ARP");
    const directorMac = macOf("director", "eth1");
    const stale = "02:00:00:00:00:01";
    const neighbour = () => onVm(CLIENT, `ip neigh show ${VIP} dev eth1`).stdout.toLowerCase();
    // The client believes another host (a replaced director) holds the VIP.
    onVm(CLIENT, `ip neigh replace ${VIP} lladdr ${stale} dev eth1 nud reachable`);
    onVm(CLIENT, "sleep 2");
    // Positive control: nothing else corrects the entry in that time.
    check(neighbour().includes(stale), CLIENT, "the planted neighbour entry did not hold: this check could not fail", neighbour());
    onVm("director", `systemctl restart lvs-dr-vip-${VIP}.service`);
    onVm(CLIENT, "sleep 1");
    check(neighbour().includes(directorMac), CLIENT, `after the VIP came up the client still has ${stale} for it, not the director's ${directorMac}`, neighbour());
    checkRoundRobin(requests(20));
});

test("4c. with a firewall active, exactly the service port is opened", () => {
    step("step 4c: firewall on web2");
    const status = onVm("web2", "ufw status").stdout;
    check(/^80\/tcp\s+ALLOW/m.test(status), "web2", "80/tcp was not opened in ufw", status);
});

test("5. a second pulumi up reports no changes and runs no host script", () => {
    step("step 5: second pulumi up is a no-op");
    const runsBefore = Object.fromEntries(CLUSTER_VMS.map((vm) => [vm, journalRuns(vm)]));
    const preview = pulumi(["preview", "--expect-no-changes"], { allowFail: true });
    check(preview.status === 0, "(engine)", "pulumi preview --expect-no-changes found changes", preview.stdout + preview.stderr);
    const up = pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    check(!/\b(created|updated|deleted|replaced)\b/.test(up.stdout.replace(/\d+ unchanged/, "")), "(engine)", "the second up changed something", up.stdout);
    for (const vm of CLUSTER_VMS) {
        check(journalRuns(vm) === runsBefore[vm], vm, "a host script ran during the no-op up", onVm(vm, "journalctl -q -t lvs-dr -o cat | tail").stdout);
    }
});

test("5b. every host script, run again by hand, changes nothing and says so", () => {
    step("step 5b: scripts are idempotent");
    const exported = pulumi(["stack", "export"]).stdout;
    // Each host's scripts are in the state once (as hashes), not once per resource: at most a fifth of
    // the 1.48 MB that a copy of lib.sh in every command made.
    process.stderr.write(`[e2e] state: ${exported.length} bytes (pulumi stack export)\n`);
    check(exported.length <= 296_000, "(engine)", `the exported state is ${exported.length} bytes, above 296000`, "");
    const state = JSON.parse(exported);
    const resources: any[] = state.deployment.resources;
    const components = new Map(resources.filter((r) => r.type.startsWith("lvs:index:")).map((r) => [r.urn, r]));
    const commands = resources.filter((r) => r.type === "command:remote:Command");
    // director: modules, sysctl, keepalived, VIP; web1 and web2: ARP, VIP, web server, mount; nfs:
    // server and two exports, each with its admission of clients; the service and its two real servers.
    check(commands.length === 20, "(engine)", `expected 20 remote commands in the state, found ${commands.length}`, commands.map((c) => c.urn));
    for (const c of commands) {
        const parent = components.get(c.parent);
        const vm = parent.type === "lvs:index:VirtualService" ? "director" : parent.urn.split("::").pop();
        const out = onVm(vm, "bash -s apply", { input: c.inputs.stdin }).stdout;
        check(/: apply: no changes$/m.test(out), vm, `${c.urn.split("::").pop()} changed something on its second run`, out);
    }
});

test("6. after rebooting director, web1, web2 and nfs the service comes back by itself, even with the NFS server late", () => {
    step("step 6: reboot, the NFS server coming up minutes after the web servers");
    // The NFS server will not start at boot: the web servers must wait for their content (past
    // systemd's 90 s start timeout), not give up and leave Apache down. It reboots as soon as the
    // web servers have unmounted its exports on their way down: were it gone first, each web
    // server's shutdown would wait out its mount's 90 s timeout (see README, Limits).
    onVm("nfs", "systemctl disable --quiet nfs-server");
    const nfsBoot = onVm("nfs", "cat /proc/sys/kernel/random/boot_id").stdout.trim();
    onVm(
        "nfs",
        "systemd-run --quiet --unit=lab-nfs-late bash -c " +
            `'sleep 5; for i in $(seq 120); do ss -Htn state established "( sport = :2049 )" | grep -q . || break; sleep 1; done; systemctl reboot'`,
    );
    lab(["reboot", "director", "web1", "web2"]);
    // The next minutes are spent waiting on purpose (the web servers' mounts must wait past 100 s):
    // the later suites' VMs boot meanwhile, on cores that would idle (about two minutes of the
    // emulated lab's two cores; day2.test.ts waits for them, or boots them when run alone).
    lab(["start", "--no-wait", ...LATER_VMS]);
    let nfsBack = false;
    for (let i = 0; i < 60 && !nfsBack; i++) {
        const r = onVm("nfs", "cat /proc/sys/kernel/random/boot_id", { allowFail: true });
        nfsBack = r.status === 0 && r.stdout.trim() !== "" && r.stdout.trim() !== nfsBoot;
        if (!nfsBack) onVm(CLIENT, "sleep 5");
    }
    check(nfsBack, "nfs", "the NFS server did not reboot", nfsBoot);
    // The NFS service stays down until each web server's content mount has waited past systemd's
    // 90 s start timeout (where a plain mount unit gives up and leaves Apache down for good).
    let waits: Record<string, { state: string; seconds: number }> = {};
    const waitedPastTimeout = () => Object.values(waits).every((w) => w.state === "activating" && w.seconds >= 100);
    for (let i = 0; i < 60; i++) {
        waits = Object.fromEntries(["web1", "web2"].map((vm) => [vm, nfsWait(vm)]));
        if (waitedPastTimeout()) break;
        onVm(CLIENT, "sleep 5");
    }
    check(
        waitedPastTimeout(),
        "web1, web2",
        "the web servers' content mounts are not waiting for the NFS server (want: activating for 100 s or more)",
        waits,
    );
    const down = onVm(CLIENT, `curl -sS --max-time 3 http://${VIP}/ || echo FAIL`, { allowFail: true }).stdout;
    // Positive control: without the NFS server the VIP serves nothing yet.
    check(!PAGES.some((p) => down.includes(p)), CLIENT, "a page was served while the NFS server was down: this step tests nothing", down);
    onVm("nfs", "systemctl enable --quiet --now nfs-server");
    let replies: string[] = [];
    for (let i = 0; i < 40; i++) {
        const r = onVm(CLIENT, `for i in $(seq 20); do curl -sS --fail --max-time 2 http://${VIP}/ || echo FAIL; echo; done`, { allowFail: true });
        replies = r.stdout.trim().split("\n").filter(Boolean);
        if (replies.length === 20 && !replies.includes("FAIL")) break;
        onVm(CLIENT, "sleep 3");
    }
    checkRoundRobin(replies);
    // keepalived (which makes the IPVS table) starts before the VIP comes up (the VIP unit is ordered after it).
    const order = onVm("director", `systemctl show -p After lvs-dr-vip-${VIP}.service`).stdout;
    check(order.includes("lvs-dr-keepalived.service"), "director", "the VIP unit is not ordered after keepalived", order);
});

/** The state of `vm`'s lvs-dr NFS wait unit, and for how many seconds it has been in it. */
function nfsWait(vm: string): { state: string; seconds: number } {
    const out = onVm(
        vm,
        "u=$(systemctl list-units --all --plain --no-legend 'lvs-dr-nfs-wait-*.service' | awk 'NR == 1 { print $1 }'); " +
            "[ -n \"$u\" ] && echo \"$(systemctl show -P ActiveState \"$u\") $(systemctl show -P StateChangeTimestampMonotonic \"$u\") $(cut -d' ' -f1 /proc/uptime)\"",
        { allowFail: true },
    ).stdout.trim();
    const [state, since, uptime] = out.split(" ");
    if (!state) return { state: "(no lvs-dr-nfs-wait unit)", seconds: 0 };
    return { state, seconds: Math.round(Number(uptime) - Number(since) / 1e6) };
}
