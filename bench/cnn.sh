#!/usr/bin/env bash
# Q2 CNN throughput, graphc against PyTorch in the same run: training images/s at batch 8 and
# 64, evaluation images/s at batch 1024, medians of REPEATS runs with their spread, peak RSS.
# For each OpenBLAS core type (CORETYPES; "default" leaves OpenBLAS's own choice) and each
# thread count (THREADS) it runs graphc fused (the default), graphc unfused with one buffer
# per value (--fusion off --memory-plan off), and PyTorch (which does not use OpenBLAS, so it
# runs once per thread count), then prints a table of medians and ratios (bench/compare.py).
#
#   bench/cnn.sh                                   # 1 and 2 threads, OpenBLAS's own kernels
#   CORETYPES="default SkylakeX" REPEATS=7 bench/cnn.sh
#
# OPENBLAS_CORETYPE is set here, for the benchmarked processes only; tests and CI never set it.
set -euo pipefail
cd "$(dirname "$0")/.."
GRAPHC=${GRAPHC:-.build/release/graphc}
THREADS=${THREADS:-"1 2"}
REPEATS=${REPEATS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-2}
CORETYPES=${CORETYPES:-default}
OUT=${OUT:-bench/out}
MODEL=graphs/cnn.swiftgraph
[ -x "$GRAPHC" ] || { echo "bench/cnn.sh: $GRAPHC not found; build it with: swift build -c release" >&2; exit 1; }
mkdir -p "$OUT"
common=(--bench --bench-repeats "$REPEATS" --bench-seconds "$SECONDS_PER_RUN" --bench-batches 8,64 --bench-eval-batch 1024)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
files=()
for t in $THREADS; do
    if python3 -c 'import torch' 2>/dev/null; then
        python3 bench/pytorch_cnn.py --threads "$t" --repeats "$REPEATS" --seconds "$SECONDS_PER_RUN" > "$OUT/pytorch-t$t.json"
        files+=("$OUT/pytorch-t$t.json")
    else
        echo "bench/cnn.sh: PyTorch is not installed (pip install torch==2.13.0+cpu); graphc only" >&2
    fi
    for core in $CORETYPES; do
        envs=()
        [ "$core" != default ] && envs=(OPENBLAS_CORETYPE="$core")
        env "${envs[@]}" "$GRAPHC" "$MODEL" "${common[@]}" --threads "$t" --eval-threads "$t" > "$OUT/graphc-$core-t$t.json"
        env "${envs[@]}" "$GRAPHC" "$MODEL" "${common[@]}" --threads "$t" --eval-threads "$t" --fusion off --memory-plan off > "$OUT/graphc-unfused-$core-t$t.json"
        files+=("$OUT/graphc-$core-t$t.json" "$OUT/graphc-unfused-$core-t$t.json")
    done
done
python3 bench/compare.py "${files[@]}"
