#!/usr/bin/env bash
# bench/run.sh [SIZES...] - the performance benchmark (npm run bench): 1 director × 10 virtual
# services × N real servers (default N = 20 200 1000 3000 10000), deployed with the real pulumi CLI
# into the lab several ways (engine floor with and without checkpoints, pulumi-lvs with a RealServer
# each and inline, one ipvsadm -R, @pulumi/command remote.Command). Prints a table and writes
# docs/benchmarks.json, docs/benchmarks-results.md and docs/benchmark-up.png. See bench/README.md.
#   BENCH_VARIANTS=floor,lvs   run only some variants
#   BENCH_PARALLEL=8           --parallel of every pulumi run (default 32)
#   BENCH_MAX_COMMAND=200      run a variant (here remote.Command) only up to this size
#   bash bench/run.sh --report  render docs/ again from the rows measured last
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive
command -v gnuplot >/dev/null || apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null
bash scripts/prepare.sh
# shellcheck disable=SC1090
source "$(bash scripts/toolchain.sh --print)"
# the remote.Command baseline needs pulumi-command's source beside the repository (exit 3: not there)
rc=0; bash bench/command-plugin.sh || rc=$?
case $rc in 0) ;; 3) export BENCH_COMMAND_SKIPPED="no shared/third_party/pulumi-command beside the repository to build its plugin from" ;; *) exit "$rc" ;; esac
test/lab/lab up
export PULUMI_LVS_E2E_QUIET=1
exec node dist/bench/bench.js "$@"
