#!/usr/bin/env bash
# Creates (once) the git-ignored virtual environment .venv-onnx/ with the Python packages the
# ONNX scripts use, from PyPI: onnx (conformance data), onnxruntime (cross-checks, bench),
# numpy. graphc itself never needs it. Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-onnx
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
fi
if ! "$venv/bin/python" -c "import onnx, onnxruntime, numpy" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "onnx==1.23.2" "onnxruntime==1.32.0" numpy >&2
fi
echo "$PWD/$venv/bin/python"
