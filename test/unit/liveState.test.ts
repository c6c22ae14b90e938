/**
 * The LiveState provider's decisions (lvs-dr-live), as pure functions: what a refresh's check output
 * means, which resources a repair re-applies, when the toolkit is reinstalled, which host key
 * algorithms a pinned key allows.
 */
import {
    changedKeys,
    hostKeyAlgorithms,
    IN_SYNC,
    LiveStateProps,
    needsInstall,
    needsPrune,
    nextRepairs,
    summarizeChecks,
    toolkitDrift,
} from "lvs-dr-live";

const NAMES = ["web1-arp", "web1-vip-10.86.0.180", "web1-web"];

describe("summarizeChecks: what a refresh found", () => {
    test("checks that report nothing are in sync", () => {
        expect(summarizeChecks(["lvs-dr web1-arp: check: in sync\nlvs-dr web1-web: check: in sync\n"], NAMES, "web1-live")).toEqual({
            desired: IN_SYNC,
            drifted: [],
        });
        expect(summarizeChecks([""], NAMES, "web1-live")).toEqual({ desired: IN_SYNC, drifted: [] });
    });

    test("drift lines name the resource; each drifted resource is listed once, in apply order", () => {
        const out = summarizeChecks(
            [
                "lvs-dr web1-vip-10.86.0.180: drift: 10.86.0.180/32 is not on lo\n" +
                    "lvs-dr web1-arp: drift: net/ipv4/conf/all/arp_ignore is 0 (want 1)\n" +
                    "lvs-dr web1-arp: drift: net/ipv4/conf/eth1/arp_ignore is 0 (want 1)\n" +
                    "lvs-dr web1-arp: check: 2 difference(s)\n",
            ],
            NAMES,
            "web1-live",
        );
        expect(out.drifted).toEqual(["web1-arp", "web1-vip-10.86.0.180"]);
        expect(out.desired).toBe(
            "drift: web1-vip-10.86.0.180: 10.86.0.180/32 is not on lo; web1-arp: net/ipv4/conf/all/arp_ignore is 0 (want 1); " +
                "web1-arp: net/ipv4/conf/eth1/arp_ignore is 0 (want 1)",
        );
    });

    test("leftovers are reported against the LiveState itself", () => {
        const out = summarizeChecks(["lvs-dr web1-live: drift: leftover unit: /etc/systemd/system/lvs-dr-vip-10.86.0.181.service\n"], NAMES, "web1-live");
        expect(out.drifted).toEqual(["web1-live"]);
    });

    test("other output (changes, warnings, other resources) is not drift", () => {
        const out = summarizeChecks(["lvs-dr x: changed: wrote /etc/foo\nlvs-dr x: warning: drift: not really\n"], NAMES, "web1-live");
        expect(out).toEqual({ desired: IN_SYNC, drifted: [] });
    });
});

describe("nextRepairs: only what a refresh found drifted applies again", () => {
    test("a new LiveState starts every resource at 0", () => {
        expect(nextRepairs({}, { names: NAMES })).toEqual({ "web1-arp": 0, "web1-vip-10.86.0.180": 0, "web1-web": 0 });
    });

    test("a drifted resource gets one more; the others keep their count", () => {
        const olds = { repairs: { "web1-arp": 2, "web1-vip-10.86.0.180": 0, "web1-web": 1 }, drifted: ["web1-vip-10.86.0.180"] };
        expect(nextRepairs(olds, { names: NAMES })).toEqual({ "web1-arp": 2, "web1-vip-10.86.0.180": 1, "web1-web": 1 });
    });

    test("without drift nothing changes (a no-op up re-applies nothing); removed resources are dropped", () => {
        const olds = { repairs: { "web1-arp": 2, "web1-gone": 4 }, drifted: [] };
        expect(nextRepairs(olds, { names: ["web1-arp"] })).toEqual({ "web1-arp": 2 });
    });
});

describe("when the LiveState updates, reinstalls its toolkit, removes leftovers", () => {
    const conn = { host: "127.0.0.1", port: 2222, user: "root", privateKey: "k", hostKey: "ssh-ed25519 AAAA" };
    const toolkit = { dir: "/usr/local/lib/lvs-dr/real-server", files: { "lib.sh": "aa", "vip.sh": "bb" }, check: "sha256sum" };
    const base: LiveStateProps = {
        connection: conn,
        resource: "web1-live",
        component: "web1",
        toolkit,
        live: "live script",
        names: NAMES,
        desired: IN_SYNC,
        drifted: [],
        repairs: { "web1-arp": 0 },
    };

    test("an untouched state has no changes and needs nothing", () => {
        expect(changedKeys(base, { ...base })).toEqual([]);
        expect(needsInstall(base, base)).toBe(false);
        expect(needsPrune(base)).toBe(false);
    });

    test("a new version of a script reinstalls the toolkit", () => {
        const news = { ...base, toolkit: { ...toolkit, files: { ...toolkit.files, "lib.sh": "cc" } } };
        expect(changedKeys(base, news)).toEqual(["toolkit"]);
        expect(needsInstall(base, news)).toBe(true);
    });

    test("a toolkit found drifted by a refresh is reinstalled, and leftovers are removed", () => {
        const refreshed = { ...base, desired: "drift: web1-live: /usr/local/lib/lvs-dr/real-server/lib.sh is missing", drifted: ["web1-live"] };
        expect(changedKeys(refreshed, base)).toEqual(["desired", "drifted"]);
        expect(needsInstall(refreshed, base)).toBe(true);
        expect(needsPrune(refreshed)).toBe(true);
    });

    test("drift of a resource is repaired by its command, not by the LiveState", () => {
        const refreshed = { ...base, desired: "drift: web1-arp: ...", drifted: ["web1-arp"] };
        expect(needsInstall(refreshed, base)).toBe(false);
        expect(needsPrune(refreshed)).toBe(false);
    });
});

describe("toolkitDrift: the installed files against their hashes", () => {
    const dir = "/usr/local/lib/lvs-dr/director";
    const files = { "lib.sh": "a".repeat(64), "vip.sh": "b".repeat(64) };
    const listing = (entries: [string, string][]) => entries.map(([h, n]) => `${h}  ${dir}/${n}`).join("\n") + "\n";

    test("all present and equal: nothing", () => {
        expect(toolkitDrift(files, dir, listing([["a".repeat(64), "lib.sh"], ["b".repeat(64), "vip.sh"]]))).toEqual([]);
    });

    test("missing, changed and foreign files are each reported (positive control above)", () => {
        const out = toolkitDrift(files, dir, listing([["c".repeat(64), "lib.sh"], ["d".repeat(64), "extra.sh"]]));
        expect(out).toEqual([`${dir}/lib.sh was changed`, `${dir}/vip.sh is missing`, `${dir}/extra.sh is not part of lvs-dr`]);
    });

    test("a folder that is gone: every file is missing", () => {
        expect(toolkitDrift(files, dir, "")).toEqual([`${dir}/lib.sh is missing`, `${dir}/vip.sh is missing`]);
    });
});

test("hostKeyAlgorithms: a pinned key allows only its own type (RSA with SHA-2 signatures)", () => {
    expect(hostKeyAlgorithms("ssh-ed25519 AAAA")).toEqual(["ssh-ed25519"]);
    expect(hostKeyAlgorithms("ecdsa-sha2-nistp256 AAAA x")).toEqual(["ecdsa-sha2-nistp256"]);
    expect(hostKeyAlgorithms("ssh-rsa AAAA")).toEqual(["rsa-sha2-512", "rsa-sha2-256"]);
});
