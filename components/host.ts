/**
 * How a component reaches a host: one helper that turns a concern script and its parameters into a
 * `remote.Command` whose create/update run `bash -s apply` and whose delete runs `bash -s remove`,
 * with the rendered script on stdin.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostSpec } from "./config";
import { LiveConnection, LiveState } from "./liveState";
import { commandLine, Concern, Params, renderScript } from "./script";

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

/** The parameters every script receives, followed by the concern's own. */
export function scriptParams(name: string, target: HostTarget, params: Params): Params {
    return {
        LVS_RESOURCE: name,
        DATA_ADDRESS: target.spec.address,
        DATA_IFACE: target.spec.interface ?? "",
        ...params,
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

/**
 * The remote commands of one component on one host. Each applies its concern's script (create and
 * update) and undoes it (delete); `live` then adds the LiveState that checks them all on refresh and
 * repairs drift.
 */
export class HostCommands {
    private readonly scripts: [string, string][] = [];
    private readonly commands: command.remote.Command[] = [];

    constructor(
        private readonly parent: pulumi.Resource,
        private readonly target: HostTarget,
    ) {}

    add(name: string, concern: Concern, params: Params, dependsOn: pulumi.Input<pulumi.Resource>[] = []): command.remote.Command {
        const user = this.target.spec.ssh.user;
        const stdin = renderScript(concern, scriptParams(name, this.target, params));
        const cmd = new command.remote.Command(
            name,
            {
                connection: connectionArgs(this.target),
                create: commandLine("apply", user),
                update: commandLine("apply", user),
                delete: commandLine("remove", user),
                stdin,
                // The previous output would be passed with SSH setenv, which most sshd configs refuse.
                addPreviousOutputInEnv: false,
            },
            { parent: this.parent, dependsOn },
        );
        this.scripts.push([name, stdin]);
        this.commands.push(cmd);
        return cmd;
    }

    /** The component's LiveState, after all its commands. */
    live(name: string): LiveState {
        return new LiveState(`${name}-live`, { connection: liveConnection(this.target), scripts: this.scripts }, {
            parent: this.parent,
            dependsOn: this.commands,
        });
    }
}
