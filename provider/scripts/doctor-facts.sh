#!/bin/sh
# pulumi-lvs doctor: what its checks need of a host beyond the provider's own probe (which runs in
# the same read-only round trip). Each section starts with a line "#pulumi-lvs:probe <name>".
echo '#pulumi-lvs:probe ipvsadm'
if command -v ipvsadm >/dev/null 2>&1; then ipvsadm --version 2>&1 | head -1; else echo missing; fi
echo '#pulumi-lvs:probe ip_vs'
if [ -e /proc/net/ip_vs ]; then
	echo loaded
elif modprobe -n -q ip_vs 2>/dev/null || [ -n "$(find "/lib/modules/$(uname -r)" -name 'ip_vs.ko*' 2>/dev/null | head -1)" ]; then
	echo loadable
else
	echo unavailable
fi
echo '#pulumi-lvs:probe managers'
for p in keepalived kube-proxy ldirectord; do
	if pidof "$p" >/dev/null 2>&1; then echo "$p"; fi
done
echo '#pulumi-lvs:probe ip'
if command -v ip >/dev/null 2>&1; then echo ok; else echo missing; fi
echo '#pulumi-lvs:probe uid'
id -u
# the ARP settings of the default route's interface, in the probe's sysctl format
echo '#pulumi-lvs:probe interface-sysctls'
i=$(ip -o -4 route show default 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
if [ -n "$i" ]; then
	for k in arp_ignore arp_announce; do
		if [ -r "/proc/sys/net/ipv4/conf/$i/$k" ]; then
			printf 'net.ipv4.conf.%s.%s=%s\n' "$i" "$k" "$(cat "/proc/sys/net/ipv4/conf/$i/$k")"
		else
			printf 'net.ipv4.conf.%s.%s!\n' "$i" "$k"
		fi
	done
fi
exit 0
