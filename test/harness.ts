/**
 * Test harness: runs the real program (index.ts) under Pulumi's mocks and records every resource it
 * registers, with its inputs, parent and dependencies, as the engine would receive them.
 */
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

export const ROOT = path.join(__dirname, "..");

export interface Registered {
    type: string;
    name: string;
    custom: boolean;
    /** Name of the parent resource ("" for the stack itself). */
    parent: string;
    /** Names of the resources this one depends on. */
    dependencies: string[];
    inputs: Record<string, any>;
    /** Top-level inputs that reached the engine as secrets. */
    secretInputs: string[];
    /** The deleteBeforeReplace option. */
    deleteBeforeReplace: boolean;
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const isSecret = (v: any) => v && typeof v === "object" && v[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
const reveal = (v: any): any => {
    if (isSecret(v)) return reveal(v.value);
    if (Array.isArray(v)) return v.map(reveal);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    return v;
};

export interface ProgramRun {
    resources: Registered[];
    outputs: Record<string, unknown>;
    error?: Error;
}

/** A throwaway key: the program only checks that a private key is there, preview never connects. */
export const FAKE_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nZmFrZQ==\n-----END OPENSSH PRIVATE KEY-----\n";

/** The `lvs-dr:*` values of a stack file, keyed without the namespace (secure values left out). */
export function stackValues(stack: string): Record<string, unknown> {
    const doc = parseYaml(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8"));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc.config ?? {})) {
        if (v && typeof v === "object" && "secure" in (v as object)) continue;
        out[k.replace(/^lvs-dr:/, "")] = v;
    }
    return out;
}

/** Runs index.ts under mocks with these config values (plus a secret SSH key unless `withKey` is false). */
export async function runProgram(values: Record<string, unknown>, opts: { withKey?: boolean; secretKey?: boolean } = {}): Promise<ProgramRun> {
    const resources: Registered[] = [];
    const urnName = (urn: string) => urn.split("::").pop() ?? urn;
    let outputs: Record<string, unknown> = {};
    let error: Error | undefined;
    await jest.isolateModulesAsync(async () => {
        const pulumi = await import("@pulumi/pulumi");
        const config: Record<string, string> = {};
        for (const [k, v] of Object.entries(values)) config[`lvs-dr:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
        const secretKeys: string[] = [];
        if (opts.withKey !== false) {
            config["lvs-dr:sshPrivateKey"] = FAKE_PRIVATE_KEY;
            if (opts.secretKey !== false) secretKeys.push("lvs-dr:sshPrivateKey");
        }
        const inputsByName = new Map<string, Record<string, any>>();
        await pulumi.runtime.setMocks(
            {
                newResource: (args) => {
                    inputsByName.set(`${args.type}::${args.name}`, args.inputs);
                    return { id: args.custom ? `${args.name}-id` : undefined, state: args.inputs };
                },
                call: (args) => args.inputs,
            },
            "lvs-dr",
            "test",
            true,
        );
        pulumi.runtime.setAllConfig(config, secretKeys);
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const settings = require("@pulumi/pulumi/runtime/settings");
        const monitor = settings.getMonitor();
        const register = monitor.registerResource.bind(monitor);
        const pending: Array<() => Registered> = [];
        monitor.registerResource = (req: any, cb: any) => {
            pending.push(() => ({
                type: req.getType(),
                name: req.getName(),
                custom: req.getCustom(),
                parent: req.getParent() ? urnName(req.getParent()) : "",
                dependencies: req.getDependenciesList().map(urnName),
                deleteBeforeReplace: req.getDeletebeforereplace(),
                inputs: reveal(inputsByName.get(`${req.getType()}::${req.getName()}`) ?? {}),
                secretInputs: Object.entries(inputsByName.get(`${req.getType()}::${req.getName()}`) ?? {})
                    .filter(([, v]) => isSecret(v))
                    .map(([k]) => k),
            }));
            return register(req, cb);
        };
        try {
            const program = await import("../index");
            await settings.waitForRPCs();
            const entries = await Promise.all(
                Object.entries(program).map(async ([k, v]) => [k, await (pulumi.output(v) as any).promise()] as const),
            );
            outputs = Object.fromEntries(entries);
        } catch (e) {
            error = e as Error;
        }
        await settings.waitForRPCs();
        resources.push(...pending.map((f) => f()));
    });
    return { resources, outputs, error };
}
