import Foundation
import GraphIR

/// Checks made on an HDF5 file's superblock before libhdf5 sees it. libhdf5 trusts the
/// addresses it finds in a file and reads through them without checking them against the file's
/// size (a file with bytes inserted or cut away can crash it), so the file must end exactly
/// where its superblock says, as every file libhdf5 or h5py closes does, and the root group's
/// name heap must lie inside it. These are the corruptions the fuzzer found crashing libhdf5
/// 1.10 (Debian's); they are not a full validation of the format.
enum HDF5Superblock {
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    static func check(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw FileError(path, "cannot open for reading") }
        defer { try? handle.close() }
        let size = Int((try? handle.seekToEnd()) ?? 0)
        // The superblock is at byte 0, or after a user block at 512, 1024, 2048, ...
        var at = 0
        while at + 48 <= size {
            try? handle.seek(toOffset: UInt64(at))
            let head = [UInt8]((try? handle.read(upToCount: 64)) ?? Data())
            if head.count >= 48, Array(head[0..<8]) == signature {
                try check(head, at: at, size: size, path: path)
                try checkDriverBlock(handle, head, at: at, size: size, path: path)
                try checkRootHeap(handle, head, at: at, size: size, path: path)
                return
            }
            at = at == 0 ? 512 : at * 2
        }
        // No superblock: libhdf5 says so itself, without reading further.
    }

    /// Versions 0 and 1 keep the end-of-file address after the base and free-space addresses;
    /// versions 2 and 3 after the base and superblock-extension addresses. Offsets must be 8 bytes.
    static func check(_ head: [UInt8], at: Int, size: Int, path: String) throws {
        let reader = ByteReader(bytes: head, file: path, context: "HDF5 superblock")
        let version = head[8]
        let offsetSize: UInt8, eofField: Int, baseField: Int
        switch version {
        case 0: (offsetSize, baseField, eofField) = (head[13], 24, 40)
        case 1: (offsetSize, baseField, eofField) = (head[13], 28, 44)
        case 2, 3: (offsetSize, baseField, eofField) = (head[9], 12, 28)
        default: throw FileError(path, "unsupported HDF5 superblock version \(version)")
        }
        guard offsetSize == 8 else { throw FileError(path, "HDF5 superblock: \(offsetSize)-byte addresses are not supported (8 expected)") }
        let base = try reader.unsigned(baseField, 8), eof = try reader.unsigned(eofField, 8)
        guard base == UInt64(at), eof <= UInt64(Int.max), base + eof == UInt64(size) else {
            throw FileError(path, "HDF5 superblock says the file ends at byte \(base &+ eof), but it has \(size) bytes (truncated or corrupt)")
        }
    }

    /// Versions 0 and 1 may name a driver information block (a multi-file driver's): libhdf5
    /// allocates the size that block declares before reading it, so the block and the size must
    /// lie inside the file.
    static func checkDriverBlock(_ handle: FileHandle, _ head: [UInt8], at: Int, size: Int, path: String) throws {
        let version = head[8]
        guard version <= 1 else { return }
        let field = version == 0 ? 48 : 52
        let reader = ByteReader(bytes: head, file: path, context: "HDF5 superblock")
        let address = try reader.unsigned(field, 8)
        guard address != UInt64.max else { return }   // undefined: no driver block, as libhdf5's own files
        guard address <= UInt64(size - at), UInt64(size - at) - address >= 16 else {
            throw FileError(path, "HDF5 superblock's driver information block at byte \(address) lies outside the file (\(size) bytes)")
        }
        try? handle.seek(toOffset: UInt64(at) + address)
        let block = [UInt8]((try? handle.read(upToCount: 16)) ?? Data())
        let blockReader = ByteReader(bytes: block, file: path, context: "HDF5 driver information block")
        let declared = UInt64(try blockReader.u32(4))
        guard declared <= UInt64(size - at) - address - 16 else {
            throw FileError(path, "HDF5 driver information block at byte \(address) declares \(declared) bytes, past the end of the file (\(size) bytes)")
        }
    }

    /// Versions 0 and 1 name the root group's symbol table: its local heap (the group's link
    /// names) must lie inside the file, since libhdf5 allocates and copies the size it declares.
    static func checkRootHeap(_ handle: FileHandle, _ head: [UInt8], at: Int, size: Int, path: String) throws {
        let version = head[8]
        guard version <= 1 else { return }
        let entry = (version == 0 ? 56 : 60)
        try? handle.seek(toOffset: UInt64(at + entry))
        let bytes = [UInt8]((try? handle.read(upToCount: 40)) ?? Data())
        let reader = ByteReader(bytes: bytes, file: path, context: "HDF5 root group entry")
        guard bytes.count == 40 else { return }
        if try reader.u32(16) == 1 {   // cache type 1: the symbol table's addresses cached in the entry
            try checkHeap(handle, at: at, heap: try reader.unsigned(32, 8), size: size, path: path)
        }
        try checkRootSymbolTableMessage(handle, at: at, header: try reader.unsigned(8, 8), size: size, path: path)
    }

    /// The root group's object header (version 1) repeats the symbol table's B-tree and heap
    /// addresses in its symbol table message, and libhdf5 looks names up through those: the
    /// heap there must pass the same checks and the B-tree must lie inside the file.
    static func checkRootSymbolTableMessage(_ handle: FileHandle, at: Int, header: UInt64, size: Int, path: String) throws {
        guard header <= UInt64(size - at), UInt64(size - at) - header >= 16 else {
            throw FileError(path, "HDF5 root group's object header at byte \(header) lies outside the file (\(size) bytes)")
        }
        try? handle.seek(toOffset: UInt64(at) + header)
        let prefix = [UInt8]((try? handle.read(upToCount: 16)) ?? Data())
        let prefixReader = ByteReader(bytes: prefix, file: path, context: "HDF5 root group's object header")
        guard prefix.count == 16, prefix[0] == 1 else { return }   // other versions: libhdf5 checks their checksums
        let messages = Int(try prefixReader.unsigned(2, 2)), length = try prefixReader.u32(8)
        guard UInt64(length) <= UInt64(size - at) - header - 16 else {
            throw FileError(path, "HDF5 root group's object header at byte \(header) declares \(length) bytes, past the end of the file (\(size) bytes)")
        }
        let body = [UInt8]((try? handle.read(upToCount: Int(length))) ?? Data())
        let bodyReader = ByteReader(bytes: body, file: path, context: "HDF5 root group's object header")
        var offset = 0, seen = 0
        while seen < messages, offset + 8 <= body.count {
            let type = try bodyReader.unsigned(offset, 2), messageSize = Int(try bodyReader.unsigned(offset + 2, 2))
            if type == 0x11, offset + 8 + 16 <= body.count {   // symbol table message: B-tree, then heap address
                let tree = try bodyReader.unsigned(offset + 8, 8), heap = try bodyReader.unsigned(offset + 16, 8)
                guard tree <= UInt64(size - at), UInt64(size - at) - tree >= 8 else {
                    throw FileError(path, "HDF5 root group's B-tree at byte \(tree) lies outside the file (\(size) bytes)")
                }
                try checkHeap(handle, at: at, heap: heap, size: size, path: path)
            }
            offset += 8 + messageSize
            seen += 1
        }
    }

    /// A local heap (a group's link names) at `heap`: inside the file, signed, and its data too,
    /// since libhdf5 allocates and copies the size it declares.
    static func checkHeap(_ handle: FileHandle, at: Int, heap: UInt64, size: Int, path: String) throws {
        guard heap <= UInt64(size - 32) else {
            throw FileError(path, "HDF5 root group's name heap at byte \(heap) lies outside the file (\(size) bytes)")
        }
        try? handle.seek(toOffset: UInt64(at) + heap)
        let header = [UInt8]((try? handle.read(upToCount: 32)) ?? Data())
        let heapReader = ByteReader(bytes: header, file: path, context: "HDF5 local heap")
        guard header.count == 32, Array(header[0..<4]) == Array("HEAP".utf8) else {
            throw FileError(path, "HDF5 root group's name heap at byte \(heap) has no HEAP signature (corrupt file)")
        }
        let dataSize = try heapReader.unsigned(8, 8), dataAddress = try heapReader.unsigned(24, 8)
        guard dataSize <= UInt64(size), dataAddress <= UInt64(size) - dataSize else {
            throw FileError(path, "HDF5 root group's name heap declares \(dataSize) bytes at byte \(dataAddress), outside the file (\(size) bytes)")
        }
    }
}
