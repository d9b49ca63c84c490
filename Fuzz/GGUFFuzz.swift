// libFuzzer target for the GGUF reader. Compiled together with Sources/GGUF/*.swift into one
// module by scripts/fuzz-gguf.sh (no `import GGUF`); see that script for how to run it.

/// Re-encodes a parsed file with `GGUFWriter`: metadata in order, tensors from their bytes.
private func rewrite(_ file: GGUFFile) throws(GGUFError) -> [UInt8] {
  var w = GGUFWriter()
  for key in file.metadataKeys {
    guard let value = file.metadata[key] else { throw .missingKey(key) }
    try w.addMetadata(key, value)
  }
  for t in file.tensors { try w.addTensor(t.name, type: t.type, dimensions: t.dimensions, data: Array(file.rawData(t))) }
  return w.bytes()
}

/// One input: parsing must either succeed or throw a `GGUFError`. When it succeeds, every
/// tensor that can be dequantized is dequantized (reads exactly its bytes: ASan checks), the
/// descriptions are rendered, and the file must survive a rewrite through `GGUFWriter` as a
/// fixed point. A broken invariant traps, which libFuzzer reports as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func ggufFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  let file: GGUFFile
  do { file = try GGUFFile(bytes: bytes) } catch {
    _ = error.description
    return 0
  }
  for key in file.metadataKeys { _ = file.metadata[key]?.description }
  for t in file.tensors {
    precondition(file.tensor(t.name) == t, "tensor index out of sync for '\(t.name)'")
    precondition(t.offset % file.alignment == 0 && file.dataOffset + t.offset + t.byteCount <= file.fileSize,
                 "tensor '\(t.name)' accepted outside the data section")
    guard t.type.canDequantize else { continue }
    var out = [Float](repeating: 0, count: t.elementCount)
    out.withUnsafeMutableBufferPointer { buffer in
      do { try file.dequantize(t, into: buffer.baseAddress!) } catch { preconditionFailure("dequantize failed: \(error)") }
    }
  }
  do {
    let once = try rewrite(file)
    let again = try rewrite(GGUFFile(bytes: once))
    precondition(again == once, "GGUFWriter output is not a fixed point")
  } catch {
    preconditionFailure("the reader accepted a file that the writer refuses or cannot read back: \(error)")
  }
  return 0
}
