#!/usr/bin/env bash
# graphc against onnxruntime on the same ONNX files, inputs and thread count, in one run: the
# light ResNet-50 (ONNX model zoo, from the onnx wheel) at batch 1 and 8, and ResNet-18 at
# 500x500 as exported by graphc from graphs/resnet18.swiftgraph. Prints a Markdown section for
# bench/RESULTS.md. onnx and onnxruntime go into .venv-onnx/ (git-ignored).
#
#   bench/onnx.sh [--threads N] [--repeats R]
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(./scripts/onnx-venv.sh)
swift build -c release --product graphc >&2
swift build -c release --product onnx-bench >&2
out=bench/out/onnx
mkdir -p "$out"
.build/release/graphc graphs/resnet18.swiftgraph --export-onnx "$out/resnet18.onnx" >&2
# Debian's OpenBLAS 0.3.21 falls back to its generic kernels on CPUs it does not know (see
# README): pick the kernels the CPU has, for graphc's runs (onnxruntime has its own GEMM).
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=Haswell; fi
fi
echo "bench/onnx.sh: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$python" bench/onnx_bench.py --onnx-bench .build/release/onnx-bench --resnet18 "$out/resnet18.onnx" --out "$out" "$@"
