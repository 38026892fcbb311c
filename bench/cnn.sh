#!/usr/bin/env bash
# Q2 CNN throughput, graphc against PyTorch (and JAX) in the same run: training images/s at
# batch 8 and 64, evaluation images/s at batch 1024, medians of REPEATS runs with their spread,
# peak RSS. For each OpenBLAS core type (CORETYPES; "default" leaves OpenBLAS's own choice) and
# each thread count (THREADS) it runs graphc fused (the default), graphc unfused with one
# buffer per value (--fusion off --memory-plan off), PyTorch and JAX (neither uses OpenBLAS,
# so they run once per round whatever the core type; each is skipped with a message if not
# installed): REPEATS rounds, each process once per round, then a table of medians and
# ratios (bench/compare.py), with the median of the rounds' paired ratios beside each. Progress goes to stderr, the table
# to stdout; the JSON of every run stays in OUT.
#
#   bench/cnn.sh                                   # 1 and 2 threads, OpenBLAS's own kernels
#   CORETYPES="default SkylakeX" REPEATS=7 bench/cnn.sh
#
# OPENBLAS_CORETYPE is set here, for the benchmarked processes only; tests and CI never set it.
# With a core type without AVX-512 (Haswell, Zen) graphc also gets --isa avx2 (bench/isa.sh; ISA=...
# overrides), so its own kernels run as on such a CPU; PyTorch and JAX keep the CPU's best.
#
# Tuning (TUNE, default fast; "off" for the fixed defaults): before the measured runs of each
# core type and thread count, one short graphc run fills the tuning cache (TUNING_CACHE,
# default OUT/tuning.json, kept), so the measured runs read their kernel and fusion choices
# from it as any later run on this machine would, and their peak RSS holds no tuning. The
# table then shows fused / unfused per row, and the fusion each row chose.
# Fused against unfused in one process: after the rounds, one graphc process per core type and
# thread count times the model and its unfused build in turn (--bench-pairs PAIRS, default 12,
# runs of PAIR_SECONDS, default 0.5; PAIRS=0 skips it), so that the fusion verdict does not
# hang on a process that ran in a slow state or a vCPU placement the other did not have.
# PYTHON: the interpreter with torch and jax (default: .venv-bench/bin/python if present).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/isa.sh
GRAPHC=${GRAPHC:-.build/release/graphc}
THREADS=${THREADS:-"1 2"}
REPEATS=${REPEATS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-2}
CORETYPES=${CORETYPES:-default}
OUT=${OUT:-bench/out}
PAIRS=${PAIRS:-12}
PAIR_SECONDS=${PAIR_SECONDS:-0.5}
MODEL=graphs/cnn.swiftgraph
TUNE=${TUNE:-fast}
PYTHON=${PYTHON:-$([ -x .venv-bench/bin/python ] && echo .venv-bench/bin/python || echo python3)}
export GRAPHC_TUNING_CACHE=${TUNING_CACHE:-$OUT/tuning.json}
[ -x "$GRAPHC" ] || { echo "bench/cnn.sh: $GRAPHC not found; build it with: swift build -c release" >&2; exit 1; }
mkdir -p "$OUT"
# Where the host placed the two vCPUs (bench/core_round_trip.sh), measured before and after
# every timed process and added to its round file ("core_round_trip_ns"): bench/compare.py
# then pairs the rounds in which both processes ran with the same placement. The lower of the
# vCPUs' L3 rates (`l3_gbs`) goes in too ("core_l3_gbs"), and compare.py shows it per round.
# `timed FILE CMD...` runs CMD with its stdout in FILE.
# shellcheck source=bench/core_round_trip.sh
. bench/core_round_trip.sh
# `around FILE KEY WHAT UNIT BEFORE AFTER`: logs the two readings and adds them to FILE's JSON
# as KEY, when both were taken.
around() {
    [ -n "$5" ] && [ -n "$6" ] || return 0
    echo "$3 around $(basename "$1" .round): $5 $4, $6 $4" >&2
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d[sys.argv[2]] = [float(sys.argv[3]), float(sys.argv[4])]
json.dump(d, open(sys.argv[1], "w"))' "$1" "$2" "$5" "$6"
}
timed() {
    local file=$1; shift
    local before after l3_before l3_after
    before=$(round_trip_ns); l3_before=$(l3_gbs)
    "$@" > "$file"
    after=$(round_trip_ns); l3_after=$(l3_gbs)
    around "$file" core_round_trip_ns "core round trip" ns "$before" "$after"
    around "$file" core_l3_gbs "L3 rate" GB/s "$l3_before" "$l3_after"
}
common=(--tune "$TUNE" --bench --bench-repeats "$REPEATS" --bench-seconds "$SECONDS_PER_RUN" --bench-batches 8,64 --bench-eval-batch 1024)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
has_torch=0; has_jax=0
if "$PYTHON" -c 'import torch' 2>/dev/null; then has_torch=1; else
    echo "bench/cnn.sh: PyTorch is not installed (pip install torch==2.13.0+cpu); no PyTorch rows or ratios" >&2; fi
if "$PYTHON" -c 'import jax' 2>/dev/null; then has_jax=1; else
    echo "bench/cnn.sh: JAX is not installed (pip install jax); no JAX rows" >&2; fi
files=()
for t in $THREADS; do
    if [ "$TUNE" != off ]; then
        for core in $CORETYPES; do
            envs=()
            [ "$core" != default ] && envs=(OPENBLAS_CORETYPE="$core")
            read -r -a isa <<< "$(isa_args "$core")"
            echo "[$(date -u +%T)] graphc (OpenBLAS core $core), $t thread(s): tuning run (cache $GRAPHC_TUNING_CACHE)" >&2
            for fusion in on off; do
                env "${envs[@]}" "$GRAPHC" "$MODEL" "${common[@]}" --bench-repeats 1 --bench-seconds 0.2 --threads "$t" --eval-threads "$t" "${isa[@]}" \
                    --fusion $fusion --memory-plan $fusion > /dev/null
            done
        done
    fi
    # Every framework and variant runs once per round, one after another, so that a virtual
    # machine whose speed drifts over minutes slows all of them alike: bench/merge_runs.py joins
    # each one's rounds, and bench/compare.py adds the median of the rounds' paired ratios
    # (graphc against PyTorch, fused against unfused) beside the ratio of the medians.
    # PyTorch and JAX do not use OpenBLAS, so they run once per round whatever CORETYPES holds.
    declare -A rounds=()
    for r in $(seq 1 "$REPEATS"); do
        echo "[$(date -u +%T)] round $r of $REPEATS, $t thread(s); load $(cut -d' ' -f1 /proc/loadavg)" >&2
        if [ $has_torch = 1 ]; then
            timed "$OUT/pytorch-t$t-r$r.round" "$PYTHON" bench/pytorch_cnn.py --threads "$t" --repeats 1 --seconds "$SECONDS_PER_RUN"
            rounds[pytorch-t$t]+=" $OUT/pytorch-t$t-r$r.round"
        fi
        # JAX limits its threads by CPU affinity (and single-threaded Eigen for one thread): see bench/jax_cnn.py.
        if [ $has_jax = 1 ]; then
            timed "$OUT/jax-t$t-r$r.round" "$PYTHON" bench/jax_cnn.py --threads "$t" --repeats 1 --seconds "$SECONDS_PER_RUN"
            rounds[jax-t$t]+=" $OUT/jax-t$t-r$r.round"
        fi
        for core in $CORETYPES; do
            envs=()
            [ "$core" != default ] && envs=(OPENBLAS_CORETYPE="$core")
            read -r -a isa <<< "$(isa_args "$core")"
            timed "$OUT/graphc-$core-t$t-r$r.round" \
                env "${envs[@]}" "$GRAPHC" "$MODEL" "${common[@]}" --bench-repeats 1 --threads "$t" --eval-threads "$t" "${isa[@]}"
            timed "$OUT/graphc-unfused-$core-t$t-r$r.round" \
                env "${envs[@]}" "$GRAPHC" "$MODEL" "${common[@]}" --bench-repeats 1 --threads "$t" --eval-threads "$t" "${isa[@]}" --fusion off --memory-plan off
            rounds[graphc-$core-t$t]+=" $OUT/graphc-$core-t$t-r$r.round"
            rounds[graphc-unfused-$core-t$t]+=" $OUT/graphc-unfused-$core-t$t-r$r.round"
        done
    done
    if [ "$PAIRS" -gt 0 ]; then
        for core in $CORETYPES; do
            envs=()
            [ "$core" != default ] && envs=(OPENBLAS_CORETYPE="$core")
            read -r -a isa <<< "$(isa_args "$core")"
            echo "[$(date -u +%T)] graphc (OpenBLAS core $core), $t thread(s): fused against unfused, $PAIRS pairs in one process" >&2
            timed "$OUT/graphc-pairs-$core-t$t.json" \
                env "${envs[@]}" "$GRAPHC" "$MODEL" "${common[@]}" --bench-repeats 1 --bench-seconds "$PAIR_SECONDS" --bench-pairs "$PAIRS" \
                --threads "$t" --eval-threads "$t" "${isa[@]}"
            files+=("$OUT/graphc-pairs-$core-t$t.json")
        done
    fi
    for name in "${!rounds[@]}"; do
        read -r -a parts <<< "${rounds[$name]}"
        python3 bench/merge_runs.py "${parts[@]}" > "$OUT/$name.json"
        files+=("$OUT/$name.json")
    done
    unset rounds
done
echo "machine load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 bench/compare.py "${files[@]}"
