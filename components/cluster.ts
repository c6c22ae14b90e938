/**
 * The whole cluster from a checked spec: one Director, a RealServer per host that serves a service,
 * an NfsServer per NFS host and a VirtualService per service, wired so that Pulumi's graph orders
 * them (exports before mounts, a real server complete before it joins a service, the director's VIPs
 * before its services).
 */
import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec, parseClusterConfig, PROJECT, RawConfig } from "./config";
import { Director } from "./director";
import { HostTarget } from "./host";
import { NfsServer, exportLine } from "./nfsServer";
import { RealServer } from "./realServer";
import { VirtualService } from "./virtualService";

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
    director: Director;
    realServers: Record<string, RealServer>;
    nfsServers: Record<string, NfsServer>;
    services: Record<string, VirtualService>;
}

export function deployCluster(spec: ClusterSpec): Cluster {
    const config = new pulumi.Config(PROJECT);
    const target = (host: string): HostTarget => ({
        spec: spec.hosts[host],
        privateKey: config.requireSecret(spec.hosts[host].ssh.privateKeySecret),
    });

    const director = new Director(spec.director.host, {
        host: target(spec.director.host),
        vips: spec.director.vips,
        schedulers: spec.services.map((s) => s.scheduler),
        ipvs: spec.director.ipvs,
    });

    const nfsServers: Record<string, NfsServer> = {};
    for (const n of spec.nfsServers) {
        nfsServers[n.host] = new NfsServer(n.host, { host: target(n.host), exports: n.exports });
    }

    const realServers: Record<string, RealServer> = {};
    for (const host of spec.realServerHosts) {
        const served = spec.services.filter((s) => s.realServers.some((r) => r.host === host));
        realServers[host] = new RealServer(host, {
            host: target(host),
            vips: [...new Set(served.map((s) => s.vip))],
            webServer: spec.webServer,
            ports: [...new Set(served.map((s) => `${s.port}/${s.protocol}`))],
            mounts: spec.mounts
                .filter((m) => m.host === host)
                .map((m) => ({ mount: m, export: nfsServers[m.server].exportCommands[m.export] })),
        });
    }

    const services: Record<string, VirtualService> = {};
    for (const s of spec.services) {
        services[s.name] = new VirtualService(s.name, { director, service: s, realServers });
    }
    return { director, realServers, nfsServers, services };
}

/** The stack outputs: plain values from the checked spec, in the shape the README documents. */
export function clusterOutputs(spec: ClusterSpec) {
    const host = (name: string) => ({ host: name, address: spec.hosts[name].address });
    return {
        vips: spec.director.vips,
        director: host(spec.director.host),
        services: spec.services.map((s) => ({
            name: s.name,
            vip: s.vip,
            port: s.port,
            protocol: s.protocol,
            scheduler: s.scheduler,
            method: s.method,
            persistence: s.persistence,
            realServers: s.realServers.map((r) => ({ host: r.host, address: r.address, port: r.port, weight: r.weight })),
        })),
        nfsExports: spec.nfsServers.flatMap((n) =>
            n.exports.map((e) => ({ ...host(n.host), path: e.path, clients: e.clients, line: exportLine(e) })),
        ),
        mounts: spec.mounts.map((m) => ({
            host: m.host,
            source: `${m.serverAddress}:${m.export}`,
            server: m.server,
            export: m.export,
            path: m.path,
        })),
    };
}
