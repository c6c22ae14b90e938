/**
 * The director, its VIPs and IPVS tuning, and the virtual services with their real servers.
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import { at, ipv4, name, port, Problems } from "./common";
import { Hosts } from "./hosts";

/** Every IPVS scheduler the Linux kernel ships (ipvsadm(8), net/netfilter/ipvs). */
export const SCHEDULERS = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
] as const;
export const PROTOCOLS = ["tcp", "udp"] as const;
/** Forwarding methods this program implements. Direct routing only: NAT and TUN need other host setup. */
export const METHODS = ["dr"] as const;
/** ipvsadm(8): "weight is an integer specifying the capacity of a server ... 0 to 65535". */
export const MAX_WEIGHT = 65535;

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

export const serviceSchema = z.strictObject({
    name: name.optional(),
    vip: ipv4,
    port,
    protocol: z.enum(PROTOCOLS).default("tcp"),
    scheduler: z.enum(SCHEDULERS).default("wlc"),
    method: z.enum(METHODS).default("dr"),
    persistence: z.number().int().min(0).max(2_678_400).default(0),
    drainTimeout: z.number().int().min(0).max(86_400).default(30),
    // In DR the director sees only the client's packets: a connection the real server ends stays
    // ESTABLISHED in IPVS for its whole TCP timeout. A drain counts one as ended after this many
    // seconds without a packet (120 s: TCP's longest retransmission and zero-window probe interval,
    // so a stalled but live connection still counts).
    drainIdle: z.number().int().min(1).max(86_400).default(120),
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

export const directorSchema = z.strictObject({
    host: name,
    vips: z.array(ipv4).min(1),
    ipvs: ipvsTuningSchema.default({ expireNodestConn: true, expireQuiescentTemplate: true, connReuseMode: 1, sloppyTcp: false }),
});

export type IpvsTuning = z.infer<typeof ipvsTuningSchema>;
export type DirectorSpec = z.infer<typeof directorSchema>;

/** A real server of a service: its host's address, and the port and weight resolved. */
export type RealServerRef = Required<z.infer<typeof realServerSchema>> & { address: string };

/** A service as the components build it: named, with its real servers resolved to addresses. */
export type ServiceSpec = Omit<z.infer<typeof serviceSchema>, "name" | "realServers"> & {
    name: string;
    realServers: RealServerRef[];
};

/** The director with its VIPs checked (each once, not a host's address, not its network's edges). */
export function normalizeDirector(raw: DirectorSpec, hosts: Hosts, problems: Problems): DirectorSpec {
    const director = hosts.require(raw.host, at("director", "host"));
    const vipSet = new Set<string>();
    raw.vips.forEach((vip, i) => {
        if (vipSet.has(vip)) problems.push(`${at("director", "vips", i)}: ${vip} is listed twice`);
        vipSet.add(vip);
        const owner = hosts.byAddress.get(vip);
        if (owner) problems.push(`${at("director", "vips", i)}: VIP ${vip} is the address of host "${owner}"`);
        for (const h of Object.values(hosts.hosts)) {
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
    return { host: raw.host, vips: [...vipSet], ipvs: raw.ipvs };
}

/** The services, checked against the director and the hosts; also the real server hosts, in config order. */
export function normalizeServices(
    raw: z.infer<typeof serviceSchema>[],
    director: DirectorSpec,
    hosts: Hosts,
    problems: Problems,
): { services: ServiceSpec[]; realServerHosts: string[] } {
    const directorHost = hosts.hosts[director.host];
    const vipSet = new Set(director.vips);
    const services: ServiceSpec[] = [];
    const serviceKeys = new Map<string, number>();
    const serviceNames = new Map<string, number>();
    const realServerHosts: string[] = [];
    raw.forEach((s, i) => {
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
            const h = hosts.require(r.host, rAt("host"));
            if (seen.has(r.host)) problems.push(`${rAt("host")}: "${r.host}" is already realServers[${seen.get(r.host)}] of this service`);
            seen.set(r.host, j);
            const rport = r.port ?? s.port;
            if (s.method === "dr" && rport !== s.port) {
                problems.push(
                    `${rAt("port")}: ${rport} differs from the service port ${s.port}; direct routing cannot change the port`,
                );
            }
            if (!h) return;
            if (h.name === director.host) {
                problems.push(`${rAt("host")}: "${h.name}" is the director; a director cannot also be a real server here`);
            }
            if (directorHost && s.method === "dr" && !ipaddr.IPv4.parse(h.address).match(ipaddr.IPv4.parseCIDR(directorHost.network))) {
                problems.push(
                    `${rAt("host")}: "${h.name}" (${h.address}) is outside the director's network ${directorHost.network}; ` +
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
            drainIdle: s.drainIdle,
            realServers: reals,
        });
    });
    for (const vip of vipSet) {
        if (!services.some((s) => s.vip === vip)) {
            problems.push(`${at("director", "vips")}: VIP ${vip} has no service in ${at("services")}`);
        }
    }
    return { services, realServerHosts };
}
