#!/bin/sh
# managed by pulumi-lvs: records the VRRP role of each instance for `pulumi refresh`.
# keepalived runs it once with its notify FIFO's path, and writes a line per transition to the
# FIFO, in order: INSTANCE "<name>" <state> <priority>. Set above: STATE_DIR.
mkdir -p "$STATE_DIR"
# shellcheck disable=SC2034 # priority is read to keep it out of $state
while read -r type name state priority; do
	[ "$type" = INSTANCE ] || continue
	name=$(echo "$name" | tr -d '"')
	echo "$state" >"$STATE_DIR/vrrp-$name"
done <"$1"
