/**
 * The director, its VIPs and IPVS tuning, and the virtual services with their real servers.
 */
import * as ipaddr from "ipaddr.js";
import { z } from "zod";
import { at, Family, familyOf, ip, ipv4Cidr, name, pickMarks, port, Problems } from "./common";
import { addressesOf, addressOf, HostAddress, hostAddress, Hosts, HostSpec, inNetwork, isNetworkAddress } from "./hosts";

/** Every IPVS scheduler the Linux kernel ships (ipvsadm(8), net/netfilter/ipvs). */
export const SCHEDULERS = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
] as const;
export const PROTOCOLS = ["tcp", "udp"] as const;
/**
 * Forwarding methods this program implements: direct routing (the real server on the director's
 * segment), IP-in-IP tunnelling (tun: a real server in any network the director routes to) and
 * NAT (nat: the director rewrites the destination, and the real server's replies come back through
 * it, its gateway; the only method that can map the service's port to another).
 */
export const METHODS = ["dr", "tun", "nat"] as const;
export type Method = (typeof METHODS)[number];

/** How messages name a method. */
const METHOD_NAMES: Record<Method, string> = { dr: "direct routing", tun: "tunnelling", nat: "NAT" };
/** ipvsadm(8): "weight is an integer specifying the capacity of a server ... 0 to 65535". */
export const MAX_WEIGHT = 65535;
/**
 * Firewall marks lvs-dr picks: 0x4c56 ("LV") in the high half of the marks of checks through the VIP
 * (one per real server), 0x4c55 in those of fwmark services without a `fwmark` in the config.
 */
export const SERVICE_MARK_BASE = 0x4c550000;
export const CHECK_MARK_BASE = 0x4c560000;
/** How many ports one firewall-mark service may name. */
export const MAX_SERVICE_PORTS = 16;

const realServerSchema = z.strictObject({
    host: name,
    port: port.optional(),
    /** How the director forwards to this real server (default: the service's method). */
    method: z.enum(METHODS).optional(),
    weight: z
        .number()
        .int({ message: `must be a whole number from 0 to ${MAX_WEIGHT}` })
        .min(0, { message: `must be a whole number from 0 to ${MAX_WEIGHT}` })
        .max(MAX_WEIGHT, { message: `must be a whole number from 0 to ${MAX_WEIGHT} (ipvsadm's maximum)` })
        .default(1),
});

/** Seconds, as keepalived's timers take them (microsecond resolution). */
const seconds = (max: number) => z.number().positive().max(max).multipleOf(0.001, { message: "must be a whole number of milliseconds" });

/** What every kind of check shares: its timers and thresholds (keepalived's names in comments). */
const checkTimers = {
    /** Seconds between checks (delay_loop). */
    interval: seconds(3600).default(1),
    /**
     * Seconds a try may take (connect_timeout). A connect on a LAN takes milliseconds; a real server
     * that drops the VIP's packets is only seen by this timeout running out, twice by default, so it
     * sets how fast such a server leaves rotation: at most interval + timeout + (retryDelay +
     * timeout) per further try, 2.5 s at the defaults.
     */
    timeout: seconds(3600).default(0.5),
    /**
     * Seconds before a failed try is tried again (delay_before_retry; keepalived's own default is
     * 1 s, which made a VIP-less real server leave rotation up to 3 s after it broke).
     */
    retryDelay: seconds(3600).default(0.5),
    /** Failed tries in a row that take a real server out of rotation (retry + 1). */
    failuresBeforeDown: z.number().int().min(1).max(10).default(2),
    /**
     * Passed checks that bring it back: keepalived puts a real server back at its first passing
     * check, so 1 is the only value it can honour (the field is here so a config that asks for more
     * is refused, not silently run with 1).
     */
    successesBeforeUp: z
        .number()
        .int()
        .min(1)
        .max(1, { message: "must be 1: keepalived puts a real server back at its first passing check" })
        .default(1),
    /**
     * Check through the VIP (the default): the check's packets take the path clients' packets take,
     * so it fails when the real server would drop traffic for the VIP (VIP off its lo, ARP settings
     * lost), not only when its server is down. false checks the real server's own address.
     */
    throughVip: z.boolean().default(true),
};
/** A checked HTTP path: what keepalived's url block takes unquoted-safe. */
const httpPath = z.string().regex(/^\/[A-Za-z0-9._~\/?=&%+-]*$/, {
    message: "must be an absolute URL path like /health (letters, digits and . _ ~ / ? = & % + -)",
});
const healthCheckSchema = z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("tcp"), ...checkTimers }),
    z.strictObject({
        type: z.literal("http"),
        path: httpPath.default("/"),
        status: z.number().int().min(100).max(599).default(200),
        /** Text the reply's body must contain (plain text, matched literally). */
        bodyContains: z
            .string()
            .regex(/^[A-Za-z0-9 !#%&'()*+,./:;<=>?@_~-]{1,128}$/, {
                message: "must be 1-128 characters of plain text (no quotes, backslashes or control characters)",
            })
            .optional(),
        ...checkTimers,
    }),
    z.strictObject({
        type: z.literal("udp"),
        /** The datagram each try sends (text, sent as its bytes; default: keepalived's, empty). */
        payload: z.string().min(1).max(256).optional(),
        /**
         * Pass only on a reply. Without it a try passes unless an ICMP port-unreachable comes back,
         * and Linux rate-limits those: a real server where nothing listens is put back now and then
         * (seen in the lab: back for 1.5 s after 9 s out). Set it for request/response protocols
         * (DNS); leave it off for ones that never answer (syslog).
         */
        requireReply: z.boolean().default(false),
        ...checkTimers,
    }),
]);
export type HealthCheckSpec = z.infer<typeof healthCheckSchema>;

export const serviceSchema = z.strictObject({
    name: name.optional(),
    /** One of the director's VIPs, IPv4 or IPv6 (an IPv6 service's hosts use their IPv6 addresses). */
    vip: ip,
    /** The service's port: an IPVS service VIP:PORT. */
    port: port.optional(),
    /**
     * ...or several ports of the VIP balanced as one service (IPVS fwmark service): lvs-dr's nftables
     * table on the director marks the VIP's packets to these ports, and persistence then keeps a
     * client on one real server across all of them (80 + 443). Health checks use the first port.
     */
    ports: z.array(port).min(1).max(MAX_SERVICE_PORTS).optional(),
    /** The mark of a `ports` service (default: picked by lvs-dr, 0x4c55xxxx). */
    fwmark: z.number().int().min(1).max(0xffffffff).optional(),
    protocol: z.enum(PROTOCOLS).default("tcp"),
    scheduler: z.enum(SCHEDULERS).default("wlc"),
    method: z.enum(METHODS).default("dr"),
    persistence: z.number().int().min(0).max(2_678_400).default(0),
    drainTimeout: z.number().int().min(0).max(86_400).default(30),
    // In DR the director sees only the client's packets: a connection the real server ends stays
    // ESTABLISHED in IPVS for its whole TCP timeout. A drain counts one as ended after this many
    // seconds without a packet (120 s: TCP's longest retransmission and zero-window probe interval,
    // so a stalled but live connection still counts).
    drainIdle: z.number().int().min(1).max(86_400).default(120),
    realServers: z.array(realServerSchema).min(1),
    /** Omitted: a TCP connect through the VIP every second (an http or udp check is one line away). */
    healthCheck: healthCheckSchema.optional(),
});

/** Production IPVS knobs (net.ipv4.vs.*, the kernel's ipvs-sysctl documentation). */
const ipvsTuningSchema = z.strictObject({
    /** Drop a flow's entry as soon as its real server is deleted, so the client reconnects elsewhere. */
    expireNodestConn: z.boolean().default(true),
    /** Expire persistence templates of a weight-0 (draining) real server, so a drain works with persistence. */
    expireQuiescentTemplate: z.boolean().default(true),
    /**
     * How a new connection that reuses a tracked client port is scheduled. The kernel's default, 1,
     * reschedules it only when the old entry is in TIME_WAIT, which a director in DR or TUN never
     * sees (it sees the client's half: a closed connection stays FIN_WAIT), so the new connection
     * went to the old one's real server with the old one's method. 3 (bit 2 too) also reschedules
     * those. Found in the lab: after web3 switched from dr to tun, connections reusing ports of its
     * direct-routed ones were sent as direct routing through the route IPVS had cached for its
     * tunnel, with the VIP as the next hop; nobody answers ARP for it, and the client got "host
     * unreachable" (2-3 failed connects per switch, in three runs of three).
     */
    connReuseMode: z.number().int().min(0).max(3).default(3),
    /** Accept flows that start mid-stream (a backup director taking over). */
    sloppyTcp: z.boolean().default(false),
});

/** VRRP between the two directors of a pair (keepalived's vrrp_instance). */
const vrrpSchema = z
    .strictObject({
        /**
         * 3 (the default): sub-second adverts, no authentication (RFC 5798 has none). 2: whole-second
         * adverts, with a PASS secret from a RandomPassword (a Pulumi secret).
         */
        version: z.union([z.literal(2), z.literal(3)]).default(3),
        /**
         * Seconds between the master's adverts; the backup takes over after 3 missed ones and a skew
         * of under one more. Default 0.5 with version 3 (a failover in about 1.8 s), 1 with version 2
         * (whole seconds only: about 3.6 s).
         */
        advertInterval: z.number().min(0.01).max(40).multipleOf(0.01, { message: "must be a multiple of 0.01 s" }).optional(),
        /** The virtual router id (1-255), unique per network segment; default: from a RandomInteger. */
        routerId: z.number().int().min(1).max(255).optional(),
    })
    .transform((v) => ({ ...v, advertInterval: v.advertInterval ?? (v.version === 3 ? 0.5 : 1) }));

/** IPVS connection sync between the pair (keepalived's lvs_sync_daemon). */
const syncSchema = z.strictObject({
    /** The sync id (1-255); default: from a RandomInteger. */
    id: z.number().int().min(1).max(255).optional(),
});

/** NAT: the director is its real servers' gateway. */
const natSchema = z.strictObject({
    /**
     * The gateway address the NAT real servers route through, with its network's prefix length
     * (10.86.2.1/24): held by the director (by the master of a pair, moving with the VIPs) as a /32
     * on its interface in that network, where each director also has an address of its own
     * (`hosts.NAME.otherAddresses`, or its address).
     */
    gateway: ipv4Cidr,
});

export const directorSchema = z.strictObject({
    /** A single director (as the recipe has it), or... */
    host: name.optional(),
    /** ...a pair: the VIPs move between them by VRRP. */
    hosts: z.array(name).min(1).max(2).optional(),
    /** IPv4 and IPv6 VIPs; each director needs an address of each family it holds VIPs of. */
    vips: z.array(ip).min(1),
    ipvs: ipvsTuningSchema.default({ expireNodestConn: true, expireQuiescentTemplate: true, connReuseMode: 3, sloppyTcp: false }),
    vrrp: vrrpSchema.optional(),
    sync: syncSchema.optional(),
    nat: natSchema.optional(),
});

export type IpvsTuning = z.infer<typeof ipvsTuningSchema>;
export type VrrpSpec = z.infer<typeof vrrpSchema>;

/** The director(s) as the components build them. */
export interface DirectorSpec {
    /** One host, or the two of a pair (the first is preferred as master at the first start). */
    hosts: string[];
    vips: string[];
    ipvs: IpvsTuning;
    /** Set for a pair only. */
    vrrp?: VrrpSpec;
    /** The sync id asked for in the config (a pair only; otherwise from a RandomInteger). */
    syncId?: number;
    /** The NAT real servers' gateway, when the config has one. */
    nat?: HostAddress;
}

/** A real server of a service: its host's address, and the port and weight resolved. */
export type RealServerRef = Required<z.infer<typeof realServerSchema>> & { address: string };

/** A service as the components build it: named, with its real servers resolved to addresses. */
export type ServiceSpec = Omit<z.infer<typeof serviceSchema>, "name" | "port" | "ports" | "fwmark" | "realServers" | "healthCheck"> & {
    name: string;
    /** The port clients use; of a firewall-mark service, its first port (the one checks use). */
    port: number;
    /** Every port of the service: [port], or a firewall-mark service's ports. */
    ports: number[];
    /** The firewall mark of a firewall-mark service (`ports`); 0 for a VIP:PORT service. */
    fwmark: number;
    /** Its real servers; of a firewall-mark service, each with port 0 (DR keeps the client's port). */
    realServers: RealServerRef[];
    healthCheck: HealthCheckSpec;
};

/** The director with its VIPs checked (each once, not a host's address, not its network's edges). */
export function normalizeDirector(raw: z.infer<typeof directorSchema>, hosts: Hosts, problems: Problems): DirectorSpec {
    if (raw.host !== undefined && raw.hosts !== undefined) {
        problems.push(`${at("director")}: set either host (one director) or hosts (one or two), not both`);
    } else if (raw.host === undefined && raw.hosts === undefined) {
        problems.push(`${at("director", "hosts")}: is required: the director's host, or the two hosts of a pair`);
    }
    const names = raw.hosts ?? (raw.host !== undefined ? [raw.host] : []);
    const directors = names.map((n, i) => hosts.require(n, raw.hosts ? at("director", "hosts", i) : at("director", "host")));
    if (names.length === 2 && names[0] === names[1]) {
        problems.push(`${at("director", "hosts", 1)}: "${names[1]}" is already hosts[0]: a pair needs two different hosts`);
    }
    if (directors.length === 2 && directors[0] && directors[1] && directors[0].network !== directors[1].network) {
        problems.push(
            `${at("director", "hosts", 1)}: "${names[1]}" (${directors[1].address}/${directors[1].prefixLength}) is not on the network of ` +
                `"${names[0]}" (${directors[0].network}): VRRP moves the VIPs within one segment`,
        );
    }
    const pair = names.length === 2;
    if (!pair && raw.vrrp) problems.push(`${at("director", "vrrp")}: VRRP needs two directors (${at("director", "hosts")}: [a, b])`);
    if (!pair && raw.sync) problems.push(`${at("director", "sync")}: connection sync needs two directors (${at("director", "hosts")}: [a, b])`);
    const vrrp = pair ? (raw.vrrp ?? vrrpSchema.parse({})) : undefined;
    if (vrrp && vrrp.version === 2 && !Number.isInteger(vrrp.advertInterval)) {
        problems.push(`${at("director", "vrrp", "advertInterval")}: ${vrrp.advertInterval} must be whole seconds with VRRP version 2 (version 3 allows fractions)`);
    }
    const director = directors[0];
    const vipSet = new Set<string>();
    raw.vips.forEach((vip, i) => {
        const where = at("director", "vips", i);
        if (vipSet.has(vip)) problems.push(`${where}: ${vip} is listed twice`);
        vipSet.add(vip);
        const owner = hosts.byAddress.get(vip);
        if (owner) problems.push(`${where}: VIP ${vip} is the address of host "${owner}"`);
        for (const h of Object.values(hosts.hosts)) {
            if (h.ssh.host === vip) problems.push(`${where}: VIP ${vip} is the SSH address of host "${h.name}"`);
        }
        const family = familyOf(vip);
        // Each director holds it on its interface in its network of that family, and sends checks from there.
        for (const d of directors) {
            if (d && !addressOf(d, family)) {
                problems.push(
                    `${where}: the IPv6 VIP ${vip} needs an IPv6 address on director "${d.name}" (on the real servers' segment): ` +
                        `add it to ${at("hosts", d.name, "otherAddresses")}`,
                );
            }
        }
        // Not its network's own address (IPv6: the subnet-router anycast address), nor IPv4's broadcast.
        const own = director ? addressOf(director, family) : undefined;
        if (own) {
            let special: string | undefined;
            if (isNetworkAddress({ ...own, address: vip })) special = family === 6 ? "subnet-router anycast" : "network";
            else if (family === 4 && own.prefixLength < 31 && vip === ipaddr.IPv4.broadcastAddressFromCIDR(`${own.address}/${own.prefixLength}`).toString()) {
                special = "broadcast";
            }
            if (special) problems.push(`${where}: VIP ${vip} is the ${special} address of the director's network ${own.network}`);
        }
    });
    // A pair moves its IPv6 VIPs within one IPv6 network, as its IPv4 ones within one segment.
    const [first, second] = directors;
    const [a6, b6] = [first, second].map((d) => (d ? addressOf(d, 6) : undefined));
    if (raw.vips.some((v) => familyOf(v) === 6) && second && a6 && b6 && a6.network !== b6.network) {
        problems.push(`${at("hosts", second.name, "otherAddresses")}: "${second.name}"'s IPv6 address ${b6.address} is not on ${a6.network}, the network of "${first!.name}": VRRP moves the VIPs within one segment`);
    }
    if (pair && raw.vips.every((v) => familyOf(v) === 6)) {
        problems.push(
            `${at("director", "vips")}: a pair needs an IPv4 VIP: VRRP runs between the directors' IPv4 addresses and its adverts carry the first IPv4 VIP (IPv6 VIPs move with it)`,
        );
    }
    const nat = raw.nat ? natGateway(raw.nat.gateway, names, hosts, problems) : undefined;
    return { hosts: names, vips: [...vipSet], ipvs: raw.ipvs, vrrp, syncId: pair ? raw.sync?.id : undefined, nat };
}

/** The NAT gateway, checked: a free host address of a network where every director has an address. */
function natGateway(cidr: string, directors: string[], hosts: Hosts, problems: Problems): HostAddress {
    const where = at("director", "nat", "gateway");
    const gw = hostAddress(cidr);
    const owner = hosts.byAddress.get(gw.address);
    if (owner) problems.push(`${where}: ${gw.address} is an address of host "${owner}"; the gateway is an address of its own, which the director holds`);
    if (isNetworkAddress(gw)) {
        problems.push(`${where}: "${cidr}" is the network address of ${gw.network}, not a host address`);
    }
    for (const d of directors) {
        const h = hosts.hosts[d];
        if (h && !addressesOf(h).some((a) => inNetwork(a, gw.network))) {
            problems.push(
                `${where}: director "${d}" has no address in ${gw.network}, where it would hold the gateway; ` +
                    `add its address there to ${at("hosts", d, "otherAddresses")}`,
            );
        }
    }
    return gw;
}

/** A real server's address for a service of `family`: its data-plane address, or its IPv6 one (in `network` when it has one there). */
function realAddress(h: HostSpec, family: Family, network: string | undefined): string | undefined {
    return family === 4 ? h.address : addressOf(h, 6, network)?.address;
}

/** The services, checked against the director and the hosts; also the real server hosts, in config order. */
export function normalizeServices(
    raw: z.infer<typeof serviceSchema>[],
    director: DirectorSpec,
    hosts: Hosts,
    problems: Problems,
): { services: ServiceSpec[]; realServerHosts: string[] } {
    const directorHost = hosts.hosts[director.hosts[0]];
    const vipSet = new Set(director.vips);
    const services: ServiceSpec[] = [];
    const serviceKeys = new Map<string, number>();
    const serviceNames = new Map<string, number>();
    const realServerHosts: string[] = [];
    const explicitMarks = new Map<number, number>();
    raw.forEach((s, i) => {
        const svcAt = (...p: PropertyKey[]) => at("services", i, ...p);
        if (!vipSet.has(s.vip)) {
            problems.push(
                `${svcAt("vip")}: ${s.vip} is not one of the director's VIPs (${at("director", "vips")}: ${[...vipSet].join(", ")})`,
            );
        }
        if (s.port !== undefined && s.ports !== undefined) {
            problems.push(`${svcAt()}: set either port (one port) or ports (a firewall-mark service), not both`);
        } else if (s.port === undefined && s.ports === undefined) {
            problems.push(`${svcAt("port")}: is required: the service's port, or ports: [...] for several`);
        }
        const marked = s.ports !== undefined;
        const ports = s.ports ?? (s.port !== undefined ? [s.port] : []);
        if (s.fwmark !== undefined) {
            if (!marked) problems.push(`${svcAt("fwmark")}: a firewall mark needs ports: [...] (a firewall-mark service)`);
            else if (s.fwmark >= CHECK_MARK_BASE && s.fwmark <= CHECK_MARK_BASE + 0xffff) {
                problems.push(`${svcAt("fwmark")}: ${s.fwmark} is in 0x4c560000-0x4c56ffff, the marks of lvs-dr's health checks`);
            } else if (explicitMarks.has(s.fwmark)) {
                problems.push(`${svcAt("fwmark")}: ${s.fwmark} is already the mark of services[${explicitMarks.get(s.fwmark)}]`);
            } else explicitMarks.set(s.fwmark, i);
        }
        ports.forEach((p, k) => {
            const key = `${s.protocol}/${s.vip}:${p}`;
            const where = marked ? svcAt("ports", k) : svcAt();
            if (ports.indexOf(p) !== k) problems.push(`${where}: ${p} is listed twice`);
            else if (serviceKeys.has(key)) problems.push(`${where}: ${key} is already defined by services[${serviceKeys.get(key)}]`);
            else serviceKeys.set(key, i);
        });
        const port0 = ports[0] ?? 0;
        const svcName = s.name ?? `${s.protocol}-${marked ? ports.join("-") : port0}-${s.vip.replace(/[.:]/g, "-")}`;
        if (serviceNames.has(svcName)) {
            problems.push(`${svcAt("name")}: "${svcName}" is already the name of services[${serviceNames.get(svcName)}]`);
        }
        serviceNames.set(svcName, i);
        const seen = new Map<string, number>();
        const reals: RealServerRef[] = [];
        const family = familyOf(s.vip);
        // The director's network of the VIP's family: where direct routing reaches its real servers.
        const directorNet = directorHost ? addressOf(directorHost, family)?.network : undefined;
        s.realServers.forEach((r, j) => {
            const rAt = (...p: PropertyKey[]) => svcAt("realServers", j, ...p);
            const h = hosts.require(r.host, rAt("host"));
            if (seen.has(r.host)) problems.push(`${rAt("host")}: "${r.host}" is already realServers[${seen.get(r.host)}] of this service`);
            seen.set(r.host, j);
            const rport = marked ? 0 : (r.port ?? port0);
            const method = r.method ?? s.method;
            const methodName = METHOD_NAMES[method];
            if (marked && r.port !== undefined) {
                problems.push(`${rAt("port")}: a firewall-mark service has no real server port (each client's port is kept)`);
            } else if (!marked && rport !== port0 && method !== "nat") {
                problems.push(`${rAt("port")}: ${rport} differs from the service port ${port0}; ${methodName} cannot change the port (NAT can)`);
            }
            if (!h) return;
            if (director.hosts.includes(h.name)) {
                problems.push(`${rAt("host")}: "${h.name}" is the director; a director cannot also be a real server here`);
            }
            if (family === 6 && method !== "dr") {
                problems.push(`${r.method ? rAt("method") : svcAt("method")}: lvs-dr builds IPv6 services (VIP ${s.vip}) with direct routing only; ${methodName} is IPv4 only`);
            }
            const own = realAddress(h, family, directorNet);
            if (!own) {
                problems.push(
                    `${rAt("host")}: "${h.name}" has no IPv6 address, which the IPv6 VIP ${s.vip} needs: add it to ${at("hosts", h.name, "otherAddresses")}`,
                );
                return;
            }
            if (directorNet && method === "dr" && !inNetwork(own, directorNet)) {
                problems.push(
                    `${rAt("host")}: "${h.name}" (${own}) is outside the director's network ${directorNet}; ` +
                        `direct routing needs real servers on the director's segment (method: tun reaches other networks)`,
                );
            }
            const natWhere = r.method ? rAt("method") : svcAt("method");
            if (method === "nat" && !director.nat) {
                const problem = `${natWhere}: a NAT real server needs ${at("director", "nat", "gateway")}: its replies go back through the director, its gateway`;
                if (!problems.includes(problem)) problems.push(problem);
            } else if (method === "nat" && director.nat && !inNetwork(h.address, director.nat.network)) {
                problems.push(
                    `${rAt("host")}: "${h.name}" (${h.address}) is outside ${director.nat.network}, the network of the NAT gateway ` +
                        `(${at("director", "nat", "gateway")}): its gateway would not be the director, and its replies would not come back through it`,
                );
            }
            if (!realServerHosts.includes(h.name)) realServerHosts.push(h.name);
            reals.push({ host: h.name, address: own, port: rport, weight: r.weight, method });
        });
        const healthCheck = s.healthCheck ?? healthCheckSchema.parse({ type: s.protocol === "udp" ? "udp" : "tcp" });
        const checkAt = (...p: PropertyKey[]) => svcAt("healthCheck", ...p);
        if (healthCheck.timeout >= healthCheck.interval) {
            problems.push(`${checkAt("timeout")}: ${healthCheck.timeout} must be shorter than the interval (${healthCheck.interval} s)`);
        }
        if (s.protocol === "udp" && healthCheck.type !== "udp") {
            problems.push(`${checkAt("type")}: "${healthCheck.type}" cannot check a udp service (use type: udp)`);
        }
        if (s.protocol === "tcp" && healthCheck.type === "udp") {
            problems.push(`${checkAt("type")}: "udp" cannot check a tcp service (use tcp or http)`);
        }
        services.push({
            name: svcName,
            vip: s.vip,
            port: port0,
            ports,
            fwmark: marked ? (s.fwmark ?? -1) : 0,
            protocol: s.protocol,
            scheduler: s.scheduler,
            method: s.method,
            persistence: s.persistence,
            drainTimeout: s.drainTimeout,
            drainIdle: s.drainIdle,
            realServers: reals,
            healthCheck,
        });
    });
    // The marks of firewall-mark services the config leaves to lvs-dr: from their protocol, VIP and ports.
    const markKey = (s: ServiceSpec) => `${s.protocol}-${s.vip}-${s.ports.join(",")}`;
    const picked = pickMarks(services.filter((s) => s.fwmark === -1).map(markKey), SERVICE_MARK_BASE, new Set(explicitMarks.keys()));
    for (const s of services) if (s.fwmark === -1) s.fwmark = picked.get(markKey(s))!;
    for (const vip of vipSet) {
        if (!services.some((s) => s.vip === vip)) {
            problems.push(`${at("director", "vips")}: VIP ${vip} has no service in ${at("services")}`);
        }
    }
    return { services, realServerHosts };
}
