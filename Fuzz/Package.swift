// swift-tools-version:5.9
import PackageDescription

// libFuzzer harnesses for graphc's parsers and file readers, kept out of the main package
// because a fuzz binary takes its `main` from libFuzzer (the main package's `swift build`
// and `swift test` stay as they are). Built and run by scripts/fuzz.sh.
let package = Package(
    name: "graphc-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "graphc", path: "..")],
    targets: [
        .executableTarget(name: "graphc-fuzz", dependencies: [
            .product(name: "GraphIR", package: "graphc"),
            .product(name: "Frontend", package: "graphc"),
            .product(name: "Runtime", package: "graphc"),
            .product(name: "Datasets", package: "graphc"),
            .product(name: "ONNX", package: "graphc"),
        ]),
    ]
)
