#!/usr/bin/env bash
# The main job: the paper's experiment (examples/Waterbirds). Without --data it builds its default dataset
# itself. Arguments go to the program; --help lists them.
set -euo pipefail
cd "$(dirname "$0")"
dotnet run -c Release --project examples/Waterbirds -- "$@"
