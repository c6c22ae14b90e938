/**
 * Helpers for the end-to-end suite: run commands on the lab VMs and the Pulumi CLI, and turn every
 * failure into a message that names the step, the host and the command's output.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDocument } from "yaml";

export const ROOT = path.join(__dirname, "..", "..");
export const STACK = "lab";

export interface Result {
    status: number;
    stdout: string;
    stderr: string;
}

let currentStep = "setup";
let failedStep: string | undefined;
const started = Date.now();
/**
 * Names the step that the following commands belong to, for failure messages. The steps of a file
 * build on each other: once one failed, the next ones fail at once instead of waiting on a broken lab.
 */
export function step(name: string): void {
    if (failedStep) throw new Error(`${name}: not run, because an earlier step failed (${failedStep})`);
    reportCpu();
    currentStep = name;
    process.stderr.write(`\n[e2e ${new Date().toISOString().slice(11, 19)} +${Math.round((Date.now() - started) / 1000)}s] ${name}\n`);
}

/** CPU time so far: the machine's busy jiffies, and each running VM's qemu (user + system). */
interface CpuSample {
    at: number;
    busy: number;
    vms: Record<string, number>;
}
let lastCpu: CpuSample | undefined;
const TICKS = 100; // USER_HZ: /proc's clock ticks per second on Linux

function cpuSample(): CpuSample {
    // /proc/stat's first line: cpu user nice system idle iowait irq softirq steal ...
    const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = f.reduce((a, b) => a + b, 0) - f[3] - f[4];
    const vms: Record<string, number> = {};
    const pids = spawnSync("bash", ["lab/lab.sh", "pids"], { cwd: ROOT, encoding: "utf8" }).stdout ?? "";
    for (const [vm, pid] of pids.trim().split("\n").filter(Boolean).map((l) => l.split(" "))) {
        try {
            // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            vms[vm] = Number(rest[11]) + Number(rest[12]);
        } catch {
            // gone since lab.sh listed it
        }
    }
    return { at: Date.now(), busy, vms };
}

/**
 * Where the last step's CPU went (the lab is CPU-bound: two cores for all the VMs): the machine's
 * busy CPU-seconds over its wall time, each VM's share (a VM that stopped or started meanwhile counts
 * what it used while both samples saw it), and the rest (the engine, the tests, anything else).
 */
function reportCpu(): void {
    const now = cpuSample();
    const prev = lastCpu;
    lastCpu = now;
    if (!prev) return;
    const wall = (now.at - prev.at) / 1000;
    const busy = (now.busy - prev.busy) / TICKS;
    const used = Object.entries(now.vms)
        .filter(([vm]) => prev.vms[vm] !== undefined)
        .map(([vm, t]) => [vm, (t - prev.vms[vm]) / TICKS] as const)
        .sort((a, b) => b[1] - a[1]);
    const vmSum = used.reduce((a, [, t]) => a + t, 0);
    process.stderr.write(
        `[e2e] cpu: ${busy.toFixed(0)} s busy in ${wall.toFixed(0)} s (${os.cpus().length} cores); ` +
            `${used.filter(([, t]) => t >= 0.5).map(([vm, t]) => `${vm} ${t.toFixed(0)}`).join(", ")}; other ${(busy - vmSum).toFixed(0)}\n`,
    );
}

/** Whether a step of this file failed (cleanup then leaves the lab as it is, for a look). */
export function failed(): boolean {
    return failedStep !== undefined;
}

/**
 * Starts a group of steps that does not build on the ones before: it brings the lab to a known
 * state itself, so an earlier failure does not stop it.
 */
export function independent(): void {
    failedStep = undefined;
}

function fail(message: string): never {
    failedStep ??= currentStep;
    throw new Error(message);
}

/**
 * The lines of a command's output that say "error" (at most 60): Pulumi prints its diagnostics
 * before the outputs and the summary, so the tail of a failed `up` does not say which resource failed
 * or why (a cold run lost that: "3 errored", nothing more).
 */
export function errorLines(output: string): string[] {
    return output
        .split("\n")
        .filter((l) => /\berror/i.test(l))
        .slice(0, 60);
}

function run(
    label: string,
    cmd: string,
    args: string[],
    input?: string,
    allowFail = false,
    timeoutMs = 20 * 60_000,
    env: NodeJS.ProcessEnv = process.env,
): Result {
    const r = spawnSync(cmd, args, { cwd: ROOT, input, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20, env });
    const res = { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    if (!allowFail && res.status !== 0) {
        fail(
            `${currentStep}: ${label} failed (exit ${res.status}${r.error ? `, ${r.error.message}` : ""})\n` +
                `--- error lines ---\n${errorLines(res.stdout + "\n" + res.stderr).join("\n")}\n` +
                `--- stdout ---\n${res.stdout.slice(-6000)}\n--- stderr ---\n${res.stderr.slice(-6000)}`,
        );
    }
    return res;
}

/** Runs a shell command on a lab VM as root. */
export function onVm(vm: string, command: string, opts: { input?: string; allowFail?: boolean } = {}): Result {
    return run(`on ${vm}: ${command}`, "bash", ["lab/lab.sh", "ssh", vm, command], opts.input, opts.allowFail);
}

/**
 * The Pulumi CLI of this checkout on the lab stack. The program is not type-checked again at every
 * run (the unit stage's tsc did that): about 2.5 s less for each of the suite's ~45 runs.
 */
export function pulumi(args: string[], opts: { allowFail?: boolean } = {}): Result {
    const env = { ...process.env, PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
    return run(`pulumi ${args.join(" ")}`, "bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], undefined, opts.allowFail, 20 * 60_000, env);
}

export function lab(args: string[]): Result {
    return run(`lab/lab.sh ${args.join(" ")}`, "bash", ["lab/lab.sh", ...args]);
}

/**
 * Runs a shell command on several VMs at once; a VM that is not running (or fails) is skipped: for
 * the tests' own instruments, never for what they check.
 */
function onVms(vms: string[], command: string): void {
    const script = 'cmd=$1; shift; for vm in "$@"; do bash lab/lab.sh ssh "$vm" "$cmd" >/dev/null 2>&1 </dev/null & done; wait';
    run(`on ${vms.join(", ")}: ${command}`, "bash", ["-c", script, "_", command, ...vms], undefined, true);
}

/** Fails the current step with a message naming the host, unless `ok`. */
export function check(ok: boolean, host: string, what: string, output: unknown): void {
    if (!ok) {
        fail(`${currentStep}: on ${host}: ${what}\n--- output ---\n${typeof output === "string" ? output : JSON.stringify(output, null, 2)}`);
    }
}

// ---------------------------------------------------------------------------------------------
// The lab stack's config, a checked load through the VIP, and what lvs-dr may leave on a host.

export const STACK_FILE = path.join(ROOT, "Pulumi.lab.yaml");
export const VIP = "10.86.0.180";
/** The firewall-mark service's VIP (day2.test.ts adds it to the pair under load; ha.test.ts fails it over). */
export const VIP2 = "10.86.0.181";
/** An IPv6 VIP on the lab's fd86:86::/64 (day2.test.ts adds it and a service of web1 and web2 under load). */
export const VIP6 = "fd86:86::180";
/** The client VM's address on the data plane (lab.sh). */
const CLIENT = "10.86.0.1";
export const PAGES = ["this is kgc web!", "this is benet web!"];
export const CLUSTER_VMS = ["director", "web1", "web2", "nfs"];
/**
 * The VMs day2.test.ts brings in: web3, director2, web4 with the router in front of its network, and
 * web5 on the network only the directors reach (a NAT real server).
 * The cluster suite starts their boot while it waits on purpose (see there); day2 waits for them.
 */
export const LATER_VMS = ["web3", "director2", "router", "web4", "web5"];
/** The director pair that day2.test.ts makes of the cluster and ha.test.ts fails over. */
export const DIRECTORS = ["director", "director2"];
const LOAD_DIR = "/tmp/lvs-dr-load";
// The load's positive control: a check of 0 failed requests means something only if requests kept
// coming during the change. At 5 requests/s an outage of one second shows as about five failures.
// Not a speed figure: load.sh paces its 3 workers at 5/s each (15/s at most); unpaced, the emulated
// lab ran 19-37/s, and a cold run's converge step once measured 18.9 against an earlier floor of 20
// and failed with 0 failed requests.
const MIN_RPS = 5;

/** Edits the lab stack's config (a test owns Pulumi.lab.yaml while it runs). */
export function editConfig(edit: (config: any) => void): void {
    fs.writeFileSync(STACK_FILE, editConfigText(fs.readFileSync(STACK_FILE, "utf8"), edit));
}

/**
 * A stack config file's text with `edit` applied to its lvs-dr entries (the rest, comments and the
 * secret kept as they are). One object placed twice is written out twice: the YAML library would
 * otherwise write an anchor and aliases, which the next edit read back as `{ source: "a1" }` (a cold
 * run's day2 lost the check type of two services that way).
 */
export function editConfigText(text: string, edit: (config: any) => void): string {
    const doc = parseDocument(text);
    const plain = (doc.toJS() as { config: Record<string, unknown> }).config;
    edit(plain);
    for (const [k, v] of Object.entries(plain)) {
        if (k.startsWith("lvs-dr:") && k !== "lvs-dr:sshPrivateKey") doc.setIn(["config", k], doc.createNode(v, { aliasDuplicateObjects: false }));
    }
    return doc.toString();
}

/** The lab stack's config as it is now (to put it back later). */
export function readConfig(): Record<string, unknown> {
    return (parseDocument(fs.readFileSync(STACK_FILE, "utf8")).get("config", true) as any).toJSON();
}

/**
 * While a load runs, each director records the client's SYNs it receives and forwards: direct
 * routing sends the SYN on to the real server's MAC, a tunnel inside IP-in-IP to its address
 * (ip[32:4]: the inner source, the client; ip[53]: the inner TCP header's flags). A connection the
 * client had to retry shows as its port's SYN seen more than once, and says where each try went (a
 * failed connect has no port of its own in curl's report, so the SYN-ACK capture cannot name its host).
 */
const SYN_LOG = "/tmp/lvs-dr-syns.log";
const CLIENT_HEX = CLIENT.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join("");
const SYN_CAPTURE_START =
    `test -e /tmp/lvs-dr-syns.pid && kill "$(cat /tmp/lvs-dr-syns.pid)" 2>/dev/null; ` +
    `nohup tcpdump -i eth1 -l -nn -e -tt '(tcp and src host ${CLIENT} and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn) or (ip proto 4 and ip[32:4] = 0x${CLIENT_HEX} and ip[53] & 0x12 == 0x02)' ` +
    `>${SYN_LOG} 2>/dev/null </dev/null & echo $! >/tmp/lvs-dr-syns.pid`;
const SYN_CAPTURE_STOP = `test -e /tmp/lvs-dr-syns.pid && kill "$(cat /tmp/lvs-dr-syns.pid)" 2>/dev/null; rm -f /tmp/lvs-dr-syns.pid; true`;

/** One SYN of the client seen on a director: when, the client's port, and the frame's ends. */
export interface SynSeen {
    /** Seconds since the epoch. */
    at: number;
    time: string;
    port: number;
    from: string;
    to: string;
}

/** A capture's epoch seconds as the clock time the hosts' logs print (UTC, HH:MM:SS). */
function clockTime(epochSeconds: number): string {
    return new Date(epochSeconds * 1000).toISOString().slice(11, 19);
}

/** The client's SYNs in a director's capture (SYN_CAPTURE_START), DR and tunnelled alike. */
export function parseSyns(capture: string, macHost: (mac: string) => string): SynSeen[] {
    const seen: SynSeen[] = [];
    for (const line of capture.split("\n")) {
        // DR:  "T MAC1 > MAC2, ethertype IPv4 (0x0800), length 74: 10.86.0.1.40916 > 10.86.0.180.80: Flags [S], ..."
        // TUN: "T MAC1 > MAC2, ethertype IPv4 (0x0800), length 94: 10.86.0.44 > 10.86.0.33: 10.86.0.1.40916 > 10.86.0.180.80: Flags [S], ..."
        const m = /^(\d+)\.\d+ ([0-9a-f:]{17}) > ([0-9a-f:]{17}), .*?: (?:([\d.]+) > ([\d.]+): (?:IP )?)?[\d.]+\.(\d+) > [\d.]+: Flags \[S\]/.exec(line);
        if (!m) continue;
        const at = Number(m[1]);
        seen.push({ at, time: clockTime(at), port: Number(m[6]), from: macHost(m[2]), to: m[5] ? `${macHost(m[3])}, tunnelled to ${m[5]}` : macHost(m[3]) });
    }
    return seen;
}

/** The directors' view of the connections the client retried: each try of each, in order. */
function retriedSyns(macHost: (mac: string) => string): string[] {
    const lines: string[] = [];
    for (const d of DIRECTORS) {
        const syns = parseSyns(onVm(d, `cat ${SYN_LOG} 2>/dev/null || true`, { allowFail: true }).stdout, macHost);
        const byPort = new Map<number, SynSeen[]>();
        for (const syn of syns) byPort.set(syn.port, [...(byPort.get(syn.port) ?? []), syn]);
        for (const [port, tries] of byPort) {
            // Each SYN shows twice when the director forwards it (in, then out): a retry is a third,
            // within the 3 s a client waits (a port used again by a later connection is not one).
            if (tries.length > 2 && tries[tries.length - 1].at - tries[0].at <= 5) lines.push(`on ${d}, port ${port}: ${tries.map((t) => `${t.time} ${t.from} -> ${t.to}`).join("; ")}`);
        }
    }
    return lines;
}

export interface LoadReport {
    requests: number;
    failures: string[];
    /** Right answers that took over 3 s (load.sh): not failures, reported with who took them. */
    slow: string[];
    seconds: number;
    rps: number;
    bodies: Record<string, number>;
    /**
     * A failed or slow request's line with the host that answered its SYN (load.sh's capture of the
     * SYN-ACKs; the capture and the host names read once per load, and only when there are any).
     */
    attribute: (line: string) => string;
    /** Connections the client had to retry, as the directors saw their SYNs (after failures only). */
    retried: string[];
}

/** Who answered a connection's SYN: in direct routing the real server itself, seen by its MAC. */
export interface SynAck {
    time: string;
    mac: string;
}

/** The SYN-ACKs of a `tcpdump -e -nn -tt` capture (load.sh), by the client's port. */
export function parseSynAcks(capture: string): Map<number, SynAck> {
    const byPort = new Map<number, SynAck>();
    for (const line of capture.split("\n")) {
        // "1795868551.123456 52:54:00:86:00:16 > 52:54:00:86:00:01, ethertype IPv4 ..., length 74: 10.86.0.180.80 > 10.86.0.1.34720: Flags [S.], ..."
        const m = /^(\d+)\.\d+ ([0-9a-f:]{17}) > .*: [\d.]+ > [\d.]+\.(\d+): Flags \[S\.\]/.exec(line);
        if (m) byPort.set(Number(m[3]), { time: clockTime(Number(m[1])), mac: m[2] });
    }
    return byPort;
}

/**
 * A lab MAC's host: the lab gives each data NIC 52:54:00:86:XX:YY for 10.86.XX.YY (lab.sh), so the
 * address, and its name from the stack config (read once) when it is one of the stack's hosts.
 */
function labMacHost(): (mac: string) => string {
    const hosts = (readConfig()["lvs-dr:hosts"] ?? {}) as Record<string, { address?: string }>;
    const names = new Map(Object.entries(hosts).map(([name, h]) => [h.address?.split("/")[0], name]));
    return (mac) => {
        const o = mac.split(":").slice(4).map((x) => parseInt(x, 16));
        const address = `10.86.${o[0]}.${o[1]}`;
        const name = names.get(address);
        return name ? `${name} (${address})` : address === "10.86.0.254" ? `router (${address}): a real server behind it` : address;
    };
}

/** A failed request's line with who took its connection ("fail ... port N ..." from load.sh). */
function attributed(failure: string, synAcks: Map<number, SynAck>, macHost: (mac: string) => string): string {
    const port = Number(/ port (\d+) /.exec(failure)?.[1]);
    const answer = synAcks.get(port);
    return `${failure} [${answer ? `SYN-ACK from ${macHost(answer.mac)} at ${answer.time}` : "no SYN-ACK seen"}]`;
}

/** Puts the load script on the client VM (once per suite). */
export function installLoad(): void {
    onVm("client", "cat > /root/load.sh", { input: fs.readFileSync(path.join(__dirname, "load.sh"), "utf8") });
}

/**
 * Runs `action` while the client sends a steady, checked load to `url` (3 workers, every request on
 * a new connection); returns what it saw. A reply whose body is not one of `expected` is a failure.
 */
export function underLoad(action: () => void, expected = PAGES, url = `http://${VIP}/`): LoadReport {
    const args = [url, "3", LOAD_DIR, ...expected].map((a) => `'${a}'`).join(" ");
    onVm("client", `nohup bash /root/load.sh ${args} >/dev/null 2>&1 &`);
    onVms(DIRECTORS, SYN_CAPTURE_START);
    onVm("client", "sleep 3");
    try {
        action();
    } finally {
        onVm("client", `sleep 2; touch ${LOAD_DIR}/stop; while [ ! -e ${LOAD_DIR}/stopped ]; do sleep 0.2; done`);
        onVms(DIRECTORS, SYN_CAPTURE_STOP);
    }
    // One line per request, then load.sh's slow answers (each also one of those requests).
    const all = onVm("client", `cat ${LOAD_DIR}/worker-*.log ${LOAD_DIR}/slow-*.log`).stdout.trim().split("\n").filter(Boolean);
    const slow = all.filter((l) => l.startsWith("slow "));
    const lines = all.filter((l) => !l.startsWith("slow "));
    const times = onVm("client", `cat ${LOAD_DIR}/started ${LOAD_DIR}/stopped`).stdout.trim().split("\n").map(Number);
    const seconds = times[1] - times[0];
    const bodies: Record<string, number> = {};
    for (const l of lines.filter((l) => l.startsWith("ok "))) bodies[l.slice(3)] = (bodies[l.slice(3)] ?? 0) + 1;
    const failures = lines.filter((l) => !l.startsWith("ok "));
    // Who took the failed and the slow requests: the captures and the host names read once.
    const unusual = failures.length + slow.length > 0;
    const synAcks = unusual ? parseSynAcks(onVm("client", `cat ${LOAD_DIR}/synacks.log`, { allowFail: true }).stdout) : new Map<number, SynAck>();
    const macHost = unusual ? labMacHost() : (mac: string) => mac;
    const attribute = (line: string) => attributed(line, synAcks, macHost);
    const retried = failures.length > 0 ? retriedSyns(macHost) : [];
    const report = { requests: lines.length, failures, slow, seconds, rps: lines.length / seconds, bodies, attribute, retried };
    const longest = Math.max(0, ...slow.map((l) => Number(l.split(" ").pop())));
    process.stderr.write(
        `[e2e] load: ${report.requests} requests in ${seconds.toFixed(1)} s (${report.rps.toFixed(1)}/s), ` +
            `${report.failures.length} failed, ${slow.length} slow${slow.length ? ` (over 3 s, the longest ${longest.toFixed(1)} s)` : ""}, by page: ${JSON.stringify(bodies)}\n`,
    );
    if (slow.length > 0) {
        process.stderr.write(`[e2e] slow: ${slow.slice(0, 10).map(attribute).join("; ")}\n`);
    }
    return report;
}

export function expectNoFailures(r: LoadReport, what: string): void {
    if (r.failures.length > 0) reportKernelDrops();
    check(
        r.failures.length === 0,
        "client",
        `${r.failures.length} of ${r.requests} requests failed during ${what}`,
        [...r.failures.slice(0, 20).map(r.attribute), ...r.retried.slice(0, 20).map((x) => `retried: ${x}`)],
    );
    check(r.rps >= MIN_RPS, "client", `the load was ${r.rps.toFixed(1)} requests/s during ${what}, below ${MIN_RPS}/s`, r);
}

/**
 * After failed requests: what the kernels of the director and the web servers logged in the last
 * minutes (a firewall's drops, IPVS), to read beside the failures' times and client ports.
 */
function reportKernelDrops(): void {
    for (const vm of ["director", "director2", "web1", "web2", "web3", "web4"]) {
        const r = onVm(vm, "journalctl -k -q --no-pager --since '-15 min' -o short-precise | grep -E 'UFW|IPVS|nft' | tail -n 40", { allowFail: true });
        if (r.stdout.trim()) process.stderr.write(`[e2e] kernel log of ${vm}:\n${r.stdout}`);
    }
    // keepalived's view on the directors: checks that failed, real servers it took out or put back,
    // VRRP state changes.
    for (const vm of DIRECTORS) {
        const r = onVm(
            vm,
            "journalctl -q --no-pager --since '-15 min' -o short-precise -u lvs-dr-keepalived -u lvs-dr-vrrp | grep -E 'Removing|Adding|Enabling|Disabling|failed|timeout|Timeout|Entering|quorum' | tail -n 40",
            { allowFail: true },
        );
        if (r.stdout.trim()) process.stderr.write(`[e2e] keepalived on ${vm}:\n${r.stdout}`);
    }
}

/** `n` requests to the VIP from the client; each must succeed. */
export function requests(n: number, urlPath = "/", vip = VIP): string[] {
    const cmd = `for i in $(seq ${n}); do curl -sS --fail --max-time 5 http://${vip}${urlPath}; echo; done`;
    return onVm("client", cmd).stdout.trim().split("\n").filter(Boolean);
}

/** What lvs-dr may change on each VM (test/e2e/fingerprint.sh), as lists of lines; the VMs in parallel. */
export function fingerprints(vms: string[]): Record<string, string[]> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-fingerprint-"));
    try {
        const script = 'fp=$1 out=$2; shift 2; for vm in "$@"; do bash lab/lab.sh ssh "$vm" bash -s <"$fp" >"$out/$vm" & done; wait';
        run(`fingerprints of ${vms.join(", ")}`, "bash", ["-c", script, "_", path.join(__dirname, "fingerprint.sh"), dir, ...vms]);
        return Object.fromEntries(vms.map((vm) => [vm, fs.readFileSync(path.join(dir, vm), "utf8").split("\n")]));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The lines in which two fingerprints differ, marked - (only in a) and + (only in b). */
export function fingerprintDiff(a: string[], b: string[]): string[] {
    const inA = new Set(a);
    const inB = new Set(b);
    return [...a.filter((l) => !inB.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !inA.has(l)).map((l) => `+ ${l}`)];
}

/** Host-script runs logged on a VM so far (`run NAME ACTION` lines of lib.sh and toolkit.sh). */
export function journalRuns(vm: string): number {
    return Number(onVm(vm, "journalctl -q -t lvs-dr -o cat | grep -c '^run ' || true").stdout.trim());
}

/** The plan of `pulumi preview --refresh`: the resources it would change, as "op name". */
export function refreshPlan(): string[] {
    const out = pulumi(["preview", "--refresh", "--json"]).stdout;
    const steps: { op: string; urn: string }[] = JSON.parse(out).steps ?? [];
    return steps.filter((s) => !["same", "refresh", "read"].includes(s.op)).map((s) => `${s.op} ${s.urn.split("::").pop()}`);
}

// ---------------------------------------------------------------------------------------------
// One deployment through the suites. cluster, converge, day2 and ha each build on what the one
// before left (a deploy and a destroy per suite cost minutes under emulation); the last destroy, in
// ha.test.ts, must leave every VM exactly as it was before lvs-dr first touched it. Those first
// looks are kept in a file, per lab (its host keys are new with every lab), so each suite also runs
// alone: it records the VMs it brings in that have none yet.

const BASELINE_FILE = path.join(ROOT, ".pulumi-state", "e2e-baseline.json");

function labId(): string {
    const knownHosts = run("lab known_hosts", "bash", ["lab/lab.sh", "known-hosts-path"]).stdout.trim();
    return crypto.createHash("sha256").update(fs.readFileSync(knownHosts)).digest("hex").slice(0, 16);
}

/**
 * Each VM's fingerprint from before lvs-dr first touched it in this lab: read from the file, or
 * taken now for a VM that has none, which must then be bare (no /var/lib/lvs-dr).
 */
export function baseline(vms: string[]): Record<string, string[]> {
    const id = labId();
    let saved: { lab: string; vms: Record<string, string[]> } = { lab: id, vms: {} };
    if (fs.existsSync(BASELINE_FILE)) {
        const read = JSON.parse(fs.readFileSync(BASELINE_FILE, "utf8"));
        if (read.lab === id) saved = read;
    }
    const missing = vms.filter((vm) => !saved.vms[vm]);
    for (const vm of missing) {
        const ours = onVm(vm, "test -e /var/lib/lvs-dr && echo touched || true").stdout.trim();
        check(ours === "", vm, "lvs-dr has been on this VM, but no look from before it was kept: start from a fresh lab (lab/lab.sh down)", ours);
    }
    if (missing.length > 0) {
        Object.assign(saved.vms, fingerprints(missing));
        fs.mkdirSync(path.dirname(BASELINE_FILE), { recursive: true });
        fs.writeFileSync(BASELINE_FILE, JSON.stringify(saved));
    }
    return Object.fromEntries(vms.map((vm) => [vm, saved.vms[vm]]));
}

/** Drops VMs' first looks (VMs that left the lab before the last destroy, checked by their suite). */
export function forgetBaseline(vms: string[]): void {
    const read = JSON.parse(fs.readFileSync(BASELINE_FILE, "utf8"));
    for (const vm of vms) delete read.vms[vm];
    fs.writeFileSync(BASELINE_FILE, JSON.stringify(read));
}

/** Every VM this lab has a first look of. */
export function baselineVms(): string[] {
    if (!fs.existsSync(BASELINE_FILE)) return [];
    const read = JSON.parse(fs.readFileSync(BASELINE_FILE, "utf8"));
    return read.lab === labId() ? Object.keys(read.vms) : [];
}

/**
 * Seconds (seen from the test runner: an upper bound) until `cond` holds on `vm`, polled there every
 * 0.2 s for at most `limit` seconds; -1 when it never did.
 */
export function secondsUntil(vm: string, cond: string, limit = 60): number {
    const start = Date.now();
    const r = onVm(vm, `for i in $(seq ${limit * 5}); do if ${cond}; then exit 0; fi; sleep 0.2; done; exit 1`, { allowFail: true });
    return r.status === 0 ? (Date.now() - start) / 1000 : -1;
}

/** Which director of the pair holds the VIP now (exactly one must). */
export function master(): string {
    const holders = DIRECTORS.filter((d) => onVm(d, `ip -o -4 addr show dev eth1 | grep -qF ' ${VIP}/32' && echo yes || true`, { allowFail: true }).stdout.includes("yes"));
    check(holders.length === 1, holders.join(",") || "(none)", `exactly one director should hold ${VIP}`, holders);
    return holders[0];
}

/** How many times keepalived on `vm` has entered the VRRP master state (in its journal). */
export function vrrpMasterEntries(vm: string): number {
    return journalCount(vm, "lvs-dr-vrrp", "Entering MASTER STATE");
}

/** How many lines of `unit`'s journal on `vm` hold `text`. */
export function journalCount(vm: string, unit: string, text: string): number {
    return Number(onVm(vm, `journalctl -q -u ${unit} -o cat | grep -cF '${text}' || true`).stdout.trim());
}
