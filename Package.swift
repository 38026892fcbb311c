// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "graphc",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "graphc", targets: ["graphc"]),
        .library(name: "GraphIR", targets: ["GraphIR"]),
        .library(name: "Passes", targets: ["Passes"]),
        .library(name: "Frontend", targets: ["Frontend"]),
        .library(name: "Runtime", targets: ["Runtime"]),
        .library(name: "Datasets", targets: ["Datasets"]),
        .library(name: "Reports", targets: ["Reports"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "ONNX", targets: ["ONNX"]),
        .library(name: "Distributed", targets: ["Distributed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
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
        .systemLibrary(name: "CCairo", path: "Sources/CCairo", pkgConfig: "cairo",
                       providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi",
                       providers: [.apt(["libopenmpi-dev"])]),

        // The compiler: IR and op table, passes, frontend; then the CPU runtime.
        .target(name: "GraphIR"),
        .target(name: "Passes", dependencies: ["GraphIR"]),
        .target(name: "Frontend", dependencies: ["GraphIR"]),
        // Blocked-layout convolution kernels in C, one build carrying AVX-512, AVX2 and SSE2
        // code chosen at run time (never -march=native: the binary runs on any x86-64).
        .target(name: "CConvKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Runtime", dependencies: ["GraphIR", "CBLAS", "CConvKernels"]),
        // Data readers (IDX, npz, TIFF, captions JSON, HDF5) and result writers (PNG, plots, reports).
        .target(name: "Datasets", dependencies: ["GraphIR", "CZlib", "CTIFF", "CJSONC", "CHDF5"]),
        .target(name: "Reports", dependencies: ["GraphIR", "CCairo"]),
        // ONNX models in and out; Generated/ holds the committed protoc output for onnx.proto
        // (scripts/generate-onnx-proto.sh remakes it).
        .target(name: "ONNX", dependencies: ["GraphIR", "Runtime", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                exclude: ["Generated/onnx.proto"]),
        // Data-parallel jobs over MPI: the processes of an mpirun job, and the gradient
        // all-reduce the runtime's kernels hand buckets to.
        .target(name: "Distributed", dependencies: ["Runtime", "CMPI"]),
        // Training and evaluation (recipe, loop, evaluator, batchers, beam search, BLEU, reports),
        // for the command line and for programs that embed graphc alike.
        .target(name: "Training", dependencies: ["GraphIR", "Passes", "Frontend", "Runtime", "Datasets", "Reports", "Distributed", "ONNX"]),
        // The command line only parses arguments and calls the libraries.
        .executableTarget(name: "graphc", dependencies: [
            "GraphIR", "Passes", "Runtime", "Frontend", "Datasets", "Reports", "Training", "Distributed", "ONNX",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Runs the ONNX backend tests (scripts/onnx-conformance.sh lays them out) through the importer's public API.
        .executableTarget(name: "onnx-conformance", dependencies: ["ONNX", "Passes", "Runtime", "GraphIR",
                                                                  .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                          path: "Sources/onnx-conformance"),
        // Times graphc on an ONNX file for bench/onnx.sh (onnxruntime on the same file beside it).
        .executableTarget(name: "onnx-bench", dependencies: ["ONNX", "Passes", "Runtime", "GraphIR", "Datasets", "Training"],
                          path: "Sources/onnx-bench"),
        // Trains the Q2 CNN through the public API, as a program using graphc would.
        .executableTarget(name: "TrainCNN", dependencies: ["Training", "Runtime", "Datasets"], path: "Examples/TrainCNN"),

        .testTarget(name: "GraphIRTests", dependencies: ["GraphIR"]),
        .testTarget(name: "PassesTests", dependencies: ["Passes", "GraphIR", "Frontend"]),
        .testTarget(name: "FrontendTests", dependencies: ["Frontend", "Passes", "GraphIR"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Passes", "GraphIR", "Frontend"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "GraphIR"], exclude: ["Fixtures"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "GraphIR", "CZlib"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Runtime", "Datasets", "Frontend", "Passes", "GraphIR", "Distributed"],
                    exclude: ["Fixtures"]),
        // ONNX export: the written model, and graphc -> ONNX -> graphc and PyTorch -> ONNX -> graphc.
        .testTarget(name: "ONNXExportTests", dependencies: ["ONNX", "Training", "Runtime", "GraphIR", "Passes", "Datasets",
                                                            .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                    exclude: ["Fixtures"]),
        // The command-line tool: in-process (@testable) and as a user runs the built binary.
        .testTarget(name: "ONNXTests", dependencies: ["ONNX", "Runtime", "Passes", "GraphIR"], exclude: ["Fixtures"]),
        .testTarget(name: "graphcTests", dependencies: ["graphc", "Training", "Datasets", "Runtime", "Reports", "GraphIR"]),
    ]
)
