#!/usr/bin/env bash
# test/lab/smoke.sh - check a running lab end to end (about 40 s): LVS-DR with real HTTP traffic,
# IPv6, the routed segment, LVS-TUN to rs4, the users (key + password + sudo), the boot emulation
# of "lab reboot", and "lab reset". Leaves the lab reset (clean). Needs: test/lab/lab up.
# Prints "N passed, N failed" and exits non-zero on a failure.
set -uo pipefail
LAB="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)/lab"
WORK="${PULUMI_LVS_LAB_WORK:-/var/tmp/pulumi-lvs-lab}"
pass=0 fail=0
check() { # check <label> <expected> <actual>
	if [ "$2" = "$3" ]; then
		pass=$((pass + 1)); echo "ok   - $1"
	else
		fail=$((fail + 1)); echo "FAIL - $1"; echo "  expected: $(echo "$2" | paste -sd' ')"; echo "  actual:   $(echo "$3" | paste -sd' ')"
	fi
}
s() { "$LAB" ssh "$@" 2>&1; }
t0=$(date +%s)

"$LAB" reset >/dev/null 2>&1 || { echo "lab reset failed (is the lab up?)"; exit 1; }

# LVS-DR: VIP on the real servers' lo (ARP hidden), on the director's eth0
for rs in rs1 rs2 rs3; do
	s $rs 'ip addr add 10.0.0.100/32 dev lo && sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2' &
done
wait
s director 'ip addr add 10.0.0.100/32 dev eth0 && ipvsadm -A -t 10.0.0.100:80 -s rr && for r in 11 12 13; do ipvsadm -a -t 10.0.0.100:80 -r 10.0.0.$r:80 -g; done' >/dev/null
check "DR: 9 requests from client, rr over rs1-rs3" "$(printf '      3 rs1\n      3 rs2\n      3 rs3')" \
	"$(s client 'for i in $(seq 9); do timeout 5 wget -qO- http://10.0.0.100/ || echo FAIL; done' | sort | uniq -c)"
check "DR: routed extclient reaches the VIP" "3" \
	"$(s extclient 'for i in 1 2 3; do timeout 5 wget -qO- http://10.0.0.100/; done' | grep -c '^rs[123]$')"
check "IPv6: client -> [fd00:10::11]:80" "rs1" "$(s client 'timeout 5 wget -qO- "http://[fd00:10::11]/"')"
check "routed: client -> rs4 172.16.0.21:80" "rs4" "$(s client 'timeout 5 wget -qO- http://172.16.0.21/')"
check "routed IPv6: client -> [fd00:172::21]:80" "rs4" "$(s client 'timeout 5 wget -qO- "http://[fd00:172::21]/"')"

# LVS-TUN to rs4 on the routed segment
s rs4 'modprobe ipip && ip link set tunl0 up && ip addr add 10.0.0.100/32 dev tunl0 && sysctl -qw net.ipv4.conf.tunl0.arp_ignore=1 net.ipv4.conf.tunl0.arp_announce=2 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=0' >/dev/null
s director 'ipvsadm -C && ipvsadm -A -t 10.0.0.100:80 -s rr && ipvsadm -a -t 10.0.0.100:80 -r 172.16.0.21:80 -i' >/dev/null
check "TUN: client -> VIP served by rs4 through ipip" "rs4" "$(s client 'timeout 5 wget -qO- http://10.0.0.100/')"

# users
check "deploy: key login + sudo NOPASSWD" "0" "$(s deploy@rs1 'sudo -n id -u')"
check "nosudo: no sudo" "no" "$(s nosudo@rs1 'sudo -n true 2>/dev/null && echo yes || echo no')"
if command -v sshpass >/dev/null; then
	check "deploy: password login" "deploy" "$(sshpass -p deploy-lab-pw ssh -F "$WORK/ssh_config" -o BatchMode=no \
		-o PubkeyAuthentication=no -o PreferredAuthentications=password deploy@director whoami 2>&1)"
else
	echo "skip - deploy password login (no sshpass)"
fi

# reboot: kernel state lost, files kept, boot emulation applies them
s rs2 'ip addr add 10.0.0.100/32 dev lo
	printf "net.ipv4.conf.all.arp_ignore = 1\nnet.ipv4.conf.all.arp_announce = 2\n" > /etc/sysctl.d/90-lvs.conf
	printf "[Service]\nType=oneshot\nExecStart=/sbin/ip addr add 10.0.0.200/32 dev lo\nExecStart=-/bin/false\n" > /etc/systemd/system/lab-vip.service
	ln -s /etc/systemd/system/lab-vip.service /etc/systemd/system/multi-user.target.wants/lab-vip.service' >/dev/null
s director 'ipvsadm -C && ipvsadm -A -u 10.0.0.100:53 -s wlc && ipvsadm-save -n > /etc/ipvsadm.rules && sed -i "s/^AUTO=.*/AUTO=\"true\"/" /etc/default/ipvsadm' >/dev/null
"$LAB" reboot rs2 >/dev/null 2>&1 || echo "lab reboot rs2 failed"
"$LAB" reboot director >/dev/null 2>&1 || echo "lab reboot director failed"
check "reboot: sysctl.d applied, VIP from before lost, unit ran" "net.ipv4.conf.all.arp_ignore = 1 lo 127.0.0.1/8 10.0.0.200/32" \
	"$(s rs2 'sysctl net.ipv4.conf.all.arp_ignore; ip -4 -br addr show lo' | awk '{$2=$2}1' | paste -sd' ' | sed 's/ UNKNOWN//')"
check "reboot: ipvsadm.rules restored (AUTO=true)" "UDP  10.0.0.100:53 wlc" "$(s director 'ipvsadm -Ln | grep ^UDP' | awk '{$1=$1}1' | sed 's/UDP /UDP  /')"

# reset: clean slate
"$LAB" reset >/dev/null 2>&1 || echo "lab reset failed"
check "reset: no IPVS rules, no VIP, no sysctl file" "0 10.0.0.12/24 0" \
	"$(s rs2 'ipvsadm -Ln | grep -c "^[TU]"; ip -4 -br addr show eth0 | awk "{print \$3}"; ls /etc/sysctl.d | grep -c lvs' | paste -sd' ')"

echo "smoke: $(($(date +%s) - t0))s"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
