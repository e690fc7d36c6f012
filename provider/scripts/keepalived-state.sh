#!/bin/sh
# Shell functions that read keepalived's state (reading only):
# - under_systemd: systemd is the init system (the lab's namespaces have none);
# - has_pid: keepalived's pid file names a live process (then in $pid). keepalived writes it
#   whether it forks or not (Debian's unit runs it with --dont-fork);
# - running: has_pid, or keepalived's unit is active;
# - enabled: under systemd, keepalived's unit is enabled (it starts at boot).
# Set by the caller: PID_FILE.
under_systemd() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }
has_pid() { pid=$(cat "$PID_FILE" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }
running() { has_pid || { under_systemd && systemctl is-active -q keepalived 2>/dev/null; }; }
enabled() { systemctl is-enabled -q keepalived 2>/dev/null; }
