#!/usr/bin/env bash
# The ONNX backend tests against graphc: installs onnx into .venv-onnx/ (git-ignored), lays out
# its node tests, the pytorch-converted and pytorch-operator models and the light model zoo
# (scripts/onnx-conformance-data.py, into .build/onnx-conformance/ unless ONNX_CONFORMANCE_DATA
# is set), builds the runner in release mode and runs every case in one process. The runner
# prints one line per case and a table by op and rewrites docs/onnx-support.md. It fails when
# the data cannot be made or the runner cannot run; with --check-goals also when a light model
# does not match or fewer than 95% of the node tests of supported ops pass (the issue's goals).
#
#   scripts/onnx-conformance.sh [--only SUBSTRING] [--check-goals]   # --only Conv: one op's cases
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(./scripts/onnx-venv.sh)
data=${ONNX_CONFORMANCE_DATA:-.build/onnx-conformance}
onnx_version=$("$python" -c "import onnx; print(onnx.__version__)")
if [ ! -f "$data/cases.tsv" ] || [ "$(cat "$data/onnx-version" 2>/dev/null)" != "$onnx_version" ]; then
    rm -rf "$data"
    mkdir -p "$data"
    "$python" -W ignore scripts/onnx-conformance-data.py "$data"
    echo "$onnx_version" > "$data/onnx-version"
fi
swift build -c release --product onnx-conformance >&2
markdown=()
[[ " $* " == *" --only "* ]] || markdown=(--markdown docs/onnx-support.md)
.build/release/onnx-conformance "$data/cases.tsv" --threads 2 "${markdown[@]}" "$@"
