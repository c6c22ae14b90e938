import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { ExportSpec } from "./config";
import { deployHostPlan, HostPlan, HostTarget } from "./host";
import { LiveState } from "./liveState";

export interface NfsServerArgs {
    host: HostTarget;
    exports: ExportSpec[];
}

/** A short, unique, readable id for an export path: "/opt/kgc" -> "kgc-1f2e3d4c". */
export function exportId(path: string): string {
    const last = path.split("/").filter(Boolean).pop() ?? "root";
    return `${last.replace(/[^A-Za-z0-9_-]/g, "_")}-${createHash("sha256").update(path).digest("hex").slice(0, 8)}`;
}

/** The /etc/exports line of an export. */
export function exportLine(e: ExportSpec): string {
    return `${e.path} ${e.clients}(${e.options.join(",")})`;
}

/** The NFS server's host resources, in apply order (pure: the tests read it). */
export function nfsServerPlan(name: string, args: Omit<NfsServerArgs, "host">): HostPlan {
    return {
        component: name,
        kind: "nfs-server",
        inventory: "units",
        commands: [
            { name: `${name}-server`, concern: "nfs-server", object: "nfs-server", params: {} },
            ...args.exports.map((e) => {
                const id = exportId(e.path);
                const files = Object.keys(e.files).sort();
                return {
                    name: `${name}-export-${id}`,
                    concern: "nfs-export" as const,
                    object: `export-${id}`,
                    params: {
                        EXPORT_ID: id,
                        EXPORT_PATH: e.path,
                        CLIENTS: e.clients,
                        OPTIONS: e.options.join(","),
                        OWNER: e.owner,
                        GROUP: e.group,
                        MODE: e.mode,
                        FILE_NAMES: files,
                        FILE_CONTENTS: files.map((f) => e.files[f]),
                    },
                    identity: [e.path],
                    after: [`${name}-server`],
                };
            }),
        ],
    };
}

/**
 * An NFS server: the server package and service, and each export (directory with owner and mode,
 * placed files, its own /etc/exports.d file). Deleting withdraws the exports; data stays.
 */
export class NfsServer extends pulumi.ComponentResource {
    public readonly target: HostTarget;
    public readonly server: command.remote.Command;
    /** Export commands by export path. */
    public readonly exportCommands: Record<string, command.remote.Command> = {};
    public readonly live: LiveState;

    constructor(name: string, args: NfsServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:NfsServer", name, {}, opts);
        this.target = args.host;
        const { live, commands } = deployHostPlan(this, args.host, nfsServerPlan(name, args));
        this.live = live;
        this.server = commands[`${name}-server`];
        for (const e of args.exports) this.exportCommands[e.path] = commands[`${name}-export-${exportId(e.path)}`];
        this.registerOutputs({
            host: args.host.spec.name,
            address: args.host.spec.address,
            exports: args.exports.map(exportLine),
        });
    }
}
