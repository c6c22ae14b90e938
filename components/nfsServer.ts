import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { ExportSpec } from "./config";
import { addressId } from "./config/common";
import { deployHostPlan, HostPlan, HostTarget, PlannedCommand } from "./host";
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

/**
 * The id of an export's admission of its clients: the export's and the clients' ("10.86.0.0/24" ->
 * "kgc-1f2e3d4c-10.86.0.0-24"). New clients are a new admission, so the old one is removed only
 * after the mounts that depended on it (nfs-admit.sh).
 */
export function admissionId(e: Pick<ExportSpec, "path" | "clients">): string {
    return `${exportId(e.path)}-${addressId(e.clients.replace("/", "-"))}`;
}

/** The resource name of an export's admission. */
export function admissionName(server: string, e: Pick<ExportSpec, "path" | "clients">): string {
    return `${server}-admit-${admissionId(e)}`;
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
            ...args.exports.flatMap((e): PlannedCommand[] => {
                const id = exportId(e.path);
                const admit = admissionId(e);
                const files = Object.keys(e.files).sort();
                return [
                    {
                        name: `${name}-export-${id}`,
                        concern: "nfs-export",
                        object: `export-${id}`,
                        params: {
                            EXPORT_ID: id,
                            EXPORT_PATH: e.path,
                            OWNER: e.owner,
                            GROUP: e.group,
                            MODE: e.mode,
                            FILE_NAMES: files,
                            FILE_CONTENTS: files.map((f) => e.files[f]),
                        },
                        identity: [e.path],
                        after: [`${name}-server`],
                    },
                    {
                        name: admissionName(name, e),
                        concern: "nfs-admit",
                        object: `admit-${admit}`,
                        params: {
                            EXPORT_ID: id,
                            ADMIT_ID: admit,
                            EXPORT_PATH: e.path,
                            CLIENTS: e.clients,
                            OPTIONS: e.options.join(","),
                        },
                        after: [`${name}-export-${id}`],
                    },
                ];
            }),
        ],
    };
}

/**
 * An NFS server: the server package and service, and each export: its directory (owner, mode,
 * placed files) and its admission of its clients (its own /etc/exports.d file). Deleting withdraws
 * the exports; data stays.
 */
export class NfsServer extends pulumi.ComponentResource {
    public readonly target: HostTarget;
    public readonly server: command.remote.Command;
    /** Export commands (directory, owner, mode, files) by export path. */
    public readonly exportCommands: Record<string, command.remote.Command> = {};
    /** Admission commands (clients and options) by export path: what a mount of the export needs. */
    public readonly admissionCommands: Record<string, command.remote.Command> = {};
    public readonly live: LiveState;

    constructor(name: string, args: NfsServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:NfsServer", name, {}, opts);
        this.target = args.host;
        const { live, commands } = deployHostPlan(this, args.host, nfsServerPlan(name, args));
        this.live = live;
        this.server = commands[`${name}-server`];
        for (const e of args.exports) {
            this.exportCommands[e.path] = commands[`${name}-export-${exportId(e.path)}`];
            this.admissionCommands[e.path] = commands[admissionName(name, e)];
        }
        this.registerOutputs({
            host: args.host.spec.name,
            address: args.host.spec.address,
            exports: args.exports.map(exportLine),
        });
    }
}
