import Foundation
import GGUF
import Testing

/// Each kind of corruption is rejected with its specific `GGUFError` case. The files are a valid
/// writer output patched at known places (the positions are found from the key and tensor names).
@Suite struct MalformedFileTests {
  /// A small valid file: keys "general.architecture", "k.a", "k.b", "k.arr"; tensors "t.a"
  /// (F32 [8], 32 bytes) and "t.b" (Q8_0 [32, 2], 68 bytes).
  static func valid(alignment: UInt32? = nil) -> [UInt8] {
    var w = GGUFWriter()
    do {
      try w.addMetadata("general.architecture", .string("llama"))
      if let alignment { try w.addMetadata("general.alignment", .uint32(alignment)) }
      try w.addMetadata("k.a", .uint32(7))
      try w.addMetadata("k.b", .string("hello"))
      try w.addMetadata("k.arr", .array([.uint32(1), .uint32(2), .uint32(3)]))
      try w.addTensor("t.a", type: .f32, dimensions: [8], data: [UInt8](repeating: 0, count: 32))
      var q = [UInt8](repeating: 0x11, count: 68)
      q[0] = 0; q[1] = 0x3C; q[34] = 0; q[35] = 0x3C  // fp16 1.0 scales
      try w.addTensor("t.b", type: .q8_0, dimensions: [32, 2], data: q)
    } catch {
      Issue.record("the base file must build: \(error)")
    }
    return w.bytes()
  }

  /// Positions of the tensor-info fields of `name`.
  struct TensorFields {
    let dimensionCount: Int, firstDimension: Int, type: Int, offset: Int
    init(_ bytes: [UInt8], _ name: String) throws {
      dimensionCount = try #require(bytes.after(string: name))
      firstDimension = dimensionCount + 4
      type = firstDimension + 8 * Int(bytes.get(UInt32.self, at: dimensionCount))
      offset = type + 4
    }
  }

  static func parse(_ bytes: [UInt8]) -> GGUFError? { readError(bytes) }

  @Test func baseFileIsValid() throws {
    let file = try GGUFFile(bytes: Self.valid())
    #expect(file.tensors.map(\.name) == ["t.a", "t.b"])
    #expect(try file.dequantize("t.b") == [Float](repeating: 17, count: 64))
    var v2 = Self.valid()
    v2.set(UInt32(2), at: 4)
    #expect(try GGUFFile(bytes: v2).version == 2)  // v2 has the same little-endian layout
  }

  @Test func badMagic() {
    var b = Self.valid()
    b[0] = UInt8(ascii: "X")
    #expect(Self.parse(b) == .badMagic(found: 0x4655_4758))
    #expect(Self.parse(Array("PK\u{3}\u{4}0000000000000000000000".utf8)) == .badMagic(found: 0x0403_4B50))
  }

  @Test(arguments: [0, 1, 4, 0x0300_0000, .max] as [UInt32])
  func unsupportedVersion(version: UInt32) {
    var b = Self.valid()
    b.set(version, at: 4)
    #expect(Self.parse(b) == .unsupportedVersion(version))
  }

  @Test func truncatedHeader() {
    let b = Self.valid()
    for (cut, what) in [(0, "magic"), (3, "magic"), (4, "version"), (7, "version"), (8, "tensor count"),
                        (15, "tensor count"), (16, "metadata count"), (23, "metadata count")] {
      guard case let .truncated(w, _, _, size)? = Self.parse(Array(b[..<cut])) else {
        Issue.record("cut at \(cut) must be .truncated"); continue
      }
      #expect(w == what && size == cut)
    }
    #expect(readError([]) == .truncated(what: "magic", offset: 0, needed: 4, fileSize: 0))
  }

  /// Cuts inside the metadata, the tensor infos and the tensor data each report where they are.
  @Test func truncatedMetadataTensorInfosAndData() throws {
    let b = Self.valid()
    let file = try GGUFFile(bytes: b)
    let firstInfo = try #require(b.after(string: "t.a")) - 11
    for cut in 24..<firstInfo {
      guard case let .truncated(what, _, _, _)? = Self.parse(Array(b[..<cut])) else {
        Issue.record("cut at \(cut) in the metadata must be .truncated"); continue
      }
      #expect(what.contains("metadata") || what.contains("'k.") || what.contains("'general."), "\(cut): \(what)")
    }
    let infoEnd = try TensorFields(b, "t.b").offset + 8
    for cut in firstInfo..<infoEnd {
      guard case let .truncated(what, _, _, _)? = Self.parse(Array(b[..<cut])) else {
        Issue.record("cut at \(cut) in the tensor infos must be .truncated"); continue
      }
      #expect(what.contains("tensor") || what.contains("'t."), "\(cut): \(what)")
    }
    for cut in infoEnd..<file.dataOffset {  // in the padding before the data
      #expect(Self.parse(Array(b[..<cut])) == .truncated(what: "tensor data", offset: infoEnd, needed: file.dataOffset - infoEnd, fileSize: cut))
    }
    let dataEnd = file.dataOffset + file.tensors.map { $0.offset + $0.byteCount }.max()!
    for cut in file.dataOffset..<dataEnd {
      guard case .tensorOutOfBounds? = Self.parse(Array(b[..<cut])) else {
        Issue.record("cut at \(cut) in the tensor data must be .tensorOutOfBounds"); continue
      }
    }
  }

  @Test func absurdCounts() throws {
    var b = Self.valid()
    b.set(GGUFFile.maxTensors + 1, at: 8)
    #expect(Self.parse(b) == .absurdCount(what: "tensor count", count: GGUFFile.maxTensors + 1, limit: GGUFFile.maxTensors))
    b.set(UInt64.max, at: 8)
    #expect(Self.parse(b) == .absurdCount(what: "tensor count", count: .max, limit: GGUFFile.maxTensors))
    b = Self.valid()
    b.set(UInt64.max, at: 16)
    #expect(Self.parse(b) == .absurdCount(what: "metadata count", count: .max, limit: GGUFFile.maxMetadata))
    // Counts under the limit that the rest of the file cannot hold (13 bytes a key at least, 32
    // a tensor info) are rejected before parsing the entries.
    b = Self.valid()
    b.set(GGUFFile.maxTensors, at: 8)
    let neededForTensors: Int = 4 * 13 + 1_048_576 * 32
    #expect(Self.parse(b) == .truncated(what: "4 metadata entries and 1048576 tensor infos", offset: 24,
                                        needed: neededForTensors, fileSize: b.count))
    b = Self.valid()
    b.set(GGUFFile.maxMetadata, at: 16)
    let neededForKeys: Int = 1_048_576 * 13 + 2 * 32
    #expect(Self.parse(b) == .truncated(what: "1048576 metadata entries and 2 tensor infos", offset: 24,
                                        needed: neededForKeys, fileSize: b.count))
  }

  @Test func absurdArrayLength() throws {
    let base = Self.valid()
    let lengthAt = try #require(base.after(string: "k.arr")) + 8  // type 9, element type, then length
    var b = base
    b.set(GGUFFile.maxArrayLength + 1, at: lengthAt)
    #expect(Self.parse(b) == .absurdCount(what: "length of array 'k.arr'", count: GGUFFile.maxArrayLength + 1, limit: GGUFFile.maxArrayLength))
    b.set(UInt64.max, at: lengthAt)
    #expect(Self.parse(b) == .absurdCount(what: "length of array 'k.arr'", count: .max, limit: GGUFFile.maxArrayLength))
    // Within the limit but more than the file holds: rejected before allocating.
    b.set(GGUFFile.maxArrayLength, at: lengthAt)
    guard case let .truncated(what, _, _, _)? = Self.parse(b) else { Issue.record("must be .truncated"); return }
    #expect(what.contains("k.arr"))
  }

  @Test func hugeStringLengths() throws {
    let base = Self.valid()
    let keyAt = try #require(base.after(string: "k.a")) - 11  // the length of the key "k.a"
    for length in [UInt64(base.count), 1 << 40, 1 << 63, .max] {
      var b = base
      b.set(length, at: keyAt)
      guard case let .truncated(what, _, _, _)? = Self.parse(b) else { Issue.record("length \(length) must be .truncated"); continue }
      #expect(what == "metadata key #1")
      let valueAt = try #require(base.after(string: "k.b")) + 4
      b = base
      b.set(length, at: valueAt)
      guard case let .truncated(what2, _, _, _)? = Self.parse(b) else { Issue.record("length \(length) must be .truncated"); continue }
      #expect(what2 == "value of 'k.b'")
    }
  }

  @Test func unknownValueTypes() throws {
    let base = Self.valid()
    for type in [13, 14, 0x8000_0000, .max] as [UInt32] {
      var b = base
      b.set(type, at: try #require(base.after(string: "k.a")))
      #expect(Self.parse(b) == .unknownValueType(key: "k.a", type: type))
      b = base
      b.set(type, at: try #require(base.after(string: "k.arr")) + 4)  // the element type
      #expect(Self.parse(b) == .unknownValueType(key: "k.arr", type: type))
    }
  }

  @Test(arguments: [4, 5, 31, 32, 33, 36, 1000, .max] as [UInt32])  // removed or never assigned ids
  func unknownTensorType(type: UInt32) throws {
    var b = Self.valid()
    b.set(type, at: try TensorFields(b, "t.a").type)
    #expect(Self.parse(b) == .unknownTensorType(tensor: "t.a", type: type))
  }

  @Test func badDimensions() throws {
    let base = Self.valid()
    let f = try TensorFields(base, "t.a")
    for count in [0, 5, .max] as [UInt32] {
      var b = base
      b.set(count, at: f.dimensionCount)
      #expect(Self.parse(b) == .badDimensionCount(tensor: "t.a", count: count))
    }
    for dim in [0, 1 << 40, .max] as [UInt64] {
      var b = base
      b.set(dim, at: f.firstDimension)
      #expect(Self.parse(b) == .badDimensions(tensor: "t.a", dims: [dim]))
    }
    // A product that overflows 64 bits while each factor is fine.
    let g = try TensorFields(base, "t.b")
    var b = base
    b.set(UInt64(1) << 32, at: g.firstDimension)
    b.set(UInt64(1) << 32, at: g.firstDimension + 8)
    #expect(Self.parse(b) == .badDimensions(tensor: "t.b", dims: [1 << 32, 1 << 32]))
    b = base
    b.set(UInt64(48), at: g.firstDimension)
    #expect(Self.parse(b) == .notBlockMultiple(tensor: "t.b", elements: 48, blockSize: 32))
  }

  @Test func misalignedAndOutOfBoundsOffsets() throws {
    let base = Self.valid()
    let f = try TensorFields(base, "t.b")
    for offset in [1, 4, 33, .max] as [UInt64] {
      var b = base
      b.set(offset, at: f.offset)
      #expect(Self.parse(b) == .misalignedOffset(tensor: "t.b", offset: offset, alignment: 32))
    }
    let file = try GGUFFile(bytes: base)
    let dataSize = base.count - file.dataOffset
    for offset in [UInt64(dataSize), 1 << 40, 1 << 63, UInt64.max & ~31] {
      var b = base
      b.set(offset, at: f.offset)
      #expect(Self.parse(b) == .tensorOutOfBounds(tensor: "t.b", offset: offset, bytes: 68, dataSize: dataSize))
    }
    // The custom alignment is what offsets are checked against.
    let aligned = Self.valid(alignment: 64)
    var b = aligned
    b.set(UInt64(32), at: try TensorFields(aligned, "t.b").offset)
    #expect(Self.parse(b) == .misalignedOffset(tensor: "t.b", offset: 32, alignment: 64))
  }

  @Test func overlappingTensors() throws {
    var b = Self.valid()
    b.set(UInt64(0), at: try TensorFields(b, "t.b").offset)
    let e = Self.parse(b)
    #expect(e == .overlappingTensors("t.a", "t.b") || e == .overlappingTensors("t.b", "t.a"))
  }

  @Test func duplicateNames() throws {
    var b = Self.valid()
    b[try #require(b.after(string: "t.b")) - 1] = UInt8(ascii: "a")
    #expect(Self.parse(b) == .duplicateTensor("t.a"))
    b = Self.valid()
    b[try #require(b.after(string: "k.b")) - 1] = UInt8(ascii: "a")
    #expect(Self.parse(b) == .duplicateKey("k.a"))
  }

  @Test func invalidUTF8() throws {
    for (name, what) in [("k.a", "metadata key #1"), ("t.a", "name of tensor #0"), ("hello", "value of 'k.b'")] {
      for bad in [[0xFF], [0xC3], [0xED, 0xA0, 0x80]] as [[UInt8]] {  // invalid, cut, surrogate
        var b = Self.valid()
        let end = try #require(b.after(string: name))
        b.replaceSubrange((end - bad.count)..<end, with: bad)
        #expect(Self.parse(b) == .invalidString(what: what, offset: end - name.utf8.count), "\(name) \(bad)")
      }
    }
  }

  @Test func badAlignmentValue() throws {
    let base = Self.valid(alignment: 64)
    let typeAt = try #require(base.after(string: "general.alignment"))
    for value in [0, 3, 48, 1 << 17, .max] as [UInt32] {
      var b = base
      b.set(value, at: typeAt + 4)
      #expect(Self.parse(b) == .badAlignment(UInt64(value)))
    }
    var b = base
    b.set(UInt32(5), at: typeAt)  // int32 64: the specification requires uint32
    #expect(Self.parse(b) == .wrongValueType(key: "general.alignment", expected: "uint32", found: "int32"))
    b.set(UInt32(6), at: typeAt)  // float32
    #expect(Self.parse(b) == .wrongValueType(key: "general.alignment", expected: "uint32", found: "float32"))
  }

  @Test func deepArrayNesting() {
    // Hand-built: one key holding arrays nested 5 deep (the reader allows 4).
    var b: [UInt8] = []
    b.put(UInt32(0x4655_4747)); b.put(UInt32(3)); b.put(UInt64(0)); b.put(UInt64(1))
    b.put(string: "deep"); b.put(UInt32(9))
    for _ in 0..<4 { b.put(UInt32(9)); b.put(UInt64(1)) }
    b.put(UInt32(9)); b.put(UInt64(0))
    #expect(Self.parse(b) == .absurdCount(what: "array nesting of 'deep'", count: 5, limit: 4))
  }

  @Test func fileSystemErrors() throws {
    #expect(openError("/nonexistent/model.gguf")
      == .cannotOpen(path: "/nonexistent/model.gguf", reason: "No such file or directory"))
    let dir = FileManager.default.temporaryDirectory.path
    #expect(openError(dir) == .cannotOpen(path: dir, reason: "not a regular file"))
    let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString).gguf").path
    #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
    defer { try? FileManager.default.removeItem(atPath: empty) }
    #expect(openError(empty) == .truncated(what: "magic", offset: 0, needed: 4, fileSize: 0))
  }
}
