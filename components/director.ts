import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { IpvsTuning, VrrpSpec } from "./config";
import { familyOf } from "./config/common";
import { HostAddress } from "./config/hosts";
import { deployHostPlan, HostPlan, HostTarget, PlannedCommand, vipCommand, vipCommandName } from "./host";
import { LiveState } from "./liveState";

export interface DirectorArgs {
    /** The director host. */
    host: HostTarget;
    /** The VIPs it holds, each as a /32 (an IPv6 one as a /128) on its data-plane interface. */
    vips: string[];
    /** IPVS schedulers its services use; their modules are loaded at boot. */
    schedulers: string[];
    /** The net.ipv4.vs.* settings. */
    ipvs: IpvsTuning;
    /** Whether health checks go through the VIP (the director then accepts replies from its VIP). */
    checksThroughVip: boolean;
    /** The services' ports as PORT/PROTO: opened in an active firewall (the VIP's traffic). */
    ports: string[];
    /** Set when this director is one of a pair: the VIPs are VRRP's, not static units. */
    pair?: DirectorPairArgs;
    /** Set when a service has a NAT real server: the director forwards, and holds their gateway. */
    nat?: DirectorNatArgs;
}

/** The director as the gateway of NAT real servers. */
export interface DirectorNatArgs {
    /** The gateway address and its network (the director holds it on its interface there). */
    gateway: HostAddress;
    /** The NAT real servers as ADDRESS:PORT/PROTO: their replies are forwarded (and opened in a firewall). */
    reals: string[];
}

/** This director's part of a pair. */
export interface DirectorPairArgs {
    /** The other director's data-plane address (VRRP adverts go to it by unicast). */
    peer: string;
    /** VRRP priority: the higher one is master at the first start (after that, nopreempt). */
    priority: number;
    vrrp: VrrpSpec;
    /** The virtual router id and the sync daemon's id (from RandomIntegers unless set in the config). */
    routerId: pulumi.Input<number>;
    syncId: pulumi.Input<number>;
    /** VRRPv2's PASS secret (a Pulumi secret); undefined with VRRPv3. */
    authPass?: pulumi.Input<string>;
}

/**
 * Kernel settings of a director (paths under /proc/sys; @IFACE@ is the data-plane interface). With
 * IPv6 VIPs (`ipv6`), ICMPv6 redirects are refused as IPv4's are.
 */
export function directorSysctls(ipvs: IpvsTuning, checksThroughVip = false, nat = false, ipv6 = false): string[] {
    const flag = (b: boolean) => (b ? 1 : 0);
    // `all` and the data interface decide (the kernel ORs or ANDs them, see ip-sysctl.rst). Not
    // `default`: set at boot, it would be copied into every interface created after it (the
    // management NIC too), and those copies would outlive a destroy.
    const everywhere = (key: string, value: number) => ["all", "@IFACE@"].map((dev) => `net/ipv4/conf/${dev}/${key}=${value}`);
    return [
        // The director balances; it does not route (the recipe's ip_forward=0), unless it is the
        // gateway of NAT real servers: their replies pass through it.
        `net/ipv4/ip_forward=${flag(nat)}`,
        // Real servers share its segment: never tell clients to go to them directly.
        ...everywhere("send_redirects", 0),
        // Not forwarding makes it a host, and a host obeys ICMP redirects: nobody may reroute its
        // replies to clients (or its health checks) with a forged redirect.
        ...everywhere("accept_redirects", 0),
        ...(ipv6 ? ["all", "@IFACE@"].map((dev) => `net/ipv6/conf/${dev}/accept_redirects=0`) : []),
        // Day-2 operations: drains and removals that do not strand clients.
        `net/ipv4/vs/expire_nodest_conn=${flag(ipvs.expireNodestConn)}`,
        `net/ipv4/vs/expire_quiescent_template=${flag(ipvs.expireQuiescentTemplate)}`,
        `net/ipv4/vs/conn_reuse_mode=${ipvs.connReuseMode}`,
        `net/ipv4/vs/sloppy_tcp=${flag(ipvs.sloppyTcp)}`,
        // A check through the VIP leaves from the director's address to the VIP, and the real server
        // answers from the VIP: a source address the director holds itself, which it drops unless
        // told to accept it on the data interface. And IPVS untracks what it sends unless told to
        // keep conntrack's entries: a firewall on the director would then drop the check's reply
        // as a new connection from VIP:PORT (seen in the lab with ufw: every check failed).
        ...(checksThroughVip ? ["net/ipv4/conf/@IFACE@/accept_local=1", "net/ipv4/vs/conntrack=1"] : []),
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
                params: { NAME: "director", SETTINGS: directorSysctls(args.ipvs, args.checksThroughVip, !!args.nat, args.vips.some((v) => familyOf(v) === 6)) },
                after: [`${name}-ipvs-modules`],
            },
            {
                name: `${name}-keepalived`,
                concern: "keepalived",
                object: "keepalived",
                params: keepalivedParams(args),
                after: [`${name}-sysctl`],
            },
            // A single director holds its VIPs (and a NAT gateway) itself; a pair's are VRRP's (keepalived's).
            ...(args.pair ? [] : args.vips.map((vip) => vipCommand(name, vip, "director", `${name}-keepalived`))),
            ...(args.pair || !args.nat ? [] : [natGatewayCommand(name, args.nat.gateway, `${name}-keepalived`)]),
        ],
    };
}

/** keepalived.sh's parameters: the VRRP ones are 0 or empty on a single director. */
export function keepalivedParams(args: Omit<DirectorArgs, "host">): PlannedCommand["params"] {
    const p = args.pair;
    return {
        VIPS: p ? args.vips : [],
        STATIC_VIPS: p ? [] : args.vips,
        PEER: p?.peer ?? "",
        PRIORITY: p?.priority ?? 0,
        ROUTER_ID: p?.routerId ?? 0,
        SYNC_ID: p?.syncId ?? 0,
        VRRP_VERSION: p?.vrrp.version ?? 0,
        ADVERT: p ? String(p.vrrp.advertInterval) : "",
        AUTH_PASS: p?.authPass ?? "",
        PORTS: args.ports,
        // Only with a NAT real server (the other directors' commands stay as they were).
        ...(args.nat ? { NAT_GATEWAY: p ? args.nat.gateway.address : "", NAT_NETWORK: args.nat.gateway.network, NAT_REALS: args.nat.reals } : {}),
    };
}

/** A single director's NAT gateway: a /32 on its interface in the gateway's network (vip.sh). */
export function natGatewayCommand(component: string, gateway: HostAddress, after: string): PlannedCommand {
    return {
        name: `${component}-nat-gateway`,
        concern: "vip",
        object: `vip-${gateway.address}`,
        params: { VIP: gateway.address, DEVICE: "@NET@", NETWORK: gateway.network, HOST_ROUTE: "no", ANNOUNCE: "yes" },
        identity: [gateway.address],
        after: [after],
    };
}

/**
 * An LVS director: ipvsadm and the IPVS modules, the redirect/forwarding sysctls, keepalived (which
 * holds the IPVS services and checks their real servers), and each VIP: a /32 alias on the data-plane
 * interface announced with gratuitous ARP on a single director, or VRRP's on a pair. All of it
 * persists across reboots and is undone on delete.
 */
export class Director extends pulumi.ComponentResource {
    public readonly target: HostTarget;
    /** The director's host name (the config's). */
    public readonly hostName: string;
    public readonly vips: string[];
    public readonly modules: command.remote.Command;
    public readonly sysctl: command.remote.Command;
    /** keepalived: the IPVS services and their checks (and a pair's VRRP). */
    public readonly keepalived: command.remote.Command;
    public readonly vipCommands: Record<string, command.remote.Command> = {};
    public readonly live: LiveState;

    constructor(name: string, args: DirectorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:Director", name, {}, opts);
        this.target = args.host;
        this.hostName = args.host.spec.name;
        this.vips = args.vips;
        const { live, commands } = deployHostPlan(this, args.host, directorPlan(name, args));
        this.live = live;
        this.modules = commands[`${name}-ipvs-modules`];
        this.sysctl = commands[`${name}-sysctl`];
        this.keepalived = commands[`${name}-keepalived`];
        if (!args.pair) for (const vip of args.vips) this.vipCommands[vip] = commands[vipCommandName(name, vip)];
        this.registerOutputs({ host: args.host.spec.name, address: args.host.spec.address, vips: args.vips, pair: !!args.pair });
    }
}
