import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { RealServerRef, ServiceSpec } from "./config";
import { CHECK_MARK_BASE } from "./config/services";
import { familyOf, pickMarks } from "./config/common";
import { addressOf } from "./config/hosts";
import { Director } from "./director";
import { deployHostPlan, HostPlan } from "./host";
import { LiveState } from "./liveState";
import { RealServer } from "./realServer";
import { toolkitDir } from "./script";

export interface VirtualServiceArgs {
    /** The director, or both directors of a pair: each holds the service and checks its real servers. */
    directors: Director[];
    service: ServiceSpec;
    /** The RealServer component of every host the service names. */
    realServers: Record<string, RealServer>;
    /** The firewall mark of each real server's check through the VIP (checkMarks), by checkKey. */
    marks: Map<string, number>;
}

/** A real server of a service, as the check marks name it: "tcp-10.86.0.180-80 10.86.0.11:80". */
export function checkKey(s: ServiceKey, r: Pick<RealServerRef, "address" | "port">): string {
    return `${serviceId(s)} ${r.address}:${r.port}`;
}

/** The firewall marks of checks through the VIP: 0x4c56 ("LV") in the high half, so ours are easy
 * to tell apart, and a hash of the real server's key in the low half, so adding or removing one
 * leaves the others' marks as they were; a collision takes the next free mark, in key order. */
export function checkMarks(services: ServiceSpec[]): Map<string, number> {
    return pickMarks(services.flatMap((s) => s.realServers.map((r) => checkKey(s, r))), CHECK_MARK_BASE);
}

/**
 * ipvs-real.sh's check parameters for a real server. A NAT real server does not hold the VIP (the
 * director rewrites each packet's destination to the real server's own address and port), so a check
 * through the VIP would see nothing that a check of that address and port does not: it is checked there.
 */
export function checkParams(
    s: ServiceSpec,
    mark: number,
    method: RealServerRef["method"] = "dr",
    from?: string,
): Record<string, string | number> {
    const c = s.healthCheck;
    const through = c.throughVip && method !== "nat";
    return {
        CHECK_TYPE: c.type,
        CHECK_PATH: c.type === "http" ? c.path : "",
        CHECK_STATUS: c.type === "http" ? c.status : 0,
        CHECK_BODY: c.type === "http" ? (c.bodyContains ?? "").replace(/[.*+?^$()[\]{}|]/g, "\\$&") : "",
        CHECK_INTERVAL: String(c.interval),
        CHECK_TIMEOUT: String(c.timeout),
        CHECK_RETRY: c.failuresBeforeDown - 1,
        CHECK_RETRY_DELAY: String(c.retryDelay),
        CHECK_MARK: through ? mark : 0,
        // An IPv6 service's checks through the VIP leave from the director's IPv6 address (`from`).
        ...(through && from !== undefined ? { CHECK_FROM: from } : {}),
        // Only when set (the other checks' commands stay as they were).
        ...(c.type === "udp" && c.payload !== undefined ? { CHECK_PAYLOAD: Buffer.from(c.payload, "utf8").toString("hex") } : {}),
        ...(c.type === "udp" && c.requireReply ? { CHECK_REPLY: "yes" } : {}),
    };
}

/** Where the director's checks of an IPv6 service leave from: its IPv6 address; undefined for IPv4. */
function checkSource(s: ServiceSpec, director: Director): string | undefined {
    return familyOf(s.vip) === 6 ? addressOf(director.target.spec, 6)?.address : undefined;
}

/** What names a service in IPVS: its protocol, VIP and port, or its firewall mark. */
export type ServiceKey = Pick<ServiceSpec, "protocol" | "vip" | "port" | "fwmark">;

/**
 * The id of a service on the director's disk and in unit names: "tcp-10.86.0.180-80", or for a
 * firewall-mark service "tcp-10.86.0.180-fwm1280704052".
 */
export function serviceId(s: ServiceKey): string {
    return s.fwmark ? `${s.protocol}-${s.vip}-fwm${s.fwmark}` : `${s.protocol}-${s.vip}-${s.port}`;
}

/**
 * The service's host resources on the director, in apply order (pure: the tests read it). A real
 * server is replaced (drained out, then added back) whenever the service is replaced or one of the
 * real server's mounts is: it never serves while what it serves is being remade.
 */
export function virtualServicePlan(name: string, args: VirtualServiceArgs, director: Director): HostPlan {
    const s = args.service;
    const id = serviceId(s);
    // A firewall-mark service also has its mark and ports (a VIP:PORT service's commands are as before).
    const marked: Record<string, number | string[]> = s.fwmark ? { FWMARK: s.fwmark, PORTS: s.ports.map(String) } : {};
    const common = { SERVICE_ID: id, PROTOCOL: s.protocol, VIP: s.vip, PORT: s.port, ...marked };
    return {
        component: name,
        lib: toolkitDir("director"),
        inventory: "none",
        liveAfter: [director],
        commands: [
            {
                name: `${name}-service`,
                concern: "ipvs-service",
                object: `ipvs-${id}`,
                params: { ...common, SCHEDULER: s.scheduler, PERSISTENCE: s.persistence },
                identity: s.fwmark ? [s.protocol, s.vip, s.ports.join(","), String(s.fwmark)] : [s.protocol, s.vip, String(s.port)],
                after: [director],
            },
            ...s.realServers.map((r) => {
                const rs = args.realServers[r.host];
                const mark = args.marks.get(checkKey(s, r));
                if (mark === undefined) throw new Error(`${name}: no check mark for ${checkKey(s, r)}`);
                return {
                    name: `${name}-real-${r.host}`,
                    concern: "ipvs-real" as const,
                    object: `ipvs-${id}-${r.address}-${r.port}`,
                    params: {
                        ...common,
                        REAL_ADDRESS: r.address,
                        REAL_PORT: r.port,
                        WEIGHT: r.weight,
                        DRAIN_TIMEOUT: s.drainTimeout,
                        DRAIN_IDLE: s.drainIdle,
                        ...checkParams(s, mark, r.method, checkSource(s, director)),
                        // A tunnelled or NAT real server also has its method (a direct-routing one's command is as before).
                        ...(r.method === "dr" ? {} : { METHOD: r.method }),
                    },
                    // A new method is a new real server: drained under the old one, then added with the
                    // new. IPVS keeps each connection's method but caches one route per real server,
                    // and a direct-routed connection sent along a route cached for the tunnel goes to
                    // the VIP as its next hop, which nobody answers (dr-only identities are as before).
                    identity: [id, r.address, String(r.port), ...(r.method === "dr" ? [] : [r.method])],
                    after: [`${name}-service`, rs],
                    replacedWith: [`${name}-service`, ...Object.values(rs.mountCommands)],
                };
            }),
        ],
    };
}

/** The name of a service's part on one director: the service's own on the first, suffixed on the second. */
export function onDirector(service: string, directors: Director[], i: number): string {
    return i === 0 ? service : `${service}-${directors[i].hostName}`;
}

/**
 * An IPVS virtual service on the director and its real servers, each a command of its own so that a
 * weight change edits one real server in place and removing one drains it. A real server joins only
 * after its RealServer component (VIP on lo, ARP settings, web server, content) is complete.
 */
export class VirtualService extends pulumi.ComponentResource {
    /** Per director (by host name): the service's command. */
    public readonly service: Record<string, command.remote.Command> = {};
    /** Per director (by host name), per real server host: its command. */
    public readonly realServerCommands: Record<string, Record<string, command.remote.Command>> = {};
    public readonly live: LiveState[] = [];

    constructor(name: string, args: VirtualServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:VirtualService", name, {}, opts);
        const s = args.service;
        args.directors.forEach((director, i) => {
            const part = onDirector(name, args.directors, i);
            const { live, commands } = deployHostPlan(this, director.target, virtualServicePlan(part, args, director));
            this.live.push(live);
            this.service[director.hostName] = commands[`${part}-service`];
            this.realServerCommands[director.hostName] = Object.fromEntries(
                s.realServers.map((r) => [r.host, commands[`${part}-real-${r.host}`]]),
            );
        });
        this.registerOutputs({
            vip: s.vip,
            port: s.port,
            ports: s.ports,
            fwmark: s.fwmark,
            protocol: s.protocol,
            scheduler: s.scheduler,
            method: s.method,
            realServers: s.realServers.map((r) => `${r.address}:${r.port}`),
        });
    }
}
