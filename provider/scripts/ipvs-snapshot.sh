#!/bin/sh
# The IPVS snapshot, one round trip: the rules (-S) and the thresholds and connection counts
# (-L --thresholds), from one ipvsadm that reads both commands, then the ledger. It loads no module
# and changes nothing.
# $1: the ledger. Each section after the rules starts with a line "#pulumi-lvs:section <name>"; the
# thresholds start at ipvsadm's "IP Virtual Server version" line.
ledger=$1
if [ -e /proc/net/ip_vs ]; then
	command -v ipvsadm >/dev/null 2>&1 || { echo "ipvsadm: command not found" >&2; exit 127; }
	ipvsadm -R <<-'EOF' || exit $?
	-S -n
	-L -n --thresholds
	EOF
else
	echo '#pulumi-lvs:section not-loaded'
fi
echo '#pulumi-lvs:section ledger'
cat "$ledger" 2>/dev/null || true
