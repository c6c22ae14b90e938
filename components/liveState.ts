/**
 * A component's presence on its host: its toolkit, and what `pulumi refresh` sees there.
 *
 * `remote.Command` has no read, so a refresh cannot see a host that was changed by hand (pulumi-command
 * #432). Each component therefore has one `LiveState` (a dynamic provider) that:
 *  - on create/update installs the component's toolkit (lib.sh and its concern scripts) before any of
 *    its commands runs, and on delete removes it after the last one;
 *  - on refresh (`read`) runs the component's check over SSH: every resource against the parameters
 *    its last apply recorded on the host, the toolkit's files, and what is ours but no longer in the
 *    stack (a leftover resource or unit, an extra IPVS service or real server); nothing is changed.
 *    What it finds becomes its inputs `desired` (readable) and `drifted` (which resources);
 *  - on the next preview or up, `check` raises the repair count of each drifted resource; that count
 *    is part of the resource's script (`LVS_REPAIR`), so exactly the drifted commands apply again, in
 *    the graph's order, and the preview shows which. The toolkit and leftovers it repairs itself.
 *
 * Plain `pulumi preview` and `up` never run `read`, so they never connect for this.
 *
 *   pulumi preview --refresh --diff   # shows what drifted and which resources will apply again
 *   pulumi up --refresh               # repairs it
 *
 * The provider's code is the package `lvs-dr-live` (components/live), required by name when Pulumi
 * calls it: a dynamic provider is serialized into every resource's state (inputs and outputs), so
 * the stub below keeps that to a few lines instead of the whole SSH client per resource.
 */
import * as pulumi from "@pulumi/pulumi";
import { IN_SYNC, LiveConnection as Connection, LiveStateProps as Props } from "lvs-dr-live";
import { Toolkit } from "./script";

export { IN_SYNC };
export type LiveConnection = Connection;
export type LiveStateProps = Props;

/* eslint-disable @typescript-eslint/no-var-requires */
const provider: pulumi.dynamic.ResourceProvider = {
    check: (olds, news) => require("lvs-dr-live").provider.check(olds, news),
    diff: (id, olds, news) => require("lvs-dr-live").provider.diff(id, olds, news),
    create: (inputs) => require("lvs-dr-live").provider.create(inputs),
    update: (id, olds, news) => require("lvs-dr-live").provider.update(id, olds, news),
    read: (id, props) => require("lvs-dr-live").provider.read(id, props),
    delete: (id, props) => require("lvs-dr-live").provider.delete(id, props),
};

export interface LiveStateArgs {
    connection: pulumi.Input<LiveConnection>;
    /** Its own name: the component's name + "-live". */
    resource: string;
    /** The component's name. */
    component: string;
    /** The toolkit it installs; absent for a component that uses another's (a VirtualService). */
    toolkit?: Toolkit;
    /** The component's check script (live.sh with its parameters). */
    live: string;
    /** The component's resources, in apply order. */
    names: string[];
}

export class LiveState extends pulumi.dynamic.Resource {
    /** IN_SYNC, or after a refresh that found drift, what differs. */
    declare public readonly desired: pulumi.Output<string>;
    /** After a refresh, the resources that drifted. */
    declare public readonly drifted: pulumi.Output<string[]>;
    /** Per resource of the component, how many times a refresh has had it repaired. */
    declare public readonly repairs: pulumi.Output<Record<string, number>>;

    constructor(name: string, args: LiveStateArgs, opts: pulumi.CustomResourceOptions) {
        super(
            provider,
            name,
            { ...args, desired: IN_SYNC, drifted: [], repairs: {} },
            { ...opts, additionalSecretOutputs: ["connection"] },
        );
    }
}
