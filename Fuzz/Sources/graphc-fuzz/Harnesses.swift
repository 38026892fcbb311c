import Datasets
import Foundation
import Frontend
import GraphIR
import ONNX
import Runtime

/// One harness per parser or file reader: it must return or throw for any bytes, never trap,
/// hang or run away with memory (libFuzzer reports those). Readers that only take a path (the
/// C libraries read files themselves) get the input through a temporary file.
enum Harness: String, CaseIterable {
    case dsl, ir, idx, npy, npz, safetensors, pth, hdf5, tiff, captions, onnx

    func run(_ data: Data) {
        switch self {
        case .dsl:
            let source = String(decoding: data, as: UTF8.self)
            for options in [FrontendOptions(mode: .train), FrontendOptions(mode: .infer)] {
                _ = try? Frontend.lowerWithSummary(source: source, file: "fuzz.swiftgraph", options: options)
            }
        case .ir:
            if let g = try? IRParser.parse(String(decoding: data, as: UTF8.self), file: "fuzz.gir") {
                try? Verifier.check(g)
            }
        case .idx:
            withTemporaryFile(data, suffix: ".idx.gz") { _ = try IDXReader.read(path: $0) }
        case .npy:
            if let a = try? NPYReader.parse(data, file: "fuzz.npy") {
                _ = a.floats()
                _ = try? a.int64s()
            }
        case .npz:
            guard let archive = try? NPZArchive(data: data, path: "fuzz.npz") else { return }
            for key in archive.keys {
                _ = try? archive.array(key).floats()
            }
        case .safetensors:
            _ = try? SafeTensors.decode(data, file: "fuzz.safetensors")
        case .pth:
            withTemporaryFile(data, suffix: ".pth") { path in
                let checkpoint = try TorchCheckpoint.load(path: path)
                for name in checkpoint.names {
                    _ = try? checkpoint.tensor(name).floats()
                    _ = try? checkpoint.tensor(name).int64s()
                }
            }
        case .hdf5:
            withTemporaryFile(data, suffix: ".hdf5") { path in
                let reader = try HDF5FeatureReader(path: path)
                _ = try? reader.row(0)
                _ = try reader.readAll()
            }
        case .tiff:
            withTemporaryFile(data, suffix: ".tif") { _ = try TiffImage.readNormalizedCHW(path: $0) }
        case .onnx:
            // Declared tensor sizes are checked against the budget before allocation: a small
            // one keeps every accepted model far below libFuzzer's memory limit.
            MemoryBudget.bytes = 64 << 20
            let folder = NSTemporaryDirectory() + "graphc-fuzz-onnx-empty"
            for training in [false, true] {
                if let model = try? ONNXModel.load(data: data, file: "fuzz.onnx", folder: folder, options: ONNXModel.Options(training: training)) {
                    try? Verifier.check(model.graph)
                }
            }
        case .captions:
            withTemporaryFile(data, suffix: ".json") { path in
                let vocabulary = try? Vocabulary.load(path: path)
                if let train = try? CaptionsTrain.load(path: path), let vocabulary {
                    _ = try? train.encoded(with: vocabulary)
                }
                _ = try? CaptionsEval.load(path: path)
                _ = try? KarpathyDataset.load(path: path)
            }
        }
    }
}

/// Writes `data` to a fresh temporary file, calls `body` with its path (errors are the
/// expected outcome for most inputs) and removes the file.
func withTemporaryFile(_ data: Data, suffix: String, _ body: (String) throws -> Void) {
    let path = NSTemporaryDirectory() + "graphc-fuzz-\(getpid())\(suffix)"
    guard FileManager.default.createFile(atPath: path, contents: data) else { fatalError("cannot write \(path)") }
    defer { unlink(path) }
    try? body(path)
}

/// libFuzzer's entry point (its archive refers to it even though main.swift starts the driver
/// with `runFuzzerDriver`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    harness.run(bytes.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}
