import { IN_SYNC, summarizeChecks } from "../../components/liveState";

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
