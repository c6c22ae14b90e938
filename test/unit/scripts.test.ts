/**
 * Host scripts: parameters reach bash as data, never as code, and every script we send passes
 * shellcheck as rendered for the dev config.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderInstall } from "lvs-dr-live";
import { CONCERNS, KIND_HELPERS, renderParams, renderScript, renderToolkit, SCRIPT_DIR, sha256, shellQuote } from "../../components/script";
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

test("every script file passes shellcheck", () => {
    const files = fs.readdirSync(SCRIPT_DIR).filter((f) => f.endsWith(".sh"));
    const helpers = Object.values(KIND_HELPERS).flat();
    expect(files.sort()).toEqual(["lib.sh", "toolkit.sh", ...CONCERNS.map((c) => `${c}.sh`), ...helpers].sort());
    const failures = files.map((f) => shellcheck(fs.readFileSync(path.join(SCRIPT_DIR, f), "utf8"), f)).filter(Boolean);
    expect(failures).toEqual([]);
});

test("every script the dev stack sends, and each toolkit installer, passes shellcheck as rendered", async () => {
    const run = await runProgram(stackValues("dev"));
    const commands = run.resources.filter((r) => r.type === "command:remote:Command");
    const lives = run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource");
    expect(commands.length).toBeGreaterThan(10);
    const texts: [string, string][] = [
        ...commands.map((c) => [c.name, c.inputs.stdin] as [string, string]),
        ...lives.map((l) => [l.name, l.inputs.live] as [string, string]),
        ...lives.filter((l) => l.inputs.toolkit).map((l) => [`${l.name} install`, renderInstall(l.inputs.toolkit, l.name, l.parent)] as [string, string]),
    ];
    const failures = texts.map(([name, text]) => shellcheck(text, name)).filter(Boolean);
    expect(failures).toEqual([]);
});

const sample = (concern: "sysctl", lib: string) =>
    renderScript({
        resource: "t",
        component: "c",
        concern,
        lib,
        object: "",
        params: { DATA_ADDRESS: "127.0.0.1", DATA_IFACE: "", NAME: "t", SETTINGS: [] },
    });

test("a rendered script only runs apply, remove or check, and reports an unknown action", () => {
    // LVS_LIB pointing at this checkout's scripts: lib.sh and the concern are read from there.
    const r = spawnSync("bash", ["-s", "bogus"], { input: sample("sysctl", SCRIPT_DIR) });
    expect(r.status).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/lvs-dr t: error: (unknown action 'bogus'|must run as root)/);
});

test("a rendered script whose toolkit is not on the host says so, and runs nothing", () => {
    const r = spawnSync("bash", ["-s", "apply"], { input: sample("sysctl", "/nonexistent/lvs-dr") });
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toBe("lvs-dr t: error: /nonexistent/lvs-dr/lib.sh is missing; pulumi up --refresh installs it again\n");
});

describe("the toolkit installer (as root, into a folder of this test)", () => {
    const root = process.getuid?.() === 0;
    const maybe = root ? test : test.skip;
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-toolkit-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const toolkitIn = (lib: string) => ({ ...renderToolkit("real-server"), dir: lib });

    maybe("installs every file byte for byte, records its owner, and a second run changes nothing", () => {
        const lib = path.join(dir, "real-server");
        const t = toolkitIn(lib);
        const first = spawnSync("bash", ["-s", "apply"], { input: renderInstall(t, "web1-live", "web1") });
        expect(first.stderr.toString()).toBe("");
        expect(first.status).toBe(0);
        for (const [name, hash] of Object.entries(t.files)) {
            expect(sha256(fs.readFileSync(path.join(lib, name), "utf8"))).toBe(hash);
            expect(fs.statSync(path.join(lib, name)).mode & 0o777).toBe(0o644);
        }
        expect(fs.readdirSync(lib).sort()).toEqual([".owner", ...Object.keys(t.files)].sort());
        expect(fs.readFileSync(path.join(lib, ".owner"), "utf8")).toBe("web1\n");
        expect(first.stdout.toString()).toMatch(/lvs-dr web1-live: apply: 9 change\(s\)\n$/);
        const second = spawnSync("bash", ["-s", "apply"], { input: renderInstall(t, "web1-live", "web1") });
        expect(second.stdout.toString()).toBe("lvs-dr web1-live: apply: no changes\n");
    });

    maybe("repairs a changed file and removes one that is no longer part of the toolkit", () => {
        const lib = path.join(dir, "real-server");
        const t = toolkitIn(lib);
        spawnSync("bash", ["-s", "apply"], { input: renderInstall(t, "web1-live", "web1") });
        fs.writeFileSync(path.join(lib, "vip.sh"), "tampered\n");
        fs.writeFileSync(path.join(lib, "old.sh"), "from an earlier version\n");
        const out = spawnSync("bash", ["-s", "apply"], { input: renderInstall(t, "web1-live", "web1") }).stdout.toString();
        expect(out).toContain(`changed: installed ${lib}/vip.sh`);
        expect(out).toContain(`changed: removed ${lib}/old.sh (no longer part of lvs-dr)`);
        expect(sha256(fs.readFileSync(path.join(lib, "vip.sh"), "utf8"))).toBe(t.files["vip.sh"]);
        expect(fs.existsSync(path.join(lib, "old.sh"))).toBe(false);
    });

    test("refuses to install files that are not the ones the deployment planned", () => {
        const t = toolkitIn(path.join(dir, "x"));
        t.files["lib.sh"] = "0".repeat(64);
        expect(() => renderInstall(t, "web1-live", "web1")).toThrow(/lib\.sh is not the version this deployment was planned with/);
    });
});

describe("folders lvs-dr makes (dir_ensure, dir_release in lib.sh)", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-dirs-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs lib.sh's functions with its bookkeeping in this test's folder; returns what exists after. */
    function run(steps: string): string[] {
        const script = [
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `LVS_STATE=${shellQuote(path.join(dir, "state"))}`,
            `changed() { :; }`,
            `cd ${shellQuote(dir)}`,
            steps,
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const root = path.join(dir, "srv");
        if (!fs.existsSync(root)) return [];
        return (fs.readdirSync(root, { recursive: true }) as string[]).map(p => `srv/${p}`).sort();
    }

    test("a parent made for two mount points stays until the second one goes", () => {
        const a = path.join(dir, "srv/www/a"), b = path.join(dir, "srv/www/b");
        const q = shellQuote;
        expect(run(`dir_ensure ${q(a)}; dir_ensure ${q(b)}`)).toEqual(["srv/www", "srv/www/a", "srv/www/b"]);
        expect(run(`dir_release ${q(a)}`)).toEqual(["srv/www", "srv/www/b"]);
        expect(run(`dir_release ${q(b)}`)).toEqual([]);
        expect(fs.readdirSync(path.join(dir, "state", "dirs"))).toEqual([]);
    });

    test("never removes a file, a folder that was there before, or one that is not empty", () => {
        fs.mkdirSync(path.join(dir, "srv"));
        const a = path.join(dir, "srv/www/a");
        const q = shellQuote;
        run(`dir_ensure ${q(a)}`);
        fs.writeFileSync(path.join(a, "kept.html"), "data\n");
        expect(run(`dir_release ${q(a)}`)).toEqual(["srv/www", "srv/www/a", "srv/www/a/kept.html"]);
        fs.rmSync(path.join(a, "kept.html"));
        run(`dir_ensure ${q(a)}`);
        // Positive control: the same folder, empty, goes (with the parent we made), and srv stays.
        expect(run(`dir_release ${q(a)}`)).toEqual([]);
        expect(fs.existsSync(path.join(dir, "srv"))).toBe(true);
    });
});

describe("systemd reloads (unit_install, unit_enable, unit_remove in lib.sh)", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-units-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /**
     * Runs lib.sh's functions against a stand-in systemctl that logs its arguments ("enabled" and
     * "active" as the test says); returns the calls, the ones after the steps (at exit) marked.
     */
    function calls(steps: string, state: { enabled?: boolean; active?: boolean } = {}): string[] {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        const log = path.join(dir, "systemctl.log");
        fs.rmSync(log, { force: true });
        fs.writeFileSync(
            path.join(bin, "systemctl"),
            [
                "#!/bin/bash",
                `echo "$*" >>${shellQuote(log)}`,
                `case "$1" in is-enabled) exit ${state.enabled ? 0 : 1} ;; is-active) exit ${state.active ? 0 : 1} ;; esac`,
            ].join("\n"),
            { mode: 0o755 },
        );
        const script = [
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `PATH=${shellQuote(bin)}:$PATH`,
            // Unit files go nowhere: the test is about what systemd is asked to do.
            `write_file() { cat >/dev/null; }`,
            `changed() { :; }`,
            steps,
            `echo "-- exit" >>${shellQuote(log)}`,
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        return fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
    }

    test("two unit files and an enable and start: one daemon-reload, before the start", () => {
        expect(calls("echo a | unit_install a.service; echo b | unit_install b.service; unit_enable b.service start")).toEqual([
            "is-enabled --quiet b.service",
            "enable --quiet --no-reload b.service",
            "daemon-reload",
            "is-active --quiet b.service",
            "start b.service",
            "-- exit",
        ]);
    });

    test("a unit file written and nothing else: systemd reads it when the run ends, even a failed one", () => {
        expect(calls("echo a | unit_install a.service")).toEqual(["-- exit", "daemon-reload"]);
        expect(calls("echo a | unit_install a.service; exit 1").filter((c) => c === "daemon-reload")).toHaveLength(1);
    });

    test("nothing changed: no reload at all (the control for the counts above)", () => {
        expect(calls("unit_enable b.service start", { enabled: true, active: true })).toEqual([
            "is-enabled --quiet b.service",
            "is-active --quiet b.service",
            "-- exit",
        ]);
    });
});

describe("kernel settings (sysctl_ensure, sysctl_restore in lib.sh)", () => {
    let dir: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-sysctl-"));
        for (const [key, value] of Object.entries({ "net/a": "0", "net/b": "0", "net/c": "5" })) {
            fs.mkdirSync(path.dirname(path.join(dir, "sys", key)), { recursive: true });
            fs.writeFileSync(path.join(dir, "sys", key), `${value}\n`);
        }
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Runs the steps on a settings tree of this test's own; returns the settings and the changes. */
    function run(steps: string): { values: Record<string, string>; changes: string[]; record: string | undefined } {
        const q = shellQuote;
        const script = [
            `. ${q(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `LVS_STATE=${q(path.join(dir, "state"))}`,
            `SYSCTL_DIR=${q(path.join(dir, "sys"))}`,
            // The drop-in under /etc/sysctl.d goes nowhere; lvs-dr's own records are written.
            `eval "real_$(declare -f write_file)"`,
            `write_file() { case "$1" in /etc/*) cat >/dev/null; return 1 ;; esac; real_write_file "$@"; }`,
            `changed() { echo "$*"; }`,
            steps,
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const read = (k: string) => fs.readFileSync(path.join(dir, "sys", k), "utf8").trim();
        const recordFile = path.join(dir, "state", "sysctl", "t.prev");
        return {
            values: { a: read("net/a"), b: read("net/b"), c: read("net/c") },
            changes: r.stdout.trim().split("\n").filter(Boolean),
            record: fs.existsSync(recordFile) ? fs.readFileSync(recordFile, "utf8") : undefined,
        };
    }

    test("sets, keeps the values from before, restores a key no longer wanted, and puts all back", () => {
        const first = run("sysctl_ensure t net/a=1 net/b=2");
        expect(first.values).toEqual({ a: "1", b: "2", c: "5" });
        expect(first.record).toBe("net/a=0\nnet/b=0\n");
        // Positive control for the "no changes" below: the first run did change both.
        expect(first.changes).toEqual(["set net/a=1 (was 0)", "set net/b=2 (was 0)"]);
        expect(run("sysctl_ensure t net/a=1 net/b=2").changes).toEqual([]);
        const second = run("sysctl_ensure t net/a=3 net/c=7");
        expect(second.values).toEqual({ a: "3", b: "0", c: "7" });
        // The value from before lvs-dr, not the one lvs-dr set.
        expect(second.record).toBe("net/a=0\nnet/c=5\n");
        expect(second.changes).toEqual(["restored net/b=0", "set net/a=3 (was 1)", "set net/c=7 (was 5)"]);
        const restored = run("sysctl_restore t");
        expect(restored.values).toEqual({ a: "0", b: "0", c: "5" });
        expect(restored.record).toBeUndefined();
    });

    test("a setting the kernel does not have is an error, and nothing is changed", () => {
        const q = shellQuote;
        const script = [
            `. ${q(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `LVS_STATE=${q(path.join(dir, "state"))}`,
            `SYSCTL_DIR=${q(path.join(dir, "sys"))}`,
            `journal() { :; }`,
            "LVS_RESOURCE=t-arp",
            "sysctl_ensure t net/a=1 net/nope=1",
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("kernel setting net/nope does not exist");
        expect(fs.readFileSync(path.join(dir, "sys", "net/a"), "utf8")).toBe("0\n");
    });
});

test("lvs_main check: reading who manages the object leaves the resource's own parameters as they were (nfs-export.sh's OWNER)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-owner-"));
    try {
        fs.mkdirSync(path.join(dir, "state", "owners"), { recursive: true });
        fs.writeFileSync(path.join(dir, "state", "owners", "export-kgc"), "nfs-export-kgc\n");
        // A concern whose check reports its OWNER parameter, as nfs-export.sh compares it with the folder's.
        fs.writeFileSync(path.join(dir, "t.sh"), 'lvs_check() { echo "OWNER=$OWNER"; }\n');
        const script = [
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `LVS_STATE=${shellQuote(path.join(dir, "state"))} LVS_LIB=${shellQuote(dir)} LVS_CONCERN=t`,
            "journal() { :; }",
            "LVS_RESOURCE=nfs-export-kgc LVS_OBJECT=export-kgc OWNER=www-data",
            "lvs_main check",
            // The control: another resource recorded as the manager is drift, and the parameter is still its own.
            `echo other > ${shellQuote(path.join(dir, "state", "owners", "export-kgc"))}`,
            "lvs_main check",
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        const lines = r.stdout.trim().split("\n").filter((l) => !l.includes("check: "));
        expect(lines).toEqual(["OWNER=www-data", "lvs-dr nfs-export-kgc: drift: export-kgc is not recorded as managed by this resource (owner: other)", "OWNER=www-data"]);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("def_save records a resource's parameters, and rewrites the record only when they change", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-def-"));
    try {
        const file = path.join(dir, "resources", "web1-arp.def");
        const script = [
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `LVS_STATE=${shellQuote(dir)}`,
            `LVS_RESOURCE=web1-arp LVS_PARAMS=(NAME SETTINGS) NAME=real-server SETTINGS=("a=1" "it's b=2")`,
            `def_save; stat -c %i ${shellQuote(file)}`,
            `def_save; stat -c %i ${shellQuote(file)}`,
            `SETTINGS=("a=1" "it's b=3"); def_save; stat -c %i ${shellQuote(file)}`,
            // What check reads back: the parameters as they were applied last.
            `unset NAME SETTINGS; . ${shellQuote(file)}; printf '%s|' "$NAME" "\${SETTINGS[@]}"`,
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        const [first, second, third, readBack] = r.stdout.trim().split("\n");
        expect(second).toBe(first);
        // Positive control: a changed parameter is written (a new file renamed over the old one).
        expect(third).not.toBe(first);
        expect(readBack).toBe("real-server|a=1|it's b=3|");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("write_file replaces a file only when its content or mode differs", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-write-"));
    try {
        const f = shellQuote(path.join(dir, "a.conf"));
        const script = [
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `changed() { echo "changed: $*"; }`,
            `w() { if echo "$1" | write_file ${f} "$2"; then echo rc=0; else echo rc=1; fi; }`,
            "w one 0644; w one 0644; w one 0600; w two 0600",
            `stat -c %a ${f}; cat ${f}; ls -A ${shellQuote(dir)} | wc -l`,
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.stdout.trim().split("\n").map((l) => l.replace(dir, "DIR"))).toEqual([
            "changed: wrote DIR/a.conf",
            "rc=0",
            "rc=1",
            "changed: wrote DIR/a.conf",
            "rc=0",
            "changed: wrote DIR/a.conf",
            "rc=0",
            "600",
            "two",
            // No temporary file left beside it.
            "1",
        ]);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

describe("the VIP's boot unit (vip.sh)", () => {
    /** The unit file vip.sh writes for a VIP on `device` (DATA_IFACE stands for @IFACE@). */
    function unitFor(device: string, dataIface = "eth1", vip = "10.86.0.180"): string {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-vip-"));
        try {
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            // The address is already there: lvs_apply only writes the unit (no `ip` change to make).
            const cidr = vip.includes(":") ? `inet6 ${vip}/128` : `inet ${vip}/32`;
            fs.writeFileSync(path.join(bin, "ip"), `#!/bin/bash\necho '1: x    ${cidr} scope global x'\n`, { mode: 0o755 });
            const script = [
                `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
                `. ${shellQuote(path.join(SCRIPT_DIR, "vip.sh"))}`,
                `PATH=${shellQuote(bin)}:$PATH`,
                `unit_install() { cat >${shellQuote(path.join(dir, "unit"))}; }`,
                `unit_enable() { :; }`,
                `garp_command() { :; }`,
                `changed() { :; }`,
                `say() { :; }`,
                `VIP=${vip} DEVICE=${shellQuote(device)} DATA_IFACE=${shellQuote(dataIface)} HOST_ROUTE=no ANNOUNCE=yes`,
                "lvs_apply",
            ].join("\n");
            const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
            expect(r.stderr).toBe("");
            return fs.readFileSync(path.join(dir, "unit"), "utf8");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    test("on the data interface it waits for the interface's device (at boot `ip` fails on a device udev has not seen)", () => {
        const unit = unitFor("@IFACE@", "ens-33");
        expect(unit).toMatch(/^BindsTo=sys-subsystem-net-devices-ens\\x2d33\.device$/m);
        expect(unit).toMatch(/^After=.* sys-subsystem-net-devices-ens\\x2d33\.device$/m);
        expect(unit).toMatch(/^ExecStart=\S*ip address replace 10\.86\.0\.180\/32 dev ens-33$/m);
    });

    test("on lo, which always exists, it waits for no device (the control for the test above)", () => {
        const unit = unitFor("lo");
        expect(unit).not.toMatch(/BindsTo|\.device|link set/);
        expect(unit).toMatch(/^ExecStart=\S*ip address replace 10\.86\.0\.180\/32 dev lo$/m);
    });

    test("an IPv6 VIP: a /128 without duplicate address detection (usable at once), on lo as on the data interface", () => {
        const lo = unitFor("lo", "eth1", "fd86:86::180");
        expect(lo).toMatch(/^ExecStart=\S*ip address replace fd86:86::180\/128 dev lo nodad$/m);
        expect(lo).toMatch(/^ExecStop=-\S*ip address del fd86:86::180\/128 dev lo$/m);
        // No host route (the address puts the VIP in the local table) and no announcement.
        expect(lo).not.toMatch(/route|arping/);
        expect(unitFor("@IFACE@", "eth1", "fd86:86::180")).toMatch(/^ExecStart=\S*ip address replace fd86:86::180\/128 dev eth1 nodad$/m);
    });

    test("on tunl0 (a tunnelled real server) it waits for the device ipip makes, and brings it up first", () => {
        const unit = unitFor("tunl0");
        expect(unit).toMatch(/^BindsTo=sys-subsystem-net-devices-tunl0\.device$/m);
        expect(unit).toMatch(/^RemainAfterExit=yes\nExecStartPre=\S*ip link set dev tunl0 up\nExecStart=\S*ip address replace 10\.86\.0\.180\/32 dev tunl0$/m);
    });
});

/** Runs `lines` after sourcing lib.sh and a concern script; its stderr must be empty. Returns stdout. */
function runSourced(concern: string, lines: string[]): string {
    const script = [`. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`, `. ${shellQuote(path.join(SCRIPT_DIR, concern))}`, ...lines].join("\n");
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    return r.stdout;
}

test("ipvs-real.sh: a tunnelled real server as ipvsadm -S prints it (\"-i -w W --tun-type ipip\"), a direct-routing one as before", () => {
    const lines = (method: string) =>
        runSourced("ipvs-real.sh", [
            "PROTOCOL=tcp VIP=10.86.0.180 PORT=80",
            `REAL_ADDRESS=10.86.1.44 REAL_PORT=80 WEIGHT=3 CHECK_MARK=7 ${method}`,
            'desired_args; echo "${DESIRED[*]}"; check_real_line',
        ])
            .trim()
            .split("\n");
    // Seen in the lab: ipvsadm 1.31 prints the tunnel's type; without it a tunnelled real server
    // never matched its own line and every check would have called it drift.
    expect(lines("METHOD=tun")).toEqual(["-a -t 10.86.0.180:80 -r 10.86.1.44:80 -i -w 3 --tun-type ipip", "-a -f 7 -r 10.86.1.44:0 -i -w 1 --tun-type ipip"]);
    expect(lines("")).toEqual(["-a -t 10.86.0.180:80 -r 10.86.1.44:80 -g -w 3", "-a -f 7 -r 10.86.1.44:0 -g -w 1"]);
});

test("ipvs-real.sh: an IPv6 real server as ipvsadm -S prints it, the addresses in brackets", () => {
    const lines = runSourced("ipvs-real.sh", [
        "PROTOCOL=tcp VIP=fd86:86::180 PORT=80",
        "REAL_ADDRESS=fd86:86::11 REAL_PORT=80 WEIGHT=3 CHECK_MARK=7",
        'desired_args; echo "${DESIRED[*]}"; check_real_line',
    ])
        .trim()
        .split("\n");
    // A fwmark service has no address to say its family: ipvsadm 1.31 prints "-6" after the mark.
    expect(lines).toEqual(["-a -t [fd86:86::180]:80 -r [fd86:86::11]:80 -g -w 3", "-a -f 7 -6 -r [fd86:86::11]:0 -g -w 1"]);
});

test("mount.sh: a mount's source as findmnt prints it, an IPv6 server in brackets", () => {
    expect(runSourced("mount.sh", ["SERVER=fd86:86::77 EXPORT=/srv/lvs/kgc mount_source", "SERVER=10.86.0.77 EXPORT=/srv/lvs/kgc mount_source"])).toBe("[fd86:86::77]:/srv/lvs/kgc\n10.86.0.77:/srv/lvs/kgc\n");
});

test("ipvs-real.sh: a check's fwmark service deleted by hand is put back with ipvsadm's own words (an IPv6 real server with its port 0, in brackets)", () => {
    const out = runSourced("ipvs-real.sh", [
        'ipvsadm() { echo "ipvsadm $*"; }; changed() { :; }',
        "PROTOCOL=tcp VIP=fd86:86::180 PORT=80 REAL_ADDRESS=fd86:86::11 REAL_PORT=80 CHECK_MARK=7",
        "mark_restore",
        "VIP=10.86.0.180 REAL_ADDRESS=10.86.0.11 CHECK_MARK=8 METHOD=tun",
        "mark_restore",
    ]);
    // What the check_real_line comparison expects afterwards (ipvsadm -S -n prints the port 0).
    expect(out.trim().split("\n")).toEqual([
        "ipvsadm -D -f 7 -6",
        "ipvsadm -A -f 7 -6 -s rr",
        "ipvsadm -a -f 7 -6 -r [fd86:86::11]:0 -g -w 1",
        "ipvsadm -D -f 8",
        "ipvsadm -A -f 8 -s rr",
        "ipvsadm -a -f 8 -r 10.86.0.11:0 -i -w 1 --tun-type ipip",
    ]);
});

test("tunnel.sh: the MSS clamp takes the tunnelled VIPs' SYN-ACKs down to the data interface's MTU less 60 bytes", () => {
    const mtu = Number(fs.readFileSync("/sys/class/net/lo/mtu", "utf8"));
    const out = runSourced("tunnel.sh", ["data_iface() { echo lo; }", "LVS_RESOURCE=web2-tunnel VIPS=(10.86.0.180 10.86.0.181)", "render_mss"]);
    // Loading the file replaces the table whole: it is declared, deleted, then declared with its rule.
    expect(out).toMatch(/^table inet lvs_dr_tunnel_mss\ndelete table inet lvs_dr_tunnel_mss\ntable inet lvs_dr_tunnel_mss \{\n/m);
    expect(out).toMatch(/^\s+type filter hook output priority mangle; policy accept;$/m);
    expect(out).toContain(
        `ip saddr { 10.86.0.180, 10.86.0.181 } tcp flags & (syn | rst) == syn tcp option maxseg size > ${mtu - 60} tcp option maxseg size set ${mtu - 60}\n`,
    );
});

describe("the drain of a removed real server (ipvs-real.sh, keepalived's real_server)", () => {
    // ipvsadm -Lnc as the director printed it in the day-2 drain test: with a TCP timeout of 900 s,
    // expiry 03:11 means the director has seen nothing of that connection for 709 s (the real server
    // had closed it: in DR its FIN and reset bypass the director).
    const SILENT = "TCP 03:11  ESTABLISHED 10.86.0.1:20001    10.86.0.180:80     10.86.0.33:80";
    const LIVE = "TCP 14:50  ESTABLISHED 10.86.0.1:20002    10.86.0.180:80     10.86.0.33:80";
    const OTHERS = [
        "TCP 14:59  ESTABLISHED 10.86.0.1:20003    10.86.0.180:80     10.86.0.22:80",
        "TCP 01:50  FIN_WAIT    10.86.0.1:20004    10.86.0.180:80     10.86.0.33:80",
    ];

    /**
     * Runs lvs_remove with a stub keepalived: `systemctl reload` makes the stub IPVS table what the
     * real server's keepalived file says (its weight, or no entry once the file is gone), as
     * keepalived's reload does; `ipvsadm -Lnc` lists `conns`. Returns its messages and the table
     * after each reload.
     */
    function drain(conns: string[]): { said: string[]; calls: string[] } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-drain-"));
        try {
            const bin = path.join(dir, "bin");
            const ka = path.join(dir, "keepalived");
            fs.mkdirSync(bin);
            fs.mkdirSync(path.join(ka, "services", "tcp-10.86.0.180-80"), { recursive: true });
            const real = path.join(ka, "services", "tcp-10.86.0.180-80", "10.86.0.33-80.conf");
            fs.writeFileSync(real, "real_server 10.86.0.33 80 {\n    weight 1\n}\n");
            fs.writeFileSync(path.join(dir, "table"), "-A -t 10.86.0.180:80 -s rr\n-a -t 10.86.0.180:80 -r 10.86.0.33:80 -g -w 1\n");
            fs.writeFileSync(path.join(dir, "conns"), ["IPVS connection entries", "pro expire state       source             virtual            destination", ...conns, ""].join("\n"));
            const q = (p: string) => shellQuote(path.join(dir, p));
            fs.writeFileSync(
                path.join(bin, "ipvsadm"),
                [
                    "#!/bin/bash",
                    'case "$*" in',
                    `"-S -n") cat ${q("table")} ;;`,
                    '"-L --timeout") echo "Timeout (tcp tcpfin udp): 900 120 300" ;;',
                    `"-L -n -c") cat ${q("conns")} ;;`,
                    `*) echo "ipvsadm $*" >>${q("calls")} ;;`,
                    "esac",
                ].join("\n"),
                { mode: 0o755 },
            );
            fs.writeFileSync(
                path.join(bin, "systemctl"),
                [
                    "#!/bin/bash",
                    'case "$1" in',
                    "is-active) exit 0 ;;",
                    "reload)",
                    `    { echo "-A -t 10.86.0.180:80 -s rr"; [ ! -f ${shellQuote(real)} ] || awk '$1 == "weight" { print "-a -t 10.86.0.180:80 -r 10.86.0.33:80 -g -w " $2 }' ${shellQuote(real)}; } >${q("table")}`,
                    `    { printf 'reload:'; tail -n +2 ${q("table")} | tr '\\n' ' '; echo; } >>${q("calls")} ;;`,
                    `*) echo "systemctl $*" >>${q("calls")} ;;`,
                    "esac",
                ].join("\n"),
                { mode: 0o755 },
            );
            fs.writeFileSync(path.join(bin, "keepalived"), "#!/bin/bash\nexit 0\n", { mode: 0o755 });
            const script = [
                `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
                `. ${shellQuote(path.join(SCRIPT_DIR, "ipvs-real.sh"))}`,
                `PATH=${shellQuote(bin)}:$PATH`,
                `LVS_ETC=${shellQuote(dir)} KA_DIR=${shellQuote(ka)}`,
                'changed() { echo "changed: $*"; }',
                'say() { echo "said: $*"; }',
                "LVS_RESOURCE=web-real-web3 DATA_ADDRESS=10.86.0.44",
                "SERVICE_ID=tcp-10.86.0.180-80 PROTOCOL=tcp VIP=10.86.0.180 PORT=80 REAL_ADDRESS=10.86.0.33 REAL_PORT=80",
                "WEIGHT=1 DRAIN_TIMEOUT=2 DRAIN_IDLE=120",
                "CHECK_TYPE=tcp CHECK_PATH= CHECK_STATUS=0 CHECK_BODY= CHECK_INTERVAL=1 CHECK_TIMEOUT=0.8 CHECK_RETRY=1 CHECK_RETRY_DELAY=0.3 CHECK_MARK=0",
                "lvs_remove",
            ].join("\n");
            const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
            expect(r.stderr).toBe("");
            expect(r.status).toBe(0);
            expect(fs.existsSync(real)).toBe(false);
            const said = r.stdout.split("\n").filter((l) => l.startsWith("said: "));
            return { said, calls: fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n") };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    test("a connection the director has not seen for DRAIN_IDLE seconds counts as ended: the drain does not wait for it", () => {
        const { said, calls } = drain([SILENT, ...OTHERS]);
        expect(said[0]).toBe("said: drained 10.86.0.33:80 after 0s (active connections left: 0, timeout 2s)");
        expect(said[1]).toBe("said: connections counted as ended, silent for 120s or more (CLIENT SECONDS): 10.86.0.1:20001 709 ");
        expect(said).toHaveLength(2);
        // keepalived set it to weight 0 (drain), then deleted it: lvs-dr never edits its table itself.
        expect(calls).toEqual(["reload:-a -t 10.86.0.180:80 -r 10.86.0.33:80 -g -w 0 ", "reload:"]);
    });

    test("a connection seen 10 s ago is live: the drain waits for it until the timeout, then says it cut it (the control)", () => {
        const { said, calls } = drain([SILENT, LIVE, ...OTHERS]);
        expect(said[0]).toBe("said: drained 10.86.0.33:80 after 2s (active connections left: 1, timeout 2s)");
        expect(said[2]).toBe("said: connections cut by the drain timeout (CLIENT SECONDS): 10.86.0.1:20002 10 ");
        expect(calls).toEqual(["reload:-a -t 10.86.0.180:80 -r 10.86.0.33:80 -g -w 0 ", "reload:"]);
    });
});

describe("the connections a drain waits for (established_connections in ipvs-real.sh)", () => {
    // ipvsadm -Lnc with connections of a port-80 service and of a firewall-mark service (8080, 8443).
    const CONNS = [
        "TCP 14:50  ESTABLISHED 10.86.0.1:20001    10.86.0.180:80     10.86.0.33:80",
        "TCP 14:40  ESTABLISHED 10.86.0.1:20002    10.86.0.180:8080   10.86.0.33:8080",
        "TCP 14:30  ESTABLISHED 10.86.0.1:20003    10.86.0.180:8443   10.86.0.33:8443",
        "TCP 14:20  ESTABLISHED 10.86.0.1:20004    10.86.0.180:9000   10.86.0.33:9000",
        "TCP 14:10  ESTABLISHED 10.86.0.1:20005    10.86.0.180:8080   10.86.0.22:8080",
        "TCP 01:50  FIN_WAIT    10.86.0.1:20006    10.86.0.180:8443   10.86.0.33:8443",
        "TCP 14:45  ESTABLISHED [fd86:86::1]:20007 [fd86:86::180]:80  [fd86:86::33]:80",
        "TCP 14:35  ESTABLISHED [fd86:86::1]:20008 [fd86:86::180]:80  [fd86:86::22]:80",
    ];
    function established(params: string): string[] {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-conns-"));
        try {
            fs.writeFileSync(path.join(dir, "conns"), ["IPVS connection entries", "pro expire state       source             virtual            destination", ...CONNS, ""].join("\n"));
            const script = [
                `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
                `. ${shellQuote(path.join(SCRIPT_DIR, "ipvs-real.sh"))}`,
                `ipvsadm() { cat ${shellQuote(path.join(dir, "conns"))}; }`,
                params.includes("VIP=") ? params : `VIP=10.86.0.180 REAL_ADDRESS=10.86.0.33 ${params}`,
                "established_connections 900",
            ].join("\n");
            const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
            expect(r.stderr).toBe("");
            return r.stdout.trim().split("\n").filter(Boolean);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    test("of a VIP:PORT service: that port on that real server only", () => {
        expect(established("PORT=80 REAL_PORT=80")).toEqual(["10.86.0.1:20001 10"]);
    });

    test("of an IPv6 service: the addresses in brackets, that real server only", () => {
        expect(established("VIP=fd86:86::180 REAL_ADDRESS=fd86:86::33 PORT=80 REAL_PORT=80")).toEqual(["[fd86:86::1]:20007 15"]);
    });

    test("of a firewall-mark service: each of its ports on that real server, not another service's port", () => {
        expect(established("PORT=8080 REAL_PORT=0 FWMARK=1280640000 PORTS=(8080 8443)")).toEqual(["10.86.0.1:20002 20", "10.86.0.1:20003 30"]);
    });
});

describe("IPVS entries no resource wants (ipvs_extras and prune_ipvs in live.sh), IPv4 and IPv6", () => {
    // ipvsadm -S -n as ipvsadm 1.31 prints it (ipvsadm.c): an IPv6 VIP in brackets, an IPv6 fwmark
    // service with "-6" after its mark.
    const TABLE = [
        "-A -t 10.86.0.180:80 -s rr",
        "-a -t 10.86.0.180:80 -r 10.86.0.11:80 -g -w 1",
        "-a -t 10.86.0.180:80 -r 10.86.0.33:80 -g -w 1",
        "-A -t [fd86:86::180]:80 -s rr",
        "-a -t [fd86:86::180]:80 -r [fd86:86::11]:80 -g -w 1",
        "-a -t [fd86:86::180]:80 -r [fd86:86::33]:80 -g -w 1",
        "-A -f 1280700000 -6 -s rr",
        "-a -f 1280700000 -6 -r [fd86:86::11]:0 -g -w 1",
        "-A -f 1280700001 -6 -s rr",
        "-a -f 1280700001 -6 -r [fd86:86::22]:0 -g -w 1",
        "-A -t [fd86:86::999]:80 -s rr",
        "",
    ].join("\n");
    // What the resources want: each VIP:80 with its first real server, and one check mark's service.
    const WANTED = [
        "vip 10.86.0.180",
        "vip fd86:86::180",
        "service -t 10.86.0.180:80",
        "real -t 10.86.0.180:80 10.86.0.11:80",
        "service -t [fd86:86::180]:80",
        "real -t [fd86:86::180]:80 [fd86:86::11]:80",
        "service -f 1280700000 -6",
        "real -f 1280700000 -6 [fd86:86::11]:0",
    ].join("\n");
    const run = (body: string): string[] => {
        const out = runSourced("live.sh", [
            `ipvsadm() { if [ "$1" = -S ]; then printf '%s' ${shellQuote(TABLE)}; else echo "ipvsadm $*"; fi; }`,
            `ipvs_wanted() { printf '%s\\n' ${shellQuote(WANTED)}; }`,
            "LVS_RESOURCE=test; changed() { :; }",
            body,
        ]);
        return out.trim().split("\n").filter(Boolean);
    };

    test("the extras: a real server of each family, an IPv6 check mark's service and real server nobody wants; not another VIP's service", () => {
        expect(run("ipvs_extras")).toEqual([
            "real -t 10.86.0.180:80 10.86.0.33:80",
            "real -t [fd86:86::180]:80 [fd86:86::33]:80",
            "service -f 1280700001 -6",
            "real -f 1280700001 -6 [fd86:86::22]:0",
        ]);
    });

    test("pruned with ipvsadm's own words (-6 kept after an IPv6 mark)", () => {
        expect(run("ipvs_extras | prune_ipvs")).toEqual([
            "ipvsadm -d -t 10.86.0.180:80 -r 10.86.0.33:80",
            "ipvsadm -d -t [fd86:86::180]:80 -r [fd86:86::33]:80",
            "ipvsadm -D -f 1280700001 -6",
            "ipvsadm -d -f 1280700001 -6 -r [fd86:86::22]:0",
        ]);
    });
});

test("leftovers (live.sh): this component's records no longer in the stack, read without leaking a record's names into the check", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-leftovers-"));
    try {
        const out = runSourced("live.sh", [
            `LVS_STATE=${shellQuote(dir)}`,
            // Records as def_save writes them: two components on one host, each record with a VIP of its own.
            'record() { ( LVS_RESOURCE=$1 LVS_COMPONENT=$2 LVS_CONCERN=$3 VIP=$4 LVS_PARAMS=(LVS_RESOURCE LVS_COMPONENT LVS_CONCERN VIP); def_save ); }',
            "record web-service web ipvs-service 10.0.0.1",
            "record web-real-web1 web ipvs-real 10.0.0.2",
            "record web-real-web3 web ipvs-real 10.0.0.3",
            "record app-service app ipvs-service 10.0.0.4",
            "record app-real-web3 app ipvs-real 10.0.0.5",
            "LVS_COMPONENT=web NAMES=(web-service web-real-web1) VIP=mine",
            'leftovers | while read -r def; do basename "$def"; done',
            'echo "after: $LVS_COMPONENT $VIP"',
            'def_read "$LVS_STATE/resources/app-real-web3.def"; echo "read: $DEF_COMPONENT $DEF_RESOURCE $DEF_CONCERN; after: $LVS_COMPONENT $VIP"',
        ]);
        // Only web's record that web no longer names; app's records, wanted or not, are app's to judge.
        expect(out.trim().split("\n")).toEqual([
            "web-real-web3.def",
            "after: web mine",
            "read: app app-real-web3 ipvs-real; after: web mine",
        ]);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

describe("which real servers keepalived holds alive (ka_alive_in in lib.sh, on keepalived 2.2.7's state dump)", () => {
    // A dump keepalived wrote on the lab's director (SIGUSR1), with a second fwmark service and a
    // VIP:8080 service added by copying its blocks, and some real servers' "alive" set to 0.
    const DUMP = path.join(__dirname, "..", "fixtures", "keepalived_check.data");
    const alive = (params: string, address: string, port: number): string => {
        const r = spawnSync("bash", ["-c", `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; ${params}; ka_alive_in ${shellQuote(DUMP)} ${address} ${port}`], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        return r.stdout.trim();
    };

    test.each([
        ["a real server of VIP:80 whose check passes", "PROTOCOL=tcp VIP=10.86.0.180 PORT=80", "10.86.0.11", 80, "yes"],
        ["one whose check fails", "PROTOCOL=tcp VIP=10.86.0.180 PORT=80", "10.86.0.22", 80, "no"],
        ["the same hosts in VIP:8080, the other way round", "PROTOCOL=tcp VIP=10.86.0.180 PORT=8080", "10.86.0.11", 8080, "no"],
        ["a real server of a fwmark service (keepalived says protocol = none)", "PROTOCOL=tcp VIP=10.86.0.180 PORT=8080 FWMARK=1280640000", "10.86.0.11", 0, "yes"],
        ["one keepalived does not have", "PROTOCOL=tcp VIP=10.86.0.180 PORT=80", "10.86.0.33", 80, "unknown"],
        ["a udp service keepalived does not have", "PROTOCOL=udp VIP=10.86.0.180 PORT=80", "10.86.0.11", 80, "unknown"],
    ])("%s", (_what, params, address, port, want) => {
        expect(alive(params, address, port)).toBe(want);
    });
});

test("ka_alive: the services' checks side by side on a refresh each read a whole dump (one at a time), none answers unknown", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-kadump-"));
    const dump = path.join(__dirname, "..", "fixtures", "keepalived_check.data");
    // A stand-in for keepalived's parent: on SIGUSR1 it writes its checkers' dump, as keepalived does, a moment later.
    const fake = spawnSync("bash", ["-c", `(trap 'sleep 0.05; cp ${shellQuote(dump)} /tmp/keepalived_check.data' USR1; while :; do sleep 0.05; done) >/dev/null 2>&1 & echo $!`], { encoding: "utf8" });
    const pid = fake.stdout.trim();
    try {
        fs.writeFileSync(path.join(dir, "keepalived.pid"), `${pid}\n`);
        const one = `(. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; KA_RUN=${shellQuote(dir)}; PROTOCOL=tcp VIP=10.86.0.180 PORT=80; ka_alive 10.86.0.11 80)`;
        const r = spawnSync("bash", ["-c", `for i in 1 2 3 4 5 6 7 8; do ${one} & done; wait`], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.stdout.trim().split("\n")).toEqual(Array(8).fill("yes"));
        // Nothing of the dumps left behind in /tmp.
        expect(fs.existsSync("/tmp/keepalived_check.data")).toBe(false);
        // A check run's real servers share one dump (KA_DUMP_CACHE): the second answer needs no signal.
        const cache = path.join(dir, "dump");
        fs.writeFileSync(cache, "");
        const twice = spawnSync("bash", ["-c", `(. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; KA_RUN=${shellQuote(dir)}; KA_DUMP_CACHE=${shellQuote(cache)}; PROTOCOL=tcp VIP=10.86.0.180 PORT=80; ka_alive 10.86.0.11 80; KA_RUN=/nonexistent; ka_alive 10.86.0.22 80)`], { encoding: "utf8" });
        expect(twice.stdout).toBe("yes\nno\n");
    } finally {
        spawnSync("kill", [pid]);
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("a check run reads the IPVS table once (IPVS_SNAPSHOT) and finds the same lines as a read per line; the first match, whole words only", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-snap-"));
    try {
        const calls = path.join(dir, "calls");
        const table = "-A -t 10.86.0.180:8080 -s rr\n-A -t 10.86.0.180:80 -s rr\n-a -t 10.86.0.180:80 -r 10.86.0.11:80 -g -w 1\n";
        const lookups = `ipvs_line '-A -t 10.86.0.180:80 '; ipvs_line '-a -t 10.86.0.180:80 -r 10.86.0.11:80 '; ipvs_line '-A -t 10.86.0.181:80 '; echo end`;
        const run = (snapshot: boolean) =>
            runSourced("ipvs-real.sh", [
                `ipvsadm() { echo x >>${shellQuote(calls)}; printf '%s' ${shellQuote(table)}; }`,
                snapshot ? "IPVS_SNAPSHOT=$(ipvsadm -S -n); : >" + shellQuote(calls) : ":",
                lookups,
            ]);
        const direct = run(false);
        const directCalls = fs.readFileSync(calls, "utf8").split("\n").filter(Boolean).length;
        fs.rmSync(calls);
        const cached = run(true);
        expect(direct).toBe("-A -t 10.86.0.180:80 -s rr\n-a -t 10.86.0.180:80 -r 10.86.0.11:80 -g -w 1\nend\n");
        expect(cached).toBe(direct);
        expect(directCalls).toBe(3);
        expect(fs.existsSync(calls) ? fs.readFileSync(calls, "utf8") : "").toBe("");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

describe("keepalived's config as the scripts render it (checked by the real keepalived -t)", () => {
    /** Runs `body` after lib.sh and `concern`, with keepalived's folder `ka` and a director's parameters; returns its stdout. */
    const kaShell = (ka: string) => (concern: string, body: string) => {
        const lib = `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; KA_DIR=${shellQuote(ka)}; LVS_RESOURCE=test LVS_COMPONENT=director DATA_ADDRESS=10.86.0.44`;
        const r = spawnSync("bash", ["-c", `${lib}; . ${shellQuote(path.join(SCRIPT_DIR, concern))}; ${body}`], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        return r.stdout;
    };
    // keepalived -t reads the interfaces: VRRP needs one of this machine's, and not lo.
    const iface = Object.entries(os.networkInterfaces()).find(([, addrs]) => addrs?.some((a) => !a.internal))?.[0] ?? "lo";
    /**
     * Renders keepalived.sh's main file, and ipvs-service.sh's and ipvs-real.sh's files for a tcp
     * service with an http check through the VIP and a udp service with a udp check, into a folder
     * of this test, with the parameters the programs' plans give them; returns keepalived -t's exit
     * status and words.
     */
    function render(pair: boolean, extra = "", nat = false): { status: number; out: string; dir: string; vrrp: { status: number; out: string } | null } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-ka-"));
        const ka = path.join(dir, "keepalived");
        const sh = kaShell(ka);
        fs.mkdirSync(path.join(ka, "services", "tcp-10.86.0.180-80"), { recursive: true });
        fs.mkdirSync(path.join(ka, "services", "udp-10.86.0.180-53"), { recursive: true });
        fs.mkdirSync(path.join(ka, "checks"), { recursive: true });
        const main = pair
            ? "VIPS=(10.86.0.180 10.86.0.181) STATIC_VIPS=() PEER=10.86.0.45 PRIORITY=150 ROUTER_ID=51 VRRP_VERSION=2 ADVERT=1 AUTH_PASS=s3cr3tAB SYNC_ID=7"
            : "VIPS=() STATIC_VIPS=(10.86.0.180) PEER= PRIORITY=0 ROUTER_ID=0 VRRP_VERSION=0 ADVERT= AUTH_PASS= SYNC_ID=0";
        // A NAT real server's gateway (a pair's VRRP holds it, on the interface found in its network).
        const natParams = nat ? ` NAT_GATEWAY=10.86.2.1 NAT_NETWORK=10.86.2.0/24 NAT_IFACE=${iface} NAT_REALS=(10.86.2.55:80/tcp)` : "";
        fs.writeFileSync(path.join(ka, "keepalived.conf"), sh("keepalived.sh", `${main}${natParams}; render_main`) + extra);
        if (pair) fs.writeFileSync(path.join(ka, "vrrp.conf"), sh("keepalived.sh", `${main}${natParams}; render_vrrp ${iface}`));
        if (nat) {
            // Port 8000 of the VIP, mapped to port 80 of a NAT real server, checked there.
            const id = "tcp-10.86.0.180-8000";
            const params = `SERVICE_ID=${id} PROTOCOL=tcp VIP=10.86.0.180 PORT=8000`;
            fs.mkdirSync(path.join(ka, "services", id), { recursive: true });
            fs.writeFileSync(path.join(ka, "services", `${id}.conf`), sh("ipvs-service.sh", `${params} SCHEDULER=rr PERSISTENCE=0; render`));
            const real = `${params} REAL_ADDRESS=10.86.2.55 REAL_PORT=80 WEIGHT=1 METHOD=nat CHECK_TYPE=tcp CHECK_PATH= CHECK_STATUS=0 CHECK_BODY= CHECK_INTERVAL=1 CHECK_TIMEOUT=0.5 CHECK_RETRY=1 CHECK_RETRY_DELAY=0.5 CHECK_MARK=0`;
            fs.writeFileSync(path.join(ka, "services", id, "10.86.2.55-80.conf"), sh("ipvs-real.sh", `${real}; render_real 1`));
        }
        for (const [id, proto, port] of [["tcp-10.86.0.180-80", "tcp", 80], ["udp-10.86.0.180-53", "udp", 53]] as const) {
            fs.writeFileSync(
                path.join(ka, "services", `${id}.conf`),
                sh("ipvs-service.sh", `SERVICE_ID=${id} PROTOCOL=${proto} VIP=10.86.0.180 PORT=${port} SCHEDULER=wrr PERSISTENCE=${proto === "tcp" ? 300 : 0}; render`),
            );
            for (const [addr, mark] of [["10.86.0.11", 1280763732], ["10.86.0.22", 1280763809]] as const) {
                const check =
                    proto === "tcp"
                        ? "CHECK_TYPE=http CHECK_PATH=/health?x=1 CHECK_STATUS=200 CHECK_BODY='web\\!' CHECK_INTERVAL=1 CHECK_TIMEOUT=0.8 CHECK_RETRY=1 CHECK_RETRY_DELAY=0.3"
                        : "CHECK_TYPE=udp CHECK_PATH= CHECK_STATUS=0 CHECK_BODY= CHECK_INTERVAL=2.5 CHECK_TIMEOUT=1 CHECK_RETRY=0 CHECK_RETRY_DELAY=1 CHECK_PAYLOAD=71 CHECK_REPLY=yes";
                // 10.86.0.22 is tunnelled to (IP-in-IP); 10.86.0.11 is reached by direct routing.
                const method = addr === "10.86.0.22" ? " METHOD=tun" : "";
                const params = `SERVICE_ID=${id} PROTOCOL=${proto} VIP=10.86.0.180 PORT=${port} REAL_ADDRESS=${addr} REAL_PORT=${port} WEIGHT=3 ${check} CHECK_MARK=${mark + port}${method}`;
                fs.writeFileSync(path.join(ka, "services", id, `${addr}-${port}.conf`), sh("ipvs-real.sh", `${params}; render_real 3`));
                fs.writeFileSync(path.join(ka, "checks", `${id}-${addr}-${port}.conf`), sh("ipvs-real.sh", `${params}; render_mark`));
            }
        }
        // A firewall-mark service (ports 8080 and 8443 as one, with persistence): its real servers have no port.
        const fwm = "tcp-10.86.0.180-fwm1280640000";
        const fwmParams = `SERVICE_ID=${fwm} PROTOCOL=tcp VIP=10.86.0.180 PORT=8080 FWMARK=1280640000 PORTS=(8080 8443)`;
        fs.mkdirSync(path.join(ka, "services", fwm), { recursive: true });
        fs.writeFileSync(path.join(ka, "services", `${fwm}.conf`), sh("ipvs-service.sh", `${fwmParams} SCHEDULER=rr PERSISTENCE=300; render`));
        for (const [addr, mark] of [["10.86.0.11", 1280704600], ["10.86.0.22", 1280704601]] as const) {
            const params = `${fwmParams} REAL_ADDRESS=${addr} REAL_PORT=0 WEIGHT=1 CHECK_TYPE=tcp CHECK_PATH= CHECK_STATUS=0 CHECK_BODY= CHECK_INTERVAL=1 CHECK_TIMEOUT=0.5 CHECK_RETRY=1 CHECK_RETRY_DELAY=0.5 CHECK_MARK=${mark}`;
            fs.writeFileSync(path.join(ka, "services", fwm, `${addr}-0.conf`), sh("ipvs-real.sh", `${params}; render_real 1`));
            fs.writeFileSync(path.join(ka, "checks", `${fwm}-${addr}-0.conf`), sh("ipvs-real.sh", `${params}; render_mark`));
        }
        const r = spawnSync("keepalived", ["-t", "-f", path.join(ka, "keepalived.conf")], { encoding: "utf8" });
        const v = pair ? spawnSync("keepalived", ["-t", "-f", path.join(ka, "vrrp.conf")], { encoding: "utf8" }) : null;
        return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}`, dir, vrrp: v && { status: v.status ?? -1, out: `${v.stdout}${v.stderr}` } };
    }

    test.each([
        ["a single director: checks only", false],
        ["a pair: VRRPv2 with its secret, unicast peer, sync daemon", true],
    ])("%s: keepalived accepts it", (_what, pair) => {
        const { status, out, dir, vrrp } = render(pair);
        try {
            expect(out).toBe("");
            expect(status).toBe(0);
            // VRRP is a process of its own with a config of its own (a reload of the checks, at every
            // service change, must not pause the adverts): the checks' config has none of it.
            const main = fs.readFileSync(path.join(dir, "keepalived", "keepalived.conf"), "utf8");
            expect(main).not.toMatch(/vrrp|lvs_sync_daemon/);
            if (pair) {
                expect(vrrp).toEqual({ status: 0, out: "" });
                const conf = fs.readFileSync(path.join(dir, "keepalived", "vrrp.conf"), "utf8");
                expect(conf).toMatch(/^\s+lvs_sync_daemon \S+ VI_LVS_DR id 7$/m);
                expect(conf).toMatch(/^vrrp_instance VI_LVS_DR \{$/m);
                expect(conf).not.toMatch(/include|virtual_server/);
                // Adverts carry the first VIP alone (a VIP added or removed changes no advert); the
                // second is held all the same, excluded from adverts.
                expect(conf).toMatch(/^\s+virtual_ipaddress \{\n\s+10\.86\.0\.180\/32 dev \S+\n\s+\}\n\s+virtual_ipaddress_excluded \{\n\s+10\.86\.0\.181\/32 dev \S+\n\s+\}$/m);
            } else {
                expect(vrrp).toBeNull();
            }
            const conf = fs.readFileSync(path.join(dir, "keepalived", "services", "tcp-10.86.0.180-80", "10.86.0.11-80.conf"), "utf8");
            // The check through the VIP: to VIP:PORT, from the director's address, with its mark.
            expect(conf).toMatch(/connect_ip 10\.86\.0\.180\n\s+bindto 10\.86\.0\.44\n\s+fwmark 1280763812\n/);
            expect(conf).toMatch(/path "\/health\?x=1"\n\s+status_code 200\n\s+regex "web\\!"/);
            // Direct routing is the service's method: a DR real server does not repeat it; a tunnelled
            // one says so, and so does the fwmark service its check goes through.
            expect(conf).not.toMatch(/lvs_method/);
            const services = path.join(dir, "keepalived", "services");
            expect(fs.readFileSync(path.join(services, "tcp-10.86.0.180-80.conf"), "utf8")).toMatch(/^\s+lvs_method DR$/m);
            expect(fs.readFileSync(path.join(services, "tcp-10.86.0.180-80", "10.86.0.22-80.conf"), "utf8")).toMatch(/^real_server 10\.86\.0\.22 80 \{\n\s+weight 3\n\s+lvs_method TUN\n/m);
            expect(fs.readFileSync(path.join(dir, "keepalived", "checks", "tcp-10.86.0.180-80-10.86.0.22-80.conf"), "utf8")).toMatch(/^\s+lvs_method TUN$/m);
            expect(fs.readFileSync(path.join(dir, "keepalived", "checks", "tcp-10.86.0.180-80-10.86.0.11-80.conf"), "utf8")).toMatch(/^\s+lvs_method DR$/m);
            // The udp check: its datagram ("q") and only a reply passes.
            expect(fs.readFileSync(path.join(services, "udp-10.86.0.180-53", "10.86.0.11-53.conf"), "utf8")).toMatch(/^\s+UDP_CHECK \{\n(.*\n)*\s+payload 71\n\s+require_reply\n/m);
            // Its timers: a check every second, a try may take 0.8 s, one retry 0.3 s after a failed try.
            expect(conf).toMatch(/connect_timeout 0\.8\n\s+delay_loop 1\n\s+retry 1\n\s+delay_before_retry 0\.3\n/);
            // The firewall-mark service: keyed by its mark, real servers without a port, checked on its first port.
            const fwm = path.join(dir, "keepalived", "services", "tcp-10.86.0.180-fwm1280640000");
            expect(fs.readFileSync(`${fwm}.conf`, "utf8")).toMatch(/^virtual_server fwmark 1280640000 \{\n\s+lvs_sched rr\n\s+lvs_method DR\n\s+persistence_timeout 300\n/m);
            const real = fs.readFileSync(path.join(fwm, "10.86.0.11-0.conf"), "utf8");
            expect(real).toMatch(/^real_server 10\.86\.0\.11 \{\n/m);
            expect(real).toMatch(/connect_ip 10\.86\.0\.180\n\s+bindto 10\.86\.0\.44\n\s+fwmark 1280704600\n\s+connect_port 8080\n/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test.each([
        ["a single director", false],
        ["a pair, whose VRRP holds the gateway", true],
    ])("a NAT real server (port 8000 mapped to 80, checked at its own address and port), %s: keepalived accepts it", (_what, pair) => {
        const { status, out, dir, vrrp } = render(pair, "", true);
        try {
            expect(out).toBe("");
            expect(status).toBe(0);
            const real = fs.readFileSync(path.join(dir, "keepalived", "services", "tcp-10.86.0.180-8000", "10.86.2.55-80.conf"), "utf8");
            expect(real).toMatch(/^real_server 10\.86\.2\.55 80 \{\n\s+weight 1\n\s+lvs_method NAT\n/m);
            expect(real).toMatch(/^\s+connect_port 80$/m);
            expect(real).not.toMatch(/connect_ip|fwmark/);
            if (pair) {
                expect(vrrp).toEqual({ status: 0, out: "" });
                // Excluded from adverts, like the second VIP: a gateway added or removed changes no advert.
                const conf = fs.readFileSync(path.join(dir, "keepalived", "vrrp.conf"), "utf8");
                expect(conf).toMatch(/virtual_ipaddress_excluded \{\n\s+10\.86\.0\.181\/32 dev \S+\n\s+10\.86\.2\.1\/32 dev \S+\n\s+\}/);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("an IPv6 service checked through its VIP from the director's IPv6 address, and a pair's IPv6 VIP excluded from its IPv4 adverts: keepalived accepts both", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-ka6-"));
        const ka = path.join(dir, "keepalived");
        const sh = kaShell(ka);
        const id = "tcp-fd86:86::180-80";
        const svc = `SERVICE_ID=${id} PROTOCOL=tcp VIP=fd86:86::180 PORT=80`;
        const real = `${svc} REAL_ADDRESS=fd86:86::11 REAL_PORT=80 WEIGHT=1 CHECK_TYPE=tcp CHECK_PATH= CHECK_STATUS=0 CHECK_BODY= CHECK_INTERVAL=1 CHECK_TIMEOUT=0.5 CHECK_RETRY=1 CHECK_RETRY_DELAY=0.5 CHECK_MARK=1280700000 CHECK_FROM=fd86:86::44`;
        const pair = "VIPS=(fd86:86::180 10.86.0.180) STATIC_VIPS=() PEER=10.86.0.45 PRIORITY=150 ROUTER_ID=51 VRRP_VERSION=3 ADVERT=0.5 AUTH_PASS= SYNC_ID=7";
        try {
            fs.mkdirSync(path.join(ka, "services", id), { recursive: true });
            fs.mkdirSync(path.join(ka, "checks"), { recursive: true });
            fs.writeFileSync(path.join(ka, "keepalived.conf"), sh("keepalived.sh", `${pair}; render_main`));
            fs.writeFileSync(path.join(ka, "vrrp.conf"), sh("keepalived.sh", `${pair}; render_vrrp ${iface}`));
            fs.writeFileSync(path.join(ka, "services", `${id}.conf`), sh("ipvs-service.sh", `${svc} SCHEDULER=rr PERSISTENCE=0; render`));
            fs.writeFileSync(path.join(ka, "services", id, "fd86:86::11-80.conf"), sh("ipvs-real.sh", `${real}; render_real 1`));
            fs.writeFileSync(path.join(ka, "checks", `${id}-fd86:86::11-80.conf`), sh("ipvs-real.sh", `${real}; render_mark`));
            for (const conf of ["keepalived.conf", "vrrp.conf"]) {
                const r = spawnSync("keepalived", ["-t", "-f", path.join(ka, conf)], { encoding: "utf8" });
                expect({ conf, status: r.status, out: `${r.stdout}${r.stderr}` }).toEqual({ conf, status: 0, out: "" });
            }
            // The check leaves from the director's IPv6 address (its IPv4 one, DATA_ADDRESS, cannot reach an IPv6 VIP).
            expect(fs.readFileSync(path.join(ka, "services", id, "fd86:86::11-80.conf"), "utf8")).toMatch(/connect_ip fd86:86::180\n\s+bindto fd86:86::44\n\s+fwmark 1280700000\n/);
            // The adverts carry the first IPv4 VIP, though the config lists the IPv6 one first.
            expect(fs.readFileSync(path.join(ka, "vrrp.conf"), "utf8")).toMatch(/virtual_ipaddress \{\n\s+10\.86\.0\.180\/32 dev \S+\n\s+\}\n\s+virtual_ipaddress_excluded \{\n\s+fd86:86::180\/128 dev \S+\n\s+\}/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a broken file is refused by keepalived -t (the control: this check can fail)", () => {
        const { status, out, dir } = render(true, "virtual_server 10.86.0.180 81 {\n    lvs_sched rr\n    wieght 3\n}\n");
        fs.rmSync(dir, { recursive: true, force: true });
        expect(status).not.toBe(0);
        expect(out).toMatch(/Unknown keyword 'wieght'/);
    });

    test("ka_write refuses a VRRP config keepalived -t rejects and keeps the old one (its root is the VRRP config, not the checks')", () => {
        const { dir } = render(true);
        const ka = path.join(dir, "keepalived");
        const conf = path.join(ka, "vrrp.conf");
        const before = fs.readFileSync(conf, "utf8");
        const write = (text: string) =>
            spawnSync("bash", ["-c", `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; KA_DIR=${shellQuote(ka)}; LVS_RESOURCE=test; journal() { :; }; changed() { :; }; ka_write ${shellQuote(conf)} ${shellQuote(conf)}`], { encoding: "utf8", input: text });
        try {
            const broken = write(before.replace("advert_int", "advert_intt"));
            expect(broken.status).not.toBe(0);
            expect(`${broken.stdout}${broken.stderr}`).toMatch(/Unknown keyword 'advert_intt'/);
            expect(fs.readFileSync(conf, "utf8")).toBe(before);
            // The control: a good change is written.
            const good = write(before.replace(/priority 150/, "priority 120"));
            expect(good.status).toBe(0);
            expect(fs.readFileSync(conf, "utf8")).toMatch(/priority 120/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test("the two units: the checks' keepalived runs --check, the pair's VRRP --vrrp on its own config, after the checks", () => {
        const lib = `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; LVS_RESOURCE=test LVS_COMPONENT=director DATA_ADDRESS=10.86.0.44`;
        const unit = (role: string) => {
            const r = spawnSync("bash", ["-c", `${lib}; . ${shellQuote(path.join(SCRIPT_DIR, "keepalived.sh"))}; STATIC_VIPS=(); PEER=10.86.0.45; render_unit ${role} eth1`], { encoding: "utf8" });
            expect(r.stderr).toBe("");
            return r.stdout;
        };
        const check = unit("check");
        const vrrp = unit("vrrp");
        const exec = (u: string) => u.split("\n").find((l) => l.startsWith("ExecStart="))!;
        expect(exec(check)).toMatch(/ --check --use-file=\/etc\/lvs-dr\/keepalived\/keepalived\.conf /);
        expect(exec(vrrp)).toMatch(/ --vrrp --use-file=\/etc\/lvs-dr\/keepalived\/vrrp\.conf /);
        // Their pid files apart, or the second would find the first running and stop.
        const pids = (u: string) => exec(u).match(/--\w*pid=\S+/g)!;
        expect(pids(check).filter((p) => pids(vrrp).includes(p))).toEqual([]);
        expect(vrrp).toMatch(/^After=lvs-dr-keepalived\.service$/m);
        expect(check).not.toMatch(/lvs-dr-vrrp/);
    });

    test("a whole service draining (every real server at weight 0) passes ka_validate; a broken file still does not", () => {
        const { dir } = render(false);
        const ka = path.join(dir, "keepalived");
        const validate = () => spawnSync("bash", ["-c", `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; KA_DIR=${shellQuote(ka)}; ka_validate`], { encoding: "utf8" });
        try {
            const reals = path.join(ka, "services", "tcp-10.86.0.180-80");
            for (const f of fs.readdirSync(reals)) {
                const file = path.join(reals, f);
                fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/^(\s+weight) 3$/m, "$1 0"));
            }
            // keepalived -t itself does complain (exit 5): quorum and hysteresis lowered to fit.
            const raw = spawnSync("keepalived", ["-t", "-f", path.join(ka, "keepalived.conf")], { encoding: "utf8" });
            expect(raw.status).not.toBe(0);
            expect(raw.stderr).toMatch(/exceeds total weight of real servers 0/);
            const ok = validate();
            expect(ok.stdout).toBe("");
            expect(ok.status).toBe(0);
            fs.appendFileSync(path.join(ka, "keepalived.conf"), "virtual_server 10.86.0.180 81 {\n    wieght 3\n}\n");
            const broken = validate();
            expect(broken.status).toBe(1);
            expect(broken.stdout).toMatch(/Unknown keyword 'wieght'/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("a NAT real server's routing (nat-route.sh) in a network namespace of this test, with the real ip", () => {
    /**
     * Runs `body` after lib.sh and nat-route.sh in a new network namespace (unshare -n) with a veth
     * holding 10.86.2.55/24 (the real server's data address): the unit's ExecStart lines are run as
     * systemd would, and the script's own view of the rules and table is printed.
     */
    const inNetns = (body: string) => {
        const script = [
            "set -e",
            "ip link add v0 type veth peer name v1; ip link set v0 up; ip link set v1 up; ip addr add 10.86.2.55/24 dev v0",
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; LVS_RESOURCE=test DATA_ADDRESS=10.86.2.55 DATA_IFACE= GATEWAY=10.86.2.1`,
            `. ${shellQuote(path.join(SCRIPT_DIR, "nat-route.sh"))}`,
            // What the unit runs at start (its ExecStartPre waits for the address, which is there).
            "render_unit \"$(data_iface)\" | sed -n 's/^ExecStart=//p' | while read -r line; do $line; done",
            body,
        ].join("\n");
        const r = spawnSync("unshare", ["-n", "bash", "-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        return r.stdout;
    };

    test("the unit's rules and table are what the script checks for (no drift after a start), and the interface is found by network", () => {
        const out = inNetns(['[ "$(live_rules)" = "$(nat_rules)" ] && echo rules-ok', '[ "$(live_route)" = "$(nat_route v0)" ] && echo route-ok', "net_iface 10.86.2.0/24"].join("\n"));
        expect(out).toBe("rules-ok\nroute-ok\nv0\n");
    });

    test("a rule deleted by hand is seen (the control for the comparison above)", () => {
        const out = inNetns(['ip -4 rule del pref 19541', '[ "$(live_rules)" = "$(nat_rules)" ] && echo rules-ok || echo rules-drift', '[ "$(live_route)" = "$(nat_route v0)" ] && echo route-ok'].join("\n"));
        expect(out).toBe("rules-drift\nroute-ok\n");
    });
});

describe("the director's notrack table (keepalived.sh), checked by the real nft -c", () => {
    const check = (text: string) => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-nft-")), "t.nft");
        fs.writeFileSync(file, text);
        const r = spawnSync("nft", ["-c", "-f", file], { encoding: "utf8" });
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
        return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const render = (params: string) => {
        const r = spawnSync("bash", ["-c", `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}; LVS_RESOURCE=test; . ${shellQuote(path.join(SCRIPT_DIR, "keepalived.sh"))}; ${params}; render_notrack`], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        return r.stdout;
    };

    test("with a NAT real server: its replies to clients untracked, those to the director's own addresses tracked; nft accepts it", () => {
        const table = render("VIPS=(10.86.0.180) STATIC_VIPS=() PORTS=(80/tcp 8000/tcp) NAT_REALS=(10.86.2.55:80/tcp)");
        expect(table).toMatch(/^\s+ip daddr \{ 10\.86\.0\.180 \} tcp dport 8000 notrack$/m);
        expect(table).toMatch(/^\s+ip saddr 10\.86\.2\.55 tcp sport 80 fib daddr type != local notrack$/m);
        expect(check(table)).toEqual({ status: 0, out: "" });
    });

    test("with IPv6 VIPs: one inet table, the IPv6 VIPs' traffic matched by ip6 daddr; nft accepts it", () => {
        const table = render("VIPS=(10.86.0.180 fd86:86::180) STATIC_VIPS=() PORTS=(80/tcp 53/udp)");
        expect(table).toMatch(/^table inet lvs_dr_notrack\ndelete table inet lvs_dr_notrack\ntable inet lvs_dr_notrack \{$/m);
        expect(table).toMatch(/^\s+ip daddr \{ 10\.86\.0\.180 \} udp dport 53 notrack\n\s+ip6 daddr \{ fd86:86::180 \} udp dport 53 notrack$/m);
        expect(check(table)).toEqual({ status: 0, out: "" });
    });

    test("a broken rule is refused by nft -c (the control: this check can fail)", () => {
        const table = render("VIPS=(10.86.0.180) STATIC_VIPS=() PORTS=(80/tcp) NAT_REALS=(10.86.2.55:80/tcp)").replace("fib daddr type", "fib daddr kind");
        expect(check(table).status).not.toBe(0);
    });
});

describe("firewall rules (fw_sync, fw_check, fw_revoke in lib.sh) against stand-ins of ufw and firewalld", () => {
    /** Runs `body` after lib.sh with the stand-ins in `bin` first on PATH and `stubs` defined; returns its output. */
    function runFirewallScript(dir: string, bin: string, stubs: string[], body: string): string {
        const script = [
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `PATH=${shellQuote(bin)}:$PATH LVS_STATE=${shellQuote(path.join(dir, "state"))}`,
            "LVS_RESOURCE=director-keepalived",
            ...stubs,
            'changed() { echo "changed: $*"; }',
            'drift() { echo "drift: $*"; }',
            body,
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        return r.stdout;
    }

    /**
     * A stand-in ufw that keeps its added rules in a file and prints them as `ufw show added` does
     * (ufw 0.36: "ufw allow 80/tcp", "ufw allow from A proto vrrp", "ufw allow from A to any port
     * 8848 proto udp"); it refuses a rule it does not know the form of, as ufw would.
     */
    function withUfw(body: string): { out: string; rules: string[]; calls: string[] } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-fw-"));
        try {
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            const rules = path.join(dir, "rules");
            const calls = path.join(dir, "calls");
            fs.writeFileSync(rules, "ufw allow 22/tcp\n");
            fs.writeFileSync(calls, "");
            // ufw's rules are loaded: what `ufw status` checks before it says "Status: active".
            fs.writeFileSync(path.join(bin, "iptables"), '#!/bin/bash\n[ "$*" = "-n -L ufw-user-input" ]\n', { mode: 0o755 });
            fs.writeFileSync(
                path.join(bin, "ufw"),
                [
                    "#!/bin/bash",
                    `rules=${shellQuote(rules)}`,
                    `echo "$1" >>${shellQuote(calls)}`,
                    'form() { [[ "$*" =~ ^allow\\ ([0-9]+/(tcp|udp)|from\\ [0-9.]+\\ proto\\ [a-z]+|from\\ [0-9.]+\\ to\\ any\\ port\\ [0-9]+\\ proto\\ (tcp|udp))$ ]] || { echo "ERROR: Bad rule: $*" >&2; exit 1; }; }',
                    // ufw 0.36: `ufw route allow ...` adds a forwarding rule, `ufw route delete allow ...` deletes one.
                    'rform() { [[ "$*" =~ ^allow\\ from\\ [0-9.]+\\ port\\ [0-9]+\\ proto\\ (tcp|udp)$ ]] || { echo "ERROR: Bad route rule: $*" >&2; exit 1; }; }',
                    'case "$1" in',
                    'status) echo "Status: active" ;;',
                    'show) echo "Added user rules (see \'ufw status\' for running firewall):"; cat "$rules" ;;',
                    'allow) form "$@"; grep -qxF "ufw $*" "$rules" || echo "ufw $*" >>"$rules" ;;',
                    'delete) shift; form "$@"; grep -vxF "ufw $*" "$rules" >"$rules.new"; mv "$rules.new" "$rules" ;;',
                    'route) shift; if [ "$1" = delete ]; then shift; rform "$@"; grep -vxF "ufw route $*" "$rules" >"$rules.new"; mv "$rules.new" "$rules"; else rform "$@"; grep -qxF "ufw route $*" "$rules" || echo "ufw route $*" >>"$rules"; fi ;;',
                    '*) echo "ERROR: $*" >&2; exit 1 ;;',
                    "esac",
                ].join("\n"),
                { mode: 0o755 },
            );
            const out = runFirewallScript(dir, bin, ["firewall-cmd() { return 1; }; systemctl() { return 1; }"], body);
            return { out, rules: fs.readFileSync(rules, "utf8").trim().split("\n"), calls: fs.readFileSync(calls, "utf8").trim().split("\n").filter(Boolean) };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    test("a pair's rules: the service port from anywhere, VRRP and the sync daemon's port from the peer only; checked; revoked", () => {
        const { out, rules } = withUfw(
            [
                "fw_sync director 80/tcp vrrp@10.86.0.45 8848/udp@10.86.0.45",
                "fw_check director 80/tcp vrrp@10.86.0.45 8848/udp@10.86.0.45",
                "echo checked",
            ].join("\n"),
        );
        expect(rules).toEqual([
            "ufw allow 22/tcp",
            "ufw allow 80/tcp",
            "ufw allow from 10.86.0.45 proto vrrp",
            "ufw allow from 10.86.0.45 to any port 8848 proto udp",
        ]);
        expect(out).not.toMatch(/drift:/);
        expect(out).toMatch(/changed: opened vrrp@10\.86\.0\.45 in ufw/);
    });

    test("ufw (seconds to start on a busy host) runs once per rule added, plus one read of its rules per run", () => {
        // Two runs, as two host scripts would be: the first adds three rules, the second checks them.
        const { calls } = withUfw(
            ["fw_sync director 80/tcp vrrp@10.86.0.45 8848/udp@10.86.0.45", "UFW_ADDED_READ=no", "fw_check director 80/tcp vrrp@10.86.0.45 8848/udp@10.86.0.45"].join("\n"),
        );
        expect(calls).toEqual(["show", "allow", "allow", "allow", "show"]);
    });

    test("a new peer: the old peer's rules are closed, the new one's opened; revoke leaves only what was there before", () => {
        const { out, rules } = withUfw(
            [
                "fw_sync director 80/tcp vrrp@10.86.0.45 8848/udp@10.86.0.45",
                "fw_sync director 80/tcp vrrp@10.86.0.46 8848/udp@10.86.0.46",
                "fw_check director 80/tcp vrrp@10.86.0.46 8848/udp@10.86.0.46",
                "ufw show added",
                "fw_revoke director",
            ].join("\n"),
        );
        expect(out).toMatch(/changed: closed vrrp@10\.86\.0\.45 in ufw/);
        expect(out).toMatch(/^ufw allow from 10\.86\.0\.46 to any port 8848 proto udp$/m);
        expect(out).not.toMatch(/^ufw allow from 10\.86\.0\.45/m);
        expect(out).not.toMatch(/drift:/);
        expect(rules).toEqual(["ufw allow 22/tcp"]);
    });

    test("a NAT real server's replies: a route rule from its address and port, checked, then closed and revoked", () => {
        const { out, rules } = withUfw(
            [
                "fw_sync director 80/tcp route:8080/tcp@10.86.2.55",
                "fw_check director 80/tcp route:8080/tcp@10.86.2.55",
                "echo checked",
                "fw_sync director 80/tcp",
                "ufw show added",
                "fw_sync director 80/tcp route:8080/tcp@10.86.2.55",
                "fw_revoke director",
            ].join("\n"),
        );
        expect(out).toMatch(/changed: opened route:8080\/tcp@10\.86\.2\.55 in ufw\n(.*\n)*checked\n/);
        expect(out.split("checked")[0]).not.toMatch(/drift:/);
        // Closed when no longer wanted (ufw route delete), and revoked with the rest.
        expect(out).toMatch(/changed: closed route:8080\/tcp@10\.86\.2\.55 in ufw/);
        expect(out.split("checked")[1]).not.toMatch(/^ufw route allow/m);
        expect(rules).toEqual(["ufw allow 22/tcp"]);
    });

    test("a route rule deleted by hand is drift (the control for the check above)", () => {
        const { out } = withUfw(
            ["fw_sync director route:8080/tcp@10.86.2.55", "ufw route delete allow from 10.86.2.55 port 8080 proto tcp", "UFW_ADDED_READ=no", "fw_check director route:8080/tcp@10.86.2.55"].join("\n"),
        );
        expect(out).toMatch(/drift: route:8080\/tcp@10\.86\.2\.55 is not open in ufw/);
    });

    test("a rule deleted by hand is drift (the control: fw_check can see an absence)", () => {
        const { out } = withUfw(
            // The check is a run of its own: it reads ufw's rules afresh.
            ["fw_sync director 80/tcp vrrp@10.86.0.45", "ufw delete allow from 10.86.0.45 proto vrrp", "UFW_ADDED_READ=no", "fw_check director 80/tcp vrrp@10.86.0.45"].join("\n"),
        );
        expect(out).toMatch(/drift: vrrp@10\.86\.0\.45 is not open in ufw/);
    });

    /**
     * A stand-in firewall-cmd (firewalld 1.x) with a runtime and a permanent set of ports and rich
     * rules: --add/--remove/--query-port and -rich-rule, with and without --permanent. It refuses a
     * rich rule that is not one of firewalld's forms for a source address with a protocol or a port
     * (firewalld.richlanguage(5)), as firewall-cmd would ("INVALID_RULE").
     */
    function withFirewalld(body: string): { out: string; permanent: string[]; runtime: string[] } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-fwd-"));
        try {
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            for (const set of ["permanent", "runtime"]) fs.writeFileSync(path.join(dir, set), "port 22/tcp\n");
            fs.writeFileSync(
                path.join(bin, "firewall-cmd"),
                [
                    "#!/bin/bash",
                    `dir=${shellQuote(dir)}`,
                    "set=runtime; op=''; kind=''; value=''",
                    "for a in \"$@\"; do",
                    "    case \"$a\" in",
                    "        --quiet) ;;",
                    "        --permanent) set=permanent ;;",
                    "        --add-port=*|--remove-port=*|--query-port=*) op=${a%%-port=*}; kind=port; value=${a#*=} ;;",
                    "        --add-rich-rule=*|--remove-rich-rule=*|--query-rich-rule=*) op=${a%%-rich-rule=*}; kind=rich; value=${a#*=} ;;",
                    "        *) echo \"usage: $a\" >&2; exit 2 ;;",
                    "    esac",
                    "done",
                    "if [ \"$kind\" = port ]; then [[ $value =~ ^[0-9]+/(tcp|udp)$ ]] || { echo INVALID_PORT >&2; exit 1; }; fi",
                    "if [ \"$kind\" = rich ]; then",
                    "    [[ $value =~ ^rule\\ family=\\\"ipv4\\\"\\ source\\ address=\\\"[0-9.]+\\\"\\ (protocol\\ value=\\\"[a-z]+\\\"|port\\ port=\\\"[0-9]+\\\"\\ protocol=\\\"(tcp|udp)\\\")\\ accept$ ]] || { echo \"INVALID_RULE: $value\" >&2; exit 1; }",
                    "fi",
                    "line=\"$kind $value\"; f=\"$dir/$set\"",
                    "case \"$op\" in",
                    "    --add) grep -qxF \"$line\" \"$f\" || echo \"$line\" >>\"$f\" ;;",
                    "    --remove) grep -vxF \"$line\" \"$f\" >\"$f.new\"; mv \"$f.new\" \"$f\" ;;",
                    "    --query) grep -qxF \"$line\" \"$f\" ;;",
                    "    *) exit 2 ;;",
                    "esac",
                ].join("\n"),
                { mode: 0o755 },
            );
            // firewalld is the active firewall (fw_backend asks systemctl).
            const stubs = ['systemctl() { [ "$*" = "is-active --quiet firewalld" ]; }', 'ufw() { echo "ufw must not be called" >&2; return 1; }'];
            const out = runFirewallScript(dir, bin, stubs, body);
            const read = (set: string) => fs.readFileSync(path.join(dir, set), "utf8").trim().split("\n");
            return { out, permanent: read("permanent"), runtime: read("runtime") };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    test("firewalld: a pair's rules as a port and rich rules from the peer, runtime and permanent; checked; revoked to what was there", () => {
        const pairRules = "80/tcp vrrp@10.86.0.45 8848/udp@10.86.0.45";
        const opened = withFirewalld([`fw_sync director ${pairRules}`, `fw_check director ${pairRules}`, "cat \"$LVS_STATE/firewall/director\""].join("\n"));
        const want = [
            "port 22/tcp",
            "port 80/tcp",
            'rich rule family="ipv4" source address="10.86.0.45" protocol value="vrrp" accept',
            'rich rule family="ipv4" source address="10.86.0.45" port port="8848" protocol="udp" accept',
        ];
        expect(opened.permanent).toEqual(want);
        expect(opened.runtime).toEqual(want);
        expect(opened.out).not.toMatch(/drift:/);
        expect(opened.out).toMatch(/changed: opened vrrp@10\.86\.0\.45 in firewalld/);
        const revoked = withFirewalld([`fw_sync director ${pairRules}`, "fw_revoke director"].join("\n"));
        expect(revoked.permanent).toEqual(["port 22/tcp"]);
        expect(revoked.runtime).toEqual(["port 22/tcp"]);
    });

    test("firewalld: a NAT real server's forwarding is left to the user with a warning (no rule, no drift); the port rule beside it is made (the control)", () => {
        const { out, permanent } = withFirewalld(["fw_sync director 80/tcp route:8080/tcp@10.86.2.55", "fw_check director 80/tcp route:8080/tcp@10.86.2.55"].join("\n"));
        expect(out).toMatch(/warning: firewalld is active: .*let the director forward 8080\/tcp@10\.86\.2\.55/);
        expect(out).not.toMatch(/drift:/);
        expect(permanent).toEqual(["port 22/tcp", "port 80/tcp"]);
    });

    test("firewalld: a rich rule deleted by hand is drift, and the next sync puts it back", () => {
        const { out, permanent } = withFirewalld(
            [
                "fw_sync director 80/tcp vrrp@10.86.0.45",
                "firewall-cmd --quiet --permanent --remove-rich-rule='rule family=\"ipv4\" source address=\"10.86.0.45\" protocol value=\"vrrp\" accept'",
                "fw_check director 80/tcp vrrp@10.86.0.45",
                "fw_sync director 80/tcp vrrp@10.86.0.45",
            ].join("\n"),
        );
        expect(out).toMatch(/drift: vrrp@10\.86\.0\.45 is not open in firewalld/);
        expect(permanent).toContain('rich rule family="ipv4" source address="10.86.0.45" protocol value="vrrp" accept');
    });
});

describe("which clients an export admits (is_admitted in nfs-admit.sh, on `exportfs -s` as nfs-utils 2.6 prints it)", () => {
    const EXPORTS = [
        "/srv/lvs/kgc  10.86.0.0/24(sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,root_squash,no_all_squash)",
        "/srv/lvs/benet  10.86.0.0/23(sync,wdelay,hide,no_subtree_check,sec=sys,rw,secure,root_squash,no_all_squash)",
        "/srv/lvs/benet  10.86.0.11(sync,wdelay,hide,no_subtree_check,sec=sys,ro,secure,root_squash,no_all_squash)",
    ].join("\n");
    function admitted(exportPath: string, clients: string): boolean {
        const script = [
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `. ${shellQuote(path.join(SCRIPT_DIR, "nfs-admit.sh"))}`,
            `exportfs() { [ "$1" = -s ] && printf '%s\\n' ${shellQuote(EXPORTS)}; }`,
            `EXPORT_PATH=${shellQuote(exportPath)} CLIENTS=${shellQuote(clients)}`,
            "if is_admitted; then echo yes; else echo no; fi",
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        return r.stdout.trim() === "yes";
    }

    test("the path exported to exactly those clients", () => {
        expect(admitted("/srv/lvs/kgc", "10.86.0.0/24")).toBe(true);
        expect(admitted("/srv/lvs/benet", "10.86.0.0/23")).toBe(true);
        expect(admitted("/srv/lvs/benet", "10.86.0.11")).toBe(true);
    });

    test("not another network, another path, or an address that only starts like one exported", () => {
        expect(admitted("/srv/lvs/benet", "10.86.0.0/24")).toBe(false);
        expect(admitted("/srv/lvs/kgc", "10.86.0.0/23")).toBe(false);
        expect(admitted("/srv/lvs/benet", "10.86.0.1")).toBe(false);
        expect(admitted("/srv/lvs", "10.86.0.0/24")).toBe(false);
    });
});

describe("the web server's Listen lines (listen_sync in web.sh) against a stand-in apachectl", () => {
    /**
     * listen_sync for PORTS with Debian's ports.conf listening on 80; the stand-in apachectl refuses
     * any config with a Listen line for 8080 (as Apache does when another file of the host already
     * listens there) in Apache's words, around its usual AH00558 warning.
     */
    function listenSync(ports: string[]): { status: number | null; stderr: string; conf: string | null; reloads: string } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-web-"));
        try {
            const conf = path.join(dir, "lvs-dr-listen.conf");
            const reloads = path.join(dir, "reloads");
            const script = [
                `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
                `. ${shellQuote(path.join(SCRIPT_DIR, "web.sh"))}`,
                "LVS_RESOURCE=web2-web WEB_SERVER=apache",
                "journal() { :; }",
                `listen_conf() { echo ${shellQuote(conf)}; }`,
                "distro_ports() { echo 80; }",
                `systemctl() { echo "$*" >>${shellQuote(reloads)}; }`,
                "apachectl() {",
                "    echo \"AH00558: apache2: Could not reliably determine the server's fully qualified domain name\" >&2",
                `    if grep -qx 'Listen 8080' ${shellQuote(conf)} 2>/dev/null; then`,
                "        echo 'AH00526: Syntax error on line 1 of /etc/apache2/conf-enabled/other.conf:' >&2",
                "        echo 'Cannot define multiple Listeners on the same IP:port' >&2",
                "        echo \"Action 'configtest' failed.\"; echo 'The Apache error log may have more information.'; return 1",
                "    fi",
                "    echo 'Syntax OK' >&2",
                "}",
                `PORTS=(${ports.map(shellQuote).join(" ")})`,
                "listen_sync",
            ].join("\n");
            const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
            return {
                status: r.status,
                stderr: r.stderr,
                conf: fs.existsSync(conf) ? fs.readFileSync(conf, "utf8") : null,
                reloads: fs.existsSync(reloads) ? fs.readFileSync(reloads, "utf8") : "",
            };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    test("a port Apache refuses: the error quotes Apache's reason, our file is gone, nothing is reloaded", () => {
        const r = listenSync(["80/tcp", "8080/tcp"]);
        expect(r.status).toBe(1);
        expect(r.stderr).toContain("AH00526: Syntax error on line 1 of /etc/apache2/conf-enabled/other.conf:");
        expect(r.stderr).toContain("Cannot define multiple Listeners on the same IP:port");
        expect(r.stderr).not.toContain("AH00558");
        expect(r.conf).toBeNull();
        expect(r.reloads).toBe("");
    });

    test("a port Apache accepts: our Listen line, one graceful reload (the control)", () => {
        const r = listenSync(["80/tcp", "8443/tcp", "5300/udp"]);
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.conf).toContain("\nListen 8443\n");
        expect(r.conf).not.toContain("Listen 80\n");
        expect(r.reloads).toBe("reload apache2.service\n");
    });
});

describe("an NFS mount's apply (lvs_apply in mount.sh) against stand-ins of systemctl and findmnt", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-mount-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /**
     * lvs_apply with the mount point showing `mounted` as its source (findmnt's answer, "" for
     * none) and the units already enabled and written; returns what systemctl was asked to do with
     * the mount unit. Files, packages and the NFS server's port are stubbed: the test is about
     * which systemd job runs, since a restart is passed on to the web server that requires the mount.
     */
    function jobs(mounted: string, unitChanged = false): string[] {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin, { recursive: true });
        const log = path.join(dir, "systemctl.log");
        fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/bash\necho "$*" >>${shellQuote(log)}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "findmnt"), `#!/bin/bash\nprintf '%s' ${shellQuote(mounted ? `${mounted}\n` : "")}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "systemd-escape"), `#!/bin/bash\necho srv-www.mount\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "nfs-wait.sh"), "exit 0\n");
        const script = [
            `. ${shellQuote(path.join(SCRIPT_DIR, "lib.sh"))}`,
            `. ${shellQuote(path.join(SCRIPT_DIR, "mount.sh"))}`,
            `PATH=${shellQuote(bin)}:$PATH LVS_LIB=${shellQuote(dir)} LVS_RESOURCE=web1-mount`,
            "SERVER=10.86.0.77 EXPORT=/srv/lvs/kgc MOUNT_POINT=/srv/www OPTIONS=rw,_netdev WEB_SERVER=apache",
            // Nothing written is new (write_file returns 1: unchanged) unless the test says the mount
            // unit changed (its file edited on the host: drift).
            "pkg_ensure() { :; }; dir_ensure() { :; }",
            `write_file() { cat >/dev/null; [ "$1" = /etc/systemd/system/srv-www.mount ] && [ ${unitChanged ? "yes" : "no"} = yes ]; }`,
            "lvs_apply",
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        return fs.readFileSync(log, "utf8").trim().split("\n").filter((c) => / srv-www\.mount$/.test(c) && !/^is-/.test(c));
    }

    test("a mount that is not there is started, not restarted (a restart would restart Apache, which requires it)", () => {
        expect(jobs("")).toEqual(["start srv-www.mount"]);
    });

    test("our mount in place: no job at all; in place but its unit file had drifted: a restart (the control)", () => {
        expect(jobs("10.86.0.77:/srv/lvs/kgc")).toEqual([]);
        expect(jobs("10.86.0.77:/srv/lvs/kgc", true)).toEqual(["restart srv-www.mount"]);
    });
});
