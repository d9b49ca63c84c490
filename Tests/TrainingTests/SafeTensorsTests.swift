import Foundation
import TensorCore
import TestSupport
import Testing
import Training

/// The safetensors reader against files written by the Python library
/// (`scripts/fixtures/safetensors_fixture.py`), the writer against its bytes, and every kind of
/// malformed file.
@Suite struct SafeTensorsTests {
  struct Expected: Decodable {
    struct Tensor: Decodable {
      let dtype: String
      let shape: [Int]
      let data_offsets: [Int]
      let bits: [UInt32]?
    }
    let header_length: Int
    let metadata: [String: String]
    let tensors: [String: Tensor]
  }

  static func fixture(_ name: String, _ ext: String) throws -> URL {
    try #require(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"),
                 "fixture \(name).\(ext) missing: run scripts/fixtures/safetensors_fixture.py")
  }

  @Test func readsPythonFile() throws {
    let url = try Self.fixture("sample.safetensors", "bin")
    let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.fixture("sample_expected", "json")))
    let file = try SafeTensorsFile(path: url.path)
    #expect(file.metadata == expected.metadata)
    #expect(file.tensors.map(\.name) == expected.tensors.keys.sorted())
    for (name, e) in expected.tensors {
      let info = try #require(file.info(name))
      #expect(info.dtype.rawValue == e.dtype && info.shape == e.shape)
      #expect(info.dataOffsets == e.data_offsets[0]..<e.data_offsets[1])
      if let bits = e.bits {
        let tensor = try file.floatTensor(name)
        #expect(tensor.shape == e.shape)
        #expect(tensor.values.map(\.bitPattern) == bits, "\(name)")
      } else {
        #expect(thrownTrainingError { try file.floats(name) }
          == .safeTensorsUnsupportedDType(path: url.path, tensor: name, dtype: e.dtype))
      }
    }
    #expect(try file.bytes("ids") == Data([1, 0, 0, 0, 0, 0, 0, 0] + [0xFE] + [UInt8](repeating: 0xFF, count: 7) + [3, 0, 0, 0, 0, 0, 0, 0]))
    #expect(thrownTrainingError { try file.floats("nope") } == .missingTensor(path: url.path, tensor: "nope"))
  }

  /// The same tensors and metadata give the bytes `safetensors.torch.save_file` wrote.
  @Test func writerMatchesPythonBytes() throws {
    var w = SafeTensorsWriter(metadata: ["format": "pt"])
    try w.add("b.weight", FloatTensor(shape: [2, 2], values: [1, 2, 3, -4.5]))
    try w.add("a.bias", FloatTensor([0.25, -0.125, 1e-3]))
    try w.add("scalar", FloatTensor(shape: [], values: [7]))
    try w.add("z.empty", FloatTensor(shape: [2, 0], values: []))
    #expect(w.bytes() == (try Data(contentsOf: Self.fixture("writer_reference.safetensors", "bin"))))
  }

  @Test func roundTrip() throws {
    let dir = ScratchDirectory()
    var rng = SeededRNG(seed: 3)
    let big = (0..<1000).map { _ in rng.nextFloat() * 2 - 1 }
    let special: [Float] = [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
    var w = SafeTensorsWriter(metadata: ["step": "12", "weird \"key\"\n\u{1}": "välue ✓"])
    try w.add("lora.A", FloatTensor(shape: [10, 100], values: big))
    try w.add("special", FloatTensor(special))
    try w.add("empty", FloatTensor([]))
    let path = dir.file("out.safetensors")
    try w.write(to: path)
    #expect(dir.contents() == ["out.safetensors"])  // no temporary file left
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let headerLength = data.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) }
    #expect(headerLength % 8 == 0)
    let file = try SafeTensorsFile(path: path)
    #expect(file.metadata == w.metadata)
    #expect(file.tensors.map(\.name) == ["empty", "lora.A", "special"])
    #expect(try file.floatTensor("lora.A") == FloatTensor(shape: [10, 100], values: big))
    #expect(try file.floats("special").map(\.bitPattern) == special.map(\.bitPattern))
    #expect(try file.floats("empty").isEmpty)
    // Overwriting is atomic too.
    var w2 = SafeTensorsWriter()
    try w2.add("x", FloatTensor([1]))
    try w2.write(to: path)
    #expect(try SafeTensorsFile(path: path).tensors.map(\.name) == ["x"])
    #expect(dir.contents() == ["out.safetensors"])
  }

  @Test func writerRejectsBadInput() throws {
    var w = SafeTensorsWriter()
    try w.add("a", FloatTensor([1]))
    #expect(thrownTrainingError { try w.add("a", FloatTensor([2])) } != nil)
    #expect(thrownTrainingError { try w.add("__metadata__", FloatTensor([2])) } != nil)
    #expect(thrownTrainingError { try w.add("", FloatTensor([2])) } != nil)
    #expect(thrownTrainingError { try FloatTensor(shape: [2, 2], values: [1, 2, 3]) } != nil)
    #expect(thrownTrainingError { try FloatTensor(shape: [-1, -2], values: [1, 2]) } != nil)
    guard case .writeFailed? = thrownTrainingError({ try w.write(to: "/nonexistent-dir-p2p/x.safetensors") }) else {
      Issue.record("writing into a missing directory must fail with writeFailed")
      return
    }
  }

  /// A file from a JSON header and data bytes.
  static func file(_ header: String, data: [UInt8] = [UInt8](repeating: 0, count: 16)) -> Data {
    let h = Array(header.utf8)
    return Data(withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init) + h + data)
  }

  static func error(_ data: Data) -> TrainingError? {
    thrownTrainingError { try SafeTensorsFile(data: data, path: "m.safetensors") }
  }

  static let p = "m.safetensors"

  @Test func malformedFiles() {
    let entry = { (name: String, dtype: String, shape: String, offsets: String) in
      "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
    }
    #expect(Self.error(Data([1, 2, 3])) == .safeTensorsTruncated(path: Self.p, what: "the 8-byte header length", needed: 8, fileSize: 3))
    var long = Self.file("{}")
    long[0] = 200
    #expect(Self.error(long) == .safeTensorsTruncated(path: Self.p, what: "the JSON header of 200 bytes", needed: 208, fileSize: long.count))
    var huge = Self.file("{}")
    huge.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 0, 0x80])
    #expect(Self.error(huge)?.description.contains("over the limit") == true)
    #expect(Self.error(Self.file("{\"a\":")).map { "\($0)" }?.contains("not valid JSON") == true)
    #expect(Self.error(Self.file("[1,2]")) == .safeTensorsBadHeader(path: Self.p, key: "<header>", reason: "found an array, expected a JSON object"))
    #expect(Self.error(Data(withUnsafeBytes(of: UInt64(3).littleEndian, Array.init) + [0x22, 0xFF, 0x22])) == .safeTensorsBadHeader(path: Self.p, key: "<header>", reason: "not valid UTF-8"))
    #expect(Self.error(Self.file("{\(entry("w", "F33", "[2]", "[0,8]"))}")) == .safeTensorsUnknownDType(path: Self.p, tensor: "w", dtype: "F33"))
    #expect(Self.error(Self.file("{\(entry("w", "F32", "[2]", "[8,24]"))}")) == .safeTensorsOffsetsOutOfRange(path: Self.p, tensor: "w", begin: 8, end: 24, dataSize: 16))
    #expect(Self.error(Self.file("{\(entry("w", "F32", "[0]", "[8,4]"))}")) == .safeTensorsOffsetsOutOfRange(path: Self.p, tensor: "w", begin: 8, end: 4, dataSize: 16))
    #expect(Self.error(Self.file("{\(entry("w", "F32", "[3]", "[0,8]"))}")) == .safeTensorsSizeMismatch(path: Self.p, tensor: "w", shape: [3], expectedBytes: 12, foundBytes: 8))
    #expect(Self.error(Self.file("{\(entry("w", "F16", "[2,3]", "[0,8]"))}")) == .safeTensorsSizeMismatch(path: Self.p, tensor: "w", shape: [2, 3], expectedBytes: 12, foundBytes: 8))
    #expect(Self.error(Self.file("{\(entry("a", "F32", "[2]", "[0,8]")),\(entry("b", "F32", "[2]", "[4,12]"))}")) == .safeTensorsOverlap(path: Self.p, first: "a", second: "b"))
    #expect(Self.error(Self.file("{\(entry("a", "F32", "[4]", "[0,16]")),\(entry("b", "F32", "[1]", "[4,8]"))}")) == .safeTensorsOverlap(path: Self.p, first: "a", second: "b"))
    #expect(Self.error(Self.file("{\(entry("w", "F32", "[-2]", "[0,8]"))}")) != nil)
    #expect(Self.error(Self.file("{\(entry("w", "F32", "[2]", "[0,8,9]"))}")) != nil)
    #expect(Self.error(Self.file("{\(entry("w", "F32", "[1e30,1e30]", "[0,8]"))}")) != nil)
    #expect(Self.error(Self.file("{\(entry("w", "F32", "[4294967296,4294967296,4294967296]", "[0,8]"))}")) != nil)
    #expect(Self.error(Self.file("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}")) == .safeTensorsBadHeader(path: Self.p, key: "w", reason: "missing \"dtype\""))
    #expect(Self.error(Self.file("{\"w\":[1]}")) != nil)
    #expect(Self.error(Self.file("{\"__metadata__\":{\"a\":1}}")) == .safeTensorsBadHeader(path: Self.p, key: "__metadata__.a", reason: "found a number, expected a string"))
    // Valid edge cases: empty header, zero-size tensors sharing an offset, a gap.
    #expect(Self.error(Self.file("{}")) == nil)
    #expect(Self.error(Self.file("{\(entry("a", "F32", "[0]", "[4,4]")),\(entry("b", "F32", "[0,5]", "[4,4]")),\(entry("c", "F32", "[1]", "[4,8]"))}")) == nil)
    #expect(Self.error(Self.file("{\(entry("a", "F32", "[1]", "[0,4]")),\(entry("b", "F32", "[1]", "[8,12]"))}")) == nil)
    // A missing file.
    guard case .cannotRead? = thrownTrainingError({ try SafeTensorsFile(path: "/nonexistent/p2p.safetensors") }) else {
      Issue.record("a missing file must give cannotRead")
      return
    }
  }

  /// F64 converts (rounded to Float); integer types are refused with the tensor's name.
  @Test func handMadeDTypes() throws {
    let f64 = [1.5, -2.25, 1e300].flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
    let u8: [UInt8] = [7, 8]
    let data = Self.file(#"{"d":{"dtype":"F64","shape":[3],"data_offsets":[0,24]},"u":{"dtype":"U8","shape":[2],"data_offsets":[24,26]}}"#, data: f64 + u8)
    let file = try SafeTensorsFile(data: data, path: Self.p)
    #expect(try file.floats("d") == [1.5, -2.25, .infinity])
    #expect(try file.bytes("u") == Data(u8))
    #expect(thrownTrainingError { try file.floats("u") } == .safeTensorsUnsupportedDType(path: Self.p, tensor: "u", dtype: "U8"))
  }

  /// Truncations and byte flips of the Python file never crash the reader, and whatever opens
  /// can be read in full.
  @Test func mutationsNeverCrash() throws {
    let bytes = [UInt8](try Data(contentsOf: Self.fixture("sample.safetensors", "bin")))
    func check(_ b: [UInt8]) {
      guard let file = try? SafeTensorsFile(data: Data(b), path: "mutant") else { return }
      for t in file.tensors { _ = try? file.floats(t.name) }
    }
    for n in 0..<bytes.count { check(Array(bytes.prefix(n))) }
    var rng = SeededRNG(seed: 11)
    for _ in 0..<2000 {
      var b = bytes
      for _ in 0..<(1 + Int(rng.next() % 3)) {
        b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
      }
      check(b)
    }
  }
}
