/**
 * Helpers for the end-to-end suite: run commands on the lab VMs and the Pulumi CLI, and turn every
 * failure into a message that names the step, the host and the command's output.
 */
import { spawnSync } from "child_process";
import * as path from "path";

export const ROOT = path.join(__dirname, "..", "..");
export const STACK = "lab";

export interface Result {
    status: number;
    stdout: string;
    stderr: string;
}

let currentStep = "setup";
/** Names the step that the following commands belong to, for failure messages. */
export function step(name: string): void {
    currentStep = name;
    process.stderr.write(`\n[e2e] ${name}\n`);
}

function run(label: string, cmd: string, args: string[], input?: string, allowFail = false, timeoutMs = 20 * 60_000): Result {
    const r = spawnSync(cmd, args, { cwd: ROOT, input, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
    const res = { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    if (!allowFail && res.status !== 0) {
        throw new Error(
            `${currentStep}: ${label} failed (exit ${res.status}${r.error ? `, ${r.error.message}` : ""})\n` +
                `--- stdout ---\n${res.stdout.slice(-6000)}\n--- stderr ---\n${res.stderr.slice(-6000)}`,
        );
    }
    return res;
}

/** Runs a shell command on a lab VM as root. */
export function onVm(vm: string, command: string, opts: { input?: string; allowFail?: boolean } = {}): Result {
    return run(`on ${vm}: ${command}`, "bash", ["lab/lab.sh", "ssh", vm, command], opts.input, opts.allowFail);
}

/** The Pulumi CLI of this checkout on the lab stack. */
export function pulumi(args: string[], opts: { allowFail?: boolean } = {}): Result {
    return run(`pulumi ${args.join(" ")}`, "bash", ["scripts/pulumi.sh", ...args, "--stack", STACK], undefined, opts.allowFail);
}

export function lab(args: string[]): Result {
    return run(`lab/lab.sh ${args.join(" ")}`, "bash", ["lab/lab.sh", ...args]);
}

/** Fails the current step with a message naming the host, unless `ok`. */
export function check(ok: boolean, host: string, what: string, output: unknown): void {
    if (!ok) {
        throw new Error(`${currentStep}: on ${host}: ${what}\n--- output ---\n${typeof output === "string" ? output : JSON.stringify(output, null, 2)}`);
    }
}
