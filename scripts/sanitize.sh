#!/usr/bin/env bash
# Builds graphc and its tests with AddressSanitizer, and UndefinedBehaviorSanitizer for C
# sources, and runs the test suite under them (issue 14): any out-of-bounds access, use after
# free or double free in graphc's code or in the C libraries it calls with graphc's buffers,
# and any undefined behaviour in graphc's own C targets (such as the CKernels target, when it
# is there), fails the run. The build lives in its own scratch folder (.build-asan) so the
# normal .build is untouched.
#
#   scripts/sanitize.sh              the whole suite (about 2.5 minutes to build and over 10 to
#                                    run under ASan on 2 cores: not in CI)
#   scripts/sanitize.sh --ci         the subset CI runs: the tests of the file readers, the IR
#                                    parser, the kernels and the executor, where graphc's buffers
#                                    meet C code and unchecked pointers
#   scripts/sanitize.sh --filter X   any `swift test` arguments
#
# UndefinedBehaviorSanitizer: swiftc refuses -sanitize=undefined on Linux, so it is applied to
# C targets through clang (-Xcc -fsanitize=undefined, fatal at the first report); a package
# without C sources of its own (today's C modules are header-only shims over system
# libraries) gets ASan only. Swift itself traps on overflow, bad casts and out-of-range indices
# in every build.
# The C targets build at -O1 here (after the package's -O3, so it wins): UBSan's checks in the
# convolution kernels' fully inlined tiles make clang spend 14 minutes of CPU on
# conv_kernels.c at -O3 (with conv_row inlining them once; before, the file took over 25
# minutes), against under 3 at -O1, and -O1 is what the sanitizers' documentation suggests.
# Leak detection is off (detect_leaks=0): the Swift and Foundation runtimes keep allocations
# alive until exit that LeakSanitizer would report as leaks of every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-asan
args=("$@")
if [[ "${1:-}" == "--ci" ]]; then
    args=(--filter 'DatasetsTests|GraphIRTests.IRParserTests|RuntimeTests.Kernel|RuntimeTests.Executor|RuntimeTests.SafeTensors|TrainingTests.NumericsCheckTests|TrainingTests.ResultsFolderTests|ONNXTests')
fi
start=$SECONDS
swift build --build-tests --scratch-path "$scratch" \
    -Xswiftc -sanitize=address -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined -Xcc -O1 2>&1 \
    | { grep -v "Cannot export local symbol" || true; }
echo "sanitize.sh: built in $((SECONDS - start)) s"
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 swift test --skip-build --scratch-path "$scratch" "${args[@]}"
echo "sanitize.sh: built and tested in $((SECONDS - start)) s"
