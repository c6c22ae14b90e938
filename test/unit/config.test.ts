/**
 * The config is checked before anything touches a host: every bad input of the recipe's kind is
 * refused with a message naming the field and the value.
 */
import { ConfigError, parseClusterConfig, RawConfig } from "../../components/config";
import { nfsSource } from "../../components/config/nfs";
import { checkParams } from "../../components/virtualService";
import { FAKE_PRIVATE_KEY, runProgram, stackValues } from "../harness";

type Values = Record<string, any>;
// Real public keys (ssh-keygen -t rsa / -t ecdsa), so that only the type can be what is refused.
const RSA_KEY =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCmKrT5jBYh0wUkLpaSae65H0rOyzDZmluBH8Vtq3mgXusADit2ODmp0eGK398JynFJk0m9ASWf4ZRRbu+lgVx9NZw1By3mdS9LSleHsrCsModvFO7KvXPcO+Ri8Z/1Ym8geGYFuc2m1NS21GXpzdTFVDdAI30CvsCjshbT4gInEKfHNmHVt7AE1tzIUakshZ61WpWyh0sX8qd11Ydgluk5B2gWX/g8UZuYz4d3ByAH8kuwTyKr41yKgUMR8pJvI3MZ220LiMhmMyDeAB7R0jaUUpyOrBJRb8mn4TqHBWS/9+f1EV1LAegd1i+gLjoXp/LEWV/HI0SUJFr29SmzWkfT";
const ECDSA_KEY =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBznkdMNhF4yZSdxHKx6bx3xgqqDkvZzqWgP3LPsEnVgu0K1zXBYBe6s2KiSEI31rNHtquNM0VquRkdLeQFwP3U=";
const dev = (): Values => JSON.parse(JSON.stringify(stackValues("dev")));

/** The raw config for `values` with the SSH key set as a secret (`key: null` leaves it unset). */
function raw(values: Values, key: string | null = FAKE_PRIVATE_KEY, secret = true): RawConfig {
    const v = { ...values };
    if (key !== null) v.sshPrivateKey = key;
    return { values: v, secrets: new Set(secret && key !== null ? ["sshPrivateKey"] : []) };
}

/** The problems reported for the dev config after `mutate`. */
function problems(mutate: (v: Values) => void, rawOpts?: { key?: string | null; secret?: boolean }): string[] {
    const v = dev();
    mutate(v);
    try {
        parseClusterConfig(raw(v, rawOpts?.key === undefined ? FAKE_PRIVATE_KEY : rawOpts.key, rawOpts?.secret ?? true));
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
    return [];
}

test("the dev config (the recipe's topology) is valid and normalized", () => {
    const spec = parseClusterConfig(raw(dev()));
    expect(spec.director).toEqual({
        hosts: ["director"],
        vips: ["192.168.86.180"],
        // Defaults that make drains and removals safe (kernel ipvs-sysctl docs).
        ipvs: { expireNodestConn: true, expireQuiescentTemplate: true, connReuseMode: 3, sloppyTcp: false },
        // A single director: no VRRP, no sync.
        vrrp: undefined,
        syncId: undefined,
    });
    // No check in the config: a TCP connect through the VIP every second, out after 2 failures.
    expect(spec.services[0].healthCheck).toEqual({
        type: "tcp",
        interval: 1,
        timeout: 0.5,
        retryDelay: 0.5,
        failuresBeforeDown: 2,
        successesBeforeUp: 1,
        throughVip: true,
    });
    expect(spec.realServerHosts).toEqual(["web1", "web2"]);
    expect(spec.hosts.web1).toMatchObject({ address: "192.168.86.11", prefixLength: 24, network: "192.168.86.0/24", interface: "ens33" });
    expect(spec.hosts.nfs.interface).toBeUndefined();
    expect(spec.hosts.nfs.ssh).toMatchObject({ host: "192.168.86.77", port: 22, user: "root", privateKeySecret: "sshPrivateKey" });
    expect(spec.services[0]).toMatchObject({ name: "web", scheduler: "rr", method: "dr", persistence: 0, drainTimeout: 30 });
    expect(spec.mounts.map((m) => `${m.host} ${m.serverAddress}:${m.export} ${m.path}`)).toEqual([
        "web1 192.168.86.77:/opt/kgc /var/www/html",
        "web2 192.168.86.77:/opt/benet /var/www/html",
    ]);
});

test("defaults: scheduler wlc, protocol tcp, weight 1, read-only root-squashed export, mode 0755", () => {
    const v = dev();
    delete v.services[0].scheduler;
    delete v.services[0].protocol;
    delete v.services[0].realServers[0].weight;
    v.nfsServers[0].exports.push({ path: "/srv/new", clients: "192.168.86.0/24" });
    const spec = parseClusterConfig(raw(v));
    expect(spec.services[0]).toMatchObject({ scheduler: "wlc", protocol: "tcp" });
    expect(spec.services[0].realServers[0].weight).toBe(1);
    expect(spec.nfsServers[0].exports[3]).toMatchObject({ options: ["ro", "sync", "no_subtree_check", "root_squash"], mode: "0755", owner: "root" });
});

// Each case: what is wrong, how to break the dev config, and what the message must contain.
const cases: Array<[string, (v: Values) => void, RegExp]> = [
    ["a malformed host address", (v) => (v.hosts.web1.address = "192.168.86.311/24"), /lvs-dr:hosts\.web1\.address: "192\.168\.86\.311\/24" is not an IPv4 address/],
    ["an address without prefix length", (v) => (v.hosts.web1.address = "192.168.86.11"), /lvs-dr:hosts\.web1\.address: "192\.168\.86\.11" is not an IPv4 address with a prefix length/],
    ["a malformed VIP", (v) => (v.services[0].vip = "192.168.86"), /lvs-dr:services\[0\]\.vip: "192\.168\.86" is not an IPv4 or IPv6 address/],
    ["a VIP equal to a host address", (v) => { v.director.vips = ["192.168.86.22"]; v.services[0].vip = "192.168.86.22"; }, /lvs-dr:director\.vips\[0\]: VIP 192\.168\.86\.22 is the address of host "web2"/],
    ["a real server outside the director's subnet", (v) => (v.hosts.web2.address = "192.168.87.22/24"), /lvs-dr:services\[0\]\.realServers\[1\]\.host: "web2" \(192\.168\.87\.22\) is outside the director's network 192\.168\.86\.0\/24/],
    ["a real-server port different from the service port", (v) => (v.services[0].realServers[0].port = 8080), /lvs-dr:services\[0\]\.realServers\[0\]\.port: 8080 differs from the service port 80/],
    ["a real server naming an unknown host", (v) => (v.services[0].realServers[1].host = "web3"), /lvs-dr:services\[0\]\.realServers\[1\]\.host: unknown host "web3" \(hosts: director, web1, web2, nfs\)/],
    ["a real server listed twice", (v) => (v.services[0].realServers[1].host = "web1"), /lvs-dr:services\[0\]\.realServers\[1\]\.host: "web1" is already realServers\[0\]/],
    ["a real server added to a VIP no service defines (the recipe's 192.168.186.180)", (v) => v.services.push({ vip: "192.168.186.180", port: 80, realServers: [{ host: "web2" }] }), /lvs-dr:services\[1\]\.vip: 192\.168\.186\.180 is not one of the director's VIPs \(lvs-dr:director\.vips: 192\.168\.86\.180\)/],
    ["an unknown scheduler", (v) => (v.services[0].scheduler = "roundrobin"), /lvs-dr:services\[0\]\.scheduler: "roundrobin" is not one of rr, wrr, lc, wlc/],
    ["an unknown protocol", (v) => (v.services[0].protocol = "sctp"), /lvs-dr:services\[0\]\.protocol: "sctp" is not one of tcp, udp/],
    ["an unknown method", (v) => (v.services[0].method = "masq"), /lvs-dr:services\[0\]\.method: "masq" is not one of dr, tun, nat/],
    ["an unknown method on a real server", (v) => (v.services[0].realServers[1].method = "ipip"), /lvs-dr:services\[0\]\.realServers\[1\]\.method: "ipip" is not one of dr, tun/],
    ["a negative weight", (v) => (v.services[0].realServers[0].weight = -1), /lvs-dr:services\[0\]\.realServers\[0\]\.weight: -1 must be a whole number from 0 to 65535/],
    ["a fractional weight", (v) => (v.services[0].realServers[0].weight = 1.5), /lvs-dr:services\[0\]\.realServers\[0\]\.weight: 1\.5 must be a whole number from 0 to 65535/],
    ["a weight above ipvsadm's maximum", (v) => (v.services[0].realServers[0].weight = 65536), /lvs-dr:services\[0\]\.realServers\[0\]\.weight: 65536 must be a whole number from 0 to 65535 \(ipvsadm's maximum\)/],
    ["a relative export path", (v) => (v.nfsServers[0].exports[1].path = "opt/kgc"), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.path: "opt\/kgc" must be an absolute path/],
    ["an export path with whitespace", (v) => (v.nfsServers[0].exports[1].path = "/opt/k gc"), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.path: "\/opt\/k gc" may contain only letters/],
    ["an export path with shell metacharacters", (v) => (v.nfsServers[0].exports[1].path = "/opt/kgc;reboot"), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.path: "\/opt\/kgc;reboot" may contain only letters/],
    ["a mount naming an undefined export", (v) => (v.mounts[0].export = "/opt/kgc2"), /lvs-dr:mounts\[0\]\.export: \/opt\/kgc2 is not exported by "nfs" \(exports: \/usr\/share, \/opt\/kgc, \/opt\/benet\)/],
    ["a mount from a host that is not an NFS server (the recipe's web1 mounting from itself)", (v) => (v.mounts[0].server = "web1"), /lvs-dr:mounts\[0\]\.server: "web1" is not an NFS server \(lvs-dr:nfsServers: nfs\)/],
    ["a mount from an unknown host", (v) => (v.mounts[0].server = "nfs2"), /lvs-dr:mounts\[0\]\.server: unknown host "nfs2"/],
    ["a typo in a field name", (v) => { v.services[0].schedular = "rr"; }, /lvs-dr:services\[0\]\.schedular: unknown field/],
    ["a typo in a top-level key", (v) => { v.service = v.services; }, /lvs-dr:service: unknown config key/],
    ["a missing host key", (v) => delete v.hosts.nfs.ssh.hostKey, /lvs-dr:hosts\.nfs\.ssh\.hostKey: is required: pin the host's SSH key/],
    ["a host key that is not a key", (v) => (v.hosts.nfs.ssh.hostKey = "ssh-ed25519 bm90IGEga2V5"), /lvs-dr:hosts\.nfs\.ssh\.hostKey: "ssh-ed25519 bm90IGEga2V5" says "ssh-ed25519" but its key data is of type/],
    ["an unknown export option", (v) => (v.nfsServers[0].exports[1].options = ["rw", "no_root_sqash"]), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.options\[1\]: unknown option "no_root_sqash"/],
    ["a mode that is not octal", (v) => (v.nfsServers[0].exports[1].mode = "777x"), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.mode: "777x" must be an octal mode/],
    ["a director that is also a real server", (v) => (v.services[0].realServers[1].host = "director"), /lvs-dr:services\[0\]\.realServers\[1\]\.host: "director" is the director/],
    ["a mount client outside the export's clients", (v) => (v.nfsServers[0].exports[1].clients = "192.168.86.22"), /lvs-dr:mounts\[0\]\.host: "web1" \(192\.168\.86\.11\) is not in the export's clients 192\.168\.86\.22/],
    ["an unknown IPVS knob", (v) => (v.director.ipvs = { expireNodestConnn: true }), /lvs-dr:director\.ipvs\.expireNodestConnn: unknown field/],
    ["a conn_reuse_mode out of range", (v) => (v.director.ipvs = { connReuseMode: 7 }), /lvs-dr:director\.ipvs\.connReuseMode: 7/],
    ["the same service twice", (v) => v.services.push({ ...v.services[0], name: "web2" }), /lvs-dr:services\[1\]: tcp\/192\.168\.86\.180:80 is already defined by services\[0\]/],
    // What would break a host: refused at preview, naming the field.
    ["a mount over /", (v) => (v.mounts[0].path = "/"), /lvs-dr:mounts\[0\]\.path: \/ is a system folder: mounting over it would hide what the host needs/],
    ["a mount over /etc", (v) => (v.mounts[0].path = "/etc"), /lvs-dr:mounts\[0\]\.path: \/etc is a system folder/],
    ["a mount over /usr", (v) => (v.mounts[0].path = "/usr"), /lvs-dr:mounts\[0\]\.path: \/usr is a system folder/],
    ["a mount over /var/lib", (v) => (v.mounts[0].path = "/var/lib"), /lvs-dr:mounts\[0\]\.path: \/var\/lib is a system folder/],
    ["a mount inside /etc", (v) => (v.mounts[0].path = "/etc/ssh"), /lvs-dr:mounts\[0\]\.path: \/etc\/ssh is inside \/etc, which belongs to the system/],
    ["a mount inside /proc", (v) => (v.mounts[0].path = "/proc/x"), /lvs-dr:mounts\[0\]\.path: \/proc\/x is inside \/proc/],
    ["an export of /", (v) => (v.nfsServers[0].exports[1].path = "/"), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.path: "\/" would export the NFS server's whole filesystem/],
    ["a VIP that is the director network's address", (v) => { v.director.vips = ["192.168.86.0"]; v.services[0].vip = "192.168.86.0"; }, /lvs-dr:director\.vips\[0\]: VIP 192\.168\.86\.0 is the network address of the director's network 192\.168\.86\.0\/24/],
    ["a VIP that is the director network's broadcast address", (v) => { v.director.vips = ["192.168.86.255"]; v.services[0].vip = "192.168.86.255"; }, /lvs-dr:director\.vips\[0\]: VIP 192\.168\.86\.255 is the broadcast address of the director's network 192\.168\.86\.0\/24/],
    ["a world-writable export (the recipe's chmod 777)", (v) => (v.nfsServers[0].exports[1].mode = "0777"), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.mode: "0777" lets every user on the NFS server and every squashed client write to \/opt\/kgc; give writers a group instead .*set lvs-dr:nfsServers\[0\]\.exports\[1\]\.worldWritable: true/],
    ["a world-writable export with the sticky bit", (v) => (v.nfsServers[0].exports[1].mode = "1777"), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.mode: "1777" lets every user/],
    ["two mounts whose names would collide", (v) => { v.mounts.push({ ...v.mounts[0], path: "/srv/a-b" }, { ...v.mounts[0], path: "/srv/a/b" }); }, /lvs-dr:mounts\[3\]\.path: \/srv\/a\/b and mounts\[2\]\.path \/srv\/a-b on "web1" differ only in \/ versus -/],
    // Host keys: an RSA pin would fail every connection of pulumi-command 1.2.1 to OpenSSH 8.8+.
    ["an RSA host key", (v) => (v.hosts.nfs.ssh.hostKey = RSA_KEY), /lvs-dr:hosts\.nfs\.ssh\.hostKey: "ssh-rsa AAAA.*" is an RSA host key, which the command provider can only verify with SHA-1 signatures \(ssh-rsa\) that OpenSSH 8\.8\+ refuses; pin the host's ed25519 or ECDSA key instead/],
    ["a blank host key", (v) => (v.hosts.nfs.ssh.hostKey = " "), /lvs-dr:hosts\.nfs\.ssh\.hostKey: " " must be a public host key like "ssh-ed25519 AAAA\.\.\."/],
];

test("an ECDSA host key is accepted as a pin", () => {
    expect(problems((v) => (v.hosts.nfs.ssh.hostKey = ECDSA_KEY))).toEqual([]);
});

test("a world-writable export is accepted when it says so, and a setgid group folder without", () => {
    expect(problems((v) => Object.assign(v.nfsServers[0].exports[1], { mode: "0777", worldWritable: true }))).toEqual([]);
    const spec = parseClusterConfig(raw(((v) => ((v.nfsServers[0].exports[1].mode = "2775"), v))(dev())));
    expect(spec.nfsServers[0].exports[1].mode).toBe("2775");
    expect(parseClusterConfig(raw(((v) => ((v.nfsServers[0].exports[1].mode = "750"), v))(dev()))).nfsServers[0].exports[1].mode).toBe("0750");
});

test.each(cases)("refuses %s, naming the field and value", (_what, mutate, message) => {
    const found = problems(mutate);
    expect(found.join("\n")).toMatch(message);
});

test("refuses a missing private key, saying how to set it", () => {
    expect(problems(() => undefined, { key: null }).join("\n")).toMatch(
        /lvs-dr:sshPrivateKey: missing SSH private key for host\(s\) director, web1, web2, nfs; set it with: pulumi config set --secret sshPrivateKey/,
    );
});

test("refuses a private key stored in plain text", () => {
    expect(problems(() => undefined, { secret: false }).join("\n")).toMatch(/lvs-dr:sshPrivateKey: the SSH private key is stored in plain text/);
});

test("a per-host private key names its own secret", () => {
    const found = problems((v) => (v.hosts.nfs.ssh.privateKeySecret = "nfsKey"));
    expect(found.join("\n")).toMatch(/lvs-dr:nfsKey: missing SSH private key for host\(s\) nfs/);
});

test("reports every problem at once", () => {
    const found = problems((v) => {
        v.services[0].scheduler = "bogus";
        v.hosts.web1.address = "x";
    });
    expect(found).toHaveLength(2);
});

describe("a bad config stops the program before any resource is declared", () => {
    test.each([
        ["a weight above the maximum", (v: Values) => (v.services[0].realServers[0].weight = 70000)],
        ["the recipe's typo VIP", (v: Values) => v.services.push({ vip: "192.168.186.180", port: 80, realServers: [{ host: "web2" }] })],
        ["a mount from the web server itself", (v: Values) => (v.mounts[0].server = "web1")],
    ])("%s", async (_what, mutate) => {
        const v = dev();
        mutate(v);
        const run = await runProgram(v);
        expect(run.error?.message).toMatch(/lvs-dr configuration is invalid; nothing was changed on any host/);
        expect(run.resources.filter((r) => r.type === "command:remote:Command")).toEqual([]);
        expect(run.resources.filter((r) => r.type.startsWith("lvs:"))).toEqual([]);
    });

    test("a missing private key too", async () => {
        const run = await runProgram(dev(), { withKey: false });
        expect(run.error?.message).toMatch(/lvs-dr:sshPrivateKey: missing SSH private key/);
        expect(run.resources.filter((r) => r.type === "command:remote:Command")).toEqual([]);
    });
});

describe("health checks and the director pair", () => {
    /** The dev config with a second director host, director2, on the director's network. */
    const withDirector2 = (v: Values) => {
        v.hosts.director2 = { address: "192.168.86.45/24", ssh: { hostKey: v.hosts.director.ssh.hostKey } };
    };
    const pair = (v: Values) => {
        withDirector2(v);
        delete v.director.host;
        v.director.hosts = ["director", "director2"];
    };

    test("a pair: VRRPv3, adverts every half second, router and sync ids left to random resources", () => {
        const v = dev();
        pair(v);
        const spec = parseClusterConfig(raw(v));
        expect(spec.director.hosts).toEqual(["director", "director2"]);
        expect(spec.director.vrrp).toEqual({ version: 3, advertInterval: 0.5 });
        expect(spec.director.syncId).toBeUndefined();
    });

    test("a pair on VRRPv2 defaults to whole-second adverts (v2 has no others)", () => {
        const v = dev();
        pair(v);
        v.director.vrrp = { version: 2 };
        expect(parseClusterConfig(raw(v)).director.vrrp).toEqual({ version: 2, advertInterval: 1 });
    });

    test("an http check with its defaults, and a udp service's default check is udp", () => {
        const v = dev();
        v.services[0].healthCheck = { type: "http", bodyContains: "web!" };
        v.services.push({ name: "dns", vip: v.services[0].vip, port: 53, protocol: "udp", realServers: [{ host: "web1" }] });
        const spec = parseClusterConfig(raw(v));
        expect(spec.services[0].healthCheck).toMatchObject({ type: "http", path: "/", status: 200, bodyContains: "web!", interval: 1 });
        expect(spec.services[1].healthCheck).toMatchObject({ type: "udp", requireReply: false });
        expect(spec.services[1].healthCheck).not.toHaveProperty("payload");
    });

    test("a udp check's datagram and reply go to keepalived's payload (hex) and require_reply; unset, no parameter at all", () => {
        const v = dev();
        const dns = (healthCheck?: object) => ({ name: "dns", vip: v.services[0].vip, port: 53, protocol: "udp", realServers: [{ host: "web1" }], healthCheck });
        v.services.push(dns({ type: "udp", payload: "q\n", requireReply: true }));
        const withReply = checkParams(parseClusterConfig(raw(v)).services[1], 7);
        expect(withReply).toMatchObject({ CHECK_TYPE: "udp", CHECK_PAYLOAD: "710a", CHECK_REPLY: "yes" });
        v.services[1] = dns();
        const plain = checkParams(parseClusterConfig(raw(v)).services[1], 7);
        expect(plain).not.toHaveProperty("CHECK_PAYLOAD");
        expect(plain).not.toHaveProperty("CHECK_REPLY");
    });

    test.each([
        ["a pair that is one host twice", (v: Values) => (pair(v), (v.director.hosts = ["director", "director"])), /lvs-dr:director\.hosts\[1\]: "director" is already hosts\[0\]/],
        [
            "directors on different networks",
            (v: Values) => (pair(v), (v.hosts.director2.address = "10.1.2.3/24")),
            /lvs-dr:director\.hosts\[1\]: "director2" \(10\.1\.2\.3\/24\) is not on the network of "director" \(192\.168\.86\.0\/24\)/,
        ],
        ["an unknown director host", (v: Values) => (pair(v), (v.director.hosts[1] = "nope")), /lvs-dr:director\.hosts\[1\]: unknown host "nope"/],
        ["three directors", (v: Values) => (pair(v), v.director.hosts.push("web1")), /lvs-dr:director\.hosts: .*(too_big|at most|<=2)/i],
        ["host and hosts both", (v: Values) => (pair(v), (v.director.host = "director")), /lvs-dr:director: set either host .* or hosts/],
        ["a router id outside 1-255", (v: Values) => (pair(v), (v.director.vrrp = { routerId: 256 })), /lvs-dr:director\.vrrp\.routerId: 256/],
        ["a router id of 0", (v: Values) => (pair(v), (v.director.vrrp = { routerId: 0 })), /lvs-dr:director\.vrrp\.routerId: 0/],
        ["a sync id outside 1-255", (v: Values) => (pair(v), (v.director.sync = { id: 300 })), /lvs-dr:director\.sync\.id: 300/],
        ["VRRP on a single director", (v: Values) => (v.director.vrrp = { version: 2 }), /lvs-dr:director\.vrrp: VRRP needs two directors/],
        [
            "VRRPv2 with a fractional advert interval",
            (v: Values) => (pair(v), (v.director.vrrp = { version: 2, advertInterval: 0.5 })),
            /lvs-dr:director\.vrrp\.advertInterval: 0\.5 must be whole seconds with VRRP version 2/,
        ],
        ["a VRRP version 4", (v: Values) => (pair(v), (v.director.vrrp = { version: 4 })), /lvs-dr:director\.vrrp\.version/],
        ["a director that is also a real server of the pair", (v: Values) => (pair(v), (v.services[0].realServers[0].host = "director2")), /lvs-dr:services\[0\]\.realServers\[0\]\.host: "director2" is the director/],
        [
            "a check whose timeout is not shorter than its interval",
            (v: Values) => (v.services[0].healthCheck = { type: "tcp", interval: 1, timeout: 1 }),
            /lvs-dr:services\[0\]\.healthCheck\.timeout: 1 must be shorter than the interval \(1 s\)/,
        ],
        [
            "an http check on a udp service",
            (v: Values) => Object.assign(v.services[0], { protocol: "udp", healthCheck: { type: "http" } }),
            /lvs-dr:services\[0\]\.healthCheck\.type: "http" cannot check a udp service/,
        ],
        ["a check of an unknown type", (v: Values) => (v.services[0].healthCheck = { type: "icmp" }), /lvs-dr:services\[0\]\.healthCheck\.type/],
        ["a check without a type", (v: Values) => (v.services[0].healthCheck = { interval: 2 }), /lvs-dr:services\[0\]\.healthCheck\.type/],
        ["an http path on a tcp check", (v: Values) => (v.services[0].healthCheck = { type: "tcp", path: "/x" }), /lvs-dr:services\[0\]\.healthCheck\.path: unknown field/],
        ["an http path that is not a path", (v: Values) => (v.services[0].healthCheck = { type: "http", path: "health; rm -rf /" }), /lvs-dr:services\[0\]\.healthCheck\.path: .* must be an absolute URL path/],
        ["a body with a quote", (v: Values) => (v.services[0].healthCheck = { type: "http", bodyContains: 'say "hi"' }), /lvs-dr:services\[0\]\.healthCheck\.bodyContains: .* plain text/],
        ["two successes before up", (v: Values) => (v.services[0].healthCheck = { type: "tcp", successesBeforeUp: 2 }), /lvs-dr:services\[0\]\.healthCheck\.successesBeforeUp: 2 .*must be 1/],
        ["0 failures before down", (v: Values) => (v.services[0].healthCheck = { type: "tcp", failuresBeforeDown: 0 }), /lvs-dr:services\[0\]\.healthCheck\.failuresBeforeDown: 0/],
        ["a negative interval", (v: Values) => (v.services[0].healthCheck = { type: "tcp", interval: -1 }), /lvs-dr:services\[0\]\.healthCheck\.interval: -1/],
        ["a reply required of a tcp check", (v: Values) => (v.services[0].healthCheck = { type: "tcp", requireReply: true }), /lvs-dr:services\[0\]\.healthCheck\.requireReply: unknown field/],
        ["an empty udp payload", (v: Values) => Object.assign(v.services[0], { protocol: "udp", healthCheck: { type: "udp", payload: "" } }), /lvs-dr:services\[0\]\.healthCheck\.payload/],
        ["a zero retry delay", (v: Values) => (v.services[0].healthCheck = { type: "tcp", retryDelay: 0 }), /lvs-dr:services\[0\]\.healthCheck\.retryDelay: 0/],
    ])("refuses %s, naming the field", (_what, mutate, message) => {
        const found = problems(mutate);
        expect(found.join("\n")).toMatch(message);
    });

    test("the valid pair above has no problem at all (the control for the refusals)", () => {
        expect(problems(pair)).toEqual([]);
        expect(problems((v) => (pair(v), (v.director.vrrp = { version: 2, advertInterval: 1, routerId: 51 }), (v.director.sync = { id: 7 })))).toEqual([]);
    });
});

describe("firewall-mark services (ports: several ports of a VIP as one service)", () => {
    /** The dev config with a second service on the same VIP: ports 8080 and 8443 as one, with persistence. */
    const marked = (v: Values) => {
        v.services.push({ name: "app", vip: v.services[0].vip, ports: [8080, 8443], persistence: 300, realServers: [{ host: "web1" }, { host: "web2" }] });
    };

    test("a ports service: a mark lvs-dr picks (0x4c55xxxx), its first port for checks, real servers without a port", () => {
        const v = dev();
        marked(v);
        const spec = parseClusterConfig(raw(v));
        const app = spec.services[1];
        expect(app).toMatchObject({ name: "app", port: 8080, ports: [8080, 8443], persistence: 300 });
        expect(app.fwmark >>> 16).toBe(0x4c55);
        expect(app.realServers.map((r) => r.port)).toEqual([0, 0]);
        // A VIP:PORT service keeps its one port and no mark.
        expect(spec.services[0]).toMatchObject({ port: 80, ports: [80], fwmark: 0 });
        // The mark depends on the service alone: the same config picks the same mark again.
        expect(parseClusterConfig(raw(v)).services[1].fwmark).toBe(app.fwmark);
    });

    test("a mark set in the config is kept", () => {
        const v = dev();
        marked(v);
        v.services[1].fwmark = 7;
        expect(parseClusterConfig(raw(v)).services[1].fwmark).toBe(7);
    });

    test.each([
        ["port and ports both", (v: Values) => (marked(v), (v.services[1].port = 8080)), /lvs-dr:services\[1\]: set either port \(one port\) or ports/],
        ["neither port nor ports", (v: Values) => delete v.services[0].port, /lvs-dr:services\[0\]\.port: is required/],
        ["a mark without ports", (v: Values) => (v.services[0].fwmark = 7), /lvs-dr:services\[0\]\.fwmark: a firewall mark needs ports/],
        ["a mark in the range of lvs-dr's checks", (v: Values) => (marked(v), (v.services[1].fwmark = 0x4c560001)), /lvs-dr:services\[1\]\.fwmark: 1280704513 is in 0x4c560000-0x4c56ffff/],
        [
            "two services with one mark",
            (v: Values) => (marked(v), (v.services[1].fwmark = 9), v.services.push({ vip: v.services[0].vip, ports: [9000], fwmark: 9, realServers: [{ host: "web1" }] })),
            /lvs-dr:services\[2\]\.fwmark: 9 is already the mark of services\[1\]/,
        ],
        ["a real server port on a ports service", (v: Values) => (marked(v), (v.services[1].realServers[0].port = 8080)), /lvs-dr:services\[1\]\.realServers\[0\]\.port: a firewall-mark service has no real server port/],
        ["a port that another service has", (v: Values) => (marked(v), (v.services[1].ports = [8080, 80])), /lvs-dr:services\[1\]\.ports\[1\]: tcp\/192\.168\.86\.180:80 is already defined by services\[0\]/],
        ["a port listed twice", (v: Values) => (marked(v), (v.services[1].ports = [8080, 8080])), /lvs-dr:services\[1\]\.ports\[1\]: 8080 is listed twice/],
        ["no ports", (v: Values) => (marked(v), (v.services[1].ports = [])), /lvs-dr:services\[1\]\.ports/],
        ["a port out of range", (v: Values) => (marked(v), (v.services[1].ports = [8080, 70000])), /lvs-dr:services\[1\]\.ports\[1\]: 70000/],
    ])("refuses %s, naming the field", (_what, mutate, message) => {
        expect(problems(mutate).join("\n")).toMatch(message);
    });

    test("the ports service above has no problem at all (the control for the refusals)", () => {
        expect(problems(marked)).toEqual([]);
    });
});

describe("tunnelled real servers (method: tun)", () => {
    /** web2 moved to another network, reached by IP-in-IP (and let in by its export). */
    const remote = (v: Values) => {
        v.hosts.web2.address = "192.168.87.22/24";
        v.services[0].realServers[1].method = "tun";
        for (const e of v.nfsServers[0].exports) e.clients = "192.168.0.0/16";
    };

    test("a real server in another network is tunnelled to; the others keep the service's method", () => {
        const v = dev();
        remote(v);
        const spec = parseClusterConfig(raw(v));
        expect(spec.services[0].realServers.map((r) => [r.host, r.method])).toEqual([
            ["web1", "dr"],
            ["web2", "tun"],
        ]);
    });

    test("a service's method is its real servers' default", () => {
        const v = dev();
        v.services[0].method = "tun";
        expect(parseClusterConfig(raw(v)).services[0].realServers.map((r) => r.method)).toEqual(["tun", "tun"]);
    });

    test.each([
        ["direct routing to that other network", (v: Values) => (remote(v), delete v.services[0].realServers[1].method), /lvs-dr:services\[0\]\.realServers\[1\]\.host: "web2" \(192\.168\.87\.22\) is outside the director's network 192\.168\.86\.0\/24; direct routing needs real servers on the director's segment \(method: tun reaches other networks\)/],
        ["a tunnelled real server on another port", (v: Values) => (remote(v), (v.services[0].realServers[1].port = 8080)), /lvs-dr:services\[0\]\.realServers\[1\]\.port: 8080 differs from the service port 80; tunnelling cannot change the port/],
    ])("refuses %s, naming the field", (_what, mutate, message) => {
        expect(problems(mutate).join("\n")).toMatch(message);
    });

    test("the tunnelled real server above has no problem at all (the control for the refusals)", () => {
        expect(problems(remote)).toEqual([]);
    });
});

describe("NAT real servers (method: nat)", () => {
    /**
     * web2 moved to a network only the director reaches (192.168.2.0/24, where the director has
     * 192.168.2.44), reached by NAT through the gateway 192.168.2.1, on port 8080 for the service's 80.
     */
    const natted = (v: Values) => {
        v.hosts.web2.address = "192.168.2.22/24";
        v.hosts.director.otherAddresses = ["192.168.2.44/24"];
        v["director"].nat = { gateway: "192.168.2.1/24" };
        v.services[0].realServers[1].method = "nat";
        v.services[0].realServers[1].port = 8080;
        for (const e of v.nfsServers[0].exports) e.clients = "192.168.0.0/16";
    };

    test("a NAT real server keeps its own port; the director holds the gateway on its network", () => {
        const v = dev();
        natted(v);
        const spec = parseClusterConfig(raw(v));
        expect(spec.services[0].realServers.map((r) => [r.host, r.method, r.port])).toEqual([
            ["web1", "dr", 80],
            ["web2", "nat", 8080],
        ]);
        expect(spec.director.nat).toEqual({ address: "192.168.2.1", prefixLength: 24, network: "192.168.2.0/24" });
        expect(spec.hosts.director.otherAddresses).toEqual([{ address: "192.168.2.44", prefixLength: 24, network: "192.168.2.0/24" }]);
    });

    test.each([
        ["a NAT real server without a gateway", (v: Values) => (natted(v), delete v.director.nat), /lvs-dr:services\[0\]\.realServers\[1\]\.method: a NAT real server needs lvs-dr:director\.nat\.gateway/],
        ["a NAT service without a gateway (named once, at the service's method)", (v: Values) => ((v.services[0].method = "nat"), delete v.services[0].realServers[0].port), /^lvs-dr:services\[0\]\.method: a NAT real server needs lvs-dr:director\.nat\.gateway[^\n]*(\n(?!.*a NAT real server needs).*)*$/],
        ["a NAT real server outside the gateway's network", (v: Values) => (natted(v), (v.hosts.web2.address = "192.168.3.22/24")), /lvs-dr:services\[0\]\.realServers\[1\]\.host: "web2" \(192\.168\.3\.22\) is outside 192\.168\.2\.0\/24, the network of the NAT gateway/],
        ["a director with no address in the gateway's network", (v: Values) => (natted(v), delete v.hosts.director.otherAddresses), /lvs-dr:director\.nat\.gateway: director "director" has no address in 192\.168\.2\.0\/24.*lvs-dr:hosts\.director\.otherAddresses/],
        ["a gateway that is a host's address", (v: Values) => (natted(v), (v.director.nat.gateway = "192.168.2.44/24")), /lvs-dr:director\.nat\.gateway: 192\.168\.2\.44 is an address of host "director"/],
        ["a gateway that is its network's address", (v: Values) => (natted(v), (v.director.nat.gateway = "192.168.2.0/24")), /lvs-dr:director\.nat\.gateway: "192\.168\.2\.0\/24" is the network address of 192\.168\.2\.0\/24/],
        ["a port mapping with direct routing", (v: Values) => (v.services[0].realServers[1].port = 8080), /lvs-dr:services\[0\]\.realServers\[1\]\.port: 8080 differs from the service port 80; direct routing cannot change the port \(NAT can\)/],
        ["two addresses of a host on one network", (v: Values) => (natted(v), v.hosts.director.otherAddresses.push("192.168.2.45/24")), /lvs-dr:hosts\.director\.otherAddresses\[1\]: "192\.168\.2\.45\/24" is on 192\.168\.2\.0\/24, as 192\.168\.2\.44\/24 is: one address per network/],
        ["an address two hosts claim", (v: Values) => (natted(v), (v.hosts.director.otherAddresses = ["192.168.2.22/24"])), /lvs-dr:hosts\.(director\.otherAddresses\[0\]|web2\.address): 192\.168\.2\.22 is already an address of host/],
        ["a loopback address", (v: Values) => (natted(v), (v.hosts.director.otherAddresses = ["127.0.0.2/8"])), /lvs-dr:hosts\.director\.otherAddresses\[0\]: "127\.0\.0\.2\/8" is a loopback address/],
        ["a link-local address", (v: Values) => (v.hosts.web1.address = "169.254.1.11/16"), /lvs-dr:hosts\.web1\.address: "169\.254\.1\.11\/16" is a linkLocal address/],
    ])("refuses %s, naming the field", (_what, mutate, message) => {
        expect(problems(mutate).join("\n")).toMatch(message);
    });

    test("the NAT real server above has no problem at all (the control for the refusals)", () => {
        expect(problems(natted)).toEqual([]);
    });
});

describe("IPv6 services (an IPv6 VIP, the hosts' IPv6 addresses)", () => {
    /** The dev config with IPv6 on the segment (fd86::/64) and a second service on the IPv6 VIP fd86::180. */
    const v6 = (v: Values) => {
        for (const [name, last] of [["director", "44"], ["web1", "11"], ["web2", "22"]]) v.hosts[name].otherAddresses = [`fd86::${last}/64`];
        v.director.vips.push("FD86:0::0180");
        v.services.push({ name: "web6", vip: "fd86::180", port: 80, scheduler: "rr", realServers: [{ host: "web1" }, { host: "web2" }] });
    };

    /** v6, with the director a pair: director2 beside it, its IPv6 address `ip6` (an address with its prefix). */
    const v6Pair = (v: Values, ip6: string) => {
        v6(v);
        v.hosts.director2 = { address: "192.168.86.45/24", otherAddresses: [ip6], ssh: { hostKey: v.hosts.director.ssh.hostKey } };
        delete v.director.host;
        v.director.hosts = ["director", "director2"];
    };

    test("an IPv6 service's real servers are their IPv6 addresses, written as the kernel prints them", () => {
        const v = dev();
        v6(v);
        const spec = parseClusterConfig(raw(v));
        expect(spec.director.vips).toEqual(["192.168.86.180", "fd86::180"]);
        expect(spec.services[1].realServers.map((r) => `${r.host} ${r.address}:${r.port} ${r.method}`)).toEqual(["web1 fd86::11:80 dr", "web2 fd86::22:80 dr"]);
        // The IPv4 service is as before.
        expect(spec.services[0].realServers.map((r) => r.address)).toEqual(["192.168.86.11", "192.168.86.22"]);
        expect(spec.hosts.web1.otherAddresses).toEqual([{ address: "fd86::11", prefixLength: 64, network: "fd86::/64" }]);
    });

    test("its default name takes the VIP with '-' for ':'", () => {
        const v = dev();
        v6(v);
        delete v.services[1].name;
        expect(parseClusterConfig(raw(v)).services[1].name).toBe("tcp-80-fd86--180");
    });

    test.each([
        ["a VIP with a zone", (v: Values) => (v6(v), (v.director.vips[1] = "fe80::1%eth0")), /lvs-dr:director\.vips\[1\]: "fe80::1%eth0" is not an IPv4 or IPv6 address/],
        ["a VIP with an IPv4 tail", (v: Values) => (v6(v), (v.director.vips[1] = "::ffff:192.168.86.181")), /lvs-dr:director\.vips\[1\]: "::ffff:192\.168\.86\.181" is not an IPv4 or IPv6 address/],
        ["an IPv6 VIP on a director without an IPv6 address", (v: Values) => (v6(v), delete v.hosts.director.otherAddresses), /lvs-dr:director\.vips\[1\]: the IPv6 VIP fd86::180 needs an IPv6 address on director "director".*lvs-dr:hosts\.director\.otherAddresses/],
        ["a real server without an IPv6 address", (v: Values) => (v6(v), delete v.hosts.web2.otherAddresses), /lvs-dr:services\[1\]\.realServers\[1\]\.host: "web2" has no IPv6 address, which the IPv6 VIP fd86::180 needs: add it to lvs-dr:hosts\.web2\.otherAddresses/],
        ["a direct-routed real server off the director's IPv6 network", (v: Values) => (v6(v), (v.hosts.web2.otherAddresses = ["fd87::22/64"])), /lvs-dr:services\[1\]\.realServers\[1\]\.host: "web2" \(fd87::22\) is outside the director's network fd86::\/64/],
        ["an IPv6 service with tunnelling", (v: Values) => (v6(v), (v.services[1].realServers[0].method = "tun")), /lvs-dr:services\[1\]\.realServers\[0\]\.method: lvs-dr builds IPv6 services \(VIP fd86::180\) with direct routing only; tunnelling is IPv4 only/],
        ["the network's subnet-router anycast address as a VIP", (v: Values) => (v6(v), (v.director.vips[1] = "fd86::"), (v.services[1].vip = "fd86::")), /lvs-dr:director\.vips\[1\]: VIP fd86:: is the subnet-router anycast address of the director's network fd86::\/64/],
        ["an IPv6 VIP that is a host's address", (v: Values) => (v6(v), (v.director.vips[1] = "fd86::11"), (v.services[1].vip = "fd86::11")), /lvs-dr:director\.vips\[1\]: VIP fd86::11 is the address of host "web1"/],
        ["a link-local host address", (v: Values) => (v6(v), (v.hosts.web1.otherAddresses = ["fe80::11/64"])), /lvs-dr:hosts\.web1\.otherAddresses\[0\]: "fe80::11\/64" is a linkLocal address/],
        ["a prefix length over 128", (v: Values) => (v6(v), (v.hosts.web1.otherAddresses = ["fd86::11/129"])), /lvs-dr:hosts\.web1\.otherAddresses\[0\]: "fd86::11\/129" is not an IPv4 or IPv6 address with a prefix length/],
        ["an IPv6 address as a host's data-plane address", (v: Values) => (v.hosts.web1.address = "fd86::11/64"), /lvs-dr:hosts\.web1\.address: "fd86::11\/64" is not an IPv4 address with a prefix length/],
        [
            "a pair whose VIPs are all IPv6",
            (v: Values) => {
                v6Pair(v, "fd86::45/64");
                v.director.vips = ["fd86::180"];
                v.services = [v.services[1]];
            },
            /lvs-dr:director\.vips: a pair needs an IPv4 VIP: VRRP runs between the directors' IPv4 addresses/,
        ],
        [
            "a pair on two IPv6 networks (named once, with two IPv6 VIPs)",
            (v: Values) => {
                v6Pair(v, "fd87::45/64");
                v.director.vips.push("fd86::181");
                v.services.push({ ...v.services[1], name: "web6b", vip: "fd86::181" });
            },
            /^(?![^]*director2"'s IPv6 address[^]*director2"'s IPv6 address)[^]*lvs-dr:hosts\.director2\.otherAddresses: "director2"'s IPv6 address fd87::45 is not on fd86::\/64, the network of "director": VRRP moves the VIPs within one segment/,
        ],
    ])("refuses %s, naming the field", (_what, mutate, message) => {
        expect(problems(mutate).join("\n")).toMatch(message);
    });

    test("the IPv6 service above has no problem at all (the control for the refusals)", () => {
        expect(problems(v6)).toEqual([]);
    });

    /** The nfs server on fd86::/64 too, and kgc's export to the IPv6 network: web1 mounts it over IPv6. */
    const nfs6 = (v: Values) => {
        v6(v);
        v.hosts.nfs.otherAddresses = ["fd86::77/64"];
        v.nfsServers[0].exports[1].clients = "FD86:0::/64";
    };

    test("an export to IPv6 clients is mounted from the server's IPv6 address, in brackets", () => {
        const v = dev();
        nfs6(v);
        const spec = parseClusterConfig(raw(v));
        expect(spec.nfsServers[0].exports[1].clients).toBe("fd86::/64");
        expect(spec.mounts.map((m) => `${m.host} ${nfsSource(m)}`)).toEqual(["web1 [fd86::77]:/opt/kgc", "web2 192.168.86.77:/opt/benet"]);
    });

    test.each([
        ["an NFS server without an IPv6 address for IPv6 clients", (v: Values) => (nfs6(v), delete v.hosts.nfs.otherAddresses), /lvs-dr:mounts\[0\]\.server: "nfs" has no IPv6 address, which its export to fd86::\/64 needs/],
        ["a mount by a host without an IPv6 address", (v: Values) => (nfs6(v), delete v.hosts.web1.otherAddresses, (v.services = [v.services[0]]), v.director.vips.pop()), /lvs-dr:mounts\[0\]\.host: "web1" \(no IPv6 address\) is not in the export's clients fd86::\/64/],
        ["IPv6 clients with a zone", (v: Values) => (nfs6(v), (v.nfsServers[0].exports[1].clients = "fe80::1%eth0")), /lvs-dr:nfsServers\[0\]\.exports\[1\]\.clients: "fe80::1%eth0" is not an IPv4 or IPv6 address or network/],
    ])("refuses %s, naming the field", (_what, mutate, message) => {
        expect(problems(mutate).join("\n")).toMatch(message);
    });

    test("the IPv6 export above has no problem at all (the control for the refusals)", () => {
        expect(problems(nfs6)).toEqual([]);
    });
});
