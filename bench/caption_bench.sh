#!/usr/bin/env bash
# Q3 speed comparison, graphc against eager PyTorch doing the same work in the same run:
#   * one training epoch of each decoder (2485 captions, batch 8, 21 steps) + greedy decoding
#     of the 58 validation images, on the same features file;
#   * ResNet-18 feature extraction per 500x500 image.
# Usage: bench/caption_bench.sh FEATURES.hdf5 [IMAGES_DIR] [N_IMAGES]
# Needs a release build: swift build -c release
set -euo pipefail
cd "$(dirname "$0")/.."
features=${1:?give an all_features.hdf5 (graphc --extract-features makes one)}
images=${2:-../shared/data/sydney-captions/images}
n=${3:-10}
graphc=${GRAPHC:-.build/release/graphc}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for model in lstm attention; do
  flag=""; [ "$model" = attention ] && flag="--attention"
  "$graphc" graphs/caption_$model.swiftgraph --train --epochs 1 --features "$features" --out "$out/graphc" --threads 1 2>/dev/null >/dev/null
  tag=enc_dec; [ "$model" = attention ] && tag=enc_dec_w_attention
  g=$(python3 -c "import json,sys; m=json.load(open('$out/graphc/$tag/metrics.json')); print(m['seconds_per_epoch'])")
  # Output goes to a file, not a pipe: piped, torch's worker threads ran up to 8x slower here.
  python3 bench/caption_torch.py --features "$features" --epochs 1 --threads 1 $flag >"$out/torch.json" 2>/dev/null
  t=$(tail -1 "$out/torch.json" | python3 -c "import json,sys; print(json.load(sys.stdin)['seconds_per_epoch'])")
  python3 -c "print(f'decoder {\"$model\":9s} epoch: graphc {$g:7.1f} s   torch {$t:7.1f} s   speed-up {$t/$g:4.1f}x')"
done

mkdir -p "$out/img"
for i in $(seq 1 "$n"); do ln -s "$(realpath "$images/$i.tif")" "$out/img/$i.tif"; done
"$graphc" graphs/resnet18.swiftgraph --extract-features --images "$out/img" --out "$out/f.hdf5" --threads 2 >/dev/null 2>&1
g=$(python3 -c "import json; print(json.load(open('$out/f.hdf5.json'))['seconds_per_image'])")
python3 bench/features_torch.py --images "$n" --threads 2 >"$out/torch-features.json"
t=$(python3 -c "import json; print(json.load(open('$out/torch-features.json'))['seconds_per_image'])")
python3 -c "print(f'resnet18 features per image: graphc {$g:6.3f} s   torch {$t:6.3f} s   ratio {$t/$g:4.2f}x')"
