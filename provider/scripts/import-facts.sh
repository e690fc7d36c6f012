#!/bin/sh
# pulumi-lvs import: what the import reads of a host beyond the provider's own probe (which runs
# first, in the same round trip: cli/import/facts.ts). It only reads: it loads no module (nothing
# here runs ipvsadm unless ip_vs is loaded already) and changes nothing. Each section starts with a
# line "#pulumi-lvs:probe <name>" ("sysctls" continues the probe's section); each file read is a
# section "file <path>", its text and one more newline.
# shellcheck source=provider/scripts/sysctl.sh
. ./sysctl.sh

# the host's name (the program names the host after it)
echo '#pulumi-lvs:probe hostname'
uname -n

# every net.ipv4.vs.* parameter (none when ip_vs is not loaded), and the ARP and reverse-path
# settings of all, lo and each interface
echo '#pulumi-lvs:probe sysctls'
for f in /proc/sys/net/ipv4/vs/*; do
	if [ -f "$f" ]; then read_sysctl "net.ipv4.vs.${f##*/}" "$f"; fi
done
for d in /proc/sys/net/ipv4/conf/*; do
	[ "${d##*/}" = default ] && continue
	for k in arp_ignore arp_announce rp_filter; do read_sysctl "net.ipv4.conf.${d##*/}.$k" "$d/$k"; done
done

# the IPVS table: the rules (-S) and the thresholds (-L --thresholds) from one ipvsadm, which
# prints the listing from its "IP Virtual Server version" line on (as ipvs-snapshot.sh reads them)
echo '#pulumi-lvs:probe ipvs'
if [ ! -e /proc/net/ip_vs ]; then
	echo not-loaded
elif ! command -v ipvsadm >/dev/null 2>&1; then
	echo no-ipvsadm
else
	echo loaded
	echo '#pulumi-lvs:probe ipvsadm'
	ipvsadm -R <<-'EOF'
	-S -n
	-L -n --thresholds
	EOF
	rc=$?
	echo '#pulumi-lvs:probe ipvsadm-exit'
	echo "$rc"
fi

# keepalived: installed, running (its pids and command line, one word a line), the configuration
# file it reads (its -f, else its default), every file under /etc/keepalived and that file (the
# importer follows the includes), and what `keepalived -t` (a check only) says of it
echo '#pulumi-lvs:probe keepalived'
if command -v keepalived >/dev/null 2>&1; then echo installed; fi
conf=/etc/keepalived/keepalived.conf
pids=$(pidof keepalived 2>/dev/null) || pids=
if [ -n "$pids" ]; then
	echo "pids $pids"
	echo '#pulumi-lvs:probe keepalived-cmdline'
	pid=${pids%% *}
	tr '\0' '\n' <"/proc/$pid/cmdline"
	# its -f FILE, -fFILE, --use-file FILE or --use-file=FILE
	conf=$(tr '\0' '\n' <"/proc/$pid/cmdline" | awk -v conf="$conf" '
		prev == "-f" || prev == "--use-file" { conf = $0 }
		/^--use-file=/ { conf = substr($0, 12) }
		/^-f./ { conf = substr($0, 3) }
		{ prev = $0 }
		END { print conf }')
	case $conf in /*) ;; *) conf="$(readlink "/proc/$pid/cwd")/$conf" ;; esac
fi
echo '#pulumi-lvs:probe keepalived-conf'
echo "$conf"
{
	[ ! -d /etc/keepalived ] || find /etc/keepalived -type f
	[ ! -f "$conf" ] || echo "$conf"
} | sort -u | while IFS= read -r f; do
	# a file larger than 1 MiB is no configuration: left out (the include reads as missing)
	if [ "$(wc -c <"$f")" -le 1048576 ]; then
		echo "#pulumi-lvs:probe file $f"
		cat "$f"
		echo
	fi
done
if command -v keepalived >/dev/null 2>&1 && [ -f "$conf" ]; then
	echo '#pulumi-lvs:probe keepalived-test'
	keepalived -t -f "$conf" 2>&1
	rc=$?
	echo '#pulumi-lvs:probe keepalived-test-exit'
	echo "$rc"
fi
exit 0
