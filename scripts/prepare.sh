#!/usr/bin/env bash
# scripts/prepare.sh [unit|e2e|all] - make a clone ready to test or demo: toolchain (Node >= 22,
# pulumi CLI at the pinned version), npm packages, build. Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1090
source "$(bash scripts/toolchain.sh --print)"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "[prepare] npm ci" >&2
	npm ci --no-audit --no-fund --loglevel=error
fi
echo "[prepare] build (tsc)" >&2
npx tsc -p tsconfig.json
