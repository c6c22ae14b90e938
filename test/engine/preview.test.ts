/**
 * The real engine: the Pulumi CLI, the Node.js language host and the command provider built by
 * scripts/ensure-pulumi.sh, previewing this program. Preview never connects to a host.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDocument } from "yaml";
import { DEV_COMMAND_PARENTS } from "../expected";

const ROOT = path.join(__dirname, "..", "..");
jest.setTimeout(10 * 60_000);

interface Step {
    op: string;
    urn: string;
    newState?: { type: string; parent?: string; dependencies?: string[]; inputs?: Record<string, any> };
}

let backend: string;

/** Runs the CLI of this checkout with a throwaway local backend. */
function pulumi(args: string[], cwd = ROOT) {
    const r = spawnSync("bash", [path.join(ROOT, "scripts/pulumi.sh"), "--cwd", cwd, ...args], {
        encoding: "utf8",
        env: { ...process.env, PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "lvs-dr-local" },
        maxBuffer: 64 << 20,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function must(r: ReturnType<typeof pulumi>, what: string) {
    if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r;
}

const name = (urn: string) => urn.split("::").pop()!;

beforeAll(() => {
    backend = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-backend-"));
});
afterAll(() => fs.rmSync(backend, { recursive: true, force: true }));

test("pulumi preview of the dev stack plans the recipe's cluster: components, commands, parents", () => {
    must(pulumi(["stack", "select", "--create", "dev"]), "stack select dev");
    const out = must(pulumi(["preview", "--stack", "dev", "--json"]), "preview dev");
    const steps: Step[] = JSON.parse(out.stdout).steps;
    expect(steps.every((s) => s.op === "create")).toBe(true);
    const byType = (t: string) => steps.filter((s) => s.newState?.type === t).map((s) => name(s.urn)).sort();
    expect(byType("lvs:index:Director")).toEqual(["director"]);
    expect(byType("lvs:index:RealServer")).toEqual(["web1", "web2"]);
    expect(byType("lvs:index:NfsServer")).toEqual(["nfs"]);
    expect(byType("lvs:index:VirtualService")).toEqual(["web"]);
    const commands = steps.filter((s) => s.newState?.type === "command:remote:Command");
    const parentOf = Object.fromEntries(commands.map((s) => [name(s.urn), name(s.newState!.parent!)]));
    expect(parentOf).toEqual(DEV_COMMAND_PARENTS);
    // The engine got the real dependencies: a real server joins the service after its mount.
    const realWeb1 = commands.find((s) => name(s.urn) === "web-real-web1")!;
    expect((realWeb1.newState!.dependencies ?? []).map(name)).toEqual(
        expect.arrayContaining(["web-service", "web1-mount-var-www-html", "web1-vip-192.168.86.180"]),
    );
});

test("pulumi preview of a config with a bad input fails with the message naming the field", () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-project-"));
    try {
        for (const f of ["Pulumi.yaml", "index.ts", "components", "node_modules", "package.json", "tsconfig.json"]) {
            fs.symlinkSync(path.join(ROOT, f), path.join(project, f));
        }
        // The dev config with the recipe's typo: a real server added to VIP 192.168.186.180.
        const doc = parseDocument(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
        const services = doc.getIn(["config", "lvs-dr:services"]) as any;
        services.add(doc.createNode({ vip: "192.168.186.180", port: 80, realServers: [{ host: "web2" }] }));
        fs.writeFileSync(path.join(project, "Pulumi.bad.yaml"), doc.toString());
        must(pulumi(["stack", "select", "--create", "bad"], project), "stack select bad");
        const r = pulumi(["preview", "--stack", "bad"], project);
        expect(r.status).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(
            "lvs-dr:services[1].vip: 192.168.186.180 is not one of the director's VIPs (lvs-dr:director.vips: 192.168.86.180)",
        );
        expect(r.stdout + r.stderr).toContain("nothing was changed on any host");
        expect(r.stdout + r.stderr).not.toMatch(/command:remote:Command/);
    } finally {
        fs.rmSync(project, { recursive: true, force: true });
    }
});

test("scripts/pulumi.sh gives the public passphrase only to the checkout's example stacks", () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PULUMI_BACKEND_URL: `file://${backend}` };
    delete env.PULUMI_CONFIG_PASSPHRASE;
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    const run = (args: string[]) => spawnSync("bash", [path.join(ROOT, "scripts/pulumi.sh"), ...args], { encoding: "utf8", env, cwd: ROOT });
    for (const args of [["stack", "init", "prod"], ["preview", "--stack", "prod"], ["up", "--stack=prod"]]) {
        const r = run(args);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain('stack "prod" has no passphrase. The public passphrase lvs-dr-local is only for');
    }
    expect(fs.readdirSync(path.join(backend, ".pulumi", "stacks", "lvs-dr")).filter((f) => f.startsWith("prod"))).toEqual([]);
    // Positive control: an example stack goes through with it.
    const dev = run(["stack", "select", "--create", "dev"]);
    expect(dev.stderr).not.toContain("has no passphrase");
    expect(dev.status).toBe(0);
});
