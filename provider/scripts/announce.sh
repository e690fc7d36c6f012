#!/bin/sh
# Defines `announce IFACE ADDRESS`: announces an IPv4 address with a gratuitous ARP (unsolicited,
# as arping -U sends; else as a reply, -A), so that neighbours update their caches at once. Best
# effort: it never fails (a failed announcement must not stop a script run with set -e), and
# prints `announced` or the reason why not.
announce() {
	if ! command -v arping >/dev/null 2>&1; then
		echo 'not announced: arping is not installed (apt-get install iputils-arping)'
	elif arping -q -U -c 1 -I "$1" "$2" >/dev/null 2>&1 || arping -q -A -c 1 -I "$1" "$2" >/dev/null 2>&1; then
		echo announced
	else
		echo "not announced: arping failed on $1 (is the interface up?)"
	fi
}
