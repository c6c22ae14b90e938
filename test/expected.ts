/** What the dev stack (the recipe's cluster, Pulumi.dev.yaml) must declare: shared by the mock and engine tests. */
import { admissionName, exportId } from "../components/nfsServer";

/** Every remote command of the dev stack, by name, with the component it belongs to. */
export const DEV_COMMAND_PARENTS: Record<string, string> = {
    "director-ipvs-modules": "director",
    "director-sysctl": "director",
    "director-keepalived": "director",
    "director-vip-192.168.86.180": "director",
    "web1-arp": "web1",
    "web1-vip-192.168.86.180": "web1",
    "web1-web": "web1",
    "web1-mount-var-www-html": "web1",
    "web2-arp": "web2",
    "web2-vip-192.168.86.180": "web2",
    "web2-web": "web2",
    "web2-mount-var-www-html": "web2",
    "nfs-server": "nfs",
    ...Object.fromEntries(["/usr/share", "/opt/kgc", "/opt/benet"].map((p) => [`nfs-export-${exportId(p)}`, "nfs"])),
    ...Object.fromEntries(["/usr/share", "/opt/kgc", "/opt/benet"].map((p) => [admissionName("nfs", { path: p, clients: "192.168.86.0/24" }), "nfs"])),
    "web-service": "web",
    "web-real-web1": "web",
    "web-real-web2": "web",
};
