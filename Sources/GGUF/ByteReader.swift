/// Bounds-checked little-endian cursor over the bytes of a GGUF file. Every read checks the
/// remaining length first, so corrupt sizes fail with `GGUFError.truncated`, never a crash.
struct ByteReader {
  let base: UnsafeRawPointer
  let size: Int
  var offset = 0

  init(base: UnsafeRawPointer, size: Int) { self.base = base; self.size = size }

  var remaining: Int { size - offset }

  mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
    if n < 0 || n > remaining {
      throw .truncated(what: what(), offset: offset, needed: n, fileSize: size)
    }
  }

  mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
    try need(MemoryLayout<T>.size, what())
    let v = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    offset += MemoryLayout<T>.size
    return v
  }

  mutating func string(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
    let n = try read(UInt64.self, what())
    guard n <= UInt64(remaining) else {
      throw .truncated(what: what(), offset: offset, needed: n > UInt64(Int.max) ? Int.max : Int(n), fileSize: size)
    }
    let start = offset
    let bytes = UnsafeRawBufferPointer(start: base + offset, count: Int(n))
    offset += Int(n)
    // Validate UTF-8 strictly instead of repairing it, so bad files are reported.
    guard let s = String(validating: bytes, as: UTF8.self) else {
      throw .invalidString(what: what(), offset: start)
    }
    return s
  }
}
