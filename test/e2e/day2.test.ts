/**
 * Day-2 operations on the lab: changes under a steady, checked load finish with zero failed
 * requests, and drift made by hand is shown by `pulumi preview --refresh` (the affected component
 * only) and repaired by `pulumi up --refresh`. Runs after cluster.test.ts (the sequencer sorts by name).
 */
import * as fs from "fs";
import * as path from "path";
import { parseDocument } from "yaml";
import { check, lab, onVm, pulumi, ROOT, step } from "./lab";

jest.setTimeout(30 * 60_000);

const VIP = "10.86.0.180";
const PAGES = ["this is kgc web!", "this is benet web!"];
const STACK_FILE = path.join(ROOT, "Pulumi.lab.yaml");
const LOAD_DIR = "/tmp/lvs-dr-load";
const MIN_RPS = 20;

/** Edits the lab stack's config (the test owns Pulumi.lab.yaml while it runs). */
function editConfig(edit: (config: any) => void): void {
    const doc = parseDocument(fs.readFileSync(STACK_FILE, "utf8"));
    const config = doc.get("config", true) as any;
    const plain = config.toJSON();
    edit(plain);
    for (const [k, v] of Object.entries(plain)) {
        if (k.startsWith("lvs-dr:") && k !== "lvs-dr:sshPrivateKey") doc.setIn(["config", k], doc.createNode(v));
    }
    fs.writeFileSync(STACK_FILE, doc.toString());
}

interface LoadReport {
    requests: number;
    failures: string[];
    seconds: number;
    rps: number;
    bodies: Record<string, number>;
}

/** Runs `action` while the client sends a steady, checked load to the VIP; returns what it saw. */
function underLoad(action: () => void, expected = PAGES): LoadReport {
    const args = [`http://${VIP}/`, "3", LOAD_DIR, ...expected].map((a) => `'${a}'`).join(" ");
    onVm("client", `nohup bash /root/load.sh ${args} >/dev/null 2>&1 &`);
    onVm("client", "sleep 3");
    try {
        action();
    } finally {
        onVm("client", `sleep 2; touch ${LOAD_DIR}/stop; while [ ! -e ${LOAD_DIR}/stopped ]; do sleep 0.2; done`);
    }
    const lines = onVm("client", `cat ${LOAD_DIR}/worker-*.log`).stdout.trim().split("\n").filter(Boolean);
    const times = onVm("client", `cat ${LOAD_DIR}/started ${LOAD_DIR}/stopped`).stdout.trim().split("\n").map(Number);
    const seconds = times[1] - times[0];
    const bodies: Record<string, number> = {};
    for (const l of lines.filter((l) => l.startsWith("ok "))) bodies[l.slice(3)] = (bodies[l.slice(3)] ?? 0) + 1;
    const report = { requests: lines.length, failures: lines.filter((l) => !l.startsWith("ok ")), seconds, rps: lines.length / seconds, bodies };
    process.stderr.write(`[e2e] load: ${report.requests} requests in ${seconds.toFixed(1)} s (${report.rps.toFixed(1)}/s), ${report.failures.length} failed, by page: ${JSON.stringify(bodies)}\n`);
    return report;
}

function expectNoFailures(r: LoadReport, what: string): void {
    check(r.failures.length === 0, "client", `${r.failures.length} of ${r.requests} requests failed during ${what}`, r.failures.slice(0, 20));
    check(r.rps >= MIN_RPS, "client", `the load was ${r.rps.toFixed(1)} requests/s during ${what}, below ${MIN_RPS}/s`, r);
}

function ipvsTable(): string {
    return onVm("director", "ipvsadm -S -n").stdout;
}

function serviceConns(): number {
    const line = onVm("director", "ipvsadm -Ln --stats").stdout.split("\n").find((l) => l.startsWith(`TCP  ${VIP}:80`));
    return Number(line?.trim().split(/\s+/)[2] ?? -1);
}

function bothPagesThroughVip(): void {
    const replies = onVm("client", `for i in $(seq 20); do curl -sS --fail --max-time 5 http://${VIP}/; echo; done`).stdout.trim().split("\n");
    for (const page of PAGES) check(replies.includes(page), "client", `"${page}" was not served through the VIP`, replies);
}

/** The resources a `pulumi preview --refresh` would change, as names. */
function refreshPlan(): string[] {
    const out = pulumi(["preview", "--refresh", "--json"]).stdout;
    const steps: { op: string; urn: string }[] = JSON.parse(out).steps ?? [];
    return steps.filter((s) => !["same", "refresh", "read"].includes(s.op)).map((s) => `${s.op} ${s.urn.split("::").pop()}`);
}

beforeAll(() => {
    step("day-2: deploy the cluster and start web3");
    lab(["up", "web3"]);
    pulumi(["up", "--yes", "--skip-preview"]);
    onVm("client", "cat > /root/load.sh", { input: fs.readFileSync(path.join(__dirname, "load.sh"), "utf8") });
});

describe("changes under load, with zero failed requests", () => {
    test("add a third web server", () => {
        step("day-2: add web3");
        const r = underLoad(() => {
            editConfig((c) => {
                c["lvs-dr:services"][0].realServers.push({ host: "web3" });
                c["lvs-dr:mounts"].push({ host: "web3", server: "nfs", export: "/srv/lvs/kgc", path: "/var/www/html" });
            });
            pulumi(["up", "--yes", "--skip-preview"]);
        });
        expectNoFailures(r, "adding web3");
        check(ipvsTable().includes("-r 10.86.0.33:80 -g -w 1"), "director", "web3 is not a real server", ipvsTable());
    });

    test("change a weight: the real server is edited in place", () => {
        step("day-2: weight");
        let up = "";
        const r = underLoad(() => {
            editConfig((c) => (c["lvs-dr:services"][0].realServers[0].weight = 3));
            up = pulumi(["up", "--yes", "--skip-preview", "--show-replacement-steps"]).stdout;
        });
        expectNoFailures(r, "the weight change");
        check(/web-real-web1\s+updated/.test(up) && !/replaced|deleted/.test(up), "(engine)", "the real server was not updated in place", up);
        check(ipvsTable().includes("-r 10.86.0.11:80 -g -w 3"), "director", "web1's weight is not 3", ipvsTable());
    });

    test("switch the scheduler rr -> wlc -> rr: the service is edited in place", () => {
        step("day-2: scheduler");
        for (const scheduler of ["wlc", "rr"]) {
            const connsBefore = serviceConns();
            const r = underLoad(() => {
                editConfig((c) => (c["lvs-dr:services"][0].scheduler = scheduler));
                pulumi(["up", "--yes", "--skip-preview"]);
            });
            expectNoFailures(r, `the switch to ${scheduler}`);
            check(ipvsTable().includes(`-A -t ${VIP}:80 -s ${scheduler}`), "director", `the scheduler is not ${scheduler}`, ipvsTable());
            // A delete and re-add would have reset the service's connection counter.
            check(serviceConns() >= connsBefore, "director", "the service's counters were reset: it was re-created", { connsBefore, after: serviceConns() });
        }
    });

    test("change the persistence timeout", () => {
        step("day-2: persistence");
        for (const persistence of [30, 0]) {
            const r = underLoad(() => {
                editConfig((c) => (c["lvs-dr:services"][0].persistence = persistence));
                pulumi(["up", "--yes", "--skip-preview"]);
            });
            expectNoFailures(r, `persistence ${persistence}`);
            const table = ipvsTable();
            check(persistence ? table.includes(`-p ${persistence}`) : !table.includes(" -p "), "director", `persistence is not ${persistence}`, table);
        }
    });

    test("drain and remove a web server", () => {
        step("day-2: drain and remove web3");
        let up = "";
        const r = underLoad(() => {
            editConfig((c) => {
                c["lvs-dr:services"][0].realServers = c["lvs-dr:services"][0].realServers.filter((x: any) => x.host !== "web3");
                c["lvs-dr:mounts"] = c["lvs-dr:mounts"].filter((m: any) => m.host !== "web3");
                c["lvs-dr:services"][0].realServers[0].weight = 1;
            });
            up = pulumi(["up", "--yes", "--skip-preview"]).stdout;
        });
        expectNoFailures(r, "draining and removing web3");
        const drain = up.split("\n").find((l) => l.includes("drained 10.86.0.33:80"));
        process.stderr.write(`[e2e] ${drain?.trim() ?? "(no drain line in the output)"}\n`);
        check(drain !== undefined, "director", "web3 was not drained before its removal", up);
        check(!ipvsTable().includes("10.86.0.33"), "director", "web3 is still a real server", ipvsTable());
        const left = onVm("web3", "ip -o -4 addr show dev lo; findmnt -n /var/www/html || true").stdout;
        check(!left.includes(VIP) && !left.includes("10.86.0.77"), "web3", "web3 still holds the VIP or the mount", left);
    });
});

describe("drift: preview --refresh shows the affected component, up --refresh repairs it", () => {
    test("an untouched cluster shows no changes", () => {
        step("drift: untouched");
        const plan = refreshPlan();
        check(plan.length === 0, "(engine)", "preview --refresh found changes on an untouched cluster", plan);
    });

    const cases: Array<[string, string, string, string]> = [
        ["ipvsadm -C on the director", "director", "ipvsadm -C", "web-live"],
        ["a real server deleted with ipvsadm -d", "director", `ipvsadm -d -t ${VIP}:80 -r 10.86.0.22:80`, "web-live"],
        ["the VIP removed from web1's lo", "web1", `ip address del ${VIP}/32 dev lo`, "web1-live"],
        ["arp_ignore set back to 0 on web2", "web2", "sysctl -qw net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.eth1.arp_ignore=0", "web2-live"],
        ["the NFS mount unmounted on web1", "web1", "umount /var/www/html", "web1-live"],
        ["an export line removed on nfs", "nfs", "rm /etc/exports.d/lvs-dr-kgc-*.exports && exportfs -ra", "nfs-live"],
    ];
    test.each(cases)("%s", (what, vm, command, live) => {
        step(`drift: ${what}`);
        onVm(vm, command);
        const plan = refreshPlan();
        check(JSON.stringify(plan) === JSON.stringify([`update ${live}`]), "(engine)", `preview --refresh should plan only "update ${live}"`, plan);
        pulumi(["up", "--refresh", "--yes", "--skip-preview"]);
        bothPagesThroughVip();
        const after = refreshPlan();
        check(after.length === 0, "(engine)", "drift remains after up --refresh", after);
    });
});

afterAll(() => {
    step("day-2: destroy");
    pulumi(["destroy", "--yes", "--skip-preview"]);
});
