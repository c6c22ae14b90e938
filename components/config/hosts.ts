/**
 * Hosts: their data-plane addresses and how to reach them over SSH (with pinned host keys).
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import { at, Family, familyOf, ipCidr, ipv4Cidr, name, port, Problems } from "./common";

export const DEFAULT_PRIVATE_KEY_SECRET = "sshPrivateKey";

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

export const hostSchema = z.strictObject({
    address: ipv4Cidr,
    /**
     * The host's addresses on other networks, with their prefix lengths: a director's address on the
     * network of its NAT real servers (`director.nat.gateway`), and its IPv6 address (fd86::44/64),
     * which IPv6 services use. lvs-dr does not configure them; it finds the interface that holds each
     * on the host.
     */
    otherAddresses: z.array(ipCidr).max(8).default([]),
    interface: z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, { message: "is not a network interface name" }).optional(),
    ssh: sshSchema.default({}),
});

export const sshDefaultsSchema = sshSchema.omit({ host: true, hostKey: true });

/** How a host is reached: every SSH setting resolved (host defaults applied, proxy user inherited). */
export type SshSpec = Required<Pick<z.infer<typeof sshSchema>, "host" | "port" | "user" | "hostKey" | "privateKeySecret">> &
    Pick<z.infer<typeof sshSchema>, "dialErrorLimit" | "perDialTimeout"> & {
        proxy?: Required<z.infer<typeof proxySchema>>;
    };

/** One address of a host: the address, its prefix length and its network. */
export interface HostAddress {
    address: string;
    prefixLength: number;
    /** Like 192.168.86.0/24 or fd86::/64. */
    network: string;
}

/** `cidr` (checked by ipCidr) as a HostAddress. */
export function hostAddress(cidr: string): HostAddress {
    const [addr, prefix] = ipaddr.parseCIDR(cidr);
    const network = addr.kind() === "ipv6" ? ipaddr.IPv6.networkAddressFromCIDR(cidr) : ipaddr.IPv4.networkAddressFromCIDR(cidr);
    return { address: addr.toString(), prefixLength: prefix, network: `${network.toString()}/${prefix}` };
}

/**
 * Whether `a` is its network's own address: IPv4's network address (with a prefix under /31, where
 * there is one), IPv6's subnet-router anycast address (under /127).
 */
export function isNetworkAddress(a: HostAddress): boolean {
    return a.prefixLength < (familyOf(a.address) === 6 ? 127 : 31) && a.address === a.network.split("/")[0];
}

/** Every address of a host: its data-plane address first, then its other addresses. */
export function addressesOf(h: HostSpec): string[] {
    return [h.address, ...h.otherAddresses.map((a) => a.address)];
}

/** Whether `address` is in `network` (like 10.86.2.0/24 or fd86::/64; never in one of the other family). */
export function inNetwork(address: string, network: string): boolean {
    const addr = ipaddr.parse(address);
    const cidr = ipaddr.parseCIDR(network);
    return addr.kind() === cidr[0].kind() && addr.match(cidr);
}

/**
 * The host's address of `family` to use in `network` (the one there, when it has one), else its first
 * of that family: its data-plane address first, then its other addresses. Undefined when it has none.
 */
export function addressOf(h: HostSpec, family: Family, network?: string): HostAddress | undefined {
    const all: HostAddress[] = [{ address: h.address, prefixLength: h.prefixLength, network: h.network }, ...h.otherAddresses];
    const ofFamily = all.filter((a) => familyOf(a.address) === family);
    return ofFamily.find((a) => network !== undefined && a.network === network) ?? ofFamily[0];
}

/** Where address `k` of host `host` is in the config: 0 its address, then its otherAddresses. */
function addressAt(host: string, k: number): string {
    return k === 0 ? at("hosts", host, "address") : at("hosts", host, "otherAddresses", k - 1);
}

/** Address ranges (ipaddr.js's names) that no host's data address may be in. */
const UNREACHABLE = new Set(["unspecified", "broadcast", "multicast", "linkLocal", "loopback", "ipv4Mapped"]);

export interface HostSpec {
    name: string;
    /** Data-plane address without prefix length. */
    address: string;
    prefixLength: number;
    /** Data-plane network, like 192.168.86.0/24. */
    network: string;
    /** Data-plane interface; undefined means "the interface holding `address`", found on the host. */
    interface?: string;
    /** Its addresses on other networks (each on the interface that holds it). */
    otherAddresses: HostAddress[];
    ssh: SshSpec;
}

/** The hosts, checked and resolved, and a lookup that reports a reference to an unknown host. */
export interface Hosts {
    hosts: Record<string, HostSpec>;
    /** The host whose data-plane address is `address`. */
    byAddress: Map<string, string>;
    /** The host named `ref`, or undefined with a problem naming `field` (unless `ref` itself was bad). */
    require(ref: string, field: string): HostSpec | undefined;
}

export function normalizeHosts(
    rawHosts: Record<string, z.infer<typeof hostSchema>>,
    defaults: z.infer<typeof sshDefaultsSchema>,
    problems: Problems,
): Hosts {
    const hosts: Record<string, HostSpec> = {};
    for (const [hostName_, h] of Object.entries(rawHosts)) {
        const hostAt = (...p: PropertyKey[]) => at("hosts", hostName_, ...p);
        if (!name.safeParse(hostName_).success) {
            problems.push(`${hostAt()}: host name "${hostName_}" ${name.safeParse(hostName_).error!.issues[0].message}`);
            continue;
        }
        const main = hostAddress(h.address);
        const { address: addr, prefixLength: prefix, network } = main;
        const ssh = { ...defaults, ...h.ssh };
        const hostKeyLine = h.ssh.hostKey;
        if (!hostKeyLine) {
            problems.push(
                `${hostAt("ssh", "hostKey")}: is required: pin the host's SSH key ` +
                    `(for example the output of: ssh-keyscan -t ed25519 ${h.ssh.host ?? addr.toString()})`,
            );
        }
        const others = h.otherAddresses.map(hostAddress);
        const networks = new Map<string, string>([[network, h.address]]);
        [main, ...others].forEach((a, k) => {
            const where = addressAt(hostName_, k);
            const cidr = k === 0 ? h.address : h.otherAddresses[k - 1];
            const range = ipaddr.parse(a.address).range();
            if (isNetworkAddress(a)) {
                problems.push(`${where}: "${cidr}" is the network address, not a host address`);
            } else if (UNREACHABLE.has(range)) {
                problems.push(`${where}: "${cidr}" is a ${range} address, which cannot be a host's data address`);
            }
            if (k === 0) return;
            if (networks.has(a.network)) {
                problems.push(`${where}: "${cidr}" is on ${a.network}, as ${networks.get(a.network)} is: one address per network`);
            } else networks.set(a.network, cidr);
        });
        hosts[hostName_] = {
            name: hostName_,
            address: addr,
            prefixLength: prefix,
            network,
            interface: h.interface,
            otherAddresses: others,
            ssh: {
                host: h.ssh.host ?? addr,
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

    // Addresses: no two hosts share one (nor one host twice).
    const byAddress = new Map<string, string>();
    for (const h of Object.values(hosts)) {
        addressesOf(h).forEach((address, k) => {
            const where = addressAt(h.name, k);
            const other = byAddress.get(address);
            if (other) problems.push(`${where}: ${address} is already an address of host "${other}"`);
            else byAddress.set(address, h.name);
        });
    }

    const hostList = Object.keys(rawHosts).join(", ");
    return {
        hosts,
        byAddress,
        require(ref, field) {
            const h = hosts[ref];
            if (!h && !(ref in rawHosts)) problems.push(`${field}: unknown host "${ref}" (hosts: ${hostList})`);
            return h;
        },
    };
}

/** The secret config keys the hosts name for their private keys (the default one always). */
export function referencedPrivateKeySecrets(values: Record<string, unknown>): Set<string> {
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
