/**
 * The LiveState's SSH client (lvs-dr-live's onHost) against a real SSH server in this process that
 * has host keys of the three types a default OpenSSH install has: a host pinned by any one of them is
 * reached (the client asks for the pinned key's own algorithm), and a key the host does not have is
 * refused before anything runs.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IN_SYNC, onHost, provider, sha256 } from "lvs-dr-live";
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { Server, utils } = require("ssh2");

let dir: string;
let server: any;
let port: number;
const ran: string[] = [];
/** SSH connections the server has accepted. */
let connections = 0;
const keys: Record<string, { priv: string; pub: string }> = {};
let clientKey: string;

function keygen(type: string, file: string): { priv: string; pub: string } {
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-m", "PEM", "-f", file]);
    return { priv: fs.readFileSync(file, "utf8"), pub: fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ") };
}

beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-ssh-"));
    for (const type of ["ed25519", "ecdsa", "rsa"]) keys[type] = keygen(type, path.join(dir, `host_${type}`));
    const client = keygen("ed25519", path.join(dir, "client"));
    clientKey = client.priv;
    const allowed = utils.parseKey(client.pub);
    server = new Server({ hostKeys: ["ed25519", "ecdsa", "rsa"].map((t) => keys[t].priv) }, (conn: any) => {
        // A client that refuses our host keys ends the key exchange: that is the point of one test.
        conn.on("error", () => undefined);
        connections++;
        conn.on("authentication", (ctx: any) => {
            if (ctx.method === "publickey" && ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH())) {
                if (!ctx.signature || allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
            }
            ctx.reject(["publickey"]);
        });
        conn.on("ready", () =>
            conn.on("session", (accept: any) =>
                accept().once("exec", (acc: any, _rej: any, info: any) => {
                    const stream = acc();
                    let input = "";
                    stream.on("data", (d: Buffer) => (input += d));
                    stream.on("end", () => {
                        ran.push(`${info.command} <${input}>`);
                        // "ECHO text": the script's output is the text (a toolkit's listing, a check's drift).
                        stream.write(input.startsWith("ECHO ") ? input.slice(5) : `ran ${info.command}\n`);
                        stream.exit(input === "FAIL" ? 3 : 0);
                        stream.end();
                    });
                }),
            ),
        );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    port = server.address().port;
});

afterAll(() => {
    server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
});

const conn = (hostKey: string) => ({ host: "127.0.0.1", port, user: "root", privateKey: clientKey, hostKey });

test.each(["ed25519", "ecdsa", "rsa"])("a host pinned by its %s key is reached", async (type) => {
    const out = await onHost(conn(keys[type].pub), [["checking", "the script", "check"]]);
    expect(out).toEqual(["ran bash -s check\n"]);
    expect(ran[ran.length - 1]).toBe("bash -s check <the script>");
});

test("a pinned key the host does not have is refused before anything runs", async () => {
    const other = keygen("ecdsa", path.join(dir, "other"));
    const before = ran.length;
    await expect(onHost(conn(other.pub), [["checking", "x", "check"]])).rejects.toThrow(/ssh root@127\.0\.0\.1:\d+: /);
    expect(ran.length).toBe(before);
});

test("a script that fails stops the run, with its exit status and output", async () => {
    const before = ran.length;
    const runs: [string, string, "apply"][] = [["first", "ok", "apply"], ["second", "FAIL", "apply"], ["third", "ok", "apply"]];
    await expect(onHost(conn(keys.ed25519.pub), runs)).rejects.toThrow(/second failed on 127\.0\.0\.1:\d+ \(exit 3\):\nran bash -s apply/);
    expect(ran.slice(before)).toEqual(["bash -s apply <ok>", "bash -s apply <FAIL>"]);
});

describe("a refresh's read of a LiveState with a toolkit", () => {
    const files = { "lib.sh": sha256("library\n"), "vip.sh": sha256("vip\n") };
    const listing = Object.entries(files).map(([n, h]) => `${h}  /usr/local/lib/lvs-dr/x/${n}`).join("\n");
    const props = (check: string, live: string) => ({
        connection: conn(keys.ed25519.pub),
        resource: "web1-live",
        component: "web1",
        toolkit: { dir: "/usr/local/lib/lvs-dr/x", files, check },
        live,
        names: ["web1-vip", "web1-arp"],
        desired: IN_SYNC,
        drifted: [],
        repairs: {},
    });

    test("checks the toolkit and the component over one SSH connection", async () => {
        const before = { connections, ran: ran.length };
        const r = await provider.read("id", props(`ECHO ${listing}\n`, "ECHO lvs-dr web1-arp: drift: arp_ignore is 0\n"));
        expect(r.props.drifted).toEqual(["web1-arp"]);
        expect(ran.length - before.ran).toBe(2);
        expect(connections - before.connections).toBe(1);
    });

    test("a toolkit file missing: everything applies again, and the component's check is not run (the control: one script, not two)", async () => {
        const before = ran.length;
        const r = await provider.read("id", props(`ECHO ${listing.split("\n")[0]}\n`, "ECHO should not run\n"));
        expect(r.props.desired).toMatch(/\/usr\/local\/lib\/lvs-dr\/x\/vip\.sh is missing/);
        expect(r.props.drifted).toEqual(["web1-vip", "web1-arp", "web1-live"]);
        expect(ran.length - before).toBe(1);
    });
});
