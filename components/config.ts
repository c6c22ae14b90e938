/**
 * The cluster's configuration: one schema, checked in one place before any resource is declared.
 *
 * `parseClusterConfig` is pure: it takes the raw values of the stack's `lvs-dr:*` config keys and
 * returns either a normalized `ClusterSpec` or every problem found, each naming the config field
 * (`lvs-dr:services[0].realServers[1].weight`) and the offending value. Nothing here touches a host.
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";

export const PROJECT = "lvs-dr";

/** Every IPVS scheduler the Linux kernel ships (ipvsadm(8), net/netfilter/ipvs). */
export const SCHEDULERS = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
] as const;
export const PROTOCOLS = ["tcp", "udp"] as const;
/** Forwarding methods this program implements. Direct routing only: NAT and TUN need other host setup. */
export const METHODS = ["dr"] as const;
export const WEB_SERVERS = ["apache"] as const;
/** ipvsadm(8): "weight is an integer specifying the capacity of a server ... 0 to 65535". */
export const MAX_WEIGHT = 65535;

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

// ---------------------------------------------------------------------------------------------
// Field-level schema (shape, types, enums). Cross-field rules live in `checkCluster` below.

const ipv4 = z.string().refine((s) => ipaddr.IPv4.isValidFourPartDecimal(s), {
    message: "is not an IPv4 address (four decimal parts, like 192.168.86.180)",
});
const ipv4Cidr = z.string().refine((s) => ipaddr.IPv4.isValidCIDRFourPartDecimal(s), {
    message: "is not an IPv4 address with a prefix length (like 192.168.86.44/24)",
});
const clientSpec = z.string().refine(
    (s) => ipaddr.IPv4.isValidFourPartDecimal(s) || ipaddr.IPv4.isValidCIDRFourPartDecimal(s),
    { message: "is not an IPv4 address or network (like 192.168.86.0/24)" },
);
const name = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, {
    message: "must be 1-31 characters: lower-case letters, digits and '-', starting with a letter",
});
const port = z.number().int().min(1).max(65535);
const absolutePath = z.string().superRefine((s, ctx) => {
    const problem = pathProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const hostKey = z.string().superRefine((s, ctx) => {
    const problem = hostKeyProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});
const configKeyName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, { message: "must be a config key name like sshPrivateKey" });
const hostName = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, {
    message: "is not a host name or IPv4 address",
});

const proxySchema = z.strictObject({
    host: hostName,
    port: port.default(22),
    user: z.string().min(1).optional(),
    hostKey,
});

const sshSchema = z.strictObject({
    host: hostName.optional(),
    port: port.optional(),
    user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "is not a valid user name" }).optional(),
    hostKey: hostKey.optional(),
    privateKeySecret: configKeyName.optional(),
    proxy: proxySchema.optional(),
    dialErrorLimit: z.number().int().min(-1).optional(),
    perDialTimeout: z.number().int().min(1).optional(),
});

const hostSchema = z.strictObject({
    address: ipv4Cidr,
    interface: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, { message: "is not a network interface name" }).optional(),
    ssh: sshSchema.default({}),
});

const sshDefaultsSchema = sshSchema.omit({ host: true, hostKey: true });

const realServerSchema = z.strictObject({
    host: name,
    port: port.optional(),
    weight: z
        .number()
        .int({ message: `must be a whole number from 0 to ${MAX_WEIGHT}` })
        .min(0, { message: `must be a whole number from 0 to ${MAX_WEIGHT}` })
        .max(MAX_WEIGHT, { message: `must be a whole number from 0 to ${MAX_WEIGHT} (ipvsadm's maximum)` })
        .default(1),
});

const serviceSchema = z.strictObject({
    name: name.optional(),
    vip: ipv4,
    port,
    protocol: z.enum(PROTOCOLS).default("tcp"),
    scheduler: z.enum(SCHEDULERS).default("wlc"),
    method: z.enum(METHODS).default("dr"),
    persistence: z.number().int().min(0).max(2_678_400).default(0),
    drainTimeout: z.number().int().min(0).max(86_400).default(30),
    realServers: z.array(realServerSchema).min(1),
});

/** Production IPVS knobs (net.ipv4.vs.*, the kernel's ipvs-sysctl documentation). */
const ipvsTuningSchema = z.strictObject({
    /** Drop a flow's entry as soon as its real server is deleted, so the client reconnects elsewhere. */
    expireNodestConn: z.boolean().default(true),
    /** Expire persistence templates of a weight-0 (draining) real server, so a drain works with persistence. */
    expireQuiescentTemplate: z.boolean().default(true),
    /** How a new connection that reuses a tracked port is scheduled (kernel default 1: rescheduled). */
    connReuseMode: z.number().int().min(0).max(3).default(1),
    /** Accept flows that start mid-stream (a backup director taking over). */
    sloppyTcp: z.boolean().default(false),
});

const directorSchema = z.strictObject({
    host: name,
    vips: z.array(ipv4).min(1),
    ipvs: ipvsTuningSchema.default({ expireNodestConn: true, expireQuiescentTemplate: true, connReuseMode: 1, sloppyTcp: false }),
});

export type IpvsTuning = z.infer<typeof ipvsTuningSchema>;

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

const nfsServerSchema = z.strictObject({
    host: name,
    exports: z.array(exportSchema).min(1),
});

const mountSchema = z.strictObject({
    host: name,
    server: name,
    export: absolutePath,
    path: absolutePath,
    options: z.array(z.string()).default([]),
});

/** The `lvs-dr:*` config keys this program reads, each with its schema. */
const topLevel = {
    ssh: sshDefaultsSchema.default({}),
    hosts: z.record(z.string(), hostSchema),
    director: directorSchema,
    webServer: z.enum(WEB_SERVERS).default("apache"),
    services: z.array(serviceSchema).min(1),
    nfsServers: z.array(nfsServerSchema).default([]),
    mounts: z.array(mountSchema).default([]),
} as const;
const rawSchema = z.strictObject(topLevel);
export const CONFIG_KEYS = Object.keys(topLevel);
export const DEFAULT_PRIVATE_KEY_SECRET = "sshPrivateKey";

type Raw = z.infer<typeof rawSchema>;

// ---------------------------------------------------------------------------------------------
// The normalized, checked model the components are built from.

export interface SshSpec {
    host: string;
    port: number;
    user: string;
    hostKey: string;
    /** The name of the secret config key that holds this host's private key. */
    privateKeySecret: string;
    proxy?: { host: string; port: number; user: string; hostKey: string };
    dialErrorLimit?: number;
    perDialTimeout?: number;
}

export interface HostSpec {
    name: string;
    /** Data-plane address without prefix length. */
    address: string;
    prefixLength: number;
    /** Data-plane network, like 192.168.86.0/24. */
    network: string;
    /** Data-plane interface; undefined means "the interface holding `address`", found on the host. */
    interface?: string;
    ssh: SshSpec;
}

export interface RealServerRef {
    host: string;
    address: string;
    port: number;
    weight: number;
}

export interface ServiceSpec {
    name: string;
    vip: string;
    port: number;
    protocol: (typeof PROTOCOLS)[number];
    scheduler: (typeof SCHEDULERS)[number];
    method: (typeof METHODS)[number];
    persistence: number;
    /** Seconds a removed real server may keep its active connections (at weight 0) before deletion. */
    drainTimeout: number;
    realServers: RealServerRef[];
}

export interface ExportSpec {
    server: string;
    path: string;
    clients: string;
    options: string[];
    owner: string;
    group: string;
    mode: string;
    files: Record<string, string>;
}

export interface NfsServerSpec {
    host: string;
    exports: ExportSpec[];
}

export interface MountSpec {
    host: string;
    server: string;
    serverAddress: string;
    export: string;
    path: string;
    options: string[];
}

export interface ClusterSpec {
    hosts: Record<string, HostSpec>;
    director: { host: string; vips: string[]; ipvs: IpvsTuning };
    webServer: (typeof WEB_SERVERS)[number];
    services: ServiceSpec[];
    nfsServers: NfsServerSpec[];
    mounts: MountSpec[];
    /** Hosts that serve at least one service, in config order. */
    realServerHosts: string[];
}

export class ConfigError extends Error {
    constructor(public readonly problems: string[]) {
        super(
            `${PROJECT} configuration is invalid; nothing was changed on any host:\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** What the program reads from the stack: the raw `lvs-dr:*` values and which secret keys are set. */
export interface RawConfig {
    /** Parsed values of the `lvs-dr:*` keys, keyed without the namespace. */
    values: Record<string, unknown>;
    /** Names (without namespace) of keys that hold a value; `secrets` those that are Pulumi secrets. */
    secrets: Set<string>;
}

export function parseClusterConfig(raw: RawConfig): ClusterSpec {
    const problems: string[] = [];
    const known = new Set(CONFIG_KEYS);
    const privateKeyNames = referencedPrivateKeySecrets(raw.values);
    for (const key of Object.keys(raw.values)) {
        if (!known.has(key) && !privateKeyNames.has(key)) {
            problems.push(
                `${PROJECT}:${key}: unknown config key (known keys: ${[...CONFIG_KEYS, ...privateKeyNames].join(", ")})`,
            );
        }
    }
    const structured = Object.fromEntries(Object.entries(raw.values).filter(([k]) => known.has(k)));
    const parsed = rawSchema.safeParse(structured);
    if (!parsed.success) {
        for (const issue of parsed.error.issues) problems.push(formatIssue(issue, structured));
        throw new ConfigError(problems);
    }
    const spec = normalize(parsed.data, problems);
    for (const secretName of new Set(Object.values(spec.hosts).map((h) => h.ssh.privateKeySecret))) {
        const users = Object.values(spec.hosts).filter((h) => h.ssh.privateKeySecret === secretName).map((h) => h.name);
        if (!(secretName in raw.values)) {
            problems.push(
                `${PROJECT}:${secretName}: missing SSH private key for host(s) ${users.join(", ")}; ` +
                    `set it with: pulumi config set --secret ${secretName} < ~/.ssh/id_ed25519`,
            );
        } else if (!raw.secrets.has(secretName)) {
            problems.push(
                `${PROJECT}:${secretName}: the SSH private key is stored in plain text; ` +
                    `set it again with: pulumi config set --secret ${secretName} < KEYFILE`,
            );
        } else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(String(raw.values[secretName]))) {
            problems.push(`${PROJECT}:${secretName}: is not a PEM or OpenSSH private key (no "BEGIN ... PRIVATE KEY" line)`);
        }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return spec;
}

function referencedPrivateKeySecrets(values: Record<string, unknown>): Set<string> {
    const names = new Set<string>([DEFAULT_PRIVATE_KEY_SECRET]);
    const add = (v: unknown) => {
        if (v && typeof v === "object" && typeof (v as { privateKeySecret?: unknown }).privateKeySecret === "string") {
            names.add((v as { privateKeySecret: string }).privateKeySecret);
        }
    };
    add(values.ssh);
    if (values.hosts && typeof values.hosts === "object") {
        for (const h of Object.values(values.hosts as Record<string, unknown>)) {
            if (h && typeof h === "object") add((h as { ssh?: unknown }).ssh);
        }
    }
    return names;
}

function fieldPath(path: readonly PropertyKey[]): string {
    let out = PROJECT + ":";
    path.forEach((p, i) => {
        if (typeof p === "number") out += `[${p}]`;
        else out += i === 0 ? String(p) : `.${String(p)}`;
    });
    return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let v: unknown = root;
    for (const p of path) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<PropertyKey, unknown>)[p];
    }
    return v;
}

function formatIssue(issue: z.core.$ZodIssue, root: unknown): string {
    const value = valueAt(root, issue.path);
    if (issue.code === "unrecognized_keys") {
        return issue.keys.map((k) => `${fieldPath([...issue.path, k])}: unknown field`).join("; ");
    }
    if (issue.code === "invalid_value") {
        return `${fieldPath(issue.path)}: ${JSON.stringify(value)} is not one of ${issue.values.map(String).join(", ")}`;
    }
    if (value === undefined) return `${fieldPath(issue.path)}: is required (${issue.message})`;
    return `${fieldPath(issue.path)}: ${JSON.stringify(value)} ${issue.message.replace(/^Invalid input: /, "")}`;
}

/** Why `p` cannot be used as an export or mount path, or undefined when it can. */
export function pathProblem(p: string): string | undefined {
    if (!p.startsWith("/")) return "must be an absolute path (starting with /)";
    if (p.length > 1 && p.endsWith("/")) return "must not end with /";
    if (/[^A-Za-z0-9._/+@-]/.test(p)) {
        return "may contain only letters, digits and . _ - + @ / (no spaces or shell metacharacters)";
    }
    if (p.split("/").some((seg) => seg === "." || seg === "..")) return "must not contain . or .. segments";
    if (p.includes("//")) return "must not contain //";
    return undefined;
}

/** Host key types a pin may name (`ssh-keyscan -t ed25519 HOST` prints one). */
const HOST_KEY_TYPES = new Set(["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]);

/**
 * Why `line` is not a usable pinned host key (an authorized_keys-style "TYPE BASE64 [comment]").
 * The key blob starts with its own type name, so a pasted key of the wrong type is caught too.
 */
export function hostKeyProblem(line: string): string | undefined {
    const [type, blob] = line.trim().split(/\s+/);
    if (type === "ssh-rsa") {
        // pulumi-command 1.2.1 verifies an RSA host key only with the SHA-1 "ssh-rsa" signature, which
        // OpenSSH 8.8 and later no longer make: every command would fail to connect.
        return (
            "is an RSA host key, which the command provider can only verify with SHA-1 signatures (ssh-rsa) that " +
            "OpenSSH 8.8+ refuses; pin the host's ed25519 or ECDSA key instead (ssh-keyscan -t ed25519 HOST)"
        );
    }
    if (!type || !HOST_KEY_TYPES.has(type)) {
        return `must be a public host key like "ssh-ed25519 AAAA..." (types: ${[...HOST_KEY_TYPES].join(", ")})`;
    }
    if (!blob) return `has no key data after "${type}"`;
    const bytes = Buffer.from(blob, "base64");
    if (bytes.toString("base64").replace(/=+$/, "") !== blob.replace(/=+$/, "") || bytes.length < 4) {
        return "has key data that is not base64";
    }
    const len = bytes.readUInt32BE(0);
    const embedded = bytes.subarray(4, 4 + len).toString("latin1");
    if (embedded !== type) return `says "${type}" but its key data is of type "${embedded}"`;
    return undefined;
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

function optionProblem(option: string, allowed: Set<string>): string | undefined {
    const [key, value, ...rest] = option.split("=");
    if (!allowed.has(key)) return `unknown option "${key}"`;
    if (rest.length > 0 || (value !== undefined && !/^[A-Za-z0-9._:-]+$/.test(value))) {
        return `option "${option}" has an invalid value`;
    }
    return undefined;
}

function normalize(raw: Raw, problems: string[]): ClusterSpec {
    const at = (...path: PropertyKey[]) => fieldPath(path);
    const hosts: Record<string, HostSpec> = {};
    for (const [hostName_, h] of Object.entries(raw.hosts)) {
        const hostAt = (...p: PropertyKey[]) => at("hosts", hostName_, ...p);
        if (!name.safeParse(hostName_).success) {
            problems.push(`${hostAt()}: host name "${hostName_}" ${name.safeParse(hostName_).error!.issues[0].message}`);
            continue;
        }
        const [addr, prefix] = ipaddr.IPv4.parseCIDR(h.address);
        const network = `${ipaddr.IPv4.networkAddressFromCIDR(h.address).toString()}/${prefix}`;
        const ssh = { ...raw.ssh, ...h.ssh };
        const hostKeyLine = h.ssh.hostKey;
        if (!hostKeyLine) {
            problems.push(
                `${hostAt("ssh", "hostKey")}: is required: pin the host's SSH key ` +
                    `(for example the output of: ssh-keyscan -t ed25519 ${h.ssh.host ?? addr.toString()})`,
            );
        }
        if (addr.toString() === ipaddr.IPv4.networkAddressFromCIDR(h.address).toString() && prefix < 31) {
            problems.push(`${hostAt("address")}: "${h.address}" is the network address, not a host address`);
        }
        hosts[hostName_] = {
            name: hostName_,
            address: addr.toString(),
            prefixLength: prefix,
            network,
            interface: h.interface,
            ssh: {
                host: h.ssh.host ?? addr.toString(),
                port: ssh.port ?? 22,
                user: ssh.user ?? "root",
                hostKey: hostKeyLine ?? "",
                privateKeySecret: ssh.privateKeySecret ?? DEFAULT_PRIVATE_KEY_SECRET,
                proxy: ssh.proxy ? { ...ssh.proxy, user: ssh.proxy.user ?? ssh.user ?? "root" } : undefined,
                dialErrorLimit: ssh.dialErrorLimit,
                perDialTimeout: ssh.perDialTimeout,
            },
        };
    }
    const hostList = () => Object.keys(raw.hosts).join(", ");
    const requireHost = (ref: string, field: string): HostSpec | undefined => {
        const h = hosts[ref];
        if (!h && !(ref in raw.hosts)) problems.push(`${field}: unknown host "${ref}" (hosts: ${hostList()})`);
        return h;
    };

    // Addresses: no two hosts share one.
    const byAddress = new Map<string, string>();
    for (const h of Object.values(hosts)) {
        const other = byAddress.get(h.address);
        if (other) problems.push(`${at("hosts", h.name, "address")}: ${h.address} is already the address of host "${other}"`);
        else byAddress.set(h.address, h.name);
    }

    const director = requireHost(raw.director.host, at("director", "host"));
    const vipSet = new Set<string>();
    raw.director.vips.forEach((vip, i) => {
        if (vipSet.has(vip)) problems.push(`${at("director", "vips", i)}: ${vip} is listed twice`);
        vipSet.add(vip);
        const owner = byAddress.get(vip);
        if (owner) problems.push(`${at("director", "vips", i)}: VIP ${vip} is the address of host "${owner}"`);
        for (const h of Object.values(hosts)) {
            if (h.ssh.host === vip) problems.push(`${at("director", "vips", i)}: VIP ${vip} is the SSH address of host "${h.name}"`);
        }
        if (director && director.prefixLength < 31) {
            const cidr = `${director.address}/${director.prefixLength}`;
            const special = [
                ["network", ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()],
                ["broadcast", ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString()],
            ].find(([, a]) => a === vip);
            if (special) {
                problems.push(`${at("director", "vips", i)}: VIP ${vip} is the ${special[0]} address of the director's network ${director.network}`);
            }
        }
    });

    const services: ServiceSpec[] = [];
    const serviceKeys = new Map<string, number>();
    const serviceNames = new Map<string, number>();
    const realServerHosts: string[] = [];
    raw.services.forEach((s, i) => {
        const svcAt = (...p: PropertyKey[]) => at("services", i, ...p);
        if (!vipSet.has(s.vip)) {
            problems.push(
                `${svcAt("vip")}: ${s.vip} is not one of the director's VIPs (${at("director", "vips")}: ${[...vipSet].join(", ")})`,
            );
        }
        const key = `${s.protocol}/${s.vip}:${s.port}`;
        if (serviceKeys.has(key)) problems.push(`${svcAt()}: ${key} is already defined by services[${serviceKeys.get(key)}]`);
        serviceKeys.set(key, i);
        const svcName = s.name ?? `${s.protocol}-${s.port}-${s.vip.replace(/\./g, "-")}`;
        if (serviceNames.has(svcName)) {
            problems.push(`${svcAt("name")}: "${svcName}" is already the name of services[${serviceNames.get(svcName)}]`);
        }
        serviceNames.set(svcName, i);
        const seen = new Map<string, number>();
        const reals: RealServerRef[] = [];
        s.realServers.forEach((r, j) => {
            const rAt = (...p: PropertyKey[]) => svcAt("realServers", j, ...p);
            const h = requireHost(r.host, rAt("host"));
            if (seen.has(r.host)) problems.push(`${rAt("host")}: "${r.host}" is already realServers[${seen.get(r.host)}] of this service`);
            seen.set(r.host, j);
            const rport = r.port ?? s.port;
            if (s.method === "dr" && rport !== s.port) {
                problems.push(
                    `${rAt("port")}: ${rport} differs from the service port ${s.port}; direct routing cannot change the port`,
                );
            }
            if (!h) return;
            if (h.name === raw.director.host) {
                problems.push(`${rAt("host")}: "${h.name}" is the director; a director cannot also be a real server here`);
            }
            if (director && s.method === "dr" && !ipaddr.IPv4.parse(h.address).match(ipaddr.IPv4.parseCIDR(director.network))) {
                problems.push(
                    `${rAt("host")}: "${h.name}" (${h.address}) is outside the director's network ${director.network}; ` +
                        `direct routing needs real servers on the director's segment`,
                );
            }
            if (!realServerHosts.includes(h.name)) realServerHosts.push(h.name);
            reals.push({ host: h.name, address: h.address, port: rport, weight: r.weight });
        });
        services.push({
            name: svcName,
            vip: s.vip,
            port: s.port,
            protocol: s.protocol,
            scheduler: s.scheduler,
            method: s.method,
            persistence: s.persistence,
            drainTimeout: s.drainTimeout,
            realServers: reals,
        });
    });
    for (const vip of vipSet) {
        if (!services.some((s) => s.vip === vip)) {
            problems.push(`${at("director", "vips")}: VIP ${vip} has no service in ${at("services")}`);
        }
    }

    const nfsServers: NfsServerSpec[] = [];
    const exportsByServer = new Map<string, Map<string, ExportSpec>>();
    raw.nfsServers.forEach((n, i) => {
        const nAt = (...p: PropertyKey[]) => at("nfsServers", i, ...p);
        const h = requireHost(n.host, nAt("host"));
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

    const mounts: MountSpec[] = [];
    const mountPoints = new Map<string, number>();
    const mountSlugs = new Map<string, { index: number; path: string }>();
    raw.mounts.forEach((m, i) => {
        const mAt = (...p: PropertyKey[]) => at("mounts", i, ...p);
        const h = requireHost(m.host, mAt("host"));
        const server = requireHost(m.server, mAt("server"));
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
                const exp = exps.get(m.export)!;
                const client = h ? ipaddr.IPv4.parse(h.address) : undefined;
                const allowed = exp.clients.includes("/")
                    ? client?.match(ipaddr.IPv4.parseCIDR(exp.clients))
                    : client?.toString() === exp.clients;
                if (h && !allowed) {
                    problems.push(`${mAt("host")}: "${h.name}" (${h.address}) is not in the export's clients ${exp.clients}`);
                }
            }
            if (h && server.name === h.name) problems.push(`${mAt("server")}: "${h.name}" cannot mount from itself`);
        }
        if (h && server) {
            mounts.push({ host: h.name, server: server.name, serverAddress: server.address, export: m.export, path: m.path, options: m.options });
        }
    });
    for (const m of mounts) {
        if (!realServerHosts.includes(m.host)) {
            problems.push(`${at("mounts")}: "${m.host}" mounts ${m.export} but is not a real server of any service`);
        }
    }
    return {
        hosts,
        director: { host: raw.director.host, vips: [...vipSet], ipvs: raw.director.ipvs },
        webServer: raw.webServer,
        services,
        nfsServers,
        mounts,
        realServerHosts,
    };
}
