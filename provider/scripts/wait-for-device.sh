#!/bin/sh
# have_dev DEVICE: waits up to DEVICE_WAIT_SECONDS (in all, across calls) for the interface to
# exist; says so on stderr and fails when it does not. Set by the caller: DEVICE_WAIT_SECONDS.
waited=0
have_dev() {
	while [ ! -e "/sys/class/net/$1" ]; do
		if [ "$waited" -ge "$DEVICE_WAIT_SECONDS" ]; then
			echo "no interface $1 after $DEVICE_WAIT_SECONDS s" >&2
			return 1
		fi
		sleep 1
		waited=$((waited + 1))
	done
}
