import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { ExportSpec } from "./config";
import { HostTarget, hostCommand } from "./host";

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

/**
 * An NFS server: the server package and service, and each export (directory with owner and mode,
 * placed files, its own /etc/exports.d file). Deleting withdraws the exports; data stays.
 */
export class NfsServer extends pulumi.ComponentResource {
    public readonly target: HostTarget;
    public readonly server: command.remote.Command;
    /** Export commands by export path. */
    public readonly exportCommands: Record<string, command.remote.Command> = {};

    constructor(name: string, args: NfsServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:NfsServer", name, {}, opts);
        this.target = args.host;
        this.server = hostCommand(`${name}-server`, args.host, "nfs-server", {}, { parent: this });
        for (const e of args.exports) {
            const id = exportId(e.path);
            const files = Object.keys(e.files).sort();
            this.exportCommands[e.path] = hostCommand(`${name}-export-${id}`, args.host, "nfs-export", {
                EXPORT_ID: id,
                EXPORT_PATH: e.path,
                CLIENTS: e.clients,
                OPTIONS: e.options.join(","),
                OWNER: e.owner,
                GROUP: e.group,
                MODE: e.mode,
                FILE_NAMES: files,
                FILE_CONTENTS: files.map((f) => e.files[f]),
            }, { parent: this, dependsOn: [this.server] });
        }
        this.registerOutputs({
            host: args.host.spec.name,
            address: args.host.spec.address,
            exports: args.exports.map(exportLine),
        });
    }
}
