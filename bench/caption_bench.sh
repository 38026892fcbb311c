#!/usr/bin/env bash
# Q3 captioning decoders, graphc against eager PyTorch (bench/caption_torch.py) in the same run,
# on the same features file and the homework's recipe (Adam 4e-4, batch 8, dropout 0.5, clip 5,
# seed 42). For each decoder (DECODERS) and thread count (THREADS) it runs REPEATS times, graphc
# and PyTorch interleaved:
#   * one training epoch (the 2485 training captions in 311 batches of 8, 21 steps each);
#   * greedy decoding of the 58 validation images after that epoch, one image at a time
#     (BLEU scoring not timed). graphc's static graph always unrolls all 22 steps; PyTorch's
#     loop stops at <end_seq>, so it may do fewer steps per image.
# Then bench/caption_compare.py prints medians with (min-max) spread and the ratios
# torch/graphc, graphc's OpenBLAS core and the machine load of each group.
# Progress goes to stderr, the table to stdout; the JSON of every run stays in OUT.
#
#   swift build -c release
#   bench/caption_bench.sh FEATURES.hdf5
#   THREADS=1 REPEATS=5 DECODERS=attention bench/caption_bench.sh FEATURES.hdf5
#   ENCODER_IMAGES=10 bench/caption_bench.sh FEATURES.hdf5     # also ResNet-18 s/image, 2 threads
#   UNFUSED=0 bench/caption_bench.sh FEATURES.hdf5             # without the graphc --fusion off runs
#
# FEATURES.hdf5: (613, 256, 512) float32, row = image number - 1, e.g. made by
#   graphc graphs/resnet18.swiftgraph --extract-features --images ../shared/data/sydney-captions/images --out all_features.hdf5
# Environment: GRAPHC (default .build/release/graphc), DATA (default ../shared/data/sydney-captions),
# THREADS ("1 2"), REPEATS (3), DECODERS ("lstm attention"), OUT (bench/out/captions; emptied of
# earlier runs first), OPENBLAS_CORETYPE (passed to graphc if set; never set by tests or CI; with
# Haswell or Zen graphc also gets --isa avx2, see bench/isa.sh; ISA=... overrides),
# TUNE (graphc's --tune, default fast: a short run per decoder and thread count first fills the
# tuning cache TUNING_CACHE, default OUT/tuning.json, emptied first so each run measures its own
# choices rather than reading those of another run, perhaps on a busy machine; the timed runs
# read them),
# PYTHON (the interpreter with torch, h5py and nltk; default .venv-bench/bin/python if present).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/isa.sh
features=${1:?usage: bench/caption_bench.sh FEATURES.hdf5 (graphc --extract-features makes one; see the header)}
GRAPHC=${GRAPHC:-.build/release/graphc}
DATA=${DATA:-../shared/data/sydney-captions}
THREADS=${THREADS:-"1 2"}
REPEATS=${REPEATS:-3}
DECODERS=${DECODERS:-"lstm attention"}
OUT=${OUT:-bench/out/captions}
ENCODER_IMAGES=${ENCODER_IMAGES:-0}
UNFUSED=${UNFUSED:-1}
TUNE=${TUNE:-fast}
PYTHON=${PYTHON:-$([ -x .venv-bench/bin/python ] && echo .venv-bench/bin/python || echo python3)}
read -r -a isa <<< "$(isa_args "${OPENBLAS_CORETYPE:-}")"
export GRAPHC_TUNING_CACHE=${TUNING_CACHE:-$OUT/tuning.json}

die() { echo "bench/caption_bench.sh: $*" >&2; exit 1; }
say() { echo "[$(date -u +%T)] $*" >&2; }
[ -x "$GRAPHC" ] || die "$GRAPHC not found; build it with: swift build -c release (or set GRAPHC)"
[ -f "$features" ] || die "$features: no such features file"
[ -d "$DATA/datasets" ] || die "$DATA: not the Sydney-Captions folder (no datasets/); set DATA"
for d in $DECODERS; do [ -f "graphs/caption_$d.swiftgraph" ] || die "unknown decoder '$d' (graphs/caption_$d.swiftgraph)"; done
torch=yes
"$PYTHON" -c 'import torch, h5py, nltk' 2>/dev/null || { torch=no; echo "bench/caption_bench.sh: PyTorch, h5py or nltk missing: graphc only, no ratios" >&2; }

mkdir -p "$OUT"
rm -f "$OUT"/graphc-*.json "$OUT"/graphc_unfused-*.json "$OUT"/torch-*.json "$OUT"/load-*.txt "$OUT"/trips-*.txt "$OUT"/l3-*.txt "$OUT"/machine.txt
if [ -z "${TUNING_CACHE:-}" ]; then rm -f "$OUT/tuning.json"; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $("$GRAPHC" --version 2>/dev/null || echo graphc); features $features" > "$OUT/machine.txt"
say "machine: $(cat "$OUT/machine.txt"); load $(cut -d' ' -f1-3 /proc/loadavg)"

# The vCPUs' placement around every timed process, in the log (see bench/core_round_trip.sh).
# shellcheck source=bench/core_round_trip.sh
. bench/core_round_trip.sh
# Each reading also goes to OUT/trips-<decoder>-t<threads>-r<r>.txt, one number per line in run
# order (before graphc, after it, after graphc --fusion off when UNFUSED=1, after PyTorch): each
# process's placement is the pair around it (bench/caption_compare.py).
# The lower of the vCPUs' L3 rates (`l3_gbs`) goes the same way to OUT/l3-<decoder>-t<threads>-r<r>.txt.
placement() {
  local ns l3; ns=$(round_trip_ns); l3=$(l3_gbs)
  [ -z "$ns" ] || { say "    core round trip $1: $ns ns"; echo "$ns" >> "$OUT/trips-$model-t$t-r$r.txt"; }
  [ -z "$l3" ] || { say "    L3 rate $1: $l3 GB/s"; echo "$l3" >> "$OUT/l3-$model-t$t-r$r.txt"; }
}
for model in $DECODERS; do
  flag=""; tag=enc_dec
  [ "$model" = attention ] && { flag="--attention"; tag=enc_dec_w_attention; }
  for t in $THREADS; do
    if [ "$TUNE" != off ]; then
      # 21 captions: two batches of 8 and one of 5, the shapes of an epoch's full batches and
      # of its last one (2485 = 310 x 8 + 5), so that no timed epoch measures a choice itself.
      say "$model, $t thread(s): tuning run on 21 captions (cache $GRAPHC_TUNING_CACHE)"
      for fusion in on off; do
        rm -rf "$tmp/graphc"
        "$GRAPHC" "graphs/caption_$model.swiftgraph" --train --epochs 1 --limit 21 --features "$features" --data "$DATA" \
            --out "$tmp/graphc" --threads "$t" --tune "$TUNE" "${isa[@]}" --fusion $fusion > "$tmp/graphc.log" 2>&1 \
          || { tail -20 "$tmp/graphc.log" >&2; die "graphc tuning run failed on $model (log above)"; }
        grep -h "^fusion (" "$tmp/graphc.log" >&2 || true
      done
    fi
    cut -d' ' -f1-3 /proc/loadavg > "$OUT/load-$model-t$t.txt"
    for r in $(seq 1 "$REPEATS"); do
      say "$model, $t thread(s), run $r/$REPEATS: graphc (load $(cut -d' ' -f1 /proc/loadavg))"
      placement before
      rm -rf "$tmp/graphc"
      "$GRAPHC" "graphs/caption_$model.swiftgraph" --train --epochs 1 --features "$features" --data "$DATA" \
          --out "$tmp/graphc" --threads "$t" --tune "$TUNE" "${isa[@]}" > "$tmp/graphc.log" 2>&1 \
        || { tail -20 "$tmp/graphc.log" >&2; die "graphc failed on $model (log above)"; }
      cp "$tmp/graphc/$tag/metrics.json" "$OUT/graphc-$model-t$t-r$r.json"
      python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['epochs'][0]; print(f'    graphc: epoch {e[\"seconds\"]:.2f} s, val decode {e[\"decode_seconds\"]:.2f} s', file=sys.stderr)" "$OUT/graphc-$model-t$t-r$r.json"
      if [ "$UNFUSED" = 1 ]; then
        placement after
        say "$model, $t thread(s), run $r/$REPEATS: graphc --fusion off (load $(cut -d' ' -f1 /proc/loadavg))"
        rm -rf "$tmp/graphc"
        "$GRAPHC" "graphs/caption_$model.swiftgraph" --train --epochs 1 --features "$features" --data "$DATA" \
            --out "$tmp/graphc" --threads "$t" --tune "$TUNE" "${isa[@]}" --fusion off > "$tmp/graphc.log" 2>&1 \
          || { tail -20 "$tmp/graphc.log" >&2; die "graphc --fusion off failed on $model (log above)"; }
        cp "$tmp/graphc/$tag/metrics.json" "$OUT/graphc_unfused-$model-t$t-r$r.json"
        python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['epochs'][0]; print(f'    graphc --fusion off: epoch {e[\"seconds\"]:.2f} s, val decode {e[\"decode_seconds\"]:.2f} s', file=sys.stderr)" "$OUT/graphc_unfused-$model-t$t-r$r.json"
      fi
      if [ $torch = yes ]; then
        placement after
        say "$model, $t thread(s), run $r/$REPEATS: PyTorch (load $(cut -d' ' -f1 /proc/loadavg))"
        # Output goes to a file, not a pipe: piped, torch's worker threads ran up to 8x slower here.
        "$PYTHON" bench/caption_torch.py --features "$features" --data "$DATA" --epochs 1 --threads "$t" $flag \
            > "$OUT/torch-$model-t$t-r$r.json" 2> "$tmp/torch.log" \
          || { tail -20 "$tmp/torch.log" >&2; die "bench/caption_torch.py failed on $model (log above)"; }
        placement after
        python3 -c "import json,sys; e=json.loads(open(sys.argv[1]).readline()); print(f'    torch:  epoch {e[\"seconds\"]:.2f} s, val decode {e[\"decode_seconds\"]:.2f} s', file=sys.stderr)" "$OUT/torch-$model-t$t-r$r.json"
      fi
    done
    cut -d' ' -f1-3 /proc/loadavg >> "$OUT/load-$model-t$t.txt"
  done
done
say "machine load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/caption_compare.py "$OUT"

# The encoder, optionally: seconds per 500x500 image of ResNet-18 feature extraction, 2 threads.
if [ "$ENCODER_IMAGES" -gt 0 ]; then
  say "ResNet-18 features of $ENCODER_IMAGES images, graphc then PyTorch"
  mkdir -p "$tmp/img"
  for i in $(seq 1 "$ENCODER_IMAGES"); do ln -s "$(realpath "$DATA/images/$i.tif")" "$tmp/img/$i.tif"; done
  "$GRAPHC" graphs/resnet18.swiftgraph --extract-features --images "$tmp/img" --out "$tmp/f.hdf5" --threads 2 > "$tmp/enc.log" 2>&1 \
    || { tail -20 "$tmp/enc.log" >&2; die "graphc --extract-features failed"; }
  g=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['seconds_per_image'])" "$tmp/f.hdf5.json")
  if [ $torch = yes ]; then
    "$PYTHON" bench/features_torch.py --images "$ENCODER_IMAGES" --threads 2 > "$tmp/torch-features.json"
    t=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['seconds_per_image'])" "$tmp/torch-features.json")
    python3 -c "import sys; g,t=map(float,sys.argv[1:]); print(f'\nResNet-18 features per image, 2 threads: graphc {g:.3f} s, PyTorch {t:.3f} s, torch/graphc {t/g:.2f}x')" "$g" "$t"
  else
    echo "ResNet-18 features per image, 2 threads: graphc $g s"
  fi
fi
