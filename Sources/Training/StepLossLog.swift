import Foundation

/// Every training step's loss (of the global batch), one line per step as `config step loss`,
/// appended as training goes (`--step-losses FILE`): a record to compare runs step by step,
/// e.g. one process against a data-parallel job. Written by rank 0 alone.
final class StepLossLog {
    private let handle: FileHandle
    private let config: String
    private var step = 0

    init(path: String, config: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: Data()) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        self.config = config
    }

    deinit { try? handle.close() }

    func append(_ loss: Double) {
        step += 1
        handle.write(Data(String(format: "%@ %d %.9g\n", config, step, loss).utf8))
    }
}
