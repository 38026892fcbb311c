import GraphIR
import Foundation
import XCTest
@testable import Datasets

final class TorchCheckpointTests: XCTestCase {
    typealias F = CaptioningTestFiles

    struct Expected {
        var dtype: String
        var shape: [Int]
        var stride: [Int]
        var offset: Int
        var values: [Double]
    }

    /// tiny_state_dict.json, written by make_torch_fixture.py next to the .pth files.
    func expected() throws -> (names: [String], tensors: [String: Expected]) {
        let url = F.fixturesDirectory.appendingPathComponent("tiny_state_dict.json")
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let tensors = try XCTUnwrap(root["tensors"] as? [String: [String: Any]])
        var out: [String: Expected] = [:]
        for (name, t) in tensors {
            out[name] = Expected(dtype: try XCTUnwrap(t["dtype"] as? String), shape: try XCTUnwrap(t["shape"] as? [Int]),
                                 stride: try XCTUnwrap(t["stride"] as? [Int]), offset: try XCTUnwrap(t["storage_offset"] as? Int),
                                 values: try XCTUnwrap(t["values"] as? [NSNumber]).map(\.doubleValue))
        }
        // JSONSerialization loses key order; the order torch wrote is the module order.
        let order = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                     "1.num_batches_tracked", "extra.base", "extra.view", "extra.transposed", "extra.scalar"]
        XCTAssertEqual(Set(order), Set(out.keys))
        return (order, out)
    }

    func check(_ checkpoint: TorchCheckpoint) throws {
        let (names, tensors) = try expected()
        XCTAssertEqual(checkpoint.names, names)
        for name in names {
            let want = try XCTUnwrap(tensors[name])
            let got = try checkpoint.tensor(name)
            XCTAssertEqual(got.dtype.rawValue, want.dtype, name)
            XCTAssertEqual(got.shape, want.shape, name)
            XCTAssertEqual(got.strides, want.stride, name)
            XCTAssertEqual(got.storageOffset, want.offset, name)
            if got.dtype == .int64 {
                XCTAssertEqual(try got.int64s(), want.values.map { Int64($0) }, name)
                XCTAssertThrowsError(try got.floats())
            } else {
                XCTAssertEqual(try got.floats(), want.values.map { Float($0) }, name)
            }
        }
        XCTAssertEqual(try checkpoint.tensor("1.num_batches_tracked").int64s(), [1])
        XCTAssertEqual(try checkpoint.tensor("extra.view").floats(), [4, 6, 8, 10])
        XCTAssertEqual(try checkpoint.tensor("extra.transposed").floats(), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
        XCTAssertEqual(checkpoint["0.weight"]?.count, 108)
        XCTAssertNil(checkpoint["missing"])
        F.assertFileError(try checkpoint.tensor("missing"), file: checkpoint.path, contains: "has no tensor \"missing\"")
    }

    func testZipCheckpointMatchesTorch() throws {
        let path = F.fixturesDirectory.appendingPathComponent("tiny_state_dict.pth").path
        try check(try TorchCheckpoint.load(path: path))
    }

    func testLegacyCheckpointMatchesTorch() throws {
        let path = F.fixturesDirectory.appendingPathComponent("tiny_state_dict_legacy.pth").path
        try check(try TorchCheckpoint.load(path: path))
    }

    // MARK: hand-written pickles (legacy layout), independent of what torch happens to emit

    static func str(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }  // SHORT_BINUNICODE
    static func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }

    /// One float tensor "w" viewing a 6-element storage "k" with the given offset/size/stride.
    static func legacyFile(offset: UInt8, size: (UInt8, UInt8), stride: (UInt8, UInt8), storage: [Float]) -> [UInt8] {
        var b = TorchCheckpoint.legacyMagic
        b += [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]                     // 1001
        b += [0x80, 0x02, 0x7D, 0x2E]                                 // {}
        b += [0x80, 0x02, 0x7D, 0x28] + str("w")                      // { MARK "w"
        b += global("torch._utils", "_rebuild_tensor_v2") + [0x28]
        b += [0x28] + str("storage") + global("torch", "FloatStorage") + str("k") + str("cpu")
        b += [0x4B, UInt8(storage.count), 0x4E, 0x74, 0x51]           // numel, None, TUPLE, BINPERSID
        b += [0x4B, offset, 0x4B, size.0, 0x4B, size.1, 0x86, 0x4B, stride.0, 0x4B, stride.1, 0x86, 0x89]
        b += global("collections", "OrderedDict") + [0x29, 0x52]      // OrderedDict()
        b += [0x74, 0x52, 0x75, 0x2E]                                 // TUPLE REDUCE SETITEMS STOP
        b += [0x80, 0x02, 0x5D] + str("k") + [0x61, 0x2E]            // ["k"]
        b += withUnsafeBytes(of: UInt64(storage.count).littleEndian, Array.init)
        for v in storage { b += withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) }
        return b
    }

    func testHandWrittenLegacyPickle() throws {
        let dir = try F.tempDirectory(self)
        let path = dir.appendingPathComponent("hand.pth")
        try Data(Self.legacyFile(offset: 1, size: (2, 2), stride: (1, 2), storage: [10, 11, 12, 13, 14, 15])).write(to: path)
        let w = try TorchCheckpoint.load(path: path.path).tensor("w")
        XCTAssertEqual(w.shape, [2, 2])
        XCTAssertEqual(try w.floats(), [11, 13, 12, 14])

        let bad = dir.appendingPathComponent("outside.pth")
        try Data(Self.legacyFile(offset: 3, size: (2, 2), stride: (1, 3), storage: [1, 2, 3, 4, 5, 6])).write(to: bad)
        F.assertFileError(try TorchCheckpoint.load(path: bad.path), file: bad.path, contains: "reaches past its storage of 6 elements")
    }

    func testPickleMachineOpcodes() throws {
        // Protocol-4 style: FRAME, STACK_GLOBAL-free data with MEMOIZE, BINFLOAT, LONG1, BININT.
        var b: [UInt8] = [0x80, 0x04, 0x95] + Array(repeating: 0, count: 8)
        b += [0x5D, 0x94, 0x28]                                       // [] memoize MARK
        b += [0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0]                     // 1.5
        b += [0x8A, 0x02, 0x00, 0x80]                                 // LONG1 -32768
        b += [0x4A, 0xFE, 0xFF, 0xFF, 0xFF]                           // BININT -2
        b += [0x4D, 0x34, 0x12]                                       // BININT2 0x1234
        b += [0x88, 0x4E, 0x65, 0x2E]                                 // True None APPENDS STOP
        var vm = PickleMachine(bytes: b, start: 0, file: "x.pkl", context: "test") { _, _ in .none }
        guard case let .list(list) = try vm.run() else { return XCTFail("expected a list") }
        let items = list.items.map { v -> String in
            switch v {
            case let .float(d): return "f\(d)"
            case let .int(i): return "i\(i)"
            case let .bool(t): return "b\(t)"
            case .none: return "None"
            default: return v.typeName
            }
        }
        XCTAssertEqual(items, ["f1.5", "i-32768", "i-2", "i4660", "btrue", "None"])
        XCTAssertEqual(vm.position, b.count)
    }

    func testMalformedPicklesReportByteOffsets() throws {
        func run(_ b: [UInt8]) throws { var vm = PickleMachine(bytes: b, start: 0, file: "x.pth", context: "test") { _, _ in .none }; _ = try vm.run() }
        F.assertFileError(try run([0x80, 0x02, 0x81]), file: "x.pth", contains: "test, byte 2: unsupported pickle opcode 0x81")
        F.assertFileError(try run([0x80, 0x02, 0x74, 0x2E]), file: "x.pth", contains: "byte 2: no MARK")
        F.assertFileError(try run([0x80, 0x02, 0x68, 0x05]), file: "x.pth", contains: "byte 2: memo entry 5 was never stored")
        F.assertFileError(try run([0x80, 0x02, 0x58, 0xFF, 0xFF, 0, 0]), file: "x.pth", contains: "byte 3: length 65535 exceeds the file")
        F.assertFileError(try run([0x80, 0x02, 0x4E]), file: "x.pth", contains: "byte 3: needs 1 bytes")
        F.assertFileError(try run([0x80, 0x02, 0x61]), file: "x.pth", contains: "byte 2: pickle stack underflow")
        let callOS = [0x80, 0x02] + Self.global("os", "system") + Self.str("ls") + [0x85, 0x52, 0x2E]
        F.assertFileError(try run(callOS), file: "x.pth", contains: "unsupported callable os.system")
    }

    func testCorruptFilesNeverCrash() throws {
        let dir = try F.tempDirectory(self)
        for fixture in ["tiny_state_dict.pth", "tiny_state_dict_legacy.pth"] {
            let whole = try Data(contentsOf: F.fixturesDirectory.appendingPathComponent(fixture))
            for length in stride(from: 0, to: whole.count, by: 41) {
                let cut = dir.appendingPathComponent("cut-\(length)-\(fixture)")
                try whole.prefix(length).write(to: cut)
                XCTAssertThrowsError(try TorchCheckpoint.load(path: cut.path), "\(fixture) cut at \(length)") { e in
                    XCTAssertEqual((e as? FileError)?.file, cut.path)
                }
            }
        }
        // Any byte flipped in the zip is caught, by the CRC if nothing else.
        let zip = try Data(contentsOf: F.fixturesDirectory.appendingPathComponent("tiny_state_dict.pth"))
        var flipped = zip
        flipped[200] ^= 0x55  // inside data.pkl
        let f = dir.appendingPathComponent("flipped.pth")
        try flipped.write(to: f)
        F.assertFileError(try TorchCheckpoint.load(path: f.path), file: f.path, contains: "CRC-32 mismatch")

        // In the legacy stream an opcode byte replaced: the error points at it.
        var legacy = try Data(contentsOf: F.fixturesDirectory.appendingPathComponent("tiny_state_dict_legacy.pth"))
        legacy[139] = 0xFF  // the GLOBAL of collections.OrderedDict
        let g = dir.appendingPathComponent("opcode.pth")
        try legacy.write(to: g)
        F.assertFileError(try TorchCheckpoint.load(path: g.path), file: g.path, contains: "byte 139: unsupported pickle opcode 0xFF")

        let text = try F.write("definitely not a checkpoint", "notes.pth", in: dir)
        F.assertFileError(try TorchCheckpoint.load(path: text), file: text, contains: "not a PyTorch checkpoint")
        let missing = dir.appendingPathComponent("none.pth").path
        F.assertFileError(try TorchCheckpoint.load(path: missing), file: missing, contains: "no such file")
    }

    func testArchiveWithoutPickleIsRejected() throws {
        let url = try F.tempDirectory(self).appendingPathComponent("nopickle.pth")
        try Data(TestFiles.zip([.init(name: "nopickle/version", content: Array("3\n".utf8), deflated: false)], numpyStyle: false)).write(to: url)
        F.assertFileError(try TorchCheckpoint.load(path: url.path), file: url.path, contains: "no <name>/data.pkl entry")
    }

    /// torch.save stores every entry; a deflated one means another tool rewrote the file.
    func testCompressedEntriesAreRejected() throws {
        let url = try F.tempDirectory(self).appendingPathComponent("d.pth")
        let pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x2E]  // PROTO 2, EMPTY_DICT, STOP
        try Data(TestFiles.zip([.init(name: "d/data.pkl", content: pickle, deflated: true)], numpyStyle: false)).write(to: url)
        F.assertFileError(try TorchCheckpoint.load(path: url.path), file: url.path, contains: "zip entry d/data.pkl is compressed (method 8)")
        try Data(TestFiles.zip([.init(name: "d/data.pkl", content: pickle, deflated: false)], numpyStyle: false)).write(to: url)
        XCTAssertEqual(try TorchCheckpoint.load(path: url.path).names, [])
    }
}
