#!/usr/bin/env bash
# scripts/test.sh all|unit|e2e [node --test args...] - the project's test entry point (npm test, npm run test:unit, npm run test:e2e)
#   unit: pure tests (fakes, wire formats, validation); no lab, no pulumi CLI needed
#   e2e:  the real pulumi CLI against the real IPVS lab (boots it if needed)
#   all:  both, in one node --test run (one summary)
# It installs what is missing first (toolchain, npm packages, build), so it works on a fresh clone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
what=${1:-all}; shift || true

bash scripts/prepare.sh "$what"
# shellcheck disable=SC1090
source "$(bash scripts/toolchain.sh --print 2>/dev/null)"

case "$what" in
unit) files=("dist/test/unit/**/*.test.js") ;;
e2e) files=("dist/test/e2e/**/*.test.js") ;;
all) files=("dist/test/unit/**/*.test.js" "dist/test/e2e/**/*.test.js") ;;
*) echo "usage: $0 all|unit|e2e" >&2; exit 2 ;;
esac
if [ "$what" = all ]; then
	echo "[test] lint (biome, shellcheck)" >&2
	biome check provider sdk cli test scripts examples
	shellcheck -s sh -x -P SCRIPTDIR provider/scripts/*.sh
	node_modules/.bin/tsc -p tsconfig.examples.json
fi
if [ "$what" != unit ]; then
	# read-only 9p shares for tests that run inside the guest (test/conformance, test/guest): this
	# checkout (built, with node_modules), a Node binary that runs there, and the pulumi CLI
	export PULUMI_LVS_LAB_SHARES="project=$PWD,node=$PULUMI_LVS_GUEST_NODE,pulumi=$(dirname "$(command -v pulumi)")"
	test/lab/lab up
fi
# e2e tests share one lab: run test files one at a time (unit files are quick anyway)
exec node --test --test-concurrency=1 --test-reporter=spec "$@" "${files[@]}"
