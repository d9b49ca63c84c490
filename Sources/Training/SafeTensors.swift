import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dense Float32 tensor: row-major values and their shape (`[]` is a scalar).
public struct FloatTensor: Sendable, Equatable {
  public private(set) var shape: [Int]
  public private(set) var values: [Float]

  /// Throws `invalidValue` when a dimension is negative or the shape does not hold `values`.
  public init(shape: [Int], values: [Float]) throws(TrainingError) {
    guard shape.allSatisfy({ $0 >= 0 }), SafeTensorsDType.elementCount(shape) == values.count else {
      throw .invalidValue(key: "tensor shape", value: "\(shape) for \(values.count) values", expected: "dimensions >= 0 whose product is the value count")
    }
    self.shape = shape
    self.values = values
  }

  /// A 1-D tensor.
  public init(_ values: [Float]) {
    shape = [values.count]
    self.values = values
  }
}

/// The element types of the safetensors format (https://github.com/huggingface/safetensors),
/// with their sizes in bits.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
  case bool = "BOOL", f4 = "F4", f6e2m3 = "F6_E2M3", f6e3m2 = "F6_E3M2"
  case u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3", f8e8m0 = "F8_E8M0"
  case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
  case i32 = "I32", u32 = "U32", f32 = "F32", c64 = "C64", f64 = "F64", i64 = "I64", u64 = "U64"

  public var bits: Int {
    switch self {
    case .f4: return 4
    case .f6e2m3, .f6e3m2: return 6
    case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0: return 8
    case .i16, .u16, .f16, .bf16: return 16
    case .i32, .u32, .f32: return 32
    case .c64, .f64, .i64, .u64: return 64
    }
  }

  /// The product of the dimensions, or nil on overflow (a scalar `[]` has one element).
  static func elementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
      let (product, overflow) = n.multipliedReportingOverflow(by: d)
      if overflow { return nil }
      n = product
    }
    return n
  }
}

/// A safetensors file read into memory and validated: an 8-byte little-endian header length N,
/// N bytes of JSON header (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, …}` with an
/// optional `"__metadata__"` object of strings), then the data section that offsets refer to.
///
/// Every tensor's range is checked at open (inside the data section, size = elements × dtype
/// size, no two tensors overlapping), so reading a tensor cannot go out of bounds. Gaps between
/// tensors are allowed (the Python library never writes them but they are harmless).
/// F32, F16, BF16 and F64 tensors convert to Float.
public struct SafeTensorsFile: Sendable {
  /// A tensor's entry in the header; `dataOffsets` are relative to the data section.
  public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    public let dataOffsets: Range<Int>
  }

  /// The Python library's limit on the header size.
  public static let maximumHeaderLength = 100_000_000

  /// The file the bytes came from (error messages only).
  public let path: String
  /// The `__metadata__` strings (empty when absent).
  public let metadata: [String: String]
  /// All tensors, sorted by name.
  public let tensors: [TensorInfo]
  private let index: [String: Int]
  private let data: Data
  private let dataStart: Int

  /// Reads and validates the file at `path`.
  public init(path: String) throws(TrainingError) {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw .cannotRead(path: path, reason: (error as NSError).localizedDescription)
    }
    try self.init(data: data, path: path)
  }

  /// Validates in-memory bytes; `path` is only used in error messages.
  public init(data: Data, path: String) throws(TrainingError) {
    let data = Data(data)  // re-based copy: indices start at 0
    self.path = path
    self.data = data
    guard data.count >= 8 else { throw .safeTensorsTruncated(path: path, what: "the 8-byte header length", needed: 8, fileSize: data.count) }
    let rawLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    guard rawLength <= UInt64(Self.maximumHeaderLength) else {
      throw .safeTensorsBadHeader(path: path, key: "<header length>", reason: "\(rawLength) bytes, over the limit of \(Self.maximumHeaderLength)")
    }
    let headerLength = Int(rawLength)
    guard 8 + headerLength <= data.count else {
      throw .safeTensorsTruncated(path: path, what: "the JSON header of \(headerLength) bytes", needed: 8 + headerLength, fileSize: data.count)
    }
    dataStart = 8 + headerLength
    let dataSize = data.count - dataStart
    let object = try Self.parseHeader(data[8..<dataStart], path: path)

    var metadata: [String: String] = [:]
    var tensors: [TensorInfo] = []
    for (name, entry) in object.sorted(by: { $0.key < $1.key }) {
      if name == "__metadata__" {
        guard case let .object(fields) = entry else {
          throw .safeTensorsBadHeader(path: path, key: name, reason: "found \(entry.typeName), expected an object of strings")
        }
        for (key, value) in fields {
          guard case let .string(s) = value else {
            throw .safeTensorsBadHeader(path: path, key: "__metadata__.\(key)", reason: "found \(value.typeName), expected a string")
          }
          metadata[key] = s
        }
        continue
      }
      tensors.append(try Self.parseTensor(name, entry, dataSize: dataSize, path: path))
    }
    // Overlap check: sorted by start, each non-empty range must begin at or after the furthest end so far.
    var furthest: TensorInfo?
    for t in tensors.sorted(by: { ($0.dataOffsets.lowerBound, $0.name) < ($1.dataOffsets.lowerBound, $1.name) }) where !t.dataOffsets.isEmpty {
      if let f = furthest, t.dataOffsets.lowerBound < f.dataOffsets.upperBound {
        throw .safeTensorsOverlap(path: path, first: f.name, second: t.name)
      }
      if t.dataOffsets.upperBound > furthest?.dataOffsets.upperBound ?? -1 { furthest = t }
    }
    self.metadata = metadata
    self.tensors = tensors.sorted { $0.name < $1.name }
    index = Dictionary(uniqueKeysWithValues: self.tensors.enumerated().map { ($1.name, $0) })
  }

  private static func parseHeader(_ bytes: Data, path: String) throws(TrainingError) -> [String: JSONValue] {
    guard String(validating: bytes, as: UTF8.self) != nil else {
      throw .safeTensorsBadHeader(path: path, key: "<header>", reason: "not valid UTF-8")
    }
    let value: JSONValue
    do {
      value = try JSONDecoder().decode(JSONValue.self, from: bytes)
    } catch {
      throw .safeTensorsBadHeader(path: path, key: "<header>", reason: "not valid JSON: \(JSONLReader.reason(error))")
    }
    guard case let .object(object) = value else {
      throw .safeTensorsBadHeader(path: path, key: "<header>", reason: "found \(value.typeName), expected a JSON object")
    }
    return object
  }

  private static func parseTensor(_ name: String, _ entry: JSONValue, dataSize: Int, path: String) throws(TrainingError) -> TensorInfo {
    func bad(_ reason: String) -> TrainingError { .safeTensorsBadHeader(path: path, key: name, reason: reason) }
    func integers(_ key: String) throws(TrainingError) -> [Int] {
      guard case let .object(fields) = entry else { throw bad("found \(entry.typeName), expected an object with dtype, shape, data_offsets") }
      guard let field = fields[key] else { throw bad("missing \"\(key)\"") }
      guard case let .array(items) = field else { throw bad("\"\(key)\" is \(field.typeName), expected an array of integers") }
      var out: [Int] = []
      for item in items {
        guard case let .integer(i) = item, i >= 0 else { throw bad("\"\(key)\" holds \(item), expected integers >= 0") }
        out.append(i)
      }
      return out
    }
    guard case let .object(fields) = entry else { throw bad("found \(entry.typeName), expected an object with dtype, shape, data_offsets") }
    guard let dtypeValue = fields["dtype"] else { throw bad("missing \"dtype\"") }
    guard case let .string(dtypeName) = dtypeValue else { throw bad("\"dtype\" is \(dtypeValue.typeName), expected a string") }
    guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
      throw .safeTensorsUnknownDType(path: path, tensor: name, dtype: dtypeName)
    }
    let shape = try integers("shape")
    let offsets = try integers("data_offsets")
    guard offsets.count == 2 else { throw bad("\"data_offsets\" has \(offsets.count) entries, expected [begin, end]") }
    let (begin, end) = (offsets[0], offsets[1])
    guard begin <= end, end <= dataSize else {
      throw .safeTensorsOffsetsOutOfRange(path: path, tensor: name, begin: begin, end: end, dataSize: dataSize)
    }
    guard let count = SafeTensorsDType.elementCount(shape), count <= Int.max / 64 else {
      throw bad("shape \(shape) has more elements than can be addressed")
    }
    let bits = count * dtype.bits
    guard bits % 8 == 0, bits / 8 == end - begin else {
      throw .safeTensorsSizeMismatch(path: path, tensor: name, shape: shape, expectedBytes: (bits + 7) / 8, foundBytes: end - begin)
    }
    return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
  }

  /// The entry of tensor `name`, if present.
  public func info(_ name: String) -> TensorInfo? { index[name].map { tensors[$0] } }

  /// The raw little-endian bytes of tensor `name`.
  public func bytes(_ name: String) throws(TrainingError) -> Data {
    guard let t = info(name) else { throw .missingTensor(path: path, tensor: name) }
    return data[(dataStart + t.dataOffsets.lowerBound)..<(dataStart + t.dataOffsets.upperBound)]
  }

  /// Tensor `name` converted to Float32 (exactly, except F64, which is rounded).
  public func floatTensor(_ name: String) throws(TrainingError) -> FloatTensor {
    guard let t = info(name) else { throw .missingTensor(path: path, tensor: name) }
    guard [.f32, .f16, .bf16, .f64].contains(t.dtype) else {
      throw .safeTensorsUnsupportedDType(path: path, tensor: name, dtype: t.dtype.rawValue)
    }
    let count = SafeTensorsDType.elementCount(t.shape) ?? 0
    let start = dataStart + t.dataOffsets.lowerBound
    var out = [Float](repeating: 0, count: count)
    data.withUnsafeBytes { raw in
      switch t.dtype {
      case .f32:
        for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self))) }
      case .f16:
        for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self)))) }
      case .bf16:
        for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self))) << 16) }
      case .f64:
        for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self)))) }
      default:
        break
      }
    }
    return try FloatTensor(shape: t.shape, values: out)
  }

  /// Tensor `name` converted to Float32, flat.
  public func floats(_ name: String) throws(TrainingError) -> [Float] { try floatTensor(name).values }
}

/// Builds safetensors files of F32 tensors that the Python library reads, laid out as it writes
/// them: tensors sorted by name (its order for a single dtype), packed without gaps, the header
/// compact JSON (`__metadata__` first, keys sorted) padded with spaces to a multiple of 8 bytes.
/// A file written by `safetensors.torch.save_file` from the same F32 tensors and at most one
/// metadata key has the same bytes.
public struct SafeTensorsWriter: Sendable {
  /// Strings stored under `__metadata__` (none written when empty).
  public var metadata: [String: String]
  /// The tensors to write, by name.
  public private(set) var tensors: [String: FloatTensor] = [:]

  public init(metadata: [String: String] = [:]) { self.metadata = metadata }

  /// Adds a tensor. Throws `invalidValue` for an empty or reserved name or a name added twice.
  public mutating func add(_ name: String, _ tensor: FloatTensor) throws(TrainingError) {
    guard !name.isEmpty, name != "__metadata__" else {
      throw .invalidValue(key: "tensor name", value: name, expected: "a non-empty name other than __metadata__")
    }
    guard tensors[name] == nil else { throw .invalidValue(key: "tensor name", value: name, expected: "a name not added before") }
    tensors[name] = tensor
  }

  /// The complete file.
  public func bytes() -> Data {
    let sorted = tensors.sorted { $0.key < $1.key }
    var entries: [String] = []
    if !metadata.isEmpty {
      let fields = metadata.keys.sorted().map { "\(Self.quoted($0)):\(Self.quoted(metadata[$0] ?? ""))" }
      entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
    }
    var offset = 0
    for (name, t) in sorted {
      let end = offset + 4 * t.values.count
      let shape = t.shape.map(String.init).joined(separator: ",")
      entries.append("\(Self.quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
      offset = end
    }
    var header = Array("{\(entries.joined(separator: ","))}".utf8)
    header += [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8)
    var out = Data(capacity: 8 + header.count + offset)
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: header)
    for (_, t) in sorted {
      t.values.withUnsafeBufferPointer { values in
        // Float32 is little-endian on every platform Swift supports for this package.
        out.append(UnsafeBufferPointer(start: UnsafeRawPointer(values.baseAddress)?.assumingMemoryBound(to: UInt8.self), count: 4 * values.count))
      }
    }
    return out
  }

  /// Writes the file atomically: into a temporary file in the same directory, flushed to disk,
  /// then renamed over `path`, so a reader never sees a partial file.
  public func write(to path: String) throws(TrainingError) {
    try AtomicFile.write(bytes(), to: path)
  }

  /// A JSON string literal escaped as serde_json (the Python library's serializer) does.
  static func quoted(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case "\u{08}": out += "\\b"
      case "\u{0C}": out += "\\f"
      case _ where scalar.value < 0x20: out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }
}

/// Crash-safe file writes: temporary file in the target's directory, `fsync`, `rename(2)`.
enum AtomicFile {
  static func write(_ data: Data, to path: String) throws(TrainingError) {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent()
      .appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)").path
    do {
      try writeSynced(data, to: temporary)
    } catch {
      try? FileManager.default.removeItem(atPath: temporary)
      throw error
    }
    guard rename(temporary, path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(atPath: temporary)
      throw .writeFailed(path: path, reason: reason)
    }
  }

  /// Writes `data` to a new file at `path` and flushes it to the disk.
  static func writeSynced(_ data: Data, to path: String) throws(TrainingError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    let failure: String? = data.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count, let base = raw.baseAddress {
        let n = systemWrite(fd, base + done, raw.count - done)
        if n < 0 {
          if errno == EINTR { continue }
          return String(cString: strerror(errno))
        }
        done += n
      }
      return fsync(fd) == 0 ? nil : String(cString: strerror(errno))
    }
    if let failure { throw .writeFailed(path: path, reason: failure) }
  }

  /// Flushes a directory's entries (new names, renames) to disk; best effort.
  static func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
  }
}

/// `write(2)`, named apart from the `write` methods of this file.
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
