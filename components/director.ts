import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { IpvsTuning } from "./config";
import { deployHostPlan, HostPlan, HostTarget, vipCommand } from "./host";
import { LiveState } from "./liveState";

export interface DirectorArgs {
    /** The director host. */
    host: HostTarget;
    /** The VIPs it holds, each as a /32 on its data-plane interface. */
    vips: string[];
    /** IPVS schedulers its services use; their modules are loaded at boot. */
    schedulers: string[];
    /** The net.ipv4.vs.* settings. */
    ipvs: IpvsTuning;
}

/** Kernel settings of a director (paths under /proc/sys; @IFACE@ is the data-plane interface). */
export function directorSysctls(ipvs: IpvsTuning): string[] {
    const flag = (b: boolean) => (b ? 1 : 0);
    // `all` and the data interface decide (the kernel ORs or ANDs them, see ip-sysctl.rst). Not
    // `default`: set at boot, it would be copied into every interface created after it (the
    // management NIC too), and those copies would outlive a destroy.
    const everywhere = (key: string, value: number) => ["all", "@IFACE@"].map((dev) => `net/ipv4/conf/${dev}/${key}=${value}`);
    return [
        // The director balances; it does not route (the recipe's ip_forward=0).
        "net/ipv4/ip_forward=0",
        // Real servers share its segment: never tell clients to go to them directly.
        ...everywhere("send_redirects", 0),
        // Not forwarding makes it a host, and a host obeys ICMP redirects: nobody may reroute its
        // replies to clients (or its health checks) with a forged redirect.
        ...everywhere("accept_redirects", 0),
        // Day-2 operations: drains and removals that do not strand clients.
        `net/ipv4/vs/expire_nodest_conn=${flag(ipvs.expireNodestConn)}`,
        `net/ipv4/vs/expire_quiescent_template=${flag(ipvs.expireQuiescentTemplate)}`,
        `net/ipv4/vs/conn_reuse_mode=${ipvs.connReuseMode}`,
        `net/ipv4/vs/sloppy_tcp=${flag(ipvs.sloppyTcp)}`,
    ];
}

/** Kernel modules a director needs for these schedulers, in load order. */
export function ipvsModules(schedulers: string[]): string[] {
    return ["ip_vs", ...[...new Set(schedulers)].sort().map((s) => `ip_vs_${s}`)];
}

/** The director's host resources, in apply order (pure: the tests read it). */
export function directorPlan(name: string, args: Omit<DirectorArgs, "host">): HostPlan {
    return {
        component: name,
        kind: "director",
        inventory: "director",
        commands: [
            { name: `${name}-ipvs-modules`, concern: "ipvs-modules", object: "ipvs-modules", params: { MODULES: ipvsModules(args.schedulers) } },
            // net/ipv4/vs/* exists once ip_vs is loaded.
            {
                name: `${name}-sysctl`,
                concern: "sysctl",
                object: "sysctl-director",
                params: { NAME: "director", SETTINGS: directorSysctls(args.ipvs) },
                after: [`${name}-ipvs-modules`],
            },
            ...args.vips.map((vip) => vipCommand(name, vip, "director", `${name}-sysctl`)),
        ],
    };
}

/**
 * An LVS director: ipvsadm and the IPVS modules, the redirect/forwarding sysctls, and each VIP as a
 * /32 alias on the data-plane interface, announced with gratuitous ARP. All of it persists across
 * reboots and is undone on delete.
 */
export class Director extends pulumi.ComponentResource {
    public readonly target: HostTarget;
    public readonly vips: string[];
    public readonly modules: command.remote.Command;
    public readonly sysctl: command.remote.Command;
    public readonly vipCommands: Record<string, command.remote.Command> = {};
    public readonly live: LiveState;

    constructor(name: string, args: DirectorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:Director", name, {}, opts);
        this.target = args.host;
        this.vips = args.vips;
        const { live, commands } = deployHostPlan(this, args.host, directorPlan(name, args));
        this.live = live;
        this.modules = commands[`${name}-ipvs-modules`];
        this.sysctl = commands[`${name}-sysctl`];
        for (const vip of args.vips) this.vipCommands[vip] = commands[`${name}-vip-${vip}`];
        this.registerOutputs({ host: args.host.spec.name, address: args.host.spec.address, vips: args.vips });
    }
}
