import { changedKeys, IN_SYNC, needsRepair, summarizeChecks } from "../../components/liveState";

test("checks that report nothing are in sync", () => {
    expect(summarizeChecks(["lvs-dr web1-arp: check: in sync\n", "lvs-dr web1-web: check: in sync\n"])).toBe(IN_SYNC);
    expect(summarizeChecks([])).toBe(IN_SYNC);
});

test("drift lines from every script are collected, naming the resource", () => {
    const out = summarizeChecks([
        "lvs-dr web1-arp: drift: net/ipv4/conf/all/arp_ignore is 0 (want 1)\nlvs-dr web1-arp: check: 1 difference(s)\n",
        "lvs-dr web1-web: check: in sync\n",
        "lvs-dr web1-vip-10.86.0.180: drift: 10.86.0.180/32 is not on lo\n",
    ]);
    expect(out).toBe(
        "drift: web1-arp: net/ipv4/conf/all/arp_ignore is 0 (want 1); web1-vip-10.86.0.180: 10.86.0.180/32 is not on lo",
    );
});

test("other output (changes, warnings) is not drift", () => {
    expect(summarizeChecks(["lvs-dr x: changed: wrote /etc/foo\nlvs-dr x: warning: drift: not really\n"])).toBe(IN_SYNC);
});

describe("when the LiveState updates, and when it repairs", () => {
    const conn = { host: "127.0.0.1", port: 2222, user: "root", privateKey: "k", hostKey: "ssh-ed25519 AAAA" };
    const base = { connection: conn, scripts: [["web1-arp", "script"]] as [string, string][], desired: IN_SYNC };

    test("an untouched state has no changes", () => {
        expect(changedKeys(base, { ...base })).toEqual([]);
    });

    test("drift recorded by a refresh is a change, and is repaired", () => {
        const refreshed = { ...base, desired: "drift: web1-arp: net/ipv4/conf/all/arp_ignore is 0 (want 1)" };
        expect(changedKeys(refreshed, base)).toEqual(["desired"]);
        expect(needsRepair(refreshed, base)).toBe(true);
    });

    test("new scripts or a new connection are changes, but the commands apply them: no repair run", () => {
        const newScripts = { ...base, scripts: [["web1-arp", "script v2"]] as [string, string][] };
        expect(changedKeys(base, newScripts)).toEqual(["scripts"]);
        expect(needsRepair(base, newScripts)).toBe(false);
        const moved = { ...base, connection: { ...conn, port: 2322 } };
        expect(changedKeys(base, moved)).toEqual(["connection"]);
        expect(needsRepair(base, moved)).toBe(false);
    });
});
