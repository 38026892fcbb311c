#!/usr/bin/env bash
# The main job: installs what graphc needs, builds it (release), and trains the homework's
# CNN on the real Fashion-MNIST with the homework's learning-rate sweep, writing metrics,
# plots, filters, the best checkpoint and a report to results/ (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
swift build -c release --product graphc
out="${1:-results}"
.build/release/graphc graphs/cnn.swiftgraph --train --lr 0.001,0.01,0.1 --out "$out"
echo "report: $out/report.md"
