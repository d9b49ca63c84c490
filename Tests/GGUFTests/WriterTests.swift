import Foundation
import GGUF
import Testing

/// `GGUFWriter`: what it writes reads back equal, it reproduces Python's bytes, it honours
/// `general.alignment`, writes atomically, and refuses what the reader would reject.
@Suite struct WriterTests {
  /// Deterministic filler bytes for tensor data.
  static func filler(_ n: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
  }

  /// A writer holding all 13 value types (nested and empty arrays too) and tensors of several types.
  static func sample(alignment: UInt32? = nil) throws -> GGUFWriter {
    var w = GGUFWriter()
    try w.addMetadata("general.architecture", .string("llama"))
    if let alignment { try w.addMetadata("general.alignment", .uint32(alignment)) }
    for (key, value) in PythonFileTests.expectedMetadata.dropFirst() { try w.addMetadata(key, value) }
    try w.addMetadata("test.array.empty", .array([]))
    try w.addMetadata("test.array.nested_empty", .array([.array([]), .array([.uint8(1)])]))
    try w.addMetadata("test.array.depth4", .array([.array([.array([.array([.float64(-0.0)])])])]))
    try w.addMetadata("test.float32.negzero", .float32(-0.0))
    // Any bit pattern round-trips for floats, not only canonical values.
    try w.addMetadata("test.float32.nan", .float32(Float(bitPattern: 0x7FC0_1234)))
    let shapes: [(String, GGMLType, [Int])] = [
      ("f32", .f32, [5]), ("f16", .f16, [3, 3]), ("bf16", .bf16, [7, 1, 2]), ("q8_0", .q8_0, [32, 3]),
      ("q4_0", .q4_0, [64]), ("q4_1", .q4_1, [32, 2, 1, 2]), ("q4_k", .q4_K, [256]), ("q6_k", .q6_K, [256, 2]),
      ("q5_k", .q5_K, [256]), ("i32", .i32, [3]),
    ]
    for (i, (name, type, dims)) in shapes.enumerated() {
      let bytes = dims.reduce(1, *) / type.blockSize * type.blockBytes
      var data = filler(bytes, seed: UInt64(i))
      // Keep fp16 scales finite so the values compare; the data layout is otherwise arbitrary.
      if [.q8_0, .q4_0, .q4_1, .q4_K].contains(type) {
        for b in stride(from: 0, to: bytes, by: type.blockBytes) { data[b + 1] &= 0x3B; if type == .q4_1 || type == .q4_K { data[b + 3] &= 0x3B } }
      }
      if type == .q6_K { for b in stride(from: 0, to: bytes, by: 210) { data[b + 209] &= 0x3B } }
      try w.addTensor(name, type: type, dimensions: dims, data: data)
    }
    return w
  }

  static func expectEqual(_ file: GGUFFile, _ w: GGUFWriter, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(file.version == 3, sourceLocation: sourceLocation)
    #expect(file.metadataKeys == w.metadataKeys, sourceLocation: sourceLocation)
    for key in w.metadataKeys {
      // Compare through the encoding: NaN != NaN and -0 == +0 under Equatable.
      var a: [UInt8] = [], b: [UInt8] = []
      GGUFWriterProbe.encode(file.metadata[key], into: &a)
      GGUFWriterProbe.encode(w.metadata[key], into: &b)
      #expect(a == b, "\(key)", sourceLocation: sourceLocation)
    }
    #expect(file.tensors.map(\.name) == w.tensors.map(\.name), sourceLocation: sourceLocation)
    for (t, expected) in zip(file.tensors, w.tensors) {
      #expect(t.type == expected.type, sourceLocation: sourceLocation)
      #expect(t.dimensions == expected.dimensions, sourceLocation: sourceLocation)
      #expect(Array(file.rawData(t)) == expected.data, "\(t.name)", sourceLocation: sourceLocation)
      #expect(t.offset % file.alignment == 0, sourceLocation: sourceLocation)
    }
    #expect(file.alignment == w.alignment, sourceLocation: sourceLocation)
    #expect(file.dataOffset % file.alignment == 0, sourceLocation: sourceLocation)
  }

  @Test func roundTripOfEveryValueTypeAndTensorType() throws {
    let w = try Self.sample()
    let file = try GGUFFile(bytes: w.bytes())
    Self.expectEqual(file, w)
    #expect(file.alignment == 32)
    #expect(file.metadata["test.array.empty"] == .array([]))
    for t in file.tensors where t.type.canDequantize {
      let values = try file.dequantize(t.name)
      #expect(values.count == t.elementCount)
      #expect(values.allSatisfy(\.isFinite) || t.type == .f16 || t.type == .bf16 || t.type == .f32, "\(t.name)")
    }
    #expect(gguferror { try file.dequantize("q5_k") } == .unsupportedDequantization(tensor: "q5_k", type: "Q5_K"))
    #expect(gguferror { try file.dequantize("absent") } == .missingTensor("absent"))
  }

  @Test(arguments: [1, 2, 8, 64, 256, 4096, 65536] as [UInt32])
  func roundTripWithCustomAlignment(alignment: UInt32) throws {
    let w = try Self.sample(alignment: alignment)
    #expect(w.alignment == Int(alignment))
    let bytes = w.bytes()
    let file = try GGUFFile(bytes: bytes)
    Self.expectEqual(file, w)
    #expect(file.alignment == Int(alignment))
    // Each tensor is padded to the alignment, the last one too (as Python and llama.cpp write).
    let padded = w.tensors.reduce(0) { $0 + ($1.data.count + Int(alignment) - 1) / Int(alignment) * Int(alignment) }
    #expect(bytes.count == file.dataOffset + padded)
  }

  /// Re-encoding what Python wrote gives back the same bytes: same layout, same value encoding.
  @Test(arguments: ["python_all_types", "python_aligned"])
  func reencodesPythonFilesByteForByte(name: String) throws {
    let original = try Fixture.gguf(name)
    let file = try GGUFFile(bytes: original)
    var w = GGUFWriter()
    for key in file.metadataKeys { try w.addMetadata(key, #require(file.metadata[key])) }
    for t in file.tensors { try w.addTensor(t.name, type: t.type, dimensions: t.dimensions, data: Array(file.rawData(t))) }
    #expect(w.bytes() == original)
  }

  @Test func writesAtomicallyToPath() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-writer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("model.gguf").path
    try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
    #expect(FileManager.default.createFile(atPath: path, contents: Data("old contents".utf8)))
    let w = try Self.sample(alignment: 64)
    try w.write(to: path)
    #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(w.bytes()))
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model.gguf"])  // no temp left
    Self.expectEqual(try GGUFFile(path: path), w)

    let missing = dir.appendingPathComponent("no/such/dir/x.gguf").path
    guard case let .writeFailed(p, _)? = gguferror({ try w.write(to: missing) }) else {
      Issue.record("writing into a missing directory must fail with writeFailed"); return
    }
    #expect(p == missing)
  }

  @Test func rejectsWhatTheReaderWouldReject() throws {
    var w = GGUFWriter()
    try w.addMetadata("a", .uint8(1))
    #expect(gguferror { try w.addMetadata("a", .uint8(2)) } == .duplicateKey("a"))
    #expect(gguferror { try w.addMetadata("mixed", .array([.uint8(1), .int8(1)])) }
      == .wrongValueType(key: "mixed", expected: "array of uint8", found: "array containing int8"))
    #expect(gguferror { try w.addMetadata("mixed2", .array([.array([.uint8(1)]), .array([.uint8(1), .string("x")])])) }
      == .wrongValueType(key: "mixed2", expected: "array of uint8", found: "array containing string"))
    let depth5: MetadataValue = .array([.array([.array([.array([.array([.uint8(0)])])])])])
    #expect(gguferror { try w.addMetadata("deep", depth5) }
      == .absurdCount(what: "array nesting of 'deep'", count: 5, limit: 4))
    #expect(gguferror { try w.addMetadata("general.alignment", .uint32(48)) } == .badAlignment(48))
    #expect(gguferror { try w.addMetadata("general.alignment", .uint32(0)) } == .badAlignment(0))
    #expect(gguferror { try w.addMetadata("general.alignment", .uint32(1 << 17)) } == .badAlignment(1 << 17))
    #expect(gguferror { try w.addMetadata("general.alignment", .int32(64)) }
      == .wrongValueType(key: "general.alignment", expected: "uint32", found: "int32"))
    #expect(w.metadataKeys == ["a"])  // nothing rejected was added

    try w.addTensor("t", type: .f32, dimensions: [2], data: [UInt8](repeating: 0, count: 8))
    #expect(gguferror { try w.addTensor("t", type: .f32, dimensions: [2], data: [UInt8](repeating: 0, count: 8)) }
      == .duplicateTensor("t"))
    #expect(gguferror { try w.addTensor("u", type: .f32, dimensions: [], data: []) } == .badDimensionCount(tensor: "u", count: 0))
    #expect(gguferror { try w.addTensor("u", type: .f32, dimensions: [1, 1, 1, 1, 1], data: [0, 0, 0, 0]) }
      == .badDimensionCount(tensor: "u", count: 5))
    #expect(gguferror { try w.addTensor("u", type: .f32, dimensions: [2, 0], data: []) } == .badDimensions(tensor: "u", dims: [2, 0]))
    #expect(gguferror { try w.addTensor("u", type: .f32, dimensions: [-1], data: []) }
      == .badDimensions(tensor: "u", dims: [UInt64.max]))
    #expect(gguferror { try w.addTensor("u", type: .f32, dimensions: [1 << 20, 1 << 20], data: []) }
      == .badDimensions(tensor: "u", dims: [1 << 20, 1 << 20]))
    #expect(gguferror { try w.addTensor("u", type: .q8_0, dimensions: [48], data: []) }
      == .notBlockMultiple(tensor: "u", elements: 48, blockSize: 32))
    #expect(gguferror { try w.addTensor("u", type: .q8_0, dimensions: [32, 2], data: [UInt8](repeating: 0, count: 67)) }
      == .wrongDataSize(tensor: "u", expected: 68, found: 67))
    #expect(w.tensors.map(\.name) == ["t"])
  }
}

/// Encodes an optional metadata value for exact comparison (via a one-key writer).
enum GGUFWriterProbe {
  static func encode(_ value: MetadataValue?, into out: inout [UInt8]) {
    guard let value else { return }
    var w = GGUFWriter()
    if (try? w.addMetadata("k", value)) != nil { out = w.bytes() }
  }
}
