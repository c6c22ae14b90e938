/**
 * The config is checked before anything touches a host: every bad input of the recipe's kind is
 * refused with a message naming the field and the value.
 */
import { ConfigError, parseClusterConfig, RawConfig } from "../../components/config";
import { FAKE_PRIVATE_KEY, runProgram, stackValues } from "../harness";

type Values = Record<string, any>;
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
        host: "director",
        vips: ["192.168.86.180"],
        // Defaults that make drains and removals safe (kernel ipvs-sysctl docs).
        ipvs: { expireNodestConn: true, expireQuiescentTemplate: true, connReuseMode: 1, sloppyTcp: false },
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
    ["a malformed VIP", (v) => (v.services[0].vip = "192.168.86"), /lvs-dr:services\[0\]\.vip: "192\.168\.86" is not an IPv4 address/],
    ["a VIP equal to a host address", (v) => { v.director.vips = ["192.168.86.22"]; v.services[0].vip = "192.168.86.22"; }, /lvs-dr:director\.vips\[0\]: VIP 192\.168\.86\.22 is the address of host "web2"/],
    ["a real server outside the director's subnet", (v) => (v.hosts.web2.address = "192.168.87.22/24"), /lvs-dr:services\[0\]\.realServers\[1\]\.host: "web2" \(192\.168\.87\.22\) is outside the director's network 192\.168\.86\.0\/24/],
    ["a real-server port different from the service port", (v) => (v.services[0].realServers[0].port = 8080), /lvs-dr:services\[0\]\.realServers\[0\]\.port: 8080 differs from the service port 80/],
    ["a real server naming an unknown host", (v) => (v.services[0].realServers[1].host = "web3"), /lvs-dr:services\[0\]\.realServers\[1\]\.host: unknown host "web3" \(hosts: director, web1, web2, nfs\)/],
    ["a real server listed twice", (v) => (v.services[0].realServers[1].host = "web1"), /lvs-dr:services\[0\]\.realServers\[1\]\.host: "web1" is already realServers\[0\]/],
    ["a real server added to a VIP no service defines (the recipe's 192.168.186.180)", (v) => v.services.push({ vip: "192.168.186.180", port: 80, realServers: [{ host: "web2" }] }), /lvs-dr:services\[1\]\.vip: 192\.168\.186\.180 is not one of the director's VIPs \(lvs-dr:director\.vips: 192\.168\.86\.180\)/],
    ["an unknown scheduler", (v) => (v.services[0].scheduler = "roundrobin"), /lvs-dr:services\[0\]\.scheduler: "roundrobin" is not one of rr, wrr, lc, wlc/],
    ["an unknown protocol", (v) => (v.services[0].protocol = "sctp"), /lvs-dr:services\[0\]\.protocol: "sctp" is not one of tcp, udp/],
    ["an unknown method", (v) => (v.services[0].method = "nat"), /lvs-dr:services\[0\]\.method: "nat" is not one of dr/],
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
];

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
