#!/usr/bin/env bash
# graphc's ONNX exports opened in onnxruntime: the Q2 CNN, both caption decoders (unrolled,
# inference mode) and ResNet-18 (500x500) are exported with --export-onnx, run by onnxruntime
# and by graphc --run on the same seeded inputs, and every output must agree to 1e-4 (max abs
# error). Installs onnx and onnxruntime into .venv-onnx/ (git-ignored) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(./scripts/onnx-venv.sh)
swift build -c release --product graphc >&2
out=${ONNX_EXPORT_OUT:-.build/onnx-export-check}
"$python" scripts/onnx-export-check.py --graphc .build/release/graphc --out "$out" --batch 2 --threads 2 \
    graphs/cnn.swiftgraph graphs/caption_lstm.swiftgraph graphs/caption_attention.swiftgraph graphs/resnet18.swiftgraph
