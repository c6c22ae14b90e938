import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ServiceSpec } from "./config";
import { Director } from "./director";
import { HostCommands } from "./host";
import { LiveState } from "./liveState";
import { RealServer } from "./realServer";

export interface VirtualServiceArgs {
    director: Director;
    service: ServiceSpec;
    /** The RealServer component of every host the service names. */
    realServers: Record<string, RealServer>;
}

/** The id of a service on the director's disk and in unit names: "tcp-10.86.0.180-80". */
export function serviceId(s: ServiceSpec): string {
    return `${s.protocol}-${s.vip}-${s.port}`;
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
        const director = args.director.target;
        const common = { SERVICE_ID: serviceId(s), PROTOCOL: s.protocol, VIP: s.vip, PORT: s.port };
        const cmds = new HostCommands(this, director);
        this.service = cmds.add(`${name}-service`, "ipvs-service", {
            ...common,
            SCHEDULER: s.scheduler,
            PERSISTENCE: s.persistence,
        }, [args.director]);
        for (const r of s.realServers) {
            this.realServerCommands[r.host] = cmds.add(`${name}-real-${r.host}`, "ipvs-real", {
                ...common,
                REAL_ADDRESS: r.address,
                REAL_PORT: r.port,
                WEIGHT: r.weight,
                DRAIN_TIMEOUT: s.drainTimeout,
            }, [this.service, args.realServers[r.host]]);
        }
        this.live = cmds.live(name);
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
