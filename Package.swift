// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "graphc",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "graphc", targets: ["graphc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C shims for system libraries; `providers` names the Debian packages.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CTIFF", path: "Sources/CTIFF", pkgConfig: "libtiff-4",
                       providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(name: "CJSONC", path: "Sources/CJSONC", pkgConfig: "json-c",
                       providers: [.apt(["libjson-c-dev"])]),
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),

        // The compiler: IR and op table, passes, frontend; then the CPU runtime.
        .target(name: "GraphIR"),
        .target(name: "Passes", dependencies: ["GraphIR"]),
        .target(name: "Frontend", dependencies: ["GraphIR"]),
        .target(name: "Runtime", dependencies: ["GraphIR", "Passes", "CBLAS"]),
        // Data readers (IDX, npz, TIFF, captions JSON, HDF5) and result writers (PNG, plots, reports).
        .target(name: "Datasets", dependencies: ["GraphIR", "CZlib", "CTIFF", "CJSONC", "CHDF5"]),
        .target(name: "Reports", dependencies: ["GraphIR", "CZlib"]),
        .executableTarget(name: "graphc", dependencies: [
            "GraphIR", "Passes", "Runtime", "Frontend", "Datasets", "Reports",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "GraphIRTests", dependencies: ["GraphIR"]),
        .testTarget(name: "PassesTests", dependencies: ["Passes", "GraphIR", "Frontend"]),
        .testTarget(name: "FrontendTests", dependencies: ["Frontend", "Passes", "GraphIR"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Passes", "GraphIR", "Frontend"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "GraphIR"], exclude: ["Fixtures"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "GraphIR"]),
        // The command-line tool: in-process (@testable) and as a user runs the built binary.
        .testTarget(name: "graphcTests", dependencies: ["graphc", "Datasets", "Runtime", "Reports", "GraphIR"], exclude: ["Fixtures"]),
    ]
)
