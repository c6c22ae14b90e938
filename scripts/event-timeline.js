#!/usr/bin/env node
// scripts/event-timeline.js EVENT_LOG [N]: where a `pulumi up --event-log EVENT_LOG` spent its time.
// Prints the N (default 10) resources whose step took longest, with when each started and ended
// (seconds after the first engine event), so the slow host scripts and the waits between them show.
"use strict";
const fs = require("fs");

const [file, n = "10"] = process.argv.slice(2);
if (!file) {
    console.error("usage: event-timeline.js EVENT_LOG [N]");
    process.exit(2);
}
const events = fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const t0 = events[0].timestamp;
const steps = new Map();
for (const e of events) {
    const pre = e.resourcePreEvent?.metadata;
    const out = e.resOutputsEvent?.metadata;
    if (pre && pre.op !== "same") steps.set(pre.urn, { name: pre.urn.split("::").pop(), op: pre.op, start: e.timestamp - t0 });
    if (out && steps.has(out.urn)) steps.get(out.urn).end = e.timestamp - t0;
}
const rows = [...steps.values()].filter((s) => s.end !== undefined).map((s) => ({ ...s, took: s.end - s.start }));
rows.sort((a, b) => b.took - a.took);
console.log(`  slowest steps of ${rows.length} (start-end, seconds after the first event; total ${events[events.length - 1].timestamp - t0} s):`);
for (const r of rows.slice(0, Number(n))) {
    console.log(`    ${String(r.took).padStart(4)} s  ${String(r.start).padStart(4)}-${String(r.end).padEnd(4)} ${r.op} ${r.name}`);
}
