#!/usr/bin/env bash
# Fuzzes graphc's parsers and file readers with libFuzzer under AddressSanitizer:
#   scripts/fuzz.sh [seconds-per-target] [target...]
# Builds Fuzz/ (its own package, so the fuzz binary's libFuzzer `main` never reaches the normal
# build), then runs each target for the given time (default 45 s) from its seed corpus
# Fuzz/corpus/<target>/. New inputs go to a scratch folder, never into the committed corpus.
# Exits non-zero when any target crashes, hangs (-timeout), or exceeds the memory limit
# (-rss_limit_mb, also the malloc limit); the offending input is kept under Fuzz/artifacts/.
# The mutation sequence starts from a fixed seed (FUZZ_SEED, default 1), so a CI run is
# reproducible here by running the same script for at least as long; FUZZ_SEED=0 lets libFuzzer
# pick one, for exploring.
# Leak detection is off (ASAN_OPTIONS=detect_leaks=0): Foundation's own Data(contentsOf:)
# leaks a buffer for an empty file, which would be reported as a crash of every reader.
# allocator_may_return_null=1: an impossible malloc returns NULL, as it does without ASan, so
# a C library that checks for NULL (libhdf5, libtiff) reports an error; Swift still traps on
# NULL, and libFuzzer's -malloc_limit_mb (= -rss_limit_mb) still fails any allocation > 2 GB.
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"

seconds="${1:-45}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dsl ir idx npy npz safetensors pth hdf5 tiff captions onnx)

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
scratch_build="$scratch/build.log"

# ASan's linker warnings about local symbols are noise; everything else of the build is shown.
build=(swift build -c debug -Xswiftc -sanitize=fuzzer,address)
if ! "${build[@]}" --product graphc-fuzz >"$scratch_build" 2>&1; then
    grep -v "Cannot export local symbol" "$scratch_build" >&2
    echo "fuzz.sh: build failed" >&2
    exit 1
fi
binary="$("${build[@]}" --show-bin-path)/graphc-fuzz"

mkdir -p artifacts
failed=0
for target in "${targets[@]}"; do
    [ -d "corpus/$target" ] || { echo "fuzz.sh: no corpus/$target" >&2; exit 2; }
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    status=0
    FUZZ_TARGET="$target" ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$binary" "$scratch/$target" "corpus/$target" \
        -seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -detect_leaks=0 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target-" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        echo "fuzz $target: ok, ${execs:-?} runs in ${seconds} s (${rate:-?}/s), peak RSS ${rss:-?} MB"
    else
        failed=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        what=$(grep -m1 -E "ERROR: (AddressSanitizer|libFuzzer)|SUMMARY|Fatal error|fatal error" "$log" || echo "exit $status")
        echo "fuzz $target: FAILED after ${execs:-?} runs: $what; input: Fuzz/${artifact:-?}"
        grep -A25 -m1 -E "ERROR: |Fatal error|fatal error" "$log" | head -40 | sed 's/^/    /'
    fi
done
exit $failed
