import CHDF5
import Foundation
import GraphIR

/// The encoder-features file of the homework, `all_features.hdf5`: one float32 dataset
/// `features` of shape (images, regions, dim) = (613, 256, 512), row = image number - 1.
/// Goes through libhdf5 with its automatic error printing turned off; failures become
/// `FileError`s carrying HDF5's own innermost message. libhdf5 (serial build) is not
/// thread-safe: use these from one thread at a time.
public enum HDF5Features {
    public static let datasetName = "features"
    /// 2^31 floats (8 GiB): far above the homework's 613 x 256 x 512, far below overflow.
    static let maxValues = 1 << 31

    /// Writes `features` (row-major count x regions x dim) through `AtomicFile`, so a crash
    /// never leaves a half-written features file.
    public static func write(path: String, features: [Float], count: Int, regions: Int, dim: Int) throws {
        guard count >= 0, regions > 0, dim > 0 else {
            throw FileError(path, "invalid features shape (\(count), \(regions), \(dim))")
        }
        let (product, overflow) = count.multipliedReportingOverflow(by: regions * dim)
        guard !overflow, product == features.count else {
            throw FileError(path, "\(features.count) values do not fill shape (\(count), \(regions), \(dim))")
        }
        HDF5Library.prepare()
        do {
            try AtomicFile.write(to: URL(fileURLWithPath: path)) { tmp in
                try writeDataset(tmp.path, reportAs: path, name: datasetName, values: features, dims: [count, regions, dim],
                                 fileType: .float32)
            }
        } catch let e as FileError {
            throw e
        } catch {
            throw FileError(path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// The whole dataset.
    public static func read(path: String) throws -> (features: [Float], count: Int, regions: Int, dim: Int) {
        let reader = try HDF5FeatureReader(path: path)
        return (try reader.readAll(), reader.count, reader.regions, reader.dim)
    }

    /// One image's regions x dim features (row = image number - 1).
    public static func readRow(path: String, row: Int) throws -> [Float] {
        try HDF5FeatureReader(path: path).row(row)
    }

    /// How values are stored in the file (little-endian, as h5py writes them).
    enum StoredType {
        case float32, float64, int32
        var hdf5Type: hid_t {
            switch self {
            case .float32: return H5T_IEEE_F32LE_g
            case .float64: return H5T_IEEE_F64LE_g
            case .int32: return H5T_STD_I32LE_g
            }
        }
    }

    /// Creates `file` holding one dataset `name` stored as `fileType` (HDF5 converts the
    /// float32 `values`). Separate from `write` so tests can make files of other ranks and types.
    static func writeDataset(_ file: String, reportAs path: String, name: String, values: [Float], dims: [Int],
                             fileType: StoredType) throws {
        HDF5Library.prepare()
        let tmp = file
        let fail = { (what: String) in FileError(path, HDF5Library.describe(what)) }
        let file = H5Fcreate(tmp, HDF5Library.accTrunc, HDF5Library.defaultProperties, HDF5Library.defaultProperties)
        guard file >= 0 else { throw fail("cannot create the HDF5 file") }
        defer { H5Fclose(file) }
        var hdims = dims.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(hdims.count), &hdims, nil)
        guard space >= 0 else { throw fail("cannot create the dataspace") }
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(file, name, fileType.hdf5Type, space,
                                 HDF5Library.defaultProperties, HDF5Library.defaultProperties, HDF5Library.defaultProperties)
        guard dataset >= 0 else { throw fail("cannot create dataset \"\(name)\"") }
        defer { H5Dclose(dataset) }
        let status = values.withUnsafeBufferPointer { buf in
            H5Dwrite(dataset, H5T_NATIVE_FLOAT_g, HDF5Library.all, HDF5Library.all, HDF5Library.defaultProperties, buf.baseAddress)
        }
        guard status >= 0 else { throw fail("cannot write dataset \"\(name)\"") }
        guard H5Fflush(file, H5F_SCOPE_GLOBAL) >= 0 else { throw fail("cannot flush the HDF5 file") }
    }
}

/// An open features file, for reading rows one image at a time without reopening it.
public final class HDF5FeatureReader {
    public let path: String
    public let count: Int
    public let regions: Int
    public let dim: Int
    private let file: hid_t
    private let dataset: hid_t

    public init(path: String) throws {
        self.path = path
        try requireFile(path)
        try HDF5Superblock.check(path: path)
        HDF5Library.prepare()
        let fail = { (what: String) in FileError(path, HDF5Library.describe(what)) }
        let file = H5Fopen(path, HDF5Library.accReadOnly, HDF5Library.defaultProperties)
        guard file >= 0 else { throw fail("not a readable HDF5 file") }
        guard H5Lexists(file, HDF5Features.datasetName, HDF5Library.defaultProperties) > 0 else {
            H5Fclose(file)
            throw FileError(path, "has no dataset \"\(HDF5Features.datasetName)\"")
        }
        let dataset = H5Dopen2(file, HDF5Features.datasetName, HDF5Library.defaultProperties)
        guard dataset >= 0 else {
            H5Fclose(file)
            throw fail("cannot open dataset \"\(HDF5Features.datasetName)\"")
        }
        do {
            (count, regions, dim) = try Self.checkShape(dataset, path)
            try Self.checkDeclaredSize(count, regions, dim, path)
            try Self.checkStorage(dataset, values: count * regions * dim, path)
        } catch {
            H5Dclose(dataset)
            H5Fclose(file)
            throw error
        }
        self.file = file
        self.dataset = dataset
    }

    deinit {
        H5Dclose(dataset)
        H5Fclose(file)
    }

    /// The shape is only the header's word: refuses one whose float32 values could not come
    /// from the file's bytes even at deflate's best ratio, before a row or the whole is allocated.
    private static func checkDeclaredSize(_ count: Int, _ regions: Int, _ dim: Int, _ path: String) throws {
        let fileSize = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        let (row, o1) = regions.multipliedReportingOverflow(by: dim)
        let (values, o2) = row.multipliedReportingOverflow(by: count)
        let (bytes, o3) = values.multipliedReportingOverflow(by: MemoryLayout<Float>.size)
        let largest = Gzip.largestInflatedSize(compressed: fileSize)
        guard !o1, !o2, !o3, bytes <= largest else {
            throw FileError(path, "dataset \"features\" declares shape (\(count), \(regions), \(dim)), more float32 data than the file's \(fileSize) bytes can hold")
        }
    }

    /// libhdf5 trusts a dataset's layout message: a contiguous dataset whose recorded storage
    /// is smaller than its dataspace, or lies past the end of the file, makes `H5Dread` copy
    /// from a null sieve buffer (found by the hdf5 fuzzer). So the storage is checked against the
    /// shape and the file's length before any read, and layouts graphc does not read are refused.
    private static func checkStorage(_ dataset: hid_t, values: Int, _ path: String) throws {
        let fileSize = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.uint64Value ?? 0
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw FileError(path, HDF5Library.describe("cannot read the type of \"features\"")) }
        let typeSize = UInt64(H5Tget_size(type))
        H5Tclose(type)
        let needed = UInt64(values) * typeSize  // values * 8 fits: checkDeclaredSize bounded it
        let plist = H5Dget_create_plist(dataset)
        guard plist >= 0 else { throw FileError(path, HDF5Library.describe("cannot read the layout of \"features\"")) }
        let layout = H5Pget_layout(plist)
        let filters = H5Pget_nfilters(plist)
        H5Pclose(plist)
        let stored = UInt64(H5Dget_storage_size(dataset))
        switch layout {
        case H5D_CONTIGUOUS:
            guard needed > 0 else { return }
            let offset = UInt64(H5Dget_offset(dataset))
            guard offset != HDF5Library.undefinedAddress, stored > 0 else {
                throw FileError(path, "dataset \"features\" has no data written (its storage was never allocated)")
            }
            guard stored >= needed else {
                throw FileError(path, "dataset \"features\" stores \(stored) bytes, but its shape needs \(needed)")
            }
            let (end, overflow) = offset.addingReportingOverflow(stored)
            guard !overflow, end <= fileSize else {
                throw FileError(path, "dataset \"features\" is stored at bytes \(offset)..<\(offset &+ stored), past the end of the \(fileSize)-byte file (truncated?)")
            }
        case H5D_COMPACT:
            guard stored >= needed else {
                throw FileError(path, "dataset \"features\" stores \(stored) bytes, but its shape needs \(needed)")
            }
        case H5D_CHUNKED:
            guard stored <= fileSize else {
                throw FileError(path, "dataset \"features\" declares \(stored) bytes of chunks, more than the \(fileSize)-byte file holds")
            }
            guard filters >= 0 else { throw FileError(path, HDF5Library.describe("cannot read the filters of \"features\"")) }
        default:
            throw FileError(path, "dataset \"features\" has a layout graphc does not read (HDF5 layout \(layout.rawValue)); write it contiguous or chunked")
        }
    }

    /// Requires a rank-3 floating-point dataset (float64 is converted to float32 by HDF5).
    private static func checkShape(_ dataset: hid_t, _ path: String) throws -> (Int, Int, Int) {
        let type = H5Dget_type(dataset)
        guard type >= 0 else { throw FileError(path, HDF5Library.describe("cannot read the type of \"features\"")) }
        let typeClass = H5Tget_class(type)
        let typeSize = H5Tget_size(type)
        H5Tclose(type)
        guard typeClass == H5T_FLOAT else {
            let name: String
            switch typeClass {
            case H5T_INTEGER: name = "integers"
            case H5T_STRING: name = "strings"
            case H5T_COMPOUND: name = "a compound type"
            default: name = "HDF5 type class \(typeClass.rawValue)"
            }
            throw FileError(path, "dataset \"features\" is not floating point (it holds \(name))")
        }
        guard typeSize == 4 || typeSize == 8 else {
            throw FileError(path, "dataset \"features\" has \(typeSize)-byte floats, expected float32")
        }
        let space = H5Dget_space(dataset)
        guard space >= 0 else { throw FileError(path, HDF5Library.describe("cannot read the shape of \"features\"")) }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank == 3 else {
            throw FileError(path, "dataset \"features\" has rank \(rank), expected 3 (images, regions, dim)")
        }
        var dims = [hsize_t](repeating: 0, count: 3)
        guard H5Sget_simple_extent_dims(space, &dims, nil) == 3 else {
            throw FileError(path, HDF5Library.describe("cannot read the dimensions of \"features\""))
        }
        let limit = hsize_t(Int32.max)
        guard dims.allSatisfy({ $0 <= limit }), dims[1] > 0, dims[2] > 0, dims[1] * dims[2] <= hsize_t(HDF5Features.maxValues) else {
            throw FileError(path, "dataset \"features\" has unusable shape \(dims)")
        }
        return (Int(dims[0]), Int(dims[1]), Int(dims[2]))
    }

    public func readAll() throws -> [Float] {
        let (total, overflow) = count.multipliedReportingOverflow(by: regions * dim)
        guard !overflow, total <= HDF5Features.maxValues else {
            throw FileError(path, "dataset \"features\" (\(count), \(regions), \(dim)) is too large to load at once; read it by rows")
        }
        var out = [Float](repeating: 0, count: total)
        guard total > 0 else { return out }
        let status = out.withUnsafeMutableBufferPointer { buf in
            H5Dread(dataset, H5T_NATIVE_FLOAT_g, HDF5Library.all, HDF5Library.all, HDF5Library.defaultProperties, buf.baseAddress)
        }
        guard status >= 0 else { throw FileError(path, HDF5Library.describe("cannot read dataset \"features\"")) }
        return out
    }

    /// Row `index` (0-based: image number - 1) as regions x dim floats.
    public func row(_ index: Int) throws -> [Float] {
        guard index >= 0 && index < count else {
            throw FileError(path, "row \(index) is out of range 0..<\(count)")
        }
        let fileSpace = H5Dget_space(dataset)
        guard fileSpace >= 0 else { throw FileError(path, HDF5Library.describe("cannot read the shape of \"features\"")) }
        defer { H5Sclose(fileSpace) }
        var start: [hsize_t] = [hsize_t(index), 0, 0]
        var extent: [hsize_t] = [1, hsize_t(regions), hsize_t(dim)]
        guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &extent, nil) >= 0 else {
            throw FileError(path, HDF5Library.describe("cannot select row \(index)"))
        }
        let memSpace = H5Screate_simple(3, &extent, nil)
        guard memSpace >= 0 else { throw FileError(path, HDF5Library.describe("cannot create a dataspace")) }
        defer { H5Sclose(memSpace) }
        var out = [Float](repeating: 0, count: regions * dim)
        let status = out.withUnsafeMutableBufferPointer { buf in
            H5Dread(dataset, H5T_NATIVE_FLOAT_g, memSpace, fileSpace, HDF5Library.defaultProperties, buf.baseAddress)
        }
        guard status >= 0 else { throw FileError(path, HDF5Library.describe("cannot read row \(index)")) }
        return out
    }
}

/// HDF5's C macros (H5P_DEFAULT, H5F_ACC_*, H5T_NATIVE_FLOAT) do not import into Swift; these
/// are their values, and the type globals such as H5T_NATIVE_FLOAT_g are valid after H5open().
enum HDF5Library {
    static let defaultProperties: hid_t = 0  // H5P_DEFAULT
    static let all: hid_t = 0                // H5S_ALL
    static let accReadOnly: UInt32 = 0x0000  // H5F_ACC_RDONLY
    static let accTrunc: UInt32 = 0x0002     // H5F_ACC_TRUNC
    static let undefinedAddress = UInt64(haddr_t.max)  // HADDR_UNDEF
    private static let errorStack: hid_t = 0 // H5E_DEFAULT

    /// Opens the library and stops it printing error stacks to stderr; cheap to repeat.
    static func prepare() {
        _ = H5open()
        _ = H5Eset_auto2(errorStack, nil, nil)
    }

    /// `what`, plus the innermost message on HDF5's error stack (which is then cleared).
    static func describe(_ what: String) -> String {
        final class Box { var messages: [String] = [] }
        let box = Box()
        _ = withExtendedLifetime(box) {
            H5Ewalk2(errorStack, H5E_WALK_DOWNWARD, { _, err, context in
                guard let err, let context, let desc = err.pointee.desc else { return 0 }
                let message = String(cString: desc)
                if !message.isEmpty {
                    Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().messages.append(message)
                }
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        _ = H5Eclear2(errorStack)
        guard let innermost = box.messages.last else { return what }
        return "\(what) (HDF5: \(innermost))"
    }
}
