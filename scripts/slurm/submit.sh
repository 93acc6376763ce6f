#!/usr/bin/env bash
# Submits the fair benchmark (examples/FairBenchmark) to Slurm as job arrays: one array task per run (or per --chunk
# runs), each writing its own result file in the shared output folder; Slurm schedules everything.
#
#   scripts/slurm/submit.sh [launcher options] [-- benchmark options]
#
# Five jobs, each waiting for what it needs:
#   prepare    one task: builds every set's data (images, feature files) once, so that tasks do not race to write them;
#   draws      array over `--stage draws` (every draw with seed 0, the defaults' seeds), after prepare succeeded;
#   seeds      array over `--stage seeds` (the chosen draws' seeds, the protocol's defaults), after every draws task
#              succeeded (a failed or killed task cancels it);
#   overlap    one task, `--overlap` (the rows FlatDebias, JTT and PGD single out), after prepare, beside the arrays;
#   summarize  `--summarize` after the seeds array and overlap ended however they ended: merges what has finished,
#              lists what is missing (exit code 3 then).
# Submitting the same command again finishes an interrupted sweep: finished runs are skipped in a second or so.
#
# Launcher options:
#   --cpus N          CPUs per task (default: the benchmark's --threads, else 1)
#   --mem SIZE        memory per task (default 4G; prepare gets twice that)
#   --time LIMIT      time limit per task, Slurm's format (default: the partition's)
#   --partition NAME  partition (default: the cluster's default)
#   --chunk K         runs per array task (default 1; use it where MaxArraySize is below the run count)
#   --wait            wait for the summary, print it and exit with its exit code
#   --no-build        use the existing build (default: dotnet build -c Release first)
# Benchmark options (after --): as `dotnet run --project examples/FairBenchmark -- --help` lists them; --out names the
# shared folder (default out/fair-benchmark; must be on a file system every node sees, as must this checkout);
# --device Cuda asks each task for one GPU (--gres=gpu:1) and builds the CUDA backend (-p:TorchBackend=cuda-linux).
# Do not rebuild the program while a sweep runs: its tasks run the build in examples/FairBenchmark/bin.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

cpus="" mem=4G time_limit="" partition="" chunk=1 wait=0 build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --cpus) cpus=$2; shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --time) time_limit=$2; shift 2 ;;
        --partition) partition=$2; shift 2 ;;
        --chunk) chunk=$2; shift 2 ;;
        --wait) wait=1; shift ;;
        --no-build) build=0; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown launcher option '$1' (benchmark options go after --); see --help" >&2; exit 2 ;;
    esac
done
args=("$@")
out=out/fair-benchmark threads=1 gpu=0
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --out) out=${args[i+1]} ;;
        --threads) threads=${args[i+1]} ;;
        --device) [[ "${args[i+1],,}" == cuda ]] && gpu=1 ;;
        --stage|--run-index|--list-runs|--summarize|--prepare|--overlap)
            echo "error: ${args[i]} is the launcher's to set; give the sweep's options only" >&2; exit 2 ;;
    esac
done
cpus=${cpus:-$threads}
if ! [[ "$chunk" =~ ^[1-9][0-9]*$ ]]; then echo "error: --chunk must be a positive integer, not '$chunk'" >&2; exit 2; fi
command -v sbatch > /dev/null || { echo "error: sbatch not found: this launcher needs a Slurm client (scripts/slurm/local-cluster.sh starts a one-node cluster)" >&2; exit 1; }

dll=$repo/examples/FairBenchmark/bin/Release/net10.0/MLNet.FlatDebias.Examples.FairBenchmark.dll
if [ "$build" = 1 ]; then
    backend=()
    [ "$gpu" = 1 ] && backend=(-p:TorchBackend=cuda-linux)
    dotnet build examples/FairBenchmark -c Release -v q -nologo "${backend[@]}" > /dev/null
fi
[ -f "$dll" ] || { echo "error: $dll is missing: build it (dotnet build examples/FairBenchmark -c Release) or drop --no-build" >&2; exit 1; }

mkdir -p "$out"
out=$(cd "$out" && pwd)
slurm=$out/slurm
mkdir -p "$slurm/logs"
draws=$(dotnet "$dll" "${args[@]}" --list-runs --stage draws | wc -l)
seeds=$(dotnet "$dll" "${args[@]}" --list-runs --stage seeds | wc -l)
[ "$draws" -gt 0 ] || { echo "error: the benchmark lists no runs for these options" >&2; exit 1; }

# One script per step; the benchmark's options are written in quoted, so that every task runs the same command line.
quoted=$(printf ' %q' "${args[@]}")
write_step() {   # name, the program's step options, run count (0: not an array)
    cat > "$slurm/$1.sh" <<STEP
#!/usr/bin/env bash
# Written by scripts/slurm/submit.sh: the fair benchmark's $1 step.
set -uo pipefail
cd $(printf %q "$repo")
export OMP_WAIT_POLICY=PASSIVE   # libtorch's threads wait without spinning beside other tasks on the node
STEP
    if [ "$3" -gt 0 ]; then
        cat >> "$slurm/$1.sh" <<STEP
first=\$((SLURM_ARRAY_TASK_ID * $chunk))
last=\$((first + $chunk - 1)); [ \$last -lt $3 ] || last=$(( $3 - 1 ))
exec dotnet $(printf %q "$dll")$quoted $2 --run-index \$first-\$last
STEP
    elif [ "$1" = summarize ]; then
        cat >> "$slurm/$1.sh" <<STEP
dotnet $(printf %q "$dll")$quoted $2
code=\$?
echo \$code > $(printf %q "$slurm/summarize.exitcode")
exit \$code
STEP
    else
        echo "exec dotnet $(printf %q "$dll")$quoted $2" >> "$slurm/$1.sh"
    fi
    chmod +x "$slurm/$1.sh"
}
write_step prepare "--prepare" 0
write_step draws "--stage draws" "$draws"
write_step seeds "--stage seeds" "$seeds"
write_step overlap "--overlap" 0
write_step summarize "--summarize" 0
rm -f "$slurm/summarize.exitcode"

common=(--parsable --chdir="$repo" --cpus-per-task="$cpus")
[ -n "$partition" ] && common+=(--partition="$partition")
[ -n "$time_limit" ] && common+=(--time="$time_limit")
gres=()
[ "$gpu" = 1 ] && gres=(--gres=gpu:1)
prepare_mem="$(( $(numfmt --from=iec "${mem%B}") * 2 / 1048576 ))M"
tasks() { echo "0-$(( ($1 + chunk - 1) / chunk - 1 ))"; }

prepare_job=$(sbatch "${common[@]}" "${gres[@]}" --mem="$prepare_mem" --job-name=fb-prepare --output="$slurm/logs/prepare-%j.out" "$slurm/prepare.sh")
draws_job=$(sbatch "${common[@]}" "${gres[@]}" --mem="$mem" --job-name=fb-draws --array="$(tasks "$draws")" \
    --dependency=afterok:"$prepare_job" --kill-on-invalid-dep=yes --output="$slurm/logs/draws-%A_%a.out" "$slurm/draws.sh")
seeds_job=""
if [ "$seeds" -gt 0 ]; then
    seeds_job=$(sbatch "${common[@]}" "${gres[@]}" --mem="$mem" --job-name=fb-seeds --array="$(tasks "$seeds")" \
        --dependency=afterok:"$draws_job" --kill-on-invalid-dep=yes --output="$slurm/logs/seeds-%A_%a.out" "$slurm/seeds.sh")
fi
overlap_job=$(sbatch "${common[@]}" "${gres[@]}" --mem="$mem" --job-name=fb-overlap --dependency=afterok:"$prepare_job" \
    --kill-on-invalid-dep=yes --output="$slurm/logs/overlap-%j.out" "$slurm/overlap.sh")
summary_job=$(sbatch "${common[@]}" --mem="$mem" --job-name=fb-summarize --dependency=afterany:"${seeds_job:-$draws_job}":"$overlap_job" \
    --output="$slurm/logs/summarize-%j.out" "$slurm/summarize.sh")
echo "$prepare_job $draws_job ${seeds_job:-none} $overlap_job $summary_job" > "$slurm/jobs"
echo "Submitted: prepare $prepare_job; draws $draws_job ($draws runs); seeds ${seeds_job:-none} ($seeds runs); overlap $overlap_job; summarize $summary_job."
echo "Results: $out (runs/ per run; summary.md, summary.csv, runs.csv, missing.txt after the summary); logs: $slurm/logs"

if [ "$wait" = 1 ]; then
    pattern="^($prepare_job|$draws_job${seeds_job:+|$seeds_job}|$overlap_job|$summary_job)\$"
    while squeue -h -o %F | grep -qE "$pattern"; do sleep 2; done
    if [ ! -f "$slurm/summarize.exitcode" ]; then
        echo "error: the summary job $summary_job did not finish; see $slurm/logs/summarize-$summary_job.out" >&2
        exit 1
    fi
    cat "$slurm/logs/summarize-$summary_job.out"
    exit "$(cat "$slurm/summarize.exitcode")"
fi
