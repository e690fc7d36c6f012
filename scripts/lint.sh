#!/usr/bin/env bash
# scripts/lint.sh [--write]: Biome lint + format check (with --write: apply fixes and formatting).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1090
source "$(bash scripts/toolchain.sh --print 2>/dev/null)"
exec biome check "$@" provider sdk cli test scripts examples bench
