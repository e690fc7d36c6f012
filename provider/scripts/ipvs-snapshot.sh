#!/bin/sh
# The IPVS snapshot, one round trip: the rules (ipvsadm -S), the thresholds and connection counts
# (ipvsadm -L --thresholds) and the ledger. It loads no module and changes nothing.
# $1: the ledger. Each section after the rules starts with a line "#pulumi-lvs:section <name>".
ledger=$1
if [ -e /proc/net/ip_vs ]; then
	command -v ipvsadm >/dev/null 2>&1 || { echo "ipvsadm: command not found" >&2; exit 127; }
	ipvsadm -S -n || exit $?
	echo '#pulumi-lvs:section thresholds'
	ipvsadm -L -n --thresholds || exit $?
else
	echo '#pulumi-lvs:section not-loaded'
fi
echo '#pulumi-lvs:section ledger'
cat "$ledger" 2>/dev/null || true
