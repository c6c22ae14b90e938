// @ts-check
/**
 * The LiveState dynamic provider of lvs-dr (see components/liveState.ts for what it does).
 *
 * Plain JavaScript, installed as the package `lvs-dr-live` (a `file:` dependency of the project):
 * Pulumi serializes a dynamic provider into the state of every resource that uses it, twice, so the
 * provider in components/liveState.ts is a stub whose methods `require("lvs-dr-live")` at run time,
 * and this code is loaded from node_modules like any provider plugin. It runs in Pulumi's dynamic
 * provider host, outside ts-node: hence JavaScript, type-checked through JSDoc.
 */
"use strict";

const { createHash } = require("crypto");
const fs = require("fs");
const path = require("path");
const { gzipSync } = require("zlib");

const IN_SYNC = "in sync";

/**
 * The host scripts (components/scripts): what toolkits install. LVS_DR_SCRIPTS points elsewhere for
 * tests that change a script and look at what the program would then declare.
 */
const SCRIPT_DIR = process.env.LVS_DR_SCRIPTS || path.join(__dirname, "..", "scripts");

/**
 * @typedef {{ host: string, port: number, user: string, privateKey: string, hostKey: string }} SshTarget
 * @typedef {SshTarget & { proxy?: SshTarget }} LiveConnection
 * @typedef {{ dir: string, files: Record<string, string>, check: string }} Toolkit
 * @typedef {{
 *   connection: LiveConnection, resource: string, component: string, toolkit?: Toolkit, live: string, names: string[],
 *   desired: string, drifted: string[], repairs: Record<string, number>
 * }} LiveStateProps
 * @typedef {[string, string, "apply" | "check" | "remove"]} HostRun
 */

/**
 * The command line that runs a script from stdin; `sudo -n` when the SSH user is not root.
 * @param {"apply" | "remove" | "check"} action
 * @param {string} user
 */
function commandLine(action, user) {
    return `${user === "root" ? "" : "sudo -n "}bash -s ${action}`;
}

/**
 * Quote `s` for bash so that it is read back as exactly `s`.
 * @param {string} s
 */
function shellQuote(s) {
    if (s.includes("\0")) throw new Error("a shell parameter cannot contain a NUL byte");
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

const PARAM_NAME = /^[A-Z][A-Z0-9_]*$/;

/**
 * `NAME='value'` lines (arrays as `NAME=('a' 'b')`), sorted by name so the text is stable.
 * @param {Record<string, string | number | readonly string[]>} params
 */
function renderParams(params) {
    return Object.keys(params)
        .sort()
        .map((key) => {
            if (!PARAM_NAME.test(key)) throw new Error(`invalid shell parameter name ${JSON.stringify(key)}`);
            const v = params[key];
            if (Array.isArray(v)) return `${key}=(${v.map((x) => shellQuote(x)).join(" ")})`;
            if (typeof v === "number" && !Number.isInteger(v)) throw new Error(`parameter ${key} must be an integer`);
            return `${key}=${shellQuote(String(v))}`;
        })
        .join("\n");
}

/** @type {Map<string, string>} */
const scripts = new Map();
/**
 * A host script's text.
 * @param {string} file
 */
function readScript(file) {
    let text = scripts.get(file);
    if (text === undefined) {
        text = fs.readFileSync(path.join(SCRIPT_DIR, file), "utf8");
        scripts.set(file, text);
    }
    return text;
}

/** @param {string} text */
function sha256(text) {
    return createHash("sha256").update(text).digest("hex");
}

/**
 * The installer of a toolkit: toolkit.sh with the files as one gzip'd, base64-encoded concatenation.
 * The files come from this package's scripts folder and must be exactly those the program hashed
 * (the state holds only their hashes, never their text).
 * @param {Toolkit} toolkit
 * @param {string} resource
 * @param {string} component
 */
function renderInstall(toolkit, resource, component) {
    const names = Object.keys(toolkit.files);
    const texts = names.map((n) => Buffer.from(readScript(n)));
    names.forEach((n, i) => {
        if (sha256(texts[i].toString()) !== toolkit.files[n]) {
            throw new Error(`${SCRIPT_DIR}/${n} is not the version this deployment was planned with; run pulumi up again`);
        }
    });
    const params = {
        LVS_RESOURCE: resource,
        LVS_COMPONENT: component,
        LVS_LIB: toolkit.dir,
        TOOLKIT_FILES: names,
        TOOLKIT_SIZES: texts.map((t) => String(t.length)),
        TOOLKIT_SHA256: names.map((n) => toolkit.files[n]),
        TOOLKIT_DATA: gzipSync(Buffer.concat(texts), { level: 9 }).toString("base64"),
    };
    return [
        "#!/usr/bin/env bash",
        `# lvs-dr toolkit (${resource}): run as: bash -s apply`,
        "# shellcheck disable=SC2034",
        renderParams(params),
        readScript("toolkit.sh").replace(/^#!.*\n/, ""),
    ].join("\n");
}

/** One drift line of a check: `lvs-dr NAME: drift: WHAT`. */
const DRIFT = /^lvs-dr (\S+): drift: (.*)$/;

/**
 * What a refresh found, from the check's output: the readable summary (IN_SYNC when nothing) and
 * which of `names` (or `self`, for leftovers) drifted.
 * @param {string[]} outputs
 * @param {string[]} names
 * @param {string} self
 * @returns {{ desired: string, drifted: string[] }}
 */
function summarizeChecks(outputs, names, self) {
    /** @type {[string, string][]} */
    const found = [];
    for (const out of outputs) {
        for (const line of out.split("\n")) {
            const m = DRIFT.exec(line);
            if (m) found.push([m[1], m[2]]);
        }
    }
    if (found.length === 0) return { desired: IN_SYNC, drifted: [] };
    const who = new Set(found.map(([n]) => n));
    const drifted = [...names.filter((n) => who.has(n)), ...(who.has(self) ? [self] : [])];
    return { desired: `drift: ${found.map(([n, what]) => `${n}: ${what}`).join("; ")}`, drifted };
}

/**
 * The repair counts for `news.names`: carried over from the last state, plus one for each resource
 * a refresh found drifted.
 * @param {Partial<LiveStateProps>} olds
 * @param {{ names: string[] }} news
 * @returns {Record<string, number>}
 */
function nextRepairs(olds, news) {
    const drifted = new Set(olds.drifted ?? []);
    return Object.fromEntries(news.names.map((n) => [n, (olds.repairs?.[n] ?? 0) + (drifted.has(n) ? 1 : 0)]));
}

/**
 * The inputs whose change makes an update; a toolkit is compared by its files' hashes, not its bytes
 * (gzip output may differ between Node.js builds for the same files).
 * @param {LiveStateProps} olds
 * @param {LiveStateProps} news
 * @returns {string[]}
 */
function changedKeys(olds, news) {
    /** @param {LiveStateProps} p */
    const key = (p) => ({
        connection: p.connection,
        toolkit: p.toolkit && { dir: p.toolkit.dir, files: p.toolkit.files },
        live: p.live,
        names: p.names,
        desired: p.desired,
        drifted: p.drifted,
        repairs: p.repairs,
    });
    /** @type {Record<string, unknown>} */
    const o = key(olds);
    /** @type {Record<string, unknown>} */
    const n = key(news);
    return Object.keys(n).filter((k) => JSON.stringify(o[k]) !== JSON.stringify(n[k]));
}

/**
 * Whether an update must (re)install the toolkit: its files changed, or a refresh found it drifted.
 * @param {LiveStateProps} olds
 * @param {LiveStateProps} news
 */
function needsInstall(olds, news) {
    if (!news.toolkit) return false;
    const files = (/** @type {Toolkit | undefined} */ t) => JSON.stringify(t && [t.dir, t.files]);
    return files(olds.toolkit) !== files(news.toolkit) || (olds.drifted ?? []).includes(news.resource);
}

/**
 * Whether an update must remove leftovers: a refresh reported some against the LiveState itself.
 * @param {LiveStateProps} olds
 */
function needsPrune(olds) {
    return (olds.drifted ?? []).includes(olds.resource);
}

/**
 * What differs between a toolkit's files and `sha256sum DIR/*` on the host.
 * @param {Record<string, string>} files
 * @param {string} dir
 * @param {string} listing
 * @returns {string[]}
 */
function toolkitDrift(files, dir, listing) {
    /** @type {Map<string, string>} */
    const installed = new Map();
    for (const line of listing.split("\n")) {
        const m = /^([0-9a-f]{64}) [ *](.*)$/.exec(line);
        if (m) installed.set(m[2], m[1]);
    }
    const out = [];
    for (const [name, hash] of Object.entries(files)) {
        const have = installed.get(`${dir}/${name}`);
        if (have === undefined) out.push(`${dir}/${name} is missing`);
        else if (have !== hash) out.push(`${dir}/${name} was changed`);
    }
    for (const path of installed.keys()) {
        if (!(path.slice(dir.length + 1) in files)) out.push(`${path} is not part of lvs-dr`);
    }
    return out;
}

/**
 * The host key algorithms to accept for a pinned key: only the pinned key's own, so a server that
 * has keys of several types proves the one we pinned.
 * @param {string} hostKey
 * @returns {import("ssh2").ServerHostKeyAlgorithm[]}
 */
function hostKeyAlgorithms(hostKey) {
    const type = /** @type {import("ssh2").ServerHostKeyAlgorithm} */ (hostKey.trim().split(/\s+/)[0]);
    return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256"] : [type];
}

/**
 * Opens one SSH connection to the host and hands `body` a runner: each call runs a script there
 * (`bash -s ACTION`, the script on stdin, with `sudo -n` unless the user is root) and returns its
 * output; a script that fails fails the call with its output. The connection ends when `body` does.
 * The host must prove the pinned key, with that key's algorithm.
 * @template T
 * @param {LiveConnection} conn
 * @param {(run: (r: HostRun) => Promise<string>) => Promise<T>} body
 * @returns {Promise<T>}
 */
async function withHost(conn, body) {
    const { Client } = require("ssh2");
    /** @param {SshTarget} c @param {any} [sock] @returns {Promise<any>} */
    const connect = (c, sock) =>
        new Promise((resolve, reject) => {
            const client = new Client();
            const pinned = Buffer.from(c.hostKey.trim().split(/\s+/)[1] ?? "", "base64");
            client
                .on("ready", () => resolve(client))
                .on("error", (/** @type {Error} */ e) => reject(new Error(`ssh ${c.user}@${c.host}:${c.port}: ${e.message}`)))
                .connect({
                    host: c.host,
                    port: c.port,
                    username: c.user,
                    privateKey: c.privateKey,
                    sock,
                    readyTimeout: 30_000,
                    algorithms: { serverHostKey: hostKeyAlgorithms(c.hostKey) },
                    hostVerifier: (/** @type {Buffer} */ key) => key.equals(pinned),
                });
        });
    const jump = conn.proxy && (await connect(conn.proxy));
    const sock =
        jump &&
        (await new Promise((resolve, reject) =>
            jump.forwardOut("127.0.0.1", 0, conn.host, conn.port, (/** @type {Error | undefined} */ e, /** @type {any} */ s) =>
                e ? reject(e) : resolve(s),
            ),
        ));
    const client = await connect(conn, sock);
    /** @param {HostRun} r @returns {Promise<string>} */
    const run = async ([what, script, action]) => {
        /** @type {[number, string]} */
        const [code, out] = await new Promise((resolve, reject) =>
            client.exec(commandLine(action, conn.user), (/** @type {Error | undefined} */ err, /** @type {any} */ stream) => {
                if (err) return reject(err);
                let text = "";
                stream.on("data", (/** @type {Buffer} */ d) => (text += d));
                stream.stderr.on("data", (/** @type {Buffer} */ d) => (text += d));
                stream.on("close", (/** @type {number | null} */ c) => resolve([c ?? -1, text]));
                stream.end(script);
            }),
        );
        if (code !== 0) throw new Error(`${what} failed on ${conn.host}:${conn.port} (exit ${code}):\n${out}`);
        return out;
    };
    try {
        return await body(run);
    } finally {
        client.end();
        jump?.end();
    }
}

/**
 * Runs each script on the host over one SSH connection, in order, and returns their output; the
 * first that fails fails the call (withHost).
 * @param {LiveConnection} conn
 * @param {HostRun[]} runs
 * @returns {Promise<string[]>}
 */
function onHost(conn, runs) {
    return withHost(conn, async (run) => {
        const outputs = [];
        for (const r of runs) outputs.push(await run(r));
        return outputs;
    });
}

/**
 * The toolkit's installer run.
 * @param {LiveStateProps} p
 * @param {Toolkit} t
 * @returns {HostRun}
 */
function install(p, t) {
    return [`installing ${t.dir}`, renderInstall(t, p.resource, p.component), "apply"];
}

/** The dynamic provider's methods. */
const provider = {
    /** @param {LiveStateProps} olds @param {LiveStateProps} news */
    async check(olds, news) {
        return { inputs: { ...news, repairs: nextRepairs(olds ?? {}, news) } };
    },

    /** @param {string} _id @param {LiveStateProps} olds @param {LiveStateProps} news */
    async diff(_id, olds, news) {
        return { changes: changedKeys(olds, news).length > 0 };
    },

    /** @param {LiveStateProps} p */
    async create(p) {
        if (p.toolkit) await onHost(p.connection, [install(p, p.toolkit)]);
        return { id: `${p.resource}@${p.connection.host}:${p.connection.port}`, outs: p };
    },

    /** @param {string} _id @param {LiveStateProps} olds @param {LiveStateProps} news */
    async update(_id, olds, news) {
        /** @type {HostRun[]} */
        const runs = [];
        if (news.toolkit && needsInstall(olds, news)) runs.push(install(news, news.toolkit));
        if (needsPrune(olds)) runs.push([`removing leftovers (${news.resource})`, news.live, "apply"]);
        if (runs.length > 0) await onHost(news.connection, runs);
        return { outs: news };
    },

    /** @param {string} id @param {LiveStateProps} p */
    async read(id, p) {
        // The toolkit's listing and the component's check over one SSH connection: a login costs an
        // emulated host about as much CPU as a component's check.
        return withHost(p.connection, async (run) => {
            if (p.toolkit) {
                const listing = await run([`checking ${p.toolkit.dir}`, p.toolkit.check, "check"]);
                const missing = toolkitDrift(p.toolkit.files, p.toolkit.dir, listing);
                if (missing.length > 0) {
                    // Without its toolkit nothing of the component can be checked: reinstall, apply all again.
                    const state = {
                        ...p,
                        desired: `drift: ${missing.join("; ")}; every resource of ${p.resource} applies again`,
                        drifted: [...p.names, p.resource],
                    };
                    return { id, props: state, inputs: state };
                }
            }
            const out = await run([`checking ${p.resource}`, p.live, "check"]);
            const state = { ...p, ...summarizeChecks([out], p.names, p.resource) };
            return { id, props: state, inputs: state };
        });
    },

    /** @param {string} _id @param {LiveStateProps} p */
    async delete(_id, p) {
        const toolkit = p.toolkit;
        if (!toolkit) return;
        // The component's check script (live.sh) removes the toolkit it is part of; if the folder is
        // already gone there is nothing to remove.
        await withHost(p.connection, async (run) => {
            const listing = await run([`checking ${toolkit.dir}`, toolkit.check, "check"]);
            if (listing.includes(`${toolkit.dir}/lib.sh`)) await run([`removing ${toolkit.dir}`, p.live, "remove"]);
        });
    },
};

module.exports = {
    IN_SYNC,
    SCRIPT_DIR,
    shellQuote,
    renderParams,
    readScript,
    sha256,
    renderInstall,
    commandLine,
    summarizeChecks,
    nextRepairs,
    changedKeys,
    needsInstall,
    needsPrune,
    toolkitDrift,
    hostKeyAlgorithms,
    withHost,
    onHost,
    provider,
};
