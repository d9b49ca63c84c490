import Foundation
import GGUF
import Testing

/// The reader against files written by Python's `gguf.GGUFWriter` and values computed by
/// `gguf.quants.dequantize` (scripts/fixtures/gguf_fixtures.py): every metadata value type,
/// tensor infos, alignment, and bit-identical dequantization of every supported tensor type.
@Suite struct PythonFileTests {
  /// The metadata the fixture script writes, in order (keep in sync with `add_metadata`).
  static let expectedMetadata: [(String, MetadataValue)] = [
    ("general.architecture", .string("fixture")),
    ("test.uint8", .uint8(200)),
    ("test.int8", .int8(-100)),
    ("test.uint16", .uint16(60000)),
    ("test.int16", .int16(-30000)),
    ("test.uint32", .uint32(4_000_000_000)),
    ("test.int32", .int32(-2_000_000_000)),
    ("test.float32", .float32(-1234.5)),
    ("test.bool_true", .bool(true)),
    ("test.bool_false", .bool(false)),
    ("test.string", .string("héllo, wörld ✓ 🙂")),
    ("test.string_empty", .string("")),
    ("test.uint64", .uint64((1 << 63) + 12345)),
    ("test.int64", .int64(-(1 << 62) - 7)),
    ("test.float64", .float64(2.718281828459045)),
    ("test.array.uint8", .array([.uint8(0), .uint8(1), .uint8(255)])),
    ("test.array.int8", .array([.int8(-128), .int8(0), .int8(127)])),
    ("test.array.uint16", .array([.uint16(0), .uint16(65535)])),
    ("test.array.int16", .array([.int16(-32768), .int16(32767)])),
    ("test.array.uint32", .array([.uint32(0), .uint32(4_294_967_295)])),
    ("test.array.int32", .array([.int32(-2_147_483_648), .int32(2_147_483_647)])),
    // Python packs the double 1e-3 into float32 with struct 'f': round the double, as here.
    ("test.array.float32", .array([.float32(0.5), .float32(-0.25), .float32(Float(0.001 as Double))])),
    ("test.array.bool", .array([.bool(true), .bool(false), .bool(true)])),
    ("test.array.string", .array([.string("a"), .string(""), .string("ü")])),
    ("test.array.uint64", .array([.uint64(0), .uint64(.max)])),
    ("test.array.int64", .array([.int64(.min), .int64(.max)])),
    ("test.array.float64", .array([.float64(0.1), .float64(-1e300)])),
    ("test.array.nested_int32", .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])])),
    ("test.array.nested_string", .array([.array([.string("x"), .string("yz")]), .array([.string("🙂")])])),
    ("test.array.nested3", .array([.array([.array([.int32(1)])]), .array([.array([.int32(2), .int32(3)]), .array([.int32(4)])])])),
  ]

  @Test func metadataOfEveryValueType() throws {
    let file = try GGUFFile(bytes: Fixture.gguf("python_all_types"))
    let manifest = try #require(try Fixture.manifest().files["python_all_types.gguf.bin"])
    #expect(file.version == 3)
    #expect(file.metadataKeys == Self.expectedMetadata.map(\.0))
    #expect(file.metadataKeys == manifest.keys)
    for (key, value) in Self.expectedMetadata {
      #expect(file.metadata[key] == value, "\(key)")
      // The wire type ids match what Python's reader saw (uint8 stays uint8, and so on).
      #expect(file.metadata[key].map(wireTypes) == manifest.types[key], "\(key)")
    }
    // Bit-exact floats (Equatable on Float would accept -0 == +0).
    #expect(file.metadata["test.float32"].flatMap { if case let .float32(v) = $0 { v.bitPattern } else { nil } }
      == Float(-1234.5).bitPattern)
    // Typed accessors.
    #expect(try file.int("test.uint16") == 60000)
    #expect(try file.int("test.int64") == -(1 << 62) - 7)
    #expect(try file.double("test.float64") == 2.718281828459045)
    #expect(try file.string("test.string") == "héllo, wörld ✓ 🙂")
    #expect(try file.stringArray("test.array.string") == ["a", "", "ü"])
    #expect(gguferror { try file.int("test.uint64") } == .wrongValueType(key: "test.uint64", expected: "integer", found: "uint64"))
    #expect(gguferror { try file.string("nope") } == .missingKey("nope"))
    #expect(gguferror { try file.stringArray("test.array.int8") }
      == .wrongValueType(key: "test.array.int8", expected: "array of strings", found: "array of int8"))
  }

  @Test(arguments: ["python_all_types", "python_aligned"])
  func tensorInfosMatchPythonReader(name: String) throws {
    let file = try GGUFFile(bytes: Fixture.gguf(name))
    let manifest = try #require(try Fixture.manifest().files["\(name).gguf.bin"])
    #expect(file.dataOffset == manifest.dataOffset)
    #expect(file.alignment == manifest.alignment)
    #expect(file.fileSize == manifest.size)
    #expect(file.tensors.map(\.name) == manifest.tensors.map(\.name))
    for (t, m) in zip(file.tensors, manifest.tensors) {
      #expect(t.type.rawValue == m.type, "\(t.name)")
      #expect(t.dimensions == m.dimensions, "\(t.name)")
      #expect(t.offset == m.offset, "\(t.name)")
      #expect(t.byteCount == m.bytes, "\(t.name)")
      #expect(t.offset % file.alignment == 0, "\(t.name)")
      #expect(file.tensor(t.name) == t)
    }
  }

  @Test func alignmentFromMetadata() throws {
    let file = try GGUFFile(bytes: Fixture.gguf("python_aligned"))
    #expect(file.metadata["general.alignment"] == .uint32(64))
    #expect(file.alignment == 64)
    #expect(file.dataOffset % 64 == 0)
    #expect(file.tensors.map(\.offset) == [0, 64, 128])
  }

  @Test(arguments: [
    ("python_all_types", "all_types", "f32", GGMLType.f32), ("python_all_types", "all_types", "f16", .f16),
    ("python_all_types", "all_types", "bf16", .bf16), ("python_all_types", "all_types", "q8_0", .q8_0),
    ("python_all_types", "all_types", "q4_0", .q4_0), ("python_all_types", "all_types", "q4_1", .q4_1),
    ("python_all_types", "all_types", "q4_k", .q4_K), ("python_all_types", "all_types", "q6_k", .q6_K),
    ("python_all_types", "all_types", "f32_4d", .f32), ("python_aligned", "aligned", "a", .f32),
    ("python_aligned", "aligned", "b", .q8_0), ("python_aligned", "aligned", "c", .f16),
  ])
  func dequantizesBitIdenticallyToPython(file name: String, prefix: String, tensor: String, type: GGMLType) throws {
    let file = try GGUFFile(bytes: Fixture.gguf(name))
    let t = try #require(file.tensor(tensor))
    #expect(t.type == type)
    let values = try file.dequantize(tensor)
    #expect(values.count == t.elementCount)
    expectBitIdentical(bits(values), try Fixture.floatBits("\(prefix)_\(tensor)"), "\(name):\(tensor)")
  }

  /// The same file through the mmap path gives the same results as the in-memory path.
  @Test func mappedFileEqualsInMemory() throws {
    let url = try Fixture.url("python_all_types.gguf", "bin")
    let mapped = try GGUFFile(path: url.path)
    let memory = try GGUFFile(bytes: Fixture.gguf("python_all_types"))
    #expect(mapped.path == url.path)
    #expect(mapped.tensors == memory.tensors)
    #expect(mapped.metadata == memory.metadata)
    for t in mapped.tensors {
      #expect(bits(try mapped.dequantize(t.name)) == bits(try memory.dequantize(t.name)))
      #expect(Array(mapped.rawData(t)) == Array(memory.rawData(t)))
    }
  }
}
