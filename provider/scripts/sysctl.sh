#!/bin/sh
# Functions for kernel parameters (sysctls), each given by its dotted name and its /proc/sys path:
# - read_sysctl NAME PATH: prints NAME=VALUE, or NAME! when the kernel has no such parameter;
# - write_sysctl NAME PATH VALUE: writes VALUE, or says which parameter the kernel refused on
#   standard error and exits 1.
read_sysctl() {
	if [ -r "$2" ]; then printf '%s=%s\n' "$1" "$(cat "$2")"; else printf '%s!\n' "$1"; fi
}
write_sysctl() {
	printf '%s' "$3" >"$2" || {
		echo "cannot set $1=$3" >&2
		exit 1
	}
}
