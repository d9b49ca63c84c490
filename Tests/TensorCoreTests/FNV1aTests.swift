import TensorCore
import Testing

/// FNV-1a 64 against the reference test vectors (Fowler/Noll/Vo: "" -> cbf29ce484222325,
/// "a" -> af63dc4c8601ec8c, "foobar" -> 85944171f73967e8), and integers as their 8
/// little-endian bytes (values from Python's int.to_bytes(8, "little")).
struct FNV1aTests {
  @Test func matchesTheReferenceVectors() {
    #expect(FNV1a64().hex == "cbf29ce484222325")
    var a = FNV1a64(); a.add("a".utf8)
    #expect(a.hex == "af63dc4c8601ec8c")
    var foobar = FNV1a64(); foobar.add("foo".utf8); foobar.add("bar".utf8)
    #expect(foobar.hex == "85944171f73967e8")
  }

  @Test func integersAreTheirLittleEndianBytes() {
    var h = FNV1a64(); h.add(1); h.add(300)
    #expect(h.hex == "9b06c07e6d920363")
    var minusOne = FNV1a64(); minusOne.add(-1)
    var bytes = FNV1a64(); bytes.add([UInt8](repeating: 0xFF, count: 8))
    #expect(minusOne.value == bytes.value && minusOne.hex == "8cf51a8bfca3883d")
  }
}
