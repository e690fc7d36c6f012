# shellcheck shell=bash
# test/lab/build.sh - the image build of the pulumi-lvs test lab. Sourced by test/lab/lab (which
# defines WORK, CONF, LAB_DIR, ... and the helpers); "lab build" runs cmd_build.
#
# Produces, under $WORK:
#   image/vmlinux      Debian's kernel as an ELF (QEMU boots it via PVH: ~3 s faster under TCG than the bzImage)
#   image/initrd.img   uncompressed initramfs: busybox, dash, bash, dropbear + sftp-server, openssh-client,
#                      ipvsadm, iproute2, kmod, procps, iptables (nft), nftables, sudo (+PAM), libstdc++,
#                      the kernel modules, the lab scripts (guest/), per-host skeletons (/lab/skel/<host>)
#   image/manifest.txt exact package versions + module list
#   keys/              client key (authorized for root, deploy, nosudo), one ed25519 host key per host,
#                      known_hosts ([127.0.0.1]:<port> entries; the VMs also by name, for HostKeyAlias)
#   ssh_config, lab.json
# Only build/boot tools are installed on the machine (qemu-system-x86, cpio, kmod, openssh-client,
# xz-utils); the kernel and the guest userland are fetched with "apt-get download" and unpacked with
# dpkg-deb -x. The image is rebuilt only when its inputs change: this file, hosts.conf, guest/* and
# the package versions (hash in image/build.hash; image/quick.hash is the cheap check).

# files of test/lab/ that go into the image (lab itself and README.md do not)
input_files() { (cd "$LAB_DIR" && printf '%s\n' build.sh hosts.conf guest/*); }

files_hash() {
	(cd "$LAB_DIR" && input_files | xargs sha256sum)
	echo "work=$WORK kernel=${PULUMI_LVS_LAB_KERNEL:-} ${PULUMI_LVS_LAB_KERNEL_PKG:-}"
}

# cheap check used by every "lab up": the inputs + the state of the apt lists
quick_hash() {
	{ files_hash; stat -c '%n %s %Y' /var/lib/apt/lists/*_Packages* 2>/dev/null || true; } | sha256sum | cut -c1-64
}

image_complete() {
	[ -e "$IMAGE/initrd.img" ] && { [ -e "$IMAGE/vmlinux" ] || [ -e "$IMAGE/vmlinuz" ]; } &&
		[ -e "$KEYS/id_ed25519" ] && [ -e "$KEYS/known_hosts" ] && [ -e "$SSH_CONFIG" ] &&
		[ -e "$LAB_JSON" ] && [ -e "$IMAGE/build.hash" ]
}

ensure_host_tools() { # ensure_host_tools PKG...: apt-get install what is missing
	local missing=() p
	for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
	[ ${#missing[@]} -gt 0 ] || return 0
	[ "$(id -u)" = 0 ] || die "missing host packages (${missing[*]}); run as root or install them"
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then apt-get update -q >/dev/null; fi
	log "installing host packages: ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

USERLAND="busybox dash bash dropbear-bin openssh-sftp-server openssh-client ipvsadm iproute2 kmod procps
iptables nftables netbase libc6 sudo libpam-modules libpam-modules-bin libpam-runtime libstdc++6 libgcc-s1
ucspi-tcp-ipv6 keepalived"

# Dependency closure, following only shared-library packages (no debconf/perl/systemd tooling).
# Breadth-first, one apt-cache call per level (apt-cache takes ~0.5 s per call).
closure() {
	local -A seen=()
	local frontier=("$@") next d
	while [ ${#frontier[@]} -gt 0 ]; do
		next=()
		for d in "${frontier[@]}"; do [ -z "${seen[$d]:-}" ] && { seen[$d]=1; echo "$d"; }; done
		while read -r d; do
			[[ $d =~ ^(lib|zlib1g$) ]] && [ -z "${seen[$d]:-}" ] && next+=("$d")
		done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
			--no-replaces --no-enhances "${frontier[@]}" 2>/dev/null |
			awk '/^ *\|?(Pre)?Depends:/ && $2 !~ /^</ {print $2}' | sort -u)
		frontier=("${next[@]}")
	done
}

declare -A DEBFILE=() PKGVER=()
KPKG="" PKGS=()
resolve_packages() {
	local meta="linux-image-${PULUMI_LVS_LAB_KERNEL:+$PULUMI_LVS_LAB_KERNEL-}amd64"
	KPKG=${PULUMI_LVS_LAB_KERNEL_PKG:-$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')}
	# (not found: the lists may predate that kernel series; the caller updates them and asks again)
	[ -n "$KPKG" ] || { log "cannot determine the kernel package (apt-cache depends $meta)"; return 1; }
	mapfile -t PKGS < <(closure $USERLAND)
	local p ver arch
	while read -r p ver arch; do
		PKGVER[$p]=$ver
		DEBFILE[$p]="$DEBS/${p}_${ver//:/%3a}_${arch}.deb"
	done < <(apt-cache show --no-all-versions "$KPKG" "${PKGS[@]}" 2>/dev/null |
		awk '/^Package:/ {p=$2} /^Version:/ {v=$2} /^Architecture:/ {a=$2} /^$/ && p {print p, v, a; p=""}')
	for p in "$KPKG" "${PKGS[@]}"; do [ -n "${PKGVER[$p]:-}" ] || return 1; done
}
deb_of() { [ -n "${DEBFILE[$1]:-}" ] && [ -e "${DEBFILE[$1]}" ] && echo "${DEBFILE[$1]}"; }

full_hash() {
	{
		files_hash
		local p
		for p in "$KPKG" "${PKGS[@]}"; do echo "$p ${PKGVER[$p]}"; done
	} | sha256sum | cut -c1-64
}

T0="" STEP_T=""
step() {
	local n; n=$(now)
	awk -v a="$STEP_T" -v b="$n" -v t="$T0" -v m="$*" 'BEGIN {printf "[lab build +%5.1fs  total %5.1fs] %s\n", b - a, b - t, m}' >&2
	STEP_T=$n
}

cmd_build() {
	local force=0
	[ "${1:-}" = --force ] && force=1
	T0=$(now) STEP_T=$T0
	local quick; quick=$(quick_hash)
	if [ $force = 0 ] && image_complete && [ "$(cat "$IMAGE/quick.hash" 2>/dev/null)" = "$quick" ]; then
		log "image is up to date ($IMAGE)"
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "building the image needs root"
	mkdir -p "$WORK" "$DEBS" "$IMAGE" "$KEYS" "$RUN"
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		apt-get update -q >/dev/null
		step "apt-get update"
	fi
	ensure_host_tools qemu-system-x86 cpio kmod openssh-client xz-utils
	step "host tools"
	if ! resolve_packages; then
		log "package lists incomplete or stale: apt-get update"
		apt-get update -q >/dev/null
		resolve_packages || die "cannot resolve the guest packages"
	fi
	local full; full=$(full_hash)
	if [ $force = 0 ] && image_complete && [ "$(cat "$IMAGE/build.hash" 2>/dev/null)" = "$full" ]; then
		echo "$quick" > "$IMAGE/quick.hash"
		step "image is up to date (same inputs and package versions)"
		return 0
	fi
	step "package list resolved: $KPKG + ${#PKGS[@]} userland packages"
	do_build
	echo "$full" > "$IMAGE/build.hash"
	echo "$quick" > "$IMAGE/quick.hash"
	step "done: image in $IMAGE"
}

download_packages() {
	local to_get=() p
	for p in "$KPKG" "${PKGS[@]}"; do deb_of "$p" >/dev/null || to_get+=("$p=${PKGVER[$p]}"); done
	if [ ${#to_get[@]} -gt 0 ]; then
		(cd "$DEBS" && apt-get download -q "${to_get[@]}" 2>&1 | grep -v -e '^Get:' -e 'unsandboxed' -e '^Fetched' >&2 || true)
		for p in "$KPKG" "${PKGS[@]}"; do
			deb_of "$p" >/dev/null && continue
			log "download of $p failed; apt-get update and retry"
			apt-get update -q >/dev/null
			resolve_packages || die "cannot resolve the guest packages"
			(cd "$DEBS" && apt-get download -q "$p" >/dev/null 2>&1) || true
			deb_of "$p" >/dev/null || die "cannot download $p"
		done
		step "downloaded ${#to_get[@]} packages ($(du -sh "$DEBS" | cut -f1) in $DEBS)"
	fi
	# drop .debs of other versions (keeps the cache small)
	local -A keep=()
	for p in "$KPKG" "${PKGS[@]}"; do keep[${DEBFILE[$p]}]=1; done
	for p in "$DEBS"/*.deb; do [ -n "${keep[$p]:-}" ] || rm -f "$p"; done
}

# kernel modules for the guest (+ their dependencies, resolved with modprobe); every ip_vs*
# module of the kernel package is added as well. Schedulers etc. are autoloaded by the kernel.
MODULES="
ip_vs_ftp ip_vs_pe_sip xt_ipvs
nf_conntrack nf_conntrack_netlink nf_conntrack_ftp nf_nat nf_nat_ftp
ip_tables iptable_filter iptable_nat iptable_mangle iptable_raw
ip6_tables ip6table_filter ip6table_mangle ip6table_nat ip6table_raw
x_tables xt_mark xt_MASQUERADE xt_conntrack xt_multiport xt_comment xt_addrtype xt_tcpudp xt_state
xt_REDIRECT xt_nat xt_set xt_LOG xt_limit xt_CT xt_connmark ipt_REJECT ip6t_REJECT nf_log_syslog
ip_set ip_set_hash_ip ip_set_hash_net ip_set_hash_ipport
nf_tables nft_compat nft_chain_nat nft_ct nft_nat nft_masq nft_redir nft_reject_inet nft_fib_inet
nft_fib_ipv4 nft_fib_ipv6 nft_log nft_limit
virtio_pci virtio_net virtio_blk virtio_console e1000 veth bridge br_netfilter 8021q dummy macvlan
ipvlan bonding tun sch_netem inet_diag tcp_diag udp_diag unix_diag
ipip ip_gre gre ip_tunnel tunnel4 fou fou6 ip6_tunnel ip6_gre sit tunnel6 ip6_udp_tunnel udp_tunnel
9p 9pnet 9pnet_virtio netfs fscache
"

do_build() {
	download_packages
	local KDEB KVER
	KDEB=$(deb_of "$KPKG")
	KVER=${KPKG#linux-image-}

	# ------------------------------------------------------------------ kernel
	if [ ! -e "$KROOT/.done-$KVER" ]; then
		rm -rf "$KROOT"; mkdir -p "$KROOT"
		dpkg-deb -x "$KDEB" "$KROOT"
		depmod -b "$KROOT" "$KVER"
		# Uncompressed ELF vmlinux: QEMU boots it via its PVH entry point (no SeaBIOS real-mode
		# setup, no in-guest xz decompression): ~3 s faster per boot under TCG.
		local off
		# (xz, as Debian 12's 6.1 is compressed; another compression boots the bzImage)
		off=$({ grep -obUaP '\xfd7zXZ\x00' "$KROOT/boot/vmlinuz-$KVER" || true; } | head -1 | cut -d: -f1)
		if [ -n "$off" ] && xz -dc --single-stream < <(tail -c +"$((off + 1))" "$KROOT/boot/vmlinuz-$KVER") > "$KROOT/vmlinux.tmp" 2>/dev/null &&
			[ "$(head -c4 "$KROOT/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
			mv "$KROOT/vmlinux.tmp" "$KROOT/vmlinux"
		else
			rm -f "$KROOT/vmlinux.tmp"; log "note: could not extract vmlinux; booting the bzImage (slower)"
		fi
		touch "$KROOT/.done-$KVER"
		step "kernel $KVER extracted + depmod"
	fi
	rm -f "$IMAGE/vmlinux" "$IMAGE/vmlinuz"
	cp "$KROOT/boot/vmlinuz-$KVER" "$IMAGE/vmlinuz"
	cp "$KROOT/boot/config-$KVER" "$IMAGE/config"
	if [ -e "$KROOT/vmlinux" ]; then ln "$KROOT/vmlinux" "$IMAGE/vmlinux" 2>/dev/null || cp "$KROOT/vmlinux" "$IMAGE/vmlinux"; fi

	local mods modlist m
	mods="$MODULES $(find "$KROOT/lib/modules/$KVER/kernel/net/netfilter/ipvs" -name 'ip_vs*.ko*' -printf '%f\n' | sed 's/\.ko.*//')"
	modlist=$(for m in $mods; do
		modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" 2>/dev/null || echo "WARNING: no module $m in $KVER" >&2
	done | awk '$1=="insmod" {print $2}' | sort -u)

	# ------------------------------------------------------------------ rootfs
	rm -rf "$ROOTFS"; mkdir -p "$ROOTFS"
	local p
	for p in "${PKGS[@]}"; do dpkg-deb -x "$(deb_of "$p")" "$ROOTFS"; done
	step "extracted ${#PKGS[@]} userland packages"
	rm -rf "$ROOTFS"/usr/share/{doc,man,info,locale,lintian,bug,bash-completion,initramfs-tools,apport} \
		"$ROOTFS"/usr/lib/x86_64-linux-gnu/gconv "$ROOTFS"/etc/init.d "$ROOTFS"/usr/include
	# /bin/sh is dash, as on Debian. The dynamic *busybox* package is used, not busybox-static:
	# the static build prefers its own applets over PATH ("sh -c 'ip ...'" would run busybox ip).
	ln -sf dash "$ROOTFS/bin/sh"
	# busybox applets only for commands that no package provides anywhere in PATH
	local a n d found
	while read -r a; do
		n=${a##*/} found=0
		for d in usr/local/sbin usr/local/bin usr/sbin usr/bin sbin bin; do
			{ [ -e "$ROOTFS/$d/$n" ] || [ -L "$ROOTFS/$d/$n" ]; } && found=1
		done
		[ $found = 1 ] && continue
		mkdir -p "$ROOTFS/$(dirname "$a")"
		ln -s /bin/busybox "$ROOTFS/$a"
	done < <("$ROOTFS/bin/busybox" --list-full)
	# iptables: what update-alternatives does (nft backend, the bookworm default)
	for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
		ln -sf "${n/tables/tables-nft}" "$ROOTFS/usr/sbin/$n"
	done

	for m in $modlist; do
		p=${m#"$KROOT"/}
		mkdir -p "$ROOTFS/$(dirname "$p")"
		cp "$m" "$ROOTFS/$p"
	done
	cp "$KROOT/lib/modules/$KVER"/modules.{builtin,builtin.modinfo,order} "$ROOTFS/lib/modules/$KVER/"
	depmod -b "$ROOTFS" "$KVER"
	step "kernel modules: $(echo "$modlist" | wc -l)"

	configure_rootfs
	step "configuration + keys"

	# every ELF resolves its libraries
	ldconfig -r "$ROOTFS"
	local bad=0 f out
	for f in "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,usr/lib/openssh,usr/libexec/sudo,lib/x86_64-linux-gnu/security}/*; do
		[ -f "$f" ] && [ ! -L "$f" ] || continue
		head -c4 "$f" | grep -q ELF || continue
		out=$(chroot "$ROOTFS" /lib64/ld-linux-x86-64.so.2 --list "${f#"$ROOTFS"}" 2>&1) || true
		if echo "$out" | grep -q 'not found'; then log "missing libraries for ${f#"$ROOTFS"}:"; echo "$out" | grep 'not found' >&2; bad=1; fi
	done
	[ $bad = 0 ] || die "library check failed"
	step "library check"

	make_skeletons

	(cd "$ROOTFS" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$IMAGE/initrd.img.tmp"
	mv "$IMAGE/initrd.img.tmp" "$IMAGE/initrd.img"
	step "packed initrd ($(du -h "$IMAGE/initrd.img" | cut -f1), uncompressed)"

	{
		echo "built: $(date -u +%FT%TZ) by $LAB_DIR/lab build"
		echo "kernel: $KPKG ${PKGVER[$KPKG]} (uname -r $KVER)"
		echo "initrd: $(du -h "$IMAGE/initrd.img" | cut -f1) uncompressed, rootfs $(du -sh "$ROOTFS" | cut -f1)"
		echo "packages:"
		for p in "${PKGS[@]}"; do printf '  %s %s\n' "$p" "${PKGVER[$p]}"; done
		echo "modules ($(echo "$modlist" | wc -l)):"
		echo "$modlist" | sed "s|^$KROOT/lib/modules/$KVER/||; s|^|  |"
	} > "$IMAGE/manifest.txt"
	write_ssh_config
	write_lab_json
}

configure_rootfs() {
	local R=$ROOTFS
	mkdir -p "$R"/{proc,sys,dev,run,tmp,root,home,mnt,var/log,var/tmp,var/lib,var/www,etc/lab,etc/dropbear,usr/local/sbin,lab/hosts}
	mkdir -p "$R/etc/systemd/system/multi-user.target.wants" "$R/etc/sudoers.d"
	chmod 1777 "$R/tmp" "$R/var/tmp"
	chmod 700 "$R/root"
	ln -sfn /run "$R/var/run"
	ln -sfn /run/lock "$R/var/lock"
	ln -sf /proc/self/mounts "$R/etc/mtab"
	cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
deploy:x:1000:1000:deploy (lab, sudo NOPASSWD):/home/deploy:/bin/bash
nosudo:x:1001:1001:nosudo (lab, no sudo):/home/nosudo:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
	cat > "$R/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
adm:x:4:
tty:x:5:
sudo:x:27:
www-data:x:33:
shadow:x:42:
users:x:100:
deploy:x:1000:
nosudo:x:1001:
nogroup:x:65534:
EOF
	local hash
	# SHA-512 crypt with a fixed salt (reproducible image); perl-base is Essential on Debian
	hash=$(PW=$DEPLOY_PASSWORD perl -e 'print crypt($ENV{PW}, q($6$pulumilvslab$))')
	[[ $hash == '$6$'* ]] || die "cannot hash the deploy password"
	# '*' = no password login, but not "locked" (dropbear refuses '!' even for key logins)
	{
		echo 'root:*:19000:0:99999:7:::'
		echo 'daemon:*:19000:0:99999:7:::'
		echo 'www-data:*:19000:0:99999:7:::'
		echo "deploy:$hash:19000:0:99999:7:::"
		echo 'nosudo:*:19000:0:99999:7:::'
		echo 'nobody:*:19000:0:99999:7:::'
	} > "$R/etc/shadow"
	printf 'root:*::\nsudo:*::\nshadow:*::\n' > "$R/etc/gshadow"
	chown root:42 "$R/etc/shadow" "$R/etc/gshadow"
	chmod 640 "$R/etc/shadow" "$R/etc/gshadow"
	printf '/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n/bin/dash\n/usr/bin/dash\n' > "$R/etc/shells"
	echo lab > "$R/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tlab\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
	printf 'passwd: files\ngroup: files\nshadow: files\ngshadow: files\nhosts: files\nservices: files\nprotocols: files\n' > "$R/etc/nsswitch.conf"
	: > "$R/etc/resolv.conf"
	: > "$R/etc/motd"
	printf 'include /etc/ld.so.conf.d/*.conf\n' > "$R/etc/ld.so.conf"
	# PAM (what pam-auth-update writes on Debian with the default "unix" profile) for sudo
	printf 'auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n' > "$R/etc/pam.d/common-auth"
	printf 'account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\naccount\trequisite\t\t\tpam_deny.so\naccount\trequired\t\t\tpam_permit.so\n' > "$R/etc/pam.d/common-account"
	printf 'password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\npassword\trequisite\t\t\tpam_deny.so\npassword\trequired\t\t\tpam_permit.so\n' > "$R/etc/pam.d/common-password"
	printf 'session\t[default=1]\t\t\tpam_permit.so\nsession\trequisite\t\t\tpam_deny.so\nsession\trequired\t\t\tpam_permit.so\nsession\trequired\tpam_unix.so\n' > "$R/etc/pam.d/common-session"
	cp "$R/etc/pam.d/common-session" "$R/etc/pam.d/common-session-noninteractive"
	echo 'deploy ALL=(ALL:ALL) NOPASSWD: ALL' > "$R/etc/sudoers.d/deploy"
	chmod 440 "$R/etc/sudoers.d/deploy"
	install -m 0755 "$LAB_DIR/guest/init" "$R/init"
	install -m 0644 "$LAB_DIR/guest/inittab" "$R/etc/inittab"
	install -m 0644 "$LAB_DIR/guest/profile" "$R/etc/profile"
	install -m 0755 "$LAB_DIR/guest/rcS" "$LAB_DIR/guest/rcK" "$R/etc/lab/"
	install -m 0644 "$CONF" "$R/etc/lab/hosts.conf"
	install -m 0755 "$LAB_DIR/guest/lab-topology" "$LAB_DIR/guest/lab-host-start" "$R/usr/local/sbin/"
	install -m 0644 "$LAB_DIR/guest/lab-host-boot" "$R/usr/local/sbin/"
	local rc='export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PS1='"'"'\u@\h:\w\$ '"'"
	echo "$rc" > "$R/root/.bashrc"; echo "$rc" > "$R/root/.profile"

	# ---- keys (kept across rebuilds in $KEYS): client key, one ed25519 host key per host
	[ -e "$KEYS/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C pulumi-lvs-lab -f "$KEYS/id_ed25519"
	local u
	for u in root deploy nosudo; do
		local hd=/home/$u uid=1000
		[ $u = root ] && hd=/root uid=0
		[ $u = nosudo ] && uid=1001
		mkdir -p "$R$hd/.ssh"
		install -m 0600 "$KEYS/id_ed25519.pub" "$R$hd/.ssh/authorized_keys"
		if [ $u != root ]; then
			echo "$rc" > "$R$hd/.profile"; cp "$R$hd/.profile" "$R$hd/.bashrc"
			chown -R $uid:$uid "$R$hd"
			chmod 750 "$R$hd"
		fi
		chmod 700 "$R$hd/.ssh"
	done
	mkdir -p "$KEYS/hostkeys" "$R/keys"
	local name
	for name in $(all_names); do
		if [ ! -e "$KEYS/hostkeys/$name" ]; then
			chroot "$R" /usr/bin/dropbearkey -t ed25519 -f /keys/k >/dev/null 2>&1
			mv "$R/keys/k" "$KEYS/hostkeys/$name"
		fi
		cp "$KEYS/hostkeys/$name" "$R/keys/k"
		chroot "$R" /usr/bin/dropbearkey -y -f /keys/k | awk '/^ssh-/ {print $1, $2}' > "$KEYS/hostkeys/$name.pub"
		rm -f "$R/keys/k"
		[ -s "$KEYS/hostkeys/$name.pub" ] || die "cannot read the host key of $name"
	done
	rm -rf "$R/keys"
	install -m 0600 "$KEYS/hostkeys/lab" "$R/etc/dropbear/dropbear_ed25519_host_key"
	vm_hostkeys
	write_known_hosts
}

write_known_hosts() { # the namespace hosts' keys (those made so far) + the VMs' (vm.sh)
	local name
	{
		for name in $(all_names); do
			[ -s "$KEYS/hostkeys/$name.pub" ] && echo "[127.0.0.1]:$(port_of "$name") $(cat "$KEYS/hostkeys/$name.pub")"
		done
		vm_known_hosts
	} > "$KEYS/known_hosts.tmp"
	replace_if_changed "$KEYS/known_hosts" "$KEYS/known_hosts.tmp"
}

# per-host filesystem skeletons (copied to /lab/hosts/<name> in the guest at "up"/"reset")
make_skeletons() {
	mkdir -p "$ROOTFS/lab/skel"
	local name http sk
	while read -r name http; do
		sk=$ROOTFS/lab/skel/$name
		mkdir -p "$sk"/{var/log,var/tmp,var/lib,var/www,tmp,run/lock}
		chmod 1777 "$sk/tmp" "$sk/var/tmp"
		ln -s /run "$sk/var/run"
		ln -s /run/lock "$sk/var/lock"
		cp -a "$ROOTFS/etc" "$sk/etc"
		cp -a "$ROOTFS/root" "$sk/root"
		cp -a "$ROOTFS/home" "$sk/home"
		cp -a "$ROOTFS/var/lib/." "$sk/var/lib/"
		echo "$name" > "$sk/etc/hostname"
		sed -i "s/^127\.0\.1\.1.*/127.0.1.1\t$name/" "$sk/etc/hosts"
		install -m 0600 "$KEYS/hostkeys/$name" "$sk/etc/dropbear/dropbear_ed25519_host_key"
		if [ "$http" = 1 ]; then echo "$name" > "$sk/var/www/index.html"; fi
	done < <(awk '$1=="host" {h=0; for (i=4; i<=NF; i++) if ($i=="http") h=1; print $2, h}' "$CONF")
}

write_ssh_config() {
	{
		echo "# generated by $LAB_DIR/lab build - use: ssh -F $SSH_CONFIG <host>  (or: lab ssh <host>)"
		local name
		for name in $(all_names); do printf 'Host %s\n  Port %s\n' "$name" "$(port_of "$name")"; done
		vm_ssh_config
		cat <<EOF
Host *
  HostName 127.0.0.1
  User root
  IdentityFile $KEYS/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $KEYS/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
  ConnectTimeout 10
EOF
	} > "$SSH_CONFIG.tmp"
	replace_if_changed "$SSH_CONFIG" "$SSH_CONFIG.tmp"
}

json_str() { local s=$1; s=${s//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
json_list() { # json_list a,b,c -> ["a", "b", "c"]
	local IFS=, out="" x
	for x in $1; do out="$out${out:+, }$(json_str "$x")"; done
	printf '[%s]' "$out"
}

host_json() { # host_json NAME PORT HOSTKEY "SPECS" EXTRA: one lab.json "hosts" entry (preceded by ",\n")
	local spec addrs="" gw="" http=false
	for spec in $4; do
		case "$spec" in
		gw=*) gw=${spec#gw=} ;;
		http) http=true ;;
		*=*:*) addrs="$addrs${addrs:+, }$(json_str "${spec%%=*}"): $(json_list "${spec#*:}")" ;;
		esac
	done
	printf ',\n    %s: {"host": "127.0.0.1", "port": %s, "hostKey": %s, "addresses": {%s}, "gateway": %s, "http": %s%s}' \
		"$(json_str "$1")" "$2" "$(json_str "$3")" "$addrs" "$(json_list "$gw")" "$http" "$5"
}

write_lab_json() {
	local out="$LAB_JSON.tmp" first=1 name port specs spec addrs="" gw="" http kind seg br raddr
	{
		echo "{"
		echo "  \"work\": $(json_str "$WORK"),"
		echo "  \"privateKeyPath\": $(json_str "$KEYS/id_ed25519"),"
		echo "  \"publicKeyPath\": $(json_str "$KEYS/id_ed25519.pub"),"
		echo "  \"knownHostsPath\": $(json_str "$KEYS/known_hosts"),"
		echo "  \"sshConfig\": $(json_str "$SSH_CONFIG"),"
		echo "  \"hosts\": {"
		# the guest root namespace: switch + router
		addrs=""
		while read -r kind seg br raddr; do
			addrs="$addrs${addrs:+, }$(json_str "$br"): $(json_list "$raddr")"
		done < <(awk '$1=="segment" {print $1, $2, $3, $4}' "$CONF")
		printf '    "lab": {"host": "127.0.0.1", "port": %s, "hostKey": %s, "addresses": {%s}, "gateway": [], "http": false, "router": true}' \
			"$(lab_port)" "$(json_str "$(cat "$KEYS/hostkeys/lab.pub")")" "$addrs"
		while read -r name port specs; do
			host_json "$name" "$port" "$(cat "$KEYS/hostkeys/$name.pub")" "$specs" ""
		done < <(awk '$1=="host" {s=$2 " " $3; for (i=4; i<=NF; i++) s=s " " $i; print s}' "$CONF")
		vm_lab_json # the VMs ("kind": "vm")
		printf '\n  },\n  "segments": {'
		first=1
		while read -r kind seg br raddr; do
			[ $first = 1 ] || printf ','
			first=0
			printf '\n    %s: {"bridge": %s, "router": %s}' "$(json_str "$seg")" "$(json_str "$br")" "$(json_list "$raddr")"
		done < <(awk '$1=="segment" {print $1, $2, $3, $4}' "$CONF")
		printf '\n  },\n'
		cat <<EOF
  "users": {
    "root": {"password": null, "sudo": true},
    "deploy": {"password": $(json_str "$DEPLOY_PASSWORD"), "sudo": true},
    "nosudo": {"password": null, "sudo": false}
  }
}
EOF
	} > "$out"
	mv "$out" "$LAB_JSON"
}

