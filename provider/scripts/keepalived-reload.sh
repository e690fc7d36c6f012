#!/bin/sh
# Run after pulumi-lvs's keepalived files change (with the host's lock held).
# - Files of pulumi-lvs's left: keepalived runs them. Under systemd its unit is enabled (or
#   keepalived, and the IPVS rules it makes, would not come back after a reboot) and restarted when
#   it dies (RESTART_DROPIN). It is reloaded if it runs (never restarted: a restart drops every
#   IPVS rule keepalived made, and the VIPs), started otherwise. A start returns once keepalived has
#   written its pid file (it daemonizes first without systemd): a reload right after must find it,
#   or it would start a second keepalived.
# - None left: keepalived back as pulumi-lvs found it. pulumi-lvs's own folder (its state scripts)
#   goes. A main file that pulumi-lvs wrote (unchanged, and nothing else in conf.d for it to
#   include) is removed, with the conf.d it made; then keepalived is stopped if pulumi-lvs started
#   it, and its unit disabled if pulumi-lvs enabled it. A main file of the user's stays, and
#   keepalived is only reloaded (if it runs). Either way the restart drop-in goes if pulumi-lvs
#   added it.
# CHANGES_FILE records what pulumi-lvs changed, one word a line (enabled, restart, started), each
# written before the change it names is made.
# Set by the caller: PID_FILE MAIN_CONF MAIN_CONF_TEXT CONF_DIR OWN_DIR CHANGES_FILE RESTART_DROPIN
# RESTART_DROPIN_TEXT.

# shellcheck source=keepalived-state.sh
. ./keepalived-state.sh

exists() { for f in "$@"; do [ -e "$f" ] && return 0; done; return 1; }
recorded() { grep -qxF "$1" "$CHANGES_FILE" 2>/dev/null; }
record() { recorded "$1" || { mkdir -p "$(dirname "$CHANGES_FILE")" && echo "$1" >>"$CHANGES_FILE"; }; }
# keepalived ignores SIGHUP from just before it writes its pid file until it installs its handler
# (keepalived 2.2.7 main.c: SIG_IGN, then signal_set blocks SIGHUP and reads it from a signalfd): a
# reload sent in that window is lost, and keepalived runs the files it started with. Ready: SIGHUP
# (signal 1, bit 0 of the last hex digit) blocked (keepalived) or caught (a handler). Waits up to 10 s.
hup_ready() {
	i=0
	while [ $i -lt 100 ]; do
		[ -n "$(sed -nE '/^Sig(Blk|Cgt):[[:space:]]*[0-9a-f]*[13579bdf]$/p' "/proc/$pid/status" 2>/dev/null)" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "keepalived (pid $pid) does not take reloads yet after 10 s (SIGHUP neither blocked nor caught)" >&2
	return 1
}
reload_keepalived() {
	if has_pid; then hup_ready || return; fi
	if under_systemd && systemctl is-active -q keepalived 2>/dev/null; then
		systemctl reload keepalived
	elif has_pid; then
		kill -HUP "$pid"
	fi
}
# returns once keepalived has exited
stop_keepalived() {
	if under_systemd && systemctl is-active -q keepalived 2>/dev/null; then
		systemctl stop keepalived
		return
	fi
	has_pid || return 0
	kill -TERM "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

if ! exists "$CONF_DIR"/pulumi-lvs-*.conf "$OWN_DIR"/*/*.conf; then
	rm -rf "$OWN_DIR"
	if printf %s "$MAIN_CONF_TEXT" | cmp -s - "$MAIN_CONF" && ! exists "$CONF_DIR"/*.conf; then
		rm -f "$MAIN_CONF"
		rmdir "$CONF_DIR" 2>/dev/null
		if recorded started; then stop_keepalived; else reload_keepalived; fi
		if recorded enabled && under_systemd; then systemctl disable -q keepalived || exit; fi
	else
		reload_keepalived
	fi
	if recorded restart; then
		rm -f "$RESTART_DROPIN" && rmdir "$(dirname "$RESTART_DROPIN")" 2>/dev/null
		if under_systemd; then systemctl daemon-reload || exit; fi
	fi
	rm -f "$CHANGES_FILE"
	exit
fi

if under_systemd && ! enabled; then
	record enabled
	systemctl enable -q keepalived || exit
fi
if under_systemd && [ ! -e "$RESTART_DROPIN" ]; then
	record restart
	mkdir -p "$(dirname "$RESTART_DROPIN")" || exit
	printf %s "$RESTART_DROPIN_TEXT" >"$RESTART_DROPIN" && systemctl daemon-reload || exit
fi
if running; then
	reload_keepalived
	exit
fi
record started
if under_systemd; then systemctl start keepalived || exit; else keepalived -f "$MAIN_CONF" || exit; fi
i=0
while [ $i -lt 100 ]; do
	if has_pid; then
		hup_ready
		exit
	fi
	sleep 0.1
	i=$((i + 1))
done
echo "keepalived did not start: no live process in $PID_FILE after 10 s (see its log: journalctl -u keepalived or syslog)" >&2
exit 1
