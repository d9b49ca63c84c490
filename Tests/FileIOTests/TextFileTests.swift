import FileIO
import Foundation
import Testing

struct TextFileTests {
  static func file(_ bytes: [UInt8]) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("p2p-text-\(UUID().uuidString).txt").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  @Test func crlfAndBOMReadAsLF() throws {
    let lf = try Self.file(Array("a\tb\nc\td\n".utf8))
    let crlf = try Self.file(Array("a\tb\r\nc\td\r\n".utf8))
    let bom = try Self.file([0xEF, 0xBB, 0xBF] + Array("a\tb\r\nc\td\r\n".utf8))
    let expected = "a\tb\nc\td\n"
    #expect(try TextFile.read(lf) == expected)
    #expect(try TextFile.read(crlf) == expected)
    #expect(try TextFile.read(bom) == expected)
    #expect(TextFile.lines(try TextFile.read(crlf)) == ["a\tb", "c\td", ""])
  }

  @Test func loneCarriageReturnsStay() throws {
    // Only CR directly before LF is a line end; a CR inside a field is data.
    #expect(try TextFile.decode(Data("a\rb\r\n".utf8), path: "x") == "a\rb\n")
  }

  @Test func linesSplitOnScalarsNotGraphemes() {
    // Swift's Character "\r\n" would hide the split; TextFile.lines works on scalars.
    #expect(TextFile.lines("x\ny") == ["x", "y"])
    #expect(TextFile.lines("") == [""])
    #expect(TextFile.lines("é\nü\n").count == 3)
  }

  @Test func notUTF8NamesTheLine() throws {
    let path = try Self.file(Array("ok\nfine\n".utf8) + [0xFF, 0xFE] + Array("\n".utf8))
    #expect(throws: TextFileError.notUTF8(path: path, line: 3)) { try TextFile.read(path) }
    #expect(throws: TextFileError.noSuchFile(path: path + ".none")) { try TextFile.read(path + ".none") }
    #expect(throws: TextFileError.isDirectory(path: "/tmp")) { try TextFile.read("/tmp") }
  }

  @Test func snippetQuotesOneCutLine() {
    #expect(TextFile.snippet("short") == "short")
    #expect(TextFile.snippet("one\ntwo") == "one…")
    let long = String(repeating: "x", count: 500) + "\n" + String(repeating: "y", count: 100_000)
    let s = TextFile.snippet(long)
    #expect(s.count == 81)
    #expect(s.hasSuffix("…") && !s.contains("y"))
  }
}

struct SHA256Tests {
  // FIPS 180-4 / NIST CAVS examples.
  @Test func knownAnswers() {
    #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
      == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
      == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func streamingEqualsOneShot() throws {
    let bytes = (0..<200_003).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
    var s = SHA256()
    for chunk in stride(from: 0, to: bytes.count, by: 997) { s.update(bytes[chunk..<min(chunk + 997, bytes.count)]) }
    let path = try TextFileTests.file(bytes)
    #expect(s.hexDigest() == SHA256.hex(bytes))
    #expect(SHA256.file(path) == SHA256.hex(bytes))
    #expect(SHA256.file(path + ".none") == nil)
  }
}
