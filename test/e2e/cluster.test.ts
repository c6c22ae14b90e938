/**
 * End to end on the lab's real kernels: `pulumi up` turns five bare VMs into a working LVS-DR
 * cluster, it survives reboots, and `pulumi destroy` leaves the hosts as they were (data kept).
 * Needs the lab up and the lab stack prepared (scripts/test.sh does both).
 */
import { check, lab, onVm, pulumi, step } from "./lab";

// Each step drives real VMs under software emulation: minutes, not seconds.
jest.setTimeout(30 * 60_000);

const VIP = "10.86.0.180";
const CLIENT = "client";
const CLUSTER_VMS = ["director", "web1", "web2", "nfs"];
const PAGES = ["this is kgc web!", "this is benet web!"];
const SYSCTLS: Record<string, string[]> = {
    director: ["net/ipv4/ip_forward", "net/ipv4/conf/all/send_redirects", "net/ipv4/conf/default/send_redirects", "net/ipv4/conf/eth1/send_redirects"],
    web1: ["net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_announce", "net/ipv4/conf/lo/arp_ignore", "net/ipv4/conf/eth1/arp_ignore", "net/ipv4/conf/eth1/arp_announce"],
    web2: ["net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_announce", "net/ipv4/conf/lo/arp_ignore", "net/ipv4/conf/eth1/arp_ignore", "net/ipv4/conf/eth1/arp_announce"],
};

function sysctls(vm: string): Record<string, string> {
    const keys = SYSCTLS[vm];
    const out = onVm(vm, keys.map((k) => `cat /proc/sys/${k}`).join("; ")).stdout.trim().split("\n");
    return Object.fromEntries(keys.map((k, i) => [k, out[i]]));
}

/** `n` requests to the VIP from the client; each must succeed. */
function requests(n: number, urlPath = "/"): string[] {
    const cmd = `for i in $(seq ${n}); do curl -sS --fail --max-time 5 http://${VIP}${urlPath}; echo; done`;
    return onVm(CLIENT, cmd).stdout.trim().split("\n").filter(Boolean);
}

function checkRoundRobin(replies: string[]): void {
    check(replies.length === 20, CLIENT, `expected 20 replies through the VIP, got ${replies.length}`, replies);
    for (const page of PAGES) check(replies.includes(page), CLIENT, `no reply was "${page}"`, replies);
    for (let i = 1; i < replies.length; i++) {
        check(replies[i] !== replies[i - 1], CLIENT, `replies ${i - 1} and ${i} came from the same server: not round-robin`, replies);
    }
}

function journalRuns(vm: string): number {
    return Number(onVm(vm, "journalctl -q -t lvs-dr -o cat | wc -l").stdout.trim());
}

function macOf(vm: string, iface: string): string {
    return onVm(vm, `cat /sys/class/net/${iface}/address`).stdout.trim().toLowerCase();
}

const before: Record<string, Record<string, string>> = {};

beforeAll(() => {
    step("before: record the hosts' own settings");
    for (const vm of Object.keys(SYSCTLS)) before[vm] = sysctls(vm);
});

test("1. pulumi up on the lab stack succeeds", () => {
    step("step 1: pulumi up");
    pulumi(["up", "--yes", "--skip-preview"]);
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
});

test("5. a second pulumi up reports no changes and runs no remote command", () => {
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
    const state = JSON.parse(pulumi(["stack", "export"]).stdout);
    const resources: any[] = state.deployment.resources;
    const components = new Map(resources.filter((r) => r.type.startsWith("lvs:index:")).map((r) => [r.urn, r]));
    const commands = resources.filter((r) => r.type === "command:remote:Command");
    check(commands.length === 17, "(engine)", `expected 17 remote commands in the state, found ${commands.length}`, commands.map((c) => c.urn));
    for (const c of commands) {
        const parent = components.get(c.parent);
        const vm = parent.type === "lvs:index:VirtualService" ? "director" : parent.urn.split("::").pop();
        const out = onVm(vm, "bash -s apply", { input: c.inputs.stdin }).stdout;
        check(/: apply: no changes$/m.test(out), vm, `${c.urn.split("::").pop()} changed something on its second run`, out);
    }
});

test("6. after rebooting director, web1, web2 and nfs the service comes back by itself", () => {
    step("step 6: reboot");
    lab(["reboot", ...CLUSTER_VMS]);
    // Services start in their own time after SSH answers: allow them a minute.
    let replies: string[] = [];
    for (let i = 0; i < 30; i++) {
        const r = onVm(CLIENT, `for i in $(seq 20); do curl -sS --fail --max-time 5 http://${VIP}/ || echo FAIL; echo; done`, { allowFail: true });
        replies = r.stdout.trim().split("\n").filter(Boolean);
        if (replies.length === 20 && !replies.includes("FAIL")) break;
        onVm(CLIENT, "sleep 3");
    }
    checkRoundRobin(replies);
});

test("7. pulumi destroy leaves the hosts clean and the data in place", () => {
    step("step 7: destroy");
    pulumi(["destroy", "--yes", "--skip-preview"]);
    const table = onVm("director", "ipvsadm -S -n").stdout.trim();
    check(table === "", "director", "IPVS services are left", table);
    for (const vm of ["director", "web1", "web2"]) {
        const addrs = onVm(vm, "ip -o -4 addr show").stdout;
        check(!addrs.includes(`${VIP}/32`), vm, "the VIP is still held", addrs);
        check(JSON.stringify(sysctls(vm)) === JSON.stringify(before[vm]), vm, "kernel settings differ from before the first up", { before: before[vm], after: sysctls(vm) });
        const units = onVm(vm, "ls /etc/systemd/system | grep -c lvs-dr || true").stdout.trim();
        check(units === "0", vm, "lvs-dr units are left in /etc/systemd/system", units);
    }
    for (const vm of ["web1", "web2"]) {
        const mounts = onVm(vm, "findmnt -n -t nfs,nfs4 || true").stdout.trim();
        check(mounts === "", vm, "NFS mounts are left", mounts);
    }
    const exported = onVm("nfs", "exportfs -v; ls /etc/exports.d").stdout;
    check(!exported.includes("/srv/lvs"), "nfs", "our exports are left", exported);
    const data = onVm("nfs", "cat /srv/lvs/kgc/index.html /srv/lvs/benet/index.html /srv/lvs/kgc/probe.txt").stdout;
    check(data.includes(PAGES[0]) && data.includes(PAGES[1]) && data.includes("probe-"), "nfs", "export data was deleted", data);
});
