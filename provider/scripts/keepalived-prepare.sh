#!/bin/sh
# Before pulumi-lvs writes keepalived files: keepalived is installed (else exit $NO_KEEPALIVED),
# the configuration directories exist, the main file is written when there is none, and the main
# file reads conf.d (else exit $NO_INCLUDE: pulumi-lvs never edits a main file it did not write).
# Set by the caller: NO_KEEPALIVED, NO_INCLUDE, CONF_DIR, OWN_DIR, MAIN_CONF, MAIN_CONF_TEXT,
# INCLUDE_LINE.
command -v keepalived >/dev/null 2>&1 || exit "$NO_KEEPALIVED"
mkdir -p "$CONF_DIR" "$OWN_DIR"
if [ ! -e "$MAIN_CONF" ]; then printf %s "$MAIN_CONF_TEXT" >"$MAIN_CONF.pulumi-lvs.tmp" && mv "$MAIN_CONF.pulumi-lvs.tmp" "$MAIN_CONF"; fi
grep -qxF "$INCLUDE_LINE" "$MAIN_CONF" || exit "$NO_INCLUDE"
