import Foundation

/// One tensor as described in the GGUF header. `dimensions` are fastest-first, as in the
/// file: `attn_k.weight` [576, 192] is a PyTorch [out=192, in=576] matrix.
public struct TensorInfo: Sendable, Equatable {
  public let name: String
  public let dimensions: [Int]
  public let type: GGMLType
  /// Offset of the data relative to the start of the tensor-data section.
  public let offset: Int
  public var elementCount: Int { dimensions.reduce(1, *) }
  public var byteCount: Int { elementCount / type.blockSize * type.blockBytes }
  /// Rows of the matrix view: product of all but the first dimension.
  public var rows: Int { elementCount / max(1, dimensions[0]) }
  public var columns: Int { dimensions[0] }
}

/// A parsed, memory-mapped GGUF v2/v3 file: metadata, tensor table and raw tensor bytes.
///
/// Parsing checks every length against the file size before use, caps counts, validates
/// types, alignment, bounds, overlaps and duplicate names, so a malformed file is rejected with
/// a specific `GGUFError` and never causes a crash, a hang or a huge allocation.
public final class GGUFFile: @unchecked Sendable {
  public let version: UInt32
  /// Metadata in file order.
  public let metadataKeys: [String]
  public let metadata: [String: MetadataValue]
  public let tensors: [TensorInfo]
  public let tensorIndex: [String: Int]
  public let alignment: Int
  /// Absolute file offset of the tensor-data section.
  public let dataOffset: Int
  public let fileSize: Int
  public let path: String?

  private let storage: Storage

  /// Limits that reject absurd headers before anything is allocated.
  public static let maxTensors: UInt64 = 1 << 20
  public static let maxMetadata: UInt64 = 1 << 20
  public static let maxArrayNesting = 4
  public static let maxArrayLength: UInt64 = 1 << 22

  /// Opens and memory-maps `path`.
  public convenience init(path: String) throws(GGUFError) {
    let storage = try Storage(mapping: path)
    try self.init(storage: storage, path: path)
  }

  /// Lets the system drop the pages of the tensor data read so far (a memory-mapped file only):
  /// a model that copied its weights out of the file no longer pays for them twice in its
  /// resident memory. The data stays readable (the pages come back from the file on access).
  public func releaseTensorPages() { storage.releasePages(from: dataOffset) }

  /// Parses an in-memory image (tests, fuzzing).
  public convenience init(bytes: [UInt8]) throws(GGUFError) {
    try self.init(storage: Storage(copying: bytes), path: nil)
  }

  private init(storage: Storage, path: String?) throws(GGUFError) {
    self.storage = storage
    self.path = path
    fileSize = storage.size
    var r = ByteReader(base: storage.base, size: storage.size)
    let magic = try r.read(UInt32.self, "magic")
    guard magic == 0x4655_4747 else { throw .badMagic(found: magic) }
    version = try r.read(UInt32.self, "version")
    guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
    let tensorCount = try r.read(UInt64.self, "tensor count")
    let kvCount = try r.read(UInt64.self, "metadata count")
    guard tensorCount <= Self.maxTensors else {
      throw .absurdCount(what: "tensor count", count: tensorCount, limit: Self.maxTensors)
    }
    guard kvCount <= Self.maxMetadata else {
      throw .absurdCount(what: "metadata count", count: kvCount, limit: Self.maxMetadata)
    }
    // A key takes at least 13 bytes (length, type, a 1-byte value) and a tensor info 32 (name
    // length, one dimension, type, offset): counts the rest of the file cannot hold are corrupt.
    let minimumHeader = Int(kvCount) * 13 + Int(tensorCount) * 32
    guard minimumHeader <= r.remaining else {
      throw .truncated(what: "\(kvCount) metadata entries and \(tensorCount) tensor infos", offset: r.offset,
                       needed: minimumHeader, fileSize: storage.size)
    }
    var keys: [String] = []
    var meta: [String: MetadataValue] = [:]
    for i in 0..<Int(kvCount) {
      let key = try r.string("metadata key #\(i)")
      let rawType = try r.read(UInt32.self, "type of metadata '\(key)'")
      guard let kind = MetadataValue.Kind(rawValue: rawType) else { throw .unknownValueType(key: key, type: rawType) }
      let value = try Self.readValue(&r, kind: kind, key: key, depth: 0)
      guard meta[key] == nil else { throw .duplicateKey(key) }
      meta[key] = value
      keys.append(key)
    }
    metadataKeys = keys
    metadata = meta

    // The specification, llama.cpp and the gguf Python package all require a uint32 here.
    var align = 32
    if let a = meta["general.alignment"] {
      guard case let .uint32(v) = a else {
        throw .wrongValueType(key: "general.alignment", expected: "uint32", found: a.typeName)
      }
      guard v > 0, v <= 65536, v & (v - 1) == 0 else { throw .badAlignment(UInt64(v)) }
      align = Int(v)
    }
    alignment = align

    // Header entries: (name, dimensions, type, offset as written). Offsets are checked against
    // the data section once its start is known.
    var entries: [(name: String, dims: [Int], type: GGMLType, offset: UInt64)] = []
    var index: [String: Int] = [:]
    for i in 0..<Int(tensorCount) {
      let name = try r.string("name of tensor #\(i)")
      let nd = try r.read(UInt32.self, "dimension count of '\(name)'")
      guard nd >= 1 && nd <= 4 else { throw .badDimensionCount(tensor: name, count: nd) }
      var dims: [UInt64] = []
      for d in 0..<Int(nd) { dims.append(try r.read(UInt64.self, "dimension \(d) of '\(name)'")) }
      // Every dimension positive and the product far below Int.max (no overflow later).
      var product: UInt64 = 1
      for d in dims {
        let (p, overflow) = product.multipliedReportingOverflow(by: d)
        guard d > 0, !overflow, p < (1 << 40) else { throw .badDimensions(tensor: name, dims: dims) }
        product = p
      }
      let rawType = try r.read(UInt32.self, "type of '\(name)'")
      guard let type = GGMLType(rawValue: rawType) else { throw .unknownTensorType(tensor: name, type: rawType) }
      guard dims[0] % UInt64(type.blockSize) == 0 else {
        throw .notBlockMultiple(tensor: name, elements: dims[0], blockSize: type.blockSize)
      }
      let offset = try r.read(UInt64.self, "data offset of '\(name)'")
      guard offset % UInt64(align) == 0 else { throw .misalignedOffset(tensor: name, offset: offset, alignment: align) }
      guard index[name] == nil else { throw .duplicateTensor(name) }
      index[name] = entries.count
      entries.append((name, dims.map { Int($0) }, type, offset))
    }
    let start = (r.offset + align - 1) / align * align
    dataOffset = start
    let dataSize = max(0, storage.size - start)
    if !entries.isEmpty && start > storage.size {
      throw .truncated(what: "tensor data", offset: r.offset, needed: start - r.offset, fileSize: storage.size)
    }
    // Bounds in UInt64 before any Int conversion: an offset may be up to 2^64 - 1 on disk.
    var infos: [TensorInfo] = []
    infos.reserveCapacity(entries.count)
    for e in entries {
      let elements = e.dims.reduce(1, *)  // < 2^40, checked above
      let bytes = UInt64(elements / e.type.blockSize * e.type.blockBytes)
      guard e.offset <= UInt64(dataSize), bytes <= UInt64(dataSize) - e.offset else {
        throw .tensorOutOfBounds(tensor: e.name, offset: e.offset, bytes: bytes, dataSize: dataSize)
      }
      infos.append(TensorInfo(name: e.name, dimensions: e.dims, type: e.type, offset: Int(e.offset)))
    }
    // Overlap check on tensors sorted by offset.
    let sorted = infos.sorted { $0.offset < $1.offset }
    for (a, b) in zip(sorted, sorted.dropFirst()) where a.offset + a.byteCount > b.offset {
      throw .overlappingTensors(a.name, b.name)
    }
    tensors = infos
    tensorIndex = index
  }

  private static func readValue(_ r: inout ByteReader, kind: MetadataValue.Kind, key: String, depth: Int) throws(GGUFError) -> MetadataValue {
    switch kind {
    case .uint8: return .uint8(try r.read(UInt8.self, "value of '\(key)'"))
    case .int8: return .int8(try r.read(Int8.self, "value of '\(key)'"))
    case .uint16: return .uint16(try r.read(UInt16.self, "value of '\(key)'"))
    case .int16: return .int16(try r.read(Int16.self, "value of '\(key)'"))
    case .uint32: return .uint32(try r.read(UInt32.self, "value of '\(key)'"))
    case .int32: return .int32(try r.read(Int32.self, "value of '\(key)'"))
    case .float32: return .float32(Float(bitPattern: try r.read(UInt32.self, "value of '\(key)'")))
    case .bool:
      let b = try r.read(UInt8.self, "value of '\(key)'")
      return .bool(b != 0)
    case .string: return .string(try r.string("value of '\(key)'"))
    case .uint64: return .uint64(try r.read(UInt64.self, "value of '\(key)'"))
    case .int64: return .int64(try r.read(Int64.self, "value of '\(key)'"))
    case .float64: return .float64(Double(bitPattern: try r.read(UInt64.self, "value of '\(key)'")))
    case .array:
      guard depth < maxArrayNesting else {
        throw .absurdCount(what: "array nesting of '\(key)'", count: UInt64(depth + 1), limit: UInt64(maxArrayNesting))
      }
      let rawType = try r.read(UInt32.self, "array type of '\(key)'")
      guard let elementKind = MetadataValue.Kind(rawValue: rawType) else { throw .unknownValueType(key: key, type: rawType) }
      let count = try r.read(UInt64.self, "array length of '\(key)'")
      guard count <= maxArrayLength else {
        throw .absurdCount(what: "length of array '\(key)'", count: count, limit: maxArrayLength)
      }
      // Each element needs at least `minimumBytes`: a count the file cannot hold is corrupt.
      let limit = UInt64(r.remaining / elementKind.minimumBytes)
      guard count <= limit else {
        throw .truncated(what: "array '\(key)' of \(count) \(elementKind) values", offset: r.offset,
                         needed: count > UInt64(Int.max / 16) ? Int.max : Int(count) * elementKind.minimumBytes,
                         fileSize: r.size)
      }
      var values: [MetadataValue] = []
      values.reserveCapacity(Int(count))
      for _ in 0..<Int(count) { values.append(try readValue(&r, kind: elementKind, key: key, depth: depth + 1)) }
      return .array(values)
    }
  }

  // MARK: Access

  public func tensor(_ name: String) -> TensorInfo? { tensorIndex[name].map { tensors[$0] } }

  /// Raw bytes of a tensor (a view into the mapping; valid while this file is alive).
  /// `t` must be one of this file's `tensors` (a programming error otherwise, trapped).
  public func rawData(_ t: TensorInfo) -> UnsafeRawBufferPointer {
    precondition(t.offset >= 0 && t.offset + t.byteCount <= fileSize - dataOffset,
                 "tensor '\(t.name)' is not in this GGUF file")
    return UnsafeRawBufferPointer(start: storage.base + dataOffset + t.offset, count: t.byteCount)
  }

  /// Dequantizes a whole tensor into `out` (elementCount floats). Throws `missingTensor` when
  /// `t` is not one of this file's tensors.
  public func dequantize(_ t: TensorInfo, into out: UnsafeMutablePointer<Float>) throws(GGUFError) {
    guard let i = tensorIndex[t.name], tensors[i] == t else { throw .missingTensor(t.name) }
    guard t.type.canDequantize else { throw .unsupportedDequantization(tensor: t.name, type: t.type.description) }
    Dequantize.run(t.type, rawData(t), count: t.elementCount, into: out)
  }

  public func dequantize(_ name: String) throws(GGUFError) -> [Float] {
    guard let t = tensor(name) else { throw .missingTensor(name) }
    var out = [Float](repeating: 0, count: t.elementCount)
    try out.withUnsafeMutableBufferPointer { (b) throws(GGUFError) in try dequantize(t, into: b.baseAddress!) }
    return out
  }

  // Typed metadata accessors with errors that name the key.
  public func int(_ key: String) throws(GGUFError) -> Int {
    guard let v = metadata[key] else { throw .missingKey(key) }
    guard let i = v.int else { throw .wrongValueType(key: key, expected: "integer", found: v.typeName) }
    return i
  }

  public func double(_ key: String) throws(GGUFError) -> Double {
    guard let v = metadata[key] else { throw .missingKey(key) }
    guard let d = v.double else { throw .wrongValueType(key: key, expected: "number", found: v.typeName) }
    return d
  }

  public func string(_ key: String) throws(GGUFError) -> String {
    guard let v = metadata[key] else { throw .missingKey(key) }
    guard let s = v.string else { throw .wrongValueType(key: key, expected: "string", found: v.typeName) }
    return s
  }

  public func stringArray(_ key: String) throws(GGUFError) -> [String] {
    guard let v = metadata[key] else { throw .missingKey(key) }
    guard let a = v.array else { throw .wrongValueType(key: key, expected: "array of strings", found: v.typeName) }
    var out: [String] = []
    out.reserveCapacity(a.count)
    for e in a {
      guard let s = e.string else { throw .wrongValueType(key: key, expected: "array of strings", found: "array of \(e.typeName)") }
      out.append(s)
    }
    return out
  }
}

/// Owner of the file bytes: an mmap'ed region or a heap copy.
final class Storage: @unchecked Sendable {
  let base: UnsafeRawPointer
  let size: Int
  private let release: () -> Void
  private var mapped = false

  init(mapping path: String) throws(GGUFError) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(path: path, reason: "not a regular file") }
    let size = Int(st.st_size)
    guard size > 0 else { throw .truncated(what: "magic", offset: 0, needed: 4, fileSize: 0) }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
      throw .cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
    }
    base = UnsafeRawPointer(p)
    self.size = size
    release = { munmap(p, size) }
    mapped = true
  }

  /// A mapped file's clean pages from byte `offset` on, dropped from resident memory (MADV_DONTNEED
  /// on a read-only private mapping: they are read from the file again when touched).
  func releasePages(from offset: Int) {
    guard mapped else { return }
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (offset + page - 1) / page * page
    guard start < size else { return }
    _ = madvise(UnsafeMutableRawPointer(mutating: base + start), size - start, MADV_DONTNEED)
  }

  init(copying bytes: [UInt8]) {
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 64)
    bytes.withUnsafeBytes { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: bytes.count) } }
    base = UnsafeRawPointer(p)
    size = bytes.count
    release = { p.deallocate() }
  }

  deinit { release() }
}
