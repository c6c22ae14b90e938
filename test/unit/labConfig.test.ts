/**
 * The e2e suites' config edits (test/e2e/lab.ts editConfigText): what they write is what the next
 * edit and Pulumi read back.
 */
import { parseDocument } from "yaml";
import { editConfigText, errorLines } from "../e2e/lab";

const TEXT = [
    "encryptionsalt: v1:abc",
    "config:",
    "  lvs-dr:sshPrivateKey:",
    "    secure: v1:xyz",
    "  # the lab's services",
    "  lvs-dr:services:",
    "    - name: web",
    "      healthCheck:",
    "        type: tcp",
    "        interval: 2",
    "",
].join("\n");

const services = (text: string) => (parseDocument(text).toJS() as any).config["lvs-dr:services"];

test("an object placed twice stays whole through the next edit (no YAML aliases)", () => {
    let text = editConfigText(TEXT, (c) => {
        const check = c["lvs-dr:services"][0].healthCheck;
        c["lvs-dr:services"].push({ name: "app", healthCheck: check }, { name: "nat", healthCheck: check });
    });
    expect(text).not.toMatch(/[&*]a\d/);
    text = editConfigText(text, (c) => {
        c["lvs-dr:services"][0].weight = 1;
    });
    expect(services(text).map((s: any) => s.healthCheck)).toEqual([
        { type: "tcp", interval: 2 },
        { type: "tcp", interval: 2 },
        { type: "tcp", interval: 2 },
    ]);
});

test("the secret, other keys and comments are kept", () => {
    const text = editConfigText(TEXT, (c) => {
        c["lvs-dr:services"][0].port = 80;
    });
    const doc = parseDocument(text).toJS() as any;
    expect(doc.encryptionsalt).toBe("v1:abc");
    expect(doc.config["lvs-dr:sshPrivateKey"]).toEqual({ secure: "v1:xyz" });
    expect(services(text)[0].port).toBe(80);
    expect(text).toContain("# the lab's services");
});

test("a failed command's error lines are kept whole, wherever they are in its output (Pulumi prints its diagnostics before its summary)", () => {
    const out = ["Updating (lab):", "  ~ web6-real-web1 updating", "    error: illegal real server address[:port] specified", ...Array(500).fill("    outputs line"), "Resources:", "    3 errored"].join("\n");
    expect(errorLines(out)).toEqual(["    error: illegal real server address[:port] specified", "    3 errored"]);
    expect(errorLines("Resources:\n    5 unchanged\n")).toEqual([]);
});
