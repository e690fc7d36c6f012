#!/usr/bin/env bash
# bench/command-plugin.sh - build (once) the @pulumi/command provider plugin for the benchmark's
# remote.Command baseline. Its release binaries come from GitHub and its Go module is not served by
# the Go module proxy, so it is built from pulumi/pulumi-command's source at release v1.2.1
# (Apache-2.0), which this repository does not carry: it is read from shared/third_party beside the
# repository ($PULUMI_LVS_THIRD_PARTY overrides), with dependencies from the Go module proxy, into
# $PULUMI_LVS_CACHE/build/pulumi-command-v1.2.1/pulumi-resource-command.
# Exit status 3: the source is not there (the benchmark then skips the remote.Command variant).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
VER=1.2.1
OUT="$CACHE/build/pulumi-command-v$VER"
SRC_IN="${PULUMI_LVS_THIRD_PARTY:-$(dirname "$ROOT")/shared/third_party}/pulumi-command/provider"
[ -x "$OUT/pulumi-resource-command" ] && exit 0
if [ ! -f "$SRC_IN/go.mod" ]; then
	echo "[bench] no $SRC_IN: the remote.Command baseline is skipped" >&2
	exit 3
fi
[ -x "$GO" ] || { echo "[bench] Go is needed to build pulumi-resource-command (set GO=/path/to/go)" >&2; exit 1; }
echo "[bench] building pulumi-resource-command v$VER from $SRC_IN (first time only: a few minutes)" >&2
SRC="$OUT/src"
rm -rf "$SRC" && mkdir -p "$SRC" && cp -r "$SRC_IN/." "$SRC/"
(cd "$SRC" && GOFLAGS=-mod=mod GOTOOLCHAIN=local "$GO" build -trimpath \
	-ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=v$VER" \
	-o "$OUT/pulumi-resource-command" ./cmd/pulumi-resource-command)
echo "[bench] built $OUT/pulumi-resource-command" >&2
