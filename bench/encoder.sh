#!/usr/bin/env bash
# ResNet-18 feature extraction (graphs/resnet18.swiftgraph, 500x500, one image at a time),
# graphc against onnxruntime and PyTorch in the same run: seconds per image, medians of REPEATS
# runs with their spread (min-max), for each thread count (THREADS). graphc runs
# `--extract-features` over IMAGES images of the Sydney-captions folder (DATA/images, N.tif),
# with OPENBLAS_CORETYPE=$CORETYPE (the homework's setting; "default" leaves OpenBLAS's own
# choice; with Haswell or Zen graphc also gets --isa avx2, see bench/isa.sh; ISA=... overrides)
# and, with UNBLOCKED=1, also with --fusion off (no blocked layout: im2col + GEMM);
# with CONVOLUTIONS=1 also with every layer's algorithm fixed (--convolution blocked, and
# winograd for the 3x3 stride-1 layers) beside the default (measured per layer with --tune).
# onnxruntime and PyTorch come from PYTHON (a virtual environment, e.g.
#   python3 -m venv .venv-bench && .venv-bench/bin/pip install torch==2.13.0+cpu onnxruntime==1.32.0 onnx numpy
# ); each is skipped with a message if missing. Progress on stderr, the table on stdout, JSON in OUT.
# graphc's kernel choices go to TUNING_CACHE (default OUT/tuning.json, emptied at the start so
# the run measures its own; one untimed run per variant and thread count makes them), not to
# the user's cache, which other runs on a busy machine may have filled.
#
#   bench/encoder.sh                     # 2 threads, 5 repeats of 20 images
#   THREADS="1 2" REPEATS=3 UNBLOCKED=1 bench/encoder.sh
#   REPEATS=3 CONVOLUTIONS=1 bench/encoder.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/isa.sh
GRAPHC=${GRAPHC:-.build/release/graphc}
PYTHON=${PYTHON:-.venv-bench/bin/python}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-5}
IMAGES=${IMAGES:-20}
CORETYPE=${CORETYPE:-SkylakeX}
DATA=${DATA:-../shared/data/sydney-captions}
OUT=${OUT:-bench/out/encoder}
[ -x "$GRAPHC" ] || { echo "bench/encoder.sh: $GRAPHC not found; build it with: swift build -c release" >&2; exit 1; }
[ -d "$DATA/images" ] || { echo "bench/encoder.sh: no images in $DATA/images (set DATA)" >&2; exit 1; }
mkdir -p "$OUT"
if [ -z "${TUNING_CACHE:-}" ]; then rm -f "$OUT/tuning.json"; fi
export GRAPHC_TUNING_CACHE=${TUNING_CACHE:-$OUT/tuning.json}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/img"
for i in $(seq 1 "$IMAGES"); do ln -s "$(realpath "$DATA/images/$i.tif")" "$tmp/img/$i.tif"; done
envs=(); [ "$CORETYPE" != default ] && envs=(OPENBLAS_CORETYPE="$CORETYPE")
isa=$(isa_args "$CORETYPE")
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: > "$OUT/runs.jsonl"
# `extract THREADS FLAGS`: graphc's features of the images, with the core type's --isa and FLAGS
# (words of a variant), its timing left in $tmp/features.hdf5.json.
extract() {
    # shellcheck disable=SC2086
    env "${envs[@]}" "$GRAPHC" graphs/resnet18.swiftgraph --extract-features --images "$tmp/img" \
        --out "$tmp/features.hdf5" --threads "$1" $isa $2 > "$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
}
variants=("graphc:")
[ "${UNBLOCKED:-0}" = 1 ] && variants+=("graphc --fusion off:--fusion off")
[ "${CONVOLUTIONS:-0}" = 1 ] && variants+=("graphc --convolution blocked:--convolution blocked"
                                            "graphc --convolution winograd:--convolution winograd")
for t in $THREADS; do
    echo "[$(date -u +%T)] tuning runs, $t thread(s) (cache $GRAPHC_TUNING_CACHE)" >&2
    for v in "${variants[@]}"; do
        extract "$t" "${v#*:}"
    done
    for r in $(seq 1 "$REPEATS"); do
        echo "[$(date -u +%T)] repeat $r, $t thread(s); load $(cut -d' ' -f1 /proc/loadavg)" >&2
        # Each round starts one place further along (graphc's variants, then onnxruntime and
        # PyTorch): the process that runs right after the Python ones ran 10-13% slower in
        # every round of session 20 (the tuned graphc, whose graph was forced Winograd's and
        # ran as fast as it in pairs), so no variant always takes that place.
        items=("${variants[@]}" "python:")
        for ((i = 0; i < ${#items[@]}; i++)); do
            v=${items[$(( (i + r - 1) % ${#items[@]} ))]}
            if [ "$v" = "python:" ]; then
                if [ -x "$PYTHON" ]; then
                    "$PYTHON" bench/encoder_frameworks.py --threads "$t" --images "$IMAGES" >> "$OUT/runs.jsonl"
                else
                    echo "bench/encoder.sh: $PYTHON not found: no onnxruntime or PyTorch rows (see the comment at the top)" >&2
                fi
                continue
            fi
            label=${v%%:*}
            extract "$t" "${v#*:}"
            python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(json.dumps({"framework": sys.argv[2], "threads": int(sys.argv[3]), "seconds_per_image": s["seconds_per_image"], "images": s["images"]}))' \
                "$tmp/features.hdf5.json" "$label" "$t" >> "$OUT/runs.jsonl"
        done
    done
done
echo "machine load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$OUT/runs.jsonl" "$CORETYPE" "${isa:+ ($isa)}" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
groups = {}
for r in runs:
    name = r["framework"].split(" ")[0] if not r["framework"].startswith("graphc") else r["framework"]
    groups.setdefault((r["threads"], name), []).append(r["seconds_per_image"])
print(f"ResNet-18 features, 500x500, s/image: median (min-max) of the runs; graphc with OPENBLAS_CORETYPE={sys.argv[2]}{sys.argv[3]}")
print("| threads | framework | s/image | runs | onnxruntime / it | PyTorch / it |")
print("|---|---|---|---|---|---|")
for (t, name), v in sorted(groups.items()):
    m = statistics.median(v)
    ratio = lambda other: (f"{statistics.median(groups[(t, other)]) / m:.2f}x" if (t, other) in groups else "-")
    print(f"| {t} | {name} | {m:.3f} ({min(v):.3f}-{max(v):.3f}) | {len(v)} | {ratio('onnxruntime')} | {ratio('torch')} |")
PY
