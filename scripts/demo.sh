#!/usr/bin/env bash
# npm run demo [-- destroy]: the one-command tour (see scripts/demo.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "[demo] preparing: toolchain (Node, pulumi CLI), npm packages, build" >&2
bash scripts/prepare.sh
# shellcheck disable=SC1090
source "$(bash scripts/toolchain.sh --print 2>/dev/null)"
if [ "${1:-}" != destroy ]; then
	echo "[demo] starting the lab (builds its image the first time)" >&2
	test/lab/lab up
fi
exec node dist/scripts/demo.js "$@"
