/**
 * Drift: what a component's host really looks like, seen by `pulumi refresh` and repaired by `up`.
 *
 * `remote.Command` has no read, so a refresh cannot see a host that was changed by hand. Each
 * component therefore adds one `LiveState` resource (a dynamic provider) that holds the component's
 * rendered scripts. On refresh, its `read` runs every script with `check` over SSH (nothing is
 * changed) and records what differs in `desired`; the next update sees `desired` differ from the
 * program's "in sync" and runs the component's scripts with `apply`, in order, which repairs the
 * host. Plain `pulumi preview` and `up` never run `read`, so they never connect for this.
 *
 *   pulumi preview --refresh   # shows "<component>-live" as an update, with what drifted
 *   pulumi up --refresh        # repairs it
 */
import * as pulumi from "@pulumi/pulumi";
import { commandLine } from "./script";

export const IN_SYNC = "in sync";

export interface LiveConnection {
    host: string;
    port: number;
    user: string;
    privateKey: string;
    hostKey: string;
    proxy?: { host: string; port: number; user: string; privateKey: string; hostKey: string };
}

export interface LiveStateProps {
    connection: LiveConnection;
    /** The component's scripts in the order they are applied, as [resource name, script]. */
    scripts: [string, string][];
    /** IN_SYNC in the program; after a refresh that found drift, what differs. */
    desired: string;
}

/**
 * What a `check` run reported: the drift lines (`lvs-dr NAME: drift: WHAT`) joined as one string,
 * or IN_SYNC. Pure, for tests.
 */
export function summarizeChecks(outputs: string[]): string {
    const drift = outputs.flatMap((out) =>
        out
            .split("\n")
            .map((line) => /^lvs-dr (\S+): drift: (.*)$/.exec(line))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => `${m[1]}: ${m[2]}`),
    );
    return drift.length === 0 ? IN_SYNC : `drift: ${drift.join("; ")}`;
}

interface ScriptResult {
    name: string;
    code: number;
    stdout: string;
    stderr: string;
}

/**
 * Runs each script on the host over one SSH connection (`bash -s ACTION`, the script on stdin, with
 * `sudo -n` unless the user is root), in order, stopping at the first failure. The host key must be
 * the pinned one. Self-contained (it requires ssh2 itself) because Pulumi serializes the provider.
 */
async function runScripts(conn: LiveConnection, scripts: [string, string][], action: "apply" | "check"): Promise<ScriptResult[]> {
    const { Client } = require("ssh2");
    const keyBlob = (line: string) => Buffer.from(line.trim().split(/\s+/)[1] ?? "", "base64");
    const connect = (c: { host: string; port: number; user: string; privateKey: string; hostKey: string }, sock?: unknown) =>
        new Promise<any>((resolve, reject) => {
            const client = new Client();
            const pinned = keyBlob(c.hostKey);
            client
                .on("ready", () => resolve(client))
                .on("error", (e: Error) => reject(new Error(`ssh ${c.user}@${c.host}:${c.port}: ${e.message}`)))
                .connect({
                    host: c.host,
                    port: c.port,
                    username: c.user,
                    privateKey: c.privateKey,
                    sock,
                    readyTimeout: 30_000,
                    hostVerifier: (key: Buffer) => key.equals(pinned),
                });
        });
    const exec = (client: any, command: string, input: string) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
            client.exec(command, (err: Error | undefined, stream: any) => {
                if (err) return reject(err);
                let stdout = "";
                let stderr = "";
                stream.on("data", (d: Buffer) => (stdout += d.toString()));
                stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
                stream.on("close", (code: number | null) => resolve({ code: code ?? -1, stdout, stderr }));
                stream.end(input);
            });
        });
    let jump: any;
    let sock: unknown;
    if (conn.proxy) {
        jump = await connect(conn.proxy);
        sock = await new Promise((resolve, reject) =>
            jump.forwardOut("127.0.0.1", 0, conn.host, conn.port, (e: Error | undefined, s: unknown) => (e ? reject(e) : resolve(s))),
        );
    }
    const client = await connect(conn, sock);
    const results: ScriptResult[] = [];
    try {
        const command = commandLine(action, conn.user);
        for (const [name, script] of scripts) {
            const r = await exec(client, command, script);
            results.push({ name, ...r });
            if (r.code !== 0) break;
        }
    } finally {
        client.end();
        jump?.end();
    }
    return results;
}

/** The inputs whose change makes an update: drift found by a refresh, new scripts, a new connection. */
export function changedKeys(olds: LiveStateProps, news: LiveStateProps): (keyof LiveStateProps)[] {
    return (["desired", "scripts", "connection"] as const).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
}

/** An update repairs the host only when a refresh recorded drift; new config is the commands' job. */
export function needsRepair(olds: LiveStateProps, news: LiveStateProps): boolean {
    return olds.desired !== news.desired;
}

/** The provider's methods; kept free of module-level state because Pulumi serializes them. */
const provider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: LiveStateProps) {
        return { id: `live-${inputs.connection.host}-${inputs.connection.port}-${inputs.scripts.length}`, outs: inputs };
    },

    async diff(_id: string, olds: LiveStateProps, news: LiveStateProps) {
        const keys = changedKeys(olds, news);
        return { changes: keys.length > 0, replaces: [], deleteBeforeReplace: false };
    },

    async update(_id: string, olds: LiveStateProps, news: LiveStateProps) {
        // A change of config alone is applied by the component's commands, which run before this.
        if (needsRepair(olds, news)) {
            const results = await runScripts(news.connection, news.scripts, "apply");
            const failed = results.find((r) => r.code !== 0);
            if (failed) {
                throw new Error(`repair of ${failed.name} failed (exit ${failed.code}):\n${failed.stdout}${failed.stderr}`);
            }
        }
        return { outs: news };
    },

    async read(id: string, props: LiveStateProps) {
        const results = await runScripts(props.connection, props.scripts, "check");
        const failed = results.find((r) => r.code !== 0);
        if (failed) throw new Error(`check of ${failed.name} failed (exit ${failed.code}):\n${failed.stdout}${failed.stderr}`);
        const desired = summarizeChecks(results.map((r) => r.stdout));
        const state = { ...props, desired };
        return { id, props: state, inputs: state };
    },

    async delete() {
        // The component's commands undo everything; this resource only observes.
    },
};

export interface LiveStateArgs {
    connection: pulumi.Input<LiveConnection>;
    scripts: [string, string][];
}

export class LiveState extends pulumi.dynamic.Resource {
    public readonly desired!: pulumi.Output<string>;

    constructor(name: string, args: LiveStateArgs, opts: pulumi.CustomResourceOptions) {
        super(
            provider,
            name,
            { connection: args.connection, scripts: args.scripts, desired: IN_SYNC },
            { ...opts, additionalSecretOutputs: ["connection"] },
        );
    }
}
