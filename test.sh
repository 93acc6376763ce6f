#!/usr/bin/env bash
# Runs the whole test suite: restores, builds (the build patches TorchSharp's native library where this
# system needs it) and runs every test; then the Slurm test (scripts/slurm/test.sh: a one-node Slurm cluster
# on this machine runs the fair benchmark as job arrays; needs root). Extra arguments go to `dotnet test`
# (e.g. --filter Fisher) and skip the Slurm test.
set -euo pipefail
cd "$(dirname "$0")"
# Passive OpenMP waiting: spinning libtorch threads slow everything else on a shared machine (results unchanged).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
dotnet test MLNet.FlatDebias.sln -c Release --blame-hang-timeout 20m "$@"
if [ $# -eq 0 ]; then
    scripts/slurm/test.sh
fi
