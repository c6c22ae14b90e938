#!/usr/bin/env bash
# lab/lab.sh: five Debian VMs (qemu, software emulation) on a private switch, for lvs-dr's end-to-end tests.
#
#   lab/lab.sh up [NAME...]        build the image if needed, start the five VMs (and the optional ones
#                                  named, e.g. web3) (idempotent), wait for SSH,
#                                  write the lab stack's config file
#   lab/lab.sh down                stop every process the lab started (by pid), delete its disks, keys and
#                                  the stack config file (console logs are kept for a post-mortem)
#   lab/lab.sh status              each VM: running or not, pid, SSH port, whether SSH answers (exit 1 if not all)
#   lab/lab.sh ssh NAME [CMD...]   a shell or a command on a VM, as root, with the pinned host key
#   lab/lab.sh reboot NAME...      reboot VMs and wait until they answer SSH again
#   lab/lab.sh kill NAME...        power cut: kill the VMs' qemu (disks kept)
#   lab/lab.sh start [--no-wait] NAME...  boot VMs that are not running on their own disks (config file untouched)
#   lab/lab.sh config              (re)write the stack config file from the running lab
#   lab/lab.sh key-path            print the lab's SSH private key path (for `pulumi config set --secret`)
#   lab/lab.sh known-hosts-path    print the lab's known_hosts path
#   lab/lab.sh pids                print "NAME PID" for each running VM (the tests' CPU accounting)
#
# VMs (data plane 10.86.0.0/24 on eth1, one VDE switch; SSH on 127.0.0.1:PORT_BASE+i through eth0):
#   client 10.86.0.1 (+0)  director 10.86.0.44 (+1)  web1 10.86.0.11 (+2)  web2 10.86.0.22 (+3)  nfs 10.86.0.77 (+4)
#   web3 10.86.0.33 (+5)  director2 10.86.0.45 (+6)  router 10.86.0.254 and 10.86.1.254 (+7)
#   web4 10.86.1.44 (+8): a web server in another network (10.86.1.0/24, a second switch), reached
#   through router (directors and nfs route 10.86.1.0/24 through it), for tunnelled real servers.
#   web5 10.86.2.55 (+9): a NAT real server on a third network (10.86.2.0/24, switch-nat) that only the
#   directors are also on (eth2: director 10.86.2.44, director2 10.86.2.45), with no route of its own.
#
# Environment:
#   LVS_DR_CACHE           cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/lvs-dr): images/ and lab/
#   LVS_DR_LAB_DIR         the lab's state (default $LVS_DR_CACHE/lab)
#   LVS_DR_LAB_STACK_FILE  the stack config file written by up/config (default <repo>/Pulumi.lab.yaml)
#   LVS_DR_LAB_PORT_BASE   first forwarded SSH port on 127.0.0.1 (default 2220; fixed when the lab is created)
#   LVS_DR_LAB_TIMEOUT     seconds to wait for SSH in up and reboot (default 900)
#
# Network isolation: the data plane exists only on a userspace VDE switch (a unix socket in the state
# directory, no tap); each VM's management NIC is qemu's user network with restrict=on, whose only way in
# is a hostfwd from 127.0.0.1. No VM can reach anything outside, and nothing outside 127.0.0.1 can reach a VM.
set -euo pipefail

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LAB_SRC/.." && pwd)
export LAB_PROG=lab.sh
# shellcheck source=lib.sh
. "$LAB_SRC/lib.sh"

STATE=${LVS_DR_LAB_DIR:-$LVS_DR_CACHE_DIR/lab}
[[ $STATE == /* ]] || STATE=$PWD/$STATE
STACK_FILE=${LVS_DR_LAB_STACK_FILE:-$REPO/Pulumi.lab.yaml}
TIMEOUT=${LVS_DR_LAB_TIMEOUT:-900}

# Every VM the lab knows (keys, ports, config); `up` starts DEFAULT_VMS and any others it is given
# (web3 is the spare web server the day-2 tests add to the cluster and drain out of it; director2 the
# second director of the pair).
VMS=(client director web1 web2 nfs web3 director2 router web4 web5)
DEFAULT_VMS=(client director web1 web2 nfs)
declare -A VM_IP=([client]=10.86.0.1 [director]=10.86.0.44 [web1]=10.86.0.11 [web2]=10.86.0.22 [nfs]=10.86.0.77 [web3]=10.86.0.33 [director2]=10.86.0.45
	[router]=10.86.0.254 [web4]=10.86.1.44 [web5]=10.86.2.55)
declare -A VM_MEM=([client]=384 [director]=512 [web1]=384 [web2]=384 [nfs]=384 [web3]=384 [director2]=512 [router]=256 [web4]=384 [web5]=384)
# The second network: web4's eth1 on a switch of its own, reached through router (eth1 on the data
# switch, eth2 on this one, forwarding). The hosts that talk to web4 route to it through router.
REMOTE_NET=10.86.1.0/24
declare -A VM_SWITCH=([web4]=switch-remote [web5]=switch-nat)
# The third network, 10.86.2.0/24: NAT real servers (web5) on a switch only the directors are also on (their eth2),
# with no route anywhere: lvs-dr makes the director their gateway (director.nat.gateway).
NAT_GATEWAY=10.86.2.1
declare -A VM_NAT_IP=([director]=10.86.2.44 [director2]=10.86.2.45)
declare -A VM_ROUTE=([director]=$REMOTE_NET@10.86.0.254 [director2]=$REMOTE_NET@10.86.0.254 [nfs]=$REMOTE_NET@10.86.0.254
	[web4]=10.86.0.0/24@10.86.1.254)
ROUTER_REMOTE_IP=10.86.1.254
# IPv6 on the data segment: a ULA network beside 10.86.0.0/24, each VM there at the same last
# digits (10.86.0.44 -> fd86:86::44, network fd86:86::/64), for lvs-dr's IPv6 services.
vm_ip6() { if [ "${VM_SWITCH[$1]:-switch}" = switch ]; then echo "fd86:86::${VM_IP[$1]##*.}"; fi; }
# Services of the image that a VM's role never uses, masked for that boot on the kernel command line
# (systemd.mask=): a boot under software emulation is CPU-bound, five VMs share two cores, and a web
# server starting nfsd or a client starting Apache only slows everyone's boot. The director keeps
# Debian's ipvsadm.service and keepalived.service, as a real director with the packages installed
# would. The NFS client's helpers (rpcbind, statd's reboot notice, the rpc_pipefs mount) only run
# where something mounts or serves NFS.
NFS_CLIENT="rpcbind.service rpcbind.socket rpc-statd-notify.service run-rpc_pipefs.mount"
declare -A VM_MASK=(
	[client]="apache2.service nfs-server.service ipvsadm.service keepalived.service $NFS_CLIENT"
	[director]="apache2.service nfs-server.service $NFS_CLIENT"
	[director2]="apache2.service nfs-server.service $NFS_CLIENT"
	[web1]="nfs-server.service ipvsadm.service keepalived.service"
	[web2]="nfs-server.service ipvsadm.service keepalived.service"
	[web3]="nfs-server.service ipvsadm.service keepalived.service"
	[web4]="nfs-server.service ipvsadm.service keepalived.service"
	[web5]="nfs-server.service ipvsadm.service keepalived.service $NFS_CLIENT"
	[nfs]="apache2.service ipvsadm.service keepalived.service"
	[router]="apache2.service nfs-server.service ipvsadm.service keepalived.service $NFS_CLIENT"
)
# Units no lab VM uses, masked at every boot: kernel filesystems and helpers nothing mounts or runs
# (binfmt, hugepages, POSIX message queues, debugfs, tracefs, configfs, fuse), modules loaded for
# them, and the utmp boot record.
BOOT_MASK=(systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
	dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount sys-kernel-tracing.mount
	sys-kernel-config.mount sys-fs-fuse-connections.mount modprobe@configfs.service
	modprobe@fuse.service modprobe@loop.service modprobe@dm_mod.service modprobe@efi_pstore.service
	modprobe@drm.service systemd-update-utmp.service systemd-update-utmp-runlevel.service)
PREFIX=24
VIP=10.86.0.180
DATA_NET=10.86.0.0/24

KEY=$STATE/id_ed25519
KNOWN_HOSTS=$STATE/known_hosts

is_vm() {
	local n
	for n in "${VMS[@]}"; do [ "$n" = "$1" ] && return 0; done
	return 1
}
vm_index() {
	local i
	for i in "${!VMS[@]}"; do [ "${VMS[$i]}" = "$1" ] && echo "$i" && return 0; done
	return 1
}

# lab.env holds what is fixed when a lab is created: the SSH port base and the image it boots.
env_get() { sed -n "s/^$1=//p" "$STATE/lab.env" 2>/dev/null | tail -n 1; }
port_base() {
	local base
	base=$(env_get PORT_BASE)
	echo "${base:-${LVS_DR_LAB_PORT_BASE:-2220}}"
}
vm_port() { echo $(($(port_base) + $(vm_index "$1"))); }

# One lab.sh at a time changes the lab. The daemons it starts must not inherit fd 9 (they would hold
# the lock for as long as they run): start_switch and start_vm close it.
lock() {
	mkdir -p "$STATE"
	exec 9>"$STATE/.lock"
	flock -w 900 9 || die "another lab.sh holds $STATE/.lock (waited 900 s)"
}

# pid_of NAME ARG: the pid in run/NAME.pid when that process is alive and really is ours (ARG, naming
# this lab's files, is one of its arguments), so a stale pidfile never leads to signalling another process.
pid_of() {
	local pidfile=$STATE/run/$1.pid pid
	[ -s "$pidfile" ] || return 1
	pid=$(tr -dc 0-9 <"$pidfile")
	[ -n "$pid" ] || return 1
	{ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qxF -- "$2" || return 1
	echo "$pid"
}
vm_disk_arg() { echo "file=$STATE/vms/$1.qcow2,if=virtio,format=qcow2"; }
vm_pid() { pid_of "$1" "$(vm_disk_arg "$1")"; }
# switch_pid [NAME]: the data plane's switch (switch), the second network's (switch-remote) or the
# NAT network's (switch-nat).
SWITCHES=(switch switch-remote switch-nat)
switch_pid() { pid_of "${1:-switch}" "$STATE/run/${1:-switch}"; }
# vm_switches NAME: the switches the VM's data NICs are on.
vm_switches() {
	echo "${VM_SWITCH[$1]:-switch}"
	[ "$1" != router ] || echo switch-remote
	[ -z "${VM_NAT_IP[$1]:-}" ] || echo switch-nat
}

SSH_OPTS=()
ssh_opts() {
	SSH_OPTS=(-F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes
		-o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null
		-o HostKeyAlgorithms=ssh-ed25519 -o IdentitiesOnly=yes -o IdentityAgent=none -i "$KEY"
		-o ConnectTimeout=15 -o ServerAliveInterval=5 -o ServerAliveCountMax=4 -o LogLevel=ERROR)
}
# The commands of `lab.sh ssh` (the tests run hundreds) share one SSH connection per VM: a master
# that ssh starts with the first of them and ends after a minute without use. A login costs an
# emulated VM a key exchange, sshd's PAM stack and a fork; a command on the shared connection costs
# it only the fork. The master notices at once when the VM goes away (a power cut kills qemu, whose
# port forward it went through; a reboot ends sshd's side of it), and reboot, kill and down close it
# first anyway. Everything else (probe, reboot's own command, up's waits) logs in afresh.
mux_path() { echo "$STATE/run/ssh-$1.sock"; }
mux_close() {
	local sock
	sock=$(mux_path "$1")
	[ -S "$sock" ] || return 0
	ssh -F /dev/null -o ControlPath="$sock" -O exit "lab-$1" >/dev/null 2>&1 || true
	rm -f "$sock"
}
# vm_ssh NAME ARGS...: run ARGS on the VM (non-interactive).
vm_ssh() {
	local name=$1
	shift
	ssh "${SSH_OPTS[@]}" -p "$(vm_port "$name")" root@127.0.0.1 "$@" </dev/null
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

console_tail() {
	local name=$1 f
	for f in "$STATE/logs/$name.qemu.log" "$STATE/logs/$name.console.log"; do
		[ -s "$f" ] || continue
		echo "---- last lines of $f:"
		tail -n "${2:-25}" "$f" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r//g'
	done
}

need_host_tools() {
	install_host_packages qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils vde_switch:vde-switch \
		mkfs.ext4:e2fsprogs ssh:openssh-client ssh-keygen:openssh-client flock:util-linux
}

# ---- creating a lab's pieces -------------------------------------------------------------------------

make_keys() {
	mkdir -p "$STATE/hostkeys"
	chmod 0700 "$STATE"
	if [ ! -s "$KEY" ]; then
		ssh-keygen -q -t ed25519 -N '' -C "lvs-dr-lab" -f "$KEY"
		log "new lab SSH key: $KEY"
	fi
	local name type
	for name in "${VMS[@]}"; do
		for type in "${KEY_TYPES[@]}"; do
			[ -s "$(host_key_file "$name" "$type")" ] ||
				ssh-keygen -q -t "$type" -N '' -C "root@$name" -f "$(host_key_file "$name" "$type")"
		done
	done
	write_known_hosts
}

# Each VM has a host key of every type a default OpenSSH install has, so the stack can pin any of them.
KEY_TYPES=(ed25519 ecdsa rsa)
# The type each VM is pinned by in the stack config: not all ed25519, so that every key type the
# program accepts is exercised by the end-to-end tests.
declare -A VM_PIN=([client]=ed25519 [director]=ed25519 [web1]=ed25519 [web2]=ecdsa [nfs]=ed25519 [web3]=ed25519 [director2]=ed25519
	[router]=ed25519 [web4]=ed25519 [web5]=ed25519)
host_key_file() { echo "$STATE/hostkeys/$1-$2"; }
# host_key NAME [TYPE]: the public host key line ("TYPE BASE64"); TYPE defaults to ed25519.
host_key() { cut -d' ' -f1,2 "$(host_key_file "$1" "${2:-ed25519}").pub"; }

write_known_hosts() {
	local name
	for name in "${VMS[@]}"; do
		echo "[127.0.0.1]:$(vm_port "$name") $(host_key "$name")"
	done >"$KNOWN_HOSTS.tmp"
	mv -f "$KNOWN_HOSTS.tmp" "$KNOWN_HOSTS"
}

# The seed disk: a tiny ext4 filesystem (made with mkfs.ext4 -d, nothing mounted) that lab-identity reads
# at every boot: root's authorized_keys and the VM's SSH host key, generated here, so the host knows
# each VM's host key before the VM first boots.
make_seed() {
	local name=$1 dir=$STATE/vms/$1-seed.d img=$STATE/vms/$1-seed.img
	[ -s "$img" ] && return 0
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$KEY.pub" "$dir/authorized_keys"
	local type
	for type in "${KEY_TYPES[@]}"; do
		cp "$(host_key_file "$name" "$type")" "$dir/ssh_host_${type}_key"
		cp "$(host_key_file "$name" "$type").pub" "$dir/ssh_host_${type}_key.pub"
	done
	echo "$name" >"$dir/hostname"
	echo "${VM_IP[$name]}/$PREFIX" >"$dir/ip"
	chmod 0600 "$dir"/ssh_host_*_key
	mkfs.ext4 -q -F -L labseed -O ^has_journal -d "$dir" "$img.tmp" 4M >/dev/null
	chmod 0600 "$img.tmp"
	mv -f "$img.tmp" "$img"
	rm -rf "$dir"
}

# start_switch NAME: a VDE switch with its socket in run/NAME (one per network).
start_switch() {
	local name=$1 pid
	if pid=$(switch_pid "$name"); then
		return 0
	fi
	rm -rf "$STATE/run/$name" "$STATE/run/$name.pid"
	# --rcfile /dev/null: never read a host-wide vde_switch.rc (which could attach a tap device).
	vde_switch --sock "$STATE/run/$name" --dirmode 0700 --mode 0600 --rcfile /dev/null \
		--daemon --pidfile "$STATE/run/$name.pid" 9>&- ||
		die "vde_switch $name failed to start"
	local i
	for i in $(seq 50); do
		pid=$(switch_pid "$name") && [ -S "$STATE/run/$name/ctl" ] && break
		sleep 0.1
	done
	pid=$(switch_pid "$name") || die "vde_switch $name did not start (no live pid in $STATE/run/$name.pid)"
	log "$name: vde_switch pid $pid, socket $STATE/run/$name"
}

start_vm() {
	local name=$1 image=$2 idx port o3 o4 mac
	idx=$(vm_index "$name")
	port=$(vm_port "$name")
	# The data NIC's MAC ends in the address's last two octets: 10.86.1.44 -> 52:54:00:86:01:2c.
	IFS=. read -r _ _ o3 o4 <<<"${VM_IP[$name]}"
	mac=$(printf '52:54:00:86:%02x:%02x' "$o3" "$o4")
	# fsck.mode=skip: every VM's disk is a fresh overlay of the image, and the check costs seconds.
	# quiet, loglevel=4, systemd.show_status=0: the serial console (a log file) gets warnings and
	# errors only; every byte on an emulated UART costs the booting VM CPU.
	local cmdline="root=/dev/vda ro console=ttyS0,115200 net.ifnames=0 mitigations=off fsck.mode=skip quiet loglevel=4 systemd.show_status=0" unit
	for unit in ${VM_MASK[$name]} nfs-blkmap.service "${BOOT_MASK[@]}"; do cmdline+=" systemd.mask=$unit"; done
	cmdline+=" lab.name=$name lab.ip=${VM_IP[$name]}/$PREFIX"
	[ -z "$(vm_ip6 "$name")" ] || cmdline+=" lab.ip6=$(vm_ip6 "$name")/64"
	[ -z "${VM_ROUTE[$name]:-}" ] || cmdline+=" lab.route=${VM_ROUTE[$name]}"
	# The router: a third NIC (eth2, PCI slot 5) on the second network, and forwarding between them.
	# A director: a third NIC on the NAT network (its address there; forwarding is lvs-dr's to set).
	local extra=()
	if [ "$name" = router ]; then
		cmdline+=" lab.ip2=$ROUTER_REMOTE_IP/$PREFIX lab.forward=1"
		extra=(-netdev "vde,id=remote,sock=$STATE/run/switch-remote"
			-device "virtio-net-pci,netdev=remote,addr=0x5,romfile=,mac=52:54:00:86:01:fe")
	elif [ -n "${VM_NAT_IP[$name]:-}" ]; then
		cmdline+=" lab.ip2=${VM_NAT_IP[$name]}/$PREFIX"
		extra=(-netdev "vde,id=nat,sock=$STATE/run/switch-nat"
			-device "virtio-net-pci,netdev=nat,addr=0x5,romfile=,mac=$(printf '52:54:00:86:02:%02x' "${VM_NAT_IP[$name]##*.}")")
	fi
	if port_in_use "$port"; then
		die "$name: 127.0.0.1:$port is already in use by another program (choose another LVS_DR_LAB_PORT_BASE after lab.sh down)"
	fi
	[ -s "$STATE/vms/$name.qcow2" ] ||
		qemu-img create -q -f qcow2 -b "$image/base.img" -F raw "$STATE/vms/$name.qcow2"
	make_seed "$name"
	local log=$STATE/logs/$name.console.log
	[ -s "$log" ] && mv -f "$log" "$log.prev"
	rm -f "$STATE/run/$name.pid"
	# Management NIC (eth0, PCI slot 3): qemu user network, restrict=on (no way out), SSH forwarded from
	# 127.0.0.1 only. Data NIC (eth1, PCI slot 4): the lab's VDE switch. romfile= : no iPXE option ROM.
	if ! qemu-system-x86_64 \
		-name "lvs-dr-lab-$name,process=lvs-dr-lab-$name" \
		-accel tcg -machine pc -smp 1 -m "${VM_MEM[$name]}" \
		-nodefaults -no-user-config -display none -vga none \
		-kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
		-append "$cmdline" \
		-drive "$(vm_disk_arg "$name")" \
		-drive "file=$STATE/vms/$name-seed.img,if=virtio,format=raw,readonly=on" \
		-netdev "user,id=mgmt,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:$port-:22" \
		-device "virtio-net-pci,netdev=mgmt,addr=0x3,romfile=,mac=52:54:00:00:00:$(printf %02x "$((idx + 1))")" \
		-netdev "vde,id=data,sock=$STATE/run/${VM_SWITCH[$name]:-switch}" \
		-device "virtio-net-pci,netdev=data,addr=0x4,romfile=,mac=$mac" \
		"${extra[@]}" \
		-device virtio-rng-pci \
		-serial "file:$log" -monitor none \
		-daemonize -pidfile "$STATE/run/$name.pid" \
		>"$STATE/logs/$name.qemu.log" 2>&1 9>&-; then
		console_tail "$name" >&2
		die "$name: qemu failed to start"
	fi
	local pid
	pid=$(vm_pid "$name") || die "$name: qemu started but $STATE/run/$name.pid holds no live qemu"
	log "$name: started qemu pid $pid (ssh 127.0.0.1:$port, eth1 ${VM_IP[$name]}/$PREFIX, ${VM_MEM[$name]} MB)"
}

# probe NAME: print the VM's boot id and exit 0 when it answers SSH with its pinned host key and holds
# its identity; exit 3 when it answers but its hostname or eth1 address is wrong; anything else when it
# does not answer.
probe() {
	local name=$1
	timeout 40 ssh "${SSH_OPTS[@]}" -p "$(vm_port "$name")" root@127.0.0.1 \
		"test \"\$(cat /proc/sys/kernel/hostname)\" = $name && ip -o -4 addr show dev eth1 | grep -qF ' ${VM_IP[$name]}/$PREFIX ' || exit 3; cat /proc/sys/kernel/random/boot_id" \
		</dev/null 2>/dev/null
}

# poll NAME [OLD_BOOT_ID]: probe every 2 s until the VM answers (with another boot id than OLD_BOOT_ID,
# when given); print probe's verdict (0 or 3).
poll() {
	local id rc
	while :; do
		rc=0
		id=$(probe "$1") || rc=$?
		if [ "$rc" -eq 3 ] || { [ "$rc" -eq 0 ] && [ "$id" != "${2:-}" ]; }; then
			echo "$rc"
			return 0
		fi
		sleep 2
	done
}

# wait_ready START NAME...: wait until every VM answers SSH (each polled on its own, so a slow VM does not
# delay noticing the others); print each one's time since START. A VM listed in the associative array
# OLD_BOOT must also have rebooted (a new boot id).
declare -A OLD_BOOT=()
wait_ready() {
	local start=$1
	shift
	local dir name pending=("$@") next last_note=$SECONDS
	dir=$(mktemp -d "$STATE/run/wait.XXXXXX")
	POLLERS=()
	for name in "$@"; do
		poll "$name" "${OLD_BOOT[$name]:-}" >"$dir/$name" 9>&- &
		POLLERS+=("$!")
	done
	trap 'stop_pollers' EXIT
	while [ "${#pending[@]}" -gt 0 ]; do
		sleep 1
		next=()
		for name in "${pending[@]}"; do
			case $(cat "$dir/$name") in
			0) log "$name: answers SSH ($((SECONDS - start)) s)" ;;
			3)
				vm_ssh "$name" 'hostname; ip -o addr' >&2 || true
				die "$name: answers SSH but its hostname or eth1 address (${VM_IP[$name]}/$PREFIX) is wrong"
				;;
			*)
				if ! vm_pid "$name" >/dev/null; then
					console_tail "$name" >&2
					die "$name: its qemu process is gone (logs in $STATE/logs/)"
				fi
				next+=("$name")
				;;
			esac
		done
		pending=("${next[@]}")
		[ "${#pending[@]}" -eq 0 ] && break
		if [ $((SECONDS - start)) -ge "$TIMEOUT" ]; then
			for name in "${pending[@]}"; do
				echo "==== $name does not answer SSH on 127.0.0.1:$(vm_port "$name")" >&2
				console_tail "$name" 30 >&2
			done
			die "timed out after ${TIMEOUT} s waiting for SSH on: ${pending[*]} (LVS_DR_LAB_TIMEOUT)"
		fi
		if [ $((SECONDS - last_note)) -ge 30 ]; then
			log "waiting for SSH on ${pending[*]} ($((SECONDS - start)) s)"
			last_note=$SECONDS
		fi
	done
	stop_pollers
	trap - EXIT
	rm -rf "$dir"
}
POLLERS=()
# The pollers are this script's own background jobs: stop them by pid when waiting ends or fails.
stop_pollers() {
	[ "${#POLLERS[@]}" -eq 0 ] || kill "${POLLERS[@]}" 2>/dev/null || true
	POLLERS=()
}

# ---- the stack config file ---------------------------------------------------------------------------

# The config keys this script owns; every other entry in an existing file (the secret SSH key set with
# `pulumi config set --secret`, encryptionsalt, ...) is kept when the file is rewritten.
GENERATED_KEYS="lvs-dr:ssh lvs-dr:hosts lvs-dr:director lvs-dr:webServer lvs-dr:services lvs-dr:nfsServers lvs-dr:mounts"

# preserved top|config FILE: the parts of an existing Pulumi.<stack>.yaml this script does not generate.
preserved() {
	[ -f "$2" ] || return 0
	awk -v mode="$1" -v gen="$GENERATED_KEYS" '
		BEGIN { n = split(gen, g, " "); for (i = 1; i <= n; i++) mine[g[i]] = 1 }
		/^[ \t]*(#.*)?$/ { next }
		/^[^ ]/ {
			key = $0; sub(/:( .*)?$/, "", key)
			top = (key != "config"); keep = 0
			if (mode == "top" && top) print
			next
		}
		top { if (mode == "top") print; next }
		/^  [^ ]/ {
			key = $0; sub(/^  /, "", key); sub(/:( .*)?$/, "", key)
			keep = !(key in mine)
		}
		keep && mode == "config" { print }
	' "$2"
}

write_stack_config() {
	local name tmp others
	tmp=$(mktemp "$STACK_FILE.XXXXXX")
	{
		echo "# Generated by lab/lab.sh (up, config) for the VMs of the local lab; rewritten on every up,"
		echo "# removed by down. Entries set with 'pulumi config set' (the secret SSH key) are kept."
		preserved top "$STACK_FILE"
		echo "config:"
		preserved config "$STACK_FILE"
		cat <<-EOF
			  lvs-dr:ssh:
			    user: root
			  lvs-dr:hosts:
		EOF
		for name in director director2 web1 web2 nfs client web3 web4 web5; do
			cat <<-EOF
				    $name:
				      address: ${VM_IP[$name]}/$PREFIX
				      interface: eth1
				      ssh:
				        host: 127.0.0.1
				        port: $(vm_port "$name")
				        hostKey: "$(host_key "$name" "${VM_PIN[$name]}")"
			EOF
			others=()
			[ -z "$(vm_ip6 "$name")" ] || others+=("$(vm_ip6 "$name")/64")
			[ -z "${VM_NAT_IP[$name]:-}" ] || others+=("${VM_NAT_IP[$name]}/$PREFIX")
			[ "${#others[@]}" -eq 0 ] || printf '      otherAddresses: [%s]\n' "$(printf '%s, ' "${others[@]}" | sed 's/, $//')"
		done
		cat <<-EOF
			  lvs-dr:director:
			    host: director
			    vips:
			      - $VIP
			    nat:
			      gateway: $NAT_GATEWAY/$PREFIX
			  lvs-dr:webServer: apache
			  lvs-dr:services:
			    - name: web
			      vip: $VIP
			      port: 80
			      protocol: tcp
			      scheduler: rr
			      method: dr
			      drainIdle: 30
			      healthCheck:
			        type: tcp
			        interval: 2
			        timeout: 1
			        retryDelay: 1
			        failuresBeforeDown: 3
			      realServers:
			        - host: web1
			        - host: web2
			  lvs-dr:nfsServers:
			    - host: nfs
			      exports:
			        - path: /srv/lvs/kgc
			          clients: $DATA_NET
			          options: [rw, sync, no_subtree_check]
			          files:
			            index.html: "this is kgc web!\n"
			        - path: /srv/lvs/benet
			          clients: $DATA_NET
			          options: [rw, sync, no_subtree_check]
			          files:
			            index.html: "this is benet web!\n"
			  lvs-dr:mounts:
			    - host: web1
			      server: nfs
			      export: /srv/lvs/kgc
			      path: /var/www/html
			    - host: web2
			      server: nfs
			      export: /srv/lvs/benet
			      path: /var/www/html
		EOF
	} >"$tmp"
	chmod 0644 "$tmp"
	mv -f "$tmp" "$STACK_FILE"
	log "stack config: $STACK_FILE"
}

# ---- commands ----------------------------------------------------------------------------------------

cmd_up() {
	need_host_tools
	lock
	mkdir -p "$STATE/run" "$STATE/vms" "$STATE/logs"
	chmod 0700 "$STATE"
	local image
	if [ -s "$STATE/lab.env" ]; then
		image=$(env_get IMAGE)
		[ -f "$image/base.img" ] || die "this lab was made from $image, which is gone; run: lab/lab.sh down"
		local current
		current=$(LVS_DR_CACHE=$LVS_DR_CACHE_DIR "$LAB_SRC/image.sh" path 2>/dev/null || true)
		[ "$current" = "$image" ] ||
			log "note: the lab runs image ${image##*/}; lab/ now describes another image (down + up to use it)"
	else
		image=$(LVS_DR_CACHE=$LVS_DR_CACHE_DIR "$LAB_SRC/image.sh" build) || die "could not build the lab image"
		local base=${LVS_DR_LAB_PORT_BASE:-2220}
		if ! [[ $base =~ ^[0-9]+$ ]] || [ "$base" -lt 1024 ] || [ "$((base + ${#VMS[@]} - 1))" -gt 65535 ]; then
			die "LVS_DR_LAB_PORT_BASE=$base: need a number from 1024 to $((65535 - ${#VMS[@]} + 1))"
		fi
		printf 'PORT_BASE=%s\nIMAGE=%s\n' "$base" "$image" >"$STATE/lab.env"
	fi
	make_keys

	local start=$SECONDS name started=() running=() want=("${DEFAULT_VMS[@]}")
	for name in "$@"; do
		is_vm "$name" || die "unknown VM '$name' (VMs: ${VMS[*]})"
		[[ " ${want[*]} " == *" $name "* ]] || want+=("$name")
	done
	local sw
	for sw in "${SWITCHES[@]}"; do
		switch_pid "$sw" >/dev/null && continue
		# A new switch cannot reach VMs attached to a dead one: restart them too.
		for name in "${VMS[@]}"; do
			if vm_switches "$name" | grep -qxF "$sw" && vm_pid "$name" >/dev/null; then
				log "$name: the switch $sw is gone, restarting the VM"
				stop_pids "$name:$(vm_pid "$name")"
			fi
		done
	done
	for sw in "${SWITCHES[@]}"; do start_switch "$sw"; done
	for name in "${want[@]}"; do
		if vm_pid "$name" >/dev/null; then
			running+=("$name")
		else
			start_vm "$name" "$image"
			started+=("$name")
		fi
	done
	[ "${#running[@]}" -gt 0 ] && log "already running: ${running[*]}"
	[ "${#started[@]}" -gt 0 ] && log "booting ${started[*]} (software emulation: about a minute or two each, in parallel)"
	ssh_opts
	wait_ready "$start" "${want[@]}"
	log "all ${#want[@]} VMs answer SSH; $((SECONDS - start)) s after up started (${#started[@]} booted)"
	write_stack_config
	echo "lab is up: ${want[*]} (ssh: lab/lab.sh ssh NAME)"
	echo "private key: $KEY"
	echo "stack config: $STACK_FILE"
	echo "next: bash scripts/pulumi.sh config set --secret --stack lab sshPrivateKey < $KEY"
}

# stop_pids LABEL:PID...: SIGTERM to all, then SIGKILL to any still alive after 15 s.
# Every pid was checked to be this lab's by pid_of.
stop_pids() {
	local entry i alive
	for entry in "$@"; do kill -TERM "${entry#*:}" 2>/dev/null || true; done
	for i in $(seq 150); do
		alive=0
		for entry in "$@"; do kill -0 "${entry#*:}" 2>/dev/null && alive=1; done
		[ "$alive" -eq 0 ] && break
		sleep 0.1
	done
	for entry in "$@"; do
		if kill -0 "${entry#*:}" 2>/dev/null; then
			log "${entry%%:*}: pid ${entry#*:} ignored SIGTERM, sending SIGKILL"
			kill -KILL "${entry#*:}" 2>/dev/null || true
		fi
		log "${entry%%:*}: stopped pid ${entry#*:}"
	done
}

cmd_down() {
	[ -d "$STATE" ] || {
		log "no lab at $STATE"
		rm -f "$STACK_FILE"
		return 0
	}
	lock
	local name pid procs=()
	for name in "${VMS[@]}"; do
		mux_close "$name"
		if pid=$(vm_pid "$name"); then procs+=("$name:$pid"); fi
	done
	[ "${#procs[@]}" -eq 0 ] || stop_pids "${procs[@]}"
	local sw
	for sw in "${SWITCHES[@]}"; do
		if pid=$(switch_pid "$sw"); then stop_pids "$sw:$pid"; fi
	done
	rm -rf "$STATE/run" "$STATE/vms" "$STATE/hostkeys"
	rm -f "$KEY" "$KEY.pub" "$KNOWN_HOSTS" "$STATE/lab.env"
	rm -f "$STACK_FILE"
	log "lab is down; removed its disks, keys and $STACK_FILE (console logs kept in $STATE/logs)"
}

cmd_status() {
	[ -s "$STATE/lab.env" ] || {
		echo "no lab (state: $STATE); start one with: lab/lab.sh up"
		return 1
	}
	ssh_opts
	local name pid ok=0
	declare -A job
	echo "state: $STATE   image: $(env_get IMAGE)"
	local sw
	for sw in "${SWITCHES[@]}"; do
		if pid=$(switch_pid "$sw"); then
			echo "$sw: running (vde_switch pid $pid)"
		else
			echo "$sw: STOPPED"
			ok=1
		fi
	done
	for name in "${VMS[@]}"; do
		if vm_pid "$name" >/dev/null; then
			probe "$name" >/dev/null &
			job[$name]=$!
		fi
	done
	printf '%-9s %-8s %-8s %-6s %-16s %s\n' VM STATE PID PORT ETH1 SSH
	for name in "${VMS[@]}"; do
		local state=stopped ssh=- rc=0
		pid=-
		if [ -n "${job[$name]:-}" ]; then
			state=running
			pid=$(vm_pid "$name" || echo -)
			wait "${job[$name]}" || rc=$?
			case $rc in
			0) ssh=ok ;;
			3) ssh="answers, wrong identity" ;;
			*) ssh="no answer" ;;
			esac
		fi
		# A stopped optional VM is fine; a default one must answer.
		if [ "$ssh" != ok ] && { [ "$state" = running ] || [[ " ${DEFAULT_VMS[*]} " == *" $name "* ]]; }; then ok=1; fi
		printf '%-9s %-8s %-8s %-6s %-16s %s\n' "$name" "$state" "$pid" "$(vm_port "$name")" "${VM_IP[$name]}/$PREFIX" "$ssh"
	done
	return "$ok"
}

cmd_ssh() {
	[ $# -ge 1 ] || die "usage: lab/lab.sh ssh NAME [COMMAND...] (NAME: ${VMS[*]})"
	local name=$1
	shift
	is_vm "$name" || die "unknown VM '$name' (VMs: ${VMS[*]})"
	[ -s "$KEY" ] || die "no lab key at $KEY: is the lab up? (lab/lab.sh up)"
	ssh_opts
	local tty=()
	[ $# -eq 0 ] && [ -t 0 ] && tty=(-t)
	exec ssh "${SSH_OPTS[@]}" -o ControlMaster=auto -o ControlPath="$(mux_path "$name")" -o ControlPersist=60 \
		"${tty[@]}" -p "$(vm_port "$name")" root@127.0.0.1 "$@"
}

cmd_reboot() {
	[ $# -ge 1 ] || die "usage: lab/lab.sh reboot NAME... (VMs: ${VMS[*]})"
	local name
	for name in "$@"; do is_vm "$name" || die "unknown VM '$name' (VMs: ${VMS[*]})"; done
	lock
	ssh_opts
	for name in "$@"; do
		OLD_BOOT[$name]=$(probe "$name") ||
			die "$name: does not answer SSH, cannot reboot it (lab/lab.sh status; lab/lab.sh up)"
	done
	local start=$SECONDS
	for name in "$@"; do
		mux_close "$name"
		# The connection may drop as the VM goes down: the exit status says nothing.
		timeout 30 ssh "${SSH_OPTS[@]}" -p "$(vm_port "$name")" root@127.0.0.1 systemctl reboot </dev/null >/dev/null 2>&1 || true
		log "$name: rebooting"
	done
	wait_ready "$start" "$@"
	log "rebooted $* in $((SECONDS - start)) s"
}

# kill NAME...: a power cut: qemu is killed (SIGKILL), the VM gets no shutdown; its disk stays, so
# `start NAME` boots it again as it was.
cmd_kill() {
	[ $# -ge 1 ] || die "usage: lab/lab.sh kill NAME... (VMs: ${VMS[*]})"
	local name pid
	for name in "$@"; do is_vm "$name" || die "unknown VM '$name' (VMs: ${VMS[*]})"; done
	for name in "$@"; do
		pid=$(vm_pid "$name") || die "$name is not running"
		kill -KILL "$pid"
		mux_close "$name"
		log "$name: power cut (qemu pid $pid killed)"
	done
}

# start [--no-wait] NAME...: boot VMs of this lab that are not running (after kill, or never booted),
# on their own disks, and wait for SSH (--no-wait: return once they boot; a later up or start waits);
# unlike `up`, the stack config file is left as it is.
cmd_start() {
	local wait=yes
	if [ "${1:-}" = --no-wait ]; then
		wait=no
		shift
	fi
	[ $# -ge 1 ] || die "usage: lab/lab.sh start [--no-wait] NAME... (VMs: ${VMS[*]})"
	local name start=$SECONDS image sw
	for name in "$@"; do is_vm "$name" || die "unknown VM '$name' (VMs: ${VMS[*]})"; done
	lock
	image=$(env_get IMAGE)
	if [ -z "$image" ] || ! switch_pid >/dev/null; then die "no running lab at $STATE: run lab/lab.sh up"; fi
	for name in "$@"; do
		if vm_pid "$name" >/dev/null; then
			log "$name: already running"
		else
			for sw in $(vm_switches "$name"); do start_switch "$sw"; done
			start_vm "$name" "$image"
		fi
	done
	if [ "$wait" = no ]; then
		log "$* booting (not waiting)"
		return 0
	fi
	ssh_opts
	wait_ready "$start" "$@"
	log "$* answer SSH $((SECONDS - start)) s after start"
}

cmd_config() {
	if [ ! -s "$STATE/lab.env" ] || [ ! -s "$(host_key_file "${VMS[0]}" ed25519).pub" ]; then
		die "no lab at $STATE: run lab/lab.sh up"
	fi
	lock
	write_stack_config
}

case ${1:-} in
up)
	shift
	cmd_up "$@"
	;;
down) cmd_down ;;
status) cmd_status ;;
ssh)
	shift
	cmd_ssh "$@"
	;;
reboot)
	shift
	cmd_reboot "$@"
	;;
kill)
	shift
	cmd_kill "$@"
	;;
start)
	shift
	cmd_start "$@"
	;;
config) cmd_config ;;
pids)
	for name in "${VMS[@]}"; do
		if pid=$(vm_pid "$name"); then echo "$name $pid"; fi
	done
	;;
key-path)
	[ -s "$KEY" ] || die "no lab key at $KEY: run lab/lab.sh up"
	echo "$KEY"
	;;
known-hosts-path)
	[ -s "$KNOWN_HOSTS" ] || die "no known_hosts at $KNOWN_HOSTS: run lab/lab.sh up"
	echo "$KNOWN_HOSTS"
	;;
-h | --help | help) sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
"") die "usage: lab/lab.sh up|down|status|ssh NAME [CMD...]|reboot NAME...|kill NAME...|start [--no-wait] NAME...|config|key-path|known-hosts-path" ;;
*) die "unknown command '$1' (commands: up, down, status, ssh, reboot, kill, start, config, key-path, known-hosts-path)" ;;
esac
