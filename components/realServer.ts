import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { MountSpec, WEB_SERVERS } from "./config";
import { nfsSource } from "./config/nfs";
import { deployHostPlan, HostPlan, HostTarget, PlannedCommand, vipCommand, vipCommandName } from "./host";
import { LiveState } from "./liveState";

export interface RealServerMount {
    mount: MountSpec;
    /** The resource that makes the export available (it must exist before the mount). */
    export: pulumi.Resource;
}

export interface RealServerArgs {
    host: HostTarget;
    /** VIPs of the services this host serves: each held on `lo` as a /32. */
    vips: string[];
    /**
     * Of those, the VIPs of services that reach this host by IP-in-IP (method tun): held on `tunl0`
     * instead, with the ipip module, tunl0's reverse-path filter loose and the TCP MSS clamped.
     */
    tunnelVips?: string[];
    webServer: (typeof WEB_SERVERS)[number];
    /** The ports it serves on, as PORT/PROTO: the web server listens on them, an active firewall opens them. */
    ports: string[];
    /**
     * Set when it is a NAT real server of a service: the director's gateway address on its network,
     * through which its replies go back (nat-route.sh). A host that is only a NAT real server holds
     * no VIP (`vips` is empty) and needs no ARP settings.
     */
    natGateway?: string;
    mounts: RealServerMount[];
}

/**
 * ARP settings of a real server: never answer ARP for the VIP held on lo (arp_ignore=1) and never
 * use it as the source of ARP requests (arp_announce=2). The kernel takes the larger of `all` and the
 * interface's value, so both are set, and `lo` as the recipe does.
 */
export function realServerSysctls(): string[] {
    const out: string[] = [];
    for (const dev of ["all", "lo", "@IFACE@"]) {
        out.push(`net/ipv4/conf/${dev}/arp_ignore=1`, `net/ipv4/conf/${dev}/arp_announce=2`);
    }
    return out;
}

/**
 * Kernel settings of a tunnelled real server: tunl0's reverse-path filter loose (2). A decapsulated
 * packet arrives on tunl0 from a client whose route is through another device, which a strict filter
 * (1, RHEL's default for `all`) drops; the kernel takes the larger of `all` and the device's value,
 * so 2 is loose whatever `all` is, and no other device's filter is touched.
 */
export function tunnelSysctls(): string[] {
    return ["net/ipv4/conf/tunl0/rp_filter=2"];
}

/** A stable, readable name part for a path: "/var/www/html" -> "var-www-html". */
export function pathSlug(p: string): string {
    return p === "/" ? "root" : p.slice(1).replace(/\//g, "-");
}

/** Options lvs-dr adds to a mount unless the user set that option (by its key). */
export const MOUNT_DEFAULTS = [
    // A file lvs-dr replaces on the NFS server is renamed over the old one; with the kernel's default
    // lookup cache a web server may still stat the old file (its size) and read the new one for a few
    // seconds, and send a torn reply.
    "lookupcache=none",
];

/** The mount options written to the mount unit: the user's, the defaults they did not set, _netdev. */
export function mountOptions(options: string[]): string {
    const own = options.filter((o) => o !== "_netdev");
    const key = (o: string) => o.split("=")[0];
    const defaults = MOUNT_DEFAULTS.filter((d) => !own.some((o) => key(o) === key(d)));
    return [...own, ...defaults, "_netdev"].join(",");
}

/** The resource name of a real server's mount. */
export function mountName(host: string, mountPoint: string): string {
    return `${host}-mount-${pathSlug(mountPoint)}`;
}

/** The real server's host resources, in apply order (pure: the tests read it). */
export function realServerPlan(name: string, args: Omit<RealServerArgs, "host">): HostPlan {
    const tunnelVips = args.vips.filter((v) => args.tunnelVips?.includes(v));
    const tunnel: PlannedCommand[] =
        tunnelVips.length === 0
            ? []
            : [
                  { name: `${name}-tunnel`, concern: "tunnel", object: "tunnel", params: { VIPS: tunnelVips }, after: [`${name}-arp`] },
                  {
                      name: `${name}-tunnel-sysctl`,
                      concern: "sysctl",
                      object: "sysctl-real-server-tunnel",
                      params: { NAME: "real-server-tunnel", SETTINGS: tunnelSysctls() },
                      after: [`${name}-tunnel`],
                  },
              ];
    const commands: PlannedCommand[] = [
        ...(args.vips.length > 0
            ? [{ name: `${name}-arp`, concern: "sysctl" as const, object: "sysctl-real-server", params: { NAME: "real-server", SETTINGS: realServerSysctls() } }]
            : []),
        ...tunnel,
        ...(args.natGateway ? [{ name: `${name}-nat-route`, concern: "nat-route" as const, object: "nat-route", params: { GATEWAY: args.natGateway } }] : []),
        // The VIP goes on lo (or tunl0) only once the host will not answer ARP for it.
        ...args.vips.map((vip) =>
            tunnelVips.includes(vip) ? vipCommand(name, vip, "tunnel", `${name}-tunnel-sysctl`) : vipCommand(name, vip, "real-server", `${name}-arp`),
        ),
        {
            name: `${name}-web`,
            concern: "web",
            object: "web",
            params: { WEB_SERVER: args.webServer, PORTS: args.ports, SERVES_NFS: args.mounts.length > 0 ? "yes" : "no" },
        },
        ...args.mounts.map(({ mount, export: exp }) => {
            const source = nfsSource(mount);
            const options = mountOptions(mount.options);
            return {
                name: mountName(name, mount.path),
                concern: "mount" as const,
                object: `mount-${pathSlug(mount.path)}`,
                params: { SERVER: mount.serverAddress, EXPORT: mount.export, MOUNT_POINT: mount.path, OPTIONS: options, WEB_SERVER: args.webServer },
                // A new source or new options remake the mount: the real server leaves its services first.
                identity: [mount.path, source, options],
                after: [`${name}-web`, exp],
            };
        }),
    ];
    return { component: name, kind: "real-server", inventory: "units", commands };
}

/**
 * A real server: the ARP sysctls, then the VIP(s) on lo (direct routing) or on tunl0 (tunnelled, with
 * the ipip module, tunl0's settings and the MSS clamp first), or for NAT its replies' route through
 * the director, the web server, and the NFS mounts its content comes from. Everything persists across reboots and is undone on delete.
 */
export class RealServer extends pulumi.ComponentResource {
    public readonly target: HostTarget;
    /** Its ARP settings (a host that holds a VIP). */
    public readonly arp?: command.remote.Command;
    /** Its routing through the director (a NAT real server). */
    public readonly natRoute?: command.remote.Command;
    public readonly vipCommands: Record<string, command.remote.Command> = {};
    public readonly web: command.remote.Command;
    /** Mount commands by mount point. */
    public readonly mountCommands: Record<string, command.remote.Command> = {};
    public readonly live: LiveState;

    constructor(name: string, args: RealServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:RealServer", name, {}, opts);
        this.target = args.host;
        const { live, commands } = deployHostPlan(this, args.host, realServerPlan(name, args));
        this.live = live;
        this.arp = commands[`${name}-arp`];
        this.natRoute = commands[`${name}-nat-route`];
        for (const vip of args.vips) this.vipCommands[vip] = commands[vipCommandName(name, vip)];
        this.web = commands[`${name}-web`];
        for (const { mount } of args.mounts) this.mountCommands[mount.path] = commands[mountName(name, mount.path)];
        this.registerOutputs({
            host: args.host.spec.name,
            address: args.host.spec.address,
            vips: args.vips,
            tunnelVips: args.tunnelVips ?? [],
            natGateway: args.natGateway ?? null,
            mounts: args.mounts.map((m) => m.mount.path),
        });
    }
}
