#!/usr/bin/env bash
# The test command: builds and runs every test. Tests that need the full datasets read them
# from ../shared/data and /usr/share/datasets and skip, saying why, where they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build
