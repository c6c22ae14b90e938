/**
 * How a component reaches a host: one helper that turns a concern script and its parameters into a
 * `remote.Command` whose create/update run `bash -s apply` and whose delete runs `bash -s remove`,
 * with the rendered script on stdin.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostSpec } from "./config";
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

/** A remote command that applies `concern` on the host (create and update) and undoes it (delete). */
export function hostCommand(
    name: string,
    target: HostTarget,
    concern: Concern,
    params: Params,
    opts: pulumi.CustomResourceOptions,
): command.remote.Command {
    const user = target.spec.ssh.user;
    return new command.remote.Command(
        name,
        {
            connection: connectionArgs(target),
            create: commandLine("apply", user),
            update: commandLine("apply", user),
            delete: commandLine("remove", user),
            stdin: renderScript(concern, scriptParams(name, target, params)),
            // The previous output would be passed with SSH setenv, which most sshd configs refuse.
            addPreviousOutputInEnv: false,
        },
        opts,
    );
}
