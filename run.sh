#!/usr/bin/env bash
# The main job: the paper's experiment (examples/Waterbirds). Without --data it builds its default dataset
# itself. Arguments go to the program; --help lists them.
set -euo pipefail
cd "$(dirname "$0")"
# libtorch's OpenMP threads spin while they wait; when another process trains on the same cores, spinning threads
# make each epoch up to 10x slower (measured on 2 cores). Passive waiting leaves the results unchanged.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
dotnet run -c Release --project examples/Waterbirds -- "$@"
