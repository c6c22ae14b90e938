/**
 * What every part of the config shares: field names in messages, the basic value schemas, and the
 * checks of option lists. Nothing here touches a host.
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";

export const PROJECT = "lvs-dr";

/** Collects problems; each names its config field (`lvs-dr:services[0].realServers[1].weight`). */
export type Problems = string[];

/** The config field at `path`, as messages name it. */
export function fieldPath(path: readonly PropertyKey[]): string {
    let out = PROJECT + ":";
    path.forEach((p, i) => {
        if (typeof p === "number") out += `[${p}]`;
        else out += i === 0 ? String(p) : `.${String(p)}`;
    });
    return out;
}
export const at = (...path: PropertyKey[]) => fieldPath(path);

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    let v: unknown = root;
    for (const p of path) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<PropertyKey, unknown>)[p];
    }
    return v;
}

/** One schema issue as a message naming the field and the value found there. */
export function formatIssue(issue: z.core.$ZodIssue, root: unknown): string {
    const value = valueAt(root, issue.path);
    if (issue.code === "unrecognized_keys") {
        return issue.keys.map((k) => `${fieldPath([...issue.path, k])}: unknown field`).join("; ");
    }
    if (issue.code === "invalid_value") {
        return `${fieldPath(issue.path)}: ${JSON.stringify(value)} is not one of ${issue.values.map(String).join(", ")}`;
    }
    if (value === undefined) return `${fieldPath(issue.path)}: is required (${issue.message})`;
    return `${fieldPath(issue.path)}: ${JSON.stringify(value)} ${issue.message.replace(/^Invalid input: /, "")}`;
}

/** An address's family: 6 when it is an IPv6 address (as checked by `ip`), else 4. */
export type Family = 4 | 6;
export function familyOf(address: string): Family {
    return address.includes(":") ? 6 : 4;
}

/** Whether `s` is an IPv6 address written plainly: no zone (%eth0), no dotted IPv4 part. */
export function isPlainIPv6(s: string): boolean {
    return ipaddr.IPv6.isValid(s) && !/[%.]/.test(s);
}

/** Whether `s` is a plain IPv6 address (isPlainIPv6) with a prefix length of 0-128. */
export function isPlainIPv6Cidr(s: string): boolean {
    const [a, prefix, ...rest] = s.split("/");
    return rest.length === 0 && isPlainIPv6(a) && /^\d{1,3}$/.test(prefix ?? "") && ipaddr.IPv6.isValidCIDR(s);
}

/** `s` as the kernel, ipvsadm and keepalived print it: IPv6 compressed and in lower case (RFC 5952). */
export function canonicalAddress(s: string): string {
    return familyOf(s) === 6 ? ipaddr.IPv6.parse(s).toString() : s;
}

/** An address with or without a prefix length, its address part canonical (canonicalAddress). */
export function canonicalCidr(s: string): string {
    const [a, ...prefix] = s.split("/");
    return [canonicalAddress(a), ...prefix].join("/");
}

/** An address as a part of a resource or object name (no ':', which Pulumi's URNs use): "fd86::180" -> "fd86--180". */
export function addressId(address: string): string {
    return address.replace(/:/g, "-");
}

/** An IPv4 or IPv6 address, normalized (canonicalAddress). */
export const ip = z
    .string()
    .refine((s) => ipaddr.IPv4.isValidFourPartDecimal(s) || isPlainIPv6(s), {
        message: "is not an IPv4 or IPv6 address (like 192.168.86.180 or fd86::180)",
    })
    .transform(canonicalAddress);
/** An IPv4 or IPv6 address with its network's prefix length, the address normalized. */
export const ipCidr = z
    .string()
    .refine((s) => ipaddr.IPv4.isValidCIDRFourPartDecimal(s) || isPlainIPv6Cidr(s), {
        message: "is not an IPv4 or IPv6 address with a prefix length (like 192.168.86.44/24 or fd86::44/64)",
    })
    .transform(canonicalCidr);

export const ipv4 = z.string().refine((s) => ipaddr.IPv4.isValidFourPartDecimal(s), {
    message: "is not an IPv4 address (four decimal parts, like 192.168.86.180)",
});
export const ipv4Cidr = z.string().refine((s) => ipaddr.IPv4.isValidCIDRFourPartDecimal(s), {
    message: "is not an IPv4 address with a prefix length (like 192.168.86.44/24)",
});
export const name = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, {
    message: "must be 1-31 characters: lower-case letters, digits and '-', starting with a letter",
});
export const port = z.number().int().min(1).max(65535);

/** A 16-bit FNV-1a hash of `text` (the low half of the firewall marks lvs-dr picks). */
export function fnv1a16(text: string): number {
    let h = 0x811c9dc5;
    for (const byte of Buffer.from(text, "utf8")) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
    return ((h >>> 16) ^ h) & 0xffff;
}

/**
 * Picks a mark `base + fnv1a16(key)` for each key, in key order, taking the next free one on a
 * collision (with `taken` and with each other), so adding or removing a key leaves the others' marks.
 */
export function pickMarks(keys: string[], base: number, taken: Set<number> = new Set()): Map<string, number> {
    const used = new Set([...taken].filter((m) => m >= base && m <= base + 0xffff).map((m) => m - base));
    const marks = new Map<string, number>();
    for (const key of [...new Set(keys)].sort()) {
        let low = fnv1a16(key);
        while (used.has(low)) low = (low + 1) & 0xffff;
        used.add(low);
        marks.set(key, base + low);
    }
    return marks;
}

/** Why `p` cannot be used as an export or mount path, or undefined when it can. */
export function pathProblem(p: string): string | undefined {
    if (!p.startsWith("/")) return "must be an absolute path (starting with /)";
    if (p.length > 1 && p.endsWith("/")) return "must not end with /";
    if (/[^A-Za-z0-9._/+@-]/.test(p)) {
        return "may contain only letters, digits and . _ - + @ / (no spaces or shell metacharacters)";
    }
    if (p.split("/").some((seg) => seg === "." || seg === "..")) return "must not contain . or .. segments";
    if (p.includes("//")) return "must not contain //";
    return undefined;
}
export const absolutePath = z.string().superRefine((s, ctx) => {
    const problem = pathProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Why `option` is not one of `allowed` (by its key) with a plain value, or undefined. */
export function optionProblem(option: string, allowed: Set<string>): string | undefined {
    const [key, value, ...rest] = option.split("=");
    if (!allowed.has(key)) return `unknown option "${key}"`;
    if (rest.length > 0 || (value !== undefined && !/^[A-Za-z0-9._:-]+$/.test(value))) {
        return `option "${option}" has an invalid value`;
    }
    return undefined;
}
