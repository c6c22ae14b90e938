/**
 * Host scripts: parameters reach bash as data, never as code, and every script we send passes
 * shellcheck as rendered for the dev config.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CONCERNS, renderParams, renderScript, SCRIPT_DIR, shellQuote } from "../../components/script";
import { runProgram, stackValues } from "../harness";

const NASTY = [
    "plain",
    "",
    "it's",
    "two words",
    "$(touch /tmp/lvs-dr-pwned)",
    "`id`",
    "a\nnew line",
    "back\\slash",
    "'; rm -rf / #",
    "\"double\"",
    "tab\there",
    "*",
    "${HOME}",
];

test("shellQuote: bash reads back exactly the original string, nothing is executed", () => {
    const marker = "/tmp/lvs-dr-pwned";
    fs.rmSync(marker, { force: true });
    for (const s of NASTY) {
        const out = execFileSync("bash", ["-c", `printf '%s' ${shellQuote(s)}`]).toString();
        expect(out).toBe(s);
    }
    expect(fs.existsSync(marker)).toBe(false);
});

test("renderParams: scalars and arrays survive the round trip through bash", () => {
    const text = renderParams({ B_ARRAY: NASTY, A_NUM: 42, C_TEXT: "x'y" });
    // Sorted by name, so a config change moves only its own lines in a preview diff.
    expect(text.indexOf("A_NUM=")).toBe(0);
    expect(text.indexOf("B_ARRAY=")).toBeLessThan(text.indexOf("C_TEXT="));
    const out = execFileSync("bash", ["-c", `${text}\nprintf '%s\\0' "$A_NUM" "$C_TEXT" "\${B_ARRAY[@]}"`]).toString();
    expect(out.split("\0").slice(0, -1)).toEqual(["42", "x'y", ...NASTY]);
});

test("renderParams refuses names that are not shell variable names, and fractional numbers", () => {
    expect(() => renderParams({ "A;B": "x" })).toThrow(/invalid shell parameter name/);
    expect(() => renderParams({ lower: "x" })).toThrow(/invalid shell parameter name/);
    expect(() => renderParams({ N: 1.5 })).toThrow(/must be an integer/);
});

function shellcheck(text: string, label: string): string {
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: text });
    if (r.error) throw new Error(`shellcheck is not installed (apt-get install shellcheck): ${r.error.message}`);
    return r.status === 0 ? "" : `${label}:\n${r.stdout.toString()}`;
}

test("every concern script file passes shellcheck", () => {
    const files = fs.readdirSync(SCRIPT_DIR).filter((f) => f.endsWith(".sh"));
    expect(files.sort()).toEqual(["lib.sh", ...CONCERNS.map((c) => `${c}.sh`)].sort());
    const failures = files.map((f) => shellcheck(fs.readFileSync(path.join(SCRIPT_DIR, f), "utf8"), f)).filter(Boolean);
    expect(failures).toEqual([]);
});

test("every script the dev stack sends passes shellcheck as rendered", async () => {
    const run = await runProgram(stackValues("dev"));
    const commands = run.resources.filter((r) => r.type === "command:remote:Command");
    expect(commands.length).toBeGreaterThan(10);
    const failures = commands.map((c) => shellcheck(c.inputs.stdin, c.name)).filter(Boolean);
    expect(failures).toEqual([]);
});

test("a rendered script only runs apply or remove, and reports an unknown action", () => {
    const text = renderScript("sysctl", { LVS_RESOURCE: "t", DATA_ADDRESS: "127.0.0.1", DATA_IFACE: "", NAME: "t", SETTINGS: [] });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-"));
    const r = spawnSync("bash", ["-s", "bogus"], { input: text, cwd: dir });
    expect(r.status).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/lvs-dr t: error: (unknown action 'bogus'|must run as root)/);
});
