#!/usr/bin/env bash
# Data-parallel scaling on this machine: training throughput of 1 rank x 1 thread, 2 ranks x
# 1 thread (mpirun, the gradients all-reduced by the data-parallel pass's ops) and 1 rank x 2
# threads, for the Q2 CNN at batch 8 and 64 and the attention caption decoder (batch 8). Each
# cell is the median of REPEATS runs of one short epoch (--limit), with the spread (min-max);
# for 2 ranks also the all-reduce time per step and the share of it that overlapped compute
# (--profile's gradient all-reduce line). Dropout is off so every configuration computes the
# same steps. Progress goes to stderr, the table to stdout.
#
#   bench/scale.sh
#   REPEATS=5 OPENBLAS_CORETYPE=SkylakeX bench/scale.sh
#   WORKLOADS=decoder bench/scale.sh           # some of: cnn8 cnn64 decoder
set -euo pipefail
cd "$(dirname "$0")/.."
GRAPHC=${GRAPHC:-.build/release/graphc}
REPEATS=${REPEATS:-3}
CAPTIONS=${CAPTIONS:-../shared/data/sydney-captions}
OUT=${OUT:-bench/out/scale}
WORKLOADS=${WORKLOADS:-"cnn8 cnn64 decoder"}
[ -x "$GRAPHC" ] || { echo "bench/scale.sh: $GRAPHC not found; build it with: swift build -c release" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench/scale.sh: mpirun not found (scripts/install-deps.sh installs openmpi-bin)" >&2; exit 1; }
mkdir -p "$OUT"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), OpenBLAS core ${OPENBLAS_CORETYPE:-default}" >&2

# The decoder's speed does not depend on the feature values: one encoded image, the rest zero.
features="$OUT/features.hdf5"
if [ -d "$CAPTIONS/images" ] && [ ! -f "$features" ]; then
    "$GRAPHC" graphs/resnet18.swiftgraph --extract-features --images "$CAPTIONS/images" --limit 1 --out "$features" >/dev/null 2>&1
fi

mpi=(mpirun --oversubscribe -np 2)
[ "$(id -u)" -eq 0 ] && mpi=(mpirun --allow-run-as-root --oversubscribe -np 2)

# run NAME CONFIG ARGS...: one run; prints "throughput comm_ms_per_step overlapped_percent".
run() {
    local name=$1 config=$2; shift 2
    local log="$OUT/$(printf %s "$name" | tr -c "A-Za-z0-9" _)-$config-$RANDOM.log"
    case $config in
        1x1) "$GRAPHC" "$@" --threads 1 --profile > "$log" 2>&1 ;;
        2x1) "${mpi[@]}" "$GRAPHC" "$@" --threads 1 --profile > "$log" 2>&1 ;;
        1x2) "$GRAPHC" "$@" --threads 2 --profile > "$log" 2>&1 ;;
    esac
    awk -v items="$ITEMS" '
        /^epoch/ && /images\/s/ { for (i = 1; i <= NF; i++) if ($i == "images/s") rate = $(i - 1) }
        /^epoch/ && /s train,/ { for (i = 1; i <= NF; i++) if ($i == "train,") rate = items / $(i - 2) }
        /gradient all-reduce/ { for (i = 1; i <= NF; i++) { if ($i == "ms/step" && $(i + 1) == "communicating,") comm = $(i - 1)
                                                             if ($i ~ /%$/) hidden = substr($i, 1, length($i) - 1) } }
        END { if (rate == "") exit 1; printf "%s %s %s\n", rate, comm == "" ? "-" : comm, hidden == "" ? "-" : hidden }
    ' "$log" || { echo "bench/scale.sh: run failed, see $log" >&2; exit 1; }
}

# cell NAME CONFIG ARGS...: REPEATS runs -> one table row.
cell() {
    local name=$1 config=$2; shift 2
    local rates=() comms=() hiddens=()
    for _ in $(seq "$REPEATS"); do
        read -r rate comm hidden < <(run "$name" "$config" "$@")
        rates+=("$rate"); comms+=("$comm"); hiddens+=("$hidden")
        echo "  $name $config: $rate/s, all-reduce $comm ms/step, $hidden% overlapped" >&2
    done
    median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    local lo hi
    lo=$(printf '%s\n' "${rates[@]}" | sort -g | head -1); hi=$(printf '%s\n' "${rates[@]}" | sort -g | tail -1)
    local comm="-" hidden="-"
    [ "${comms[0]}" != "-" ] && comm=$(median "${comms[@]}") && hidden=$(median "${hiddens[@]}")
    printf "| %s | %s | %.0f | %.0f-%.0f | %s | %s |\n" "$name" "$config" "$(median "${rates[@]}")" "$lo" "$hi" "$comm" "$hidden"
}

printf "| workload | ranks x threads | items/s (median) | spread | all-reduce ms/step | overlapped %% |\n|---|---|---|---|---|---|\n"
cnn=(graphs/cnn.swiftgraph --train --epochs 1 --dropout 0 --out "$OUT/results")
wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }
if wants cnn8; then for config in 1x1 2x1 1x2; do ITEMS=0 cell "Q2 CNN, batch 8 (images/s)" "$config" "${cnn[@]}" --batch-size 8 --limit 1600; done; fi
if wants cnn64; then for config in 1x1 2x1 1x2; do ITEMS=0 cell "Q2 CNN, batch 64 (images/s)" "$config" "${cnn[@]}" --batch-size 64 --limit 6400; done; fi
if ! wants decoder; then :
elif [ -f "$features" ]; then
    dec=(graphs/caption_attention.swiftgraph --train --epochs 1 --dropout 0 --data "$CAPTIONS" --features "$features" --limit 800 --out "$OUT/results")
    for config in 1x1 2x1 1x2; do ITEMS=800 cell "attention decoder, batch 8 (captions/s)" "$config" "${dec[@]}"; done
else
    echo "bench/scale.sh: no Sydney-Captions at $CAPTIONS: the decoder rows are left out" >&2
fi
