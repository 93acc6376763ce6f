#!/usr/bin/env bash
# The Slurm test (./test.sh runs it after the unit tests): on a one-node Slurm cluster started here
# (local-cluster.sh), the --quick fair benchmark on a subset runs
#   1. in one process (the reference);
#   2. as job arrays (submit.sh), with one running array task cancelled mid-run: the summary must report it missing;
#   3. submitted again: every result must then be there once, and summary.md / summary.csv must equal the
#      reference byte for byte (runs.csv too, but for the seconds column).
# Needs root (it may install slurm-wlm and munge, and starts the daemons). About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_WAIT_POLICY=PASSIVE

fail() { echo "SLURM TEST FAILED: $*" >&2; exit 1; }
scripts/slurm/local-cluster.sh

benchmark=(--quick --choose-sets cmnist5 --report-sets pmnist --methods jtt,pgd,flatdebias)
work=$(mktemp -d "${TMPDIR:-/tmp}/fair-benchmark-slurm.XXXXXX")
trap 'rm -rf "$work"' EXIT
dotnet build examples/FairBenchmark -c Release -v q -nologo > /dev/null
dll=examples/FairBenchmark/bin/Release/net10.0/MLNet.FlatDebias.Examples.FairBenchmark.dll

echo "== 1. one process"
start=$SECONDS
dotnet "$dll" "${benchmark[@]}" --out "$work/single" > "$work/single.log" || fail "the single-process run failed: $(tail -n 5 "$work/single.log")"
echo "   $(tail -n 1 "$work/single.log") ($((SECONDS - start)) s)"

echo "== 2. job arrays, one task cancelled mid-run"
start=$SECONDS
scripts/slurm/submit.sh --no-build -- "${benchmark[@]}" --out "$work/slurm"
read -r prepare_job draws_job seeds_job overlap_job summary_job < "$work/slurm/slurm/jobs"
mapfile -t draws_runs < <(dotnet "$dll" "${benchmark[@]}" --list-runs --stage draws)
result_file() {   # a draws-stage index -> its result file
    IFS=$'\t' read -r _ _ set method regime draw seed _ <<< "${draws_runs[$1]}"
    echo "$work/slurm/runs/$set.$method.$regime.d$draw.s$seed.csv"
}
killed=""
for _ in $(seq 1 600); do
    for task in $(squeue -h -j "$draws_job" -t RUNNING -o %K 2> /dev/null); do
        file=$(result_file "$task")
        [ -f "$file" ] && continue
        scancel "${draws_job}_${task}"
        # Wait until the task has ended (Slurm sends SIGTERM, then SIGKILL after KillWait): a process that is still
        # shutting down may yet write its result, and then the cancel did not catch it.
        for _ in $(seq 1 240); do
            squeue -h -j "$draws_job" -t RUNNING,COMPLETING -o %K 2> /dev/null | grep -qx "$task" || break
            sleep 0.5
        done
        if [ ! -f "$file" ]; then killed=$task; break 2; fi   # else it finished before the cancel took effect: try another
    done
    sleep 0.2
done
[ -n "$killed" ] || fail "no draws task could be caught running to cancel it"
echo "   cancelled draws task $killed while it ran (${draws_runs[$killed]})"
while squeue -h -o %F | grep -qE "^($prepare_job|$draws_job|$seeds_job|$overlap_job|$summary_job)\$"; do sleep 1; done
[ -f "$work/slurm/slurm/summarize.exitcode" ] || fail "the summary job did not run after the cancelled array"
[ "$(cat "$work/slurm/slurm/summarize.exitcode")" = 3 ] || fail "the summary of the interrupted sweep exited $(cat "$work/slurm/slurm/summarize.exitcode"), expected 3 (runs missing)"
grep -q "^draws run $killed " "$work/slurm/missing.txt" || fail "missing.txt does not list the cancelled draws run $killed: $(head -n 3 "$work/slurm/missing.txt")"
[ ! -f "$(result_file "$killed")" ] || fail "the cancelled run left a result file"
echo "   summary: $(wc -l < "$work/slurm/missing.txt") runs missing, the cancelled one among them ($((SECONDS - start)) s)"

echo "== 3. submitted again"
start=$SECONDS
scripts/slurm/submit.sh --no-build --wait -- "${benchmark[@]}" --out "$work/slurm" > "$work/resubmit.log" || fail "the re-submitted sweep did not finish: $(tail -n 5 "$work/resubmit.log")"
echo "   $(tail -n 1 "$work/resubmit.log") ($((SECONDS - start)) s)"
[ ! -s "$work/slurm/missing.txt" ] || fail "runs still missing: $(head -n 3 "$work/slurm/missing.txt")"
diff <(ls "$work/single/runs") <(ls "$work/slurm/runs") > /dev/null || fail "the result files differ from the single process's: $(diff <(ls "$work/single/runs") <(ls "$work/slurm/runs") | head -n 5)"
leftovers=$(find "$work/slurm/runs" -name '.*' | wc -l)
[ "$leftovers" = 0 ] || fail "$leftovers temporary files left in runs/"
[ "$(tail -n +2 "$work/slurm/runs.csv" | cut -d, -f1-5 | sort | uniq -d | wc -l)" = 0 ] || fail "a run is in runs.csv twice"
for f in summary.md summary.csv overlap.csv; do
    cmp -s "$work/single/$f" "$work/slurm/$f" || fail "$f differs from the single process's: $(diff "$work/single/$f" "$work/slurm/$f" | head -n 6)"
done
without_seconds() { cut -d, -f1-11,13- "$1"; }
cmp -s <(without_seconds "$work/single/runs.csv") <(without_seconds "$work/slurm/runs.csv") || fail "runs.csv's scores differ from the single process's"
echo "SLURM TEST PASSED: $(ls "$work/slurm/runs"/*.csv | wc -l) results, each once; summary.md, summary.csv and overlap.csv equal the single process's."
