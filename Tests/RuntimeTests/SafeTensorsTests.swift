import Foundation
import XCTest
@testable import Runtime

final class SafeTensorsTests: XCTestCase {
    /// What the Python `safetensors` library (0.8, `safetensors.numpy.save`) writes for
    /// {"weight": float32 [1, -2, 0.5], "bias": int64 [[7, 8]], "a.b": float32 empty (0,),
    /// "count": int64 scalar 3} with metadata {"format": "pt", "note": "q\"x\n"}.
    static let referenceHex = "20010000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a227074222c226e6f7465223a22715c22785c6e227d2c2262696173223a7b226474797065223a22493634222c227368617065223a5b312c325d2c22646174615f6f666673657473223a5b302c31365d7d2c22636f756e74223a7b226474797065223a22493634222c227368617065223a5b5d2c22646174615f6f666673657473223a5b31362c32345d7d2c22612e62223a7b226474797065223a22463332222c227368617065223a5b305d2c22646174615f6f666673657473223a5b32342c32345d7d2c22776569676874223a7b226474797065223a22463332222c227368617065223a5b335d2c22646174615f6f666673657473223a5b32342c33365d7d7d2020202020200700000000000000080000000000000003000000000000000000803f000000c00000003f"

    static func bytes(fromHex hex: String) -> Data {
        var out = Data()
        var chars = hex.makeIterator()
        while let a = chars.next(), let b = chars.next(), let v = UInt8(String([a, b]), radix: 16) { out.append(v) }
        return out
    }

    static func data<T>(_ values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }

    let referenceTensors: [SafeTensors.Entry] = [
        ("weight", "F32", [3], SafeTensorsTests.data([Float(1), -2, 0.5])),
        ("bias", "I64", [1, 2], SafeTensorsTests.data([Int64(7), 8])),
        ("a.b", "F32", [0], Data()),
        ("count", "I64", [], SafeTensorsTests.data([Int64(3)])),
    ]

    func testEncodingIsByteIdenticalToTheReferenceLibrary() throws {
        let ours = try SafeTensors.encode(referenceTensors, metadata: ["note": "q\"x\n", "format": "pt"])
        let reference = Self.bytes(fromHex: Self.referenceHex)
        XCTAssertEqual(reference.count, 332)
        XCTAssertEqual(ours, reference)
        // Header length is a multiple of 8 and the padding is spaces.
        XCTAssertEqual(Int(ours[0]) % 8, 0)
        XCTAssertEqual(ours[8 + 288 - 1], 0x20)
    }

    func testReadsTheReferenceFile() throws {
        let (tensors, metadata) = try SafeTensors.decode(Self.bytes(fromHex: Self.referenceHex), file: "ref.safetensors")
        XCTAssertEqual(metadata, ["format": "pt", "note": "q\"x\n"])
        XCTAssertEqual(Set(tensors.keys), ["weight", "bias", "a.b", "count"])
        let w = try XCTUnwrap(tensors["weight"])
        XCTAssertEqual(w.dtype, "F32")
        XCTAssertEqual(w.shape, [3])
        XCTAssertEqual(w.data, Self.data([Float(1), -2, 0.5]))
        XCTAssertEqual(tensors["bias"]?.shape, [1, 2])
        XCTAssertEqual(tensors["bias"]?.data, Self.data([Int64(7), 8]))
        XCTAssertEqual(tensors["count"]?.shape, [])
        XCTAssertEqual(tensors["a.b"]?.data.count, 0)
    }

    func testRoundTripThroughAFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-st-\(UUID().uuidString)")
        let path = dir.appendingPathComponent("ckpt/model.safetensors").path
        let weights = (0..<1000).map { Float($0) * 0.001 - 0.3 }
        try SafeTensors.write([("conv1.weight", "F32", [10, 1, 10, 10], Self.data(weights)),
                               ("step", "I64", [1], Self.data([Int64(42)]))],
                              metadata: ["graph": "cnn"], to: path)
        let (tensors, metadata) = try SafeTensors.readWithMetadata(path: path)
        XCTAssertEqual(metadata, ["graph": "cnn"])
        XCTAssertEqual(tensors["conv1.weight"]?.shape, [10, 1, 10, 10])
        XCTAssertEqual(tensors["conv1.weight"]?.data, Self.data(weights))
        XCTAssertEqual(tensors["step"]?.data, Self.data([Int64(42)]))
        XCTAssertEqual(try SafeTensors.read(path: path).count, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("ckpt").path), ["model.safetensors"])
        try? FileManager.default.removeItem(at: dir)
    }

    func testWriterRejectsBadTensors() {
        func expect(_ fragment: String, _ tensors: [SafeTensors.Entry]) {
            XCTAssertThrowsError(try SafeTensors.encode(tensors, file: "out.safetensors")) { e in
                XCTAssertTrue("\(e)".contains("out.safetensors") && "\(e)".contains(fragment), "\(e)")
            }
        }
        expect("needs 12 bytes, got 8", [("w", "F32", [3], Data(count: 8))])
        expect("unknown dtype 'f32'", [("w", "f32", [1], Data(count: 4))])
        expect("duplicate tensor name 'w'", [("w", "F32", [1], Data(count: 4)), ("w", "I64", [1], Data(count: 8))])
        expect("invalid shape", [("w", "F32", [-1], Data())])
        expect("invalid tensor name '__metadata__'", [("__metadata__", "F32", [1], Data(count: 4))])
    }

    /// A file with the given header text (padded) and `dataBytes` zero bytes of buffer.
    func file(header: String, dataBytes: Int) -> Data {
        var h = Array(header.utf8)
        h += [UInt8](repeating: 0x20, count: (8 - h.count % 8) % 8)
        var n = UInt64(h.count).littleEndian
        var d = withUnsafeBytes(of: &n) { Data($0) }
        d.append(contentsOf: h)
        d.append(Data(count: dataBytes))
        return d
    }

    func testReaderRejectsCorruptFiles() {
        func expect(_ fragment: String, _ data: Data, line: UInt = #line) {
            XCTAssertThrowsError(try SafeTensors.decode(data, file: "bad.safetensors"), line: line) { e in
                XCTAssertTrue("\(e)".contains("bad.safetensors") && "\(e)".contains(fragment), "\(e)", line: line)
            }
        }
        let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertNoThrow(try SafeTensors.decode(file(header: good, dataBytes: 8), file: "ok"))
        expect("too short", Data([1, 2, 3]))
        var huge = file(header: good, dataBytes: 8)
        huge[6] = 1
        expect("header length", huge)
        expect("truncated: tensors need 8 data bytes, file has 7", file(header: good, dataBytes: 7))
        expect("cover 8 data bytes but the file has 9", file(header: good, dataBytes: 9))
        expect("not valid JSON", file(header: #"{"a":{"dtype":"F32""#, dataBytes: 0))
        expect("does not start with '{'", file(header: "[]", dataBytes: 0))
        expect("unknown dtype 'F31'", file(header: #"{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8))
        expect("does not fit data_offsets [0, 8]", file(header: #"{"a":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8))
        expect("shape is missing", file(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8))
        expect("shape is missing", file(header: #"{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}"#, dataBytes: 8))
        expect("shape is missing", file(header: #"{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, dataBytes: 4))
        expect("data_offsets is missing", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, dataBytes: 8))
        expect("end before they begin", file(header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, dataBytes: 8))
        expect("overlap", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8))
        expect("gap after byte 0", file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8))
        expect("__metadata__ value for 'k' is not a string", file(header: #"{"__metadata__":{"k":1}}"#, dataBytes: 0))
        expect("entry is not an object", file(header: #"{"a":3}"#, dataBytes: 0))
        XCTAssertThrowsError(try SafeTensors.read(path: "/nonexistent/x.safetensors")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/x.safetensors: no such file"), "\(e)")
        }
    }

    func testEveryPrefixOfAValidFileIsRejected() throws {
        let valid = Self.bytes(fromHex: Self.referenceHex)
        for n in 0..<valid.count {
            XCTAssertThrowsError(try SafeTensors.decode(valid.prefix(n), file: "p"), "prefix \(n)")
        }
    }
}
