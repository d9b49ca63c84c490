import Foundation
import GGUF
import Testing

/// The reader on damaged input: every truncation and thousands of seeded random mutations of
/// small valid files either parse or throw a `GGUFError` (typed throws: nothing else can come
/// out); none may crash, hang or allocate absurdly. Parsed mutants must also dequantize and
/// survive a rewrite through `GGUFWriter`.
@Suite struct RobustnessTests {
  static func bases() throws -> [(String, [UInt8])] {
    [("python_all_types", try Fixture.gguf("python_all_types")),
     ("python_aligned", try Fixture.gguf("python_aligned")),
     ("writer", MalformedFileTests.valid())]
  }

  /// Every prefix shorter than the end of the last tensor's data throws; prefixes that only
  /// drop trailing padding still parse, with the same tensors.
  @Test func everyTruncationThrows() throws {
    for (name, bytes) in try Self.bases() {
      let full = try GGUFFile(bytes: bytes)
      let dataEnd = full.dataOffset + (full.tensors.map { $0.offset + $0.byteCount }.max() ?? 0)
      var thrown = 0
      for cut in 0..<bytes.count {
        let prefix = Array(bytes[..<cut])
        if cut < dataEnd {
          if readError(prefix) != nil { thrown += 1 } else { Issue.record("\(name): cut at \(cut) parsed") }
        } else {
          #expect(try GGUFFile(bytes: prefix).tensors == full.tensors, "\(name): cut at \(cut)")
        }
      }
      #expect(thrown == dataEnd, "\(name)")
    }
  }

  /// Re-encodes a parsed file with `GGUFWriter` (metadata in order, tensors from their bytes).
  static func rewrite(_ file: GGUFFile) throws(GGUFError) -> [UInt8] {
    var w = GGUFWriter()
    for key in file.metadataKeys {
      guard let value = file.metadata[key] else { throw .missingKey(key) }
      try w.addMetadata(key, value)
    }
    for t in file.tensors { try w.addTensor(t.name, type: t.type, dimensions: t.dimensions, data: Array(file.rawData(t))) }
    return w.bytes()
  }

  static let interesting: [UInt64] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 31, 32, 33, 64, 255, 256, 0x7FFF_FFFF,
                                      0x8000_0000, 0xFFFF_FFFF, 1 << 32, 1 << 40, 1 << 63, .max]

  /// One seeded random mutation: byte flips, an interesting integer written over a field,
  /// a truncation, an insertion or a deletion (sometimes several).
  static func mutate(_ input: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
    var b = input
    for _ in 0..<Int.random(in: 1...3, using: &rng) {
      guard !b.isEmpty else { break }
      switch Int.random(in: 0..<10, using: &rng) {
      case 0..<4:
        for _ in 0..<Int.random(in: 1...4, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
      case 4..<7:
        let value = interesting.randomElement(using: &rng)! &+ UInt64(bitPattern: Int64.random(in: -1...1, using: &rng))
        let width = [1, 2, 4, 8].randomElement(using: &rng)!
        let at = Int.random(in: 0..<b.count, using: &rng)
        for i in 0..<width where at + i < b.count { b[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
      case 7:
        b.removeLast(Int.random(in: 1...b.count, using: &rng))
      case 8:
        let at = Int.random(in: 0...b.count, using: &rng)
        b.insert(contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
      default:
        let at = Int.random(in: 0..<b.count, using: &rng)
        b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...16, using: &rng)))
      }
    }
    return b
  }

  @Test func randomMutationsParseOrThrow() throws {
    var rng = SplitMix64(seed: 0x6767_7566)
    var parsed = 0, rejected = 0
    var kinds: [String: Int] = [:]
    for (name, base) in try Self.bases() {
      for i in 0..<2000 {
        let m = Self.mutate(base, using: &rng)
        let file: GGUFFile
        do { file = try GGUFFile(bytes: m) } catch {
          rejected += 1
          kinds[Mirror(reflecting: error).children.first?.label ?? "\(error)", default: 0] += 1  // the case name
          continue
        }
        parsed += 1
        for t in file.tensors where t.type.canDequantize {
          #expect(try file.dequantize(t.name).count == t.elementCount)
        }
        // What the reader accepts, the writer accepts, and writing is a fixed point.
        do {
          let once = try Self.rewrite(file)
          #expect(try Self.rewrite(GGUFFile(bytes: once)) == once, "\(name) mutant \(i)")
        } catch {
          Issue.record("\(name) mutant \(i): parsed but the writer refused it: \(error)")
        }
      }
    }
    #expect(parsed > 100 && rejected > 1000, "parsed \(parsed), rejected \(rejected): \(kinds)")
  }
}
