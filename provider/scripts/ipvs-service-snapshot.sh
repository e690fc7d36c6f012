#!/bin/sh
# The IPVS snapshot of some services only, one round trip: for each, its listing with tunnel info
# and its listing with thresholds (one ipvsadm; they are read as ipvsadm -S would save them), then
# the ledger. A service that does not exist prints nothing. It loads no module and changes nothing.
# $1: the ledger; then one argument per service: its ipvsadm words (-t 10.0.0.1:80, -f 7 -6).
# Each section starts with a line "#pulumi-lvs:section <name>" (a service's: "service <words>").
ledger=$1
shift
if [ -e /proc/net/ip_vs ]; then
	command -v ipvsadm >/dev/null 2>&1 || {
		echo "ipvsadm: command not found" >&2
		exit 127
	}
	err=$(mktemp) || exit
	for service in "$@"; do
		echo "#pulumi-lvs:section service $service"
		if ! printf -- '-L -n --tun-info %s\n-L -n --thresholds %s\n' "$service" "$service" | ipvsadm -R 2>"$err"; then
			# a service that does not exist stops ipvsadm -R at its first line: anything else is an error
			if ! grep -qx 'No such service' "$err"; then
				cat "$err" >&2
				rm -f "$err"
				exit 1
			fi
		fi
	done
	rm -f "$err"
else
	echo '#pulumi-lvs:section not-loaded'
fi
echo '#pulumi-lvs:section ledger'
cat "$ledger" 2>/dev/null || true
