/// Everything that can be wrong with a GGUF file. Each case says where and what was expected,
/// so a user can tell a truncated download from an unsupported model.
public enum GGUFError: Error, Equatable, CustomStringConvertible, Sendable {
  case cannotOpen(path: String, reason: String)
  case badMagic(found: UInt32)
  case unsupportedVersion(UInt32)
  case truncated(what: String, offset: Int, needed: Int, fileSize: Int)
  case absurdCount(what: String, count: UInt64, limit: UInt64)
  case unknownValueType(key: String, type: UInt32)
  case invalidString(what: String, offset: Int)
  case unknownTensorType(tensor: String, type: UInt32)
  case badDimensionCount(tensor: String, count: UInt32)
  case badDimensions(tensor: String, dims: [UInt64])
  case misalignedOffset(tensor: String, offset: UInt64, alignment: Int)
  case tensorOutOfBounds(tensor: String, offset: UInt64, bytes: UInt64, dataSize: Int)
  case duplicateTensor(String)
  case duplicateKey(String)
  case badAlignment(UInt64)
  case overlappingTensors(String, String)
  case notBlockMultiple(tensor: String, elements: UInt64, blockSize: Int)
  case missingKey(String)
  case wrongValueType(key: String, expected: String, found: String)
  case missingTensor(String)
  case unsupportedDequantization(tensor: String, type: String)
  case wrongDataSize(tensor: String, expected: Int, found: Int)
  case writeFailed(path: String, reason: String)

  public var description: String {
    switch self {
    case let .cannotOpen(path, reason): return "cannot open GGUF file '\(path)': \(reason)"
    case let .badMagic(found):
      return "not a GGUF file: magic is 0x\(String(found, radix: 16)), expected 0x46554747 ('GGUF')"
    case let .unsupportedVersion(v): return "unsupported GGUF version \(v) (supported: 2, 3)"
    case let .truncated(what, offset, needed, size):
      return "GGUF file truncated while reading \(what): needs \(needed) bytes at offset \(offset), file has \(size)"
    case let .absurdCount(what, count, limit): return "GGUF \(what) is \(count), more than the limit \(limit): corrupt file?"
    case let .unknownValueType(key, type): return "metadata key '\(key)' has unknown value type \(type) (expected 0...12)"
    case let .invalidString(what, offset): return "GGUF \(what) at offset \(offset) is not valid UTF-8"
    case let .unknownTensorType(tensor, type): return "tensor '\(tensor)' has unknown ggml type \(type)"
    case let .badDimensionCount(tensor, n): return "tensor '\(tensor)' has \(n) dimensions (expected 1-4)"
    case let .badDimensions(tensor, dims):
      return "tensor '\(tensor)' has invalid dimensions \(dims) (each > 0, fewer than 2^40 elements)"
    case let .misalignedOffset(tensor, offset, alignment):
      return "tensor '\(tensor)' data offset \(offset) is not a multiple of the alignment \(alignment)"
    case let .tensorOutOfBounds(tensor, offset, bytes, size):
      return "tensor '\(tensor)' data [\(offset), +\(bytes)) runs past the end of the tensor data (\(size) bytes): truncated file or corrupt offset"
    case let .duplicateTensor(name): return "duplicate tensor name '\(name)'"
    case let .duplicateKey(key): return "duplicate metadata key '\(key)'"
    case let .badAlignment(a): return "general.alignment is \(a); expected a power of two between 1 and 65536"
    case let .overlappingTensors(a, b): return "tensors '\(a)' and '\(b)' overlap in the data section"
    case let .notBlockMultiple(tensor, n, bs):
      return "tensor '\(tensor)' rows of \(n) elements are not a multiple of its block size \(bs)"
    case let .missingKey(key): return "required metadata key '\(key)' is missing"
    case let .wrongValueType(key, expected, found): return "metadata key '\(key)' is \(found), expected \(expected)"
    case let .missingTensor(name): return "required tensor '\(name)' is missing"
    case let .unsupportedDequantization(tensor, type): return "tensor '\(tensor)' has type \(type), which cannot be dequantized yet"
    case let .wrongDataSize(tensor, expected, found):
      return "tensor '\(tensor)' has \(found) bytes of data; its type and dimensions need \(expected)"
    case let .writeFailed(path, reason): return "cannot write GGUF file '\(path)': \(reason)"
    }
  }
}
