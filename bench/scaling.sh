#!/usr/bin/env bash
# Pass-pipeline time against unrolled length: the attention decoder (training mode: forward,
# autodiff, clean-ups, fusion, memory plan) with maxLen set to each of LENGTHS, compiled by
# `graphc --dump-ir --time-passes` (pass times go to stderr). Prints per length the node
# count, total pipeline milliseconds and milliseconds per 1,000 nodes: flat per-node cost
# means linear growth.
set -euo pipefail
cd "$(dirname "$0")/.."
GRAPHC=${GRAPHC:-.build/release/graphc}
LENGTHS=${LENGTHS:-"22 200 2000"}
SRC=graphs/caption_attention.swiftgraph
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -q 'maxLen = 22' "$SRC" || { echo "bench/scaling.sh: $SRC no longer declares 'maxLen = 22'" >&2; exit 1; }
printf "| maxLen | nodes after autodiff | pipeline ms | ms per 1k nodes | slowest pass |\n|---|---|---|---|---|\n"
for n in $LENGTHS; do
    sed "s/maxLen = 22/maxLen = $n/" "$SRC" > "$tmp/decoder_$n.swiftgraph"
    "$GRAPHC" "$tmp/decoder_$n.swiftgraph" --dump-ir --time-passes > /dev/null 2> "$tmp/times_$n.txt"
    awk -v n="$n" '
        $2 ~ /^[0-9.]+$/ && $3 == "ms" { total += $2; if ($1 == "autodiff") nodes = $4; if ($2 > worst) { worst = $2; name = $1 } }
        END { printf "| %d | %d | %.1f | %.2f | %s (%.1f ms) |\n", n, nodes, total, total / nodes * 1000, name, worst }
    ' "$tmp/times_$n.txt"
done
