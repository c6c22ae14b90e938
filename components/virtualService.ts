import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "./config";
import { Director } from "./director";
import { deployHostPlan, HostPlan } from "./host";
import { LiveState } from "./liveState";
import { RealServer } from "./realServer";
import { toolkitDir } from "./script";

export interface VirtualServiceArgs {
    director: Director;
    service: ServiceSpec;
    /** The RealServer component of every host the service names. */
    realServers: Record<string, RealServer>;
}

/** The id of a service on the director's disk and in unit names: "tcp-10.86.0.180-80". */
export function serviceId(s: Pick<ServiceSpec, "protocol" | "vip" | "port">): string {
    return `${s.protocol}-${s.vip}-${s.port}`;
}

/**
 * The service's host resources on the director, in apply order (pure: the tests read it). A real
 * server is replaced (drained out, then added back) whenever the service is replaced or one of the
 * real server's mounts is: it never serves while what it serves is being remade.
 */
export function virtualServicePlan(name: string, args: VirtualServiceArgs): HostPlan {
    const s = args.service;
    const id = serviceId(s);
    const common = { SERVICE_ID: id, PROTOCOL: s.protocol, VIP: s.vip, PORT: s.port };
    return {
        component: name,
        lib: toolkitDir("director"),
        inventory: "none",
        liveAfter: [args.director],
        commands: [
            {
                name: `${name}-service`,
                concern: "ipvs-service",
                object: `ipvs-${id}`,
                params: { ...common, SCHEDULER: s.scheduler, PERSISTENCE: s.persistence },
                identity: [s.protocol, s.vip, String(s.port)],
                after: [args.director],
            },
            ...s.realServers.map((r) => {
                const rs = args.realServers[r.host];
                return {
                    name: `${name}-real-${r.host}`,
                    concern: "ipvs-real" as const,
                    object: `ipvs-${id}-${r.address}-${r.port}`,
                    params: { ...common, REAL_ADDRESS: r.address, REAL_PORT: r.port, WEIGHT: r.weight, DRAIN_TIMEOUT: s.drainTimeout, DRAIN_IDLE: s.drainIdle },
                    identity: [id, r.address, String(r.port)],
                    after: [`${name}-service`, rs],
                    replacedWith: [`${name}-service`, ...Object.values(rs.mountCommands)],
                };
            }),
        ],
    };
}

/**
 * An IPVS virtual service on the director and its real servers, each a command of its own so that a
 * weight change edits one real server in place and removing one drains it. A real server joins only
 * after its RealServer component (VIP on lo, ARP settings, web server, content) is complete.
 */
export class VirtualService extends pulumi.ComponentResource {
    public readonly service: command.remote.Command;
    public readonly realServerCommands: Record<string, command.remote.Command> = {};
    public readonly live: LiveState;

    constructor(name: string, args: VirtualServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:VirtualService", name, {}, opts);
        const s = args.service;
        const { live, commands } = deployHostPlan(this, args.director.target, virtualServicePlan(name, args));
        this.live = live;
        this.service = commands[`${name}-service`];
        for (const r of s.realServers) this.realServerCommands[r.host] = commands[`${name}-real-${r.host}`];
        this.registerOutputs({
            vip: s.vip,
            port: s.port,
            protocol: s.protocol,
            scheduler: s.scheduler,
            method: s.method,
            realServers: s.realServers.map((r) => `${r.address}:${r.port}`),
        });
    }
}
