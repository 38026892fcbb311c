#!/usr/bin/env bash
# Interleaved A/B of graphc builds (or settings) with the vCPU placement read around every
# process, for changes whose effect shows only when the host puts the two vCPUs far apart
# (bench/core_round_trip.c). Each round runs every variant once (`--bench --profile`, one
# batch size, 2 threads) and appends one JSON line per process to OUT: the round trips before
# and after, images/s, ms per step and the per-node and per-op-kind times of the profile.
# With FAR_ONLY=1 a round starts only while the probe reads far (and no build runs), until
# DURATION seconds have passed; otherwise ROUNDS rounds run at once. bench/placement_ab.py
# prints the medians by variant and placement.
#
#   OUT=ab.jsonl FAR_ONLY=1 DURATION=1800 bench/placement_ab.sh \
#       "old=/tmp/graphc-old" "new=.build/release/graphc" "new-k=.build/release/graphc::GC=1"
#
# A variant is label=binary[:tuning cache[:environment assignments]] (the cache defaults to
# TUNING_CACHE); EXTRA_<label> adds graphc flags to that variant, e.g. EXTRA_x="--memory-plan off".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${OUT:?OUT names the JSON lines file to append to}"
BATCH=${BATCH:-64} ROUNDS=${ROUNDS:-5} FAR_ONLY=${FAR_ONLY:-0} DURATION=${DURATION:-1800} FAR_NS=${FAR_NS:-200}
TUNING_CACHE=${TUNING_CACHE:-/tmp/graphc-placement-ab.json}
probe=$(mktemp -d)/core_round_trip
cc -O2 -pthread "$here/core_round_trip.c" -o "$probe"
round_trip() { "$probe" | python3 -c 'import json, sys; print(json.load(sys.stdin)["round_trip_ns"])'; }

one_round() {
    for variant in "$@"; do
        local label=${variant%%=*} rest=${variant#*=}
        IFS=: read -r binary cache environment <<< "$rest"
        local extra_name="EXTRA_${label//-/_}" log
        log=$(mktemp)
        local before after
        before=$(round_trip)
        env ${environment:-} OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Cooperlake}" GRAPHC_TUNING_CACHE="${cache:-$TUNING_CACHE}" \
            "$binary" "$here/../graphs/cnn.swiftgraph" --tune fast --bench --bench-repeats 1 --bench-seconds 1 \
            --bench-batches "$BATCH" --bench-eval-batch 8 --threads 2 --eval-threads 2 --profile ${!extra_name:-} > "$log" 2>&1
        after=$(round_trip)
        python3 "$here/placement_ab.py" --parse "$log" "$label" "$before" "$after" >> "$OUT"
        rm -f "$log"
    done
}

if [ "$FAR_ONLY" = 1 ]; then
    end=$(( $(date +%s) + DURATION ))
    while [ "$(date +%s)" -lt "$end" ]; do
        if pgrep -f "swift-build|swift-frontend" > /dev/null || [ "$(round_trip)" -le "$FAR_NS" ]; then sleep 10; continue; fi
        one_round "$@"
    done
else
    for _ in $(seq "$ROUNDS"); do one_round "$@"; done
fi
