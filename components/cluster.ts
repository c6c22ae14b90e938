/**
 * The whole cluster from a checked spec: one Director, a RealServer per host that serves a service,
 * an NfsServer per NFS host and a VirtualService per service, wired so that Pulumi's graph orders
 * them (exports before mounts, a real server complete before it joins a service, the director's VIPs
 * before its services).
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ClusterSpec, parseClusterConfig, PROJECT, RawConfig, RealServerRef, ServiceSpec } from "./config";
import { familyOf } from "./config/common";
import { nfsSource } from "./config/nfs";
import { Director } from "./director";
import { HostTarget } from "./host";
import { NfsServer, exportLine } from "./nfsServer";
import { RealServer } from "./realServer";
import { checkMarks, VirtualService } from "./virtualService";

// Not in the SDK's typings, but exported by its runtime: tells whether a config key is a secret.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const runtimeConfig: { isConfigSecret?: (k: string) => boolean } = require("@pulumi/pulumi/runtime/config");

/** The stack's `lvs-dr:*` config as the parser wants it. Values that are not JSON stay strings. */
export function readStackConfig(): RawConfig {
    const values: Record<string, unknown> = {};
    const secrets = new Set<string>();
    for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(`${PROJECT}:`)) continue;
        const key = fullKey.slice(PROJECT.length + 1);
        try {
            values[key] = JSON.parse(text);
        } catch {
            values[key] = text;
        }
        if (runtimeConfig.isConfigSecret?.(fullKey)) secrets.add(key);
    }
    return { values, secrets };
}

/** Reads and checks the config; a problem stops the program before any resource is declared. */
export function loadClusterSpec(): ClusterSpec {
    return parseClusterConfig(readStackConfig());
}

export interface Cluster {
    /** The director, or the two of a pair. */
    directors: Director[];
    realServers: Record<string, RealServer>;
    nfsServers: Record<string, NfsServer>;
    services: Record<string, VirtualService>;
}

/** The ports of these services as PORT/PROTO, each once: what a host opens in its firewall. */
export function servicePorts(services: ServiceSpec[]): string[] {
    return [...new Set(services.flatMap((s) => s.ports.map((p) => `${p}/${s.protocol}`)))];
}

/**
 * The ports real server `r` of `s` serves on, as PORT/PROTO: a firewall-mark service's ports, else
 * its own port (a NAT real server's may differ from the service's: the director maps it).
 */
function realPorts(s: ServiceSpec, r: RealServerRef): string[] {
    return (s.fwmark ? s.ports : [r.port]).map((p) => `${p}/${s.protocol}`);
}

/** The ports `host` serves these services on, as PORT/PROTO, each once. */
export function realServerPorts(services: ServiceSpec[], host: string): string[] {
    return [...new Set(services.flatMap((s) => s.realServers.filter((r) => r.host === host).flatMap((r) => realPorts(s, r))))];
}

/** The NAT real servers of these services, as ADDRESS:PORT/PROTO, each once. */
export function natReals(services: ServiceSpec[]): string[] {
    return [...new Set(services.flatMap((s) => s.realServers.filter((r) => r.method === "nat").flatMap((r) => realPorts(s, r).map((p) => `${r.address}:${p}`))))];
}

export function deployCluster(spec: ClusterSpec): Cluster {
    const config = new pulumi.Config(PROJECT);
    const target = (host: string): HostTarget => ({
        spec: spec.hosts[host],
        privateKey: config.requireSecret(spec.hosts[host].ssh.privateKeySecret),
    });

    const directors = deployDirectors(spec, target);

    const nfsServers: Record<string, NfsServer> = {};
    for (const n of spec.nfsServers) {
        nfsServers[n.host] = new NfsServer(n.host, { host: target(n.host), exports: n.exports });
    }

    const realServers: Record<string, RealServer> = {};
    for (const host of spec.realServerHosts) {
        const served = spec.services.filter((s) => s.realServers.some((r) => r.host === host));
        // The VIPs of the services it is a real server of by a method `ok` accepts.
        const vipsBy = (ok: (method: RealServerRef["method"]) => boolean) => [
            ...new Set(served.filter((s) => s.realServers.some((r) => r.host === host && ok(r.method))).map((s) => s.vip)),
        ];
        realServers[host] = new RealServer(host, {
            host: target(host),
            // A NAT real server gets the director's rewritten packets, for its own address: no VIP.
            vips: vipsBy((m) => m !== "nat"),
            // The VIPs it is a tunnelled real server for: held on tunl0 instead of lo.
            tunnelVips: vipsBy((m) => m === "tun"),
            natGateway: vipsBy((m) => m === "nat").length > 0 ? spec.director.nat?.address : undefined,
            webServer: spec.webServer,
            ports: realServerPorts(served, host),
            mounts: spec.mounts
                .filter((m) => m.host === host)
                .map((m) => ({ mount: m, export: nfsServers[m.server].admissionCommands[m.export] })),
        });
    }

    const services: Record<string, VirtualService> = {};
    const marks = checkMarks(spec.services);
    for (const s of spec.services) {
        services[s.name] = new VirtualService(s.name, { directors, service: s, realServers, marks });
    }
    return { directors, realServers, nfsServers, services };
}

/**
 * The director, or a pair: each runs keepalived; a pair shares a virtual router id, a sync id and
 * (VRRPv2) a PASS secret, which come from random resources unless the config sets them. They have
 * no keepers: a value stays for the life of the stack, whatever else changes.
 */
function deployDirectors(spec: ClusterSpec, target: (host: string) => HostTarget): Director[] {
    const d = spec.director;
    const reals = natReals(spec.services);
    const common = {
        vips: d.vips,
        schedulers: spec.services.map((s) => s.scheduler),
        ipvs: d.ipvs,
        checksThroughVip: spec.services.some((s) => s.healthCheck.throughVip),
        ports: servicePorts(spec.services),
        // Only with a NAT real server: a gateway in the config alone changes nothing on the director.
        nat: d.nat && reals.length > 0 ? { gateway: d.nat, reals } : undefined,
    };
    if (!d.vrrp) return [new Director(d.hosts[0], { host: target(d.hosts[0]), ...common })];
    const vrrp = d.vrrp;
    const routerId = vrrp.routerId ?? new random.RandomInteger("vrrp-router-id", { min: 1, max: 255 }).result;
    const syncId = d.syncId ?? new random.RandomInteger("ipvs-sync-id", { min: 1, max: 255 }).result;
    // VRRPv2's PASS: keepalived uses the first 8 characters.
    const authPass = vrrp.version === 2 ? new random.RandomPassword("vrrp-auth", { length: 8, special: false }).result : undefined;
    return d.hosts.map(
        (host, i) =>
            new Director(host, {
                host: target(host),
                ...common,
                pair: {
                    peer: spec.hosts[d.hosts[1 - i]].address,
                    priority: i === 0 ? 150 : 100,
                    vrrp,
                    routerId,
                    syncId,
                    authPass,
                },
            }),
    );
}

/** The stack outputs: plain values from the checked spec, in the shape the README documents. */
export function clusterOutputs(spec: ClusterSpec) {
    const host = (name: string) => ({ host: name, address: spec.hosts[name].address });
    return {
        vips: spec.director.vips,
        /** The first director (the only one unless it is a pair). */
        director: host(spec.director.hosts[0]),
        directors: spec.director.hosts.map(host),
        vrrp: spec.director.vrrp ? { version: spec.director.vrrp.version, advertInterval: spec.director.vrrp.advertInterval } : null,
        /** The NAT real servers' gateway (held by the director), or null. */
        natGateway: spec.director.nat?.address ?? null,
        services: spec.services.map((s) => ({
            name: s.name,
            vip: s.vip,
            /** The VIP's address family: 4 or 6. */
            family: familyOf(s.vip),
            port: s.port,
            /** Every port: [port], or a firewall-mark service's ports. */
            ports: s.ports,
            /** A firewall-mark service's mark; 0 for a VIP:PORT service. */
            fwmark: s.fwmark,
            protocol: s.protocol,
            scheduler: s.scheduler,
            method: s.method,
            persistence: s.persistence,
            healthCheck: s.healthCheck,
            realServers: s.realServers.map((r) => ({ host: r.host, address: r.address, port: r.port, weight: r.weight, method: r.method })),
        })),
        nfsExports: spec.nfsServers.flatMap((n) =>
            n.exports.map((e) => ({ ...host(n.host), path: e.path, clients: e.clients, line: exportLine(e) })),
        ),
        mounts: spec.mounts.map((m) => ({
            host: m.host,
            source: nfsSource(m),
            server: m.server,
            export: m.export,
            path: m.path,
        })),
    };
}
