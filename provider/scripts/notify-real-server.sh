#!/bin/sh
# managed by pulumi-lvs: records a real server's health-check verdict for `pulumi refresh`.
# keepalived runs it as `notify-real-server.sh <state file> UP|DOWN`.
mkdir -p "$(dirname "$1")" && echo "$2" >"$1"
