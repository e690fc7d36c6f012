#!/usr/bin/env bash
# bench/command-plugin.sh - build (once) the @pulumi/command provider plugin for the benchmark's
# remote.Command baseline. Its release binaries come from GitHub and its Go module is not served by
# the Go module proxy, so the benchmark carries the provider's source at release v1.2.1
# (bench/third_party/pulumi-command, Apache-2.0) and builds it here, with dependencies from the Go
# module proxy, into $PULUMI_LVS_CACHE/build/pulumi-command-v1.2.1/pulumi-resource-command.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
VER=1.2.1
OUT="$CACHE/build/pulumi-command-v$VER"
[ -x "$OUT/pulumi-resource-command" ] && exit 0
[ -x "$GO" ] || { echo "[bench] Go is needed to build pulumi-resource-command (set GO=/path/to/go)" >&2; exit 1; }
echo "[bench] building pulumi-resource-command v$VER from bench/third_party (first time only: a few minutes)" >&2
SRC="$OUT/src"
rm -rf "$SRC" && mkdir -p "$SRC" && cp -r "$ROOT/bench/third_party/pulumi-command/provider/." "$SRC/"
(cd "$SRC" && GOFLAGS=-mod=mod GOTOOLCHAIN=local "$GO" build -trimpath \
	-ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=v$VER" \
	-o "$OUT/pulumi-resource-command" ./cmd/pulumi-resource-command)
echo "[bench] built $OUT/pulumi-resource-command" >&2
