/**
 * lvs-dr: an LVS direct-routing cluster, built over SSH from this stack's `lvs-dr:*` config.
 * The config is checked first; any problem stops here, before a single resource is declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { clusterOutputs, deployCluster, loadClusterSpec } from "./components/cluster";
import { ConfigError } from "./components/config";

function load() {
    try {
        return loadClusterSpec();
    } catch (e) {
        // A RunError is shown without a stack trace: the message names every bad field.
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

const spec = load();
deployCluster(spec);
const outputs = clusterOutputs(spec);

/** The VIPs the director holds. */
export const vips = outputs.vips;
/** The director: { host, address } (the first of a pair). */
export const director = outputs.director;
/** Every director: [{ host, address }], two for a pair. */
export const directors = outputs.directors;
/** A pair's VRRP: { version, advertInterval }, or null for a single director. */
export const vrrp = outputs.vrrp;
/** The NAT real servers' gateway address the director holds, or null. */
export const natGateway = outputs.natGateway;
/** Each virtual service with its scheduler, method, health check and real servers. */
export const services = outputs.services;
/** Each NFS export: { host, address, path, clients, line }. */
export const nfsExports = outputs.nfsExports;
/** Each NFS mount on a real server: { host, source, server, export, path }. */
export const mounts = outputs.mounts;
