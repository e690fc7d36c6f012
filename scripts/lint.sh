#!/usr/bin/env bash
# scripts/lint.sh [--write]: Biome lint + format check (with --write: apply fixes and formatting),
# shellcheck on the scripts that run on hosts, and a type check of the examples.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1090
source "$(bash scripts/toolchain.sh --print 2>/dev/null)"
biome check "$@" provider sdk cli test scripts examples bench
# the scripts pulumi-lvs runs on hosts (POSIX sh: busybox, dash)
shellcheck -s sh -x -P SCRIPTDIR provider/scripts/*.sh
# the examples, type-checked as a user's program sees the SDK (they run transpiled, unchecked)
node_modules/.bin/tsc -p tsconfig.examples.json
