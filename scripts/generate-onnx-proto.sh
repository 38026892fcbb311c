#!/usr/bin/env bash
# Regenerates Sources/ONNX/Generated/onnx.pb.swift from onnx.proto. Run by hand only, when the
# ONNX version changes: building swift-protobuf's protoc plugin takes minutes, so the generated
# code is committed and neither the build nor CI ever runs this.
#   scripts/generate-onnx-proto.sh [onnx-version]
# Needs Debian's protobuf-compiler (protoc) and pip; the plugin is built at the swift-protobuf
# version Package.swift names, so generated code and runtime library always match.
set -euo pipefail
cd "$(dirname "$0")/.."
onnx_version="${1:-1.23.2}"
protobuf_version=1.39.0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v protoc >/dev/null || { echo "generate-onnx-proto.sh: install protoc: apt-get install protobuf-compiler" >&2; exit 1; }
git clone -q --branch "$protobuf_version" https://github.com/apple/swift-protobuf "$work/swift-protobuf"
swift build -c release --package-path "$work/swift-protobuf" --product protoc-gen-swift
python3 -m pip download -q --no-deps "onnx==$onnx_version" -d "$work/wheel"
(cd "$work" && unzip -q wheel/onnx-*.whl 'onnx/onnx.proto')
protoc --plugin=protoc-gen-swift="$work/swift-protobuf/.build/release/protoc-gen-swift" \
    --swift_out="$work" --swift_opt=Visibility=Public -I "$work" "$work/onnx/onnx.proto"
cp "$work/onnx/onnx.pb.swift" Sources/ONNX/Generated/onnx.pb.swift
cp "$work/onnx/onnx.proto" Sources/ONNX/Generated/onnx.proto
echo "regenerated Sources/ONNX/Generated/onnx.pb.swift from onnx $onnx_version with swift-protobuf $protobuf_version"
