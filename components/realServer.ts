import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { MountSpec, WEB_SERVERS } from "./config";
import { HostCommands, HostTarget } from "./host";
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
    webServer: (typeof WEB_SERVERS)[number];
    /** Service ports to open in an active firewall, as PORT/PROTO. */
    ports: string[];
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

/** A stable, readable name part for a path: "/var/www/html" -> "var-www-html". */
export function pathSlug(p: string): string {
    return p === "/" ? "root" : p.slice(1).replace(/\//g, "-");
}

/** The mount options written to the mount unit: the user's, plus _netdev. */
export function mountOptions(options: string[]): string {
    return [...options.filter((o) => o !== "_netdev"), "_netdev"].join(",");
}

/**
 * A real server in direct-routing mode: the ARP sysctls, then the VIP(s) on lo, the web server, and
 * the NFS mounts its content comes from. Everything persists across reboots and is undone on delete.
 */
export class RealServer extends pulumi.ComponentResource {
    public readonly target: HostTarget;
    public readonly arp: command.remote.Command;
    public readonly vipCommands: Record<string, command.remote.Command> = {};
    public readonly web: command.remote.Command;
    public readonly mountCommands: Record<string, command.remote.Command> = {};
    public readonly live: LiveState;

    constructor(name: string, args: RealServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("lvs:index:RealServer", name, {}, opts);
        this.target = args.host;
        const cmds = new HostCommands(this, args.host);
        this.arp = cmds.add(`${name}-arp`, "sysctl", { NAME: "real-server", SETTINGS: realServerSysctls() });
        for (const vip of args.vips) {
            // The VIP goes on lo only once the host will not answer ARP for it.
            this.vipCommands[vip] = cmds.add(`${name}-vip-${vip}`, "vip", { VIP: vip, DEVICE: "lo", HOST_ROUTE: "yes" }, [this.arp]);
        }
        this.web = cmds.add(`${name}-web`, "web", {
            WEB_SERVER: args.webServer,
            PORTS: args.ports,
            SERVES_NFS: args.mounts.length > 0 ? "yes" : "no",
        });
        for (const { mount, export: exp } of args.mounts) {
            this.mountCommands[mount.path] = cmds.add(`${name}-mount-${pathSlug(mount.path)}`, "mount", {
                SERVER: mount.serverAddress,
                EXPORT: mount.export,
                MOUNT_POINT: mount.path,
                OPTIONS: mountOptions(mount.options),
                WEB_SERVER: args.webServer,
            }, [this.web, exp]);
        }
        this.live = cmds.live(name);
        this.registerOutputs({
            host: args.host.spec.name,
            address: args.host.spec.address,
            vips: args.vips,
            mounts: args.mounts.map((m) => m.mount.path),
        });
    }
}
