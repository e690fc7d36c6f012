# shellcheck shell=bash
# test/lab/vm.sh - the "real host" tier of the pulumi-lvs test lab: full Debian bookworm VMs with
# systemd as PID 1 (debootstrap, Debian's own packages and defaults), one QEMU (TCG) each. Sourced
# by test/lab/lab after build.sh (uses WORK, KEYS, CONF, LAB_DIR, SSH_CONFIG, LAB_JSON,
# DEPLOY_PASSWORD, log, die, now, since, deadline_in, past, ensure_host_tools, write_*).
#
# hosts.conf:  vm <name> <ssh-port> <ifname>=<segment>:<addr/prefix>[,...] ... [gw=<gw>[,<gw>]] [http]
# The N-th "vm" line (N from 1) gets:
#   eth0 (first NIC, the LAN): -netdev socket,udp=127.0.0.1:<port+200>,localaddr=127.0.0.1:<port+100>,
#        MAC 52:54:00:12:02:<N in hex>. The lab guest's QEMU holds the other end of this UDP "cable"
#        (udp=127.0.0.1:<port+100>,localaddr=127.0.0.1:<port+200>) and bridges it into the segment.
#   eth1 (second NIC, management): user-mode networking, restrict=on, ipv6=off, 10.0.2.15/24 (no
#        default route), sshd forwarded from 127.0.0.1:<port>; MAC 52:54:00:12:03:<N in hex>.
#
# Under $WORK/vm (never in the repo):
#   debootstrap/         the pristine debootstrap tree (cached; redone when VM_PACKAGES changes)
#   base.img             raw ext4 image of the configured tree (sparse, 3 GiB), vmlinuz, initrd.img
#   base.hash            hash of the base's inputs (packages, vm/*, the configure functions, the lab key)
#   base.id              unique per build: a VM's overlay is recreated when it was made on another base
#   <name>/              per VM: ssh host key (kept across rebuilds), seed.tar, disk.qcow2 (overlay
#                        on base.img), console.log (appended across boots), mon.sock, qemu.pid

VMW="$WORK/vm"
VM_SUITE=bookworm
VM_PACKAGES="systemd-sysv udev openssh-server sudo ipvsadm keepalived iproute2 kmod procps linux-image-amd64
initramfs-tools ifupdown iputils-arping iputils-ping busybox netcat-openbsd tcpdump ca-certificates wget"
# units that only slow the boot (or wake up later) in a lab VM
VM_MASK="systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer apt-daily.service
apt-daily-upgrade.service e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-firstboot.service"
VM_MEM=${PULUMI_LVS_LAB_VM_MEM:-768}
VM_TIMEOUT=${PULUMI_LVS_LAB_VM_TIMEOUT:-300}

# ------------------------------------------------------------------ hosts.conf
vm_names() { awk '$1=="vm" {print $2}' "$CONF"; }
vm_is() { [ -n "${1:-}" ] && vm_names | grep -qx -- "$1"; }
vm_port() { awk -v n="$1" '$1=="vm" && $2==n {print $3}' "$CONF"; }
vm_index() { awk -v n="$1" '$1=="vm" {i++; if ($2==n) {print i; exit}}' "$CONF"; }
vm_specs() { awk -v n="$1" '$1=="vm" && $2==n {s=""; for (i=4; i<=NF; i++) s=s " " $i; print s}' "$CONF"; }
vm_lan_mac() { printf '52:54:00:12:02:%02x' "$(vm_index "$1")"; }
vm_mgmt_mac() { printf '52:54:00:12:03:%02x' "$(vm_index "$1")"; }
vm_udp_vm() { echo $(($(vm_port "$1") + 100)); }  # the VM's end of its LAN cable
vm_udp_lab() { echo $(($(vm_port "$1") + 200)); } # the lab guest's end
vm_args() { # vm_args [NAME...] -> the names (all when none), or die on an unknown one
	local n
	if [ $# -eq 0 ]; then vm_names; return; fi
	for n in "$@"; do vm_is "$n" || die "unknown VM '$n' (one of: $(vm_names | tr '\n' ' '))"; echo "$n"; done
}

vm_lock() { mkdir -p "$VMW"; exec 8>"$VMW/.lock"; flock 8; }

# ------------------------------------------------------------------ keys and client files
vm_client_key() { # the lab's client key (build.sh makes the same one; whoever comes first)
	[ -e "$KEYS/id_ed25519" ] && return 0
	mkdir -p "$KEYS"
	ssh-keygen -q -t ed25519 -N '' -C pulumi-lvs-lab -f "$KEYS/id_ed25519"
}

vm_hostkeys() { # one ed25519 host key per VM, made once, kept in $VMW/<name>/
	local name d
	for name in $(vm_names); do
		d=$VMW/$name
		[ -s "$d/ssh_host_ed25519_key" ] && [ -s "$d/ssh_host_ed25519_key.pub" ] && continue
		mkdir -p "$d"
		rm -f "$d/ssh_host_ed25519_key" "$d/ssh_host_ed25519_key.pub"
		ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$d/ssh_host_ed25519_key"
	done
}
vm_hostkey() { cut -d' ' -f1,2 "$VMW/$1/ssh_host_ed25519_key.pub"; }

vm_known_hosts() { # known_hosts lines: by HostKeyAlias (ssh_config) and by [127.0.0.1]:port
	local name
	for name in $(vm_names); do
		echo "$name $(vm_hostkey "$name")"
		echo "[127.0.0.1]:$(vm_port "$name") $(vm_hostkey "$name")"
	done
}

vm_ssh_config() { # Host blocks (the "Host *" block of write_ssh_config supplies the rest)
	local name
	for name in $(vm_names); do printf 'Host %s\n  Port %s\n  HostKeyAlias %s\n' "$name" "$(vm_port "$name")" "$name"; done
}

vm_lab_json() { # the VMs' entries of lab.json "hosts" (host_json of build.sh, with "kind": "vm")
	local name
	for name in $(vm_names); do host_json "$name" "$(vm_port "$name")" "$(vm_hostkey "$name")" "$(vm_specs "$name")" ', "kind": "vm"'; done
}

replace_if_changed() { # replace_if_changed <file> <new file>: atomic, only when the content differs
	if cmp -s "$1" "$2"; then rm -f "$2"; else mv "$2" "$1"; fi
}

# ssh_config, known_hosts and lab.json with the VMs, whether or not the lab image was built:
# "lab build" writes them (with the VMs); this brings them up to date when the VM keys are new.
vm_client_files() {
	vm_client_key
	vm_hostkeys
	write_known_hosts
	write_ssh_config
	local name
	for name in $(all_names); do [ -s "$KEYS/hostkeys/$name.pub" ] || return 0; done # lab never built: lab build writes lab.json
	write_lab_json
}

# ------------------------------------------------------------------ image build
vm_mirror() { # apt's own mirror (no mirror name in the repo)
	local m
	m=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v -- -security | awk '{print $1; exit}')
	[ -n "$m" ] || m=$(awk '$1=="deb" && $0 !~ /security/ {for (i=2; i<=NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list 2>/dev/null | head -1)
	[ -n "$m" ] || die "cannot find apt's Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
	echo "$m"
}

vm_tree_hash() { echo "$VM_SUITE minbase $(echo "$VM_PACKAGES" | tr -s ' \n' '  ')" | sha256sum | cut -c1-64; }

vm_base_hash() {
	{
		vm_tree_hash
		(cd "$LAB_DIR" && sha256sum vm/*)
		declare -f vm_configure_tree vm_make_base
		cat "$KEYS/id_ed25519.pub"
		echo "$VM_MASK $DEPLOY_PASSWORD"
	} | sha256sum | cut -c1-64
}

vm_base_complete() { [ -e "$VMW/base.img" ] && [ -e "$VMW/vmlinuz" ] && [ -e "$VMW/initrd.img" ] && [ -e "$VMW/base.hash" ] && [ -e "$VMW/base.id" ]; }

vm_debootstrap() { # -> $VMW/debootstrap (pristine, cached by the package list)
	local h; h=$(vm_tree_hash)
	[ "$(cat "$VMW/debootstrap.hash" 2>/dev/null)" = "$h" ] && [ -d "$VMW/debootstrap/usr" ] && return 0
	local t=$VMW/debootstrap.tmp mirror
	mirror=$(vm_mirror)
	vm_umount_under "$t"
	rm -rf "$t" "$VMW/debootstrap" "$VMW/debootstrap.hash"
	log "debootstrap $VM_SUITE (minbase + $(echo "$VM_PACKAGES" | wc -w) packages) from apt's mirror; log: $VMW/debootstrap.log"
	if ! debootstrap --variant=minbase --include="$(echo "$VM_PACKAGES" | tr -s ' \n' ',,' | sed 's/,$//')" \
		"$VM_SUITE" "$t" "$mirror" > "$VMW/debootstrap.log" 2>&1; then
		vm_umount_under "$t"
		tail -20 "$VMW/debootstrap.log" >&2
		die "debootstrap failed (see $VMW/debootstrap.log)"
	fi
	vm_umount_under "$t"
	rm -rf "$t"/var/cache/apt/archives/*.deb "$t"/var/lib/apt/lists/*_Packages* "$t"/usr/share/{doc,man,info,locale}
	# shellcheck disable=SC2016 # dpkg-query's format, not shell
	chroot "$t" dpkg-query -W -f '${Package} ${Version}\n' > "$VMW/packages.txt"
	mv "$t" "$VMW/debootstrap"
	echo "$h" > "$VMW/debootstrap.hash"
}

vm_umount_under() { # unmount whatever an interrupted debootstrap/chroot left mounted under $1
	local m
	[ -d "$1" ] || return 0
	while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(findmnt -rn -o TARGET | grep -F "$(readlink -f "$1")/" | sort -r)
}

# configure the tree at $1 (a copy of the debootstrap tree) into the common base of every VM;
# everything per VM comes from the seed
vm_configure_tree() {
	local R=$1 u
	echo vm > "$R/etc/hostname"
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' > "$R/etc/hosts"
	echo '/dev/vda / ext4 defaults 0 1' > "$R/etc/fstab"
	# a machine-id in the image: with an empty one, every boot of a fresh overlay would be systemd's
	# "first boot" (systemd-firstboot; preset-all could enable keepalived again)
	echo pulumi-lvs-lab-vm | md5sum | cut -c1-32 > "$R/etc/machine-id"
	printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' > "$R/etc/network/interfaces"
	: > "$R/etc/resolv.conf"
	# per-VM host keys come from the seed
	rm -f "$R"/etc/ssh/ssh_host_*
	mkdir -p "$R/var/www" "$R/usr/local/sbin"
	install -m 0755 "$LAB_DIR/vm/lab-seed" "$R/usr/local/sbin/lab-seed"
	install -m 0644 "$LAB_DIR/vm/lab-seed.service" "$LAB_DIR/vm/lab-http.service" "$R/etc/systemd/system/"
	chroot "$R" systemctl -q enable lab-seed.service lab-http.service
	chroot "$R" systemctl -q disable keepalived.service
	local m
	for m in $VM_MASK; do chroot "$R" systemctl -q mask "$m"; done
	# users: root, deploy (password, sudo NOPASSWD), nosudo (no sudo rights); the lab key for all
	local hash
	hash=$(PW=$DEPLOY_PASSWORD perl -e 'print crypt($ENV{PW}, q($6$pulumilvslab$))')
	[[ $hash == "\$6\$"* ]] || die "cannot hash the deploy password"
	chroot "$R" useradd -m -s /bin/bash -c 'deploy (lab, sudo NOPASSWD)' -p "$hash" deploy
	chroot "$R" useradd -m -s /bin/bash -c 'nosudo (lab, no sudo)' nosudo
	echo 'deploy ALL=(ALL:ALL) NOPASSWD: ALL' > "$R/etc/sudoers.d/deploy"
	chmod 440 "$R/etc/sudoers.d/deploy"
	for u in root deploy nosudo; do
		local hd=/home/$u
		[ $u = root ] && hd=/root
		mkdir -p "$R$hd/.ssh"
		install -m 0600 "$KEYS/id_ed25519.pub" "$R$hd/.ssh/authorized_keys"
		chmod 700 "$R$hd/.ssh"
		chroot "$R" chown -R "$u:$u" "$hd/.ssh"
	done
}

vm_make_base() { # tree -> $VMW/base.img (raw ext4, sparse), vmlinuz, initrd.img
	local R=$1 k i
	k=$(find "$R/boot" -name 'vmlinuz-*' | sort -V | tail -1)
	i=$R/boot/initrd.img-${k##*/vmlinuz-}
	if [ ! -e "$k" ] || [ ! -e "$i" ]; then die "no kernel/initrd in $R/boot"; fi
	cp "$k" "$VMW/vmlinuz.tmp"
	cp "$i" "$VMW/initrd.img.tmp"
	rm -f "$VMW/base.img.tmp"
	truncate -s 3G "$VMW/base.img.tmp"
	mkfs.ext4 -q -F -L root -d "$R" "$VMW/base.img.tmp"
	echo "${k##*/vmlinuz-}" > "$VMW/kernel.version"
	mv "$VMW/vmlinuz.tmp" "$VMW/vmlinuz"
	mv "$VMW/initrd.img.tmp" "$VMW/initrd.img"
	mv "$VMW/base.img.tmp" "$VMW/base.img"
}

vm_build() { # vm_build [--force]: the base image (debootstrap cached); skipped when nothing changed
	local force=0
	[ "${1:-}" = --force ] && force=1
	local t0; t0=$(now)
	mkdir -p "$VMW"
	if [ $force = 0 ] && [ -e "$KEYS/id_ed25519.pub" ] && vm_base_complete && [ "$(cat "$VMW/base.hash")" = "$(vm_base_hash)" ]; then
		vm_client_files
		log "VM base image is up to date ($VMW/base.img)"
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "building the VM image needs root"
	ensure_host_tools debootstrap e2fsprogs qemu-utils qemu-system-x86 socat openssh-client perl-base
	vm_client_files
	[ $force = 1 ] && rm -f "$VMW/debootstrap.hash"
	vm_debootstrap
	log "debootstrap tree ready ($(since "$t0")s)"
	local R=$VMW/rootfs
	vm_umount_under "$R"
	rm -rf "$R"
	cp -a "$VMW/debootstrap" "$R"
	vm_configure_tree "$R"
	rm -f "$VMW/base.hash" "$VMW/base.id"
	vm_make_base "$R"
	rm -rf "$R"
	vm_base_hash > "$VMW/base.hash"
	# every build gets a new id: overlays made on an older base.img are recreated (even by --force)
	echo "$(date -u +%FT%TZ) $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" > "$VMW/base.id"
	log "VM base image built in $(since "$t0")s: $VMW/base.img ($(du -h "$VMW/base.img" | cut -f1) used of $(du -h --apparent-size "$VMW/base.img" | cut -f1)), kernel $(cat "$VMW/kernel.version")"
}

# ------------------------------------------------------------------ per VM: seed, overlay
vm_interfaces() { # /etc/network/interfaces of VM $1 (ifupdown)
	local name=$1 specs spec ifn addrs a gw g first=1
	specs=$(vm_specs "$name") gw=""
	for spec in $specs; do case "$spec" in gw=*) gw=${spec#gw=} ;; esac; done
	printf '# written by the lab seed (test/lab/vm.sh) for %s\nauto lo\niface lo inet loopback\n' "$name"
	for spec in $specs; do
		case "$spec" in gw=* | http) continue ;; *=*:*) ;; *) continue ;; esac
		ifn=${spec%%=*} addrs=${spec#*:}
		printf '\n# %s: lab segment "%s"\nauto %s\n' "$ifn" "$(echo "${spec#*=}" | cut -d: -f1)" "$ifn"
		local v4="" v6=""
		for a in ${addrs//,/ }; do case "$a" in *:*) v6="$v6 $a" ;; *) v4="$v4 $a" ;; esac; done
		for a in $v4; do
			printf 'iface %s inet static\n  address %s\n' "$ifn" "$a"
			if [ $first = 1 ]; then for g in ${gw//,/ }; do case "$g" in *:*) ;; *) printf '  gateway %s\n' "$g" ;; esac; done; fi
		done
		for a in $v6; do
			# dad-attempts 0: usable at once (as the namespace hosts' "nodad"); no SLAAC/RA on the lab LAN
			printf 'iface %s inet6 static\n  address %s\n  dad-attempts 0\n  accept_ra 0\n  autoconf 0\n' "$ifn" "$a"
			if [ $first = 1 ]; then for g in ${gw//,/ }; do case "$g" in *:*) printf '  gateway %s\n' "$g" ;; esac; done; fi
		done
		first=0
	done
	printf '\n# eth1: management NIC (QEMU user-mode networking, ssh from the machine only); no default route\nauto eth1\niface eth1 inet static\n  address 10.0.2.15/24\n'
}

vm_seed() { # $VMW/<name>/seed.tar
	local name=$1 d=$VMW/$1 s
	s=$(mktemp -d)
	mkdir -p "$s/etc/network" "$s/etc/ssh" "$s/var/www"
	echo "$name" > "$s/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n' "$name" > "$s/etc/hosts"
	vm_interfaces "$name" > "$s/etc/network/interfaces"
	install -m 0600 "$d/ssh_host_ed25519_key" "$s/etc/ssh/ssh_host_ed25519_key"
	install -m 0644 "$d/ssh_host_ed25519_key.pub" "$s/etc/ssh/ssh_host_ed25519_key.pub"
	local files=(etc/hostname etc/hosts etc/network/interfaces etc/ssh/ssh_host_ed25519_key etc/ssh/ssh_host_ed25519_key.pub)
	if [[ " $(vm_specs "$name") " == *" http "* ]]; then
		echo "$name" > "$s/var/www/index.html"
		files+=(var/www/index.html)
	fi
	chmod 644 "$s/etc/hostname" "$s/etc/hosts" "$s/etc/network/interfaces"
	tar -cf "$d/seed.tar.tmp" -C "$s" --owner=0 --group=0 --numeric-owner --mtime=@0 "${files[@]}"
	rm -rf "$s"
	replace_if_changed "$d/seed.tar" "$d/seed.tar.tmp"
}

# the overlay's identity: the base and the seed it was made from. A changed base or seed means a
# fresh overlay (a qcow2 on a base that changed under it would be garbage).
vm_identity() { echo "$(cat "$VMW/base.id") $(sha256sum < "$VMW/$1/seed.tar" | cut -c1-64)"; }

vm_overlay() { # vm_overlay NAME [fresh]
	local d=$VMW/$1
	if [ "${2:-}" = fresh ] || [ ! -e "$d/disk.qcow2" ] || [ "$(cat "$d/identity" 2>/dev/null)" != "$(vm_identity "$1")" ]; then
		rm -f "$d/disk.qcow2" "$d/identity"
		qemu-img create -q -f qcow2 -b "$VMW/base.img" -F raw "$d/disk.qcow2"
		vm_identity "$1" > "$d/identity"
		log "$1: fresh overlay $d/disk.qcow2"
	fi
}

# ------------------------------------------------------------------ QEMU
vm_pid() {
	local f=$VMW/$1/qemu.pid pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f")
	[ -d "/proc/$pid" ] && grep -q qemu "/proc/$pid/comm" 2>/dev/null && { echo "$pid"; return 0; }
	return 1
}

vm_start() {
	local name=$1 d=$VMW/$1 port vmside labside idx
	port=$(vm_port "$name") vmside=$(vm_udp_vm "$name") labside=$(vm_udp_lab "$name") idx=$(vm_index "$name")
	if ss -Hltn "sport = :$port" | grep -q .; then die "$name: TCP port 127.0.0.1:$port is already in use"; fi
	if ss -Hlun "sport = :$vmside" | grep -q .; then die "$name: UDP port 127.0.0.1:$vmside is already in use"; fi
	rm -f "$d/qemu.pid" "$d/mon.sock"
	printf '\n===== %s: qemu start %s\n' "$name" "$(date -u +%FT%TZ)" >> "$d/console.log"
	# PCI slots fix the probe order: vda = root, vdb = seed, eth0 = LAN, eth1 = management
	qemu-system-x86_64 -name "pulumi-lvs-$name" -nodefaults -no-user-config \
		-machine pc -accel "tcg,tb-size=${PULUMI_LVS_LAB_VM_TB_SIZE:-256}" -m "$VM_MEM" -smp 1 \
		-kernel "$VMW/vmlinuz" -initrd "$VMW/initrd.img" \
		-append "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet" \
		-drive "if=none,id=root,file=$d/disk.qcow2,format=qcow2" -device "virtio-blk-pci,drive=root,addr=0x4" \
		-drive "if=none,id=seed,file=$d/seed.tar,format=raw,readonly=on" -device "virtio-blk-pci,drive=seed,serial=labseed,addr=0x5" \
		-netdev "socket,id=lan,udp=127.0.0.1:$labside,localaddr=127.0.0.1:$vmside" \
		-device "virtio-net-pci,netdev=lan,mac=$(vm_lan_mac "$name"),addr=0x2,romfile=" \
		-netdev "user,id=mgmt,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:$port-:22" \
		-device "virtio-net-pci,netdev=mgmt,mac=$(vm_mgmt_mac "$name"),addr=0x3,romfile=" \
		-device virtio-rng-pci,addr=0x6 \
		-display none -chardev "file,id=con,path=$d/console.log,append=on" -serial chardev:con \
		-monitor "unix:$d/mon.sock,server,nowait" \
		-daemonize -pidfile "$d/qemu.pid" 8>&- 9>&- </dev/null
	log "$name: qemu started (pid $(cat "$d/qemu.pid"), ssh 127.0.0.1:$port, LAN eth0 $(vm_lan_mac "$name") udp 127.0.0.1:$vmside <-> 127.0.0.1:$labside, vm $idx)"
}

vm_stop() {
	local name=$1 pid n
	pid=$(vm_pid "$name") || { rm -f "$VMW/$name/qemu.pid"; return 1; }
	# flush the guest's page cache to the overlay (the kill below is a power-off)
	timeout 5 ssh -F "$SSH_CONFIG" -n -o ConnectTimeout=2 "$name" sync >/dev/null 2>&1 || true
	kill "$pid"
	for n in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	[ -d "/proc/$pid" ] && kill -9 "$pid"
	rm -f "$VMW/$name/qemu.pid" "$VMW/$name/mon.sock"
	log "$name: stopped (qemu pid $pid)"
}

vm_boot_id() { # the VM's boot_id over ssh (one attempt)
	timeout 6 ssh -F "$SSH_CONFIG" -n -o ConnectTimeout=4 "$1" cat /proc/sys/kernel/random/boot_id 2>/dev/null
}

vm_wait() { # vm_wait NAME DEADLINE [OLD_BOOT_ID]: until ssh answers (with another boot_id)
	local name=$1 deadline=$2 old=${3:-} id
	while :; do
		id=$(vm_boot_id "$name") || id=""
		[ -n "$id" ] && [ "$id" != "$old" ] && { echo "$id"; return 0; }
		past "$deadline" && { log "$name: ssh did not answer in time; tail of $VMW/$name/console.log:"; tail -15 "$VMW/$name/console.log" >&2; return 1; }
		vm_pid "$name" >/dev/null || { log "$name: QEMU exited; see $VMW/$name/console.log"; return 1; }
		sleep 0.5
	done
}

vm_wait_all() { # vm_wait_all T0 NAME...: in parallel
	local t0=$1 deadline pids=() names=() i rc=0
	shift
	deadline=$(deadline_in "$VM_TIMEOUT")
	for i in "$@"; do
		(vm_wait "$i" "$deadline" >/dev/null && log "$i: ssh answers $(since "$t0")s after launch") &
		pids+=($!) names+=("$i")
	done
	for i in "${!pids[@]}"; do wait "${pids[$i]}" || { log "${names[$i]} did not come up"; rc=1; }; done
	return $rc
}

# ------------------------------------------------------------------ commands
vm_up() { # vm_up [NAME...]: build if needed, (re)start what is not running/answering, wait for ssh
	local names name started=() t0
	mapfile -t names < <(vm_args "$@")
	[ ${#names[@]} -gt 0 ] || { log "no vm lines in $CONF"; return 0; }
	vm_build
	t0=$(now)
	for name in "${names[@]}"; do
		mkdir -p "$VMW/$name"
		vm_seed "$name"
		if vm_pid "$name" >/dev/null; then
			if [ "$(cat "$VMW/$name/identity" 2>/dev/null)" != "$(vm_identity "$name")" ]; then
				log "$name: the base image or the seed changed: restarting on a fresh overlay"
				vm_stop "$name" || true
			elif vm_boot_id "$name" >/dev/null; then
				log "$name: already running, ssh answers"
				continue
			else
				log "$name: running but ssh does not answer; waiting"
				started+=("$name")
				continue
			fi
		fi
		vm_overlay "$name"
		vm_start "$name"
		started+=("$name")
	done
	[ ${#started[@]} -gt 0 ] || return 0
	vm_wait_all "$t0" "${started[@]}"
}

vm_down() { # vm_down [NAME...]
	local names name any=0
	mapfile -t names < <(vm_args "$@")
	for name in "${names[@]}"; do vm_stop "$name" && any=1; done
	[ $any = 1 ] || log "no VM running${1:+ ($*)}"
}

vm_reset() { # vm_reset [NAME...]: stop, fresh overlay (clean first boot), start, wait
	local names name t0
	mapfile -t names < <(vm_args "$@")
	vm_build
	for name in "${names[@]}"; do vm_stop "$name" || true; done
	t0=$(now)
	for name in "${names[@]}"; do
		mkdir -p "$VMW/$name"
		vm_seed "$name"
		vm_overlay "$name" fresh
		vm_start "$name"
	done
	vm_wait_all "$t0" "${names[@]}"
}

vm_reboot() { # vm_reboot NAME: a real "systemctl reboot" in the VM
	local name=${1:-} old t0 new
	vm_is "$name" || die "usage: lab reboot VM"
	vm_pid "$name" >/dev/null || die "$name is not running (lab vm up $name)"
	old=$(vm_boot_id "$name") || die "$name: ssh does not answer"
	t0=$(now)
	timeout 20 ssh -F "$SSH_CONFIG" -n "$name" systemctl reboot >/dev/null 2>&1 || true
	new=$(vm_wait "$name" "$(deadline_in "$VM_TIMEOUT")" "$old") || die "$name did not come back after systemctl reboot"
	log "$name rebooted (systemctl reboot): ssh answers again after $(since "$t0")s (boot_id ${new:0:8})"
}

vm_power_cycle() { # vm_power_cycle NAME: hard reset (QEMU system_reset), no shutdown in the guest
	local name=${1:-} old t0 new
	vm_is "$name" || die "usage: lab power-cycle VM"
	vm_pid "$name" >/dev/null || die "$name is not running (lab vm up $name)"
	command -v socat >/dev/null || ensure_host_tools socat
	old=$(vm_boot_id "$name") || old=""
	t0=$(now)
	echo system_reset | socat - "UNIX-CONNECT:$VMW/$name/mon.sock" >/dev/null
	new=$(vm_wait "$name" "$(deadline_in "$VM_TIMEOUT")" "$old") || die "$name did not come back after system_reset"
	log "$name power-cycled (system_reset): ssh answers again after $(since "$t0")s (boot_id ${new:0:8})"
}

vm_status() {
	local name pid rc=0 st
	for name in $(vm_names); do
		if pid=$(vm_pid "$name"); then
			if vm_boot_id "$name" >/dev/null; then st="ssh ok"; else st="ssh NO ANSWER"; rc=1; fi
			printf '  %-10s 127.0.0.1:%s  qemu pid %s, up %s, RSS %s  %s\n' "$name" "$(vm_port "$name")" "$pid" \
				"$(ps -o etime= -p "$pid" | tr -d ' ')" "$(awk '/VmRSS/ {print $2 $3}' "/proc/$pid/status")" "$st"
		else
			printf '  %-10s 127.0.0.1:%s  not running\n' "$name" "$(vm_port "$name")"
		fi
	done
	if vm_base_complete; then echo "base image: $VMW/base.img"; else echo "base image: not built (lab vm build)"; fi
	return $rc
}

cmd_vm() {
	local sub=${1:-}
	shift || true
	case "$sub" in
	build) vm_lock; vm_build "$@" ;;
	up) vm_lock; vm_up "$@" ;;
	down) vm_lock; vm_down "$@" ;;
	reset) vm_lock; vm_reset "$@" ;;
	status) vm_status ;;
	*) die "usage: lab vm build [--force] | up|down|reset [NAME...] | status" ;;
	esac
}
