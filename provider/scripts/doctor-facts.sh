#!/bin/sh
# pulumi-lvs doctor: what its checks need of a host, in one read-only round trip.
# $1: the role, director or real-server. Each section starts with a line "#doctor <name>".
role=$1
echo '#doctor ipvsadm'
if command -v ipvsadm >/dev/null 2>&1; then ipvsadm --version 2>&1 | head -1; else echo missing; fi
echo '#doctor ip_vs'
if [ -e /proc/net/ip_vs ]; then
	echo loaded
elif modprobe -n -q ip_vs 2>/dev/null || [ -n "$(find "/lib/modules/$(uname -r)" -name 'ip_vs.ko*' 2>/dev/null | head -1)" ]; then
	echo loadable
else
	echo unavailable
fi
echo '#doctor managers'
for p in keepalived kube-proxy ldirectord; do
	if pidof "$p" >/dev/null 2>&1; then echo "$p"; fi
done
echo '#doctor ip'
if command -v ip >/dev/null 2>&1; then echo ok; else echo missing; fi
echo '#doctor uid'
id -u
if [ "$role" = real-server ]; then
	echo '#doctor sysctls'
	i=$(ip -o -4 route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
	for k in all/arp_ignore all/arp_announce "$i/arp_ignore" "$i/arp_announce" all/rp_filter tunl0/rp_filter; do
		printf '%s=%s\n' "$k" "$(cat "/proc/sys/net/ipv4/conf/$k" 2>/dev/null || echo -)"
	done
	echo '#doctor addresses'
	ip -o addr show
fi
echo '#doctor route'
ip -o -4 route show default 2>/dev/null
exit 0
