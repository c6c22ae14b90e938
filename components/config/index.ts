/**
 * The cluster's configuration: one schema, checked in one place before any resource is declared.
 *
 * `parseClusterConfig` is pure: it takes the raw values of the stack's `lvs-dr:*` config keys and
 * returns either a normalized `ClusterSpec` or every problem found, each naming the config field
 * (`lvs-dr:services[0].realServers[1].weight`) and the offending value. Nothing here touches a host.
 *
 * By concern: `hosts` (addresses, SSH, host keys), `services` (director, VIPs, services, real
 * servers), `nfs` (exports and mounts); `common` has what they share. Each part has its field
 * schema and the cross-field checks of its normalize function; types come from the schemas.
 */
import { z } from "zod";
import { formatIssue, Problems, PROJECT } from "./common";
import { HostSpec, hostSchema, normalizeHosts, referencedPrivateKeySecrets, sshDefaultsSchema } from "./hosts";
import { MountSpec, mountSchema, NfsServerSpec, nfsServerSchema, normalizeMounts, normalizeNfsServers } from "./nfs";
import { DirectorSpec, directorSchema, normalizeDirector, normalizeServices, ServiceSpec, serviceSchema } from "./services";

export { PROJECT, pathProblem } from "./common";
export { DEFAULT_PRIVATE_KEY_SECRET, hostKeyProblem } from "./hosts";
export type { HostSpec, SshSpec } from "./hosts";
export { mountPointProblem } from "./nfs";
export type { ExportSpec, MountSpec, NfsServerSpec } from "./nfs";
export { MAX_WEIGHT, METHODS, PROTOCOLS, SCHEDULERS } from "./services";
export type { DirectorSpec, HealthCheckSpec, IpvsTuning, RealServerRef, ServiceSpec, VrrpSpec } from "./services";

export const WEB_SERVERS = ["apache"] as const;

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

type Raw = z.infer<typeof rawSchema>;

export interface ClusterSpec {
    hosts: Record<string, HostSpec>;
    director: DirectorSpec;
    webServer: Raw["webServer"];
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
    const problems: Problems = [];
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

function normalize(raw: Raw, problems: Problems): ClusterSpec {
    const hosts = normalizeHosts(raw.hosts, raw.ssh, problems);
    const director = normalizeDirector(raw.director, hosts, problems);
    const { services, realServerHosts } = normalizeServices(raw.services, director, hosts, problems);
    const { nfsServers, exportsByServer } = normalizeNfsServers(raw.nfsServers, hosts, problems);
    const mounts = normalizeMounts(raw.mounts, exportsByServer, realServerHosts, hosts, problems);
    return { hosts: hosts.hosts, director, webServer: raw.webServer, services, nfsServers, mounts, realServerHosts };
}
