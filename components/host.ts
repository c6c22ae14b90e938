/**
 * How a component reaches its host: a plan of host-script resources becomes one LiveState (which
 * installs the component's toolkit, checks the host on refresh and schedules repairs) and one
 * `remote.Command` per planned resource, whose create/update run `bash -s apply` and whose delete
 * runs `bash -s remove` with the resource's few-line script on stdin.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostSpec } from "./config";
import { addressId, familyOf } from "./config/common";
import { LiveConnection, LiveState } from "./liveState";
import { commandLine, Concern, Kind, ParamValue, Params, renderScript, renderToolkit, ResourceScript, toolkitDir } from "./script";

export interface HostTarget {
    /** The host as checked from the config. */
    spec: HostSpec;
    /** Its SSH private key: a Pulumi secret. */
    privateKey: pulumi.Input<string>;
}

export function connectionArgs(target: HostTarget): command.types.input.remote.ConnectionArgs {
    const ssh = target.spec.ssh;
    return {
        host: ssh.host,
        port: ssh.port,
        user: ssh.user,
        privateKey: pulumi.secret(target.privateKey),
        hostKey: ssh.hostKey,
        dialErrorLimit: ssh.dialErrorLimit,
        perDialTimeout: ssh.perDialTimeout,
        proxy: ssh.proxy && {
            host: ssh.proxy.host,
            port: ssh.proxy.port,
            user: ssh.proxy.user,
            privateKey: pulumi.secret(target.privateKey),
            hostKey: ssh.proxy.hostKey,
        },
    };
}

/** The same connection as a plain value for the LiveState provider (the key stays a secret). */
export function liveConnection(target: HostTarget): pulumi.Output<LiveConnection> {
    const ssh = target.spec.ssh;
    return pulumi.secret(pulumi.output(target.privateKey)).apply((privateKey) => ({
        host: ssh.host,
        port: ssh.port,
        user: ssh.user,
        privateKey,
        hostKey: ssh.hostKey,
        ...(ssh.proxy ? { proxy: { ...ssh.proxy, privateKey } } : {}),
    }));
}

/** One host-script resource of a component, before it is declared. */
export interface PlannedCommand {
    /** The Pulumi resource name: unique in the stack. */
    name: string;
    concern: Concern;
    /** What it manages on the host (one owner per object): "vip-10.86.0.180", "ipvs-tcp-10.86.0.180-80". */
    object: string;
    /** Its parameters; a value may be an Output (a RandomInteger's result, a secret). */
    params: Record<string, pulumi.Input<ParamValue>>;
    /**
     * The values that make it what it is: when one changes, the resource is replaced, so its remove
     * runs first with the old parameters (nothing of the old one stays) and then the new one applies.
     */
    identity?: string[];
    /** Earlier resources of this plan, or other components' resources, that it runs after. */
    after?: (string | pulumi.Resource)[];
    /**
     * Earlier resources of this plan, or other components' commands, whose replacement replaces this
     * one too, before them: a real server leaves its service (drained) before its mount is remade.
     */
    replacedWith?: (string | command.remote.Command)[];
}

/**
 * A VIP held by a host: on the director's data interface (announced with gratuitous ARP), or on a
 * real server's `lo` (with the recipe's host route), or `tunl0` for one the director tunnels to,
 * after `after` (its sysctls).
 */
/** The resource name of a component's VIP command: "web1-vip-10.86.0.180", "web1-vip-fd86-86--180". */
export function vipCommandName(component: string, vip: string): string {
    return `${component}-vip-${addressId(vip)}`;
}

export function vipCommand(component: string, vip: string, on: "director" | "real-server" | "tunnel", after: string): PlannedCommand {
    const director = on === "director";
    const device = director ? "@IFACE@" : on === "tunnel" ? "tunl0" : "lo";
    // An IPv6 VIP on lo needs no route of its own: the address puts it in the local table.
    const hostRoute = !director && familyOf(vip) === 4;
    return {
        name: vipCommandName(component, vip),
        concern: "vip",
        object: `vip-${addressId(vip)}`,
        params: { VIP: vip, DEVICE: device, HOST_ROUTE: hostRoute ? "yes" : "no", ANNOUNCE: director ? "yes" : "no" },
        identity: [vip],
        after: [after],
    };
}

export interface HostPlan {
    /** The component's name: its resources' records on the host carry it. */
    component: string;
    /** The toolkit this component installs on its host; undefined when it uses another's (`lib`). */
    kind?: Kind;
    /** The toolkit folder its scripts use (`toolkitDir(kind)` unless it borrows another's). */
    lib?: string;
    /** What the component's refresh also looks for on the host beyond its own resources. */
    inventory: "none" | "units" | "director";
    /** Resources the LiveState needs first: the component whose toolkit it borrows. */
    liveAfter?: pulumi.Input<pulumi.Resource>[];
    commands: PlannedCommand[];
}

/** The parameters every script receives, followed by the resource's own. */
export function hostParams(target: HostTarget, params: Params): Params {
    return { DATA_ADDRESS: target.spec.address, DATA_IFACE: target.spec.interface ?? "", ...params };
}

/** A plan's resource as the script its command sends, given its resolved parameters (pure). */
export function plannedScript(plan: HostPlan, target: HostTarget, c: PlannedCommand, params: Params): ResourceScript {
    return {
        resource: c.name,
        component: plan.component,
        concern: c.concern,
        lib: planLib(plan),
        object: c.object,
        params: hostParams(target, params),
    };
}

export function planLib(plan: HostPlan): string {
    const lib = plan.lib ?? (plan.kind && toolkitDir(plan.kind));
    if (!lib) throw new Error(`${plan.component}: a host plan needs a toolkit kind or the lib it borrows`);
    return lib;
}

/** The LiveState's own script: the component's check over all its resources. */
export function liveScript(plan: HostPlan, target: HostTarget): string {
    return renderScript({
        resource: `${plan.component}-live`,
        component: plan.component,
        concern: "live",
        lib: planLib(plan),
        object: "",
        params: hostParams(target, { NAMES: plan.commands.map((c) => c.name), INVENTORY: plan.inventory }),
    });
}

export interface HostResources {
    live: LiveState;
    commands: Record<string, command.remote.Command>;
}

/**
 * Declares a plan: its LiveState first (the toolkit must be on the host before any script runs),
 * then each command, under `parent`, in the plan's order.
 */
export function deployHostPlan(parent: pulumi.Resource, target: HostTarget, plan: HostPlan): HostResources {
    const liveName = `${plan.component}-live`;
    const live = new LiveState(
        liveName,
        {
            connection: liveConnection(target),
            resource: liveName,
            component: plan.component,
            toolkit: plan.kind ? renderToolkit(plan.kind) : undefined,
            live: liveScript(plan, target),
            names: plan.commands.map((c) => c.name),
        },
        { parent, dependsOn: plan.liveAfter },
    );
    const user = target.spec.ssh.user;
    const commands: Record<string, command.remote.Command> = {};
    const resolve = <T>(ref: string | T): T | command.remote.Command => {
        if (typeof ref !== "string") return ref;
        const c = commands[ref];
        if (!c) throw new Error(`${plan.component}: ${ref} is not an earlier resource of this plan`);
        return c;
    };
    for (const c of plan.commands) {
        const params = pulumi.output(c.params) as pulumi.Output<Params>;
        const replacedWith = (c.replacedWith ?? []).map((r) => (resolve(r) as command.remote.Command).id);
        commands[c.name] = new command.remote.Command(
            c.name,
            {
                connection: connectionArgs(target),
                create: commandLine("apply", user),
                update: commandLine("apply", user),
                delete: commandLine("remove", user),
                stdin: pulumi
                    .all([live.repairs, params])
                    .apply(([r, p]) => renderScript(plannedScript(plan, target, c, p), r?.[c.name] ?? 0)),
                triggers: [...(c.identity ?? []), ...replacedWith],
                // The previous output would be passed with SSH setenv, which most sshd configs refuse.
                addPreviousOutputInEnv: false,
            },
            {
                parent,
                dependsOn: [live, ...(c.after ?? []).map((r) => resolve(r) as pulumi.Resource)],
                // A replaced resource is removed (with its old parameters) before its successor
                // applies: two resources never manage one thing on a host at the same time.
                deleteBeforeReplace: true,
            },
        );
    }
    return { live, commands };
}
