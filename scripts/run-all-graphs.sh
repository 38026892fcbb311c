#!/usr/bin/env bash
# Runs every graph in graphs/ once with `graphc --run` (seeded random inputs), writes each
# graph's outputs to OUT/NAME.npz and, when python3 with numpy is available, loads every file
# with numpy.load and checks each array is float32 or int64, and finite.
# Usage: scripts/run-all-graphs.sh [OUT]   (default: a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
swift build -c release --product graphc >/dev/null
graphc=.build/release/graphc
for g in graphs/*.swiftgraph; do
    name=$(basename "$g" .swiftgraph)
    echo "== $g"
    "$graphc" "$g" --run --out "$out/$name.npz"
done
if python3 -c "import numpy" 2>/dev/null; then
    python3 - "$out" <<'PY'
import glob, os, sys
import numpy as np
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.npz"))):
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    assert arrays, f"{path}: no arrays"
    for k, a in arrays.items():
        assert a.dtype in (np.float32, np.int64), f"{path}:{k}: dtype {a.dtype}"
        assert a.dtype != np.float32 or np.isfinite(a).all(), f"{path}:{k}: not finite"
    print(f"numpy reads {os.path.basename(path)}: " + ", ".join(f"{k} {a.dtype}{list(a.shape)}" for k, a in arrays.items()))
PY
else
    echo "(python3 with numpy not found: the .npz files in $out were not loaded with numpy)"
fi
