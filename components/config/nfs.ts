/**
 * NFS: the servers' exports (with the files lvs-dr places in them) and the real servers' mounts.
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import { absolutePath, at, canonicalCidr, Family, familyOf, isPlainIPv6, isPlainIPv6Cidr, name, optionProblem, Problems } from "./common";
import { addressOf, Hosts, inNetwork } from "./hosts";

/** Options accepted in an /etc/exports entry (exports(5)); `key=value` ones are listed with their key. */
const EXPORT_OPTIONS = new Set([
    "ro", "rw", "sync", "async", "secure", "insecure", "wdelay", "no_wdelay", "hide", "nohide",
    "crossmnt", "subtree_check", "no_subtree_check", "root_squash", "no_root_squash", "all_squash",
    "no_all_squash", "secure_locks", "insecure_locks", "no_auth_nlm", "anonuid", "anongid", "sec", "fsid",
    "mountpoint", "mp", "pnfs", "no_pnfs", "security_label", "no_acl",
]);
/** Options accepted for an NFS mount (nfs(5), mount(8)); `key=value` ones are listed with their key. */
const MOUNT_OPTIONS = new Set([
    "ro", "rw", "hard", "soft", "nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime",
    "vers", "nfsvers", "proto", "port", "timeo", "retrans", "rsize", "wsize", "sec", "actimeo",
    "ac", "noac", "lookupcache", "nconnect", "bg", "fg", "x-systemd.automount", "x-systemd.mount-timeout",
    "nofail", "lock", "nolock", "local_lock", "retry",
]);

/** An export's clients: an address or a network, IPv4 or IPv6 (normalized as the kernel prints it). */
const clientSpec = z
    .string()
    .refine(
        (s) => ipaddr.IPv4.isValidFourPartDecimal(s) || ipaddr.IPv4.isValidCIDRFourPartDecimal(s) || isPlainIPv6(s) || isPlainIPv6Cidr(s),
        { message: "is not an IPv4 or IPv6 address or network (like 192.168.86.0/24 or fd86::/64)" },
    )
    .transform(canonicalCidr);

const exportSchema = z.strictObject({
    path: absolutePath,
    clients: clientSpec,
    options: z.array(z.string()).default(["ro", "sync", "no_subtree_check", "root_squash"]),
    owner: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "is not a user name" }).default("root"),
    group: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "is not a group name" }).default("root"),
    mode: z.string().regex(/^[0-7]?[0-7]{3}$/, { message: "must be an octal mode like 0755 (or 2775 with setgid)" }).default("0755"),
    /** A directory any user may write to (mode o+w) is refused unless this says so. */
    worldWritable: z.boolean().default(false),
    files: z.record(z.string(), z.string()).default({}),
});

export const nfsServerSchema = z.strictObject({
    host: name,
    exports: z.array(exportSchema).min(1),
});

export const mountSchema = z.strictObject({
    host: name,
    server: name,
    export: absolutePath,
    path: absolutePath,
    options: z.array(z.string()).default([]),
});

/** An export as the NFS server applies it: its server named, the mode as four octal digits. */
export type ExportSpec = Omit<z.infer<typeof exportSchema>, "worldWritable"> & { server: string };

export interface NfsServerSpec {
    host: string;
    exports: ExportSpec[];
}

/**
 * A mount as the real server applies it, with its NFS server's address: its data-plane address, or
 * its IPv6 one for an export to IPv6 clients.
 */
export type MountSpec = z.infer<typeof mountSchema> & { serverAddress: string };

/** A mount's source as mount(8) takes it: ADDRESS:/export, an IPv6 address in brackets. */
export function nfsSource(m: Pick<MountSpec, "serverAddress" | "export">): string {
    return familyOf(m.serverAddress) === 6 ? `[${m.serverAddress}]:${m.export}` : `${m.serverAddress}:${m.export}`;
}

/**
 * Folders a mount must never cover: the root, the system's own trees and the folders that hold other
 * things (mounting over /var/lib would hide every service's state). Deeper folders are allowed,
 * except under the trees in SYSTEM_TREES.
 */
const SYSTEM_DIRS = new Set([
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt",
    "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/include", "/usr/lib",
    "/usr/lib32", "/usr/lib64", "/usr/libexec", "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/local/sbin",
    "/usr/sbin", "/usr/share", "/var", "/var/cache", "/var/lib", "/var/log", "/var/spool", "/var/tmp",
]);
/** Trees nothing may be mounted into: the kernel's, the boot loader's, the system's configuration and programs. */
const SYSTEM_TREES = ["/proc", "/sys", "/dev", "/run", "/boot", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/var/lib"];

/** Why nothing may be mounted at `p`, or undefined when it may. */
export function mountPointProblem(p: string): string | undefined {
    if (SYSTEM_DIRS.has(p)) return `is a system folder: mounting over it would hide what the host needs`;
    const tree = SYSTEM_TREES.find((t) => p.startsWith(`${t}/`));
    if (tree) return `is inside ${tree}, which belongs to the system: choose a folder of its own (like /var/www/html or /srv/www)`;
    return undefined;
}

/** The NFS servers with their exports checked; also each server's exports by path, for the mounts. */
export function normalizeNfsServers(
    raw: z.infer<typeof nfsServerSchema>[],
    hosts: Hosts,
    problems: Problems,
): { nfsServers: NfsServerSpec[]; exportsByServer: Map<string, Map<string, ExportSpec>> } {
    const nfsServers: NfsServerSpec[] = [];
    const exportsByServer = new Map<string, Map<string, ExportSpec>>();
    raw.forEach((n, i) => {
        const nAt = (...p: PropertyKey[]) => at("nfsServers", i, ...p);
        const h = hosts.require(n.host, nAt("host"));
        if (exportsByServer.has(n.host)) problems.push(`${nAt("host")}: "${n.host}" is listed twice in ${at("nfsServers")}`);
        const paths = new Map<string, ExportSpec>();
        exportsByServer.set(n.host, paths);
        const exportsOut: ExportSpec[] = [];
        n.exports.forEach((e, j) => {
            const eAt = (...p: PropertyKey[]) => nAt("exports", j, ...p);
            if (paths.has(e.path)) problems.push(`${eAt("path")}: ${e.path} is exported twice by "${n.host}"`);
            if (e.path === "/") problems.push(`${eAt("path")}: "/" would export the NFS server's whole filesystem; export a folder of its own`);
            if ((parseInt(e.mode, 8) & 0o002) !== 0 && !e.worldWritable) {
                problems.push(
                    `${eAt("mode")}: "${e.mode}" lets every user on the NFS server and every squashed client write to ${e.path}; ` +
                        `give writers a group instead (owner/group and mode 2775), or set ${eAt("worldWritable")}: true if you mean it`,
                );
            }
            e.options.forEach((o, k) => {
                const problem = optionProblem(o, EXPORT_OPTIONS);
                if (problem) problems.push(`${eAt("options", k)}: ${problem}`);
            });
            for (const file of Object.keys(e.files)) {
                if (!/^[A-Za-z0-9._-]+$/.test(file) || file === "." || file === "..") {
                    problems.push(`${eAt("files", file)}: a file name may contain only letters, digits and . _ - (no /)`);
                }
            }
            const spec: ExportSpec = {
                server: n.host,
                path: e.path,
                clients: e.clients,
                options: e.options,
                owner: e.owner,
                group: e.group,
                mode: e.mode.padStart(4, "0"),
                files: e.files,
            };
            paths.set(e.path, spec);
            exportsOut.push(spec);
        });
        if (h) nfsServers.push({ host: n.host, exports: exportsOut });
    });
    return { nfsServers, exportsByServer };
}

/** The mounts, checked against the exports (path, clients) and the real servers. */
export function normalizeMounts(
    raw: z.infer<typeof mountSchema>[],
    exportsByServer: Map<string, Map<string, ExportSpec>>,
    realServerHosts: string[],
    hosts: Hosts,
    problems: Problems,
): MountSpec[] {
    const mounts: MountSpec[] = [];
    const mountPoints = new Map<string, number>();
    const mountSlugs = new Map<string, { index: number; path: string }>();
    raw.forEach((m, i) => {
        const mAt = (...p: PropertyKey[]) => at("mounts", i, ...p);
        const h = hosts.require(m.host, mAt("host"));
        const server = hosts.require(m.server, mAt("server"));
        let family: Family = 4;
        const key = `${m.host}:${m.path}`;
        if (mountPoints.has(key)) problems.push(`${mAt("path")}: ${m.path} on "${m.host}" is already mounts[${mountPoints.get(key)}]`);
        mountPoints.set(key, i);
        const pointProblem = mountPointProblem(m.path);
        if (pointProblem) problems.push(`${mAt("path")}: ${m.path} ${pointProblem}`);
        // Resource names use the path with / as -: /a/b and /a-b would collide.
        const slugKey = `${m.host}:${m.path.slice(1).replace(/\//g, "-")}`;
        const clash = mountSlugs.get(slugKey);
        if (clash && clash.path !== m.path) {
            problems.push(`${mAt("path")}: ${m.path} and mounts[${clash.index}].path ${clash.path} on "${m.host}" differ only in / versus -; rename one`);
        }
        if (!clash) mountSlugs.set(slugKey, { index: i, path: m.path });
        m.options.forEach((o, k) => {
            const problem = optionProblem(o, MOUNT_OPTIONS);
            if (problem) problems.push(`${mAt("options", k)}: ${problem}`);
        });
        if (server) {
            const exps = exportsByServer.get(server.name);
            if (!exps) {
                problems.push(
                    `${mAt("server")}: "${server.name}" is not an NFS server (${at("nfsServers")}: ${[...exportsByServer.keys()].join(", ") || "none"})`,
                );
            } else if (!exps.has(m.export)) {
                problems.push(
                    `${mAt("export")}: ${m.export} is not exported by "${server.name}" (exports: ${[...exps.keys()].join(", ")})`,
                );
            } else {
                // An export to IPv6 clients is mounted over IPv6: the client's and the server's IPv6 addresses.
                const exp = exps.get(m.export)!;
                family = familyOf(exp.clients);
                const network = exp.clients.includes("/") ? exp.clients : undefined;
                const client = h ? addressOf(h, family, network)?.address : undefined;
                const allowed = client !== undefined && (network ? inNetwork(client, network) : client === exp.clients);
                if (h && !allowed) {
                    problems.push(`${mAt("host")}: "${h.name}" (${client ?? `no IPv${family} address`}) is not in the export's clients ${exp.clients}`);
                }
                if (family === 6 && !addressOf(server, 6)) {
                    problems.push(`${mAt("server")}: "${server.name}" has no IPv6 address, which its export to ${exp.clients} needs: add it to ${at("hosts", server.name, "otherAddresses")}`);
                }
            }
            if (h && server.name === h.name) problems.push(`${mAt("server")}: "${h.name}" cannot mount from itself`);
        }
        if (h && server) {
            const serverAddress = (family === 6 ? addressOf(server, 6)?.address : undefined) ?? server.address;
            mounts.push({ host: h.name, server: server.name, serverAddress, export: m.export, path: m.path, options: m.options });
        }
    });
    for (const m of mounts) {
        if (!realServerHosts.includes(m.host)) {
            problems.push(`${at("mounts")}: "${m.host}" mounts ${m.export} but is not a real server of any service`);
        }
    }
    return mounts;
}
