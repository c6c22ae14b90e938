import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { ExportSpec } from "./config";
import { HostCommands, HostTarget } from "./host";
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
        const cmds = new HostCommands(this, args.host);
        this.server = cmds.add(`${name}-server`, "nfs-server", {});
        for (const e of args.exports) {
            const id = exportId(e.path);
            const files = Object.keys(e.files).sort();
            this.exportCommands[e.path] = cmds.add(`${name}-export-${id}`, "nfs-export", {
                EXPORT_ID: id,
                EXPORT_PATH: e.path,
                CLIENTS: e.clients,
                OPTIONS: e.options.join(","),
                OWNER: e.owner,
                GROUP: e.group,
                MODE: e.mode,
                FILE_NAMES: files,
                FILE_CONTENTS: files.map((f) => e.files[f]),
            }, [this.server]);
        }
        this.live = cmds.live(name);
        this.registerOutputs({
            host: args.host.spec.name,
            address: args.host.spec.address,
            exports: args.exports.map(exportLine),
        });
    }
}
