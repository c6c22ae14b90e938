/**
 * The program on the dev stack's config, under mocks: which components and remote commands it
 * declares, under which parents, in which order, and what their scripts say.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { mountOptions } from "../../components/realServer";
import { readScript, SCRIPT_DIR, sha256 } from "../../components/script";
import { DEV_COMMAND_PARENTS } from "../expected";
import { Registered, runProgram, stackValues, ProgramRun } from "../harness";

const COMMAND = "command:remote:Command";

/** The resource named `name` of a program run; an error listing the names there when it has none. */
function resourceOf(program: ProgramRun, name: string): Registered {
    const r = program.resources.find((x) => x.name === name);
    if (!r) throw new Error(`no resource named ${name}; have: ${program.resources.map((x) => x.name).join(", ")}`);
    return r;
}

let run: ProgramRun;
const byName = (name: string): Registered => resourceOf(run, name);
const commands = () => run.resources.filter((r) => r.type === COMMAND);

beforeAll(async () => {
    run = await runProgram(stackValues("dev"));
    if (run.error) throw run.error;
});

test("declares exactly the four kinds of component the recipe needs", () => {
    const components = run.resources
        .filter((r) => r.type.startsWith("lvs:index:"))
        .map((r) => `${r.type}/${r.name}`)
        .sort();
    expect(components).toEqual([
        "lvs:index:Director/director",
        "lvs:index:NfsServer/nfs",
        "lvs:index:RealServer/web1",
        "lvs:index:RealServer/web2",
        "lvs:index:VirtualService/web",
    ]);
});

test("declares exactly the expected remote commands, each under its component", () => {
    expect(Object.fromEntries(commands().map((c) => [c.name, c.parent]))).toEqual(DEV_COMMAND_PARENTS);
});

test("every command connects with the pinned host key and a secret private key", () => {
    for (const c of commands()) {
        expect(c.secretInputs).toContain("connection");
        const conn = c.inputs.connection;
        expect(conn.privateKey).toContain("PRIVATE KEY");
        expect(conn.hostKey).toMatch(/^ssh-ed25519 AAAA/);
        expect(conn.user).toBe("root");
        expect(c.inputs.create).toBe("bash -s apply");
        expect(c.inputs.update).toBe("bash -s apply");
        expect(c.inputs.delete).toBe("bash -s remove");
        expect(c.inputs.addPreviousOutputInEnv).toBe(false);
    }
    expect(byName("web1-web").inputs.connection.host).toBe("192.168.86.11");
    expect(byName("director-sysctl").inputs.connection.host).toBe("192.168.86.44");
});

describe("ordering comes from real dependencies", () => {
    const deps = (name: string) => byName(name).dependencies;

    test("a real server's VIP goes on lo only after its ARP settings", () => {
        expect(deps("web1-vip-192.168.86.180")).toContain("web1-arp");
        expect(deps("web2-vip-192.168.86.180")).toContain("web2-arp");
    });

    test("the director's VIP comes after its sysctls, and its services after the whole director", () => {
        expect(deps("director-keepalived")).toContain("director-sysctl");
        // keepalived holds the services: the VIP comes up once they are there (at boot too).
        expect(deps("director-vip-192.168.86.180")).toContain("director-keepalived");
        // net/ipv4/vs/* only exists once the ip_vs module is loaded.
        expect(deps("director-sysctl")).toContain("director-ipvs-modules");
        expect(deps("web-service")).toEqual(
            expect.arrayContaining(["director-ipvs-modules", "director-sysctl", "director-keepalived", "director-vip-192.168.86.180"]),
        );
    });

    test("a real server joins the service only after its VIP, ARP settings, web server and mount", () => {
        expect(deps("web-real-web1")).toEqual(
            expect.arrayContaining(["web-service", "web1-arp", "web1-vip-192.168.86.180", "web1-web", "web1-mount-var-www-html"]),
        );
        expect(deps("web-real-web1")).not.toContain("web2-arp");
        expect(deps("web-real-web2")).toEqual(expect.arrayContaining(["web2-mount-var-www-html", "web2-arp"]));
    });

    test("exports come before the mounts that use them: directory, then its admission of clients, then the mount", () => {
        const of = (prefix: string, dir: string) =>
            commands().find((c) => c.name.startsWith(prefix) && c.inputs.stdin.includes(`EXPORT_PATH='${dir}'`))!.name;
        expect(deps("web1-mount-var-www-html")).toContain(of("nfs-admit-", "/opt/kgc"));
        expect(deps("web2-mount-var-www-html")).toContain(of("nfs-admit-", "/opt/benet"));
        expect(deps("web1-mount-var-www-html")).not.toContain(of("nfs-admit-", "/opt/benet"));
        expect(deps(of("nfs-admit-", "/opt/kgc"))).toContain(of("nfs-export-", "/opt/kgc"));
        expect(deps(of("nfs-export-", "/opt/kgc"))).toContain("nfs-server");
    });
});

describe("rendered scripts carry the recipe's settings", () => {
    const stdin = (name: string): string => byName(name).inputs.stdin;

    test("ipvsadm lines for the round-robin DR service", () => {
        expect(stdin("web-service")).toMatch(/^VIP='192\.168\.86\.180'$/m);
        expect(stdin("web-service")).toMatch(/^PORT='80'$/m);
        expect(stdin("web-service")).toMatch(/^SCHEDULER='rr'$/m);
        expect(stdin("web-service")).toMatch(/^PROTOCOL='tcp'$/m);
        expect(stdin("web-real-web1")).toMatch(/^REAL_ADDRESS='192\.168\.86\.11'$/m);
        expect(stdin("web-real-web2")).toMatch(/^REAL_ADDRESS='192\.168\.86\.22'$/m);
        expect(stdin("web-real-web2")).toMatch(/^WEIGHT='1'$/m);
        expect(stdin("director-ipvs-modules")).toMatch(/^MODULES=\('ip_vs' 'ip_vs_rr'\)$/m);
    });

    test("director and real-server sysctls", () => {
        expect(stdin("director-sysctl")).toContain(
            "SETTINGS=('net/ipv4/ip_forward=0' 'net/ipv4/conf/all/send_redirects=0' 'net/ipv4/conf/@IFACE@/send_redirects=0' " +
                "'net/ipv4/conf/all/accept_redirects=0' 'net/ipv4/conf/@IFACE@/accept_redirects=0' " +
                "'net/ipv4/vs/expire_nodest_conn=1' 'net/ipv4/vs/expire_quiescent_template=1' " +
                "'net/ipv4/vs/conn_reuse_mode=3' 'net/ipv4/vs/sloppy_tcp=0' " +
                // Checks through the VIP: replies come from the VIP, an address the director holds.
                "'net/ipv4/conf/@IFACE@/accept_local=1' 'net/ipv4/vs/conntrack=1')",
        );
        expect(stdin("director-sysctl")).toMatch(/^DATA_IFACE='ens33'$/m);
        for (const dev of ["all", "lo", "@IFACE@"]) {
            expect(stdin("web1-arp")).toContain(`'net/ipv4/conf/${dev}/arp_ignore=1'`);
            expect(stdin("web1-arp")).toContain(`'net/ipv4/conf/${dev}/arp_announce=2'`);
        }
    });

    test("VIP on the director's data interface (announced), and on lo with the host route on real servers", () => {
        expect(stdin("director-vip-192.168.86.180")).toMatch(/^DEVICE='@IFACE@'$/m);
        expect(stdin("director-vip-192.168.86.180")).toMatch(/^HOST_ROUTE='no'$/m);
        expect(stdin("director-vip-192.168.86.180")).toMatch(/^ANNOUNCE='yes'$/m);
        expect(stdin("web1-vip-192.168.86.180")).toMatch(/^ANNOUNCE='no'$/m);
        expect(stdin("web1-vip-192.168.86.180")).toMatch(/^DEVICE='lo'$/m);
        expect(stdin("web1-vip-192.168.86.180")).toMatch(/^HOST_ROUTE='yes'$/m);
    });

    test("exports with their content, each admitting its clients with its options; no world-writable directory", () => {
        const exports = commands().filter((c) => c.name.startsWith("nfs-export-")).map((c) => c.inputs.stdin as string);
        const admissions = commands().filter((c) => c.name.startsWith("nfs-admit-"));
        const kgc = exports.find((s) => s.includes("EXPORT_PATH='/opt/kgc'"))!;
        expect(kgc).toContain("FILE_CONTENTS=('this is kgc web!\n')");
        expect(kgc).not.toMatch(/^CLIENTS=/m);
        for (const s of exports) expect(s).toMatch(/^MODE='0755'$/m);
        const kgcAdmit = admissions.find((c) => c.inputs.stdin.includes("EXPORT_PATH='/opt/kgc'"))!;
        // Named by its clients: new clients are a new admission, the old one removed after its mounts.
        expect(kgcAdmit.name).toMatch(/^nfs-admit-kgc-[0-9a-f]{8}-192\.168\.86\.0-24$/);
        expect(kgcAdmit.inputs.stdin).toMatch(/^CLIENTS='192\.168\.86\.0\/24'$/m);
        expect(kgcAdmit.inputs.stdin).toMatch(/^OPTIONS='rw,sync,no_subtree_check,root_squash'$/m);
        expect(admissions.find((c) => c.inputs.stdin.includes("EXPORT_PATH='/usr/share'"))!.inputs.stdin).toMatch(/^OPTIONS='ro,/m);
        expect(admissions).toHaveLength(exports.length);
    });

    test("each web server mounts its own export from the NFS server, not from itself", () => {
        expect(stdin("web1-mount-var-www-html")).toMatch(/^SERVER='192\.168\.86\.77'$/m);
        expect(stdin("web1-mount-var-www-html")).toMatch(/^EXPORT='\/opt\/kgc'$/m);
        expect(stdin("web2-mount-var-www-html")).toMatch(/^EXPORT='\/opt\/benet'$/m);
        // lookupcache=none: a file replaced on the NFS server is never served with the old one's size.
        expect(stdin("web1-mount-var-www-html")).toMatch(/^OPTIONS='lookupcache=none,_netdev'$/m);
    });

    test("no script weakens host security the way the recipe did", () => {
        const texts = [...commands().map((c) => c.inputs.stdin as string), ...fs.readdirSync(SCRIPT_DIR).map((f) => readScript(f))];
        for (const text of texts) {
            expect(text).not.toMatch(/setenforce|systemctl (stop|disable)[a-z -]* firewalld|chmod (-R )?777|\/etc\/rc(\.d\/rc)?\.local/);
        }
    });

    test("each script is its parameters and a call into the installed toolkit: no script text is copied per resource", () => {
        for (const c of commands()) {
            const text: string = c.inputs.stdin;
            expect(text).toMatch(/^\. "\$LVS_LIB\/lib\.sh" && lvs_main "\$\{1:-apply\}"$/m);
            expect(text.length).toBeLessThan(1600);
            expect(text).not.toContain("lvs_apply()");
            // Each names the version of its concern script, so a new version applies it again.
            const concern = /^LVS_CONCERN='([a-z-]+)'$/m.exec(text)![1];
            expect(text).toContain(`# ${concern}.sh sha256:${sha256(readScript(`${concern}.sh`)).slice(0, 16)}`);
        }
    });
});

test("stack outputs describe the cluster for stack references", () => {
    expect(run.outputs.vips).toEqual(["192.168.86.180"]);
    expect(run.outputs.director).toEqual({ host: "director", address: "192.168.86.44" });
    expect(run.outputs.directors).toEqual([{ host: "director", address: "192.168.86.44" }]);
    expect(run.outputs.vrrp).toBeNull();
    expect(run.outputs.services).toEqual([
        {
            name: "web",
            vip: "192.168.86.180",
            family: 4,
            port: 80,
            ports: [80],
            fwmark: 0,
            protocol: "tcp",
            scheduler: "rr",
            method: "dr",
            persistence: 0,
            healthCheck: { type: "tcp", interval: 1, timeout: 0.5, retryDelay: 0.5, failuresBeforeDown: 2, successesBeforeUp: 1, throughVip: true },
            realServers: [
                { host: "web1", address: "192.168.86.11", port: 80, weight: 1, method: "dr" },
                { host: "web2", address: "192.168.86.22", port: 80, weight: 1, method: "dr" },
            ],
        },
    ]);
    expect(run.outputs.mounts).toEqual([
        { host: "web1", source: "192.168.86.77:/opt/kgc", server: "nfs", export: "/opt/kgc", path: "/var/www/html" },
        { host: "web2", source: "192.168.86.77:/opt/benet", server: "nfs", export: "/opt/benet", path: "/var/www/html" },
    ]);
    expect((run.outputs.nfsExports as any[]).map((e) => e.line)).toEqual([
        "/usr/share 192.168.86.0/24(ro,sync,no_subtree_check,root_squash)",
        "/opt/kgc 192.168.86.0/24(rw,sync,no_subtree_check,root_squash)",
        "/opt/benet 192.168.86.0/24(rw,sync,no_subtree_check,root_squash)",
    ]);
});

describe("one LiveState per component: installs the toolkit, checks on refresh, schedules repairs", () => {
    const lives = () => run.resources.filter((r) => r.type === "pulumi-nodejs:dynamic:Resource");

    test("each component has a LiveState that its commands come after, naming them in order", () => {
        expect(lives().map((l) => `${l.parent}/${l.name}`).sort()).toEqual([
            "director/director-live",
            "nfs/nfs-live",
            "web/web-live",
            "web1/web1-live",
            "web2/web2-live",
        ]);
        for (const live of lives()) {
            const own = commands().filter((c) => c.parent === live.parent);
            expect([...live.inputs.names].sort()).toEqual(own.map((c) => c.name).sort());
            for (const c of own) expect(c.dependencies).toContain(live.name);
            expect(live.inputs).toMatchObject({ desired: "in sync", drifted: [], repairs: {} });
            expect(live.inputs.live).toMatch(/^LVS_CONCERN='live'$/m);
            expect(live.inputs.live).toContain(`NAMES=(${live.inputs.names.map((n: string) => `'${n}'`).join(" ")})`);
        }
        expect(byName("web1-live").inputs.names).toEqual(["web1-arp", "web1-vip-192.168.86.180", "web1-web", "web1-mount-var-www-html"]);
        // A service's scripts use its director's toolkit: its LiveState comes after the director.
        expect(byName("web-live").inputs.toolkit).toBeUndefined();
        expect(byName("web-live").dependencies).toEqual(expect.arrayContaining(["director-live", "director-vip-192.168.86.180"]));
    });

    test("a toolkit is in the state by hash only: its files are read from components/scripts when installed", () => {
        const toolkit = byName("web1-live").inputs.toolkit;
        expect(toolkit.dir).toBe("/usr/local/lib/lvs-dr/real-server");
        expect(Object.keys(toolkit.files).sort()).toEqual(["lib.sh", "live.sh", "mount.sh", "nat-route.sh", "nfs-wait.sh", "sysctl.sh", "tunnel.sh", "vip.sh", "web.sh"]);
        expect(toolkit.files["lib.sh"]).toBe(sha256(readScript("lib.sh")));
        expect(JSON.stringify(toolkit).length).toBeLessThan(1000);
        expect(Object.keys(byName("director-live").inputs.toolkit.files).sort()).toEqual(
            ["ipvs-modules.sh", "ipvs-real.sh", "ipvs-service.sh", "keepalived.sh", "lib.sh", "live.sh", "sysctl.sh", "vip.sh"],
        );
    });

    test("the LiveState connection is the component host's, pinned, and a secret", () => {
        const live = byName("web2-live");
        expect(live.secretInputs).toContain("connection");
        expect(live.inputs.connection).toMatchObject({ host: "192.168.86.22", port: 22, user: "root", hostKey: expect.stringMatching(/^ssh-ed25519 /) });
        expect(byName("web-live").inputs.connection.host).toBe("192.168.86.44");
    });
});

describe("identity: what a change replaces (the old one is removed first, with its old parameters)", () => {
    const triggers = (name: string) => byName(name).inputs.triggers;

    test("a service by protocol, VIP and port; a real server by its service, address and port", () => {
        expect(triggers("web-service")).toEqual(["tcp", "192.168.86.180", "80"]);
        // ... and by the ids of its service and of its host's mounts: remaking either drains it first.
        expect(triggers("web-real-web1")).toEqual(["tcp-192.168.86.180-80", "192.168.86.11", "80", "web-service-id", "web1-mount-var-www-html-id"]);
    });

    test("a mount by its point, source and options; an export by its path; a VIP by its address", () => {
        expect(triggers("web1-mount-var-www-html")).toEqual(["/var/www/html", "192.168.86.77:/opt/kgc", "lookupcache=none,_netdev"]);
        expect(triggers(commands().find((c) => c.inputs.stdin.includes("EXPORT_PATH='/opt/kgc'"))!.name)).toEqual(["/opt/kgc"]);
        expect(triggers("director-vip-192.168.86.180")).toEqual(["192.168.86.180"]);
    });

    test("every command is removed before its replacement applies: two never manage one thing", () => {
        for (const c of commands()) expect(c.deleteBeforeReplace).toBe(true);
    });

    test("settings that do not make a resource what it is change in place", () => {
        expect(triggers("web1-web")).toEqual([]);
        expect(triggers("director-sysctl")).toEqual([]);
    });
});

test("mount options: lvs-dr's defaults only where the user set nothing for that option", () => {
    expect(mountOptions([])).toBe("lookupcache=none,_netdev");
    expect(mountOptions(["ro", "lookupcache=all", "_netdev"])).toBe("ro,lookupcache=all,_netdev");
    expect(mountOptions(["lookupcache=positive", "retry=5"])).toBe("lookupcache=positive,retry=5,_netdev");
});

describe("a new version of a script updates exactly what uses it", () => {
    /** The dev stack's resources with one script file edited (in a copy of the scripts folder). */
    async function withEdited(file: string): Promise<ProgramRun> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-dr-scripts-"));
        try {
            fs.cpSync(SCRIPT_DIR, dir, { recursive: true });
            fs.appendFileSync(path.join(dir, file), "# a new version\n");
            process.env.LVS_DR_SCRIPTS = dir;
            const edited = await runProgram(stackValues("dev"));
            if (edited.error) throw edited.error;
            return edited;
        } finally {
            delete process.env.LVS_DR_SCRIPTS;
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    const inputsOf = (r: ProgramRun) => Object.fromEntries(r.resources.filter((x) => x.custom).map((x) => [x.name, JSON.stringify(x.inputs)]));
    const changed = (a: ProgramRun, b: ProgramRun) => {
        const [x, y] = [inputsOf(a), inputsOf(b)];
        return Object.keys(x).filter((k) => x[k] !== y[k]).sort();
    };

    test("lib.sh: only the toolkit of each LiveState, no command", async () => {
        expect(changed(run, await withEdited("lib.sh"))).toEqual(["director-live", "nfs-live", "web1-live", "web2-live"]);
    });

    test("vip.sh: the VIP commands (their text names the script's version) and the toolkits holding it", async () => {
        expect(changed(run, await withEdited("vip.sh"))).toEqual([
            "director-live",
            "director-vip-192.168.86.180",
            "web1-live",
            "web1-vip-192.168.86.180",
            "web2-live",
            "web2-vip-192.168.86.180",
        ]);
    });
});

describe("a firewall-mark service (ports 8080 and 8443 as one)", () => {
    let marked: ProgramRun;
    const stdin = (name: string): string => resourceOf(marked, name).inputs.stdin;
    beforeAll(async () => {
        const v = JSON.parse(JSON.stringify(stackValues("dev")));
        v.services.push({ name: "app", vip: v.services[0].vip, ports: [8080, 8443], fwmark: 7, persistence: 300, realServers: [{ host: "web1" }, { host: "web2" }] });
        marked = await runProgram(v);
        if (marked.error) throw marked.error;
    });

    test("the service and its real servers carry the mark and the ports; real servers have port 0", () => {
        expect(stdin("app-service")).toMatch(/^FWMARK='7'$/m);
        expect(stdin("app-service")).toMatch(/^PORTS=\('8080' '8443'\)$/m);
        expect(stdin("app-service")).toMatch(/^PORT='8080'$/m);
        expect(stdin("app-service")).toMatch(/^SERVICE_ID='tcp-192\.168\.86\.180-fwm7'$/m);
        expect(stdin("app-real-web1")).toMatch(/^REAL_PORT='0'$/m);
        expect(stdin("app-real-web1")).toMatch(/^FWMARK='7'$/m);
        // A VIP:PORT service's commands have neither (they read as before).
        expect(stdin("web-service")).not.toMatch(/FWMARK|PORTS=/);
    });

    test("every port is opened on the director and on the real servers, and each real server listens on it", () => {
        expect(stdin("director-keepalived")).toMatch(/^PORTS=\('80\/tcp' '8080\/tcp' '8443\/tcp'\)$/m);
        expect(stdin("web1-web")).toMatch(/^PORTS=\('80\/tcp' '8080\/tcp' '8443\/tcp'\)$/m);
    });

    test("the outputs name the mark and the ports", () => {
        const app = (marked.outputs.services as any[]).find((s) => s.name === "app");
        expect(app).toMatchObject({ port: 8080, ports: [8080, 8443], fwmark: 7, persistence: 300 });
        expect(app.realServers.map((r: any) => r.port)).toEqual([0, 0]);
    });
});

describe("a tunnelled real server (method tun): web2 reached by IP-in-IP", () => {
    let tun: ProgramRun;
    const res = (name: string): Registered => resourceOf(tun, name);
    beforeAll(async () => {
        const v = JSON.parse(JSON.stringify(stackValues("dev")));
        v.services[0].realServers[1].method = "tun";
        tun = await runProgram(v);
        if (tun.error) throw tun.error;
    });

    test("the director tunnels to web2 alone; web1's command is the direct-routing one it was", () => {
        expect(res("web-real-web2").inputs.stdin).toMatch(/^METHOD='tun'$/m);
        expect(res("web-real-web1").inputs.stdin).toBe(byName("web-real-web1").inputs.stdin);
    });

    test("a new method replaces the real server (drained under the old one); a direct-routing one's identity is as before", () => {
        expect(res("web-real-web2").inputs.triggers).not.toEqual(byName("web-real-web2").inputs.triggers);
        expect(res("web-real-web2").inputs.triggers).toContain("tun");
        expect(res("web-real-web1").inputs.triggers).toEqual(byName("web-real-web1").inputs.triggers);
    });

    test("web2: ipip and the MSS clamp, tunl0's loose reverse-path filter, then the VIP on tunl0", () => {
        expect(res("web2-tunnel").inputs.stdin).toMatch(/^VIPS=\('192\.168\.86\.180'\)$/m);
        expect(res("web2-tunnel-sysctl").inputs.stdin).toMatch(/^SETTINGS=\('net\/ipv4\/conf\/tunl0\/rp_filter=2'\)$/m);
        expect(res("web2-tunnel-sysctl").dependencies).toContain("web2-tunnel");
        expect(res("web2-vip-192.168.86.180").inputs.stdin).toMatch(/^DEVICE='tunl0'$/m);
        expect(res("web2-vip-192.168.86.180").dependencies).toContain("web2-tunnel-sysctl");
        // web1 keeps the VIP on lo, and has no tunnel.
        expect(res("web1-vip-192.168.86.180").inputs.stdin).toMatch(/^DEVICE='lo'$/m);
        expect(tun.resources.some((r) => r.name === "web1-tunnel")).toBe(false);
    });

    test("the outputs name each real server's method", () => {
        const web = (tun.outputs.services as any[]).find((s) => s.name === "web");
        expect(web.realServers.map((r: any) => [r.host, r.method])).toEqual([
            ["web1", "dr"],
            ["web2", "tun"],
        ]);
    });
});

describe("a NAT real server (method nat): web2 on a network only the director reaches, port 80 mapped to 8080", () => {
    let nat: ProgramRun;
    let gatewayOnly: ProgramRun;
    const res = (name: string) => resourceOf(nat, name);
    const values = (withNat: boolean) => {
        const v = JSON.parse(JSON.stringify(stackValues("dev")));
        v.hosts.director.otherAddresses = ["192.168.2.44/24"];
        v.director.nat = { gateway: "192.168.2.1/24" };
        if (withNat) {
            v.hosts.web2.address = "192.168.2.22/24";
            v.services[0].realServers[1].method = "nat";
            v.services[0].realServers[1].port = 8080;
            for (const e of v.nfsServers[0].exports) e.clients = "192.168.0.0/16";
        }
        return v;
    };
    beforeAll(async () => {
        nat = await runProgram(values(true));
        if (nat.error) throw nat.error;
        gatewayOnly = await runProgram(values(false));
        if (gatewayOnly.error) throw gatewayOnly.error;
    });

    test("the director forwards and holds the gateway on its interface in that network, opens the replies' way; web1 is as it was", () => {
        expect(res("director-sysctl").inputs.stdin).toMatch(/'net\/ipv4\/ip_forward=1'/);
        expect(res("director-nat-gateway").inputs.stdin).toMatch(/^VIP='192\.168\.2\.1'$/m);
        expect(res("director-nat-gateway").inputs.stdin).toMatch(/^DEVICE='@NET@'$/m);
        expect(res("director-nat-gateway").inputs.stdin).toMatch(/^NETWORK='192\.168\.2\.0\/24'$/m);
        expect(res("director-keepalived").inputs.stdin).toMatch(/^NAT_REALS=\('192\.168\.2\.22:8080\/tcp'\)$/m);
        // A single director's gateway is its own unit, not VRRP's.
        expect(res("director-keepalived").inputs.stdin).toMatch(/^NAT_GATEWAY=''$/m);
        expect(res("web-real-web2").inputs.stdin).toMatch(/^METHOD='nat'$/m);
        expect(res("web-real-web2").inputs.stdin).toMatch(/^REAL_PORT='8080'$/m);
        // Checked at its own address and port, not through the VIP.
        expect(res("web-real-web2").inputs.stdin).toMatch(/^CHECK_MARK='0'$/m);
        expect(res("web-real-web1").inputs.stdin).toBe(byName("web-real-web1").inputs.stdin);
    });

    test("web2 routes its replies through the gateway, holds no VIP and needs no ARP settings, and listens on 8080", () => {
        expect(res("web2-nat-route").inputs.stdin).toMatch(/^GATEWAY='192\.168\.2\.1'$/m);
        expect(nat.resources.some((r) => r.name === "web2-vip-192.168.86.180")).toBe(false);
        expect(nat.resources.some((r) => r.name === "web2-arp")).toBe(false);
        expect(res("web2-web").inputs.stdin).toMatch(/^PORTS=\('8080\/tcp'\)$/m);
        // web1, direct-routed, is as it was.
        expect(nat.resources.some((r) => r.name === "web1-nat-route")).toBe(false);
        for (const n of ["web1-arp", "web1-vip-192.168.86.180", "web1-web"]) expect(res(n).inputs.stdin).toBe(byName(n).inputs.stdin);
    });

    test("a gateway in the config without a NAT real server changes nothing on any host (the control: with one, it does)", () => {
        const cmds = (r: ProgramRun) => r.resources.filter((x) => x.type === COMMAND).map((x) => `${x.name}\n${x.inputs.stdin ?? ""}`).sort();
        expect(cmds(gatewayOnly)).toEqual(cmds(run));
        expect(cmds(nat)).not.toEqual(cmds(run));
    });

    test("the outputs name the gateway and each real server's method and port", () => {
        expect(nat.outputs.natGateway).toBe("192.168.2.1");
        expect(run.outputs.natGateway).toBeNull();
        const web = (nat.outputs.services as any[]).find((s) => s.name === "web");
        expect(web.realServers.map((r: any) => [r.host, r.method, r.port])).toEqual([
            ["web1", "dr", 80],
            ["web2", "nat", 8080],
        ]);
    });
});

describe("an IPv6 service (fd86::180, the hosts' IPv6 addresses) beside the IPv4 one", () => {
    let six: ProgramRun;
    const res = (name: string): Registered => resourceOf(six, name);
    beforeAll(async () => {
        const v = JSON.parse(JSON.stringify(stackValues("dev")));
        for (const [h, last] of [["director", "44"], ["web1", "11"], ["web2", "22"]]) v.hosts[h].otherAddresses = [`fd86::${last}/64`];
        v.director.vips.push("fd86::180");
        v.services.push({ name: "web6", vip: "fd86::180", port: 80, scheduler: "rr", realServers: [{ host: "web1" }, { host: "web2" }] });
        six = await runProgram(v);
        if (six.error) throw six.error;
    });

    test("no resource name holds a ':' (Pulumi's URNs use '::'): the VIP is fd86--180 in names", () => {
        expect(six.resources.filter((r) => r.name.includes(":")).map((r) => r.name)).toEqual([]);
        expect(res("web1-vip-fd86--180").inputs.stdin).toMatch(/^VIP='fd86::180'$/m);
        expect(res("web1-vip-fd86--180").inputs.stdin).toMatch(/^HOST_ROUTE='no'$/m);
        expect(res("director-vip-fd86--180").inputs.stdin).toMatch(/^DEVICE='@IFACE@'$/m);
        // The IPv4 VIP's commands are as they were.
        expect(res("web1-vip-192.168.86.180").inputs.stdin).toBe(byName("web1-vip-192.168.86.180").inputs.stdin);
    });

    test("its real servers are their IPv6 addresses, checked through the VIP from the director's IPv6 address", () => {
        const real = res("web6-real-web1").inputs.stdin;
        expect(real).toMatch(/^REAL_ADDRESS='fd86::11'$/m);
        expect(real).toMatch(/^CHECK_FROM='fd86::44'$/m);
        // The IPv4 service's real servers have no CHECK_FROM: their commands are as before.
        expect(res("web-real-web1").inputs.stdin).toBe(byName("web-real-web1").inputs.stdin);
    });

    test("the director refuses ICMPv6 redirects too; the outputs say each service's family", () => {
        expect(res("director-sysctl").inputs.stdin).toMatch(/'net\/ipv6\/conf\/all\/accept_redirects=0' 'net\/ipv6\/conf\/@IFACE@\/accept_redirects=0'/);
        expect(byName("director-sysctl").inputs.stdin).not.toMatch(/ipv6/);
        expect((six.outputs.services as any[]).map((s) => [s.name, s.family])).toEqual([
            ["web", 4],
            ["web6", 6],
        ]);
    });
});
