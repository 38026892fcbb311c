#!/usr/bin/env bash
# Q2 CNN throughput, graphc against PyTorch (and JAX) in the same run: training images/s at
# batch 8 and 64, evaluation images/s at batch 1024, medians of REPEATS runs with their spread,
# peak RSS. For each OpenBLAS core type (CORETYPES; "default" leaves OpenBLAS's own choice) and
# each thread count (THREADS) it runs graphc fused (the default), graphc unfused with one
# buffer per value (--fusion off --memory-plan off), PyTorch and JAX (neither uses OpenBLAS, so
# they run once per thread count; each is skipped with a message if not installed), then
# prints a table of medians and ratios (bench/compare.py). Progress goes to stderr, the table
# to stdout; the JSON of every run stays in OUT.
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
        echo "[$(date -u +%T)] pytorch, $t thread(s); load $(cut -d' ' -f1 /proc/loadavg)" >&2
        python3 bench/pytorch_cnn.py --threads "$t" --repeats "$REPEATS" --seconds "$SECONDS_PER_RUN" > "$OUT/pytorch-t$t.json"
        files+=("$OUT/pytorch-t$t.json")
    else
        echo "bench/cnn.sh: PyTorch is not installed (pip install torch==2.13.0+cpu); no PyTorch rows or ratios" >&2
    fi
    # JAX limits its threads by CPU affinity (and single-threaded Eigen for one thread): see bench/jax_cnn.py.
    if python3 -c 'import jax' 2>/dev/null; then
        echo "[$(date -u +%T)] jax, $t thread(s); load $(cut -d' ' -f1 /proc/loadavg)" >&2
        python3 bench/jax_cnn.py --threads "$t" --repeats "$REPEATS" --seconds "$SECONDS_PER_RUN" > "$OUT/jax-t$t.json"
        files+=("$OUT/jax-t$t.json")
    else
        echo "bench/cnn.sh: JAX is not installed (pip install jax); no JAX rows" >&2
    fi
    for core in $CORETYPES; do
        envs=()
        [ "$core" != default ] && envs=(OPENBLAS_CORETYPE="$core")
        echo "[$(date -u +%T)] graphc (OpenBLAS core $core) fused and unfused, $t thread(s); load $(cut -d' ' -f1 /proc/loadavg)" >&2
        env "${envs[@]}" "$GRAPHC" "$MODEL" "${common[@]}" --threads "$t" --eval-threads "$t" > "$OUT/graphc-$core-t$t.json"
        env "${envs[@]}" "$GRAPHC" "$MODEL" "${common[@]}" --threads "$t" --eval-threads "$t" --fusion off --memory-plan off > "$OUT/graphc-unfused-$core-t$t.json"
        files+=("$OUT/graphc-$core-t$t.json" "$OUT/graphc-unfused-$core-t$t.json")
    done
done
echo "machine load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 bench/compare.py "${files[@]}"
