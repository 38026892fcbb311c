#!/usr/bin/env bash
# The main job: the whole homework, answered on one page.
#
#   ./scripts/homework.sh              # install what is missing, build (release), Q1, Q2, Q3, results/index.html
#   ./scripts/homework.sh q1|q2|q3     # one part (then the page again); several parts may be given
#   ./scripts/homework.sh page         # only rebuild results/index.html from what is there
#   ./scripts/homework.sh --quick      # a complete page in a couple of minutes (small data, 1 epoch), in results-quick/
#
# Environment:
#   HOMEWORK_OUT=DIR                 results folder (default results, or results-quick with --quick)
#   HOMEWORK_DATA=DIR                Sydney-Captions folder (default ../shared/data/sydney-captions)
#   HOMEWORK_FEATURES=FILE           the course's all_features.hdf5: skips feature extraction
#   HOMEWORK_ENCODER_WEIGHTS=FILE    ResNet-18 weights for feature extraction (resnet18-f37072fd.pth)
#   HOMEWORK_QUICK=1                 same as --quick
#
# Each part is written to DIR/.PART.partial and renamed over DIR/PART when it has finished, so
# an interrupted run leaves the previous answers whole. DIR/PART/steps.tsv records every
# command with its wall time; the page shows them.
set -euo pipefail
cd "$(dirname "$0")/.."

quick="${HOMEWORK_QUICK:-0}"
parts=()
for arg in "$@"; do
  case "$arg" in
    q1|q2|q3|page) parts+=("$arg") ;;
    all) parts+=(q1 q2 q3) ;;
    --quick) quick=1 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "homework.sh: unknown argument '$arg' (give q1, q2, q3, page, all or --quick; --help explains)" >&2; exit 2 ;;
  esac
done
[ ${#parts[@]} -eq 0 ] && parts=(q1 q2 q3)
[ "$quick" = 1 ] && default_out=results-quick || default_out=results
out="${HOMEWORK_OUT:-$default_out}"
data="${HOMEWORK_DATA:-../shared/data/sydney-captions}"
graphc=.build/release/graphc
start=$SECONDS

elapsed() { local s=$((SECONDS - start)); printf '%d:%02d' $((s / 60)) $((s % 60)); }
say() { printf '\n[homework %s] %s\n' "$(elapsed)" "$*" >&2; }

# step PART LABEL graphc ARGS...: runs graphc, prints a line before and after with the elapsed
# time, and records the command (as a user would type it, with the final folder) in steps.tsv.
step() {
  local part="$1" label="$2"; shift 2
  local shown="graphc"
  for a in "${@:2}"; do shown+=" ${a//$out\/.$part.partial/$out/$part}"; done
  say "$part: $label: $shown"
  local t0=$SECONDS
  "$graphc" "${@:2}"
  local took=$((SECONDS - t0))
  printf '%s\t%d\t%s\n' "$label" "$took" "$shown" >> "$out/.$part.partial/steps.tsv"
  say "$part: $label done in ${took} s"
}

begin_part() { rm -rf "$out/.$1.partial"; mkdir -p "$out/.$1.partial"; }
finish_part() {
  rm -rf "$out/.$1.old"
  [ -d "$out/$1" ] && mv "$out/$1" "$out/.$1.old"
  mv "$out/.$1.partial" "$out/$1"
  rm -rf "$out/.$1.old"
}

run_q1() {
  local p="$out/.q1.partial"
  begin_part q1
  say "q1: parameter counts of the CNN and the MLP"
  local t0=$SECONDS
  "$graphc" graphs/q1_cnn.swiftgraph graphs/q1_mlp.swiftgraph --count-params | tee "$p/count-params.txt"
  printf '%s\t%d\t%s\n' "parameter counts" $((SECONDS - t0)) "graphc graphs/q1_cnn.swiftgraph graphs/q1_mlp.swiftgraph --count-params" >> "$p/steps.tsv"
  step q1 "self-attention heads, run through --run's code path" graphc graphs/q1_attention.swiftgraph --attention-study --seed 7 --out "$p"
  step q1 "the related heads again with --run" graphc graphs/q1_attention.swiftgraph --run --weights "$p/heads.safetensors" --inputs "X=$p/X.npy"
  finish_part q1
}

run_q2() {
  local p="$out/.q2.partial" quick_flags=()
  [ "$quick" = 1 ] && quick_flags=(--limit 2000 --epochs 1)
  begin_part q2
  step q2 "learning-rate sweep (SGD, batch 8, the model's recipe)" graphc graphs/cnn.swiftgraph --train --lr 0.001,0.01,0.1 "${quick_flags[@]}" --out "$p"
  finish_part q2
}

run_q3() {
  local p="$out/.q3.partial" limit=() features="${HOMEWORK_FEATURES:-}"
  [ "$quick" = 1 ] && limit=(--limit 40)
  begin_part q3
  if [ -z "$features" ]; then
    # Outside the part's folder: both decoders and later runs of q3 read this one file.
    features="$out/features/all_features.hdf5"
    local weights=()
    [ -n "${HOMEWORK_ENCODER_WEIGHTS:-}" ] && weights=(--weights "$HOMEWORK_ENCODER_WEIGHTS")
    step q3 "ResNet-18 features of every image, once" graphc graphs/resnet18.swiftgraph --extract-features --images "$data/images" \
      "${weights[@]}" "${limit[@]}" --out "$features"
  fi
  local epochs=()
  [ "$quick" = 1 ] && epochs=(--epochs 1)
  for model in caption_lstm caption_attention; do
    local tag=enc_dec
    [ "$model" = caption_attention ] && tag=enc_dec_w_attention
    step q3 "$model: train (greedy validation), test BLEU-4" graphc "graphs/$model.swiftgraph" --train --data "$data" --features "$features" \
      "${limit[@]}" "${epochs[@]}" --out "$p"
    step q3 "$model: beam-3 decoding of the trained weights" graphc "graphs/$model.swiftgraph" --eval --weights "$p/$tag/decoder.safetensors" --beam 3 \
      --data "$data" --features "$features" "${limit[@]}" --out "$p/beam3"
  done
  finish_part q3
}

page() {
  say "page: $out/index.html"
  mkdir -p "$out"
  "$graphc" --homework-page "$out"
}

needs_build=0
for part in "${parts[@]}"; do [ "$part" != page ] && needs_build=1; done
if [ "$needs_build" = 1 ] || [ ! -x "$graphc" ]; then
  say "installing what is missing"
  ./scripts/install-deps.sh
  say "building graphc (release)"
  swift build -c release --product graphc
fi
# Debian's OpenBLAS 0.3.21 does not know some newer CPUs and falls back to its generic
# (pre-AVX) kernels, about 5x slower for graphc's products; graphc warns, and here we pick the
# kernels the CPU does run, unless the user chose some.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ "$needs_build" = 1 ]; then
  core=$("$graphc" --version | sed -n 's/.*OpenBLAS kernels: \([A-Za-z0-9]*\).*/\1/p')
  case "${core,,}" in
    prescott|core2|penryn|dunnington|nehalem|atom|katmai|coppermine|northwood|banias|generic)
      isa=""
      if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then isa=AVX-512; export OPENBLAS_CORETYPE=SkylakeX
      elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then isa=AVX2; export OPENBLAS_CORETYPE=Haswell; fi
      [ -n "$isa" ] && say "OpenBLAS picked its generic '$core' kernels on a CPU with $isa: using OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE" ;;
  esac
fi
[ "$quick" = 1 ] && say "quick mode: small data and one epoch, in $out/ (the numbers only show the pipeline works)"
for part in "${parts[@]}"; do
  case "$part" in
    q1) run_q1 ;;
    q2) run_q2 ;;
    q3) run_q3 ;;
    page) ;;
  esac
done
page
say "done: open $out/index.html (reports for terminals: $out/q2/report.md, $out/q3/report.md)"
