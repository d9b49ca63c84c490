import Foundation

/// Builds GGUF v3 files, so tests (and tools) can make synthetic models; tests patch its output
/// to make malformed ones.
///
/// The layout is the one `gguf.GGUFWriter` (Python) and llama.cpp write: header, metadata in the
/// order added, tensor infos in the order added, zero padding to the alignment, then each
/// tensor's bytes padded to the alignment (the last one too), offsets relative to the data
/// section. The alignment is `general.alignment` when that key is set (a uint32 power of two up
/// to 65536, as `GGUFFile` requires), 32 otherwise. Re-encoding a file that Python wrote gives the
/// same bytes.
///
/// Everything that `GGUFFile` would reject is rejected when added, with the same `GGUFError`
/// case, so `bytes()` cannot fail. An empty array is written with element type uint8.
///
/// ```swift
/// var w = GGUFWriter()
/// try w.addMetadata("general.architecture", .string("llama"))
/// let ones = [Float](repeating: 1, count: 4).flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
/// try w.addTensor("norm.weight", type: .f32, dimensions: [4], data: ones)
/// try w.write(to: "/tmp/tiny.gguf")
/// ```
public struct GGUFWriter: Sendable {
  /// A tensor waiting to be written: dimensions fastest-first, as in the file.
  public struct Tensor: Sendable, Equatable {
    public let name: String
    public let type: GGMLType
    public let dimensions: [Int]
    public let data: [UInt8]
  }

  /// Metadata keys in the order they will be written.
  public private(set) var metadataKeys: [String] = []
  /// Metadata values by key.
  public private(set) var metadata: [String: MetadataValue] = [:]
  /// Tensors in the order they will be written.
  public private(set) var tensors: [Tensor] = []
  private var tensorNames: Set<String> = []

  public init() {}

  /// The tensor-data alignment: `general.alignment` when set, 32 otherwise.
  public var alignment: Int {
    if case let .uint32(a) = metadata["general.alignment"] { return Int(a) }
    return 32
  }

  /// Adds a metadata key. Throws `duplicateKey` for a key already added, `wrongValueType` for an
  /// array whose elements differ in type (GGUF arrays are homogeneous at every level) or a
  /// non-uint32 `general.alignment`, `badAlignment` for an alignment that is not a power of two
  /// in 1...65536, and `absurdCount` for arrays nested or sized beyond what `GGUFFile` reads.
  public mutating func addMetadata(_ key: String, _ value: MetadataValue) throws(GGUFError) {
    guard metadata[key] == nil else { throw .duplicateKey(key) }
    try Self.validate(value, key: key, depth: 0)
    if key == "general.alignment" {
      guard case let .uint32(a) = value else {
        throw .wrongValueType(key: key, expected: "uint32", found: value.typeName)
      }
      guard a > 0, a <= 65536, a & (a - 1) == 0 else { throw .badAlignment(UInt64(a)) }
    }
    metadata[key] = value
    metadataKeys.append(key)
  }

  /// Adds a tensor from its raw bytes (ggml block layout, little-endian). `dimensions` are
  /// fastest-first: a PyTorch [out, in] matrix is `[in, out]`. Throws `duplicateTensor`,
  /// `badDimensionCount` (not 1-4 dimensions), `badDimensions` (a dimension < 1 or 2^40 elements
  /// or more), `notBlockMultiple` (first dimension not a multiple of the block size) or
  /// `wrongDataSize` (`data` not exactly the size the type and dimensions need).
  public mutating func addTensor(_ name: String, type: GGMLType, dimensions: [Int], data: [UInt8]) throws(GGUFError) {
    guard !tensorNames.contains(name) else { throw .duplicateTensor(name) }
    guard (1...4).contains(dimensions.count) else {
      throw .badDimensionCount(tensor: name, count: UInt32(dimensions.count))
    }
    var elements = 1
    for d in dimensions {
      let (p, overflow) = elements.multipliedReportingOverflow(by: d)
      guard d > 0, !overflow, p < (1 << 40) else {
        throw .badDimensions(tensor: name, dims: dimensions.map { UInt64(bitPattern: Int64($0)) })
      }
      elements = p
    }
    guard dimensions[0] % type.blockSize == 0 else {
      throw .notBlockMultiple(tensor: name, elements: UInt64(dimensions[0]), blockSize: type.blockSize)
    }
    let expected = elements / type.blockSize * type.blockBytes
    guard data.count == expected else { throw .wrongDataSize(tensor: name, expected: expected, found: data.count) }
    tensors.append(Tensor(name: name, type: type, dimensions: dimensions, data: data))
    tensorNames.insert(name)
  }

  /// The encoded file.
  public func bytes() -> [UInt8] {
    let align = alignment
    func padded(_ n: Int) -> Int { (n + align - 1) / align * align }
    var out: [UInt8] = []
    out.reserveCapacity(padded(4096) + tensors.reduce(0) { $0 + padded($1.data.count) })
    out.append(le: UInt32(0x4655_4747))  // "GGUF"
    out.append(le: UInt32(3))
    out.append(le: UInt64(tensors.count))
    out.append(le: UInt64(metadataKeys.count))
    for key in metadataKeys {
      guard let value = metadata[key] else { continue }  // keys and values are added together
      out.append(string: key)
      out.append(le: Self.kind(of: value).rawValue)
      Self.encode(value, into: &out)
    }
    var offset = 0
    for t in tensors {
      out.append(string: t.name)
      out.append(le: UInt32(t.dimensions.count))
      for d in t.dimensions { out.append(le: UInt64(d)) }
      out.append(le: t.type.rawValue)
      out.append(le: UInt64(offset))
      offset += padded(t.data.count)
    }
    out.append(contentsOf: repeatElement(0, count: padded(out.count) - out.count))
    for t in tensors {
      out.append(contentsOf: t.data)
      out.append(contentsOf: repeatElement(0, count: padded(t.data.count) - t.data.count))
    }
    return out
  }

  /// Writes the file atomically: the bytes go to a temporary file in the same directory, which
  /// is flushed to disk and then renamed over `path`, so readers never see a partial file.
  public func write(to path: String) throws(GGUFError) {
    try AtomicFile.write(bytes(), to: path)
  }

  // MARK: Encoding

  /// The wire type of a value.
  static func kind(of value: MetadataValue) -> MetadataValue.Kind {
    switch value {
    case .uint8: return .uint8
    case .int8: return .int8
    case .uint16: return .uint16
    case .int16: return .int16
    case .uint32: return .uint32
    case .int32: return .int32
    case .float32: return .float32
    case .bool: return .bool
    case .string: return .string
    case .array: return .array
    case .uint64: return .uint64
    case .int64: return .int64
    case .float64: return .float64
    }
  }

  /// Checks array homogeneity, length and nesting depth against the reader's limits.
  static func validate(_ value: MetadataValue, key: String, depth: Int) throws(GGUFError) {
    guard case let .array(items) = value else { return }
    guard depth < GGUFFile.maxArrayNesting else {
      throw .absurdCount(what: "array nesting of '\(key)'", count: UInt64(depth + 1), limit: UInt64(GGUFFile.maxArrayNesting))
    }
    guard UInt64(items.count) <= GGUFFile.maxArrayLength else {
      throw .absurdCount(what: "length of array '\(key)'", count: UInt64(items.count), limit: GGUFFile.maxArrayLength)
    }
    guard let first = items.first else { return }
    let kind = Self.kind(of: first)
    for item in items {
      guard Self.kind(of: item) == kind else {
        throw .wrongValueType(key: key, expected: "array of \(first.typeName)", found: "array containing \(item.typeName)")
      }
      try validate(item, key: key, depth: depth + 1)
    }
  }

  /// Appends a value without its type id (arrays carry their element type and count).
  static func encode(_ value: MetadataValue, into out: inout [UInt8]) {
    switch value {
    case let .uint8(v): out.append(v)
    case let .int8(v): out.append(UInt8(bitPattern: v))
    case let .uint16(v): out.append(le: v)
    case let .int16(v): out.append(le: v)
    case let .uint32(v): out.append(le: v)
    case let .int32(v): out.append(le: v)
    case let .float32(v): out.append(le: v.bitPattern)
    case let .bool(v): out.append(v ? 1 : 0)
    case let .string(s): out.append(string: s)
    case let .uint64(v): out.append(le: v)
    case let .int64(v): out.append(le: v)
    case let .float64(v): out.append(le: v.bitPattern)
    case let .array(items):
      out.append(le: (items.first.map(kind(of:)) ?? .uint8).rawValue)
      out.append(le: UInt64(items.count))
      for item in items { encode(item, into: &out) }
    }
  }
}

extension [UInt8] {
  /// Appends an integer in little-endian byte order.
  mutating func append<T: FixedWidthInteger>(le value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }

  /// Appends a GGUF string: uint64 byte count, then UTF-8 bytes without terminator.
  mutating func append(string: String) {
    append(le: UInt64(string.utf8.count))
    append(contentsOf: string.utf8)
  }
}

/// Temp-file-and-rename writing with POSIX calls, errors mapped to `GGUFError.writeFailed`.
enum AtomicFile {
  static func write(_ bytes: [UInt8], to path: String) throws(GGUFError) {
    func failure(_ what: String) -> GGUFError {
      .writeFailed(path: path, reason: "\(what): \(String(cString: strerror(errno)))")
    }
    var template = Array((path + ".tmp-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { throw failure("cannot create a temporary file") }
    let tempPath = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    var done = false
    defer { if !done { unlink(tempPath) } }
    do {
      defer { close(fd) }
      guard fchmod(fd, 0o644) == 0 else { throw failure("fchmod") }
      var written = 0
      while written < bytes.count {
        let n = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress! + written, bytes.count - written) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw failure("write") }
        written += n
      }
      guard fsync(fd) == 0 else { throw failure("fsync") }
    }
    guard rename(tempPath, path) == 0 else { throw failure("rename") }
    done = true
  }
}

/// `write(2)`, named apart from the `write` methods above that would shadow it.
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
